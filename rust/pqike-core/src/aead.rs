// SPDX-License-Identifier: Apache-2.0
//! IKE SK payload protection and the raw AEADs under it.
//!
//! - AES-GCM with 8, 12 or 16-octet ICVs (`ENCR_AES_GCM_8/12/16`, IDs 18/19/20), 128, 192
//!   or 256-bit keys: RFC 5282 §3-§4. The key material is `key | salt(4)`, the nonce is
//!   `salt | IV(8)` and only the 8-octet IV travels in the SK payload.
//! - ChaCha20-Poly1305 (`ENCR_CHACHA20_POLY1305`, ID 28): RFC 7634 §2-§3, same layout with
//!   a 32-octet key and a 4-octet salt.
//! - AES-CBC (`ENCR_AES_CBC`, ID 12) with an HMAC integrity algorithm (2, 12, 13, 14):
//!   RFC 7296 §3.14, encrypt-then-MAC where the ICV covers the IKE header through the end
//!   of the ciphertext (here: `aad | IV | ciphertext`).
//!
//! IKE and ESP only ever use 96-bit AEAD nonces and full-length or RFC-truncated tags, so
//! [`Aead`] accepts nothing else: other nonce sizes are refused with
//! [`Error::InvalidLength`].
//!
//! Which implementation runs is chosen by measurement (docs/aes-gcm-choice.md): `aws-lc-rs`
//! (AWS-LC assembly, AES-NI/VAES + CLMUL, runtime dispatch) for AES-GCM with 16-octet tags
//! and for ChaCha20-Poly1305; the RustCrypto `aes-gcm` crate for the truncated 8/12-octet
//! tags, which the aws-lc-rs API does not offer.

use core::fmt;

use aes_gcm::aead::consts::{U12, U8};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::AesGcm;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use crate::error::{Error, TRANSFORM_TYPE_ENCR, TRANSFORM_TYPE_INTEG};
use crate::prf::Integ;

/// `ENCR_AES_CBC` (RFC 3602, RFC 7296).
pub const ENCR_AES_CBC: u16 = 12;
/// `ENCR_AES_GCM_8`: AES-GCM with an 8-octet ICV (RFC 5282).
pub const ENCR_AES_GCM_8: u16 = 18;
/// `ENCR_AES_GCM_12`: AES-GCM with a 12-octet ICV (RFC 5282).
pub const ENCR_AES_GCM_12: u16 = 19;
/// `ENCR_AES_GCM_16`: AES-GCM with a 16-octet ICV (RFC 5282, RFC 4106).
pub const ENCR_AES_GCM_16: u16 = 20;
/// `ENCR_CHACHA20_POLY1305` (RFC 7634).
pub const ENCR_CHACHA20_POLY1305: u16 = 28;
/// Integrity transform "NONE" (used with AEADs).
pub const INTEG_NONE: u16 = 0;

/// Octets of salt appended to the AES-GCM / ChaCha20-Poly1305 key (RFC 5282 §7.1, RFC 7634 §3).
pub const SALT_LEN: usize = 4;
/// Octets of the explicit IV of the AEADs in IKE and ESP.
pub const AEAD_IV_LEN: usize = 8;
/// Octets of the AEAD nonce (`salt | IV`).
pub const NONCE_LEN: usize = 12;
/// AES block size, also the CBC IV length.
const AES_BLOCK: usize = 16;

/// Whether `encr_id` is one of the AEAD transforms of this module.
#[must_use]
pub const fn is_aead(encr_id: u16) -> bool {
    matches!(
        encr_id,
        ENCR_AES_GCM_8 | ENCR_AES_GCM_12 | ENCR_AES_GCM_16 | ENCR_CHACHA20_POLY1305
    )
}

