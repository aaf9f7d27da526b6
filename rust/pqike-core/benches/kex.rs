// SPDX-License-Identifier: Apache-2.0
//! Key exchange speed: the candidate crates side by side in one run, then
//! `pqike_core::kex::KeyExchange` as built (docs/kex-choice.md).
//!
//! - ML-KEM-512/768/1024: RustCrypto `ml-kem` 0.3.4 against `libcrux-ml-kem` 0.0.11
//!   (keygen from `d ‖ z`, encaps with `m` including the crate's own `ek` check, decaps);
//! - X25519: `x25519-dalek` 3.0.0 against `aws-lc-rs` 1.19.0; X448: `x448` only;
//! - ECP-256/384/521: RustCrypto `p256`/`p384`/`p521` 0.14 against `aws-lc-rs` 1.19.0
//!   (keygen = private key from fixed-size bytes plus the public point; exchange = parse
//!   and validate the peer point plus the scalar multiplication).
//!
//! Run: `cargo bench -p pqike-core --bench kex` (ML-KEM backend of the `KeyExchange` rows:
//! libcrux; add `--features mlkem-rustcrypto` for RustCrypto). `KEX_BENCH_RUNS` (default 5)
//! and `KEX_BENCH_MS` (default 200) set best-of-N and the length of one run.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use pqike_core::kex::{kat, KeyExchange};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This thread's CPU time in ns (`/proc/thread-self/schedstat`, first field), so that time
/// spent waiting for a core on the shared 2-vCPU machine is not counted; `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs `f` repeatedly for `KEX_BENCH_MS` and returns µs per call, best of `KEX_BENCH_RUNS`;
/// thread CPU time where the kernel provides it, wall time otherwise.
fn time_us(mut f: impl FnMut()) -> f64 {
    let (runs, ms) = (env_or("KEX_BENCH_RUNS", 5), env_or("KEX_BENCH_MS", 200));
    for _ in 0..50 {
        f();
    }
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let mut iters = 0u64;
        let cpu0 = thread_cpu_ns();
        let start = Instant::now();
        while start.elapsed().as_millis() < u128::from(ms) {
            for _ in 0..10 {
                f();
            }
            iters += 10;
        }
        let wall_us = start.elapsed().as_secs_f64() * 1e6;
        let us = match (cpu0, thread_cpu_ns()) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e3,
            _ => wall_us,
        };
        best = best.min(us / iters as f64);
    }
    best
}

fn row(what: &str, crate_name: &str, values: &[f64]) {
    let cells: Vec<String> = values.iter().map(|v| format!("{v:>9.2}")).collect();
    println!("{what:<12} {crate_name:<42} {}", cells.join(" "));
}

/// ML-KEM with RustCrypto `ml-kem`: (keygen, encaps, decaps) µs.
macro_rules! rustcrypto_mlkem {
    ($P:ty) => {{
        use ml_kem::{Decapsulate, DecapsulationKey, EncapsulationKey, KeyExport};
        let seed = [7u8; 64];
        let m = ml_kem::B32::from([9u8; 32]);
        let keygen = time_us(|| {
            let dk = DecapsulationKey::<$P>::from_seed(ml_kem::Seed::from(black_box(seed)));
            black_box(dk.encapsulation_key().to_bytes());
        });
        let dk = DecapsulationKey::<$P>::from_seed(ml_kem::Seed::from(seed));
        let ek_bytes = dk.encapsulation_key().to_bytes();
        let encaps = time_us(|| {
            let ek = EncapsulationKey::<$P>::new(black_box(&ek_bytes)).unwrap();
            black_box(ek.encapsulate_deterministic(&m));
        });
        let ek = EncapsulationKey::<$P>::new(&ek_bytes).unwrap();
        let (ct, _) = ek.encapsulate_deterministic(&m);
        let decaps = time_us(|| {
            black_box(dk.decapsulate(black_box(&ct)));
        });
        [keygen, encaps, decaps]
    }};
}

