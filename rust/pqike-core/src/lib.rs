// SPDX-License-Identifier: Apache-2.0
//! pqike-core: the cryptography of hybrid post-quantum IKEv2 and ESP, in pure Rust.
//!
//! Modules map onto specifications:
//! - [`kex`]: key exchange methods by IANA Transform Type 4 ID (FIPS 203 ML-KEM, RFC 7748
//!   X25519/X448, RFC 5903 ECP), behind one DH/KEM interface.
//! - [`prf`]: IKEv2 PRFs and prf+ (RFC 7296 §2.13).
//! - [`keymat`]: the IKEv2 key schedule (RFC 7296 §2.14/§2.17/§2.18, RFC 9370 §2.2.2, RFC 9242 §3.3).
//! - [`aead`]: IKE SK payload protection (RFC 5282, RFC 7296 §3.14, RFC 7634).
//! - [`esp`]: ESP packet sealing/opening with anti-replay (RFC 4303, RFC 4106, RFC 7634).
#![forbid(unsafe_code)]

pub mod aead;
pub mod error;
pub mod esp;
pub mod kex;
pub mod keymat;
pub mod prf;