/// ICV length of AEAD `encr_id`.
///
/// # Errors
/// [`Error::UnsupportedTransform`] (type 1) if `encr_id` is no AEAD of this module.
pub const fn aead_icv_length(encr_id: u16) -> Result<usize, Error> {
    match encr_id {
        ENCR_AES_GCM_8 => Ok(8),
        ENCR_AES_GCM_12 => Ok(12),
        ENCR_AES_GCM_16 | ENCR_CHACHA20_POLY1305 => Ok(16),
        _ => Err(Error::unsupported(TRANSFORM_TYPE_ENCR, encr_id)),
    }
}

type Aes192Gcm<T> = AesGcm<aes::Aes192, U12, T>;
type Aes128Gcm<T> = AesGcm<aes::Aes128, U12, T>;
type Aes256Gcm<T> = AesGcm<aes::Aes256, U12, T>;

/// The keyed implementations; one is picked per (algorithm, key size, tag size).
enum Engine {
    AwsLc(Box<aws_lc_rs::aead::LessSafeKey>),
    Aes128Tag8(Box<Aes128Gcm<U8>>),
    Aes128Tag12(Box<Aes128Gcm<U12>>),
    Aes192Tag8(Box<Aes192Gcm<U8>>),
    Aes192Tag12(Box<Aes192Gcm<U12>>),
    Aes256Tag8(Box<Aes256Gcm<U8>>),
    Aes256Tag12(Box<Aes256Gcm<U12>>),
}

/// Seals with a RustCrypto AES-GCM instance and copies its tag into `tag_out`.
macro_rules! rc_seal {
    ($c:expr, $nonce:expr, $aad:expr, $buf:expr, $tag_out:expr) => {{
        let tag = $c
            .encrypt_inout_detached(&(*$nonce).into(), $aad, $buf.into())
            .map_err(|_| Error::InvalidArgument("AEAD input too long"))?;
        $tag_out.copy_from_slice(tag.as_slice());
        Ok(())
    }};
}

/// Opens with a RustCrypto AES-GCM instance; `$tag` has been length-checked already.
macro_rules! rc_open {
    ($c:expr, $nonce:expr, $aad:expr, $buf:expr, $tag:expr) => {{
        let tag =
            aes_gcm::aead::array::Array::try_from($tag).map_err(|_| Error::AuthenticationFailed)?;
        $c.decrypt_inout_detached(&(*$nonce).into(), $aad, $buf.into(), &tag)
            .map_err(|_| Error::AuthenticationFailed)
    }};
}

/// A keyed AEAD with a 96-bit nonce: AES-GCM (any RFC 5282 tag size) or ChaCha20-Poly1305.
///
/// The key here excludes the salt; [`IkeCipher`] and [`crate::esp::EspSa`] build the nonce.
pub struct Aead {
    encr_id: u16,
    tag_len: usize,
    engine: Engine,
}

impl fmt::Debug for Aead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aead(encr {}, icv {})", self.encr_id, self.tag_len)
    }
}

