// SPDX-License-Identifier: Apache-2.0
//! ESP packet protection with AEADs and anti-replay.
//!
//! - Packet layout (RFC 4303 §2): `SPI(4) | Seq(4) | IV(8) | E(payload | padding | pad
//!   length | next header) | ICV`. Padding is `1, 2, 3, ...` up to a 4-octet boundary of
//!   the trailer (§2.4), and is checked on receipt.
//! - AES-GCM (RFC 4106 §3-§5, IDs 18/19/20) and ChaCha20-Poly1305 (RFC 7634 §2-§3, ID 28):
//!   key material `key | salt(4)`, nonce `salt | IV`, AAD `SPI | Seq` or, with extended
//!   sequence numbers, `SPI | SeqHigh | SeqLow` (RFC 4106 §5). The IV is the 64-bit
//!   sequence number, so callers never choose a nonce and it never repeats under a key.
//! - The sender's counter starts at 1 and never cycles (RFC 4303 §3.3.3): sealing past
//!   2^32 − 1 (2^64 − 1 with ESN) fails with [`Error::SequenceExhausted`].
//! - Anti-replay (RFC 4303 §3.4.3, Appendix A): a bitmap window of 32..=8192 packets
//!   (default 64) updated in O(1); the replay check runs before decryption and the window
//!   moves only after the ICV verified. The high half of an ESN is inferred as in
//!   Appendix A2.2.

use core::fmt;

use crate::aead::{Aead, Salt, AEAD_IV_LEN, NONCE_LEN, SALT_LEN};
use crate::error::{Error, TRANSFORM_TYPE_ENCR};

/// Length of the ESP header (SPI and sequence number).
pub const ESP_HEADER_LEN: usize = 8;
/// Default anti-replay window (RFC 4303 §3.4.3: 64 SHOULD be the default).
pub const DEFAULT_REPLAY_WINDOW: u32 = 64;
/// Smallest non-zero anti-replay window (RFC 4303 §3.4.3: 32 MUST be supported).
pub const MIN_REPLAY_WINDOW: u32 = 32;
/// Largest anti-replay window this module accepts.
pub const MAX_REPLAY_WINDOW: u32 = 8192;

/// Whether `initial_seq` can start an SA's outbound numbering: 1..=2^32-1, or
/// 1..=2^64-1 with ESN (0 is never sent, RFC 4303 §3.3.3).
#[must_use]
pub const fn initial_seq_in_range(initial_seq: u64, esn: bool) -> bool {
    initial_seq != 0 && (esn || initial_seq <= 0xFFFF_FFFF)
}
/// Next Header value of a dummy (TFC) packet, which receivers drop (RFC 4303 §2.6).
pub const NEXT_HEADER_DUMMY: u8 = 59;

/// Offset of the ciphertext in a packet.
const CT_OFFSET: usize = ESP_HEADER_LEN + AEAD_IV_LEN;

/// The anti-replay state of an inbound SA: the highest authenticated sequence number and
/// a ring of bits, one per sequence number, of at least `size + 64` bits.
#[derive(Clone)]
struct ReplayWindow {
    /// Window size in packets; 0 = no replay protection.
    size: u64,
    /// Highest sequence number that authenticated (full 64 bits with ESN).
    top: u64,
    /// Bit `s mod (64 * bits.len())` is set when `s` was received; `bits.len()` is a
    /// power of two.
    bits: Vec<u64>,
}

impl ReplayWindow {
    fn new(size: u32, top: u64) -> Self {
        let words = if size == 0 {
            0
        } else {
            (size as usize)
                .div_ceil(64)
                .saturating_add(1)
                .next_power_of_two()
        };
        Self {
            size: u64::from(size),
            top,
            bits: vec![0; words],
        }
    }

    /// Index of the word and the bit mask of `seq`.
    fn slot(&self, seq: u64) -> (usize, u64) {
        let word_mask = (self.bits.len() as u64).wrapping_sub(1);
        // `word_mask < bits.len()`, so the cast cannot truncate a valid index.
        (((seq >> 6) & word_mask) as usize, 1u64 << (seq & 63))
    }

