# SPDX-License-Identifier: Apache-2.0
"""Bad input is answered as RFC 7296 §2.21 says or dropped, and never disturbs the
responder's other SAs: after every case a second peer's established SA still passes
a liveness check and ESP, and a fresh handshake still succeeds."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from pqike.crypto import Backend
from pqike.ikev2.codec.header import IkeHeader
from pqike.ikev2.codec.message import Message, decode_message, encode_message
from pqike.ikev2.codec.payloads import NotifyPayload, UnknownPayload
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.constants import NON_ESP_MARKER, ExchangeType, HeaderFlag, NotifyType
from pqike.ikev2.events import (
    ChildEstablished,
    ConnectionFailed,
    EspReceived,
    ExchangeCompleted,
    IkeEstablished,
)
from pqike.ikev2.manager import Encoded

from .helpers import (
    I_ADDR,
    PORTS,
    R_ADDR,
    Channel,
    Peer,
    initiator_and_responder,
    roundtrip,
)

OTHER_ADDR = "192.0.2.3"


def _setup(backend: Backend, **options: Any) -> tuple[Peer, Peer, Peer]:
    """``(i, r, other)``: ``other`` already has an established SA with ``r``."""
    i, r = initiator_and_responder(backend, **options)
    other, _ = initiator_and_responder(
        backend, initiator_addr=OTHER_ADDR, seed="other", **options
    )
    other.name = "o"
    other.ep.initiate("conn", 0.0)
    roundtrip(other, r)
    assert other.of(IkeEstablished)
    return i, r, other


def _inject(r: Peer, data: bytes, src: str = I_ADDR, natt: bool = False) -> list[bytes]:
    """Deliver one datagram to ``r``; return what ``r`` answers to its source."""
    port = PORTS[1] if natt else PORTS[0]
    r.ep.receive_datagram(data, (R_ADDR, port), (src, port), 100.0)
    out = [d for d, _, remote in r.ep.datagrams_to_send(100.0) if remote[0] == src]
    r.drain()
    return out


def _still_serving(r: Peer, other: Peer) -> None:
    """``other``'s SA with ``r`` survives: liveness, then ESP both ways."""
    sa = other.of(IkeEstablished)[0].sa
    before = len(other.of(ExchangeCompleted))
    other.ep.send_liveness(sa, 200.0)
    roundtrip(other, r, now=200.0)
    assert other.of(ExchangeCompleted)[before:][0].exchange == "INFORMATIONAL"
    assert not other.of(ConnectionFailed)
    child_o = other.of(ChildEstablished)[0].child
    r_child = next(
        e.child
        for e in r.of(ChildEstablished)
        if e.spi_out == other.of(ChildEstablished)[0].spi_in
    )
    other.ep.send_esp(child_o, b"still there?")
    r.ep.send_esp(r_child, b"yes")
    roundtrip(other, r, now=201.0)
    assert r.of(EspReceived)[-1].payload == b"still there?"
    assert other.of(EspReceived)[-1].payload == b"yes"


def _first_init(i: Peer) -> bytes:
    i.ep.initiate("conn", 0.0)
    return i.ep.datagrams_to_send(0.0)[0][0]


def _notify_of(data: bytes) -> tuple[int, bytes]:
    msg = decode_message(data)
    n = msg.payloads[0]
    assert isinstance(n, NotifyPayload)
    return n.notify_type, n.data


@pytest.mark.parametrize("cut", [0, 1, 4, 27, 28, 29, 60, -1])
def test_truncated_ike_sa_init_is_dropped(backend: Backend, cut: int) -> None:
    i, r, other = _setup(backend)
    data = _first_init(i)
    assert _inject(r, data[:cut]) == []
    assert len(r.ep.ike_sas()) == 1
    _still_serving(r, other)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(
            lambda d: d[:24] + (len(d) + 5).to_bytes(4, "big") + d[28:],
            id="header-length-too-big",
        ),
        pytest.param(
            lambda d: d[:24] + (20).to_bytes(4, "big") + d[28:],
            id="header-length-below-28",
        ),
        pytest.param(lambda d: d[:30] + b"\xff\xff" + d[32:], id="payload-length"),
        pytest.param(lambda d: d[:30] + b"\x00\x02" + d[32:], id="payload-too-short"),
        pytest.param(lambda d: d[:17] + b"\x10" + d[18:], id="major-version-1"),
        pytest.param(lambda d: d + b"\x00" * 7, id="trailing-octets"),
    ],
)
def test_bad_lengths_are_dropped(
    backend: Backend, mangle: Callable[[bytes], bytes]
) -> None:
    i, r, other = _setup(backend)
    assert _inject(r, mangle(_first_init(i))) == []
    assert len(r.ep.ike_sas()) == 1
    _still_serving(r, other)