impl Aead {
    /// Keys AEAD `encr_id` with `key` (16/24/32 octets for AES-GCM, 32 for ChaCha20-Poly1305,
    /// no salt).
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] (type 1) for a non-AEAD ID; [`Error::InvalidLength`]
    /// for a key of the wrong size.
    pub fn new(encr_id: u16, key: &[u8]) -> Result<Self, Error> {
        let tag_len = aead_icv_length(encr_id)?;
        let engine = if encr_id == ENCR_CHACHA20_POLY1305 {
            Error::check_length("ChaCha20-Poly1305 key", 32, key.len())?;
            Engine::AwsLc(Box::new(aws_lc_key(
                &aws_lc_rs::aead::CHACHA20_POLY1305,
                key,
            )?))
        } else {
            match (key.len(), tag_len) {
                (16, 16) => {
                    Engine::AwsLc(Box::new(aws_lc_key(&aws_lc_rs::aead::AES_128_GCM, key)?))
                }
                (32, 16) => {
                    Engine::AwsLc(Box::new(aws_lc_key(&aws_lc_rs::aead::AES_256_GCM, key)?))
                }
                (16, 8) => Engine::Aes128Tag8(Box::new(rc_key(key)?)),
                (16, 12) => Engine::Aes128Tag12(Box::new(rc_key(key)?)),
                (24, 8) => Engine::Aes192Tag8(Box::new(rc_key(key)?)),
                (24, 12) => Engine::Aes192Tag12(Box::new(rc_key(key)?)),
                (24, 16) => {
                    Engine::AwsLc(Box::new(aws_lc_key(&aws_lc_rs::aead::AES_192_GCM, key)?))
                }
                (32, 8) => Engine::Aes256Tag8(Box::new(rc_key(key)?)),
                (32, 12) => Engine::Aes256Tag12(Box::new(rc_key(key)?)),
                // No single expected length: name all three, expect the next size up.
                _ => {
                    let expected = [16, 24, 32].into_iter().find(|&n| n >= key.len());
                    return Err(Error::length(
                        "AES-GCM key (16, 24 or 32 bytes, without the salt)",
                        expected.unwrap_or(32),
                        key.len(),
                    ));
                }
            }
        };
        Ok(Self {
            encr_id,
            tag_len,
            engine,
        })
    }

    /// The transform ID.
    #[must_use]
    pub const fn encr_id(&self) -> u16 {
        self.encr_id
    }

    /// Tag (ICV) length in octets.
    #[must_use]
    pub const fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// Encrypts `buf` in place and writes the tag to `tag_out`.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] if `tag_out` is not [`Aead::tag_len`] octets;
    /// [`Error::InvalidArgument`] for inputs beyond the algorithm's limits (≥ 64 GiB).
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag_out: &mut [u8],
    ) -> Result<(), Error> {
        Error::check_length("AEAD tag buffer", self.tag_len, tag_out.len())?;
        match &self.engine {
            Engine::AwsLc(k) => {
                let tag = k
                    .seal_in_place_separate_tag(
                        aws_lc_rs::aead::Nonce::assume_unique_for_key(*nonce),
                        aws_lc_rs::aead::Aad::from(aad),
                        buf,
                    )
                    .map_err(|_| Error::InvalidArgument("AEAD input too long"))?;
                tag_out.copy_from_slice(tag.as_ref());
                Ok(())
            }
            Engine::Aes128Tag8(c) => rc_seal!(c, nonce, aad, buf, tag_out),
            Engine::Aes128Tag12(c) => rc_seal!(c, nonce, aad, buf, tag_out),
            Engine::Aes192Tag8(c) => rc_seal!(c, nonce, aad, buf, tag_out),
            Engine::Aes192Tag12(c) => rc_seal!(c, nonce, aad, buf, tag_out),
            Engine::Aes256Tag8(c) => rc_seal!(c, nonce, aad, buf, tag_out),
            Engine::Aes256Tag12(c) => rc_seal!(c, nonce, aad, buf, tag_out),
        }
    }

    /// Verifies `tag` and decrypts `buf` in place. On failure `buf` holds no plaintext
    /// (it is zeroed).
    ///
    /// # Errors
    /// [`Error::AuthenticationFailed`] if the tag does not verify or has the wrong length.
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        if tag.len() != self.tag_len {
            return Err(Error::AuthenticationFailed);
        }
        let result = match &self.engine {
            Engine::AwsLc(k) => k
                .open_in_place_separate_tag(
                    aws_lc_rs::aead::Nonce::assume_unique_for_key(*nonce),
                    aws_lc_rs::aead::Aad::from(aad),
                    tag,
                    buf,
                )
                .map(|_| ())
                .map_err(|_| Error::AuthenticationFailed),
            Engine::Aes128Tag8(c) => rc_open!(c, nonce, aad, &mut *buf, tag),
            Engine::Aes128Tag12(c) => rc_open!(c, nonce, aad, &mut *buf, tag),
            Engine::Aes192Tag8(c) => rc_open!(c, nonce, aad, &mut *buf, tag),
            Engine::Aes192Tag12(c) => rc_open!(c, nonce, aad, &mut *buf, tag),
            Engine::Aes256Tag8(c) => rc_open!(c, nonce, aad, &mut *buf, tag),
            Engine::Aes256Tag12(c) => rc_open!(c, nonce, aad, &mut *buf, tag),
        };
        if result.is_err() {
            buf.fill(0);
        }
        result
    }
}

