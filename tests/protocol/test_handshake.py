# SPDX-License-Identifier: Apache-2.0
"""Full handshakes between two in-memory endpoints (IKE_SA_INIT .. IKE_AUTH + ESP)."""

from __future__ import annotations

import pytest

from pqike.crypto import Backend
from pqike.ikev2.events import (
    ChildDeleted,
    ChildEstablished,
    EspReceived,
    ExchangeCompleted,
    IkeEstablished,
)

from .helpers import Channel, Peer, initiator_and_responder, roundtrip


def establish(backend: Backend, **options: object) -> tuple[Peer, Peer]:
    """Run a handshake and check both sides report IKE and Child SA up."""
    i, r = initiator_and_responder(backend, **options)  # type: ignore[arg-type]
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert i.of(IkeEstablished), i.events
    assert r.of(IkeEstablished), r.events
    assert i.of(ChildEstablished), i.events
    assert r.of(ChildEstablished), r.events
    return i, r


def exchanges(peer: Peer) -> list[str]:
    return [e.exchange for e in peer.of(ExchangeCompleted)]


def esp_both_ways(i: Peer, r: Peer) -> None:
    ci = i.of(ChildEstablished)[0].child
    cr = r.of(ChildEstablished)[0].child
    i.ep.send_esp(ci, b"ping from initiator")
    r.ep.send_esp(cr, b"pong from responder", 41)
    roundtrip(i, r)
    assert [(e.payload, e.next_header) for e in r.of(EspReceived)] == [
        (b"ping from initiator", 4)
    ]
    assert [(e.payload, e.next_header) for e in i.of(EspReceived)] == [
        (b"pong from responder", 41)
    ]


def test_hybrid_x25519_mlkem768_establishes_with_esp(backend: Backend) -> None:
    i, r = establish(backend)
    assert exchanges(i) == ["IKE_SA_INIT", "IKE_INTERMEDIATE", "IKE_AUTH"]
    suite = i.of(IkeEstablished)[0].suite
    assert (suite.ke, suite.addke) == ("CURVE25519", ("ML_KEM_768",))
    assert suite == r.of(IkeEstablished)[0].suite
    esp_both_ways(i, r)


@pytest.mark.parametrize(
    "ike",
    [
        "aes256gcm16-prfsha384-x25519",
        "aes128gcm16-prfsha256-ecp256",
        "aes256gcm16-prfsha384-mlkem768",
    ],
)
def test_single_ke_without_addke(backend: Backend, ike: str) -> None:
    i, r = establish(backend, ike=ike, fragment_size=9000)
    assert exchanges(i) == ["IKE_SA_INIT", "IKE_AUTH"]
    assert i.of(IkeEstablished)[0].suite.addke == ()
    esp_both_ways(i, r)


@pytest.mark.parametrize("kem", ["mlkem512", "mlkem768", "mlkem1024"])
def test_one_mlkem_addke_of_each_size(backend: Backend, kem: str) -> None:
    method = {"mlkem512": 35, "mlkem768": 36, "mlkem1024": 37}[kem]
    if not backend.supports(4, method):
        pytest.skip(f"{backend.name} backend has no {kem}")
    i, r = establish(backend, ike=f"aes256gcm16-prfsha384-x25519-ke1_{kem}")
    assert exchanges(i) == ["IKE_SA_INIT", "IKE_INTERMEDIATE", "IKE_AUTH"]
    assert i.of(IkeEstablished)[0].suite.addke == (f"ML_KEM_{kem[5:]}",)
    esp_both_ways(i, r)


def test_two_addke_rounds_in_type_order(backend: Backend) -> None:
    i, r = establish(
        backend, ike="aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_ecp256"
    )
    details = [e.detail for e in i.of(ExchangeCompleted)]
    assert details[1:3] == ["KE round 1 of 2: ML_KEM_768", "KE round 2 of 2: ECP_256"]
    assert [e.detail for e in r.of(ExchangeCompleted)][1:3] == details[1:3]
    assert exchanges(i) == [
        "IKE_SA_INIT",
        "IKE_INTERMEDIATE",
        "IKE_INTERMEDIATE",
        "IKE_AUTH",
    ]
    assert i.of(IkeEstablished)[0].suite.addke == ("ML_KEM_768", "ECP_256")
    esp_both_ways(i, r)