    /// RFC 4303 Appendix A2.2: the full 64-bit number of a received low half.
    /// `None` when the number would lie before 0 or past 2^64 − 1.
    fn infer_esn(&self, seq_lo: u32) -> Option<u64> {
        // The inference window must be non-zero even when replay checks are off.
        let w = if self.size == 0 {
            u64::from(DEFAULT_REPLAY_WINDOW)
        } else {
            self.size
        };
        let tl = self.top & 0xffff_ffff;
        let th = self.top >> 32;
        let lo = u64::from(seq_lo);
        let hi = if tl >= w - 1 {
            // Case A: the window lies within one sub-space.
            if lo >= tl + 1 - w {
                th
            } else {
                th.checked_add(1)?
            }
        } else {
            // Case B: the window spans two sub-spaces.
            if lo >= (tl + (1u64 << 32) + 1 - w) {
                th.checked_sub(1)?
            } else {
                th
            }
        };
        if hi > 0xffff_ffff {
            return None;
        }
        Some((hi << 32) | lo)
    }

    /// Whether `seq` may be accepted (before decryption).
    fn check(&self, seq: u64) -> Result<(), Error> {
        if seq == 0 {
            return Err(Error::Replay);
        }
        if self.size == 0 || seq > self.top {
            return Ok(());
        }
        if self.top - seq >= self.size {
            return Err(Error::Replay);
        }
        let (w, m) = self.slot(seq);
        if self.bits.get(w).is_some_and(|word| word & m != 0) {
            return Err(Error::Replay);
        }
        Ok(())
    }

    /// Records an authenticated `seq` (after [`ReplayWindow::check`] passed).
    fn update(&mut self, seq: u64) {
        if seq > self.top {
            if !self.bits.is_empty() {
                // Clear the words that the window slides over, at most all of them.
                let words = self.bits.len() as u64;
                let steps = ((seq >> 6) - (self.top >> 6)).min(words);
                let mut block = self.top >> 6;
                for _ in 0..steps {
                    block = block.wrapping_add(1);
                    let (w, _) = self.slot(block << 6);
                    if let Some(word) = self.bits.get_mut(w) {
                        *word = 0;
                    }
                }
            }
            self.top = seq;
        }
        if !self.bits.is_empty() {
            let (w, m) = self.slot(seq);
            if let Some(word) = self.bits.get_mut(w) {
                *word |= m;
            }
        }
    }
}

/// One direction of an ESP SA with an AEAD: [`EspSa::seal`] for outbound SAs,
/// [`EspSa::open`] for inbound SAs. `Debug` shows the SPI and the algorithm only.
pub struct EspSa {
    spi: u32,
    aead: Aead,
    salt: Salt,
    esn: bool,
    /// The sequence number the next seal uses; meaningless once `exhausted`.
    next_seq: u64,
    exhausted: bool,
    window: ReplayWindow,
}

impl fmt::Debug for EspSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EspSa(spi {:#010x}, encr {}, esn {})",
            self.spi,
            self.aead.encr_id(),
            self.esn
        )
    }
}