/// ML-KEM with `libcrux-ml-kem` (its run-time AVX2 dispatch): (keygen, encaps, decaps) µs.
/// Encaps includes the crate's `validate_public_key`, as pqike's encapsulation does.
macro_rules! libcrux_mlkem {
    ($($module:ident)::+) => {{
        use libcrux_ml_kem::$($module)::+ as p;
        let seed = [7u8; 64];
        let keygen = time_us(|| {
            black_box(p::generate_key_pair(black_box(seed)));
        });
        let pair = p::generate_key_pair(seed);
        let encaps = time_us(|| {
            let pk = black_box(pair.public_key());
            assert!(p::validate_public_key(pk));
            black_box(p::encapsulate(pk, [9u8; 32]));
        });
        let (ct, _) = p::encapsulate(pair.public_key(), [9u8; 32]);
        let decaps = time_us(|| {
            black_box(p::decapsulate(pair.private_key(), black_box(&ct)));
        });
        [keygen, encaps, decaps]
    }};
}

/// ML-KEM through `pqike_core::kex`: keygen = `with_seed` + `public_key` (ek); encaps =
/// `set_peer_public(ek)` on a fresh responder (§7.2 checks, OS randomness for `m`); decaps =
/// the initiator's `set_peer_public(ct)`, measured as (keygen + decaps) − keygen.
fn pqike_mlkem(method: u16) -> [f64; 3] {
    let seed = [5u8; 32];
    let keygen = time_us(|| {
        let mut kx = KeyExchange::with_seed(method, &seed).unwrap();
        black_box(kx.public_key().unwrap());
    });
    let ek = KeyExchange::with_seed(method, &seed)
        .unwrap()
        .public_key()
        .unwrap()
        .to_vec();
    let encaps = time_us(|| {
        let mut r = KeyExchange::new(method).unwrap();
        r.set_peer_public(black_box(&ek)).unwrap();
        black_box(r.public_key().unwrap());
    });
    let mut r = KeyExchange::new(method).unwrap();
    r.set_peer_public(&ek).unwrap();
    let ct = r.public_key().unwrap().to_vec();
    let both = time_us(|| {
        let mut i = KeyExchange::with_seed(method, &seed).unwrap();
        i.public_key().unwrap();
        i.set_peer_public(black_box(&ct)).unwrap();
        black_box(i.shared_secret().unwrap());
    });
    [keygen, encaps, both - keygen]
}

/// A DH group with `aws-lc-rs`: (keygen, exchange) µs.
fn aws_lc_dh(
    alg: &'static aws_lc_rs::agreement::Algorithm,
    sk_len: usize,
    prefix: &[u8],
) -> [f64; 2] {
    use aws_lc_rs::agreement::{agree, PrivateKey, UnparsedPublicKey};
    let mut sk_bytes = vec![0x11u8; sk_len];
    sk_bytes[0] = 0x01; // below n for every NIST curve
    let keygen = time_us(|| {
        let sk = PrivateKey::from_private_key(alg, black_box(&sk_bytes)).unwrap();
        black_box(sk.compute_public_key().unwrap());
    });
    let sk = PrivateKey::from_private_key(alg, &sk_bytes).unwrap();
    let mut other = sk_bytes.clone();
    other[1] = 0x22;
    let peer = PrivateKey::from_private_key(alg, &other)
        .unwrap()
        .compute_public_key()
        .unwrap();
    // The IKE encoding without the SEC 1 prefix, re-prefixed per call as kex.rs must.
    let ike = peer.as_ref()[prefix.len()..].to_vec();
    let exchange = time_us(|| {
        let mut buf = Vec::with_capacity(ike.len() + prefix.len());
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(black_box(&ike));
        let out = agree(&sk, UnparsedPublicKey::new(alg, &buf), (), |s| {
            Ok(s.to_vec())
        })
        .unwrap();
        black_box(out);
    });
    [keygen, exchange]
}

