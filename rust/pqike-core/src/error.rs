// SPDX-License-Identifier: Apache-2.0
//! The one error type of pqike-core.
//!
//! Every fallible function of the crate returns [`Error`]. Variants carry lengths, IANA
//! IDs and static reasons only: never key bytes, shared secrets or decrypted data, so an
//! error can be logged or shown to a peer-facing operator without leaking anything.

use core::fmt;

/// IKEv2 Transform Type 1: encryption algorithm (RFC 7296 §3.3.2).
pub const TRANSFORM_TYPE_ENCR: u8 = 1;
/// IKEv2 Transform Type 2: pseudorandom function (RFC 7296 §3.3.2).
pub const TRANSFORM_TYPE_PRF: u8 = 2;
/// IKEv2 Transform Type 3: integrity algorithm (RFC 7296 §3.3.2).
pub const TRANSFORM_TYPE_INTEG: u8 = 3;
/// IKEv2 Transform Type 4: key exchange method (RFC 7296 §3.3.2, RFC 9370 §2.1).
pub const TRANSFORM_TYPE_KE: u8 = 4;
/// IKEv2 Transform Type 5: extended sequence numbers (RFC 7296 §3.3.2).
pub const TRANSFORM_TYPE_ESN: u8 = 5;

/// Everything that can go wrong in pqike-core.
///
/// The enum is `#[non_exhaustive]`: match it with a wildcard arm.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A key, nonce, seed or buffer argument does not have the one length it must have.
    InvalidLength {
        /// What was measured, e.g. `"X25519 private key"`.
        what: &'static str,
        /// The required length in octets.
        expected: usize,
        /// The length that was passed in.
        actual: usize,
    },
    /// A length outside an allowed range (e.g. a seed shorter than 32 octets).
    LengthOutOfRange {
        /// What was measured.
        what: &'static str,
        /// Smallest allowed length in octets.
        min: usize,
        /// Largest allowed length in octets.
        max: usize,
        /// The length that was passed in.
        actual: usize,
    },
    /// An IANA transform ID that this crate does not implement.
    UnsupportedTransform {
        /// IKEv2 transform type (1 ENCR, 2 PRF, 3 INTEG, 4 KE, 5 ESN).
        transform_type: u8,
        /// Transform ID within that type.
        id: u16,
    },
    /// The peer's key exchange data has the wrong length (RFC 7296 §3.4, FIPS 203 §7.2/§7.3
    /// type checks, RFC 8031 §2, RFC 5903 §7).
    InvalidKeyExchangeLength {
        /// Key exchange method (Transform Type 4 ID).
        method: u16,
        /// The length the method requires, in octets.
        expected: usize,
        /// The length that was received.
        actual: usize,
    },
    /// The peer's key exchange data failed a recipient test other than its length: the
    /// ML-KEM modulus check, a point not on the curve, an all-zero DH result.
    InvalidKeyExchangeData {
        /// Key exchange method (Transform Type 4 ID).
        method: u16,
        /// Which test failed.
        reason: &'static str,
    },
    /// An AEAD tag or integrity check value did not verify. Deliberately without detail.
    AuthenticationFailed,
    /// An ESP sequence number was already seen or lies left of the anti-replay window.
    Replay,
    /// The ESP sequence counter would wrap (RFC 4303 §3.3.3): the SA must be rekeyed.
    SequenceExhausted,
    /// prf+ was asked for more than 255 blocks of output (RFC 7296 §2.13).
    PrfPlusTooLong {
        /// Requested output length in octets.
        requested: usize,
        /// Largest possible output for this PRF (255 × output length).
        max: usize,
    },
    /// The operating system could not provide random octets.
    RandomnessUnavailable,
    /// Malformed bytes (too short, wrong SPI, bad framing); the reason is static text.
    Decode(&'static str),
    /// An argument outside its contract that is not a length (e.g. a window size).
    InvalidArgument(&'static str),
    /// The object is not in a state that allows the call (e.g. a shared secret asked for
    /// before the peer's public value arrived).
    InvalidState(&'static str),
}

impl Error {
    /// Shorthand for [`Error::UnsupportedTransform`].
    #[must_use]
    pub const fn unsupported(transform_type: u8, id: u16) -> Self {
        Self::UnsupportedTransform { transform_type, id }
    }

    /// Shorthand for [`Error::InvalidLength`].
    #[must_use]
    pub const fn length(what: &'static str, expected: usize, actual: usize) -> Self {
        Self::InvalidLength {
            what,
            expected,
            actual,
        }
    }

    /// Returns `Ok(())` if `actual == expected`, else [`Error::InvalidLength`].
    ///
    /// # Errors
    /// [`Error::InvalidLength`] naming `what` when the lengths differ.
    pub const fn check_length(
        what: &'static str,
        expected: usize,
        actual: usize,
    ) -> Result<(), Self> {
        if expected == actual {
            Ok(())
        } else {
            Err(Self::length(what, expected, actual))
        }
    }
}

fn transform_type_name(transform_type: u8) -> &'static str {
    match transform_type {
        TRANSFORM_TYPE_ENCR => "ENCR",
        TRANSFORM_TYPE_PRF => "PRF",
        TRANSFORM_TYPE_INTEG => "INTEG",
        TRANSFORM_TYPE_KE => "KE",
        TRANSFORM_TYPE_ESN => "ESN",
        6..=12 => "ADDKE",
        _ => "unknown",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLength {
                what,
                expected,
                actual,
            } => write!(f, "{what} must be {expected} bytes, got {actual}"),
            Self::LengthOutOfRange {
                what,
                min,
                max,
                actual,
            } => {
                if *max == usize::MAX {
                    write!(f, "{what} must be at least {min} bytes, got {actual}")
                } else {
                    write!(f, "{what} must be {min}..={max} bytes, got {actual}")
                }
            }
            Self::UnsupportedTransform { transform_type, id } => write!(
                f,
                "unsupported transform type {transform_type} ({}) id {id}",
                transform_type_name(*transform_type)
            ),
            Self::InvalidKeyExchangeLength {
                method,
                expected,
                actual,
            } => write!(
                f,
                "{} (method {method}) key exchange data must be {expected} bytes, got {actual}",
                crate::kex::method_name(*method)
            ),
            Self::InvalidKeyExchangeData { method, reason } => write!(
                f,
                "{} (method {method}) key exchange data rejected: {reason}",
                crate::kex::method_name(*method)
            ),
            Self::AuthenticationFailed => f.write_str("authentication failed"),
            Self::Replay => f.write_str("replayed or stale ESP sequence number"),
            Self::SequenceExhausted => {
                f.write_str("ESP sequence number space exhausted; rekey the SA")
            }
            Self::PrfPlusTooLong { requested, max } => write!(
                f,
                "prf+ output of {requested} bytes exceeds the 255-block limit of {max} bytes"
            ),
            Self::RandomnessUnavailable => f.write_str("operating system randomness unavailable"),
            Self::Decode(reason) => write!(f, "malformed data: {reason}"),
            Self::InvalidArgument(reason) => write!(f, "invalid argument: {reason}"),
            Self::InvalidState(reason) => write!(f, "invalid state: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_lengths_and_ids() {
        let e = Error::length("X25519 public key", 32, 31);
        assert_eq!(e.to_string(), "X25519 public key must be 32 bytes, got 31");
        let e = Error::unsupported(TRANSFORM_TYPE_PRF, 99);
        assert_eq!(e.to_string(), "unsupported transform type 2 (PRF) id 99");
        let e = Error::InvalidKeyExchangeLength {
            method: 36,
            expected: 1184,
            actual: 1183,
        };
        assert_eq!(
            e.to_string(),
            "ML-KEM-768 (method 36) key exchange data must be 1184 bytes, got 1183"
        );
        assert_eq!(Error::check_length("x", 3, 3), Ok(()));
        assert!(Error::check_length("x", 3, 4).is_err());
    }
}