impl EspSa {
    /// Creates an SA. `key` is the KEYMAT piece for this direction: AES-GCM key (16/24/32)
    /// or ChaCha20-Poly1305 key (32), followed by the 4-octet salt. `initial_seq` is the
    /// first sequence number sealed (default 1); for an inbound SA the window starts just
    /// below it.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransform`] unless `encr_id` is 18/19/20 (AES-GCM) or 28;
    /// [`Error::InvalidLength`] for a wrong key length; [`Error::InvalidArgument`] for a
    /// window outside 0 and 32..=8192, or an `initial_seq` of 0 or beyond the sequence space.
    pub fn new(
        spi: u32,
        encr_id: u16,
        key: &[u8],
        esn: bool,
        replay_window: u32,
        initial_seq: u64,
    ) -> Result<Self, Error> {
        if !crate::aead::is_aead(encr_id) {
            return Err(Error::unsupported(TRANSFORM_TYPE_ENCR, encr_id));
        }
        // Checked here, with the salt, so that the message states the lengths the caller
        // passes (and the next size up), not the key length after the salt.
        let (what, allowed): (&'static str, &[usize]) =
            if encr_id == crate::aead::ENCR_CHACHA20_POLY1305 {
                (
                    "ChaCha20-Poly1305 ESP key (32 bytes) plus its 4-byte salt",
                    &[36],
                )
            } else {
                (
                    "AES-GCM ESP key (16, 24 or 32 bytes) plus its 4-byte salt",
                    &[20, 28, 36],
                )
            };
        if !allowed.contains(&key.len()) {
            let expected = allowed.iter().copied().find(|&n| n >= key.len());
            return Err(Error::length(what, expected.unwrap_or(36), key.len()));
        }
        let (k, s) = key.split_at(key.len() - SALT_LEN);
        let aead = Aead::new(encr_id, k)?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(s);
        if replay_window != 0 && !(MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW).contains(&replay_window) {
            return Err(Error::InvalidArgument(
                "replay window must be 0 (off) or 32..=8192",
            ));
        }
        if !initial_seq_in_range(initial_seq, esn) {
            return Err(Error::InvalidArgument(
                "initial sequence number must be 1..=2^32-1 (2^64-1 with ESN)",
            ));
        }
        Ok(Self {
            spi,
            aead,
            salt: Salt(salt),
            esn,
            next_seq: initial_seq,
            exhausted: false,
            window: ReplayWindow::new(replay_window, initial_seq - 1),
        })
    }

    /// The SPI (host order).
    #[must_use]
    pub const fn spi(&self) -> u32 {
        self.spi
    }

    /// Whether extended sequence numbers are in use.
    #[must_use]
    pub const fn esn(&self) -> bool {
        self.esn
    }

    /// ICV length in octets.
    #[must_use]
    pub const fn icv_len(&self) -> usize {
        self.aead.tag_len()
    }

    /// The sequence number the next seal uses, or `None` once the space is used up.
    #[must_use]
    pub const fn next_seq(&self) -> Option<u64> {
        if self.exhausted {
            None
        } else {
            Some(self.next_seq)
        }
    }

    /// The highest authenticated inbound sequence number (0 before the first packet).
    #[must_use]
    pub const fn highest_received(&self) -> u64 {
        self.window.top
    }

    /// The largest sequence number this SA may use.
    const fn max_seq(&self) -> u64 {
        if self.esn {
            u64::MAX
        } else {
            u32::MAX as u64
        }
    }

    /// Padding octets for a payload of `len` octets (trailer to a 4-octet boundary).
    const fn pad_len(len: usize) -> usize {
        (4 - (len + 2) % 4) % 4
    }

    /// Length of the packet that [`EspSa::seal`] makes from `payload_len` octets.
    #[must_use]
    pub const fn sealed_len(&self, payload_len: usize) -> usize {
        CT_OFFSET + payload_len + Self::pad_len(payload_len) + 2 + self.aead.tag_len()
    }

    fn aad(&self, seq: u64, buf: &mut [u8; 12]) -> usize {
        buf[..4].copy_from_slice(&self.spi.to_be_bytes());
        if self.esn {
            buf[4..8].copy_from_slice(&((seq >> 32) as u32).to_be_bytes());
            buf[8..12].copy_from_slice(&(seq as u32).to_be_bytes());
            12
        } else {
            buf[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
            8
        }
    }

    /// Seals `payload` into `out`, which must be exactly [`EspSa::sealed_len`] octets.
    ///
    /// # Errors
    /// [`Error::SequenceExhausted`] when the counter would wrap; [`Error::InvalidLength`]
    /// for a wrongly sized `out`.
    pub fn seal_into(
        &mut self,
        payload: &[u8],
        next_header: u8,
        out: &mut [u8],
    ) -> Result<(), Error> {
        if self.exhausted {
            return Err(Error::SequenceExhausted);
        }
        let n = payload.len();
        Error::check_length("ESP output buffer", self.sealed_len(n), out.len())?;
        let seq = self.next_seq;
        out[..4].copy_from_slice(&self.spi.to_be_bytes());
        // Only the low 32 bits travel; with ESN the high half enters the AAD.
        out[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        out[ESP_HEADER_LEN..CT_OFFSET].copy_from_slice(&seq.to_be_bytes());
        let pad = Self::pad_len(n);
        let ct_end = CT_OFFSET + n + pad + 2;
        let (head, icv) = out.split_at_mut(ct_end);
        let (_, body) = head.split_at_mut(CT_OFFSET);
        body[..n].copy_from_slice(payload);
        for (i, b) in body[n..n + pad].iter_mut().enumerate() {
            // pad <= 3
            *b = (i + 1) as u8;
        }
        body[n + pad] = pad as u8;
        body[n + pad + 1] = next_header;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..SALT_LEN].copy_from_slice(&self.salt.0);
        nonce[SALT_LEN..].copy_from_slice(&seq.to_be_bytes());
        let mut aad = [0u8; 12];
        let aad_len = self.aad(seq, &mut aad);
        self.aead
            .seal_in_place(&nonce, &aad[..aad_len], body, icv)?;
        if seq == self.max_seq() {
            self.exhausted = true;
        } else {
            self.next_seq = seq + 1;
        }
        Ok(())
    }

    /// Seals one packet: `SPI | Seq | IV | E(payload | padding | pad length | next header) | ICV`.
    ///
    /// # Errors
    /// [`Error::SequenceExhausted`] when the counter would wrap.
    pub fn seal(&mut self, payload: &[u8], next_header: u8) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; self.sealed_len(payload.len())];
        self.seal_into(payload, next_header, &mut out)?;
        Ok(out)
    }

