// SPDX-License-Identifier: Apache-2.0
//! Key exchange methods by IANA Transform Type 4 ID, DH groups and KEMs behind one interface.
//!
//! | ID | method | initiator sends | responder sends | shared secret |
//! |----|--------|-----------------|-----------------|---------------|
//! | 19, 20, 21 | ECP-256/384/521 (RFC 5903 §7) | `x ‖ y` (64/96/132) | `x ‖ y` | `x` of the product (32/48/66) |
//! | 31 | X25519 (RFC 8031 §2, RFC 7748 §5) | 32-octet `u` | 32-octet `u` | 32 octets, all-zero rejected |
//! | 32 | X448 (RFC 8031 §2, RFC 7748 §5) | 56-octet `u` | 56-octet `u` | 56 octets, all-zero rejected |
//! | 35, 36, 37 | ML-KEM-512/768/1024 (FIPS 203, draft-ietf-ipsecme-ikev2-mlkem §2) | `ek` (800/1184/1568) | `ct` (768/1088/1568) | `K`, 32 octets |
//!
//! One [`KeyExchange`] object is one side of one exchange. The call order is the same for
//! every method (strongSwan's `key_exchange_t` shape):
//!
//! 1. initiator [`KeyExchange::public_key`]: DH public value, or ML-KEM KeyGen and `ek`;
//! 2. responder [`KeyExchange::set_peer_public`]: DH, or the FIPS 203 §7.2 checks on `ek`
//!    and Encaps; then responder [`KeyExchange::public_key`]: DH public value or `ct`;
//! 3. initiator [`KeyExchange::set_peer_public`]: DH, or the FIPS 203 §7.3 length check on
//!    `ct` and Decaps (implicit rejection);
//! 4. both [`KeyExchange::shared_secret`].
//!
//! A KEM object becomes an initiator when `public_key` is called first and a responder
//! when `set_peer_public` is called first.
//!
//! Randomness comes from the OS, or, for replayable tests, from a caller seed expanded with
//! SHAKE-256 under a label per purpose and the method ID ([`KeyExchange::with_seed`]), so
//! the ML-KEM key pair, the encapsulation randomness and any DH private key are mutually
//! independent even if one seed is reused across the objects of a hybrid exchange
//! (draft-ietf-ipsecme-ikev2-mlkem §3).
//!
//! Crates (docs/kex-choice.md; this is the only module that names them): ML-KEM on
//! `libcrux-ml-kem` (default feature `mlkem-libcrux`) or RustCrypto `ml-kem` (feature
//! `mlkem-rustcrypto`), X25519 and ECP on `aws-lc-rs`, X448 on `x448`.

use core::fmt;

use aws_lc_rs::agreement::{self, agree, PrivateKey as LcPrivateKey, UnparsedPublicKey};
use shake::{ExtendableOutput, Shake256, Shake256Reader, Update, XofReader};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, TRANSFORM_TYPE_KE};
use crate::prf::SecretBytes;

/// The Transform Type 4 IDs this module implements, in IANA order.
pub const SUPPORTED_METHODS: [u16; 8] = [19, 20, 21, 31, 32, 35, 36, 37];

/// Shortest seed [`KeyExchange::with_seed`] accepts, in octets.
pub const MIN_SEED_LEN: usize = 32;

/// ML-KEM's modulus q (FIPS 203 §2.4).
const MLKEM_Q: u16 = 3329;

/// A key exchange method (Transform Type 4 ID).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// 19: 256-bit random ECP group (RFC 5903).
    Ecp256,
    /// 20: 384-bit random ECP group (RFC 5903).
    Ecp384,
    /// 21: 521-bit random ECP group (RFC 5903).
    Ecp521,
    /// 31: Curve25519 (RFC 8031).
    X25519,
    /// 32: Curve448 (RFC 8031).
    X448,
    /// 35: ML-KEM-512 (FIPS 203).
    MlKem512,
    /// 36: ML-KEM-768 (FIPS 203).
    MlKem768,
    /// 37: ML-KEM-1024 (FIPS 203).
    MlKem1024,
}

impl Method {
    /// Looks a method up by its Transform Type 4 ID.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] (type 4) for any other ID.
    pub const fn from_id(id: u16) -> Result<Self, Error> {
        match id {
            19 => Ok(Self::Ecp256),
            20 => Ok(Self::Ecp384),
            21 => Ok(Self::Ecp521),
            31 => Ok(Self::X25519),
            32 => Ok(Self::X448),
            35 => Ok(Self::MlKem512),
            36 => Ok(Self::MlKem768),
            37 => Ok(Self::MlKem1024),
            _ => Err(Error::unsupported(TRANSFORM_TYPE_KE, id)),
        }
    }

    /// The Transform Type 4 ID.
    #[must_use]
    pub const fn id(self) -> u16 {
        match self {
            Self::Ecp256 => 19,
            Self::Ecp384 => 20,
            Self::Ecp521 => 21,
            Self::X25519 => 31,
            Self::X448 => 32,
            Self::MlKem512 => 35,
            Self::MlKem768 => 36,
            Self::MlKem1024 => 37,
        }
    }

    /// A readable name, e.g. `"ML-KEM-768"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        method_name(self.id())
    }

    /// Whether this is a KEM (asymmetric roles) rather than a DH group.
    #[must_use]
    pub const fn is_kem(self) -> bool {
        matches!(self, Self::MlKem512 | Self::MlKem768 | Self::MlKem1024)
    }

    /// Whether this is one of the NIST prime-curve groups (ECP-256/384/521).
    #[must_use]
    pub const fn is_ecp(self) -> bool {
        matches!(self, Self::Ecp256 | Self::Ecp384 | Self::Ecp521)
    }

    /// Length of the initiator's KE data: the DH public value or the ML-KEM `ek`
    /// (`384k + 32`).
    #[must_use]
    pub const fn initiator_data_len(self) -> usize {
        match self {
            Self::Ecp256 => 64,
            Self::Ecp384 => 96,
            Self::Ecp521 => 132,
            Self::X25519 => 32,
            Self::X448 => 56,
            Self::MlKem512 => 800,
            Self::MlKem768 => 1184,
            Self::MlKem1024 => 1568,
        }
    }

    /// Length of the responder's KE data: the DH public value or the ML-KEM ciphertext
    /// (`32(du·k + dv)`).
    #[must_use]
    pub const fn responder_data_len(self) -> usize {
        match self {
            Self::MlKem512 => 768,
            Self::MlKem768 => 1088,
            Self::MlKem1024 => 1568,
            _ => self.initiator_data_len(),
        }
    }

    /// Length of the shared secret in octets.
    #[must_use]
    pub const fn shared_secret_len(self) -> usize {
        match self {
            Self::Ecp256 => 32,
            Self::Ecp384 => 48,
            Self::Ecp521 => 66,
            Self::X448 => 56,
            Self::X25519 | Self::MlKem512 | Self::MlKem768 | Self::MlKem1024 => 32,
        }
    }

    /// Length of the ML-KEM expanded decapsulation key (`768k + 96`), or `None` for DH.
    #[must_use]
    pub const fn mlkem_expanded_dk_len(self) -> Option<usize> {
        match self {
            Self::MlKem512 => Some(1632),
            Self::MlKem768 => Some(2400),
            Self::MlKem1024 => Some(3168),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The readable name of key exchange method `method`, or `"unknown"`.
#[must_use]
pub const fn method_name(method: u16) -> &'static str {
    match method {
        19 => "ECP-256",
        20 => "ECP-384",
        21 => "ECP-521",
        31 => "X25519",
        32 => "X448",
        35 => "ML-KEM-512",
        36 => "ML-KEM-768",
        37 => "ML-KEM-1024",
        _ => "unknown",
    }
}

/// The role a KEM object took; DH objects are symmetric and have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Generated the key pair and sent `ek`; decapsulates.
    Initiator,
    /// Received `ek`; encapsulates and sends `ct`.
    Responder,
}

// ---------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------

/// What a batch of random octets is for; each purpose has its own SHAKE-256 label.
#[derive(Clone, Copy)]
enum Purpose {
    DhPrivate,
    MlKemKeyGen,
    MlKemEncaps,
}

