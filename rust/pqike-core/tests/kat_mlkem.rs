// SPDX-License-Identifier: Apache-2.0
//! ML-KEM known answers: every case (valid and invalid) of Wycheproof's
//! `mlkem_{512,768,1024}_{test,encaps_test,keygen_seed_test}.json` and
//! `mlkem_768_semi_expanded_decaps_test.json`.
//!
//! The encapsulation tests also prove that the FIPS 203 §7.2 modulus check happens twice:
//! in `pqike_core::kex::mlkem_check_ek` and, independently, inside the ML-KEM crate of the
//! build (`libcrux-ml-kem`'s `validate_public_key` by default, ml-kem 0.3.4's
//! `EncapsulationKey::new` with `--features mlkem-rustcrypto`), called bypassing our check.
//! Run both: `cargo test -p pqike-core --test kat_mlkem` and the same with
//! `--features mlkem-rustcrypto`.

mod common;

use common::{has_flag, hex, result, tc, wycheproof, Tally};
use pqike_core::error::Error;
use pqike_core::kex::{self, kat, Method};

fn method_of(parameter_set: &str) -> u16 {
    match parameter_set {
        "ML-KEM-512" => 35,
        "ML-KEM-768" => 36,
        "ML-KEM-1024" => 37,
        other => panic!("unknown parameter set {other}"),
    }
}

/// The ML-KEM crate's own key check (ml-kem's `EncapsulationKey::new` or libcrux's
/// `validate_public_key`), which must reject keys failing the modulus check by itself.
fn crate_accepts_ek(method: u16, ek: &[u8]) -> bool {
    kat::mlkem_backend_accepts_ek(method, ek)
}

/// `mlkem_*_test.json` (MLKEMTest): KeyGen from the 64-octet seed `d ‖ z`, then Decaps of
/// `c`. Valid cases include implicit rejection (a `K` from `z` for a tampered `c`) and the
/// Strcmp case; invalid cases are seeds or ciphertexts of the wrong length, which must be
/// refused.
fn decaps_file(name: &str) -> Tally {
    let mut tally = Tally::default();
    for (group, t) in wycheproof(name) {
        let method = method_of(group["parameterSet"].as_str().expect("parameterSet"));
        let (seed, c) = (hex(&t["seed"]), hex(&t["c"]));
        let keygen = kat::mlkem_keygen(method, &seed);
        let decaps = kat::mlkem_decaps(method, &seed, &c);
        match result(&t) {
            "valid" => {
                let (ek, _dk) = keygen.unwrap_or_else(|e| panic!("{name} tc {}: {e}", tc(&t)));
                assert_eq!(ek, hex(&t["ek"]), "{name} tc {}: ek", tc(&t));
                let k = decaps.unwrap_or_else(|e| panic!("{name} tc {}: {e}", tc(&t)));
                assert_eq!(k.as_bytes(), hex(&t["K"]), "{name} tc {}: K", tc(&t));
                tally.accepted += 1;
            }
            "invalid" => {
                assert!(decaps.is_err(), "{name} tc {}: accepted", tc(&t));
                let m = Method::from_id(method).expect("supported");
                if seed.len() == 64 {
                    // Right seed, wrong ciphertext length: the §7.3 type check must name it.
                    assert_eq!(
                        decaps.map(|_| ()),
                        Err(Error::InvalidKeyExchangeLength {
                            method,
                            expected: m.responder_data_len(),
                            actual: c.len()
                        }),
                        "{name} tc {}",
                        tc(&t)
                    );
                    // And through the protocol object (initiator side).
                    let mut kx = kex::KeyExchange::new(method).expect("supported");
                    kx.public_key().expect("keygen");
                    assert!(matches!(
                        kx.set_peer_public(&c),
                        Err(Error::InvalidKeyExchangeLength { .. })
                    ));
                } else {
                    assert!(
                        keygen.is_err(),
                        "{name} tc {}: seed of {} octets",
                        tc(&t),
                        seed.len()
                    );
                }
                tally.rejected += 1;
            }
            other => panic!("{name} tc {}: unexpected result {other}", tc(&t)),
        }
    }
    tally
}

