# SPDX-License-Identifier: Apache-2.0
"""ESP SAs through pqike.crypto (RFC 4303 §3.3.3, §3.4.3, Appendix A; RFC 4106).

Each test runs on both backends.
"""

from __future__ import annotations

import struct

import pytest

from pqike.crypto import Backend, EspSa
from pqike.errors import (
    AuthenticationError,
    DecodeError,
    InvalidLength,
    ReplayError,
    SequenceExhausted,
    UnsupportedTransform,
)

SPI = 0xC0FFEE01
KEY = bytes(range(32)) + b"salt"
U32 = (1 << 32) - 1


def _pair(
    backend: Backend, encr_id: int = 20, key: bytes = KEY, **kw: int | bool
) -> tuple[EspSa, EspSa]:
    """An outbound and the matching inbound SA."""
    out = backend.esp_sa(SPI, encr_id, key, **kw)  # type: ignore[arg-type]
    # The inbound SA's window starts just below initial_seq, like the peer's counter.
    inbound = backend.esp_sa(SPI, encr_id, key, **kw)  # type: ignore[arg-type]
    return out, inbound


@pytest.mark.parametrize(
    ("encr_id", "key"),
    [
        pytest.param(20, bytes(16) + b"salt", id="aes128gcm16"),
        pytest.param(20, bytes(24) + b"salt", id="aes192gcm16"),
        pytest.param(20, KEY, id="aes256gcm16"),
        pytest.param(28, KEY, id="chacha20poly1305"),
    ],
)
@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 63, 1400])
def test_seal_open_roundtrip_layout(
    backend: Backend, encr_id: int, key: bytes, size: int
) -> None:
    """SPI | Seq | IV=seq | ciphertext | ICV; trailer 4-octet aligned; payload back."""
    out, inbound = _pair(backend, encr_id, key)
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    for seq in (1, 2):
        packet = out.seal(payload, 4)
        assert packet[:4] == struct.pack(">I", SPI)
        assert packet[4:8] == struct.pack(">I", seq)
        assert packet[8:16] == struct.pack(">Q", seq)
        body = len(packet) - 16 - 16
        assert body % 4 == 0
        assert 0 <= body - size - 2 <= 3
        assert inbound.open(packet) == (payload, 4)
    assert out.next_seq == 3


def test_replay_rejected(backend: Backend) -> None:
    """A packet accepted once is a replay the second time."""
    out, inbound = _pair(backend)
    packet = out.seal(b"x", 4)
    inbound.open(packet)
    with pytest.raises(ReplayError):
        inbound.open(packet)


def test_reordering_inside_window_accepted(backend: Backend) -> None:
    """Any order within the window works; each number only once."""
    out, inbound = _pair(backend, replay_window=64)
    packets = [out.seal(bytes([i]), 4) for i in range(64)]
    order = list(range(63, -1, -2)) + list(range(0, 64, 2))
    for i in order:
        assert inbound.open(packets[i]) == (bytes([i]), 4)
    assert inbound.highest_received == 64
    for i in (0, 31, 63):
        with pytest.raises(ReplayError):
            inbound.open(packets[i])


def test_reordering_beyond_window_rejected(backend: Backend) -> None:
    """A number left of the window is refused even if never seen."""
    out, inbound = _pair(backend, replay_window=32)
    packets = [out.seal(bytes([i]), 4) for i in range(40)]
    inbound.open(packets[39])  # top = 40, window covers 9..40
    with pytest.raises(ReplayError):
        inbound.open(packets[7])  # seq 8
    assert inbound.open(packets[8]) == (bytes([8]), 4)  # seq 9, the window's left edge


def test_window_checked_before_decryption(backend: Backend) -> None:
    """A replayed but tampered packet is a ReplayError (checked before the ICV)."""
    out, inbound = _pair(backend)
    packet = out.seal(b"payload", 4)
    inbound.open(packet)
    tampered = packet[:-1] + bytes([packet[-1] ^ 1])
    with pytest.raises(ReplayError):
        inbound.open(tampered)


def test_window_updated_only_after_authentication(backend: Backend) -> None:
    """A forged packet does not consume its sequence number."""
    out, inbound = _pair(backend)
    packet = out.seal(b"payload", 4)
    forged = packet[:20] + bytes([packet[20] ^ 0x80]) + packet[21:]
    with pytest.raises(AuthenticationError):
        inbound.open(forged)
    assert inbound.open(packet) == (b"payload", 4)


@pytest.mark.parametrize("offset", [0, 4, 8, 16, -1])
def test_tampering_rejected(backend: Backend, offset: int) -> None:
    """A flipped bit in SPI -> DecodeError; elsewhere -> AuthenticationError."""
    out, inbound = _pair(backend)
    packet = bytearray(out.seal(b"some payload", 6))
    packet[offset] ^= 0x01
    expected = DecodeError if offset == 0 else AuthenticationError
    with pytest.raises(expected):
        inbound.open(bytes(packet))


def test_short_packet_decode_error(backend: Backend) -> None:
    """Anything shorter than header, IV, trailer and ICV is a DecodeError."""
    _, inbound = _pair(backend)
    with pytest.raises(DecodeError):
        inbound.open(struct.pack(">II", SPI, 1) + bytes(25))


