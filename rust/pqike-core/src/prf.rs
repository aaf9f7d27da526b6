// SPDX-License-Identifier: Apache-2.0
//! IKEv2 pseudorandom functions, prf+ and integrity algorithms.
//!
//! - PRFs (Transform Type 2): `PRF_HMAC_SHA1` (2, RFC 2104), `PRF_HMAC_SHA2_256/384/512`
//!   (5/6/7, RFC 4868 §2.1.2). The preferred key length of each is its output length.
//! - prf+ (RFC 7296 §2.13): `T1 = prf(K, S | 0x01)`, `Ti = prf(K, T(i-1) | S | i)`,
//!   at most 255 blocks.
//! - Integrity algorithms (Transform Type 3): `AUTH_HMAC_SHA1_96` (2, RFC 2404),
//!   `AUTH_HMAC_SHA2_256_128/384_192/512_256` (12/13/14, RFC 4868 §2.1.1): HMAC with a key of
//!   the hash's output length, truncated to half of it (SHA-1: 96 bits).
//!
//! All outputs that can be key material are returned in zeroizing types whose `Debug` shows
//! only the algorithm and length. Tag comparisons are constant time ([`subtle`]).

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, TRANSFORM_TYPE_INTEG, TRANSFORM_TYPE_PRF};

/// Largest PRF output of this module (HMAC-SHA2-512), in octets.
pub const MAX_PRF_OUTPUT: usize = 64;
/// Shortest tag [`Prf::verify`] accepts: 80 bits, RFC 2104 §5's lower bound for a
/// truncated HMAC. The tag is usually the peer's; a shorter one would be guessed (one
/// octet: 1 in 256), and no IKEv2 or ESP truncation is below 96 bits.
pub const MIN_VERIFY_TAG_LEN: usize = 10;
/// Largest truncated ICV of this module (HMAC-SHA2-512-256), in octets.
pub const MAX_ICV: usize = 32;
/// prf+ stops after this many blocks (RFC 7296 §2.13: the counter is one octet).
pub const PRF_PLUS_MAX_BLOCKS: usize = 255;

/// An IKEv2 PRF (Transform Type 2), named as in the IANA registry.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prf {
    /// `PRF_HMAC_SHA1` (ID 2).
    HmacSha1,
    /// `PRF_HMAC_SHA2_256` (ID 5).
    HmacSha256,
    /// `PRF_HMAC_SHA2_384` (ID 6).
    HmacSha384,
    /// `PRF_HMAC_SHA2_512` (ID 7).
    HmacSha512,
}

/// The PRFs this module implements, in IANA order.
pub const SUPPORTED_PRFS: [Prf; 4] = [
    Prf::HmacSha1,
    Prf::HmacSha256,
    Prf::HmacSha384,
    Prf::HmacSha512,
];

impl Prf {
    /// Looks a PRF up by its Transform Type 2 ID.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] (type 2) for any other ID, including the
    /// fixed-key PRFs AES128-XCBC (4) and AES128-CMAC (8), which are not implemented.
    pub const fn from_id(id: u16) -> Result<Self, Error> {
        match id {
            2 => Ok(Self::HmacSha1),
            5 => Ok(Self::HmacSha256),
            6 => Ok(Self::HmacSha384),
            7 => Ok(Self::HmacSha512),
            _ => Err(Error::unsupported(TRANSFORM_TYPE_PRF, id)),
        }
    }

    /// The Transform Type 2 ID.
    #[must_use]
    pub const fn id(self) -> u16 {
        match self {
            Self::HmacSha1 => 2,
            Self::HmacSha256 => 5,
            Self::HmacSha384 => 6,
            Self::HmacSha512 => 7,
        }
    }