/// An ECP group with RustCrypto: (keygen, exchange) µs.
macro_rules! rustcrypto_ecp {
    ($C:ty, $len:expr) => {{
        use elliptic_curve::sec1::ToSec1Point;
        use elliptic_curve::{PublicKey, SecretKey};
        let mut sk_bytes = [0x11u8; $len];
        sk_bytes[0] = 0x01;
        let keygen = time_us(|| {
            let sk = SecretKey::<$C>::from_slice(black_box(&sk_bytes)).unwrap();
            black_box(sk.public_key().as_affine().to_sec1_point(false));
        });
        let sk = SecretKey::<$C>::from_slice(&sk_bytes).unwrap();
        let mut other = sk_bytes;
        other[1] = 0x22;
        let peer = SecretKey::<$C>::from_slice(&other)
            .unwrap()
            .public_key()
            .as_affine()
            .to_sec1_point(false);
        let ike = peer.as_bytes()[1..].to_vec();
        let exchange = time_us(|| {
            let mut buf = Vec::with_capacity(ike.len() + 1);
            buf.push(0x04);
            buf.extend_from_slice(black_box(&ike));
            let pk = PublicKey::<$C>::from_sec1_bytes(&buf).unwrap();
            let s = elliptic_curve::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
            black_box(s.raw_secret_bytes().to_vec());
        });
        [keygen, exchange]
    }};
}

fn dalek_x25519() -> [f64; 2] {
    use x25519_dalek::{PublicKey, StaticSecret};
    let keygen = time_us(|| {
        let sk = StaticSecret::from(black_box([0x11u8; 32]));
        black_box(PublicKey::from(&sk));
    });
    let sk = StaticSecret::from([0x11u8; 32]);
    let peer = PublicKey::from(&StaticSecret::from([0x22u8; 32])).to_bytes();
    let exchange = time_us(|| {
        black_box(sk.diffie_hellman(&PublicKey::from(black_box(peer))));
    });
    [keygen, exchange]
}

fn crate_x448() -> [f64; 2] {
    use x448::{PublicKey, StaticSecret};
    let keygen = time_us(|| {
        let sk = StaticSecret::from(black_box([0x11u8; 56]));
        black_box(PublicKey::from(&sk));
    });
    let sk = StaticSecret::from([0x11u8; 56]);
    let peer = *PublicKey::from(&StaticSecret::from([0x22u8; 56])).as_bytes();
    let exchange = time_us(|| {
        let pk = PublicKey::from_bytes(black_box(&peer)).unwrap();
        black_box(sk.diffie_hellman(&pk));
    });
    [keygen, exchange]
}

/// A DH group through `pqike_core::kex`: keygen = `new` (private key + public value);
/// exchange = `set_peer_public` (validation + DH), measured as (new + exchange) − new.
fn pqike_dh(method: u16) -> [f64; 2] {
    let keygen = time_us(|| {
        black_box(KeyExchange::new(method).unwrap());
    });
    let peer = KeyExchange::new(method)
        .unwrap()
        .public_key()
        .unwrap()
        .to_vec();
    let both = time_us(|| {
        let mut kx = KeyExchange::new(method).unwrap();
        kx.set_peer_public(black_box(&peer)).unwrap();
        black_box(kx.shared_secret().unwrap());
    });
    [keygen, both - keygen]
}

