// SPDX-License-Identifier: Apache-2.0
//! PRF and integrity known answers: every case of Wycheproof's `hmac_sha{256,384,512}_test.json`
//! (full-length and truncated tags, keys of several sizes) and the IKEv2 KDF vectors of
//! `tests/vectors/ikev2-kdf/nist-sp800-135-sha1.json` (NIST SP 800-135 §4.1.1 naming).

mod common;

use common::{hex, load, result, tc, wycheproof, Tally};
use pqike_core::prf::{Integ, Prf};

/// Full tags check `Prf::compute`; every tag, full or truncated, checks `Prf::verify`.
/// Truncated groups whose key size is the hash size are exactly the IKE/ESP INTEG
/// transforms (RFC 4868 §2.1.1), so those also go through `Integ::compute`/`verify`.
fn hmac_file(name: &str, prf: Prf, integ: Integ) -> (Tally, usize) {
    let mut tally = Tally::default();
    let mut integ_cases = 0;
    for (group, t) in wycheproof(name) {
        let tag_len =
            usize::try_from(group["tagSize"].as_u64().expect("tagSize") / 8).expect("small");
        let key_len =
            usize::try_from(group["keySize"].as_u64().expect("keySize") / 8).expect("small");
        let (key, msg, tag) = (hex(&t["key"]), hex(&t["msg"]), hex(&t["tag"]));
        assert_eq!(key.len(), key_len);
        let valid = match result(&t) {
            "valid" => true,
            "invalid" => false,
            other => panic!("{name} tc {}: unexpected result {other}", tc(&t)),
        };
        let full = prf.compute(&key, &msg);
        assert_eq!(
            full.as_bytes()[..tag_len] == tag[..],
            valid,
            "{name} tc {}: compute",
            tc(&t)
        );
        assert_eq!(
            prf.verify(&key, &msg, &tag),
            valid,
            "{name} tc {}: verify",
            tc(&t)
        );
        if key_len == integ.key_len() && tag_len == integ.icv_len() {
            let icv = integ.compute(&key, &msg).expect("INTEG key length");
            assert_eq!(
                icv.as_bytes() == &tag[..],
                valid,
                "{name} tc {}: integ",
                tc(&t)
            );
            assert_eq!(
                integ.verify(&key, &msg, &tag).is_ok(),
                valid,
                "{name} tc {}: integ verify",
                tc(&t)
            );
            integ_cases += 1;
        }
        if valid {
            tally.accepted += 1;
        } else {
            tally.rejected += 1;
        }
    }
    (tally, integ_cases)
}

/// One file per hash; the 81-case truncated group of each is the INTEG transform.
#[test]
fn hmac_sha2_wycheproof() {
    let files = [
        (
            "hmac_sha256_test.json",
            Prf::HmacSha256,
            Integ::HmacSha256_128,
        ),
        (
            "hmac_sha384_test.json",
            Prf::HmacSha384,
            Integ::HmacSha384_192,
        ),
        (
            "hmac_sha512_test.json",
            Prf::HmacSha512,
            Integ::HmacSha512_256,
        ),
    ];
    for (name, prf, integ) in files {
        let (tally, integ_cases) = hmac_file(name, prf, integ);
        assert_eq!(integ_cases, 81, "{name}: {integ} cases");
        tally.report(name);
    }
}

/// RFC 7296 §2.13/§2.14/§2.17/§2.18 with the NIST CAVP sample values:
/// `SKEYSEED = prf(Ni | Nr, g^ir)`, `DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)`,
/// `SK_d = DKM[0..hLen]`, child `prf+(SK_d, Ni | Nr)`, child with PFS
/// `prf+(SK_d, g^ir(new) | Ni | Nr)`, rekey `SKEYSEED = prf(SK_d, g^ir(new) | Ni | Nr)`.
#[test]
fn ikev2_kdf_sp800_135() {
    let doc = load("ikev2-kdf/nist-sp800-135-sha1.json");
    let tests = doc["tests"].as_array().expect("tests");
    assert!(!tests.is_empty());
    for (i, t) in tests.iter().enumerate() {
        let prf = match t["hashAlg"].as_str().expect("hashAlg") {
            "SHA-1" => Prf::HmacSha1,
            "SHA2-256" | "SHA-256" => Prf::HmacSha256,
            "SHA2-384" | "SHA-384" => Prf::HmacSha384,
            "SHA2-512" | "SHA-512" => Prf::HmacSha512,
            other => panic!("case {i}: hash {other}"),
        };
        let (ni, nr) = (hex(&t["nInit"]), hex(&t["nResp"]));
        let (spi_i, spi_r) = (hex(&t["spiInit"]), hex(&t["spiResp"]));
        let (gir, gir_new) = (hex(&t["gir"]), hex(&t["girNew"]));
        let dkm_len = usize::try_from(t["dkmLengthBytes"].as_u64().expect("len")).expect("small");
        let child_len =
            usize::try_from(t["dkmChildLengthBytes"].as_u64().expect("len")).expect("small");

        let nonces = [ni.as_slice(), nr.as_slice()].concat();
        let skeyseed = prf.compute(&nonces, &gir);
        assert_eq!(
            skeyseed.as_bytes(),
            hex(&t["sKeySeed"]),
            "case {i}: SKEYSEED"
        );

        let dkm = prf
            .prf_plus_parts(skeyseed.as_bytes(), &[&ni, &nr, &spi_i, &spi_r], dkm_len)
            .expect("within 255 blocks");
        assert_eq!(
            dkm.as_bytes(),
            hex(&t["derivedKeyingMaterial"]),
            "case {i}: DKM"
        );

        let sk_d = &dkm.as_bytes()[..prf.output_len()];
        let child = prf
            .prf_plus(sk_d, &nonces, child_len)
            .expect("within 255 blocks");
        assert_eq!(
            child.as_bytes(),
            hex(&t["derivedKeyingMaterialChild"]),
            "case {i}: child"
        );

        let child_dh = prf
            .prf_plus_parts(sk_d, &[&gir_new, &ni, &nr], child_len)
            .expect("within 255 blocks");
        assert_eq!(
            child_dh.as_bytes(),
            hex(&t["derivedKeyingMaterialDh"]),
            "case {i}: child PFS"
        );

        let rekey = prf.compute_parts(sk_d, &[&gir_new, &ni, &nr]);
        assert_eq!(
            rekey.as_bytes(),
            hex(&t["sKeySeedReKey"]),
            "case {i}: rekey SKEYSEED"
        );
    }
    eprintln!(
        "nist-sp800-135-sha1.json: {} cases, 5 outputs each",
        tests.len()
    );
}
