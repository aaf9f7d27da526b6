// SPDX-License-Identifier: Apache-2.0
//! Wycheproof AES-GCM and ChaCha20-Poly1305 vectors through `pqike_core::aead`.
//!
//! Every case is used. IKE (RFC 5282, RFC 7634) and ESP (RFC 4106) only ever build 96-bit
//! nonces (`salt | IV`), so cases with another IV size must be refused with
//! `InvalidLength`, valid or not. All tags in these files are 128 bits; for AES-GCM the
//! valid cases are also checked with the RFC 5282 8- and 12-octet truncations.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;

use pqike_core::aead::{aead_open, aead_seal};
use pqike_core::error::Error;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors/wycheproof")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// Runs every case of one file; returns (96-bit cases checked, other cases refused).
fn run(name: &str, encr_id: u16) -> (usize, usize) {
    let d = load(name);
    let (mut checked, mut refused) = (0, 0);
    for g in d["testGroups"].as_array().unwrap() {
        assert_eq!(g["tagSize"], 128, "{name}: only 128-bit tags expected");
        for t in g["tests"].as_array().unwrap() {
            let id = &t["tcId"];
            let (key, iv, aad, msg, ct, tag) = (
                h(&t["key"]),
                h(&t["iv"]),
                h(&t["aad"]),
                h(&t["msg"]),
                h(&t["ct"]),
                h(&t["tag"]),
            );
            let ct_tag = [ct.as_slice(), tag.as_slice()].concat();
            let valid = t["result"] == "valid";
            if iv.len() != 12 {
                let s = aead_seal(encr_id, &key, &iv, &aad, &msg);
                assert!(
                    matches!(s, Err(Error::InvalidLength { .. })),
                    "{name} {id}: seal {s:?}"
                );
                let o = aead_open(encr_id, &key, &iv, &aad, &ct_tag);
                assert!(
                    matches!(o, Err(Error::InvalidLength { .. })),
                    "{name} {id}: open {o:?}"
                );
                refused += 1;
                continue;
            }
            let opened = aead_open(encr_id, &key, &iv, &aad, &ct_tag);
            if valid {
                assert_eq!(
                    aead_seal(encr_id, &key, &iv, &aad, &msg).unwrap(),
                    ct_tag,
                    "{name} {id}: seal"
                );
                assert_eq!(opened.unwrap(), msg, "{name} {id}: open");
                if encr_id == 20 {
                    for (short_id, n) in [(18u16, 8usize), (19, 12)] {
                        let short = [ct.as_slice(), &tag[..n]].concat();
                        assert_eq!(
                            aead_seal(short_id, &key, &iv, &aad, &msg).unwrap(),
                            short,
                            "{name} {id}: ICV {n}"
                        );
                        assert_eq!(
                            aead_open(short_id, &key, &iv, &aad, &short).unwrap(),
                            msg,
                            "{name} {id}: ICV {n}"
                        );
                    }
                }
            } else {
                assert_eq!(
                    opened,
                    Err(Error::AuthenticationFailed),
                    "{name} {id}: must not open"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked + refused,
        d["numberOfTests"].as_u64().unwrap() as usize
    );
    (checked, refused)
}

#[test]
fn wycheproof_aes_gcm() {
    let (checked, refused) = run("aes_gcm_test.json", 20);
    assert_eq!((checked, refused), (197, 119));
}

#[test]
fn wycheproof_chacha20_poly1305() {
    let (checked, refused) = run("chacha20_poly1305_test.json", 28);
    assert_eq!((checked, refused), (316, 9));
}