    /// Fails unless `count` more sequence numbers are left.
    fn check_room(&self, count: usize) -> Result<(), Error> {
        let left = if self.exhausted {
            0
        } else {
            u128::from(self.max_seq() - self.next_seq) + 1
        };
        if (count as u128) > left {
            return Err(Error::SequenceExhausted);
        }
        Ok(())
    }

    /// Seals several packets with consecutive sequence numbers. Seals none if the
    /// sequence space cannot hold them all.
    ///
    /// # Errors
    /// [`Error::SequenceExhausted`] if fewer than `payloads.len()` numbers are left.
    pub fn seal_batch<P: AsRef<[u8]>>(
        &mut self,
        payloads: &[P],
        next_header: u8,
    ) -> Result<Vec<Vec<u8>>, Error> {
        self.check_room(payloads.len())?;
        payloads
            .iter()
            .map(|p| self.seal(p.as_ref(), next_header))
            .collect()
    }

    /// Opens one packet and returns `(payload, next header)`. A next header of 59 marks a
    /// dummy packet that the caller drops.
    ///
    /// # Errors
    /// [`Error::Decode`] for a packet too short or for another SPI, and for bad padding
    /// (after authentication, which still advances the window); [`Error::Replay`] for a
    /// duplicate or a number left of the window; [`Error::AuthenticationFailed`] if the
    /// ICV does not verify.
    pub fn open(&mut self, packet: &[u8]) -> Result<(Vec<u8>, u8), Error> {
        let mut payload = Vec::new();
        let next_header = self.open_append(packet, &mut payload)?;
        Ok((payload, next_header))
    }