fn aws_lc_key(
    alg: &'static aws_lc_rs::aead::Algorithm,
    key: &[u8],
) -> Result<aws_lc_rs::aead::LessSafeKey, Error> {
    aws_lc_rs::aead::UnboundKey::new(alg, key)
        .map(aws_lc_rs::aead::LessSafeKey::new)
        .map_err(|_| Error::length("AEAD key", alg.key_len(), key.len()))
}

fn rc_key<C: KeyInit>(key: &[u8]) -> Result<C, Error> {
    C::new_from_slice(key).map_err(|_| Error::length("AES-GCM key", C::key_size(), key.len()))
}

fn nonce_from(nonce: &[u8]) -> Result<[u8; NONCE_LEN], Error> {
    nonce.try_into().map_err(|_| {
        Error::length(
            "AEAD nonce (IKE/ESP use 96-bit nonces only)",
            NONCE_LEN,
            nonce.len(),
        )
    })
}

/// Raw AEAD seal for known-answer tests: returns `ciphertext | tag`.
///
/// # Errors
/// As [`Aead::new`]; [`Error::InvalidLength`] for a nonce that is not 12 octets.
pub fn aead_seal(
    encr_id: u16,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let aead = Aead::new(encr_id, key)?;
    let nonce = nonce_from(nonce)?;
    let n = plaintext.len();
    let mut out = Vec::with_capacity(n + aead.tag_len());
    out.extend_from_slice(plaintext);
    out.resize(n + aead.tag_len(), 0);
    let (body, tag) = out.split_at_mut(n);
    aead.seal_in_place(&nonce, aad, body, tag)?;
    Ok(out)
}

/// Raw AEAD open for known-answer tests: `ct_and_tag` is `ciphertext | tag`.
///
/// # Errors
/// As [`Aead::new`]; [`Error::InvalidLength`] for a nonce that is not 12 octets;
/// [`Error::AuthenticationFailed`] if the input is shorter than a tag or does not verify.
pub fn aead_open(
    encr_id: u16,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ct_and_tag: &[u8],
) -> Result<Vec<u8>, Error> {
    let aead = Aead::new(encr_id, key)?;
    let nonce = nonce_from(nonce)?;
    let n = ct_and_tag
        .len()
        .checked_sub(aead.tag_len())
        .ok_or(Error::AuthenticationFailed)?;
    let (ct, tag) = ct_and_tag.split_at(n);
    let mut out = ct.to_vec();
    aead.open_in_place(&nonce, aad, &mut out, tag)?;
    Ok(out)
}

/// The 4-octet salt of an AEAD key (RFC 5282 §7.1, RFC 4106 §8.1, RFC 7634 §3); it is
/// key material, so it is zeroized on drop.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub(crate) struct Salt(pub(crate) [u8; SALT_LEN]);

/// The AES key of an AES-CBC IKE cipher, with its size.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct CbcKey {
    key: [u8; 32],
    #[zeroize(skip)]
    len: usize,
}

enum Protection {
    Aead {
        aead: Aead,
        salt: Salt,
    },
    Cbc {
        key: CbcKey,
        integ: Integ,
        integ_key: crate::prf::SecretBytes,
    },
}

/// One direction of IKE SK payload protection (RFC 7296 §3.14, RFC 5282, RFC 7634).
///
/// `Debug` shows the transforms only.
pub struct IkeCipher {
    encr_id: u16,
    key_bits: u16,
    integ_id: u16,
    icv_len: usize,
    protection: Protection,
}

impl fmt::Debug for IkeCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IkeCipher(encr {}, {} bits, integ {})",
            self.encr_id, self.key_bits, self.integ_id
        )
    }
}