    /// The IANA name, e.g. `"PRF_HMAC_SHA2_256"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "PRF_HMAC_SHA1",
            Self::HmacSha256 => "PRF_HMAC_SHA2_256",
            Self::HmacSha384 => "PRF_HMAC_SHA2_384",
            Self::HmacSha512 => "PRF_HMAC_SHA2_512",
        }
    }

    /// Output length in octets (20, 32, 48, 64).
    #[must_use]
    pub const fn output_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }

    /// Preferred key length in octets, the length of SK_d, SK_pi and SK_pr
    /// (RFC 7296 §2.14, RFC 4868 §2.1.2): equal to the output length.
    #[must_use]
    pub const fn key_len(self) -> usize {
        self.output_len()
    }

    /// `prf(key, data)`. HMAC accepts keys of any length (RFC 2104 §2).
    #[must_use]
    pub fn compute(self, key: &[u8], data: &[u8]) -> PrfOutput {
        self.compute_parts(key, &[data])
    }

    /// `prf(key, parts[0] | parts[1] | ...)` without concatenating the parts first.
    #[must_use]
    pub fn compute_parts(self, key: &[u8], parts: &[&[u8]]) -> PrfOutput {
        let mut out = PrfOutput {
            prf: self,
            buf: [0u8; MAX_PRF_OUTPUT],
            len: self.output_len(),
        };
        match self {
            Self::HmacSha1 => hmac_into::<sha1::Sha1>(key, parts, &mut out.buf),
            Self::HmacSha256 => hmac_into::<sha2::Sha256>(key, parts, &mut out.buf),
            Self::HmacSha384 => hmac_into::<sha2::Sha384>(key, parts, &mut out.buf),
            Self::HmacSha512 => hmac_into::<sha2::Sha512>(key, parts, &mut out.buf),
        }
        out
    }

    /// prf+ (RFC 7296 §2.13): the first `length` octets of `T1 | T2 | ...` with
    /// `T1 = prf(key, seed | 0x01)` and `Ti = prf(key, T(i-1) | seed | i)`.
    ///
    /// # Errors
    /// [`Error::PrfPlusTooLong`] if `length` exceeds 255 × [`Prf::output_len`].
    pub fn prf_plus(self, key: &[u8], seed: &[u8], length: usize) -> Result<SecretBytes, Error> {
        self.prf_plus_parts(key, &[seed], length)
    }

    /// prf+ with the seed given as parts, `seed = parts[0] | parts[1] | ...`.
    ///
    /// # Errors
    /// [`Error::PrfPlusTooLong`] if `length` exceeds 255 × [`Prf::output_len`].
    pub fn prf_plus_parts(
        self,
        key: &[u8],
        seed_parts: &[&[u8]],
        length: usize,
    ) -> Result<SecretBytes, Error> {
        let max = PRF_PLUS_MAX_BLOCKS * self.output_len();
        if length > max {
            return Err(Error::PrfPlusTooLong {
                requested: length,
                max,
            });
        }
        let mut out = SecretBytes::with_capacity(length);
        let mut previous: Option<PrfOutput> = None;
        let mut counter: u8 = 1;
        while out.len() < length {
            let counter_octet = [counter];
            let mut parts: Vec<&[u8]> = Vec::with_capacity(seed_parts.len() + 2);
            if let Some(t) = &previous {
                parts.push(t.as_bytes());
            }
            parts.extend_from_slice(seed_parts);
            parts.push(&counter_octet);
            let block = self.compute_parts(key, &parts);
            let take = (length - out.len()).min(block.len());
            out.extend_from_slice(block.as_bytes().get(..take).unwrap_or_default());
            previous = Some(block);
            // The length check above bounds the loop to 255 rounds, so this never wraps.
            counter = counter.wrapping_add(1);
        }
        Ok(out)
    }

    /// Constant-time check that `tag` is a prefix (a truncated or full HMAC tag) of
    /// `prf(key, data)`. Returns `false` for a tag shorter than [`MIN_VERIFY_TAG_LEN`]
    /// or longer than the output.
    #[must_use]
    pub fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        if tag.len() < MIN_VERIFY_TAG_LEN || tag.len() > self.output_len() {
            return false;
        }
        let full = self.compute(key, data);
        full.as_bytes()
            .get(..tag.len())
            .is_some_and(|prefix| constant_time_eq(prefix, tag))
    }
}