def test_seven_addke_rounds(backend: Backend) -> None:
    if not all(backend.supports(4, m) for m in (35, 36, 37, 19, 20, 21, 32)):
        pytest.skip(f"{backend.name} backend lacks a method")
    ike = (
        "aes256gcm16-prfsha512-x25519-ke1_mlkem512-ke2_mlkem768-ke3_mlkem1024"
        "-ke4_ecp256-ke5_ecp384-ke6_ecp521-ke7_x448"
    )
    i, r = establish(backend, ike=ike)
    assert exchanges(i) == ["IKE_SA_INIT", *["IKE_INTERMEDIATE"] * 7, "IKE_AUTH"]
    assert len(r.of(IkeEstablished)[0].suite.addke) == 7
    esp_both_ways(i, r)


def test_mlkem1024_intermediate_is_fragmented_and_reassembled(backend: Backend) -> None:
    i, r = establish(backend, ike="aes256gcm16-prfsha384-x25519-ke1_mlkem1024")
    inter = [e for e in i.of(ExchangeCompleted) if e.exchange == "IKE_INTERMEDIATE"]
    assert inter[0].request_fragments == 2
    assert inter[0].response_fragments == 2
    assert inter[0].request_size > 1568
    assert inter[0].response_size > 1568
    r_inter = [e for e in r.of(ExchangeCompleted) if e.exchange == "IKE_INTERMEDIATE"]
    assert r_inter[0].request_fragments == 2
    esp_both_ways(i, r)


def test_transport_mode(backend: Backend) -> None:
    i, r = establish(backend, mode="transport")
    assert i.of(ChildEstablished)[0].mode == "transport"
    assert r.of(ChildEstablished)[0].mode == "transport"


@pytest.mark.parametrize(
    ("initiator_id", "responder_id"),
    [
        ("192.0.2.1", "2001:db8::2"),
        ("user@pq.test", "keyid:#0a0b0c"),
    ],
)
def test_identity_types(backend: Backend, initiator_id: str, responder_id: str) -> None:
    establish(backend, initiator_id=initiator_id, responder_id=responder_id)


def test_handshake_is_replayable_byte_for_byte(backend: Backend) -> None:
    if backend.name == "reference":
        pytest.skip("pyca cannot encapsulate ML-KEM from a seed")
    logs = []
    for _ in range(2):
        i, r = initiator_and_responder(backend)
        i.ep.initiate("conn", 0.0)
        channel = Channel()
        roundtrip(i, r, channel=channel)
        logs.append(channel.log)
    assert logs[0] == logs[1]


def test_responder_picks_connection_and_psk_by_idi(backend: Backend) -> None:
    """Two %any connections with different peer IDs and PSKs on one responder."""
    from dataclasses import replace

    i, r = initiator_and_responder(backend)
    other, _ = initiator_and_responder(
        backend,
        initiator_addr="192.0.2.3",
        initiator_id="fqdn:other.pq.test",
        psk=b"the other peer's own key",
        seed="o",
    )
    other.name = "o"
    conn = r.ep.config.connections["conn"]
    second = replace(
        conn,
        name="conn2",
        remote_id=other.ep.config.connections["conn"].local_id,
        psk=b"the other peer's own key",
    )
    r.ep.config = replace(r.ep.config, connections={"conn": conn, "conn2": second})
    i.ep.initiate("conn", 0.0)
    other.ep.initiate("conn", 0.0)
    roundtrip(i, r, other)
    assert i.of(IkeEstablished)
    assert other.of(IkeEstablished)
    assert sorted(e.conn_name for e in r.of(IkeEstablished)) == ["conn", "conn2"]


def test_traffic_selectors_are_narrowed(backend: Backend) -> None:
    """The initiator asks for 10.2.0.0/16; the responder only has 10.2.0.0/24."""
    i, r = establish(backend)
    child_i = i.ep.ike_sas()[0].children[i.of(ChildEstablished)[0].child]
    remote = child_i.remote_ts[0]
    assert (remote.start_addr, remote.end_addr) == (
        bytes([10, 2, 0, 0]),
        bytes([10, 2, 0, 255]),
    )
    child_r = r.ep.ike_sas()[0].children[r.of(ChildEstablished)[0].child]
    assert child_r.local_ts[0] == remote


@pytest.mark.parametrize("size", [576, 700])
def test_small_fragment_size_many_fragments(backend: Backend, size: int) -> None:
    i, r = establish(
        backend, ike="aes256gcm16-prfsha384-x25519-ke1_mlkem1024", fragment_size=size
    )
    inter = next(e for e in i.of(ExchangeCompleted) if e.exchange == "IKE_INTERMEDIATE")
    assert inter.request_fragments >= 3
    assert inter.response_fragments >= 3
    esp_both_ways(i, r)


def test_half_open_limit_drops_new_ike_sa_init(backend: Backend) -> None:
    from dataclasses import replace

    i, r = initiator_and_responder(backend)
    r.ep.config = replace(r.ep.config, half_open_limit=0)
    i.ep.initiate("conn", 0.0)
    for data, local, remote in i.ep.datagrams_to_send(0.0):
        r.ep.receive_datagram(data, remote, local, 0.0)
    assert r.ep.datagrams_to_send(0.0) == []
    assert r.ep.ike_sas() == []