    /// [`EspSa::open`] that appends the payload to `out` and returns the next header.
    /// On any error `out` keeps its previous contents.
    ///
    /// # Errors
    /// As [`EspSa::open`].
    pub fn open_append(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<u8, Error> {
        let icv_len = self.aead.tag_len();
        if packet.len() < CT_OFFSET + 2 + icv_len {
            return Err(Error::Decode("ESP packet too short"));
        }
        let (header, rest) = packet.split_at(ESP_HEADER_LEN);
        let (iv, rest) = rest.split_at(AEAD_IV_LEN);
        let (ct, icv) = rest.split_at(rest.len() - icv_len);
        let spi = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if spi != self.spi {
            return Err(Error::Decode("ESP packet for another SPI"));
        }
        let seq_lo = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let seq = if self.esn {
            self.window.infer_esn(seq_lo).ok_or(Error::Replay)?
        } else {
            u64::from(seq_lo)
        };
        self.window.check(seq)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..SALT_LEN].copy_from_slice(&self.salt.0);
        nonce[SALT_LEN..].copy_from_slice(iv);
        let mut aad = [0u8; 12];
        let aad_len = self.aad(seq, &mut aad);
        let start = out.len();
        out.extend_from_slice(ct);
        let pt = &mut out[start..];
        if let Err(e) = self.aead.open_in_place(&nonce, &aad[..aad_len], pt, icv) {
            out.truncate(start);
            return Err(e);
        }
        self.window.update(seq);
        let len = pt.len();
        let next_header = pt[len - 1];
        let pad = usize::from(pt[len - 2]);
        let trailer_ok = len.checked_sub(pad + 2).is_some_and(|payload_len| {
            pt[payload_len..len - 2]
                .iter()
                .enumerate()
                .all(|(i, &b)| usize::from(b) == i + 1)
        });
        if !trailer_ok {
            out.truncate(start);
            return Err(Error::Decode("ESP padding is not 1, 2, 3, ... or too long"));
        }
        out.truncate(start + len - pad - 2);
        Ok(next_header)
    }