impl Purpose {
    const fn label(self) -> &'static [u8] {
        match self {
            Self::DhPrivate => b"dh private key",
            Self::MlKemKeyGen => b"ml-kem keygen d||z",
            Self::MlKemEncaps => b"ml-kem encaps m",
        }
    }
}

/// Where an object's randomness comes from.
enum Entropy {
    Os,
    Seeded(SecretBytes),
}

/// A stream of random octets for one purpose.
enum RandomStream {
    Os,
    Shake(Box<Shake256Reader>),
}

impl Entropy {
    /// `SHAKE-256("pqike kex v1" | 0x00 | label | 0x00 | method ID (2, big endian) | seed)`:
    /// labels contain no NUL and the ID is fixed-size, so inputs never collide.
    fn stream(&self, method: Method, purpose: Purpose) -> RandomStream {
        match self {
            Self::Os => RandomStream::Os,
            Self::Seeded(seed) => {
                let mut xof = Shake256::default();
                xof.update(b"pqike kex v1\x00");
                xof.update(purpose.label());
                xof.update(&[0]);
                xof.update(&method.id().to_be_bytes());
                xof.update(seed.as_bytes());
                RandomStream::Shake(Box::new(xof.finalize_xof()))
            }
        }
    }
}

impl RandomStream {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), Error> {
        match self {
            Self::Os => getrandom::fill(out).map_err(|_| Error::RandomnessUnavailable),
            Self::Shake(reader) => {
                reader.read(out);
                Ok(())
            }
        }
    }

    fn array<const N: usize>(&mut self) -> Result<Zeroizing<[u8; N]>, Error> {
        let mut out = Zeroizing::new([0u8; N]);
        self.fill(out.as_mut_slice())?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// DH: X25519, X448, ECP
// ---------------------------------------------------------------------------------------

/// Returns an error unless `data` is `expected` octets long.
const fn check_kex_len(method: Method, expected: usize, data: &[u8]) -> Result<(), Error> {
    if data.len() == expected {
        Ok(())
    } else {
        Err(kex_len_error(method, expected, data.len()))
    }
}

/// The error for KE data of `actual` octets where `expected` are needed.
const fn kex_len_error(method: Method, expected: usize, actual: usize) -> Error {
    Error::InvalidKeyExchangeLength {
        method: method.id(),
        expected,
        actual,
    }
}

/// Rejects an all-zero DH output (RFC 7748 §6.1 / §6.2, RFC 8031 §2), in constant time.
fn reject_all_zero(method: Method, shared: &[u8]) -> Result<(), Error> {
    let mut acc = 0u8;
    for b in shared {
        acc |= b;
    }
    if bool::from(acc.ct_eq(&0)) {
        Err(Error::InvalidKeyExchangeData {
            method: method.id(),
            reason: "all-zero shared secret (low-order public value)",
        })
    } else {
        Ok(())
    }
}

/// X25519 (RFC 7748 §5) of a private key and a peer `u`, all-zero output rejected.
/// Non-canonical `u` (≥ p) is reduced and the top bit masked, as RFC 7748 §5 says.
fn x25519_compute(secret: &LcPrivateKey, peer: &[u8]) -> Result<SecretBytes, Error> {
    let method = Method::X25519;
    check_kex_len(method, 32, peer)?;
    // AWS-LC's X25519 itself refuses an all-zero result; both paths give the same error.
    let zero = Error::InvalidKeyExchangeData {
        method: method.id(),
        reason: "all-zero shared secret (low-order public value)",
    };
    let shared = agree(
        secret,
        UnparsedPublicKey::new(&agreement::X25519, peer),
        zero.clone(),
        |s| Ok(SecretBytes::from_slice(s)),
    )?;
    reject_all_zero(method, shared.as_bytes())?;
    Ok(shared)
}

/// X448 (RFC 7748 §5) of a private key and a peer `u`, low-order `u` and all-zero output
/// rejected.
fn x448_compute(secret: &x448::StaticSecret, peer: &[u8]) -> Result<SecretBytes, Error> {
    let method = Method::X448;
    check_kex_len(method, 56, peer)?;
    let public = x448::PublicKey::from_bytes(peer).ok_or(Error::InvalidKeyExchangeData {
        method: method.id(),
        reason: "low-order public value (all-zero shared secret)",
    })?;
    let shared = secret.diffie_hellman(&public);
    reject_all_zero(method, shared.as_bytes())?;
    Ok(SecretBytes::from_slice(shared.as_bytes()))
}

/// The aws-lc-rs algorithm of an ECP method.
fn ecp_algorithm(method: Method) -> Result<&'static agreement::Algorithm, Error> {
    match method {
        Method::Ecp256 => Ok(&agreement::ECDH_P256),
        Method::Ecp384 => Ok(&agreement::ECDH_P384),
        Method::Ecp521 => Ok(&agreement::ECDH_P521),
        _ => Err(Error::InvalidState("not an ECP method")),
    }
}

/// The public value of a private key in the IKE encoding: X25519 `u` (32 octets), or ECP
/// `x ‖ y`, each the field size, without the SEC 1 `0x04` prefix (RFC 5903 §7).
fn lc_public(method: Method, secret: &LcPrivateKey) -> Result<Vec<u8>, Error> {
    let public = secret
        .compute_public_key()
        .map_err(|_| Error::RandomnessUnavailable)?;
    let bytes = public.as_ref();
    let skip = usize::from(method != Method::X25519);
    let out = bytes.get(skip..).unwrap_or_default();
    if out.len() == method.initiator_data_len() {
        Ok(out.to_vec())
    } else {
        Err(Error::InvalidState("unexpected public key encoding"))
    }
}

/// ECDH (RFC 5903 §7): validates `x ‖ y` as a point on the curve (coordinates below p,
/// equation satisfied; the identity has no `x ‖ y` form) and returns the x coordinate of
/// the product.
fn ecp_compute(
    method: Method,
    secret: &LcPrivateKey,
    peer_xy: &[u8],
) -> Result<SecretBytes, Error> {
    check_kex_len(method, method.initiator_data_len(), peer_xy)?;
    let mut sec1 = Vec::with_capacity(peer_xy.len() + 1);
    sec1.push(0x04);
    sec1.extend_from_slice(peer_xy);
    let invalid = Error::InvalidKeyExchangeData {
        method: method.id(),
        reason: "not a point on the curve",
    };
    agree(
        secret,
        UnparsedPublicKey::new(ecp_algorithm(method)?, &sec1),
        invalid,
        |s| Ok(SecretBytes::from_slice(s)),
    )
}

/// Parses a big-endian private scalar of exactly the field size, in `[1, n-1]` (AWS-LC's
/// `EC_KEY_set_private_key` refuses 0 and anything ≥ n).
fn ecp_secret(method: Method, scalar: &[u8]) -> Result<LcPrivateKey, Error> {
    let field_len = method.shared_secret_len();
    Error::check_length("ECP private scalar", field_len, scalar.len())?;
    LcPrivateKey::from_private_key(ecp_algorithm(method)?, scalar)
        .map_err(|_| Error::InvalidArgument("ECP private scalar must be in [1, n-1]"))
}

/// Draws a uniform private scalar in `[1, n-1]` by rejection sampling.
fn ecp_random_secret(method: Method, stream: &mut RandomStream) -> Result<LcPrivateKey, Error> {
    let mut candidate = Zeroizing::new(vec![0u8; method.shared_secret_len()]);
    // Each try fails with probability < 2^-32 (P-256 has the largest gap below 2^256).
    for _ in 0..64 {
        stream.fill(&mut candidate)?;
        if method == Method::Ecp521 {
            // n is just below 2^521: keep the 521 low bits of the 66 octets.
            if let Some(top) = candidate.first_mut() {
                *top &= 0x01;
            }
        }
        if let Ok(secret) = ecp_secret(method, &candidate) {
            return Ok(secret);
        }
    }
    Err(Error::RandomnessUnavailable)
}

/// A DH private key: aws-lc-rs for X25519 and ECP, the `x448` crate for X448 (aws-lc-rs
/// has no X448 agreement).
enum DhSecret {
    /// X25519 or ECP-256/384/521; AWS-LC cleanses the key when it is freed.
    AwsLc(Method, LcPrivateKey),
    X448(x448::StaticSecret),
}