impl IkeCipher {
    /// Keys one direction. `encr_key` is SK_ei or SK_er: for the AEADs the cipher key
    /// followed by the 4-octet salt; `integ_key` is SK_ai/SK_ar (empty for AEADs).
    /// `key_bits` is the Key Length attribute (128/192/256; 0 or 256 for ChaCha20-Poly1305).
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] for an unknown ENCR or INTEG ID, an AEAD with an
    /// integrity algorithm or AES-CBC without one, or an unsupported key size;
    /// [`Error::InvalidLength`] for keys of the wrong length.
    pub fn new(
        encr_id: u16,
        key_bits: u16,
        integ_id: u16,
        encr_key: &[u8],
        integ_key: &[u8],
    ) -> Result<Self, Error> {
        let key_len = encr_key_length(encr_id, key_bits)?;
        Error::check_length("IKE encryption key", key_len, encr_key.len())?;
        if is_aead(encr_id) {
            if integ_id != INTEG_NONE {
                return Err(Error::unsupported(TRANSFORM_TYPE_INTEG, integ_id));
            }
            Error::check_length("IKE integrity key (AEAD)", 0, integ_key.len())?;
            let (key, salt) = encr_key.split_at(key_len - SALT_LEN);
            let aead = Aead::new(encr_id, key)?;
            let mut s = [0u8; SALT_LEN];
            s.copy_from_slice(salt);
            Ok(Self {
                encr_id,
                key_bits,
                integ_id,
                icv_len: aead.tag_len(),
                protection: Protection::Aead {
                    aead,
                    salt: Salt(s),
                },
            })
        } else {
            let integ = Integ::from_id(integ_id)?;
            Error::check_length("IKE integrity key", integ.key_len(), integ_key.len())?;
            let mut key = CbcKey {
                key: [0u8; 32],
                len: key_len,
            };
            key.key[..key_len].copy_from_slice(encr_key);
            Ok(Self {
                encr_id,
                key_bits,
                integ_id,
                icv_len: integ.icv_len(),
                protection: Protection::Cbc {
                    key,
                    integ,
                    integ_key: crate::prf::SecretBytes::from_slice(integ_key),
                },
            })
        }
    }

    /// ENCR transform ID.
    #[must_use]
    pub const fn encr_id(&self) -> u16 {
        self.encr_id
    }

    /// Key Length attribute in bits.
    #[must_use]
    pub const fn key_bits(&self) -> u16 {
        self.key_bits
    }

    /// INTEG transform ID (0 for AEADs).
    #[must_use]
    pub const fn integ_id(&self) -> u16 {
        self.integ_id
    }

    /// Length of the IV at the start of the SK payload body: 8 for AEADs, 16 for AES-CBC.
    #[must_use]
    pub const fn iv_len(&self) -> usize {
        match self.protection {
            Protection::Aead { .. } => AEAD_IV_LEN,
            Protection::Cbc { .. } => AES_BLOCK,
        }
    }

    /// ICV length in octets.
    #[must_use]
    pub const fn icv_len(&self) -> usize {
        self.icv_len
    }

    /// Padding octets for `plaintext_len` (AEADs: none; CBC: up to the next block).
    const fn pad_len(&self, plaintext_len: usize) -> usize {
        match self.protection {
            Protection::Aead { .. } => 0,
            Protection::Cbc { .. } => (AES_BLOCK - (plaintext_len + 1) % AES_BLOCK) % AES_BLOCK,
        }
    }

    /// `len(IV | ciphertext | ICV)` for `plaintext_len` octets of inner payloads, the
    /// ciphertext covering the padding and the Pad Length octet.
    #[must_use]
    pub const fn sealed_length(&self, plaintext_len: usize) -> usize {
        self.iv_len() + plaintext_len + self.pad_len(plaintext_len) + 1 + self.icv_len
    }

    /// Protects the inner payloads `plaintext`: returns `IV | E(plaintext | padding |
    /// pad length) | ICV`. `aad` is the IKE header through the SK generic header with their
    /// final lengths; `iv` must never repeat under one key (8 octets for AEADs, 16 random
    /// octets for CBC).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for an IV of the wrong length.
    pub fn seal(&self, aad: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        Error::check_length("IKE IV", self.iv_len(), iv.len())?;
        let pad = self.pad_len(plaintext.len());
        let total = self.sealed_length(plaintext.len());
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(iv);
        out.extend_from_slice(plaintext);
        out.resize(out.len() + pad, 0);
        // pad <= 15 for CBC and 0 for AEADs, so it fits the octet.
        out.push(u8::try_from(pad).unwrap_or(0));
        let ct_end = out.len();
        out.resize(total, 0);
        let (head, icv) = out.split_at_mut(ct_end);
        let (iv_part, ct) = head.split_at_mut(iv.len());
        match &self.protection {
            Protection::Aead { aead, salt } => {
                aead.seal_in_place(&nonce(&salt.0, iv_part)?, aad, ct, icv)?;
            }
            Protection::Cbc {
                key,
                integ,
                integ_key,
            } => {
                cbc_encrypt(key, iv_part, ct)?;
                let mac = integ.compute_parts(integ_key.as_bytes(), &[aad, iv_part, ct])?;
                icv.copy_from_slice(mac.as_bytes());
            }
        }
        Ok(out)
    }

    /// Verifies and decrypts an SK payload body `IV | ciphertext | ICV`; returns the inner
    /// payloads without padding and Pad Length.
    ///
    /// # Errors
    /// [`Error::AuthenticationFailed`] if the body is too short, the ICV does not verify,
    /// the CBC ciphertext is not whole blocks, or the Pad Length is impossible (a padding
    /// error is reported as an authentication failure, never separately).
    pub fn open(&self, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, Error> {
        let iv_len = self.iv_len();
        let ct_len = body
            .len()
            .checked_sub(iv_len + self.icv_len)
            .filter(|&n| n >= 1)
            .ok_or(Error::AuthenticationFailed)?;
        let (iv, rest) = body.split_at(iv_len);
        let (ct, icv) = rest.split_at(ct_len);
        let mut pt = ct.to_vec();
        match &self.protection {
            Protection::Aead { aead, salt } => {
                aead.open_in_place(&nonce(&salt.0, iv)?, aad, &mut pt, icv)?;
            }
            Protection::Cbc {
                key,
                integ,
                integ_key,
            } => {
                integ.verify_parts(integ_key.as_bytes(), &[aad, iv, ct], icv)?;
                if ct_len % AES_BLOCK != 0 {
                    return Err(Error::AuthenticationFailed);
                }
                cbc_decrypt(key, iv, &mut pt)?;
            }
        }
        let pad = usize::from(pt.last().copied().unwrap_or(0));
        let keep = pt
            .len()
            .checked_sub(pad + 1)
            .ok_or(Error::AuthenticationFailed)?;
        pt.truncate(keep);
        Ok(pt)
    }
}

