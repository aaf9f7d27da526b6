// SPDX-License-Identifier: Apache-2.0
//! Measures AES-256-GCM sealing with the RustCrypto `aes-gcm` crate against `ring` and
//! `aws-lc-rs` (and ChaCha20-Poly1305 likewise) for
//! 64, 1400 and 9000-octet packets (docs/aes-gcm-choice.md), (see benches/esp_throughput.rs for the ESP layer).
//!
//! Run: `cargo bench -p pqike-core --bench aes_gcm_choice`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::{AeadInOut, KeyInit};

const SIZES: [usize; 3] = [64, 1400, 9000];

/// Runs `f` repeatedly for about 300 ms and returns nanoseconds per call (best of 3).
fn time_ns(mut f: impl FnMut()) -> f64 {
    for _ in 0..1000 {
        f();
    }
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let mut iters = 0u64;
        let start = Instant::now();
        while start.elapsed().as_millis() < 300 {
            for _ in 0..100 {
                f();
            }
            iters += 100;
        }
        let ns = start.elapsed().as_nanos() as f64 / iters as f64;
        best = best.min(ns);
    }
    best
}

/// Defines `$name(alg, key, nonce, aad, buf) -> ns per in-place seal` for a crate with
/// ring's `LessSafeKey` API (`ring` itself and `aws-lc-rs`).
macro_rules! less_safe_key_bench {
    ($name:ident, $krate:ident) => {
        fn $name(
            alg: &'static $krate::aead::Algorithm,
            key: &[u8],
            nonce: [u8; 12],
            aad: &[u8; 8],
            buf: &mut [u8],
        ) -> f64 {
            use $krate::aead as a;
            let k = a::LessSafeKey::new(a::UnboundKey::new(alg, key).unwrap());
            time_ns(|| {
                let n = a::Nonce::assume_unique_for_key(nonce);
                let tag = k
                    .seal_in_place_separate_tag(n, a::Aad::from(aad), buf)
                    .unwrap();
                black_box(&tag);
            })
        }
    };
}

less_safe_key_bench!(ring_seal_ns, ring);
less_safe_key_bench!(aws_lc_seal_ns, aws_lc_rs);

fn main() {
    let key = [0x42u8; 32];
    let nonce = [7u8; 12];
    let aad = [1u8; 8];
    println!(
        "aes hardware_accelerated() = {}",
        aes::hardware_accelerated()
    );
    println!(
        "{:<28} {:>8} {:>10} {:>10}",
        "implementation", "bytes", "ns/seal", "MB/s"
    );
    for &n in &SIZES {
        let mut buf = vec![0u8; n];
        let rc = aes_gcm::Aes256Gcm::new(&key.into());
        let ns = time_ns(|| {
            let tag = rc
                .encrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into())
                .unwrap();
            black_box(&tag);
        });
        println!(
            "{:<28} {:>8} {:>10.0} {:>10.0}",
            "aes-gcm 0.11.1 (RustCrypto)",
            n,
            ns,
            n as f64 * 1e3 / ns
        );

        let ns = aws_lc_seal_ns(&aws_lc_rs::aead::AES_256_GCM, &key, nonce, &aad, &mut buf);
        println!(
            "{:<28} {:>8} {:>10.0} {:>10.0}",
            "aws-lc-rs 1.19.0",
            n,
            ns,
            n as f64 * 1e3 / ns
        );
        let ns = ring_seal_ns(&ring::aead::AES_256_GCM, &key, nonce, &aad, &mut buf);
        println!(
            "{:<28} {:>8} {:>10.0} {:>10.0}",
            "ring 0.17.14",
            n,
            ns,
            n as f64 * 1e3 / ns
        );

        let cc = chacha20poly1305::ChaCha20Poly1305::new(&key.into());
        let ns = time_ns(|| {
            let tag = cc
                .encrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into())
                .unwrap();
            black_box(&tag);
        });
        println!(
            "{:<28} {:>8} {:>10.0} {:>10.0}",
            "chacha20poly1305 0.11.0",
            n,
            ns,
            n as f64 * 1e3 / ns
        );
        let ns = aws_lc_seal_ns(
            &aws_lc_rs::aead::CHACHA20_POLY1305,
            &key,
            nonce,
            &aad,
            &mut buf,
        );
        println!(
            "{:<28} {:>8} {:>10.0} {:>10.0}",
            "aws-lc-rs 1.19.0 chacha20poly1305",
            n,
            ns,
            n as f64 * 1e3 / ns
        );
        let ns = ring_seal_ns(&ring::aead::CHACHA20_POLY1305, &key, nonce, &aad, &mut buf);
        println!(
            "{:<28} {:>8} {:>10.0} {:>10.0}",
            "ring 0.17.14 chacha20poly1305",
            n,
            ns,
            n as f64 * 1e3 / ns
        );
    }
}
