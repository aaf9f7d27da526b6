// SPDX-License-Identifier: Apache-2.0
//! Measures AES-256-GCM sealing with the RustCrypto `aes-gcm` crate against `ring` for
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

/// ns per in-place seal of `buf` with `ring`.
fn ring_seal_ns(
    alg: &'static ring::aead::Algorithm,
    key: &[u8],
    nonce: [u8; 12],
    aad: &[u8; 8],
    buf: &mut [u8],
) -> f64 {
    let k = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(alg, key).unwrap());
    time_ns(|| {
        let tag = k
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(aad),
                buf,
            )
            .unwrap();
        black_box(&tag);
    })
}

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