fn main() {
    let backend = kat::mlkem_backend_name();
    println!(
        "µs per operation ({}), best of {} runs of {} ms",
        if thread_cpu_ns().is_some() {
            "thread CPU time"
        } else {
            "wall time"
        },
        env_or("KEX_BENCH_RUNS", 5),
        env_or("KEX_BENCH_MS", 200)
    );
    println!(
        "{:<12} {:<42} {:>9} {:>9} {:>9}",
        "method", "implementation", "keygen", "encaps", "decaps"
    );
    let sets: [(&str, u16); 3] = [("ML-KEM-512", 35), ("ML-KEM-768", 36), ("ML-KEM-1024", 37)];
    for (name, id) in sets {
        let rc = match id {
            35 => rustcrypto_mlkem!(ml_kem::MlKem512),
            36 => rustcrypto_mlkem!(ml_kem::MlKem768),
            _ => rustcrypto_mlkem!(ml_kem::MlKem1024),
        };
        row(name, "ml-kem 0.3.4 (RustCrypto)", &rc);
        let lc = match id {
            35 => libcrux_mlkem!(mlkem512),
            36 => libcrux_mlkem!(mlkem768),
            _ => libcrux_mlkem!(mlkem1024),
        };
        row(name, "libcrux-ml-kem 0.0.11", &lc);
        if id == 36 && std::is_x86_feature_detected!("avx2") {
            // libcrux's unpacked API keeps Â and the NTT-form keys between keygen and decaps.
            use libcrux_ml_kem::mlkem768::avx2::unpacked as u;
            let keygen = time_us(|| {
                black_box(u::generate_key_pair(black_box([7u8; 64])));
            });
            let pair = u::generate_key_pair([7u8; 64]);
            let pk = libcrux_ml_kem::mlkem768::generate_key_pair([7u8; 64]);
            let (ct, _) = libcrux_ml_kem::mlkem768::encapsulate(pk.public_key(), [9u8; 32]);
            let decaps = time_us(|| {
                black_box(u::decapsulate(&pair, black_box(&ct)));
            });
            // And Encaps without libcrux's own validate_public_key (pqike's check only).
            let encaps = time_us(|| {
                black_box(libcrux_ml_kem::mlkem768::encapsulate(
                    black_box(pk.public_key()),
                    [9u8; 32],
                ));
            });
            let check = time_us(|| {
                let ek = black_box(pk.public_key().as_slice());
                black_box(pqike_core::kex::mlkem_check_ek(
                    pqike_core::kex::Method::MlKem768,
                    ek,
                ))
                .unwrap();
            });
            println!("{name:<12} libcrux encaps alone {encaps:.2} µs; pqike mlkem_check_ek {check:.2} µs");
            row(
                name,
                "libcrux-ml-kem 0.0.11 avx2::unpacked",
                &[keygen, f64::NAN, decaps],
            );
        }
        if id == 36 {
            // The same crate without its run-time AVX2 dispatch, to show the dispatch works.
            row(
                name,
                "libcrux-ml-kem 0.0.11 portable only",
                &libcrux_mlkem!(mlkem768::portable),
            );
        }
        row(
            name,
            &format!("pqike KeyExchange ({backend})"),
            &pqike_mlkem(id),
        );
    }
    println!();
    println!(
        "{:<12} {:<42} {:>9} {:>9}",
        "method", "implementation", "keygen", "exchange"
    );
    use aws_lc_rs::agreement::{ECDH_P256, ECDH_P384, ECDH_P521, X25519};
    row("X25519", "x25519-dalek 3.0.0", &dalek_x25519());
    row("X25519", "aws-lc-rs 1.19.0", &aws_lc_dh(&X25519, 32, &[]));
    row("X25519", "pqike KeyExchange", &pqike_dh(31));
    row("X448", "x448 0.14.0-pre.12", &crate_x448());
    row("X448", "pqike KeyExchange", &pqike_dh(32));
    row(
        "ECP-256",
        "p256 0.14.0 (RustCrypto)",
        &rustcrypto_ecp!(p256::NistP256, 32),
    );
    row(
        "ECP-256",
        "aws-lc-rs 1.19.0",
        &aws_lc_dh(&ECDH_P256, 32, &[4]),
    );
    row("ECP-256", "pqike KeyExchange", &pqike_dh(19));
    row(
        "ECP-384",
        "p384 0.14.0 (RustCrypto)",
        &rustcrypto_ecp!(p384::NistP384, 48),
    );
    row(
        "ECP-384",
        "aws-lc-rs 1.19.0",
        &aws_lc_dh(&ECDH_P384, 48, &[4]),
    );
    row("ECP-384", "pqike KeyExchange", &pqike_dh(20));
    row(
        "ECP-521",
        "p521 0.14.0 (RustCrypto)",
        &rustcrypto_ecp!(p521::NistP521, 66),
    );
    row(
        "ECP-521",
        "aws-lc-rs 1.19.0",
        &aws_lc_dh(&ECDH_P521, 66, &[4]),
    );
    row("ECP-521", "pqike KeyExchange", &pqike_dh(21));
}
