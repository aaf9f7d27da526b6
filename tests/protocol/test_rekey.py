# SPDX-License-Identifier: Apache-2.0
"""Child SA rekeying with CREATE_CHILD_SA and RFC 9370 IKE_FOLLOWUP_KE rounds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pqike.crypto import Backend
from pqike.ikev2.events import (
    ChildDeleted,
    ChildEstablished,
    ChildRekeyed,
    EspReceived,
    ExchangeCompleted,
    IkeDeleted,
    IkeEstablished,
    IkeRekeyed,
)
from pqike.proposals import parse_proposal

from .helpers import Channel, Peer, initiator_and_responder, roundtrip
from .test_handshake import establish


def _rekey(i: Peer, r: Peer, who: Peer, channel: Channel | None = None) -> None:
    sa = who.of(IkeEstablished)[0].sa
    child = who.of(ChildEstablished)[0].child
    who.ep.rekey_child(sa, child, 10.0)
    roundtrip(i, r, now=10.0, channel=channel, max_steps=2000)


def _check_rekeyed(i: Peer, r: Peer, exchanges: list[str]) -> None:
    for peer in (i, r):
        (rekeyed,) = peer.of(ChildRekeyed)
        assert rekeyed.child == peer.of(ChildEstablished)[0].child
        assert rekeyed.new_child == peer.of(ChildEstablished)[1].child
        assert [e.child for e in peer.of(ChildDeleted)] == [rekeyed.child]
        sa = peer.ep.ike_sas()[0]
        assert list(sa.children) == [rekeyed.new_child]
    done = [e.exchange for e in i.of(ExchangeCompleted)][3:]
    assert done[: len(exchanges)] == exchanges
    # ESP flows over the new Child SA pair, both ways
    i.ep.send_esp(i.of(ChildRekeyed)[0].new_child, b"after rekey i")
    r.ep.send_esp(r.of(ChildRekeyed)[0].new_child, b"after rekey r")
    roundtrip(i, r, now=20.0)
    assert r.of(EspReceived)[-1].payload == b"after rekey i"
    assert i.of(EspReceived)[-1].payload == b"after rekey r"


def test_child_rekey_without_pfs(backend: Backend) -> None:
    i, r = establish(backend)
    _rekey(i, r, i)
    _check_rekeyed(i, r, ["CREATE_CHILD_SA", "INFORMATIONAL"])


def test_child_rekey_with_ke_and_addke_followup(backend: Backend) -> None:
    i, r = establish(backend, esp="aes256gcm16-x25519-ke1_mlkem768")
    _rekey(i, r, i)
    _check_rekeyed(i, r, ["CREATE_CHILD_SA", "IKE_FOLLOWUP_KE", "INFORMATIONAL"])


def test_child_rekey_two_followups_under_loss_from_responder(backend: Backend) -> None:
    i, r = establish(backend, esp="aes256gcm16-x25519-ke1_mlkem768-ke2_ecp256")
    _rekey(i, r, r, Channel(loss=0.3, duplicate=0.2, reorder=True, seed=5))
    done = [e.exchange for e in r.of(ExchangeCompleted) if e.is_initiator]
    assert done == [
        "CREATE_CHILD_SA",
        "IKE_FOLLOWUP_KE",
        "IKE_FOLLOWUP_KE",
        "INFORMATIONAL",
    ]
    assert len(i.of(ChildRekeyed)) == len(r.of(ChildRekeyed)) == 1
    i.ep.send_esp(i.of(ChildRekeyed)[0].new_child, b"x")
    roundtrip(i, r, now=50.0)
    assert r.of(EspReceived)[-1].payload == b"x"


@pytest.mark.parametrize(
    ("ike", "rounds"),
    [
        ("aes256gcm16-prfsha384-x25519", 0),
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem768", 1),
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_ecp256", 2),
    ],
)
@pytest.mark.parametrize("who", ["initiator", "responder"])
def test_ike_sa_rekey(backend: Backend, ike: str, rounds: int, who: str) -> None:
    i, r = establish(backend, ike=ike)
    starter = i if who == "initiator" else r
    old = starter.of(IkeEstablished)[0].sa
    starter.ep.rekey_ike(old, 10.0)
    roundtrip(
        i, r, now=10.0, channel=Channel(loss=0.2, duplicate=0.2, seed=9), max_steps=3000
    )
    done = [e.exchange for e in starter.of(ExchangeCompleted) if e.is_initiator]
    assert done[-(rounds + 2) :] == [
        "CREATE_CHILD_SA",
        *["IKE_FOLLOWUP_KE"] * rounds,
        "INFORMATIONAL",
    ]
    for peer in (i, r):
        (rekeyed,) = peer.of(IkeRekeyed)
        assert [e.sa for e in peer.of(IkeDeleted)] == [rekeyed.sa]
        (new,) = peer.ep.ike_sas()
        assert new.handle == rekeyed.new_sa
        assert (new.spi_i, new.spi_r) != (
            peer.of(IkeEstablished)[0].spi_i,
            peer.of(IkeEstablished)[0].spi_r,
        )
        assert list(new.children) == [peer.of(ChildEstablished)[0].child]
    # the new IKE SA works: liveness, a Child SA rekey, and ESP on the moved child
    new_i = i.ep.ike_sas()[0].handle
    i.ep.send_liveness(new_i, 30.0)
    roundtrip(i, r, now=30.0)
    assert i.of(ExchangeCompleted)[-1].exchange == "INFORMATIONAL"
    i.ep.rekey_child(new_i, i.of(ChildEstablished)[0].child, 31.0)
    roundtrip(i, r, now=31.0)
    i.ep.send_esp(i.of(ChildRekeyed)[0].new_child, b"new generation")
    roundtrip(i, r, now=32.0)
    assert r.of(EspReceived)[-1].payload == b"new generation"
    assert i.ep.ike_sas()[0].spi_i == r.ep.ike_sas()[0].spi_i


@pytest.mark.parametrize("esp", ["aes256gcm16-x25519", "aes256gcm16-ecp256-ke1_x25519"])
def test_rekey_invalid_ke_retry(backend: Backend, esp: str) -> None:
    i, r = establish(backend, esp=f"aes256gcm16-ecp384-{esp.split('-', 1)[1]}")
    # the responder only accepts the second Type 4 method
    conn = r.ep.config.connections["conn"]
    child = replace(conn.children[0], esp_proposals=(parse_proposal(esp, "esp"),))
    r.ep.config = replace(
        r.ep.config, connections={"conn": replace(conn, children=(child,))}
    )
    r.ep.ike_sas()[0].conn = r.ep.config.connections["conn"]
    _rekey(i, r, i)
    assert len(i.of(ChildRekeyed)) == len(r.of(ChildRekeyed)) == 1
    done = [e.exchange for e in i.of(ExchangeCompleted)][3:]
    assert done[:2] == ["CREATE_CHILD_SA", "CREATE_CHILD_SA"]  # INVALID_KE, retry


def test_second_child_of_a_connection_via_create_child_sa(backend: Backend) -> None:
    from pqike.config import TrafficSelector

    i, r = initiator_and_responder(backend, esp="aes256gcm16-x25519-ke1_mlkem768")
    for peer, local, remote in (
        (i, "10.3.0.0/24", "10.4.0.0/24"),
        (r, "10.4.0.0/24", "10.3.0.0/24"),
    ):
        conn = peer.ep.config.connections["conn"]
        extra = replace(
            conn.children[0],
            name="second",
            local_ts=(TrafficSelector.parse(local),),
            remote_ts=(TrafficSelector.parse(remote),),
        )
        peer.ep.config = replace(
            peer.ep.config,
            connections={"conn": replace(conn, children=(*conn.children, extra))},
        )
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    names = [(e.name, e.spi_in, e.spi_out) for e in i.of(ChildEstablished)]
    assert [n for n, _, _ in names] == ["net", "second"]
    assert {e.name for e in r.of(ChildEstablished)} == {"net", "second"}
    done = [e.exchange for e in i.of(ExchangeCompleted)]
    assert done == [
        "IKE_SA_INIT",
        "IKE_INTERMEDIATE",
        "IKE_AUTH",
        "CREATE_CHILD_SA",
        "IKE_FOLLOWUP_KE",
    ]
    second_r = next(e for e in r.of(ChildEstablished) if e.name == "second")
    child = r.ep.ike_sas()[0].children[second_r.child]
    assert child.local_ts[0].start_addr == bytes([10, 4, 0, 0])


def test_bad_mlkem_ciphertext_in_rekey_deletes_the_ike_sa(backend: Backend) -> None:
    """draft-ietf-ipsecme-ikev2-mlkem §2.2: in IKE_FOLLOWUP_KE a bad ciphertext makes
    the initiator delete the IKE SA, with a Delete the responder acts on."""
    from .test_malformed import _MangleBackend

    i, r = establish(backend, esp="aes256gcm16-x25519-ke1_mlkem768")
    r.ep.backend = _MangleBackend(backend, 36, lambda ct: ct[:-1])
    for sa in r.ep.ike_sas():
        sa.backend = r.ep.backend
    _rekey(i, r, i)
    assert i.of(IkeDeleted)
    assert r.of(IkeDeleted)
    assert i.ep.ike_sas() == r.ep.ike_sas() == []
    assert not i.of(ChildRekeyed)


@pytest.mark.parametrize("who", ["initiator", "responder"])
def test_rekeyed_child_keys_follow_the_exchange_roles(
    backend: Backend, who: str
) -> None:
    """RFC 7296 §2.17: KEYMAT = prf+(SK_d, Ni | Nr) with *this* exchange's nonces, and
    its first key protects the CREATE_CHILD_SA initiator's outbound traffic. Checked
    against an independent computation (pqike against pqike cannot see a swap)."""
    from pqike.crypto.suites import encr_key_length
    from pqike.ikev2.tasks.child_rekey import ChildRekey

    i, r = establish(backend)
    starter, other = (i, r) if who == "initiator" else (r, i)
    sa = starter.ep.ike_sas()[0]
    starter.ep.rekey_child(sa.handle, starter.of(ChildEstablished)[0].child, 10.0)
    task = next(t for t in sa.queue if isinstance(t, ChildRekey))
    roundtrip(i, r, now=10.0)
    new = starter.of(ChildRekeyed)[0].new_child
    spi_out = sa.children[new].spi_out
    assert sa.keymat is not None
    sk_d = sa.keymat.export_secrets()["sk_d"]
    size = encr_key_length(20, 256)
    keymat = backend.prf_plus(6, sk_d, task.ni_c + task.nr_c, 2 * size)
    forged = backend.esp_sa(spi_out, 20, keymat[:size])  # encr_i: starter -> other
    packet = forged.seal(b"independently keyed", 4)
    other.ep.receive_datagram(packet, (other.addr, 4500), (starter.addr, 4500), 20.0)
    other.drain()
    assert other.of(EspReceived)[-1].payload == b"independently keyed"


def test_second_child_with_unknown_selectors_gets_ts_unacceptable(
    rust_backend: Backend,
) -> None:
    # RFC 7296 §2.9: selectors that fit none of the responder's children are refused
    # with TS_UNACCEPTABLE, even when the first child's ESP proposal differs too.
    from pqike.config import TrafficSelector

    i, r = initiator_and_responder(rust_backend)
    conn = i.ep.config.connections["conn"]
    extra = replace(
        conn.children[0],
        name="second",
        local_ts=(TrafficSelector.parse("10.9.0.0/24"),),
        remote_ts=(TrafficSelector.parse("10.8.0.0/24"),),
        esp_proposals=(parse_proposal("chacha20poly1305", "esp"),),
    )
    i.ep.config = replace(
        i.ep.config,
        connections={"conn": replace(conn, children=(*conn.children, extra))},
    )
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert [e.name for e in i.of(ChildEstablished)] == ["net"]
    refused = [e.reason for e in i.of(ChildDeleted)]
    assert any("TS_UNACCEPTABLE" in reason for reason in refused), refused
    assert len(i.ep.ike_sas()) == len(r.ep.ike_sas()) == 1
