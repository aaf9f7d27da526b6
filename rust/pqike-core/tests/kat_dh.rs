// SPDX-License-Identifier: Apache-2.0
//! DH known answers: every case of Wycheproof's `x25519_test.json`, `x448_test.json`,
//! `ecdh_secp256r1_ecpoint_test.json` and `ecdh_secp384r1_ecpoint_test.json`.
//!
//! What IKE wants of Wycheproof's "acceptable" cases (RFC 8031 §2, RFC 7748 §6, RFC 5903 §7):
//! - `ZeroSharedSecret` (a low-order public value): REJECTED. RFC 8031 requires the
//!   all-zero check, so these must fail with `InvalidKeyExchangeData`.
//! - X448 `LowOrderPublic` + `Twist` without `ZeroSharedSecret` (3 cases): the result is
//!   not zero, so RFC 8031 has no ground to refuse it: ACCEPTED, must equal `shared`.
//! - `Twist`, `NonCanonicalPublic` (u ≥ p, reduced as RFC 7748 §5 says), `SmallPublicKey`
//!   with a non-zero result: ACCEPTED, and the result must equal `shared`. RFC 7748
//!   requires these to be processed, and the protocol gains nothing by refusing them.
//! - ECDH `CompressedPublic`: REJECTED. IKE's ECP encoding is `x ‖ y` only (RFC 5903 §7),
//!   so a compressed point cannot even be expressed; it fails the length check.
//! - Every "invalid" case must be rejected; every "valid" case must match `shared`.

mod common;

use common::{has_flag, hex, result, tc, wycheproof, Tally};
use pqike_core::error::Error;
use pqike_core::kex::kat;

fn xdh_file(
    name: &str,
    method: u16,
    f: fn(&[u8], &[u8]) -> Result<pqike_core::prf::SecretBytes, Error>,
) -> Tally {
    let mut tally = Tally::default();
    for (_group, t) in wycheproof(name) {
        let (private, public) = (hex(&t["private"]), hex(&t["public"]));
        let out = f(&private, &public);
        let must_reject = result(&t) == "invalid" || has_flag(&t, "ZeroSharedSecret");
        match out {
            Ok(shared) => {
                assert!(
                    !must_reject,
                    "{name} tc {}: accepted {:?}",
                    tc(&t),
                    t["flags"]
                );
                assert_eq!(shared.as_bytes(), hex(&t["shared"]), "{name} tc {}", tc(&t));
                tally.accepted += 1;
            }
            Err(e) => {
                assert!(
                    must_reject,
                    "{name} tc {}: rejected {:?}: {e}",
                    tc(&t),
                    t["flags"]
                );
                match e {
                    Error::InvalidKeyExchangeData { method: m, .. } => assert_eq!(m, method),
                    Error::InvalidKeyExchangeLength { method: m, .. } => {
                        assert_eq!(m, method);
                        assert!(has_flag(&t, "PublicKeyTooLong"), "{name} tc {}", tc(&t));
                    }
                    other => panic!("{name} tc {}: unexpected error {other}", tc(&t)),
                }
                tally.rejected += 1;
            }
        }
    }
    tally
}

#[test]
fn x25519_wycheproof() {
    let name = "x25519_test.json";
    let tally = xdh_file(name, 31, kat::x25519);
    tally.report(name);
}

#[test]
fn x448_wycheproof() {
    let name = "x448_test.json";
    let tally = xdh_file(name, 32, kat::x448);
    tally.report(name);
}

/// Wycheproof private keys are minimal big-endian integers (a leading 00 when the top bit
/// is set); IKE scalars are exactly the field size.
fn scalar(bytes: &[u8], field_len: usize) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    assert!(trimmed.len() <= field_len, "scalar longer than the field");
    let mut out = vec![0u8; field_len - trimmed.len()];
    out.extend_from_slice(&trimmed);
    out
}

fn ecdh_file(name: &str, method: u16, field_len: usize) -> Tally {
    let mut tally = Tally::default();
    for (_group, t) in wycheproof(name) {
        let private = scalar(&hex(&t["private"]), field_len);
        let sec1 = hex(&t["public"]);
        // IKE KE data is x ‖ y: strip the uncompressed-point prefix; anything else is
        // passed as is and must fail (it cannot be IKE KE data of the right length).
        let ike = match sec1.split_first() {
            Some((0x04, xy)) => xy.to_vec(),
            _ => sec1.clone(),
        };
        let out = kat::ecdh(method, &private, &ike);
        match result(&t) {
            "valid" => {
                let shared = out.unwrap_or_else(|e| panic!("{name} tc {}: {e}", tc(&t)));
                assert_eq!(shared.as_bytes(), hex(&t["shared"]), "{name} tc {}", tc(&t));
                tally.accepted += 1;
            }
            "invalid" | "acceptable" => {
                assert!(
                    matches!(
                        out,
                        Err(Error::InvalidKeyExchangeData { .. }
                            | Error::InvalidKeyExchangeLength { .. })
                    ),
                    "{name} tc {} {:?}: {:?}",
                    tc(&t),
                    t["flags"],
                    out.map(|_| ())
                );
                if result(&t) == "acceptable" {
                    assert!(has_flag(&t, "CompressedPublic"), "{name} tc {}", tc(&t));
                }
                tally.rejected += 1;
            }
            other => panic!("{name} tc {}: unexpected result {other}", tc(&t)),
        }
    }
    tally
}

#[test]
fn ecdh_p256_wycheproof() {
    let name = "ecdh_secp256r1_ecpoint_test.json";
    ecdh_file(name, 19, 32).report(name);
}

#[test]
fn ecdh_p384_wycheproof() {
    let name = "ecdh_secp384r1_ecpoint_test.json";
    ecdh_file(name, 20, 48).report(name);
}

/// The protocol object takes the same path: a valid Wycheproof public value is accepted
/// by `set_peer_public`, a low-order one is refused.
#[test]
fn key_exchange_object_applies_the_same_checks() {
    use pqike_core::kex::KeyExchange;
    let mut checked = 0;
    for (_group, t) in wycheproof("x25519_test.json") {
        let public = hex(&t["public"]);
        let mut kx = KeyExchange::new(31).expect("supported");
        let out = kx.set_peer_public(&public);
        if has_flag(&t, "ZeroSharedSecret") {
            // Low-order points give zero for every private key.
            assert!(
                matches!(out, Err(Error::InvalidKeyExchangeData { method: 31, .. })),
                "tc {}",
                tc(&t)
            );
            checked += 1;
        } else if has_flag(&t, "Normal") {
            assert_eq!(out, Ok(()));
            checked += 1;
        }
    }
    assert!(checked > 20);
    for (_group, t) in wycheproof("ecdh_secp256r1_ecpoint_test.json") {
        if has_flag(&t, "InvalidCurveAttack") {
            let sec1 = hex(&t["public"]);
            let mut kx = KeyExchange::new(19).expect("supported");
            let xy = sec1.get(1..).unwrap_or_default();
            assert!(kx.set_peer_public(xy).is_err(), "tc {}", tc(&t));
        }
    }
}