/// `mlkem_*_encaps_test.json` (MLKEMEncapsTest): Encaps with fixed `m`. Invalid cases are
/// keys of the wrong length, "Public key not reduced" and ModulusOverflow keys.
fn encaps_file(name: &str) -> Tally {
    let mut tally = Tally::default();
    let mut modulus_overflow = 0;
    let mut k = 0;
    for (group, t) in wycheproof(name) {
        let method = method_of(group["parameterSet"].as_str().expect("parameterSet"));
        let m = Method::from_id(method).expect("supported");
        k = (m.initiator_data_len() - 32) / 384;
        let (ek, msg) = (hex(&t["ek"]), hex(&t["m"]));
        let out = kat::mlkem_encaps(method, &ek, &msg);
        match result(&t) {
            "valid" => {
                let (ct, k) = out.unwrap_or_else(|e| panic!("{name} tc {}: {e}", tc(&t)));
                assert_eq!(ct, hex(&t["c"]), "{name} tc {}: c", tc(&t));
                assert_eq!(k.as_bytes(), hex(&t["K"]), "{name} tc {}: K", tc(&t));
                assert_eq!(kex::mlkem_check_ek(m, &ek), Ok(()));
                assert!(crate_accepts_ek(method, &ek), "{name} tc {}", tc(&t));
                tally.accepted += 1;
            }
            "invalid" => {
                assert!(out.is_err(), "{name} tc {}: accepted", tc(&t));
                // Our check rejects it, with the reason matching the defect...
                let ours = kex::mlkem_check_ek(m, &ek);
                if ek.len() == m.initiator_data_len() {
                    assert!(
                        matches!(ours, Err(Error::InvalidKeyExchangeData { .. })),
                        "{name} tc {}: {ours:?}",
                        tc(&t)
                    );
                } else {
                    assert!(
                        matches!(ours, Err(Error::InvalidKeyExchangeLength { .. })),
                        "{name} tc {}",
                        tc(&t)
                    );
                }
                // ...and so does the crate on its own: proof that the ML-KEM crate performs
                // the FIPS 203 §7.2 modulus check itself.
                assert!(
                    !crate_accepts_ek(method, &ek),
                    "{name} tc {}: {} accepted",
                    tc(&t),
                    kat::mlkem_backend_name()
                );
                // The responder object refuses it too, and stays unassigned.
                let mut kx = kex::KeyExchange::new(method).expect("supported");
                assert!(kx.set_peer_public(&ek).is_err());
                assert_eq!(kx.role(), None);
                if has_flag(&t, "ModulusOverflow") {
                    modulus_overflow += 1;
                }
                tally.rejected += 1;
            }
            other => panic!("{name} tc {}: unexpected result {other}", tc(&t)),
        }
    }
    // The files hold 4k ModulusOverflow keys (8, 12, 16): all of them were refused.
    assert_eq!(modulus_overflow, 4 * k, "{name}: ModulusOverflow cases");
    tally
}

/// `mlkem_*_keygen_seed_test.json`: `(ek, dk)` from `d ‖ z`, dk in the expanded form.
fn keygen_file(name: &str) -> Tally {
    let mut tally = Tally::default();
    for (group, t) in wycheproof(name) {
        let method = method_of(group["parameterSet"].as_str().expect("parameterSet"));
        assert_eq!(result(&t), "valid", "{name} tc {}", tc(&t));
        let (ek, dk) = kat::mlkem_keygen(method, &hex(&t["seed"])).expect("valid seed");
        assert_eq!(ek, hex(&t["ek"]), "{name} tc {}: ek", tc(&t));
        assert_eq!(dk.as_bytes(), hex(&t["dk"]), "{name} tc {}: dk", tc(&t));
        tally.accepted += 1;
    }
    tally
}

macro_rules! per_parameter_set {
    ($($test:ident => $runner:ident($file:literal),)*) => {$(
        #[test]
        fn $test() {
            $runner($file).report($file);
        }
    )*};
}

per_parameter_set! {
    mlkem_512_decaps => decaps_file("mlkem_512_test.json"),
    mlkem_768_decaps => decaps_file("mlkem_768_test.json"),
    mlkem_1024_decaps => decaps_file("mlkem_1024_test.json"),
    mlkem_512_encaps => encaps_file("mlkem_512_encaps_test.json"),
    mlkem_768_encaps => encaps_file("mlkem_768_encaps_test.json"),
    mlkem_1024_encaps => encaps_file("mlkem_1024_encaps_test.json"),
    mlkem_512_keygen => keygen_file("mlkem_512_keygen_seed_test.json"),
    mlkem_768_keygen => keygen_file("mlkem_768_keygen_seed_test.json"),
    mlkem_1024_keygen => keygen_file("mlkem_1024_keygen_seed_test.json"),
}

/// `mlkem_768_semi_expanded_decaps_test.json`: Decaps with `dk` in the FIPS 203 expanded
/// form `dk_pke ‖ ek ‖ H(ek) ‖ z` (2400 octets; "semi" because the matrix Â is not
/// included and is re-derived from ρ). Such a key must be validated: wrong length, a
/// corrupted embedded `ek` or hash, and wrong-length ciphertexts are rejected. The two
/// MalleableCiphertext cases are valid keys whose ciphertexts must decapsulate to `K`
/// (they catch a re-encryption comparison that skips the last byte of c1 or c2).
#[test]
fn mlkem_768_semi_expanded_decaps() {
    let name = "mlkem_768_semi_expanded_decaps_test.json";
    let mut tally = Tally::default();
    for (group, t) in wycheproof(name) {
        let method = method_of(group["parameterSet"].as_str().expect("parameterSet"));
        let (dk, c) = (hex(&t["dk"]), hex(&t["c"]));
        let out = kat::mlkem_decaps(method, &dk, &c);
        match result(&t) {
            "valid" => {
                let k = out.unwrap_or_else(|e| panic!("{name} tc {}: {e}", tc(&t)));
                assert_eq!(k.as_bytes(), hex(&t["K"]), "{name} tc {}", tc(&t));
                tally.accepted += 1;
            }
            "invalid" => {
                let expected_kind = if has_flag(&t, "IncorrectDecapsulationKeyLength") {
                    matches!(out, Err(Error::InvalidLength { .. }))
                } else if has_flag(&t, "InvalidDecapsulationKey") {
                    matches!(out, Err(Error::InvalidArgument(_)))
                } else if has_flag(&t, "IncorrectCiphertextLength") {
                    matches!(out, Err(Error::InvalidKeyExchangeLength { .. }))
                } else {
                    out.is_err()
                };
                assert!(expected_kind, "{name} tc {}: {:?}", tc(&t), out.map(|_| ()));
                tally.rejected += 1;
            }
            other => panic!("{name} tc {}: unexpected result {other}", tc(&t)),
        }
    }
    tally.report(name);
}
