// SPDX-License-Identifier: Apache-2.0
//! Key exchange methods by IANA Transform Type 4 ID (work in progress).

/// The IANA name of key exchange method `method`, or `"unknown"`.
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