def test_unknown_critical_payload_in_ike_sa_init(backend: Backend) -> None:
    i, r, other = _setup(backend)
    msg = decode_message(_first_init(i))
    bad = Message(msg.header, (*msg.payloads, UnknownPayload(200, True, b"zz")))
    answer = _inject(r, encode_message(bad))
    assert [_notify_of(a) for a in answer] == [
        (NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, bytes([200]))
    ]
    assert len(r.ep.ike_sas()) == 1
    _still_serving(r, other)


def test_unknown_noncritical_payload_is_ignored(backend: Backend) -> None:
    i, r, other = _setup(backend)
    msg = decode_message(_first_init(i))
    odd = Message(msg.header, (*msg.payloads, UnknownPayload(200, False, b"zz")))
    (answer,) = _inject(r, encode_message(odd))
    reply = decode_message(answer)
    assert reply.find(SaPayload) is not None
    assert reply.find(NotifyPayload) is None or not any(
        n.notify_type < 16384 for n in reply.find_all(NotifyPayload)
    )
    _still_serving(r, other)


@pytest.mark.parametrize("natt", [False, True])
def test_garbage_is_dropped(backend: Backend, natt: bool) -> None:
    _i, r, other = _setup(backend)
    for size in (1, 3, 8, 28, 100, 1500):
        junk = os.urandom(size)
        assert _inject(r, junk, natt=natt) == []
        assert _inject(r, NON_ESP_MARKER + junk, natt=True) == []
    assert len(r.ep.ike_sas()) == 1
    _still_serving(r, other)


def _protected(other: Peer, exchange: int, mid: int, payloads: list[Any]) -> bytes:
    """A correctly encrypted request on ``other``'s established SA."""
    sa = other.ep.ike_sas()[0]
    header = IkeHeader(sa.spi_i, sa.spi_r, exchange, int(HeaderFlag.INITIATOR), mid)
    enc: Encoded = sa.manager.encode(header, payloads, sa.cipher_out())
    return NON_ESP_MARKER + enc.datagrams[0]


def _open_answer(other: Peer, data: bytes) -> list[Any]:
    sa = other.ep.ike_sas()[0]
    opened = sa.manager.open(data[4:], decode_message(data[4:]).header, sa.cipher_in())
    assert opened is not None
    return list(opened.payloads)


@pytest.mark.parametrize("offset", [1, 2, 100, 2**31])
def test_message_id_outside_window_is_dropped(backend: Backend, offset: int) -> None:
    _, r, other = _setup(backend)
    mid = other.ep.ike_sas()[0].manager.next_mid + offset
    data = _protected(other, ExchangeType.INFORMATIONAL, mid, [])
    assert _inject(r, data, src=OTHER_ADDR, natt=True) == []
    _still_serving(r, other)


def test_unknown_critical_payload_on_established_sa(backend: Backend) -> None:
    _, r, other = _setup(backend)
    sa = other.ep.ike_sas()[0]
    data = _protected(
        other,
        ExchangeType.INFORMATIONAL,
        sa.manager.next_mid,
        [UnknownPayload(222, True, b"?")],
    )
    answer = _inject(r, data, src=OTHER_ADDR, natt=True)
    assert len(answer) == 1
    (n,) = _open_answer(other, answer[0])
    assert (n.notify_type, n.data) == (NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, b"\xde")
    sa.manager.next_mid += 1  # that MID is used up now
    _still_serving(r, other)


def test_bad_icv_is_dropped(backend: Backend) -> None:
    _, r, other = _setup(backend)
    sa = other.ep.ike_sas()[0]
    data = bytearray(
        _protected(other, ExchangeType.INFORMATIONAL, sa.manager.next_mid, [])
    )
    data[-1] ^= 1
    assert _inject(r, bytes(data), src=OTHER_ADDR, natt=True) == []
    _still_serving(r, other)


def test_ike_auth_replayed_after_establishment_gets_cached_answer(
    backend: Backend,
) -> None:
    _, r, other = _setup(backend)
    sa = other.ep.ike_sas()[0]
    # a retransmitted old request (MID of IKE_AUTH) is answered from the cache only
    data = _protected(other, ExchangeType.IKE_AUTH, sa.manager.next_mid - 1, [])
    answers = _inject(r, data, src=OTHER_ADDR, natt=True)
    assert len(answers) == 1
    assert decode_message(answers[0][4:]).header.exchange_type == ExchangeType.IKE_AUTH
    _still_serving(r, other)


# -- ML-KEM recipient tests (draft-ietf-ipsecme-ikev2-mlkem §2.2) ----------------


class _MangledKe:
    def __init__(self, inner: Any, mangle: Callable[[bytes], bytes]) -> None:
        self.inner, self.mangle = inner, mangle

    @property
    def method(self) -> int:
        return int(self.inner.method)

    def public_key(self) -> bytes:
        return self.mangle(self.inner.public_key())

    def set_peer_public(self, data: bytes) -> None:
        self.inner.set_peer_public(data)

    def shared_secret(self) -> bytes:
        return bytes(self.inner.shared_secret())