fn nonce(salt: &[u8; SALT_LEN], iv: &[u8]) -> Result<[u8; NONCE_LEN], Error> {
    Error::check_length("AEAD IV", AEAD_IV_LEN, iv.len())?;
    let mut n = [0u8; NONCE_LEN];
    n[..SALT_LEN].copy_from_slice(salt);
    n[SALT_LEN..].copy_from_slice(iv);
    Ok(n)
}

fn cbc_encrypt(key: &CbcKey, iv: &[u8], buf: &mut [u8]) -> Result<(), Error> {
    let k = &key.key[..key.len];
    let len = buf.len();
    let r = match key.len {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(k, iv)
            .map(|c| c.encrypt_padded::<NoPadding>(buf, len).map(|_| ())),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(k, iv)
            .map(|c| c.encrypt_padded::<NoPadding>(buf, len).map(|_| ())),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(k, iv)
            .map(|c| c.encrypt_padded::<NoPadding>(buf, len).map(|_| ())),
    };
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Error::InvalidArgument(
            "CBC plaintext not a whole number of blocks",
        )),
        Err(_) => Err(Error::length("AES-CBC IV", AES_BLOCK, iv.len())),
    }
}

fn cbc_decrypt(key: &CbcKey, iv: &[u8], buf: &mut [u8]) -> Result<(), Error> {
    let k = &key.key[..key.len];
    let r = match key.len {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(k, iv)
            .map(|c| c.decrypt_padded::<NoPadding>(buf).map(|_| ())),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(k, iv)
            .map(|c| c.decrypt_padded::<NoPadding>(buf).map(|_| ())),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(k, iv)
            .map(|c| c.decrypt_padded::<NoPadding>(buf).map(|_| ())),
    };
    match r {
        Ok(Ok(())) => Ok(()),
        _ => Err(Error::AuthenticationFailed),
    }
}