impl fmt::Display for Prf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An IKEv2 / ESP integrity algorithm (Transform Type 3), named as in the IANA registry.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integ {
    /// `AUTH_HMAC_SHA1_96` (ID 2, RFC 2404): 20-octet key, 12-octet ICV.
    HmacSha1_96,
    /// `AUTH_HMAC_SHA2_256_128` (ID 12, RFC 4868): 32-octet key, 16-octet ICV.
    HmacSha256_128,
    /// `AUTH_HMAC_SHA2_384_192` (ID 13, RFC 4868): 48-octet key, 24-octet ICV.
    HmacSha384_192,
    /// `AUTH_HMAC_SHA2_512_256` (ID 14, RFC 4868): 64-octet key, 32-octet ICV.
    HmacSha512_256,
}

/// The integrity algorithms this module implements, in IANA order.
pub const SUPPORTED_INTEGS: [Integ; 4] = [
    Integ::HmacSha1_96,
    Integ::HmacSha256_128,
    Integ::HmacSha384_192,
    Integ::HmacSha512_256,
];

impl Integ {
    /// Looks an integrity algorithm up by its Transform Type 3 ID.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] (type 3) for any other ID, including `NONE` (0),
    /// which callers handle before asking for an algorithm.
    pub const fn from_id(id: u16) -> Result<Self, Error> {
        match id {
            2 => Ok(Self::HmacSha1_96),
            12 => Ok(Self::HmacSha256_128),
            13 => Ok(Self::HmacSha384_192),
            14 => Ok(Self::HmacSha512_256),
            _ => Err(Error::unsupported(TRANSFORM_TYPE_INTEG, id)),
        }
    }

    /// The Transform Type 3 ID.
    #[must_use]
    pub const fn id(self) -> u16 {
        match self {
            Self::HmacSha1_96 => 2,
            Self::HmacSha256_128 => 12,
            Self::HmacSha384_192 => 13,
            Self::HmacSha512_256 => 14,
        }
    }