def test_sequence_exhaustion(backend: Backend) -> None:
    """2^32 - 1 is the last number sent without ESN; then SequenceExhausted."""
    out, inbound = _pair(backend, initial_seq=U32 - 1)
    a, b = out.seal(b"a", 4), out.seal(b"b", 4)
    assert b[4:8] == b"\xff\xff\xff\xff"
    with pytest.raises(SequenceExhausted):
        out.seal(b"c", 4)
    with pytest.raises(SequenceExhausted):
        out.seal_batch([b"c"], 4)
    assert inbound.open(a) == (b"a", 4)
    assert inbound.open(b) == (b"b", 4)


def test_seal_batch_all_or_nothing(backend: Backend) -> None:
    """A batch that does not fit the sequence space seals nothing."""
    out, _ = _pair(backend, initial_seq=U32 - 2)
    with pytest.raises(SequenceExhausted):
        out.seal_batch([b"1", b"2", b"3", b"4"], 4)
    assert out.next_seq == U32 - 2
    assert len(out.seal_batch([b"1", b"2", b"3"], 4)) == 3


def test_esn_rollover(backend: Backend) -> None:
    """With ESN the counter passes 2^32; only the low half is sent."""
    out, inbound = _pair(backend, esn=True, initial_seq=U32 - 1)
    assert out.esn
    assert inbound.highest_received == U32 - 2
    packets = [out.seal(bytes([i]), 4) for i in range(4)]
    assert [p[4:8].hex() for p in packets] == [
        "fffffffe",
        "ffffffff",
        "00000000",
        "00000001",
    ]
    assert packets[2][8:16] == struct.pack(">Q", 1 << 32)
    assert out.next_seq == (1 << 32) + 2
    for i in (1, 3, 0, 2):  # reordered across the roll-over
        assert inbound.open(packets[i]) == (bytes([i]), 4)
    with pytest.raises(ReplayError):
        inbound.open(packets[2])


def test_esn_high_half_authenticated(backend: Backend) -> None:
    """A receiver without ESN cannot open an ESN packet past 2^32 (AAD differs)."""
    out, _ = _pair(backend, esn=True, initial_seq=(1 << 32) + 5)
    plain = backend.esp_sa(SPI, 20, KEY)
    with pytest.raises(AuthenticationError):
        plain.open(out.seal(b"x", 4))


def test_esn_exhaustion(backend: Backend) -> None:
    """With ESN the last number is 2^64 - 1."""
    out, _ = _pair(backend, esn=True, initial_seq=(1 << 64) - 1)
    out.seal(b"last", 4)
    with pytest.raises(SequenceExhausted):
        out.seal(b"one too many", 4)


def test_replay_window_off(backend: Backend) -> None:
    """replay_window=0 accepts duplicates (anti-replay disabled)."""
    out, inbound = _pair(backend, replay_window=0)
    packet = out.seal(b"dup", 4)
    assert inbound.open(packet) == inbound.open(packet) == (b"dup", 4)


def test_open_batch_reports_errors_in_place(backend: Backend) -> None:
    """open_batch returns exceptions as values, in order."""
    out, inbound = _pair(backend)
    packets = out.seal_batch([b"a", b"b", b"c"], 17)
    bad = packets[1][:-1] + bytes([packets[1][-1] ^ 1])
    results = inbound.open_batch([packets[0], bad, packets[2], packets[0]])
    assert results[0] == (b"a", 17)
    assert isinstance(results[1], AuthenticationError)
    assert results[2] == (b"c", 17)
    assert isinstance(results[3], ReplayError)


def test_dummy_packet_next_header(backend: Backend) -> None:
    """Next Header 59 (TFC dummy) is returned for the caller to drop."""
    out, inbound = _pair(backend)
    assert inbound.open(out.seal(b"", 59)) == (b"", 59)


@pytest.mark.parametrize("window", [1, 31, 8193])
def test_bad_replay_window_rejected(backend: Backend, window: int) -> None:
    """Windows other than 0 and 32..8192 are refused."""
    with pytest.raises(ValueError, match="window"):
        backend.esp_sa(SPI, 20, KEY, replay_window=window)


@pytest.mark.parametrize("encr_id", [18, 19, 12, 3])
def test_esp_encr_other_than_gcm16_and_chacha_refused(
    backend: Backend, encr_id: int
) -> None:
    """ESP offers ENCR 20 and 28 only, on both backends (the Rust backend accepted
    AES-GCM-8/12, 18 and 19, which its core can seal; the reference refused them)."""
    for key in (bytes(20), bytes(5)):
        with pytest.raises(UnsupportedTransform, match="ESP supports ENCR 20 and 28"):
            backend.esp_sa(SPI, encr_id, key)


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        # Ranges first, then the transform, then the key (the same class on both).
        ({"encr_id": 20, "key": bytes(5), "initial_seq": 1 << 32}, ValueError),
        ({"encr_id": 12, "key": bytes(5), "initial_seq": 1 << 32}, ValueError),
        ({"encr_id": 12, "key": bytes(5)}, UnsupportedTransform),
        ({"encr_id": 20, "key": bytes(5)}, InvalidLength),
    ],
)
def test_esp_sa_checks_in_one_order(
    backend: Backend, kw: dict[str, object], error: type[Exception]
) -> None:
    """Arguments wrong in two ways fail the same way on both backends."""
    with pytest.raises(error) as info:
        backend.esp_sa(SPI, **kw)  # type: ignore[arg-type]
    # Exactly: UnsupportedTransform and InvalidLength are ValueErrors too.
    assert type(info.value) is error