class _MangleBackend:
    """Wraps a backend; the KE data of one method is mangled on the way out."""

    def __init__(self, inner: Backend, method: int, mangle: Callable[[bytes], bytes]):
        self.inner, self.method, self.mangle = inner, method, mangle

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def key_exchange(self, method: int, seed: bytes | None = None) -> Any:
        kx = self.inner.key_exchange(method, seed)
        return _MangledKe(kx, self.mangle) if method == self.method else kx


def _bad_modulus(ek: bytes) -> bytes:
    """Set the first 12-bit coefficient to 4095 >= q = 3329 (FIPS 203 §7.2)."""
    return b"\xff" + bytes([ek[1] | 0x0F]) + ek[2:]


@pytest.mark.parametrize(
    ("ike", "mangle"),
    [
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem768", _bad_modulus),
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem768", lambda ek: ek[:-1]),
        ("aes256gcm16-prfsha384-mlkem768", _bad_modulus),
    ],
)
def test_bad_mlkem_ek_answered_invalid_syntax(
    backend: Backend, ike: str, mangle: Callable[[bytes], bytes]
) -> None:
    i, r, other = _setup(backend, ike=ike, fragment_size=9000)
    i.ep.backend = _MangleBackend(backend, 36, mangle)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, other)
    failed = i.of(ConnectionFailed)
    assert failed
    assert failed[0].notify == NotifyType.INVALID_SYNTAX
    assert i.ep.ike_sas() == []
    assert len(r.ep.ike_sas()) == 1  # only other's SA
    _still_serving(r, other)


@pytest.mark.parametrize(
    "mangle", [lambda ct: ct[:-1], lambda ct: ct + b"\x00"], ids=["short", "long"]
)
def test_bad_mlkem_ciphertext_initiator_fails_and_sends_nothing(
    backend: Backend, mangle: Callable[[bytes], bytes]
) -> None:
    i, r = initiator_and_responder(backend)
    r.ep.backend = _MangleBackend(backend, 36, mangle)
    channel = Channel()
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel)
    assert i.of(ConnectionFailed)
    assert not i.of(IkeEstablished)
    senders = [s for s, _ in channel.log]
    last_r = len(senders) - 1 - senders[::-1].index("r")
    assert "i" not in senders[last_r + 1 :]  # nothing after the bad ciphertext
    exchanges = [
        decode_message(d[4:] if d[:4] == bytes(4) else d).header.exchange_type
        for s, d in channel.log
        if s == "i"
    ]
    assert ExchangeType.IKE_AUTH not in exchanges
    assert i.ep.ike_sas() == []


def test_random_mutations_of_a_handshake_never_raise(backend: Backend) -> None:
    """Bit flips, truncations and duplicates of every real message: no exception,
    and the responder's established SA with another peer is unaffected."""
    import random

    i, r, other = _setup(backend)
    channel = Channel()
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel)
    rand = random.Random(7)
    for _, data in channel.log:
        for _ in range(20):
            mutated = bytearray(data)
            for _ in range(rand.randint(1, 4)):
                mutated[rand.randrange(len(mutated))] ^= 1 << rand.randrange(8)
            cut = rand.choice([len(mutated), rand.randrange(len(mutated) + 1)])
            port = PORTS[1] if data[:4] == bytes(4) else PORTS[0]
            for target, src in ((r, I_ADDR), (i, R_ADDR)):
                target.ep.receive_datagram(
                    bytes(mutated[:cut]), (target.addr, port), (src, port), 50.0
                )
                target.ep.datagrams_to_send(50.0)
    _still_serving(r, other)


@pytest.mark.parametrize(
    ("exchange", "notify"),
    [
        (ExchangeType.CREATE_CHILD_SA, NotifyType.INVALID_SYNTAX),  # no SA payload
        (ExchangeType.IKE_FOLLOWUP_KE, NotifyType.STATE_NOT_FOUND),  # nothing pending
        (ExchangeType.IKE_INTERMEDIATE, NotifyType.INVALID_SYNTAX),  # after IKE_AUTH
    ],
)
def test_request_refused_on_established_sa_without_harm(
    backend: Backend, exchange: int, notify: int
) -> None:
    _, r, other = _setup(backend)
    sa = other.ep.ike_sas()[0]
    data = _protected(other, exchange, sa.manager.next_mid, [])
    (answer,) = _inject(r, data, src=OTHER_ADDR, natt=True)
    (n,) = _open_answer(other, answer)
    assert n.notify_type == notify
    sa.manager.next_mid += 1
    _still_serving(r, other)


def test_unknown_exchange_type_dropped(backend: Backend) -> None:
    _, r, other = _setup(backend)
    sa = other.ep.ike_sas()[0]
    data = _protected(other, 99, sa.manager.next_mid, [])
    assert _inject(r, data, src=OTHER_ADDR, natt=True) == []
    _still_serving(r, other)