    /// The IANA name, e.g. `"AUTH_HMAC_SHA2_256_128"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HmacSha1_96 => "AUTH_HMAC_SHA1_96",
            Self::HmacSha256_128 => "AUTH_HMAC_SHA2_256_128",
            Self::HmacSha384_192 => "AUTH_HMAC_SHA2_384_192",
            Self::HmacSha512_256 => "AUTH_HMAC_SHA2_512_256",
        }
    }

    /// The HMAC underneath, as a [`Prf`].
    #[must_use]
    pub const fn hmac(self) -> Prf {
        match self {
            Self::HmacSha1_96 => Prf::HmacSha1,
            Self::HmacSha256_128 => Prf::HmacSha256,
            Self::HmacSha384_192 => Prf::HmacSha384,
            Self::HmacSha512_256 => Prf::HmacSha512,
        }
    }

    /// Key length in octets (SK_ai / SK_ar, RFC 7296 §2.14): 20, 32, 48, 64.
    #[must_use]
    pub const fn key_len(self) -> usize {
        self.hmac().output_len()
    }

    /// Length of the truncated ICV in octets: 12, 16, 24, 32.
    #[must_use]
    pub const fn icv_len(self) -> usize {
        match self {
            Self::HmacSha1_96 => 12,
            Self::HmacSha256_128 => 16,
            Self::HmacSha384_192 => 24,
            Self::HmacSha512_256 => 32,
        }
    }

    /// The truncated ICV of `data` under `key`.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] unless `key` is exactly [`Integ::key_len`] octets
    /// (RFC 4868 §2.1.1, RFC 2404 §3 fix the key size).
    pub fn compute(self, key: &[u8], data: &[u8]) -> Result<Icv, Error> {
        self.compute_parts(key, &[data])
    }

    /// The truncated ICV of `parts[0] | parts[1] | ...` under `key`.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] unless `key` is exactly [`Integ::key_len`] octets.
    pub fn compute_parts(self, key: &[u8], parts: &[&[u8]]) -> Result<Icv, Error> {
        Error::check_length("integrity key", self.key_len(), key.len())?;
        let full = self.hmac().compute_parts(key, parts);
        let mut icv = Icv {
            buf: [0u8; MAX_ICV],
            len: self.icv_len(),
        };
        for (dst, src) in icv.buf.iter_mut().zip(full.as_bytes()).take(icv.len) {
            *dst = *src;
        }
        Ok(icv)
    }

    /// Checks a received ICV in constant time.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for a key of the wrong length;
    /// [`Error::AuthenticationFailed`] if `icv` is not exactly the expected ICV (a wrong
    /// ICV length also fails authentication).
    pub fn verify_parts(self, key: &[u8], parts: &[&[u8]], icv: &[u8]) -> Result<(), Error> {
        let expected = self.compute_parts(key, parts)?;
        if constant_time_eq(expected.as_bytes(), icv) {
            Ok(())
        } else {
            Err(Error::AuthenticationFailed)
        }
    }

    /// [`Integ::verify_parts`] with a single data buffer.
    ///
    /// # Errors
    /// As [`Integ::verify_parts`].
    pub fn verify(self, key: &[u8], data: &[u8], icv: &[u8]) -> Result<(), Error> {
        self.verify_parts(key, &[data], icv)
    }
}

impl fmt::Display for Integ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Preferred key length of PRF `prf_id` in octets (RFC 7296 §2.14).
///
/// # Errors
/// [`Error::UnsupportedTransform`] for an unknown PRF.
pub const fn prf_key_length(prf_id: u16) -> Result<usize, Error> {
    match Prf::from_id(prf_id) {
        Ok(prf) => Ok(prf.key_len()),
        Err(e) => Err(e),
    }
}

/// Key length of integrity algorithm `integ_id` in octets (RFC 7296 §2.14).
///
/// # Errors
/// [`Error::UnsupportedTransform`] for an unknown algorithm.
pub const fn integ_key_length(integ_id: u16) -> Result<usize, Error> {
    match Integ::from_id(integ_id) {
        Ok(integ) => Ok(integ.key_len()),
        Err(e) => Err(e),
    }
}

/// Truncated ICV length of integrity algorithm `integ_id` in octets.
///
/// # Errors
/// [`Error::UnsupportedTransform`] for an unknown algorithm.
pub const fn integ_icv_length(integ_id: u16) -> Result<usize, Error> {
    match Integ::from_id(integ_id) {
        Ok(integ) => Ok(integ.icv_len()),
        Err(e) => Err(e),
    }
}

/// Constant-time equality of two byte strings. Differing lengths compare unequal (the
/// lengths themselves are not secret).
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

fn hmac_into<D>(key: &[u8], parts: &[&[u8]], out: &mut [u8; MAX_PRF_OUTPUT])
where
    D: hmac::EagerHash,
    Hmac<D>: KeyInit + Mac,
{
    let Ok(mut mac) = <Hmac<D> as KeyInit>::new_from_slice(key) else {
        // RFC 2104 §2 defines HMAC for keys of any length and hmac's
        // `new_from_slice` never fails; this arm cannot be reached.
        unreachable!("HMAC accepts keys of any length")
    };
    for part in parts {
        mac.update(part);
    }
    let tag = mac.finalize().into_bytes();
    for (dst, src) in out.iter_mut().zip(tag.iter()) {
        *dst = *src;
    }
}

