// SPDX-License-Identifier: Apache-2.0
//! The IKEv2 key schedule of one IKE SA generation.
//!
//! - RFC 7296 §2.14: `SKEYSEED = prf(Ni | Nr, g^ir)` and
//!   `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)`.
//! - RFC 9370 §2.2.2: after each additional key exchange of the initial exchanges,
//!   `SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)` with the same nonces and SPIs.
//! - RFC 7296 §2.18 with RFC 9370 §2.2.4: IKE SA rekey,
//!   `SKEYSEED = prf(SK_d(old), SK(0) | Ni | Nr | SK(1) | ...)`; both this prf and the prf+
//!   that follows use the old SA's PRF, as strongSwan does (SPEC §7 item 3).
//! - RFC 7296 §2.17 with RFC 9370 §2.2.4: Child SA `KEYMAT = prf+(SK_d, [SK(0) |] Ni | Nr
//!   [| SK(1) | ...])`.
//! - RFC 9242 §3.3.2: `IntAuth_N = prf(SK_p*, IntAuth_(N-1) | A | P)`.
//! - RFC 7296 §2.15: the signed octets and the shared-key AUTH value.
//!
//! Keys are held in zeroizing buffers; `Debug` shows the transforms only.

use core::fmt;

use crate::aead::{encr_key_length, IkeCipher, INTEG_NONE};
use crate::error::Error;
use crate::prf::{Integ, Prf, PrfOutput, SecretBytes};

/// Length of an IKE SA SPI.
pub const IKE_SPI_LEN: usize = 8;
/// The PSK key pad of RFC 7296 §2.15 (17 ASCII octets, no NUL).
pub const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// The negotiated transforms that fix the key lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    /// PRF (Transform Type 2).
    pub prf: Prf,
    /// ENCR transform ID.
    pub encr_id: u16,
    /// ENCR Key Length attribute in bits (0 where the transform has a fixed size).
    pub encr_key_bits: u16,
    /// INTEG transform ID (0 with AEADs).
    pub integ_id: u16,
}

impl Suite {
    /// Looks the transforms up and checks that they fit together.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] for an unknown PRF, ENCR (or key size) or INTEG ID,
    /// for an AEAD with an INTEG transform and a non-AEAD without one.
    pub fn new(
        prf_id: u16,
        encr_id: u16,
        encr_key_bits: u16,
        integ_id: u16,
    ) -> Result<Self, Error> {
        let prf = Prf::from_id(prf_id)?;
        encr_key_length(encr_id, encr_key_bits)?;
        let aead = crate::aead::is_aead(encr_id);
        if aead && integ_id != INTEG_NONE {
            return Err(Error::unsupported(
                crate::error::TRANSFORM_TYPE_INTEG,
                integ_id,
            ));
        }
        if !aead {
            Integ::from_id(integ_id)?;
        }
        Ok(Self {
            prf,
            encr_id,
            encr_key_bits,
            integ_id,
        })
    }

    /// Length of SK_ai/SK_ar (0 with AEADs).
    fn integ_key_len(self) -> usize {
        Integ::from_id(self.integ_id).map_or(0, Integ::key_len)
    }

    /// Length of SK_ei/SK_er (AEADs: with the salt).
    fn encr_key_len(self) -> usize {
        encr_key_length(self.encr_id, self.encr_key_bits).unwrap_or(0)
    }
}

/// The secrets of one IKE SA generation (SKEYSEED and the seven SK_* keys), with the
/// nonces and SPIs they were derived for.
pub struct Keymat {
    suite: Suite,
    skeyseed: PrfOutput,
    sk_d: SecretBytes,
    sk_ai: SecretBytes,
    sk_ar: SecretBytes,
    sk_ei: SecretBytes,
    sk_er: SecretBytes,
    sk_pi: SecretBytes,
    sk_pr: SecretBytes,
    ni: Vec<u8>,
    nr: Vec<u8>,
    spi_i: [u8; IKE_SPI_LEN],
    spi_r: [u8; IKE_SPI_LEN],
}