impl DhSecret {
    fn generate(method: Method, entropy: &Entropy) -> Result<Self, Error> {
        let mut stream = entropy.stream(method, Purpose::DhPrivate);
        Ok(match method {
            Method::X25519 => {
                let k = stream.array::<32>()?;
                // Clamped by AWS-LC as RFC 7748 §5 decodeScalar25519 says.
                let key = LcPrivateKey::from_private_key(&agreement::X25519, k.as_slice())
                    .map_err(|_| Error::RandomnessUnavailable)?;
                Self::AwsLc(method, key)
            }
            Method::X448 => Self::X448(x448::StaticSecret::from(*stream.array::<56>()?)),
            Method::Ecp256 | Method::Ecp384 | Method::Ecp521 => {
                Self::AwsLc(method, ecp_random_secret(method, &mut stream)?)
            }
            Method::MlKem512 | Method::MlKem768 | Method::MlKem1024 => {
                return Err(Error::InvalidState("ML-KEM has no DH private key"))
            }
        })
    }

    fn public(&self) -> Result<Vec<u8>, Error> {
        match self {
            Self::AwsLc(method, key) => lc_public(*method, key),
            Self::X448(s) => Ok(x448::PublicKey::from(s).as_bytes().to_vec()),
        }
    }

    fn compute(&self, peer: &[u8]) -> Result<SecretBytes, Error> {
        match self {
            Self::AwsLc(Method::X25519, key) => x25519_compute(key, peer),
            Self::AwsLc(method, key) => ecp_compute(*method, key, peer),
            Self::X448(s) => x448_compute(s, peer),
        }
    }
}

// ---------------------------------------------------------------------------------------
// ML-KEM (FIPS 203)
// ---------------------------------------------------------------------------------------

/// FIPS 203 §7.2 encapsulation key checks, done here rather than trusting the crate:
/// (1) type check `len(ek) == 384k + 32`; (2) modulus check
/// `ByteEncode12(ByteDecode12(ek[0:384k])) == ek[0:384k]`, i.e. every 12-bit coefficient
/// is below q = 3329.
///
/// # Errors
/// [`Error::InvalidKeyExchangeLength`] or [`Error::InvalidKeyExchangeData`].
pub fn mlkem_check_ek(method: Method, ek: &[u8]) -> Result<(), Error> {
    if !method.is_kem() {
        return Err(Error::InvalidState("not an ML-KEM method"));
    }
    check_kex_len(method, method.initiator_data_len(), ek)?;
    let t_len = ek.len().saturating_sub(32);
    let t_hat = ek.get(..t_len).unwrap_or_default();
    // ByteDecode12 packs two coefficients in three octets, little endian.
    let all_reduced = t_hat.chunks_exact(3).all(|c| match c {
        [b0, b1, b2] => {
            let lo = u16::from(*b0) | (u16::from(*b1 & 0x0f) << 8);
            let hi = u16::from(*b1 >> 4) | (u16::from(*b2) << 4);
            lo < MLKEM_Q && hi < MLKEM_Q
        }
        _ => false,
    });
    if all_reduced {
        Ok(())
    } else {
        Err(Error::InvalidKeyExchangeData {
            method: method.id(),
            reason: "ML-KEM encapsulation key fails the FIPS 203 7.2 modulus check",
        })
    }
}

const NOT_KEM: Error = Error::InvalidState("not an ML-KEM method");

#[cfg(not(any(feature = "mlkem-libcrux", feature = "mlkem-rustcrypto")))]
compile_error!(
    "pqike-core needs an ML-KEM crate: feature mlkem-libcrux (default) or mlkem-rustcrypto"
);

use mlkem_backend::MlKemDk;

/// ML-KEM.Encaps_internal(ek, m) (FIPS 203 §6.2) after our own §7.2 checks
/// ([`mlkem_check_ek`], whichever crate runs): returns `(ct, K)`.
fn mlkem_encapsulate(
    method: Method,
    ek: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, SecretBytes), Error> {
    mlkem_check_ek(method, ek)?;
    mlkem_backend::encapsulate(method, ek, m)
}

/// ML-KEM on RustCrypto `ml-kem` 0.3.4 (feature `mlkem-rustcrypto`).
#[cfg(feature = "mlkem-rustcrypto")]
mod mlkem_backend {
    use ml_kem::{DecapsulationKey, EncapsulationKey, KeyExport, MlKem1024, MlKem512, MlKem768};
    use zeroize::Zeroize;

    use super::{check_kex_len, kex_len_error, Error, Method, SecretBytes, NOT_KEM};

    /// The crate, for reports and benches.
    pub(super) const NAME: &str = "ml-kem 0.3.4 (RustCrypto)";

    /// An ML-KEM decapsulation key of one of the three parameter sets.
    pub(super) enum MlKemDk {
        K512(Box<DecapsulationKey<MlKem512>>),
        K768(Box<DecapsulationKey<MlKem768>>),
        K1024(Box<DecapsulationKey<MlKem1024>>),
    }

    /// Runs `$body` with `$P` bound to the ml-kem parameter type of `$method` and `$wrap` to
    /// the matching [`MlKemDk`] constructor, or evaluates `$dh` for a DH method. (ml-kem's parameter trait is sealed, so no generic function can
    /// name it.)
    macro_rules! with_mlkem_params {
        ($method:expr, $P:ident, $wrap:ident => $body:expr, _ => $dh:expr) => {
            match $method {
                Method::MlKem512 => {
                    type $P = MlKem512;
                    #[allow(unused_variables)]
                    let $wrap = |key: DecapsulationKey<MlKem512>| MlKemDk::K512(Box::new(key));
                    $body
                }
                Method::MlKem768 => {
                    type $P = MlKem768;
                    #[allow(unused_variables)]
                    let $wrap = |key: DecapsulationKey<MlKem768>| MlKemDk::K768(Box::new(key));
                    $body
                }
                Method::MlKem1024 => {
                    type $P = MlKem1024;
                    #[allow(unused_variables)]
                    let $wrap = |key: DecapsulationKey<MlKem1024>| MlKemDk::K1024(Box::new(key));
                    $body
                }
                _ => $dh,
            }
        };
    }

    impl MlKemDk {
        /// ML-KEM.KeyGen_internal(d, z) (FIPS 203 §6.1) from `seed_dz = d ‖ z`.
        pub(super) fn from_seed(method: Method, seed_dz: &[u8; 64]) -> Result<Self, Error> {
            let seed = ml_kem::Seed::from(*seed_dz);
            Ok(match method {
                Method::MlKem512 => Self::K512(Box::new(DecapsulationKey::from_seed(seed))),
                Method::MlKem768 => Self::K768(Box::new(DecapsulationKey::from_seed(seed))),
                Method::MlKem1024 => Self::K1024(Box::new(DecapsulationKey::from_seed(seed))),
                _ => return Err(NOT_KEM),
            })
        }

        /// Parses the FIPS 203 expanded form `dk_pke ‖ ek ‖ H(ek) ‖ z` (768k + 96 octets),
        /// validating the embedded `ek` (modulus check) and its hash.
        #[allow(deprecated)] // the expanded form is legacy in ml-kem 0.3 but is what KATs use
        pub(super) fn from_expanded(method: Method, dk: &[u8]) -> Result<Self, Error> {
            use ml_kem::ExpandedKeyEncoding;
            let expected = method.mlkem_expanded_dk_len().ok_or(NOT_KEM)?;
            let invalid = Error::InvalidArgument("ML-KEM decapsulation key failed validation");
            with_mlkem_params!(method, P, wrap => {
                let enc = ml_kem::ExpandedDecapsulationKey::<P>::try_from(dk)
                    .map_err(|_| Error::length("ML-KEM decapsulation key", expected, dk.len()))?;
                let key = DecapsulationKey::<P>::from_expanded_bytes(&enc).map_err(|_| invalid)?;
                Ok(wrap(key))
            }, _ => Err(NOT_KEM))
        }