/// The output of one PRF call (up to 64 octets); zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrfOutput {
    #[zeroize(skip)]
    prf: Prf,
    buf: [u8; MAX_PRF_OUTPUT],
    len: usize,
}

impl PrfOutput {
    /// The output octets.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The PRF that produced this output.
    #[must_use]
    pub const fn prf(&self) -> Prf {
        self.prf
    }

    /// Output length in octets.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the output is empty (never, for the PRFs of this module).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for PrfOutput {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for PrfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrfOutput({})", self.prf.name())
    }
}

/// A truncated integrity check value. Not secret (it is sent on the wire).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Icv {
    buf: [u8; MAX_ICV],
    len: usize,
}

impl Icv {
    /// The ICV octets.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl AsRef<[u8]> for Icv {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Icv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Icv({} bytes)", self.len)
    }
}

/// Variable-length secret bytes (prf+ output, key material, shared secrets); zeroized on
/// drop, and `Debug` shows only the length.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// An empty buffer with room for `capacity` octets (so that growing it never leaves
    /// an unzeroized copy behind).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Takes ownership of `bytes`.
    #[must_use]
    pub const fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies `bytes`.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret octets.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in octets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no octets.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends octets. Reserve enough capacity first ([`SecretBytes::with_capacity`]):
    /// a reallocation would leave the old copy unzeroized.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Splits off consecutive pieces of the given lengths, in order, as new secrets.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] (`what` = `"key material"`) unless the lengths add up to
    /// exactly [`SecretBytes::len`].
    pub fn split(&self, lengths: &[usize]) -> Result<Vec<SecretBytes>, Error> {
        let total = lengths
            .iter()
            .try_fold(0usize, |acc, l| acc.checked_add(*l));
        if total != Some(self.0.len()) {
            return Err(Error::length(
                "key material",
                total.unwrap_or(usize::MAX),
                self.0.len(),
            ));
        }
        let mut rest = self.0.as_slice();
        let mut pieces = Vec::with_capacity(lengths.len());
        for &l in lengths {
            let (head, tail) = rest.split_at(l);
            pieces.push(Self::from_slice(head));
            rest = tail;
        }
        Ok(pieces)
    }
}

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn rfc4231_case_1_and_2() {
        let key = [0x0bu8; 20];
        let out = Prf::HmacSha256.compute(&key, b"Hi There");
        assert_eq!(
            out.as_bytes(),
            unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        let out = Prf::HmacSha256.compute(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            out.as_bytes(),
            unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        let out = Prf::HmacSha384.compute(&key, b"Hi There");
        assert_eq!(
            out.as_bytes(),
            unhex("afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6")
        );
    }

    #[test]
    fn parts_equal_concatenation() {
        for prf in SUPPORTED_PRFS {
            let a = prf.compute(b"k", b"abcdef");
            let b = prf.compute_parts(b"k", &[b"ab", b"", b"cdef"]);
            assert_eq!(a.as_bytes(), b.as_bytes());
            assert_eq!(a.len(), prf.output_len());
        }
    }

    #[test]
    fn prf_plus_blocks_and_prefix() {
        for prf in SUPPORTED_PRFS {
            let n = prf.output_len();
            let long = prf
                .prf_plus(b"key", b"seed", 3 * n + 5)
                .expect("within limit");
            // T1 = prf(K, S | 0x01); T2 = prf(K, T1 | S | 0x02)
            let t1 = prf.compute(b"key", b"seed\x01");
            assert_eq!(&long.as_bytes()[..n], t1.as_bytes());
            let t2 = prf.compute_parts(b"key", &[t1.as_bytes(), b"seed", &[2]]);
            assert_eq!(&long.as_bytes()[n..2 * n], t2.as_bytes());
            let short = prf.prf_plus(b"key", b"seed", 7).expect("within limit");
            assert_eq!(short.as_bytes(), &long.as_bytes()[..7]);
            assert!(prf.prf_plus(b"key", b"seed", 0).expect("empty").is_empty());
        }
    }

    #[test]
    fn prf_plus_limit_is_255_blocks() {
        let prf = Prf::HmacSha256;
        assert_eq!(
            prf.prf_plus(b"k", b"s", 255 * 32).expect("max").len(),
            255 * 32
        );
        assert_eq!(
            prf.prf_plus(b"k", b"s", 255 * 32 + 1).map(|_| ()),
            Err(Error::PrfPlusTooLong {
                requested: 255 * 32 + 1,
                max: 255 * 32
            })
        );
    }

    #[test]
    fn ids_round_trip_and_unknown_ids_fail() {
        for prf in SUPPORTED_PRFS {
            assert_eq!(Prf::from_id(prf.id()), Ok(prf));
        }
        for integ in SUPPORTED_INTEGS {
            assert_eq!(Integ::from_id(integ.id()), Ok(integ));
            let expected = match integ.id() {
                2 => (20, 12),
                12 => (32, 16),
                13 => (48, 24),
                _ => (64, 32),
            };
            assert_eq!((integ.key_len(), integ.icv_len()), expected);
        }
        assert_eq!(Prf::from_id(4), Err(Error::unsupported(2, 4)));
        assert_eq!(Integ::from_id(0), Err(Error::unsupported(3, 0)));
        assert_eq!(prf_key_length(6), Ok(48));
        assert_eq!(integ_key_length(2), Ok(20));
        assert_eq!(integ_icv_length(14), Ok(32));
    }

    #[test]
    fn integ_truncates_and_verifies() {
        for integ in SUPPORTED_INTEGS {
            let key = vec![7u8; integ.key_len()];
            let icv = integ.compute(&key, b"data").expect("key length");
            let full = integ.hmac().compute(&key, b"data");
            assert_eq!(icv.as_bytes(), &full.as_bytes()[..integ.icv_len()]);
            assert_eq!(integ.verify(&key, b"data", icv.as_bytes()), Ok(()));
            let mut bad = icv.as_bytes().to_vec();
            bad[0] ^= 1;
            assert_eq!(
                integ.verify(&key, b"data", &bad),
                Err(Error::AuthenticationFailed)
            );
            assert_eq!(
                integ.verify(&key, b"data", &icv.as_bytes()[1..]),
                Err(Error::AuthenticationFailed)
            );
            assert!(matches!(
                integ.compute(&key[1..], b"data"),
                Err(Error::InvalidLength { .. })
            ));
        }
    }

    #[test]
    fn verify_accepts_prefixes_only() {
        let prf = Prf::HmacSha512;
        let tag = prf.compute(b"k", b"m");
        assert!(prf.verify(b"k", b"m", tag.as_bytes()));
        assert!(prf.verify(b"k", b"m", &tag.as_bytes()[..10]));
        assert!(!prf.verify(b"k", b"m", &tag.as_bytes()[..9]));
        assert!(!prf.verify(b"k", b"m", &tag.as_bytes()[..1]));
        assert!(!prf.verify(b"k", b"m", &[]));
        assert!(!prf.verify(b"k", b"m", &[tag.as_bytes(), &[0u8]].concat()));
        assert!(!prf.verify(b"k", b"n", tag.as_bytes()));
    }

    #[test]
    fn debug_hides_secrets() {
        let out = Prf::HmacSha256.compute(b"k", b"m");
        assert_eq!(format!("{out:?}"), "PrfOutput(PRF_HMAC_SHA2_256)");
        let s = SecretBytes::from_slice(&[1, 2, 3]);
        assert_eq!(format!("{s:?}"), "SecretBytes(3 bytes)");
        let parts = s.split(&[1, 2]).expect("lengths add up");
        assert_eq!(parts[1].as_bytes(), &[2, 3]);
        assert!(s.split(&[1, 1]).is_err());
    }
}