impl fmt::Debug for Keymat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Keymat(prf {}, encr {}/{}, integ {})",
            self.suite.prf.id(),
            self.suite.encr_id,
            self.suite.encr_key_bits,
            self.suite.integ_id
        )
    }
}

fn spi(what: &'static str, s: &[u8]) -> Result<[u8; IKE_SPI_LEN], Error> {
    s.try_into()
        .map_err(|_| Error::length(what, IKE_SPI_LEN, s.len()))
}

impl Keymat {
    /// Splits `prf+(skeyseed, Ni | Nr | SPIi | SPIr)` (computed with `prf_plus`) into the
    /// SK_* keys of `suite`.
    fn expand(
        suite: Suite,
        prf_plus: Prf,
        skeyseed: PrfOutput,
        ni: &[u8],
        nr: &[u8],
        spi_i: [u8; IKE_SPI_LEN],
        spi_r: [u8; IKE_SPI_LEN],
    ) -> Result<Self, Error> {
        let p = suite.prf.key_len();
        let a = suite.integ_key_len();
        let e = suite.encr_key_len();
        let lengths = [p, a, a, e, e, p, p];
        let total = lengths.iter().sum();
        let keys =
            prf_plus.prf_plus_parts(skeyseed.as_bytes(), &[ni, nr, &spi_i, &spi_r], total)?;
        let mut parts = keys.split(&lengths)?.into_iter();
        let mut next = || parts.next().unwrap_or_default();
        Ok(Self {
            suite,
            skeyseed,
            sk_d: next(),
            sk_ai: next(),
            sk_ar: next(),
            sk_ei: next(),
            sk_er: next(),
            sk_pi: next(),
            sk_pr: next(),
            ni: ni.to_vec(),
            nr: nr.to_vec(),
            spi_i,
            spi_r,
        })
    }

    /// Keys of the IKE SA after IKE_SA_INIT (RFC 7296 §2.14). `shared_secret` is g^ir or
    /// the KEM shared secret of the Type 4 exchange.
    ///
    /// # Errors
    /// As [`Suite::new`]; [`Error::InvalidLength`] unless both SPIs are 8 octets.
    #[allow(clippy::too_many_arguments)]
    pub fn derive(
        prf_id: u16,
        encr_id: u16,
        encr_key_bits: u16,
        integ_id: u16,
        shared_secret: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: &[u8],
        spi_r: &[u8],
    ) -> Result<Self, Error> {
        let suite = Suite::new(prf_id, encr_id, encr_key_bits, integ_id)?;
        let (spi_i, spi_r) = (spi("SPIi", spi_i)?, spi("SPIr", spi_r)?);
        // The nonces are the key here (HMAC hashes a key longer than its block).
        let key: Vec<u8> = [ni, nr].concat();
        let skeyseed = suite.prf.compute(&key, shared_secret);
        Self::expand(suite, suite.prf, skeyseed, ni, nr, spi_i, spi_r)
    }

    /// The keys after one more IKE_INTERMEDIATE key exchange (RFC 9370 §2.2.2):
    /// `SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)`, then the usual prf+.
    ///
    /// # Errors
    /// Only if prf+ fails, which the key lengths of this module rule out.
    pub fn update_after_ke(&self, shared_secret: &[u8]) -> Result<Self, Error> {
        let skeyseed = self
            .suite
            .prf
            .compute_parts(self.sk_d.as_bytes(), &[shared_secret, &self.ni, &self.nr]);
        Self::expand(
            self.suite,
            self.suite.prf,
            skeyseed,
            &self.ni,
            &self.nr,
            self.spi_i,
            self.spi_r,
        )
    }