        pub(super) fn ek(&self) -> Vec<u8> {
            match self {
                Self::K512(dk) => dk.encapsulation_key().to_bytes().to_vec(),
                Self::K768(dk) => dk.encapsulation_key().to_bytes().to_vec(),
                Self::K1024(dk) => dk.encapsulation_key().to_bytes().to_vec(),
            }
        }

        #[allow(deprecated)]
        pub(super) fn expanded(&self) -> SecretBytes {
            use ml_kem::ExpandedKeyEncoding;
            let mut bytes = match self {
                Self::K512(dk) => dk.to_expanded_bytes().to_vec(),
                Self::K768(dk) => dk.to_expanded_bytes().to_vec(),
                Self::K1024(dk) => dk.to_expanded_bytes().to_vec(),
            };
            let out = SecretBytes::from_slice(&bytes);
            bytes.zeroize();
            out
        }

        pub(super) const fn method(&self) -> Method {
            match self {
                Self::K512(_) => Method::MlKem512,
                Self::K768(_) => Method::MlKem768,
                Self::K1024(_) => Method::MlKem1024,
            }
        }

        /// ML-KEM.Decaps (FIPS 203 §7.3) after the ciphertext type check. Implicit rejection:
        /// a well-sized but wrong `ct` yields a pseudorandom `K`, never an error.
        pub(super) fn decapsulate(&self, ct: &[u8]) -> Result<SecretBytes, Error> {
            use ml_kem::Decapsulate;
            let method = self.method();
            check_kex_len(method, method.responder_data_len(), ct)?;
            let wrong_len = || kex_len_error(method, method.responder_data_len(), ct.len());
            let mut k = match self {
                Self::K512(dk) => dk.decapsulate(
                    &ml_kem::Ciphertext::<MlKem512>::try_from(ct).map_err(|_| wrong_len())?,
                ),
                Self::K768(dk) => dk.decapsulate(
                    &ml_kem::Ciphertext::<MlKem768>::try_from(ct).map_err(|_| wrong_len())?,
                ),
                Self::K1024(dk) => dk.decapsulate(
                    &ml_kem::Ciphertext::<MlKem1024>::try_from(ct).map_err(|_| wrong_len())?,
                ),
            };
            let out = SecretBytes::from_slice(&k);
            k.as_mut_slice().zeroize();
            Ok(out)
        }
    }

    /// Whether the crate's own key parsing accepts `ek` (it repeats the §7.2 checks).
    pub(super) fn accepts_ek(method: Method, ek: &[u8]) -> bool {
        with_mlkem_params!(method, P, _wrap => {
            ml_kem::Key::<EncapsulationKey<P>>::try_from(ek)
                .is_ok_and(|key| EncapsulationKey::<P>::new(&key).is_ok())
        }, _ => false)
    }

    /// ML-KEM.Encaps_internal(ek, m) (FIPS 203 §6.2), the caller having run the §7.2 checks.
    pub(super) fn encapsulate(
        method: Method,
        ek: &[u8],
        m: &[u8; 32],
    ) -> Result<(Vec<u8>, SecretBytes), Error> {
        let rejected = Error::InvalidKeyExchangeData {
            method: method.id(),
            reason: "ML-KEM encapsulation key rejected by FIPS 203 7.2 checks",
        };
        let wrong_len = kex_len_error(method, method.initiator_data_len(), ek.len());
        let mut m = ml_kem::B32::from(*m);
        let encapsulated = with_mlkem_params!(method, P, _wrap => {
            ml_kem::Key::<EncapsulationKey<P>>::try_from(ek)
                .map_err(|_| wrong_len)
                // ml-kem 0.3.4 repeats the modulus check in `EncapsulationKey::new` (pke.rs
                // round-trips ByteEncode12(ByteDecode12(ek))); keep both.
                .and_then(|key| EncapsulationKey::<P>::new(&key).map_err(|_| rejected))
                .map(|ek| {
                    let (ct, k) = ek.encapsulate_deterministic(&m);
                    (ct.to_vec(), k)
                })
        }, _ => Err(NOT_KEM));
        m.as_mut_slice().zeroize();
        let (ct, mut k) = encapsulated?;
        let out = SecretBytes::from_slice(&k);
        k.as_mut_slice().zeroize();
        Ok((ct, out))
    }
}

/// ML-KEM on `libcrux-ml-kem` 0.0.11 (default feature `mlkem-libcrux`): formally verified
/// (hax/F*) portable and AVX2 code; the AVX2 path is chosen at run time by CPUID.
#[cfg(all(feature = "mlkem-libcrux", not(feature = "mlkem-rustcrypto")))]
mod mlkem_backend {
    use libcrux_ml_kem::{
        mlkem1024, mlkem512, mlkem768, MlKemCiphertext, MlKemPrivateKey, MlKemPublicKey,
    };
    use zeroize::Zeroize;

    use super::{
        check_kex_len, kex_len_error, mlkem_check_ek, Error, Method, SecretBytes, NOT_KEM,
    };

    /// The crate, for reports and benches.
    pub(super) const NAME: &str = "libcrux-ml-kem 0.0.11";

    /// One key pair: `dk` in the FIPS 203 expanded form `dk_pke ‖ ek ‖ H(ek) ‖ z`
    /// (`DK` = 768k + 96 octets, zeroized on drop) and `ek` (`EK` = 384k + 32 octets).
    pub(super) struct Keys<const DK: usize, const EK: usize> {
        dk: MlKemPrivateKey<DK>,
        ek: MlKemPublicKey<EK>,
    }

    impl<const DK: usize, const EK: usize> Drop for Keys<DK, EK> {
        fn drop(&mut self) {
            // libcrux's key types have no Zeroize; IndexMut reaches the bytes.
            self.dk[0..].zeroize();
        }
    }

    /// An ML-KEM decapsulation key of one of the three parameter sets.
    /// An ML-KEM decapsulation key of one of the three parameter sets: packed (the expanded
    /// form; used for imported keys and without AVX2) or, for keys generated on an AVX2 CPU,
    /// libcrux's unpacked AVX2 key pair, whose decapsulation skips re-deriving Â and
    /// re-decoding the keys (9 µs instead of 19 µs for ML-KEM-768 here).
    pub(super) enum MlKemDk {
        K512(Box<Keys<1632, 800>>),
        K768(Box<Keys<2400, 1184>>),
        K1024(Box<Keys<3168, 1568>>),
        #[cfg(target_arch = "x86_64")]
        U512(Box<Unpacked<mlkem512::avx2::unpacked::MlKem512KeyPairUnpacked>>),
        #[cfg(target_arch = "x86_64")]
        U768(Box<Unpacked<mlkem768::avx2::unpacked::MlKem768KeyPairUnpacked>>),
        #[cfg(target_arch = "x86_64")]
        U1024(Box<Unpacked<mlkem1024::avx2::unpacked::MlKem1024KeyPairUnpacked>>),
    }

    /// libcrux's unpacked key pair (`ŝ`, `t̂`, Â in NTT form, `z`) and the serialized `ek`.
    /// Its fields are private to libcrux, so drop overwrites it with its all-zero
    /// `Default` (kept from being optimised away by `black_box`): best effort, unlike the
    /// `Zeroize` of the packed form.
    #[cfg(target_arch = "x86_64")]
    pub(super) struct Unpacked<T: Default> {
        key_pair: T,
        ek: Vec<u8>,
    }

    #[cfg(target_arch = "x86_64")]
    impl<T: Default> Drop for Unpacked<T> {
        fn drop(&mut self) {
            self.key_pair = T::default();
            core::hint::black_box(&self.key_pair);
        }
    }

    /// Whether libcrux's AVX2 code may run here: the same CPUID test (AVX2, BMI1/2, FMA,
    /// MOVBE and OS support) that libcrux's own entry points use to dispatch.
    #[cfg(target_arch = "x86_64")]
    fn avx2() -> bool {
        libcrux_platform::simd256_support()
    }