    /// [`EspSa::seal_batch`] into one buffer: `buf` is cleared and receives the packets
    /// back to back, `ends` their end offsets. Reusing both across calls avoids any
    /// allocation per packet.
    ///
    /// # Errors
    /// As [`EspSa::seal_batch`]; nothing is sealed on error.
    pub fn seal_batch_into<P: AsRef<[u8]>>(
        &mut self,
        payloads: &[P],
        next_header: u8,
        buf: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<(), Error> {
        self.check_room(payloads.len())?;
        let total = payloads
            .iter()
            .map(|p| self.sealed_len(p.as_ref().len()))
            .sum();
        buf.clear();
        buf.resize(total, 0);
        ends.clear();
        let mut off = 0;
        for p in payloads {
            let end = off + self.sealed_len(p.as_ref().len());
            self.seal_into(p.as_ref(), next_header, &mut buf[off..end])?;
            ends.push(end);
            off = end;
        }
        Ok(())
    }

    /// [`EspSa::open_batch`] into one buffer: `buf` is cleared and receives the payloads
    /// back to back; `results` one `(end offset of the payload, next header)` or error per
    /// packet (a failed packet adds nothing to `buf`).
    pub fn open_batch_into<P: AsRef<[u8]>>(
        &mut self,
        packets: &[P],
        buf: &mut Vec<u8>,
        results: &mut Vec<Result<(usize, u8), Error>>,
    ) {
        buf.clear();
        results.clear();
        for p in packets {
            let r = self.open_append(p.as_ref(), buf).map(|nh| (buf.len(), nh));
            results.push(r);
        }
    }

    /// Opens several packets in order; one result per packet.
    pub fn open_batch<P: AsRef<[u8]>>(
        &mut self,
        packets: &[P],
    ) -> Vec<Result<(Vec<u8>, u8), Error>> {
        packets.iter().map(|p| self.open(p.as_ref())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 36] = [0x11; 36];

    fn pair(esn: bool, window: u32, initial: u64) -> (EspSa, EspSa) {
        (
            EspSa::new(0x0102_0304, 20, &KEY, esn, window, initial).expect("tx"),
            EspSa::new(0x0102_0304, 20, &KEY, esn, window, initial).expect("rx"),
        )
    }

    #[test]
    fn seals_the_rfc_layout_and_round_trips() {
        for encr in [18u16, 19, 20, 28] {
            let key: Vec<u8> = if encr == 28 { vec![3; 36] } else { vec![3; 20] };
            let mut tx = EspSa::new(7, encr, &key, false, 64, 1).expect("tx");
            let mut rx = EspSa::new(7, encr, &key, false, 64, 1).expect("rx");
            for len in 0..9 {
                let payload = vec![0xab; len];
                let p = tx.seal(&payload, 4).expect("seal");
                assert_eq!(p.len(), tx.sealed_len(len));
                assert_eq!(&p[..4], &[0, 0, 0, 7]);
                let seq = (len + 1) as u32;
                assert_eq!(&p[4..8], &seq.to_be_bytes());
                assert_eq!(&p[8..16], &u64::from(seq).to_be_bytes());
                assert_eq!((p.len() - 16 - tx.icv_len()) % 4, 0);
                assert_eq!(rx.open(&p).expect("open"), (payload, 4));
            }
        }
    }

    #[test]
    fn rejects_replays_old_packets_and_tampering() {
        let (mut tx, mut rx) = pair(false, 64, 1);
        let pkts: Vec<Vec<u8>> = (0..200)
            .map(|i| tx.seal(&[i as u8; 20], 4).expect("seal"))
            .collect();
        // In order, then every one again.
        for p in &pkts[..100] {
            rx.open(p).expect("open");
        }
        for p in &pkts[..100] {
            assert_eq!(rx.open(p), Err(Error::Replay));
        }
        // Reordering inside the window: 150, then 120..150 backwards.
        rx.open(&pkts[149]).expect("150");
        for i in (100..149).rev() {
            rx.open(&pkts[i]).expect("inside window");
        }
        // Beyond the window: after 200, seq 136 is 64 behind and too old.
        rx.open(&pkts[199]).expect("200");
        assert_eq!(rx.open(&pkts[135]), Err(Error::Replay));
        // Tampering does not move the window and fails authentication.
        let mut bad = pkts[170].clone();
        bad[20] ^= 1;
        assert_eq!(rx.open(&bad), Err(Error::AuthenticationFailed));
        let mut bad = tx.seal(b"x", 4).expect("seal");
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(rx.open(&bad), Err(Error::AuthenticationFailed));
        assert_eq!(rx.highest_received(), 200);
        // A forged sequence number far ahead fails authentication and leaves the window.
        let mut forged = pkts[150].clone();
        forged[4..8].copy_from_slice(&10_000u32.to_be_bytes());
        assert_eq!(rx.open(&forged), Err(Error::AuthenticationFailed));
        assert_eq!(rx.highest_received(), 200);
        // Wrong SPI and short packets.
        let mut other = pkts[0].clone();
        other[0] = 9;
        assert!(matches!(rx.open(&other), Err(Error::Decode(_))));
        assert!(matches!(rx.open(&pkts[0][..20]), Err(Error::Decode(_))));
    }

    #[test]
    fn large_windows_and_big_jumps() {
        for window in [32u32, 64, 100, 1000, 4096, 8192] {
            let (mut tx, mut rx) = pair(false, window, 1);
            let n = u64::from(window) * 3;
            let pkts: Vec<Vec<u8>> = (0..n).map(|_| tx.seal(b"p", 17).expect("seal")).collect();
            // Deliver the last one first, then everything in the window backwards.
            rx.open(&pkts[pkts.len() - 1]).expect("last");
            let w = window as usize;
            for i in (pkts.len() - w..pkts.len() - 1).rev() {
                rx.open(&pkts[i]).expect("in window");
            }
            assert_eq!(rx.open(&pkts[pkts.len() - w - 1]), Err(Error::Replay));
            for p in &pkts[pkts.len() - w..] {
                assert_eq!(rx.open(p), Err(Error::Replay));
            }
        }
    }

    #[test]
    fn batches_into_one_buffer_match_single_packets() {
        let (mut tx, mut rx) = pair(false, 64, 1);
        let (mut tx2, _) = pair(false, 64, 1);
        let payloads: Vec<Vec<u8>> = (0..10).map(|i| vec![i as u8; i * 7]).collect();
        let (mut buf, mut ends) = (vec![0xee; 3], Vec::new());
        tx.seal_batch_into(&payloads, 4, &mut buf, &mut ends)
            .expect("batch");
        let singles = tx2.seal_batch(&payloads, 4).expect("singles");
        let mut start = 0;
        let mut packets = Vec::new();
        for (end, single) in ends.iter().zip(&singles) {
            assert_eq!(&buf[start..*end], single.as_slice());
            packets.push(buf[start..*end].to_vec());
            start = *end;
        }
        packets.insert(3, packets[2].clone());
        let (mut out, mut results) = (Vec::new(), Vec::new());
        rx.open_batch_into(&packets, &mut out, &mut results);
        assert_eq!(results[3], Err(Error::Replay));
        let mut start = 0;
        let mut opened = Vec::new();
        for r in results.iter().filter_map(|r| r.as_ref().ok()) {
            assert_eq!(r.1, 4);
            opened.push(out[start..r.0].to_vec());
            start = r.0;
        }
        assert_eq!(opened, payloads);
    }

    #[test]
    fn window_off_accepts_duplicates() {
        let (mut tx, mut rx) = pair(false, 0, 1);
        let p = tx.seal(b"abc", 4).expect("seal");
        rx.open(&p).expect("first");
        rx.open(&p).expect("again");
    }

    #[test]
    fn esn_rolls_over_and_infers_high_bits() {
        let start = (1u64 << 32) - 5;
        let (mut tx, mut rx) = pair(true, 64, start);
        let pkts: Vec<Vec<u8>> = (0..12).map(|_| tx.seal(b"esn", 4).expect("seal")).collect();
        assert_eq!(tx.next_seq(), Some(start + 12));
        // The wire carries only the low half.
        assert_eq!(&pkts[5][4..8], &[0, 0, 0, 0]);
        // Deliver past the roll-over first, then the ones before it (case B inference).
        for i in [6usize, 7, 0, 1, 2, 3, 4, 5, 9, 8, 11, 10] {
            rx.open(&pkts[i]).expect("open");
        }
        assert_eq!(rx.highest_received(), start + 11);
        assert_eq!(rx.open(&pkts[2]), Err(Error::Replay));
        // The same packets under a non-ESN receiver fail: the AAD differs.
        let mut plain = EspSa::new(0x0102_0304, 20, &KEY, false, 64, 1).expect("rx");
        assert_eq!(plain.open(&pkts[0]), Err(Error::AuthenticationFailed));
    }

    #[test]
    fn window_matches_a_naive_model() {
        // xorshift64 so that the test needs no RNG crate and is reproducible.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for size in [32u32, 64, 65, 200, 1024, 4096] {
            let mut w = ReplayWindow::new(size, 0);
            let mut seen = std::collections::HashSet::new();
            let mut top = 0u64;
            for _ in 0..20_000 {
                let r = next();
                // Mostly near the top, sometimes far behind or far ahead.
                let seq = match r % 10 {
                    0 => top + 1 + (r >> 8) % (4 * u64::from(size)),
                    1 => top.saturating_sub((r >> 8) % (4 * u64::from(size))),
                    _ => (top + 3).saturating_sub((r >> 8) % (u64::from(size) + 8)),
                };
                let model_ok = seq != 0
                    && (seq > top || (top - seq < u64::from(size) && !seen.contains(&seq)));
                assert_eq!(
                    w.check(seq).is_ok(),
                    model_ok,
                    "size {size} seq {seq} top {top}"
                );
                if model_ok {
                    w.update(seq);
                    seen.insert(seq);
                    top = top.max(seq);
                }
            }
        }
    }

    #[test]
    fn infer_esn_cases() {
        let w = ReplayWindow::new(64, (5u64 << 32) | 1000);
        assert_eq!(w.infer_esn(999), Some((5 << 32) | 999));
        assert_eq!(w.infer_esn(937), Some((5 << 32) | 937));
        assert_eq!(w.infer_esn(936), Some((6 << 32) | 936));
        let w = ReplayWindow::new(64, (5u64 << 32) | 10);
        assert_eq!(w.infer_esn(5), Some((5 << 32) | 5));
        assert_eq!(w.infer_esn(u32::MAX), Some((4 << 32) | u64::from(u32::MAX)));
        assert_eq!(
            w.infer_esn(u32::MAX - 52),
            Some((4 << 32) | u64::from(u32::MAX - 52))
        );
        assert_eq!(
            w.infer_esn(u32::MAX - 53),
            Some((5 << 32) | u64::from(u32::MAX - 53))
        );
        let w = ReplayWindow::new(64, 10);
        assert_eq!(w.infer_esn(u32::MAX), None);
    }

    #[test]
    fn sequence_exhaustion() {
        let mut tx = EspSa::new(1, 20, &KEY, false, 64, u64::from(u32::MAX) - 2).expect("tx");
        assert_eq!(tx.seal_batch(&[b"a"; 4], 4), Err(Error::SequenceExhausted));
        assert_eq!(tx.seal_batch(&[b"a"; 2], 4).expect("two").len(), 2);
        tx.seal(b"last", 4).expect("2^32-1");
        assert_eq!(tx.next_seq(), None);
        assert_eq!(tx.seal(b"wrap", 4), Err(Error::SequenceExhausted));
        assert_eq!(tx.seal_batch(&[b"a"; 1], 4), Err(Error::SequenceExhausted));
        let mut tx = EspSa::new(1, 20, &KEY, true, 64, u64::MAX).expect("tx");
        tx.seal(b"last", 4).expect("2^64-1");
        assert_eq!(tx.seal(b"wrap", 4), Err(Error::SequenceExhausted));
        assert!(EspSa::new(1, 20, &KEY, false, 64, 1 << 32).is_err());
        assert!(EspSa::new(1, 20, &KEY, false, 64, 0).is_err());
    }

    #[test]
    fn refuses_bad_parameters_and_padding() {
        assert!(matches!(
            EspSa::new(1, 12, &KEY, false, 64, 1),
            Err(Error::UnsupportedTransform { .. })
        ));
        assert!(matches!(
            EspSa::new(1, 20, &KEY[..35], false, 64, 1),
            Err(Error::InvalidLength { .. })
        ));
        let short = EspSa::new(1, 20, &KEY[..10], false, 64, 1).expect_err("10 octets");
        assert_eq!(
            short.to_string(),
            "AES-GCM ESP key (16, 24 or 32 bytes) plus its 4-byte salt must be 20 bytes, got 10"
        );
        assert!(matches!(
            EspSa::new(1, 20, &KEY, false, 31, 1),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            EspSa::new(1, 20, &KEY, false, 8193, 1),
            Err(Error::InvalidArgument(_))
        ));
        // A packet with bad padding but a valid ICV (built by hand).
        let (_, mut rx) = pair(false, 64, 1);
        let aead = Aead::new(20, &KEY[..32]).expect("aead");
        let mut pkt = vec![1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut body = vec![0xaa, 9, 9, 2, 4]; // padding 9 9 instead of 1 2
        let mut tag = [0u8; 16];
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&KEY[32..]);
        nonce[11] = 1;
        aead.seal_in_place(&nonce, &[1, 2, 3, 4, 0, 0, 0, 1], &mut body, &mut tag)
            .expect("seal");
        pkt.extend_from_slice(&body);
        pkt.extend_from_slice(&tag);
        assert!(matches!(rx.open(&pkt), Err(Error::Decode(_))));
        // It authenticated, so the number is now used.
        assert_eq!(rx.open(&pkt), Err(Error::Replay));
    }
}