    /// The keys of the IKE SA that replaces this one (RFC 7296 §2.18, RFC 9370 §2.2.4):
    /// `SKEYSEED = prf(SK_d, SK(0) | Ni | Nr | SK(1) | ...)`. Ni/Nr are the CREATE_CHILD_SA
    /// nonces, the SPIs those of the new SA (from its proposals), and the transforms those
    /// negotiated for it. SKEYSEED and the prf+ both use this (old) SA's PRF.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] without any shared secret (an IKE rekey always has a KE);
    /// as [`Keymat::derive`] otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn rekey_ike(
        &self,
        shared_secrets: &[&[u8]],
        ni: &[u8],
        nr: &[u8],
        spi_i: &[u8],
        spi_r: &[u8],
        prf_id: u16,
        encr_id: u16,
        encr_key_bits: u16,
        integ_id: u16,
    ) -> Result<Self, Error> {
        let suite = Suite::new(prf_id, encr_id, encr_key_bits, integ_id)?;
        let (spi_i, spi_r) = (spi("SPIi", spi_i)?, spi("SPIr", spi_r)?);
        let (first, rest) = shared_secrets.split_first().ok_or(Error::InvalidArgument(
            "an IKE SA rekey needs at least one shared secret",
        ))?;
        let mut parts: Vec<&[u8]> = Vec::with_capacity(shared_secrets.len() + 2);
        parts.extend([*first, ni, nr]);
        parts.extend_from_slice(rest);
        let old = self.suite.prf;
        let skeyseed = old.compute_parts(self.sk_d.as_bytes(), &parts);
        Self::expand(suite, old, skeyseed, ni, nr, spi_i, spi_r)
    }

    /// Child SA KEYMAT (RFC 7296 §2.17, RFC 9370 §2.2.4): `prf+(SK_d, Ni | Nr)` without
    /// PFS, else `prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ...)`. Split it as
    /// `encr_i | integ_i | encr_r | integ_r`, "i" being the exchange initiator's direction.
    ///
    /// # Errors
    /// [`Error::PrfPlusTooLong`] beyond 255 PRF blocks.
    pub fn child_keymat(
        &self,
        length: usize,
        ni: &[u8],
        nr: &[u8],
        shared_secrets: &[&[u8]],
    ) -> Result<SecretBytes, Error> {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(shared_secrets.len() + 2);
        match shared_secrets.split_first() {
            Some((first, rest)) => {
                parts.extend([*first, ni, nr]);
                parts.extend_from_slice(rest);
            }
            None => parts.extend([ni, nr]),
        }
        self.suite
            .prf
            .prf_plus_parts(self.sk_d.as_bytes(), &parts, length)
    }

    /// The SK payload cipher for messages sent by the initiator (SK_ei/SK_ai) or by the
    /// responder (SK_er/SK_ar).
    ///
    /// # Errors
    /// None in practice: the keys were derived for these transforms.
    pub fn cipher(&self, sender_is_initiator: bool) -> Result<IkeCipher, Error> {
        let (e, a) = if sender_is_initiator {
            (&self.sk_ei, &self.sk_ai)
        } else {
            (&self.sk_er, &self.sk_ar)
        };
        IkeCipher::new(
            self.suite.encr_id,
            self.suite.encr_key_bits,
            self.suite.integ_id,
            e.as_bytes(),
            a.as_bytes(),
        )
    }

    fn sk_p(&self, initiator: bool) -> &[u8] {
        if initiator {
            self.sk_pi.as_bytes()
        } else {
            self.sk_pr.as_bytes()
        }
    }

    /// One link of an IntAuth chain (RFC 9242 §3.3.2): `prf(SK_pi or SK_pr, prev | A | P)`,
    /// keyed with SK_pi for the initiator's messages. Call it on the keys that protected
    /// the IKE_INTERMEDIATE exchange; `prev` is empty for the first link.
    #[must_use]
    pub fn int_auth(
        &self,
        sender_is_initiator: bool,
        prev: &[u8],
        a: &[u8],
        p: &[u8],
    ) -> PrfOutput {
        self.suite
            .prf
            .compute_parts(self.sk_p(sender_is_initiator), &[prev, a, p])
    }

    /// The octets a signer signs (RFC 7296 §2.15, RFC 9242 §3.3.2):
    /// `RealMessage | peer nonce | prf(SK_p*, id_body) | IntAuth`.
    #[must_use]
    pub fn signed_octets(
        &self,
        signer_is_initiator: bool,
        real_message: &[u8],
        peer_nonce: &[u8],
        id_body: &[u8],
        int_auth: &[u8],
    ) -> Vec<u8> {
        let maced_id = self
            .suite
            .prf
            .compute(self.sk_p(signer_is_initiator), id_body);
        [real_message, peer_nonce, maced_id.as_bytes(), int_auth].concat()
    }

    /// The shared-key AUTH value (RFC 7296 §2.15):
    /// `prf(prf(psk, "Key Pad for IKEv2"), signed octets)`.
    #[must_use]
    pub fn psk_auth(
        &self,
        signer_is_initiator: bool,
        psk: &[u8],
        real_message: &[u8],
        peer_nonce: &[u8],
        id_body: &[u8],
        int_auth: &[u8],
    ) -> PrfOutput {
        let prf = self.suite.prf;
        let key = prf.compute(psk, KEY_PAD);
        let maced_id = prf.compute(self.sk_p(signer_is_initiator), id_body);
        prf.compute_parts(
            key.as_bytes(),
            &[real_message, peer_nonce, maced_id.as_bytes(), int_auth],
        )
    }

    /// The negotiated transforms.
    #[must_use]
    pub const fn suite(&self) -> Suite {
        self.suite
    }

    /// The secrets by name (`skeyseed`, `sk_d`, `sk_ai`, `sk_ar`, `sk_ei`, `sk_er`,
    /// `sk_pi`, `sk_pr`), for tests and an explicit key log only.
    #[must_use]
    pub fn export_secrets(&self) -> [(&'static str, &[u8]); 8] {
        [
            ("skeyseed", self.skeyseed.as_bytes()),
            ("sk_d", self.sk_d.as_bytes()),
            ("sk_ai", self.sk_ai.as_bytes()),
            ("sk_ar", self.sk_ar.as_bytes()),
            ("sk_ei", self.sk_ei.as_bytes()),
            ("sk_er", self.sk_er.as_bytes()),
            ("sk_pi", self.sk_pi.as_bytes()),
            ("sk_pr", self.sk_pr.as_bytes()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn km() -> Keymat {
        Keymat::derive(
            5, 20, 256, 0, &[1; 32], &[2; 32], &[3; 32], &[4; 8], &[5; 8],
        )
        .expect("derive")
    }

    #[test]
    fn key_lengths_follow_the_suite() {
        let k = km();
        let lens: Vec<usize> = k.export_secrets().iter().map(|(_, v)| v.len()).collect();
        assert_eq!(lens, [32, 32, 0, 0, 36, 36, 32, 32]);
        let k = Keymat::derive(
            7, 12, 128, 14, &[1; 32], &[2; 16], &[3; 16], &[4; 8], &[5; 8],
        )
        .expect("cbc");
        let lens: Vec<usize> = k.export_secrets().iter().map(|(_, v)| v.len()).collect();
        assert_eq!(lens, [64, 64, 64, 64, 16, 16, 64, 64]);
        assert!(
            Keymat::derive(5, 20, 256, 12, &[1; 32], &[2; 32], &[3; 32], &[4; 8], &[5; 8]).is_err()
        );
        assert!(
            Keymat::derive(5, 12, 256, 0, &[1; 32], &[2; 32], &[3; 32], &[4; 8], &[5; 8]).is_err()
        );
        assert!(matches!(
            Keymat::derive(5, 20, 256, 0, &[1; 32], &[2; 32], &[3; 32], &[4; 7], &[5; 8]),
            Err(Error::InvalidLength { .. })
        ));
    }

    #[test]
    fn update_and_rekey_follow_rfc_9370() {
        let k0 = km();
        let prf = Prf::HmacSha256;
        let k1 = k0.update_after_ke(&[9; 32]).expect("update");
        let sk_d0 = k0.export_secrets()[1].1.to_vec();
        let seed1 = prf.compute_parts(&sk_d0, &[&[9; 32], &[2; 32], &[3; 32]]);
        assert_eq!(k1.export_secrets()[0].1, seed1.as_bytes());
        let r = k1
            .rekey_ike(
                &[&[7; 32], &[8; 32]],
                &[10; 32],
                &[11; 32],
                &[12; 8],
                &[13; 8],
                5,
                20,
                256,
                0,
            )
            .expect("rekey");
        let sk_d1 = k1.export_secrets()[1].1.to_vec();
        let seed = prf.compute_parts(&sk_d1, &[&[7; 32], &[10; 32], &[11; 32], &[8; 32]]);
        assert_eq!(r.export_secrets()[0].1, seed.as_bytes());
        assert!(k1
            .rekey_ike(&[], &[1], &[2], &[0; 8], &[0; 8], 5, 20, 256, 0)
            .is_err());
        let c = k1
            .child_keymat(72, &[1; 32], &[2; 32], &[&[3; 32], &[4; 32]])
            .expect("child");
        let want = prf
            .prf_plus_parts(&sk_d1, &[&[3; 32], &[1; 32], &[2; 32], &[4; 32]], 72)
            .expect("prf+");
        assert_eq!(c.as_bytes(), want.as_bytes());
    }

    #[test]
    fn rekey_to_another_prf_uses_the_old_prf_and_the_new_lengths() {
        // Old SA: HMAC-SHA2-256; new SA: HMAC-SHA2-512 with AES-CBC + HMAC-SHA2-512-256.
        let k = km();
        let (ni, nr, spi_i, spi_r) = ([1u8; 32], [2u8; 32], [3u8; 8], [4u8; 8]);
        let r = k
            .rekey_ike(&[&[9; 32]], &ni, &nr, &spi_i, &spi_r, 7, 12, 256, 14)
            .expect("rekey");
        let old = Prf::HmacSha256;
        let sk_d_old = k.export_secrets()[1].1.to_vec();
        let seed = old.compute_parts(&sk_d_old, &[&[9; 32], &ni, &nr]);
        let lens = [64, 64, 64, 32, 32, 64, 64];
        let total: usize = lens.iter().sum();
        let want = old
            .prf_plus_parts(seed.as_bytes(), &[&ni, &nr, &spi_i, &spi_r], total)
            .expect("prf+");
        let got: Vec<u8> = r.export_secrets()[1..]
            .iter()
            .flat_map(|(_, v)| v.to_vec())
            .collect();
        assert_eq!(r.export_secrets()[0].1, seed.as_bytes());
        assert_eq!(got, want.as_bytes());
        assert_eq!(r.suite().prf, Prf::HmacSha512);
    }

    #[test]
    fn ciphers_pair_up_and_auth_values_differ_per_role() {
        let k = km();
        let ci = k.cipher(true).expect("ci");
        let cr = k.cipher(false).expect("cr");
        let sealed = ci.seal(b"aad", &[0; 8], b"payloads").expect("seal");
        assert_eq!(ci.open(b"aad", &sealed).expect("open"), b"payloads");
        assert!(cr.open(b"aad", &sealed).is_err());
        let a_i = k.psk_auth(true, b"psk", b"msg", b"nonce", b"id", b"");
        let a_r = k.psk_auth(false, b"psk", b"msg", b"nonce", b"id", b"");
        assert_ne!(a_i.as_bytes(), a_r.as_bytes());
        let prf = Prf::HmacSha256;
        let octets = k.signed_octets(true, b"msg", b"nonce", b"id", b"ia");
        let key = prf.compute(b"psk", KEY_PAD);
        let want = prf.compute(key.as_bytes(), &octets[..octets.len() - 2]);
        assert_eq!(a_i.as_bytes(), want.as_bytes());
        assert_eq!(&octets[..8], b"msgnonce");
        assert_eq!(format!("{k:?}"), "Keymat(prf 5, encr 20/256, integ 0)");
    }
}