def test_many_sas_on_one_port_pair(backend: Backend) -> None:
    """100 IKE SAs between the same two endpoints, demultiplexed by SPI."""
    i, r = initiator_and_responder(backend, ike="aes256gcm16-prfsha384-x25519")
    handles = [i.ep.initiate("conn", 0.0) for _ in range(100)]
    roundtrip(i, r, max_steps=5000)
    assert len(i.of(IkeEstablished)) == len(r.of(IkeEstablished)) == 100
    assert len(set(handles)) == 100
    for ev in i.of(ChildEstablished):
        i.ep.send_esp(ev.child, ev.child.to_bytes(4, "big"))
    roundtrip(i, r)
    by_child = {e.child: e.payload for e in r.of(EspReceived)}
    pairs = {e.spi_in: e.spi_out for e in r.of(ChildEstablished)}
    assert len(by_child) == 100
    assert all(int.from_bytes(p, "big") == pairs[c] for c, p in by_child.items())
    assert i.ep.get_timer() is None


def _scan_half_open(peer: Peer) -> int:
    from pqike.ikev2.sa import SaState

    return sum(
        1
        for sa in peer.ep.sas.values()
        if not sa.is_initiator and sa.state is SaState.CONNECTING
    )


def _half_open_init(i: Peer, r: Peer, count: int) -> None:
    """``count`` IKE_SA_INIT requests reach the responder; its answers are lost."""
    for _ in range(count):
        i.ep.initiate("conn", 0.0)
    for data, local, remote in i.ep.datagrams_to_send(0.0):
        r.ep.receive_datagram(data, remote, local, 0.0)
    r.ep.datagrams_to_send(0.0)


def test_half_open_count_follows_sa_lifecycle(backend: Backend) -> None:
    """The admission count (kept incrementally, issue #5) equals a scan of every SA
    while SAs stay half-open, come up, time out and are forgotten."""
    i, r = initiator_and_responder(backend, ike="aes256gcm16-prfsha384-x25519")
    _half_open_init(i, r, 3)
    assert r.ep._half_open() == _scan_half_open(r) == 3
    roundtrip(i, r)  # retransmissions bring all three up
    assert r.ep._half_open() == _scan_half_open(r) == 0
    assert len(r.ep.ike_sas()) == 3
    _half_open_init(i, r, 2)
    assert r.ep._half_open() == _scan_half_open(r) == 2
    r.ep.handle_timer(61.0)  # HALF_OPEN_TIMEOUT: the two fail and linger
    assert r.ep._half_open() == _scan_half_open(r) == 0
    r.ep.handle_timer(200.0)  # the linger time ends: forgotten
    assert r.ep._half_open() == _scan_half_open(r) == 0


@pytest.mark.parametrize(
    ("ike", "expected"),
    [
        ("aes256gcm16-prfsha256-x25519-ke5_ecp384", "CURVE25519/ADDKE5=ECP_384"),
        (
            "aes256gcm16-prfsha256-x25519-ke2_ecp256-ke7_mlkem768",
            "CURVE25519/ADDKE2=ECP_256/ADDKE7=ML_KEM_768",
        ),
    ],
)
def test_suite_text_numbers_rounds_by_their_transform_type(
    rust_backend: Backend, ike: str, expected: str
) -> None:
    # RFC 9370 §2.2.1: ADDKEn is Transform Type 5+n; a proposal may skip numbers, and
    # the suite must name the type that was negotiated, not the position in the list.
    i, r = establish(rust_backend, ike=ike)
    text = str(i.of(IkeEstablished)[0].suite)
    assert text.endswith(expected), text
    assert str(r.of(IkeEstablished)[0].suite) == text


def test_peer_esp_spi_zero_is_refused_and_the_ike_sa_survives(
    rust_backend: Backend,
) -> None:
    # RFC 4303 §2.1: SPI 0 is reserved and never sent. A peer that offers it gets
    # NO_PROPOSAL_CHOSEN for the child; the IKE SA itself is still established.
    i, r = initiator_and_responder(rust_backend)
    i.ep._ctx.alloc_esp_spi = lambda: 0
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert i.of(IkeEstablished), i.events
    assert r.of(IkeEstablished), r.events
    assert not i.of(ChildEstablished)
    assert not r.of(ChildEstablished)
    refused = [e.reason for e in i.of(ChildDeleted)]
    assert any("NO_PROPOSAL_CHOSEN" in reason for reason in refused), refused
