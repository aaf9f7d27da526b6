// SPDX-License-Identifier: Apache-2.0
//! ESP seal/open cost per packet, single and in batches of 64, for 64/1400/9000 octets.
//!
//! Run: `cargo bench -p pqike-core --bench esp_throughput`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use pqike_core::esp::EspSa;

const SIZES: [usize; 3] = [64, 1400, 9000];
const BATCH: usize = 64;

/// Runs `f` repeatedly for about 300 ms and returns nanoseconds per call (best of 3).
fn time_ns(mut f: impl FnMut()) -> f64 {
    for _ in 0..200 {
        f();
    }
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let mut iters = 0u64;
        let start = Instant::now();
        while start.elapsed().as_millis() < 300 {
            for _ in 0..10 {
                f();
            }
            iters += 10;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

fn row(name: &str, n: usize, ns: f64) {
    println!("{name:<30} {n:>6} {ns:>10.0} {:>10.0}", n as f64 * 1e3 / ns);
}

fn main() {
    println!(
        "{:<30} {:>6} {:>10} {:>10}",
        "ESP (pqike-core EspSa)", "bytes", "ns/packet", "MB/s"
    );
    for (name, encr) in [("aes256gcm16", 20u16), ("chacha20poly1305", 28)] {
        let key = vec![0x42u8; 36];
        for &n in &SIZES {
            let payload = vec![0u8; n];
            // ESN so that the counter never runs out during the measurement.
            let mut tx = EspSa::new(0x1000, encr, &key, true, 64, 1).unwrap();
            row(
                &format!("{name} seal"),
                n,
                time_ns(|| {
                    black_box(tx.seal(&payload, 4).unwrap());
                }),
            );
            let batch: Vec<&[u8]> = (0..BATCH).map(|_| payload.as_slice()).collect();
            row(
                &format!("{name} seal_batch/{BATCH}"),
                n,
                time_ns(|| {
                    black_box(tx.seal_batch(&batch, 4).unwrap());
                }) / BATCH as f64,
            );
            let (mut buf, mut ends) = (Vec::new(), Vec::new());
            row(
                &format!("{name} seal_batch_into/{BATCH}"),
                n,
                time_ns(|| {
                    tx.seal_batch_into(&batch, 4, &mut buf, &mut ends).unwrap();
                    black_box(&buf);
                }) / BATCH as f64,
            );
            // Replay window off so the same packets can be opened again and again.
            let mut rx = EspSa::new(0x1000, encr, &key, true, 0, 1).unwrap();
            let pkts: Vec<Vec<u8>> = (0..BATCH).map(|_| tx.seal(&payload, 4).unwrap()).collect();
            let mut i = 0;
            row(
                &format!("{name} open"),
                n,
                time_ns(|| {
                    black_box(rx.open(&pkts[i % BATCH]).unwrap());
                    i += 1;
                }),
            );
            row(
                &format!("{name} open_batch/{BATCH}"),
                n,
                time_ns(|| {
                    black_box(rx.open_batch(&pkts));
                }) / BATCH as f64,
            );
            let (mut buf, mut results) = (Vec::new(), Vec::new());
            row(
                &format!("{name} open_batch_into/{BATCH}"),
                n,
                time_ns(|| {
                    rx.open_batch_into(&pkts, &mut buf, &mut results);
                    black_box(&results);
                }) / BATCH as f64,
            );
        }
    }
}