    /// Runs `$body` with `$u` bound to libcrux's AVX2 unpacked module of `$method` and
    /// `$wrap` to the matching unpacked [`MlKemDk`] variant.
    #[cfg(target_arch = "x86_64")]
    macro_rules! with_unpacked_params {
        ($method:expr, $u:ident, $wrap:ident => $body:expr) => {
            match $method {
                Method::MlKem512 => {
                    use mlkem512::avx2::unpacked as $u;
                    let $wrap = MlKemDk::U512;
                    $body
                }
                Method::MlKem768 => {
                    use mlkem768::avx2::unpacked as $u;
                    let $wrap = MlKemDk::U768;
                    $body
                }
                Method::MlKem1024 => {
                    use mlkem1024::avx2::unpacked as $u;
                    let $wrap = MlKemDk::U1024;
                    $body
                }
                _ => Err(NOT_KEM),
            }
        };
    }

    /// Runs `$body` with `$p` bound to the libcrux module of `$method` and `$wrap` to the
    /// matching [`MlKemDk`] variant, or evaluates `$dh` for a DH method.
    macro_rules! with_libcrux_params {
        ($method:expr, $p:ident, $wrap:ident => $body:expr, _ => $dh:expr) => {
            match $method {
                Method::MlKem512 => {
                    use mlkem512 as $p;
                    #[allow(unused_variables)]
                    let $wrap = MlKemDk::K512;
                    $body
                }
                Method::MlKem768 => {
                    use mlkem768 as $p;
                    #[allow(unused_variables)]
                    let $wrap = MlKemDk::K768;
                    $body
                }
                Method::MlKem1024 => {
                    use mlkem1024 as $p;
                    #[allow(unused_variables)]
                    let $wrap = MlKemDk::K1024;
                    $body
                }
                _ => $dh,
            }
        };
    }

    impl MlKemDk {
        /// ML-KEM.KeyGen_internal(d, z) (FIPS 203 §6.1) from `seed_dz = d ‖ z`.
        pub(super) fn from_seed(method: Method, seed_dz: &[u8; 64]) -> Result<Self, Error> {
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                return with_unpacked_params!(method, u, wrap => {
                    let key_pair = u::generate_key_pair(*seed_dz);
                    let ek = u::key_pair_serialized_public_key(&key_pair).as_slice().to_vec();
                    Ok(wrap(Box::new(Unpacked { key_pair, ek })))
                });
            }
            Self::from_seed_packed(method, seed_dz)
        }

        /// KeyGen into the packed form, the path of CPUs without AVX2.
        pub(super) fn from_seed_packed(method: Method, seed_dz: &[u8; 64]) -> Result<Self, Error> {
            with_libcrux_params!(method, p, wrap => {
                let (dk, ek) = p::generate_key_pair(*seed_dz).into_parts();
                Ok(wrap(Box::new(Keys { dk, ek })))
            }, _ => Err(NOT_KEM))
        }

        /// Parses the FIPS 203 expanded form `dk_pke ‖ ek ‖ H(ek) ‖ z` (768k + 96 octets),
        /// validating the embedded `ek` (our §7.2 modulus check) and the FIPS 203 §7.3 hash
        /// check `H(ek) = dk[768k+32 : 768k+64]` (libcrux's `validate_private_key_only`).
        pub(super) fn from_expanded(method: Method, dk: &[u8]) -> Result<Self, Error> {
            let expected = method.mlkem_expanded_dk_len().ok_or(NOT_KEM)?;
            Error::check_length("ML-KEM decapsulation key", expected, dk.len())?;
            let invalid = Error::InvalidArgument("ML-KEM decapsulation key failed validation");
            let k = (expected - 96) / 768;
            let ek = dk.get(384 * k..768 * k + 32).ok_or(invalid.clone())?;
            mlkem_check_ek(method, ek).map_err(|_| invalid.clone())?;
            with_libcrux_params!(method, p, wrap => {
                let length = || Error::length("ML-KEM decapsulation key", expected, dk.len());
                let dk = MlKemPrivateKey::try_from(dk).map_err(|_| length())?;
                let ek = MlKemPublicKey::try_from(ek).map_err(|_| invalid.clone())?;
                let keys = Box::new(Keys { dk, ek });
                if p::portable::validate_private_key_only(&keys.dk) {
                    Ok(wrap(keys))
                } else {
                    Err(invalid)
                }
            }, _ => Err(NOT_KEM))
        }

        pub(super) fn ek(&self) -> Vec<u8> {
            match self {
                Self::K512(keys) => keys.ek.as_slice().to_vec(),
                Self::K768(keys) => keys.ek.as_slice().to_vec(),
                Self::K1024(keys) => keys.ek.as_slice().to_vec(),
                #[cfg(target_arch = "x86_64")]
                Self::U512(keys) => keys.ek.clone(),
                #[cfg(target_arch = "x86_64")]
                Self::U768(keys) => keys.ek.clone(),
                #[cfg(target_arch = "x86_64")]
                Self::U1024(keys) => keys.ek.clone(),
            }
        }

        pub(super) fn expanded(&self) -> SecretBytes {
            // The packed `dk` of an unpacked key pair, copied out and the copy zeroized.
            #[cfg(target_arch = "x86_64")]
            macro_rules! serialized {
                ($m:ident, $key_pair:expr) => {{
                    let mut dk = $m::avx2::unpacked::key_pair_serialized_private_key($key_pair);
                    let out = SecretBytes::from_slice(dk.as_slice());
                    dk[0..].zeroize();
                    out
                }};
            }
            match self {
                Self::K512(keys) => SecretBytes::from_slice(keys.dk.as_slice()),
                Self::K768(keys) => SecretBytes::from_slice(keys.dk.as_slice()),
                Self::K1024(keys) => SecretBytes::from_slice(keys.dk.as_slice()),
                #[cfg(target_arch = "x86_64")]
                Self::U512(keys) => serialized!(mlkem512, &keys.key_pair),
                #[cfg(target_arch = "x86_64")]
                Self::U768(keys) => serialized!(mlkem768, &keys.key_pair),
                #[cfg(target_arch = "x86_64")]
                Self::U1024(keys) => serialized!(mlkem1024, &keys.key_pair),
            }
        }

        pub(super) const fn method(&self) -> Method {
            match self {
                Self::K512(_) => Method::MlKem512,
                Self::K768(_) => Method::MlKem768,
                Self::K1024(_) => Method::MlKem1024,
                #[cfg(target_arch = "x86_64")]
                Self::U512(_) => Method::MlKem512,
                #[cfg(target_arch = "x86_64")]
                Self::U768(_) => Method::MlKem768,
                #[cfg(target_arch = "x86_64")]
                Self::U1024(_) => Method::MlKem1024,
            }
        }

