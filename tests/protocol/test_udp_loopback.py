# SPDX-License-Identifier: Apache-2.0
"""Two IkeEndpoints over real UDP sockets on 127.0.0.1: x25519 + ML-KEM-768, a
Child SA, and ESP both ways, driven by the asyncio transport."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, replace
from functools import partial

import pytest

from pqike.cli.common import EventLog, free_udp_ports
from pqike.config import EndpointConfig, demo_pair
from pqike.crypto import Backend
from pqike.ikev2.endpoint import IkeEndpoint
from pqike.ikev2.events import (
    ChildEstablished,
    ConnectionFailed,
    EspReceived,
    ExchangeCompleted,
    IkeDeleted,
    IkeEstablished,
)
from pqike.proposals import parse_proposal
from pqike.transport.udp import UdpTransport, bind_addresses

TIMEOUT = 10.0


def _configs() -> tuple[EndpointConfig, EndpointConfig]:
    ports = free_udp_ports(4)
    return demo_pair(
        responder_ports=(ports[0], ports[1]), initiator_ports=(ports[2], ports[3])
    )


@dataclass
class Side:
    """One endpoint on its sockets, with its events."""

    ep: IkeEndpoint
    tr: UdpTransport
    log: EventLog


async def _up(backend: Backend, *configs: EndpointConfig) -> list[Side]:
    sides = []
    for config in configs:
        ep = IkeEndpoint(config, backend, os.urandom)
        log = EventLog()
        tr = UdpTransport(ep, bind_addresses(config), on_event=log)
        await tr.start()
        sides.append(Side(ep, tr, log))
    return sides


async def _close(*sides: Side) -> None:
    for side in sides:
        await side.tr.close()


def _child_up(log: EventLog) -> bool:
    return bool(log.of(ChildEstablished) or log.of(ConnectionFailed))


def test_hybrid_handshake_child_and_esp_over_udp(backend: Backend) -> None:
    async def test() -> None:
        r_cfg, i_cfg = _configs()
        r, i = await _up(backend, r_cfg, i_cfg)
        try:
            i.tr.run(lambda now: i.ep.initiate("demo", now))
            assert await i.log.wait_for(_child_up, TIMEOUT)
            assert await r.log.wait_for(_child_up, TIMEOUT)
            assert not i.log.of(ConnectionFailed), i.log.of(ConnectionFailed)
            (ike,) = i.log.of(IkeEstablished)
            assert ike.suite.ke == "CURVE25519"
            assert ike.suite.addke == ("ML_KEM_768",)
            assert "AES_GCM_16_256" in ike.suite.encryption
            exchanges = [e.exchange for e in i.log.of(ExchangeCompleted)]
            assert exchanges == ["IKE_SA_INIT", "IKE_INTERMEDIATE", "IKE_AUTH"]
            (i_child,) = i.log.of(ChildEstablished)
            (r_child,) = r.log.of(ChildEstablished)
            assert (i_child.spi_in, i_child.spi_out) == (
                r_child.spi_out,
                r_child.spi_in,
            )

            for n in range(3):
                i.ep.send_esp(i_child.child, b"to responder %d" % n, 4)
            i.tr.flush()
            assert await r.log.wait_for(
                lambda log: len(log.of(EspReceived)) == 3, TIMEOUT
            )
            r.ep.send_esp(r_child.child, b"to initiator", 4)
            r.tr.flush()
            assert await i.log.wait_for(lambda log: bool(log.of(EspReceived)), TIMEOUT)
            assert [e.payload for e in r.log.of(EspReceived)] == [
                b"to responder 0",
                b"to responder 1",
                b"to responder 2",
            ]
            (back,) = i.log.of(EspReceived)
            assert (back.payload, back.next_header) == (b"to initiator", 4)

            i.tr.run(lambda now: i.ep.delete_ike(ike.sa, now))
            assert await i.log.wait_for(lambda log: bool(log.of(IkeDeleted)), TIMEOUT)
            assert await r.log.wait_for(lambda log: bool(log.of(IkeDeleted)), TIMEOUT)
        finally:
            await _close(i, r)

    asyncio.run(asyncio.wait_for(test(), 60))


def test_proposal_mismatch_fails_cleanly_over_udp(backend: Backend) -> None:
    async def test() -> None:
        r_cfg, i_cfg = _configs()
        conn = i_cfg.connections["demo"]
        other = parse_proposal("aes128gcm16-prfsha256-ecp256", "ike")
        i_cfg = replace(
            i_cfg, connections={"demo": replace(conn, ike_proposals=(other,))}
        )
        r, i = await _up(backend, r_cfg, i_cfg)
        try:
            i.tr.run(lambda now: i.ep.initiate("demo", now))
            done = await i.log.wait_for(
                lambda log: bool(log.of(ConnectionFailed) or log.of(IkeEstablished)),
                TIMEOUT,
            )
            assert done
            assert not i.log.of(IkeEstablished)
            (failed,) = i.log.of(ConnectionFailed)
            assert failed.notify == 14  # NO_PROPOSAL_CHOSEN
        finally:
            await _close(i, r)

    asyncio.run(asyncio.wait_for(test(), 60))


def test_responder_survives_garbage_between_handshakes(backend: Backend) -> None:
    async def test() -> None:
        r_cfg, i_cfg = _configs()
        r, i = await _up(backend, r_cfg, i_cfg)
        try:
            loop = asyncio.get_running_loop()
            raw, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
            )
            for target in r.tr.local_addresses:
                for junk in (
                    b"",
                    b"\x00",
                    b"\x00" * 4,
                    os.urandom(28),
                    os.urandom(600),
                ):
                    raw.sendto(junk, target)
            raw.close()
            await asyncio.sleep(0.1)
            i.tr.run(lambda now: i.ep.initiate("demo", now))
            assert await i.log.wait_for(_child_up, TIMEOUT)
            assert i.log.of(ChildEstablished)
        finally:
            await _close(i, r)

    asyncio.run(asyncio.wait_for(test(), 60))


@pytest.mark.parametrize("force_encap", [True])
def test_forced_udp_encapsulation_uses_natt_ports(
    backend: Backend, force_encap: bool
) -> None:
    async def test() -> None:
        r_cfg, i_cfg = _configs()
        conn = i_cfg.connections["demo"]
        i_cfg = replace(
            i_cfg, connections={"demo": replace(conn, force_encap=force_encap)}
        )
        r, i = await _up(backend, r_cfg, i_cfg)
        seen: list[tuple[tuple[str, int], bytes]] = []
        original = r.ep.receive_datagram

        def spy(
            data: bytes, local: tuple[str, int], remote: tuple[str, int], now: float
        ) -> None:
            seen.append((local, data[:4]))
            original(data, local, remote, now)

        r.ep.receive_datagram = spy  # type: ignore[method-assign]
        try:
            i.tr.run(lambda now: i.ep.initiate("demo", now))
            assert await i.log.wait_for(_child_up, TIMEOUT)
            assert i.log.of(ChildEstablished), i.log.of(ConnectionFailed)
            (child,) = i.log.of(ChildEstablished)
            i.ep.send_esp(child.child, b"encapsulated", 4)
            i.tr.flush()
            assert await r.log.wait_for(lambda log: bool(log.of(EspReceived)), TIMEOUT)
            natt = [
                (local, head) for local, head in seen if local[1] == r_cfg.natt_port
            ]
            assert any(head == b"\x00" * 4 for _, head in natt)  # IKE with marker
            assert any(head != b"\x00" * 4 for _, head in natt)  # ESP in UDP
        finally:
            await _close(i, r)

    asyncio.run(asyncio.wait_for(test(), 60))


def test_one_responder_serves_several_initiators_at_once(backend: Backend) -> None:
    async def test() -> None:
        ports = free_udp_ports(2 + 2 * 4)
        r_cfg = demo_pair(responder_ports=(ports[0], ports[1]))[0]
        initiator_cfgs = [
            demo_pair(
                responder_ports=(ports[0], ports[1]),
                initiator_ports=(ports[2 + 2 * n], ports[3 + 2 * n]),
            )[1]
            for n in range(4)
        ]
        r, *initiators = await _up(backend, r_cfg, *initiator_cfgs)
        try:
            for side in initiators:
                side.tr.run(partial(side.ep.initiate, "demo"))
            for side in initiators:
                assert await side.log.wait_for(_child_up, TIMEOUT)
                assert side.log.of(ChildEstablished), side.log.of(ConnectionFailed)
            assert await r.log.wait_for(
                lambda log: len(log.of(ChildEstablished)) == 4, TIMEOUT
            )
            for n, side in enumerate(initiators):
                (child,) = side.log.of(ChildEstablished)
                side.ep.send_esp(child.child, b"from initiator %d" % n, 4)
                side.tr.flush()
            assert await r.log.wait_for(
                lambda log: len(log.of(EspReceived)) == 4, TIMEOUT
            )
            payloads = sorted(e.payload for e in r.log.of(EspReceived))
            assert payloads == [b"from initiator %d" % n for n in range(4)]
            assert len({e.sa for e in r.log.of(IkeEstablished)}) == 4
        finally:
            await _close(r, *initiators)

    asyncio.run(asyncio.wait_for(test(), 60))
