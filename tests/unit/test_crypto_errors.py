# SPDX-License-Identifier: Apache-2.0
"""Bad input to pqike.crypto raises the precise pqike.errors class, on both backends,
and no exception text or object repr ever shows key material."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from pqike.crypto import Backend, suites
from pqike.errors import (
    AuthenticationError,
    InvalidKeyExchangeData,
    InvalidLength,
    ReplayError,
    SequenceExhausted,
    UnsupportedTransform,
)

KEY32 = bytes.fromhex("8f" * 16 + "a5" * 16)
SALTED = KEY32 + bytes.fromhex("5a17c0de")
SPI_I, SPI_R = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
NI, NR = b"\x21" * 32, b"\x42" * 32
SECRET = bytes.fromhex("d3" * 8 + "7e" * 24)

# (what, transform_type, transform_id, call)
Call = Callable[[Backend], object]
UNKNOWN: list[Any] = [
    pytest.param(4, 99, lambda b: b.key_exchange(99), id="ke-99"),
    pytest.param(4, 1, lambda b: b.key_exchange(1), id="ke-modp768"),
    pytest.param(2, 99, lambda b: b.prf(99, KEY32, b"x"), id="prf-99"),
    pytest.param(2, 4, lambda b: b.prf_plus(4, KEY32, b"x", 16), id="prf+-xcbc"),
    pytest.param(3, 99, lambda b: b.integ_mac(99, KEY32, b"x"), id="integ-99"),
    pytest.param(
        2,
        99,
        lambda b: b.keymat_derive(99, 20, 256, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-prf",
    ),
    pytest.param(
        1,
        99,
        lambda b: b.keymat_derive(5, 99, 256, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-encr",
    ),
    pytest.param(
        3,
        99,
        lambda b: b.keymat_derive(5, 12, 256, 99, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-integ",
    ),
    pytest.param(1, 99, lambda b: b.ike_cipher(99, 256, 0, SALTED), id="cipher-99"),
    pytest.param(1, 13, lambda b: b.ike_cipher(13, 128, 12, KEY32), id="cipher-ctr"),
    pytest.param(1, 12, lambda b: b.esp_sa(1, 12, KEY32), id="esp-cbc"),
    pytest.param(
        1, 12, lambda b: b.aead_seal(12, KEY32, bytes(12), b"", b""), id="aead-cbc"
    ),
]


@pytest.mark.parametrize(("ttype", "tid", "call"), UNKNOWN)
def test_unknown_transform_unsupported(
    backend: Backend, ttype: int, tid: int, call: Call
) -> None:
    """Unknown or unimplemented IDs raise UnsupportedTransform(type, id)."""
    with pytest.raises(UnsupportedTransform) as info:
        call(backend)
    assert (info.value.transform_type, info.value.transform_id) == (ttype, tid)


def test_supports_matches_tables(backend: Backend) -> None:
    """supports() says yes to every implemented ID and no to unknown ones."""
    for ttype, ids in ((1, (12, 18, 19, 20, 28)), (2, (2, 5, 6, 7)), (3, (0, 2, 12))):
        assert all(backend.supports(ttype, i) for i in ids)
    assert backend.supports(4, 31)
    assert backend.supports(6, 36)
    assert backend.supports(7, 0)  # ADDKE2 = NONE
    assert not backend.supports(4, 0)
    assert not backend.supports(1, 99)
    assert not backend.supports(4, 1)
    assert not backend.supports(42, 1)


LENGTHS: list[Any] = [
    pytest.param(lambda b: b.key_exchange(31, seed=bytes(31)), id="kex-seed-31"),
    pytest.param(lambda b: b.ike_cipher(20, 256, 0, KEY32), id="gcm-no-salt"),
    pytest.param(lambda b: b.ike_cipher(12, 128, 12, KEY32, KEY32), id="cbc-key"),
    pytest.param(
        lambda b: b.ike_cipher(12, 256, 12, KEY32, KEY32[:20]), id="integ-key"
    ),
    pytest.param(lambda b: b.esp_sa(1, 20, KEY32), id="esp-key"),
    pytest.param(lambda b: b.esp_sa(1, 28, KEY32[:20]), id="esp-chacha-key"),
    pytest.param(
        lambda b: b.aead_seal(20, KEY32[:15], bytes(12), b"", b""), id="gcm-key"
    ),
    pytest.param(lambda b: b.aead_seal(20, KEY32, bytes(8), b"", b""), id="gcm-nonce"),
    pytest.param(
        lambda b: b.aead_open(28, KEY32, bytes(16), b"", bytes(16)), id="cc-nonce"
    ),
    pytest.param(
        lambda b: b.prf_plus(5, KEY32, b"s", 255 * 32 + 1), id="prf+-256-blocks"
    ),
    pytest.param(
        lambda b: b.keymat_derive(5, 20, 128, 0, SECRET, NI, NR, SPI_I[:4], SPI_R),
        id="keymat-spi",
    ),
    pytest.param(
        lambda b: b.ike_cipher(20, 128, 0, KEY32[:20]).seal(b"", bytes(12), b"x"),
        id="seal-iv",
    ),
    pytest.param(
        lambda b: b.testing.x25519(KEY32[:31], bytes(32)), id="x25519-private"
    ),
    pytest.param(
        lambda b: b.testing.ecdh(19, KEY32[:31], bytes(64)), id="ecdh-private"
    ),
]


@pytest.mark.parametrize("call", LENGTHS)
def test_wrong_length_invalid_length(backend: Backend, call: Call) -> None:
    """A key, nonce, IV, SPI, seed or output of the wrong size is InvalidLength."""
    with pytest.raises(InvalidLength) as info:
        call(backend)
    _assert_no_secret(info.value, KEY32)


def _assert_no_secret(exc: BaseException, *secrets: bytes) -> None:
    text = f"{exc} {exc!r} {exc.args!r}"
    for secret in secrets:
        for chunk in (secret, secret[:8]):
            assert chunk.hex() not in text.lower()
            assert repr(chunk)[2:-1] not in text


@pytest.mark.parametrize(
    ("encr_id", "bits", "integ_id", "key", "integ_key"),
    [
        pytest.param(20, 256, 0, SALTED, b"", id="aes256gcm16"),
        pytest.param(18, 128, 0, KEY32[:20], b"", id="aes128gcm8"),
        pytest.param(28, 0, 0, SALTED, b"", id="chacha20poly1305"),
        pytest.param(12, 256, 12, KEY32, KEY32, id="aes256-sha256"),
        pytest.param(12, 128, 2, KEY32[:16], KEY32[:20], id="aes128-sha1"),
    ],
)
def test_tampered_sk_payload_authentication_error(
    backend: Backend,
    encr_id: int,
    bits: int,
    integ_id: int,
    key: bytes,
    integ_key: bytes,
) -> None:
    """A bit flip anywhere in IV, ciphertext, ICV or AAD; a short body."""
    c = backend.ike_cipher(encr_id, bits, integ_id, key, integ_key)
    aad = b"\x01" * 28 + b"\x2e\x00\x00\x40"
    body = c.seal(aad, bytes(range(c.iv_length)), b"inner payloads" * 3)
    for pos in range(0, len(body), 7):
        bad = bytearray(body)
        bad[pos] ^= 0x10
        with pytest.raises(AuthenticationError) as info:
            c.open(aad, bytes(bad))
        _assert_no_secret(info.value, key, integ_key or key)
    with pytest.raises(AuthenticationError):
        c.open(aad[:-1] + b"\x41", body)
    with pytest.raises(AuthenticationError) as info:
        c.open(aad, body[: c.iv_length + c.icv_length - 1])
    assert str(info.value) == AuthenticationError.MESSAGE


def test_authentication_error_says_what_failed(backend: Backend) -> None:
    """AEAD, SK payload and ESP failures all carry one fixed sentence (no key, data or
    position), the same on both backends; a bare AuthenticationError has it too."""
    assert str(AuthenticationError()) == AuthenticationError.MESSAGE
    assert "did not verify" in AuthenticationError.MESSAGE
    sealed = backend.aead_seal(20, KEY32, bytes(12), b"aad", b"secret data")
    cipher = backend.ike_cipher(20, 256, 0, SALTED)
    body = cipher.seal(b"aad", bytes(8), b"secret data")
    esp_in, esp_out = backend.esp_sa(7, 20, SALTED), backend.esp_sa(7, 20, SALTED)
    packet = esp_out.seal(b"secret data", 4)
    failures: list[Call] = [
        lambda b: b.aead_open(20, KEY32, bytes(12), b"aad", sealed[:-1] + b"\0"),
        lambda b: cipher.open(b"aad", body[:-1] + b"\0"),
        lambda b: esp_in.open(packet[:-1] + b"\0"),
    ]
    for call in failures:
        with pytest.raises(AuthenticationError) as info:
            call(backend)
        assert str(info.value) == AuthenticationError.MESSAGE
        assert info.value.args == (AuthenticationError.MESSAGE,)
        _assert_no_secret(info.value, KEY32, SALTED)
    (batch,) = esp_in.open_batch([packet[:-1] + b"\0"])
    assert isinstance(batch, AuthenticationError)
    assert str(batch) == AuthenticationError.MESSAGE


def test_tampered_raw_aead(backend: Backend) -> None:
    """Raw AEAD open of a modified tag or ciphertext fails."""
    for encr_id in (18, 19, 20, 28):
        sealed = backend.aead_seal(encr_id, KEY32, bytes(12), b"aad", b"secret data")
        assert len(sealed) == 11 + suites.encr_icv_length(encr_id)
        for pos in (0, len(sealed) - 1):
            bad = bytearray(sealed)
            bad[pos] ^= 1
            with pytest.raises(AuthenticationError):
                backend.aead_open(encr_id, KEY32, bytes(12), b"aad", bytes(bad))
        with pytest.raises(AuthenticationError):
            backend.aead_open(encr_id, KEY32, bytes(12), b"aad", sealed[:5])


def test_replayed_esp_packet(backend: Backend) -> None:
    """A second copy is a ReplayError without key bytes in the message."""
    out, inbound = backend.esp_sa(7, 20, SALTED), backend.esp_sa(7, 20, SALTED)
    packet = out.seal(b"data", 4)
    inbound.open(packet)
    with pytest.raises(ReplayError) as info:
        inbound.open(packet)
    _assert_no_secret(info.value, SALTED)


def test_exhausted_counter(backend: Backend) -> None:
    """Sealing past 2^32 - 1 raises SequenceExhausted."""
    out = backend.esp_sa(7, 28, SALTED, initial_seq=(1 << 32) - 1)
    out.seal(b"last", 4)
    with pytest.raises(SequenceExhausted) as info:
        out.seal(b"wrap", 4)
    _assert_no_secret(info.value, SALTED)


def _mlkem_ek(backend: Backend, method: int) -> bytes:
    return backend.key_exchange(method).public_key()


@pytest.mark.parametrize("method", [35, 36, 37])
def test_bad_mlkem_keys(backend: Backend, method: int) -> None:
    """Responder: short/long ek, coefficient >= q; initiator: bad ct length."""
    if not backend.supports(4, method):
        pytest.skip(f"{backend.name} backend lacks KE {method}")
    info = suites.ke_method(method)
    ek = _mlkem_ek(backend, method)
    over_q = b"\xff\xff" + ek[2:]  # first coefficient 0xfff > 3328
    for bad in (ek[:-1], ek + b"\x00", over_q, b""):
        with pytest.raises(InvalidKeyExchangeData):
            backend.key_exchange(method).set_peer_public(bad)
    initiator = backend.key_exchange(method)
    initiator.public_key()
    for length in (info.responder_length - 1, info.responder_length + 1, 0):
        with pytest.raises(InvalidKeyExchangeData) as exc:
            initiator.set_peer_public(bytes(length))
        assert str(method) in str(exc.value) or info.name[-3:] in str(exc.value)


@pytest.mark.parametrize(
    ("method", "data"),
    [
        pytest.param(31, bytes(32), id="x25519-zero-u"),
        pytest.param(31, (1).to_bytes(32, "little"), id="x25519-order-1"),
        pytest.param(31, bytes(31), id="x25519-short"),
        pytest.param(32, bytes(56), id="x448-zero-u"),
        pytest.param(32, bytes(57), id="x448-long"),
        pytest.param(19, bytes(64), id="ecp256-zero"),
        pytest.param(19, b"\x01" * 64, id="ecp256-off-curve"),
        pytest.param(19, b"\xff" * 64, id="ecp256-coordinates-above-p"),
        pytest.param(20, b"\x01" * 96, id="ecp384-off-curve"),
        pytest.param(21, b"\x01" * 132, id="ecp521-off-curve"),
        pytest.param(21, bytes(131), id="ecp521-short"),
    ],
)
def test_bad_dh_public_rejected(backend: Backend, method: int, data: bytes) -> None:
    """Wrong length, off-curve, low-order / all-zero result: InvalidKeyExchangeData."""
    kx = backend.key_exchange(method)
    with pytest.raises(InvalidKeyExchangeData):
        kx.set_peer_public(data)
    with pytest.raises(ValueError, match=r"."):
        kx.shared_secret()


def test_kem_responder_public_key_before_peer(backend: Backend) -> None:
    """No shared secret before set_peer_public; asking for ek makes an initiator."""
    kx = backend.key_exchange(36)
    with pytest.raises(ValueError, match=r"."):
        kx.shared_secret()
    assert kx.role is None
    assert len(kx.public_key()) == 1184  # asking first makes it the initiator
    assert kx.role == "initiator"
    responder = backend.key_exchange(36)
    responder.set_peer_public(kx.public_key())
    assert responder.role == "responder"
    dh = backend.key_exchange(31)
    dh.public_key()
    assert dh.role is None


def test_seeded_kem_responder(backend: Backend) -> None:
    """Rust encapsulates from the seed; pyca cannot, and the reference says so."""
    ek = backend.key_exchange(36).public_key()
    kx = backend.key_exchange(36, seed=bytes(32))
    if backend.name == "reference":
        with pytest.raises(UnsupportedTransform, match="deterministic"):
            kx.set_peer_public(ek)
        return
    kx.set_peer_public(ek)
    again = backend.key_exchange(36, seed=bytes(32))
    again.set_peer_public(ek)
    assert kx.public_key() == again.public_key()


def test_reprs_show_no_secrets(backend: Backend) -> None:
    """repr/str of Keymat, IkeCipher, EspSa, KeyExchange carry no key bytes."""
    km = backend.keymat_derive(6, 20, 256, 0, SECRET, NI, NR, SPI_I, SPI_R)
    secrets = [v for v in km.export_secrets().values() if v]
    objects: list[object] = [km, km.cipher(True), km.cipher(False)]
    objects.append(backend.esp_sa(9, 20, SALTED))
    objects.append(backend.ike_cipher(12, 256, 12, KEY32, KEY32))
    i, r = backend.key_exchange(31), backend.key_exchange(31)
    r.set_peer_public(i.public_key())
    i.set_peer_public(r.public_key())
    objects += [i, r]
    secrets += [SALTED, KEY32, i.shared_secret()]
    for obj in objects:
        text = f"{obj!r} {obj!s}"
        for secret in secrets:
            assert secret.hex() not in text
            assert secret[:6].hex() not in text
    assert "31" in repr(i)


def test_keymat_errors(backend: Backend) -> None:
    """AEAD with INTEG, CBC without INTEG, empty rekey secret list."""
    with pytest.raises(UnsupportedTransform):
        backend.keymat_derive(5, 20, 128, 12, SECRET, NI, NR, SPI_I, SPI_R)
    with pytest.raises(UnsupportedTransform):
        backend.keymat_derive(5, 12, 128, 0, SECRET, NI, NR, SPI_I, SPI_R)
    with pytest.raises(UnsupportedTransform):
        backend.keymat_derive(5, 20, 100, 0, SECRET, NI, NR, SPI_I, SPI_R)
    km = backend.keymat_derive(5, 20, 128, 0, SECRET, NI, NR, SPI_I, SPI_R)
    with pytest.raises(ValueError, match="shared secret"):
        km.rekey_ike([], NI, NR, SPI_I, SPI_R, 5, 20, 128, 0)
    with pytest.raises(InvalidLength):
        km.child_keymat(255 * 32 + 1, NI, NR)


def _keymat(b: Backend) -> Any:
    return b.keymat_derive(5, 20, 128, 0, SECRET, NI, NR, SPI_I, SPI_R)


# A Key Length the ENCR transform does not allow: the message names that length and
# the allowed ones, not only the transform ID.
BAD_KEY_BITS: list[Any] = [
    pytest.param(
        20,
        "ENCR 20 does not allow a 100-bit key (Key Length 128, 192 or 256)",
        lambda b: b.keymat_derive(5, 20, 100, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-gcm-100",
    ),
    pytest.param(
        28,
        "ENCR 28 does not allow a 128-bit key (Key Length 0 or 256)",
        lambda b: b.keymat_derive(5, 28, 128, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-chacha-128",
    ),
    pytest.param(
        12,
        "ENCR 12 does not allow a 64-bit key (Key Length 128, 192 or 256)",
        lambda b: _keymat(b).rekey_ike([SECRET], NI, NR, SPI_I, SPI_R, 5, 12, 64, 12),
        id="rekey-cbc-64",
    ),
    pytest.param(
        20,
        "ENCR 20 does not allow a 255-bit key (Key Length 128, 192 or 256)",
        lambda b: b.ike_cipher(20, 255, 0, SALTED),
        id="cipher-gcm-255",
    ),
]


@pytest.mark.parametrize(("encr_id", "message", "call"), BAD_KEY_BITS)
def test_bad_key_length_named(
    backend: Backend, encr_id: int, message: str, call: Call
) -> None:
    """keymat_derive(encr_key_bits=100) names the 100-bit key, on both backends."""
    with pytest.raises(UnsupportedTransform) as info:
        call(backend)
    assert (info.value.transform_type, info.value.transform_id) == (1, encr_id)
    assert str(info.value) == message


BIG = 2**70
# (exception class, regex the message must match (the contract), call). The classes are
# exact for ValueError and TypeError: InvalidLength and UnsupportedTransform are
# ValueErrors too, and PyO3's OverflowError must not come through.
OUT_OF_RANGE: list[Any] = [
    # ESP: SPI 1..2^32-1 (0 is reserved, RFC 4303 §2.1), next header one octet.
    *(
        pytest.param(ValueError, r"1\.\.=4294967295.*RFC 4303", call, id=name)
        for name, call in (
            ("esp-spi-negative", lambda b: b.esp_sa(-1, 20, SALTED)),
            ("esp-spi-0", lambda b: b.esp_sa(0, 20, SALTED)),
            ("esp-spi-2^32", lambda b: b.esp_sa(1 << 32, 20, SALTED)),
        )
    ),
    pytest.param(
        ValueError,
        r"\[0, 255\]",
        lambda b: b.esp_sa(1, 20, SALTED).seal(b"x", 300),
        id="esp-next-header-300",
    ),
    pytest.param(
        ValueError,
        r"\[0, 255\]",
        lambda b: b.esp_sa(1, 28, SALTED).seal_batch([b"x"], -1),
        id="esp-batch-next-header-negative",
    ),
    pytest.param(
        ValueError,
        r"1\.\.=2\^32-1 \(2\^64-1 with ESN\)",
        lambda b: b.esp_sa(1, 20, SALTED, initial_seq=-1),
        id="esp-initial-seq-negative",
    ),
    pytest.param(
        ValueError,
        r"1\.\.=2\^32-1 \(2\^64-1 with ESN\)",
        lambda b: b.esp_sa(1, 20, SALTED, esn=True, initial_seq=1 << 64),
        id="esp-initial-seq-2^64",
    ),
    pytest.param(
        ValueError,
        r"0 \(off\) or 32\.\.=8192",
        lambda b: b.esp_sa(1, 20, SALTED, replay_window=-1),
        id="esp-window-negative",
    ),
    pytest.param(
        ValueError,
        r"0 \(off\) or 32\.\.=8192",
        lambda b: b.esp_sa(1, 20, SALTED, replay_window=1 << 32),
        id="esp-window-2^32",
    ),
    # Lengths: InvalidLength stating the range.
    pytest.param(
        InvalidLength,
        r"(\[0, |0\.\.)\d+",
        lambda b: _keymat(b).child_keymat(-1, NI, NR),
        id="child-keymat-negative",
    ),
    pytest.param(
        InvalidLength,
        r"(\[0, |0\.\.)\d+",
        lambda b: _keymat(b).child_keymat(BIG, NI, NR),
        id="child-keymat-2^70",
    ),
    pytest.param(
        InvalidLength,
        r"0\.\.=4294967295",
        lambda b: b.ike_cipher(20, 256, 0, SALTED).sealed_length(-1),
        id="sealed-length-negative",
    ),
    pytest.param(
        InvalidLength,
        r"0\.\.=4294967295",
        lambda b: b.ike_cipher(12, 256, 12, KEY32, KEY32).sealed_length(BIG),
        id="sealed-length-2^70",
    ),
    # Key lengths: every allowed size, the salt, and the length that was passed.
    pytest.param(
        InvalidLength,
        r"^AES-GCM-16 ESP key is 16, 24 or 32 bytes plus a 4-byte salt "
        r"\(20, 28 or 36\), got 10$",
        lambda b: b.esp_sa(1, 20, KEY32[:10]),
        id="esp-gcm-key-10",
    ),
    pytest.param(
        InvalidLength,
        r"^ChaCha20-Poly1305 ESP key is 32 bytes plus a 4-byte salt \(36\), got 32$",
        lambda b: b.esp_sa(1, 28, KEY32),
        id="esp-chacha-key-32",
    ),
    pytest.param(
        InvalidLength,
        r"^AES-GCM\S* key is 16, 24 or 32 \w+ \(.*salt\), got 1$",
        lambda b: b.aead_seal(20, KEY32[:1], bytes(12), b"", b""),
        id="aead-gcm-key-1",
    ),
    pytest.param(
        InvalidLength,
        r"^ChaCha20-Poly1305 key is 32 \w+ \(.*salt\), got 36$",
        lambda b: b.aead_open(28, SALTED, bytes(12), b"", bytes(16)),
        id="aead-chacha-key-36",
    ),
]
# Transform IDs (and Key Length attributes) outside 0..65535: UnsupportedTransform.
OUT_OF_RANGE_IDS: list[Any] = [
    pytest.param(1, BIG, lambda b: b.esp_sa(1, BIG, SALTED), id="esp-encr"),
    pytest.param(1, BIG, lambda b: b.ike_cipher(BIG, 256, 0, SALTED), id="cipher-encr"),
    pytest.param(
        3, BIG, lambda b: b.ike_cipher(12, 256, BIG, KEY32, KEY32), id="cipher-integ"
    ),
    pytest.param(1, 20, lambda b: b.ike_cipher(20, BIG, 0, SALTED), id="cipher-bits"),
    pytest.param(
        1, 20, lambda b: b.ike_cipher(20, -128, 0, SALTED), id="cipher-bits-neg"
    ),
    pytest.param(
        2,
        BIG,
        lambda b: b.keymat_derive(BIG, 20, 128, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-prf",
    ),
    pytest.param(
        1,
        -1,
        lambda b: b.keymat_derive(5, -1, 128, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-encr-neg",
    ),
    pytest.param(
        3,
        BIG,
        lambda b: b.keymat_derive(5, 12, 128, BIG, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-integ",
    ),
    pytest.param(
        1,
        20,
        lambda b: b.keymat_derive(5, 20, BIG, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-bits",
    ),
    pytest.param(
        2,
        BIG,
        lambda b: _keymat(b).rekey_ike([SECRET], NI, NR, SPI_I, SPI_R, BIG, 20, 128, 0),
        id="rekey-prf",
    ),
    pytest.param(
        1, BIG, lambda b: b.aead_seal(BIG, KEY32, bytes(12), b"", b""), id="aead-encr"
    ),
]
# Not an int at all: TypeError on both backends.
NOT_INTS: list[Any] = [
    pytest.param(lambda b: b.esp_sa(None, 20, SALTED), id="esp-spi-none"),
    pytest.param(lambda b: b.esp_sa(1, "20", SALTED), id="esp-encr-str"),
    pytest.param(
        lambda b: b.esp_sa(1, 20, SALTED, initial_seq=None), id="esp-seq-none"
    ),
    pytest.param(lambda b: b.esp_sa(1, 20, SALTED).seal(b"x", None), id="esp-nh-none"),
    pytest.param(lambda b: b.ike_cipher(None, 256, 0, SALTED), id="cipher-encr-none"),
    pytest.param(lambda b: b.ike_cipher(20, "256", 0, SALTED), id="cipher-bits-str"),
    pytest.param(
        lambda b: b.ike_cipher(12, 256, "12", KEY32, KEY32), id="cipher-integ-str"
    ),
    pytest.param(
        lambda b: b.keymat_derive(None, 20, 128, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-prf-none",
    ),
    pytest.param(
        lambda b: b.keymat_derive("5", 20, 128, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-prf-str",
    ),
    pytest.param(
        lambda b: b.keymat_derive(5, "36", 128, 0, SECRET, NI, NR, SPI_I, SPI_R),
        id="keymat-encr-str",
    ),
    pytest.param(
        lambda b: _keymat(b).rekey_ike([SECRET], NI, NR, SPI_I, SPI_R, 5, None, 128, 0),
        id="rekey-encr-none",
    ),
    pytest.param(
        lambda b: b.aead_seal("20", KEY32, bytes(12), b"", b""), id="aead-encr-str"
    ),
    pytest.param(lambda b: _keymat(b).child_keymat(None, NI, NR), id="child-len-none"),
]


@pytest.mark.parametrize(("cls", "contract", "call"), OUT_OF_RANGE)
def test_out_of_range_argument_states_contract(
    backend: Backend, cls: type[Exception], contract: str, call: Call
) -> None:
    """Out-of-range ints and wrong key sizes: the precise class and the contract."""
    with pytest.raises(Exception) as info:  # noqa: PT011 - class checked below
        call(backend)
    if cls is ValueError:
        assert type(info.value) is ValueError
    else:
        assert isinstance(info.value, cls)
    assert re.search(contract, str(info.value)), str(info.value)
    assert "must be 32 bytes" not in str(info.value)
    _assert_no_secret(info.value, KEY32, SALTED[-8:], SECRET)


@pytest.mark.parametrize(("ttype", "tid", "call"), OUT_OF_RANGE_IDS)
def test_out_of_range_id_unsupported(
    backend: Backend, ttype: int, tid: int, call: Call
) -> None:
    """An ID (or key size) outside the 16-bit IANA space is UnsupportedTransform."""
    with pytest.raises(UnsupportedTransform) as info:
        call(backend)
    assert (info.value.transform_type, info.value.transform_id) == (ttype, tid)
    assert str(tid) in str(info.value)
    _assert_no_secret(info.value, KEY32, SECRET)


@pytest.mark.parametrize("call", NOT_INTS)
def test_non_int_argument_type_error(backend: Backend, call: Call) -> None:
    """None or a str where an int belongs: TypeError, the same on both backends."""
    with pytest.raises(TypeError) as info:
        call(backend)
    _assert_no_secret(info.value, KEY32, SECRET)


def _derive(b: Backend, encr_id: int, bits: int, integ_id: int) -> object:
    return b.keymat_derive(6, encr_id, bits, integ_id, SECRET, NI, NR, SPI_I, SPI_R)


def _rekey(b: Backend, encr_id: int, integ_id: int) -> object:
    return _keymat(b).rekey_ike(
        [SECRET], NI, NR, SPI_I, SPI_R, 5, encr_id, 128, integ_id
    )


_AEAD_INTEG = "an AEAD ENCR takes no INTEG transform"
_CBC_INTEG = "ENCR 12 needs an INTEG transform"
_SEQUENCE = "expected a sequence of bytes-like objects, got "
# Calls whose exception both backends must word the same (docs/contracts.md §2), as
# (id, text, call): the class and the text, which names the contract and never PyO3's
# internals; " | " joins a TypeError's argument note.
SAME_TEXT: list[tuple[str, str, Call]] = [
    ("keymat-aead-with-integ", _AEAD_INTEG, lambda b: _derive(b, 20, 256, 12)),
    ("keymat-aead-unknown-integ", _AEAD_INTEG, lambda b: _derive(b, 28, 0, 99)),
    ("keymat-cbc-without-integ", _CBC_INTEG, lambda b: _derive(b, 12, 256, 0)),
    ("rekey-aead-with-integ", _AEAD_INTEG, lambda b: _rekey(b, 20, 12)),
    ("rekey-cbc-without-integ", _CBC_INTEG, lambda b: _rekey(b, 12, 0)),
    (
        "cipher-aead-with-integ",
        _AEAD_INTEG,
        lambda b: b.ike_cipher(20, 256, 12, SALTED, KEY32),
    ),
    ("cipher-cbc-without-integ", _CBC_INTEG, lambda b: b.ike_cipher(12, 256, 0, KEY32)),
    (
        "keymat-unknown-integ",
        "unsupported transform type 3 (INTEG) id 99",
        lambda b: _derive(b, 12, 128, 99),
    ),
    (
        "unknown-ke",
        "unsupported transform type 4 (KE) id 99",
        lambda b: b.key_exchange(99),
    ),
    (
        "prf-id-above-16-bits",
        "unsupported transform type 2 (PRF) id 70000",
        lambda b: b.prf(70000, KEY32, b"x"),
    ),
    (
        "child-keymat-str",
        f"{_SEQUENCE}str | while processing 'shared_secrets'",
        lambda b: _keymat(b).child_keymat(36, NI, NR, "abc"),
    ),
    (
        "seal-batch-none",
        f"{_SEQUENCE}NoneType | while processing 'payloads'",
        lambda b: b.esp_sa(1, 20, SALTED).seal_batch(None, 4),  # type: ignore[arg-type]
    ),
    (
        "open-batch-bytes",
        "expected a bytes-like object (bytes, bytearray or memoryview), got int"
        " | while processing 'packets'",
        lambda b: b.esp_sa(1, 20, SALTED).open_batch(b"\x00\x01"),  # type: ignore[arg-type]
    ),
    (
        "esn-none",
        "'NoneType' object is not an instance of 'bool' | while processing 'esn'",
        lambda b: b.esp_sa(1, 20, SALTED, esn=None),  # type: ignore[arg-type]
    ),
    (
        "keymat-key-bits-float",
        "'float' object cannot be interpreted as an integer"
        " | while processing 'encr_key_bits'",
        lambda b: _derive(b, 20, 128.0, 0),  # type: ignore[arg-type]
    ),
]


def _text(exc: BaseException) -> str:
    """The message, and for a TypeError the argument note (PyO3 also notes other
    argument errors, which the contract does not ask of the reference backend)."""
    if not isinstance(exc, TypeError):
        return str(exc)
    return " | ".join([str(exc), *getattr(exc, "__notes__", [])])


@pytest.mark.parametrize(
    ("text", "call"), [pytest.param(text, call, id=i) for i, text, call in SAME_TEXT]
)
def test_error_texts_agree(
    rust_backend: Backend, reference_backend: Backend, text: str, call: Call
) -> None:
    """Both backends raise the same class with the same text (and argument note)."""
    raised = []
    for backend in (rust_backend, reference_backend):
        with pytest.raises((TypeError, ValueError)) as info:
            call(backend)
        raised.append((type(info.value), _text(info.value)))
    assert raised[0] == raised[1]
    assert raised[0][1] == text
    assert "Can't extract" not in text