        /// ML-KEM.Decaps (FIPS 203 §7.3) after the ciphertext type check. Implicit rejection:
        /// a well-sized but wrong `ct` yields a pseudorandom `K`, never an error.
        pub(super) fn decapsulate(&self, ct: &[u8]) -> Result<SecretBytes, Error> {
            let method = self.method();
            check_kex_len(method, method.responder_data_len(), ct)?;
            let wrong_len = || kex_len_error(method, method.responder_data_len(), ct.len());
            let mut k = match self {
                Self::K512(keys) => mlkem512::decapsulate(
                    &keys.dk,
                    &MlKemCiphertext::try_from(ct).map_err(|_| wrong_len())?,
                ),
                Self::K768(keys) => mlkem768::decapsulate(
                    &keys.dk,
                    &MlKemCiphertext::try_from(ct).map_err(|_| wrong_len())?,
                ),
                Self::K1024(keys) => mlkem1024::decapsulate(
                    &keys.dk,
                    &MlKemCiphertext::try_from(ct).map_err(|_| wrong_len())?,
                ),
                #[cfg(target_arch = "x86_64")]
                Self::U512(keys) => mlkem512::avx2::unpacked::decapsulate(
                    &keys.key_pair,
                    &MlKemCiphertext::try_from(ct).map_err(|_| wrong_len())?,
                ),
                #[cfg(target_arch = "x86_64")]
                Self::U768(keys) => mlkem768::avx2::unpacked::decapsulate(
                    &keys.key_pair,
                    &MlKemCiphertext::try_from(ct).map_err(|_| wrong_len())?,
                ),
                #[cfg(target_arch = "x86_64")]
                Self::U1024(keys) => mlkem1024::avx2::unpacked::decapsulate(
                    &keys.key_pair,
                    &MlKemCiphertext::try_from(ct).map_err(|_| wrong_len())?,
                ),
            };
            let out = SecretBytes::from_slice(&k);
            k.zeroize();
            Ok(out)
        }
    }

    /// Whether the crate's own check (`validate_public_key`, the FIPS 203 §7.2 modulus
    /// check) accepts `ek`.
    pub(super) fn accepts_ek(method: Method, ek: &[u8]) -> bool {
        with_libcrux_params!(method, p, _wrap => {
            MlKemPublicKey::try_from(ek).is_ok_and(|pk| p::validate_public_key(&pk))
        }, _ => false)
    }

    /// ML-KEM.Encaps_internal(ek, m) (FIPS 203 §6.2), the caller having run the §7.2 checks.
    /// libcrux's `encapsulate` does not check `ek` itself, so its `validate_public_key` runs
    /// here too: the modulus check happens twice, as with ml-kem.
    pub(super) fn encapsulate(
        method: Method,
        ek: &[u8],
        m: &[u8; 32],
    ) -> Result<(Vec<u8>, SecretBytes), Error> {
        let rejected = Error::InvalidKeyExchangeData {
            method: method.id(),
            reason: "ML-KEM encapsulation key rejected by FIPS 203 7.2 checks",
        };
        let wrong_len = kex_len_error(method, method.initiator_data_len(), ek.len());
        let (ct, mut k) = with_libcrux_params!(method, p, _wrap => {
            let pk = MlKemPublicKey::try_from(ek).map_err(|_| wrong_len)?;
            if !p::validate_public_key(&pk) {
                return Err(rejected);
            }
            let (ct, k) = p::encapsulate(&pk, *m);
            (ct.as_slice().to_vec(), k)
        }, _ => return Err(NOT_KEM));
        let out = SecretBytes::from_slice(&k);
        k.zeroize();
        Ok((ct, out))
    }
}

// ---------------------------------------------------------------------------------------
// The one interface
// ---------------------------------------------------------------------------------------

enum State {
    /// A DH object: private key made at construction; shared secret once the peer's
    /// value arrived.
    Dh {
        secret: DhSecret,
        public: Vec<u8>,
        shared: Option<SecretBytes>,
    },
    /// A KEM object before its first call: no role yet.
    KemFresh,
    /// A KEM initiator: key pair made, `ek` sent; shared secret after Decaps.
    KemInitiator {
        dk: MlKemDk,
        ek: Vec<u8>,
        shared: Option<SecretBytes>,
    },
    /// A KEM responder after Encaps.
    KemResponder { ct: Vec<u8>, shared: SecretBytes },
}

/// One side of one key exchange, for DH groups and ML-KEM alike (module docs give the
/// call order). Secrets are zeroized on drop; `Debug` shows the method and role only.
pub struct KeyExchange {
    method: Method,
    entropy: Entropy,
    state: State,
}

impl KeyExchange {
    /// A new exchange for `method_id` with OS randomness.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] (type 4) for an unknown method;
    /// [`Error::RandomnessUnavailable`] if the OS has no randomness.
    pub fn new(method_id: u16) -> Result<Self, Error> {
        Self::build(Method::from_id(method_id)?, Entropy::Os)
    }

    /// A new exchange whose randomness is expanded from `seed` (at least 32 octets) with
    /// SHAKE-256 under a label per purpose and the method ID, so that tests replay byte
    /// for byte. Never use a seed twice outside tests.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] for an unknown method; [`Error::LengthOutOfRange`]
    /// for a seed shorter than [`MIN_SEED_LEN`].
    pub fn with_seed(method_id: u16, seed: &[u8]) -> Result<Self, Error> {
        let method = Method::from_id(method_id)?;
        if seed.len() < MIN_SEED_LEN {
            return Err(Error::LengthOutOfRange {
                what: "key exchange seed",
                min: MIN_SEED_LEN,
                max: usize::MAX,
                actual: seed.len(),
            });
        }
        Self::build(method, Entropy::Seeded(SecretBytes::from_slice(seed)))
    }

    fn build(method: Method, entropy: Entropy) -> Result<Self, Error> {
        let state = if method.is_kem() {
            State::KemFresh
        } else {
            let secret = DhSecret::generate(method, &entropy)?;
            let public = secret.public()?;
            State::Dh {
                secret,
                public,
                shared: None,
            }
        };
        Ok(Self {
            method,
            entropy,
            state,
        })
    }

    /// The key exchange method.
    #[must_use]
    pub const fn method(&self) -> Method {
        self.method
    }

    /// The role of a KEM object once fixed by its first call; `None` for DH and for a
    /// fresh KEM object.
    #[must_use]
    pub const fn role(&self) -> Option<Role> {
        match self.state {
            State::KemInitiator { .. } => Some(Role::Initiator),
            State::KemResponder { .. } => Some(Role::Responder),
            State::Dh { .. } | State::KemFresh => None,
        }
    }

    /// This side's KE data: the DH public value (X25519 32, X448 56, ECP `x ‖ y`
    /// 64/96/132 octets); for a fresh KEM object, generates the key pair (making it the
    /// initiator) and returns `ek`; for a KEM responder, the ciphertext.
    ///
    /// # Errors
    /// [`Error::RandomnessUnavailable`] if key generation has no randomness.
    pub fn public_key(&mut self) -> Result<&[u8], Error> {
        if matches!(self.state, State::KemFresh) {
            let dz = self
                .entropy
                .stream(self.method, Purpose::MlKemKeyGen)
                .array::<64>()?;
            let dk = MlKemDk::from_seed(self.method, &dz)?;
            let ek = dk.ek();
            self.state = State::KemInitiator {
                dk,
                ek,
                shared: None,
            };
        }
        match &self.state {
            State::Dh { public, .. } => Ok(public),
            State::KemInitiator { ek, .. } => Ok(ek),
            State::KemResponder { ct, .. } => Ok(ct),
            State::KemFresh => Err(Error::InvalidState("ML-KEM key generation did not run")),
        }
    }

    /// Processes the peer's KE data: DH with validation; for a fresh KEM object (making
    /// it the responder), the FIPS 203 §7.2 checks on `ek` and Encaps; for a KEM
    /// initiator, the §7.3 ciphertext length check and Decaps.
    ///
    /// # Errors
    /// [`Error::InvalidKeyExchangeLength`] / [`Error::InvalidKeyExchangeData`] when the
    /// data is rejected (the object is unchanged and may be given other data);
    /// [`Error::InvalidState`] if a shared secret was already computed.
    pub fn set_peer_public(&mut self, data: &[u8]) -> Result<(), Error> {
        match &mut self.state {
            State::Dh {
                shared: Some(_), ..
            }
            | State::KemInitiator {
                shared: Some(_), ..
            }
            | State::KemResponder { .. } => Err(Error::InvalidState(
                "the peer's key exchange data was already processed",
            )),
            State::Dh { secret, shared, .. } => {
                *shared = Some(secret.compute(data)?);
                Ok(())
            }
            State::KemInitiator { dk, shared, .. } => {
                *shared = Some(dk.decapsulate(data)?);
                Ok(())
            }
            State::KemFresh => {
                // Check before drawing randomness, so a rejected ek consumes nothing.
                mlkem_check_ek(self.method, data)?;
                let m = self
                    .entropy
                    .stream(self.method, Purpose::MlKemEncaps)
                    .array::<32>()?;
                let (ct, shared) = mlkem_encapsulate(self.method, data, &m)?;
                self.state = State::KemResponder { ct, shared };
                Ok(())
            }
        }
    }

    /// The shared secret (`g^ir`, or ML-KEM's `K`), once computed.
    ///
    /// # Errors
    /// [`Error::InvalidState`] before [`KeyExchange::set_peer_public`] succeeded.
    pub fn shared_secret(&self) -> Result<&SecretBytes, Error> {
        match &self.state {
            State::Dh {
                shared: Some(s), ..
            }
            | State::KemInitiator {
                shared: Some(s), ..
            }
            | State::KemResponder { shared: s, .. } => Ok(s),
            _ => Err(Error::InvalidState("shared secret not yet computed")),
        }
    }
}

impl fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyExchange")
            .field("method", &self.method)
            .field("role", &self.role())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------