/// Length of SK_ei/SK_er (or of one ESP encryption key) for `encr_id` with a Key Length
/// attribute of `key_bits`: AES-CBC 16/24/32, AES-GCM 20/28/36 (key + salt),
/// ChaCha20-Poly1305 36.
///
/// # Errors
/// [`Error::UnsupportedTransform`] (type 1) for an unknown ID or key size.
pub const fn encr_key_length(encr_id: u16, key_bits: u16) -> Result<usize, Error> {
    let aes = match key_bits {
        128 => 16,
        192 => 24,
        256 => 32,
        _ => 0,
    };
    match encr_id {
        ENCR_AES_CBC if aes > 0 => Ok(aes),
        ENCR_AES_GCM_8 | ENCR_AES_GCM_12 | ENCR_AES_GCM_16 if aes > 0 => Ok(aes + SALT_LEN),
        ENCR_CHACHA20_POLY1305 if key_bits == 0 || key_bits == 256 => Ok(32 + SALT_LEN),
        _ => Err(Error::unsupported(TRANSFORM_TYPE_ENCR, encr_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(encr: u16, bits: u16, integ: u16) -> IkeCipher {
        let klen = encr_key_length(encr, bits).expect("len");
        let ilen = if integ == 0 {
            0
        } else {
            Integ::from_id(integ).expect("integ").key_len()
        };
        IkeCipher::new(encr, bits, integ, &vec![7u8; klen], &vec![9u8; ilen]).expect("cipher")
    }

    #[test]
    fn round_trips_every_suite_and_rejects_tampering() {
        let suites = [
            (20, 128, 0),
            (20, 192, 0),
            (20, 256, 0),
            (19, 256, 0),
            (18, 128, 0),
            (18, 192, 0),
            (28, 0, 0),
            (12, 128, 12),
            (12, 256, 13),
            (12, 192, 14),
            (12, 256, 2),
        ];
        for (encr, bits, integ) in suites {
            let c = cipher(encr, bits, integ);
            for len in [0usize, 1, 15, 16, 17, 100] {
                let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let iv = vec![3u8; c.iv_len()];
                let aad = b"ike header and sk header";
                let sealed = c.seal(aad, &iv, &pt).expect("seal");
                assert_eq!(sealed.len(), c.sealed_length(len));
                if encr == 12 {
                    assert_eq!((sealed.len() - c.iv_len() - c.icv_len()) % 16, 0);
                }
                assert_eq!(c.open(aad, &sealed).expect("open"), pt);
                let mut bad = sealed.clone();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                assert_eq!(c.open(aad, &bad), Err(Error::AuthenticationFailed));
                let mut bad = sealed.clone();
                bad[c.iv_len()] ^= 0x80;
                assert_eq!(c.open(aad, &bad), Err(Error::AuthenticationFailed));
                assert_eq!(
                    c.open(b"other aad", &sealed),
                    Err(Error::AuthenticationFailed)
                );
                assert_eq!(
                    c.open(aad, &sealed[..c.iv_len() + c.icv_len()]),
                    Err(Error::AuthenticationFailed)
                );
            }
        }
    }

    #[test]
    fn refuses_bad_parameters() {
        assert!(matches!(
            IkeCipher::new(20, 128, 12, &[0; 20], &[0; 32]),
            Err(Error::UnsupportedTransform { .. })
        ));
        assert!(matches!(
            IkeCipher::new(12, 128, 0, &[0; 16], &[]),
            Err(Error::UnsupportedTransform { .. })
        ));
        assert!(matches!(
            IkeCipher::new(20, 128, 0, &[0; 16], &[]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            IkeCipher::new(20, 100, 0, &[0; 16], &[]),
            Err(Error::UnsupportedTransform { .. })
        ));
        assert!(matches!(
            IkeCipher::new(3, 0, 0, &[0; 24], &[]),
            Err(Error::UnsupportedTransform { .. })
        ));
        assert!(matches!(
            aead_seal(20, &[0; 16], &[0; 8], b"", b""),
            Err(Error::InvalidLength { .. })
        ));
        assert_eq!(
            aead_seal(20, &[0; 17], &[0; 12], b"", b"")
                .expect_err("17 octets")
                .to_string(),
            "AES-GCM key (16, 24 or 32 bytes, without the salt) must be 24 bytes, got 17"
        );
        let c = cipher(20, 256, 0);
        assert!(matches!(
            c.seal(b"", &[0; 12], b"x"),
            Err(Error::InvalidLength { .. })
        ));
    }

    #[test]
    fn gcm_truncated_tags_are_prefixes_of_the_full_tag() {
        let key = [5u8; 16];
        let nonce = [1u8; 12];
        let full = aead_seal(20, &key, &nonce, b"a", b"hello").expect("seal");
        let t8 = aead_seal(18, &key, &nonce, b"a", b"hello").expect("seal");
        let t12 = aead_seal(19, &key, &nonce, b"a", b"hello").expect("seal");
        assert_eq!(&full[..5 + 8], &t8[..]);
        assert_eq!(&full[..5 + 12], &t12[..]);
        assert_eq!(
            aead_open(18, &key, &nonce, b"a", &t8).expect("open"),
            b"hello"
        );
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn aes_cbc_rfc3602_cases_1_and_2_and_encrypt_then_mac() {
        for (key, iv, pt, ct) in [
            (
                "06a9214036b8a15b512e03d534120006",
                "3dafba429d9eb430b422da802c9fac41",
                b"Single block msg".to_vec(),
                "e353779c1079aeb82708942dbe77181a",
            ),
            (
                "c286696d887c9aa0611bbb3e2025a45a",
                "562e17996d093d28ddb3ba695a2e6f58",
                (0u8..32).collect(),
                "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
            ),
        ] {
            let mut k = CbcKey {
                key: [0u8; 32],
                len: 16,
            };
            k.key[..16].copy_from_slice(&unhex(key));
            let mut buf = pt.clone();
            cbc_encrypt(&k, &unhex(iv), &mut buf).expect("encrypt");
            assert_eq!(buf, unhex(ct));
            cbc_decrypt(&k, &unhex(iv), &mut buf).expect("decrypt");
            assert_eq!(buf, pt);
        }
        // Through IkeCipher: the ICV is HMAC-SHA2-256-128 over aad | iv | ciphertext.
        let integ_key = [0x33u8; 32];
        let c = IkeCipher::new(
            12,
            128,
            12,
            &unhex("c286696d887c9aa0611bbb3e2025a45a"),
            &integ_key,
        )
        .expect("cbc");
        let iv = unhex("562e17996d093d28ddb3ba695a2e6f58");
        // 30 octets + 1 padding octet + the Pad Length octet fill two blocks.
        let sealed = c
            .seal(b"hdr", &iv, &(0u8..30).collect::<Vec<u8>>())
            .expect("seal");
        assert_eq!(sealed.len(), 16 + 32 + 16);
        let mac = Integ::HmacSha256_128
            .compute_parts(&integ_key, &[b"hdr", &sealed[..48]])
            .expect("mac");
        assert_eq!(&sealed[48..], mac.as_bytes());
        assert_eq!(
            c.open(b"hdr", &sealed).expect("open"),
            (0u8..30).collect::<Vec<u8>>()
        );
    }
}