// Known-answer hooks (the same code paths as KeyExchange, with caller-chosen randomness)
// ---------------------------------------------------------------------------------------

/// Deterministic primitives for known-answer tests. Never used by the protocol engine:
/// they take private keys and randomness from the caller.
pub mod kat {
    use super::{
        ecp_compute, ecp_secret, mlkem_encapsulate, x25519_compute, x448_compute, Error, Method,
        MlKemDk, SecretBytes, NOT_KEM,
    };

    /// The ML-KEM crate this build uses, e.g. `"libcrux-ml-kem 0.0.11"`.
    #[must_use]
    pub const fn mlkem_backend_name() -> &'static str {
        super::mlkem_backend::NAME
    }

    /// Whether the ML-KEM crate's own encapsulation key check accepts `ek`, bypassing
    /// [`super::mlkem_check_ek`]: lets tests prove the §7.2 check runs twice. False for a
    /// DH or unknown method.
    #[must_use]
    pub fn mlkem_backend_accepts_ek(method_id: u16, ek: &[u8]) -> bool {
        kem(method_id).is_ok_and(|method| super::mlkem_backend::accepts_ek(method, ek))
    }

    fn kem(method_id: u16) -> Result<Method, Error> {
        let method = Method::from_id(method_id)?;
        if method.is_kem() {
            Ok(method)
        } else {
            Err(NOT_KEM)
        }
    }

    /// ML-KEM.KeyGen_internal(d, z) from `seed_dz = d ‖ z` (64 octets): returns
    /// `(ek, dk)` with `dk` in the FIPS 203 expanded form (768k + 96 octets).
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`], [`Error::InvalidState`] for a DH method,
    /// [`Error::InvalidLength`] for a seed that is not 64 octets.
    pub fn mlkem_keygen(method_id: u16, seed_dz: &[u8]) -> Result<(Vec<u8>, SecretBytes), Error> {
        let method = kem(method_id)?;
        let seed: &[u8; 64] = seed_dz
            .try_into()
            .map_err(|_| Error::length("ML-KEM seed d||z", 64, seed_dz.len()))?;
        let dk = MlKemDk::from_seed(method, seed)?;
        Ok((dk.ek(), dk.expanded()))
    }

    /// ML-KEM.Encaps_internal(ek, m) after the FIPS 203 §7.2 checks: returns `(ct, K)`.
    ///
    /// # Errors
    /// [`Error::InvalidKeyExchangeLength`] / [`Error::InvalidKeyExchangeData`] for an `ek`
    /// that fails the checks; [`Error::InvalidLength`] unless `m` is 32 octets.
    pub fn mlkem_encaps(
        method_id: u16,
        ek: &[u8],
        m: &[u8],
    ) -> Result<(Vec<u8>, SecretBytes), Error> {
        let method = kem(method_id)?;
        let m: &[u8; 32] = m
            .try_into()
            .map_err(|_| Error::length("ML-KEM encapsulation randomness m", 32, m.len()))?;
        mlkem_encapsulate(method, ek, m)
    }

    /// ML-KEM.Decaps after the FIPS 203 §7.3 ciphertext check. `dk` is either the 64-octet
    /// seed `d ‖ z` or the expanded form (768k + 96 octets), which is validated (embedded
    /// `ek` modulus check and `H(ek)`).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for a `dk` of neither length;
    /// [`Error::InvalidArgument`] for an expanded `dk` that fails validation;
    /// [`Error::InvalidKeyExchangeLength`] for a ciphertext of the wrong length.
    pub fn mlkem_decaps(method_id: u16, dk: &[u8], ct: &[u8]) -> Result<SecretBytes, Error> {
        let method = kem(method_id)?;
        let key = match <&[u8; 64]>::try_from(dk) {
            Ok(seed) => MlKemDk::from_seed(method, seed)?,
            Err(_) => MlKemDk::from_expanded(method, dk)?,
        };
        key.decapsulate(ct)
    }

    /// X25519(k, u) (RFC 7748 §5) with the all-zero check; `private` is clamped.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for a private key that is not 32 octets;
    /// [`Error::InvalidKeyExchangeLength`] / [`Error::InvalidKeyExchangeData`] as in
    /// [`super::KeyExchange::set_peer_public`].
    pub fn x25519(private: &[u8], public: &[u8]) -> Result<SecretBytes, Error> {
        let k: [u8; 32] = private
            .try_into()
            .map_err(|_| Error::length("X25519 private key", 32, private.len()))?;
        let key = super::LcPrivateKey::from_private_key(&super::agreement::X25519, &k)
            .map_err(|_| Error::InvalidArgument("X25519 private key rejected"))?;
        x25519_compute(&key, public)
    }

    /// X448(k, u) (RFC 7748 §5) with the low-order and all-zero checks; `private` is
    /// clamped.
    ///
    /// # Errors
    /// As [`x25519`], with 56-octet keys.
    pub fn x448(private: &[u8], public: &[u8]) -> Result<SecretBytes, Error> {
        let k: [u8; 56] = private
            .try_into()
            .map_err(|_| Error::length("X448 private key", 56, private.len()))?;
        x448_compute(&x448::StaticSecret::from(k), public)
    }

    /// ECDH for method 19/20/21: `private_scalar` big endian of the field size (32/48/66),
    /// `peer_public_xy` in the IKE `x ‖ y` encoding; returns the x coordinate.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] / [`Error::InvalidArgument`] for a bad scalar;
    /// [`Error::InvalidKeyExchangeLength`] / [`Error::InvalidKeyExchangeData`] for a bad
    /// point; [`Error::InvalidState`] for a non-ECP method.
    pub fn ecdh(
        method_id: u16,
        private_scalar: &[u8],
        peer_public_xy: &[u8],
    ) -> Result<SecretBytes, Error> {
        let method = Method::from_id(method_id)?;
        if !method.is_ecp() {
            return Err(Error::InvalidState("not an ECP method"));
        }
        ecp_compute(method, &ecp_secret(method, private_scalar)?, peer_public_xy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        method: u16,
        seed_i: Option<&[u8]>,
        seed_r: Option<&[u8]>,
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let make = |seed: Option<&[u8]>| {
            seed.map_or_else(
                || KeyExchange::new(method),
                |s| KeyExchange::with_seed(method, s),
            )
            .expect("supported")
        };
        let (mut i, mut r) = (make(seed_i), make(seed_r));
        let ke_i = i.public_key().expect("keygen").to_vec();
        r.set_peer_public(&ke_i).expect("valid initiator data");
        let ke_r = r.public_key().expect("responder data").to_vec();
        i.set_peer_public(&ke_r).expect("valid responder data");
        let ss_i = i.shared_secret().expect("computed").as_bytes().to_vec();
        let ss_r = r.shared_secret().expect("computed").as_bytes().to_vec();
        assert_eq!(ss_i, ss_r, "method {method}");
        (ke_i, ke_r, ss_i, ss_r)
    }

    #[test]
    fn every_method_agrees_and_has_ike_lengths() {
        for id in SUPPORTED_METHODS {
            let m = Method::from_id(id).expect("supported");
            let (ke_i, ke_r, ss, _) = run(id, None, None);
            assert_eq!(ke_i.len(), m.initiator_data_len(), "{m}");
            assert_eq!(ke_r.len(), m.responder_data_len(), "{m}");
            assert_eq!(ss.len(), m.shared_secret_len(), "{m}");
        }
    }

    #[test]
    fn seeded_runs_replay_and_seeds_are_domain_separated() {
        let seed_i = [1u8; 32];
        let seed_r = [2u8; 40];
        for id in SUPPORTED_METHODS {
            let a = run(id, Some(&seed_i), Some(&seed_r));
            let b = run(id, Some(&seed_i), Some(&seed_r));
            assert_eq!(a, b, "method {id}");
            let c = run(id, Some(&seed_r), Some(&seed_i));
            assert_ne!(a.0, c.0, "method {id}");
        }
        // The same seed gives unrelated X25519 and ML-KEM randomness (different labels and
        // method IDs in the SHAKE-256 input).
        let e = Entropy::Seeded(SecretBytes::from_slice(&seed_i));
        let draw = |method, purpose| {
            let mut out = [0u8; 64];
            e.stream(method, purpose).fill(&mut out).expect("shake");
            out
        };
        let x = draw(Method::X25519, Purpose::DhPrivate);
        let d = draw(Method::MlKem768, Purpose::MlKemKeyGen);
        let m = draw(Method::MlKem768, Purpose::MlKemEncaps);
        let d512 = draw(Method::MlKem512, Purpose::MlKemKeyGen);
        assert_ne!(x, d);
        assert_ne!(m, d);
        assert_ne!(d, d512);
    }

    #[test]
    fn unknown_method_and_short_seed_are_rejected() {
        assert_eq!(
            KeyExchange::new(14).map(|_| ()),
            Err(Error::unsupported(4, 14))
        );
        assert!(matches!(
            KeyExchange::with_seed(31, &[0u8; 31]),
            Err(Error::LengthOutOfRange {
                min: 32,
                actual: 31,
                ..
            })
        ));
    }

    #[test]
    fn state_errors() {
        let mut i = KeyExchange::new(36).expect("supported");
        assert!(matches!(i.shared_secret(), Err(Error::InvalidState(_))));
        assert_eq!(i.role(), None);
        let ek = i.public_key().expect("keygen").to_vec();
        assert_eq!(i.role(), Some(Role::Initiator));
        assert_eq!(i.public_key().expect("same ek"), &ek[..]);
        // A wrong-length ciphertext is rejected and leaves the initiator usable.
        assert_eq!(
            i.set_peer_public(&[0u8; 1087]),
            Err(Error::InvalidKeyExchangeLength {
                method: 36,
                expected: 1088,
                actual: 1087
            })
        );
        let mut r = KeyExchange::new(36).expect("supported");
        r.set_peer_public(&ek).expect("valid ek");
        assert_eq!(r.role(), Some(Role::Responder));
        assert!(matches!(
            r.set_peer_public(&ek),
            Err(Error::InvalidState(_))
        ));
        let ct = r.public_key().expect("ct").to_vec();
        i.set_peer_public(&ct).expect("valid ct");
        assert!(matches!(
            i.set_peer_public(&ct),
            Err(Error::InvalidState(_))
        ));
        assert_eq!(
            format!("{i:?}"),
            "KeyExchange { method: MlKem768, role: Some(Initiator), .. }"
        );
    }

    #[test]
    fn dh_rejections() {
        let mut x = KeyExchange::new(31).expect("supported");
        assert!(matches!(
            x.set_peer_public(&[0u8; 32]),
            Err(Error::InvalidKeyExchangeData { method: 31, .. })
        ));
        assert!(matches!(
            x.set_peer_public(&[9u8; 33]),
            Err(Error::InvalidKeyExchangeLength {
                method: 31,
                expected: 32,
                actual: 33
            })
        ));
        let mut x = KeyExchange::new(32).expect("supported");
        assert!(matches!(
            x.set_peer_public(&[0u8; 56]),
            Err(Error::InvalidKeyExchangeData { method: 32, .. })
        ));
        for id in [19u16, 20, 21] {
            let mut e = KeyExchange::new(id).expect("supported");
            let len = Method::from_id(id).expect("ok").initiator_data_len();
            assert!(matches!(
                e.set_peer_public(&vec![1u8; len]),
                Err(Error::InvalidKeyExchangeData { .. })
            ));
            assert!(matches!(
                e.set_peer_public(&vec![1u8; len + 1]),
                Err(Error::InvalidKeyExchangeLength { .. })
            ));
        }
    }

    #[test]
    fn arbitrary_peer_data_is_rejected_or_accepted_without_panic() {
        let e = Entropy::Seeded(SecretBytes::from_slice(
            b"arbitrary peer data for every method",
        ));
        for id in SUPPORTED_METHODS {
            let m = Method::from_id(id).expect("supported");
            let mut stream = e.stream(m, Purpose::DhPrivate);
            for len in [0, 1, m.initiator_data_len(), m.responder_data_len()] {
                for delta in [-1i64, 0, 1] {
                    let n =
                        usize::try_from(i64::try_from(len).expect("small") + delta).unwrap_or(0);
                    let mut data = vec![0u8; n];
                    stream.fill(&mut data).expect("shake");
                    for data in [data.clone(), vec![0xff; n], vec![0; n]] {
                        // Fresh object (DH, or KEM responder) and KEM initiator.
                        let mut fresh = KeyExchange::new(id).expect("supported");
                        let ok = fresh.set_peer_public(&data).is_ok();
                        assert_eq!(ok, fresh.shared_secret().is_ok());
                        let mut initiator = KeyExchange::new(id).expect("supported");
                        initiator.public_key().expect("keygen");
                        let ok = initiator.set_peer_public(&data).is_ok();
                        assert_eq!(ok, initiator.shared_secret().is_ok());
                        if m.is_kem() && data.len() == m.responder_data_len() {
                            assert!(ok, "implicit rejection never fails");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ecp_scalars_outside_1_to_n_minus_1_are_refused() {
        for id in [19u16, 20, 21] {
            let m = Method::from_id(id).expect("supported");
            let len = m.shared_secret_len();
            let mut one = vec![0u8; len];
            one[len - 1] = 1;
            assert!(ecp_secret(m, &one).is_ok(), "{m}");
            let mut too_big = vec![0xffu8; len];
            if m == Method::Ecp521 {
                too_big[0] = 0x01;
            }
            for bad in [vec![0u8; len], too_big] {
                assert!(
                    matches!(ecp_secret(m, &bad), Err(Error::InvalidArgument(_))),
                    "{m}"
                );
            }
            assert!(matches!(
                ecp_secret(m, &one[1..]),
                Err(Error::InvalidLength { .. })
            ));
        }
    }

    /// On an AVX2 CPU, `from_seed` makes libcrux's unpacked key pair; the packed path of
    /// other CPUs must give the same keys and the same K (the KATs only reach one path).
    #[cfg(all(feature = "mlkem-libcrux", not(feature = "mlkem-rustcrypto")))]
    #[test]
    fn libcrux_packed_and_unpacked_keys_agree() {
        for id in [35u16, 36, 37] {
            let m = Method::from_id(id).expect("supported");
            let seed = [id as u8; 64];
            let a = MlKemDk::from_seed(m, &seed).expect("keygen");
            let b = MlKemDk::from_seed_packed(m, &seed).expect("keygen");
            assert_eq!(a.ek(), b.ek(), "{m}");
            assert_eq!(a.expanded().as_bytes(), b.expanded().as_bytes(), "{m}");
            let (ct, k) = mlkem_encapsulate(m, &a.ek(), &[3u8; 32]).expect("encaps");
            let mut bad = ct.clone();
            bad[0] ^= 1;
            for c in [&ct, &bad] {
                let ka = a.decapsulate(c).expect("decaps");
                assert_eq!(ka.as_bytes(), b.decapsulate(c).expect("decaps").as_bytes());
            }
            assert_eq!(a.decapsulate(&ct).expect("decaps").as_bytes(), k.as_bytes());
        }
    }

    #[test]
    fn modulus_check_rejects_q_and_accepts_q_minus_1() {
        let mut ek = vec![0u8; 800];
        assert_eq!(mlkem_check_ek(Method::MlKem512, &ek), Ok(()));
        // First coefficient = 3328 = 0xd00: octets 00 0d.
        ek[0] = 0x00;
        ek[1] = 0x0d;
        assert_eq!(mlkem_check_ek(Method::MlKem512, &ek), Ok(()));
        // Second coefficient = 3329 = 0xd01: high nibble of ek[1] and ek[2].
        ek[1] = 0x1d;
        ek[2] = 0xd0;
        assert!(matches!(
            mlkem_check_ek(Method::MlKem512, &ek),
            Err(Error::InvalidKeyExchangeData { method: 35, .. })
        ));
        // The last 32 octets (rho) are not coefficients.
        let mut ek = vec![0u8; 800];
        ek[799] = 0xff;
        ek[798] = 0xff;
        ek[797] = 0xff;
        assert_eq!(mlkem_check_ek(Method::MlKem512, &ek), Ok(()));
    }
}
