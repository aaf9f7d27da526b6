# SPDX-License-Identifier: Apache-2.0
"""Two in-memory IKE endpoints, a seeded RNG, a fake clock and a lossy channel.

``initiator_and_responder()`` builds both endpoints from one set of options;
``roundtrip(a, b)`` moves datagrams between them (optionally losing, duplicating and
reordering them) and fires timers on a fake clock until both sides are quiet.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pqike.config import (
    ChildConfig,
    ConnectionConfig,
    EndpointConfig,
    Identity,
    TrafficSelector,
)
from pqike.crypto import Backend
from pqike.ikev2.endpoint import IkeEndpoint
from pqike.ikev2.events import Event
from pqike.proposals import parse_proposal

__all__ = [
    "Channel",
    "Peer",
    "initiator_and_responder",
    "roundtrip",
    "seeded_rng",
]

I_ADDR, R_ADDR = "192.0.2.1", "192.0.2.2"
PORTS = (500, 4500)
PSK = b"protocol-test-psk-0123456789"


def seeded_rng(seed: str) -> Callable[[int], bytes]:
    """Deterministic ``rng(n)``: SHAKE-256 of the seed and a counter."""
    counter = 0

    def rng(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.shake_256(f"{seed}/{counter}".encode()).digest(n)

    return rng


@dataclass
class Peer:
    """One endpoint plus the events it produced so far."""

    name: str
    ep: IkeEndpoint
    addr: str
    events: list[Event] = field(default_factory=list)

    def drain(self) -> None:
        while (ev := self.ep.next_event()) is not None:
            self.events.append(ev)

    def of(self, cls: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, cls)]


def _conn(
    local: str,
    remote: str,
    local_id: str,
    remote_id: str,
    *,
    ike: str,
    esp: str,
    psk: bytes,
    local_ts: str,
    remote_ts: str,
    mode: str,
    fragment_size: int,
    remote_addrs: tuple[str, ...] | None = None,
) -> ConnectionConfig:
    child = ChildConfig(
        name="net",
        local_ts=(TrafficSelector.parse(local_ts),),
        remote_ts=(TrafficSelector.parse(remote_ts),),
        esp_proposals=(parse_proposal(esp, "esp"),),
        mode=mode,  # type: ignore[arg-type]
    )
    return ConnectionConfig(
        name="conn",
        local_addrs=(local,),
        remote_addrs=(remote,) if remote_addrs is None else remote_addrs,
        remote_port=PORTS[0],
        local_id=Identity.parse(local_id),
        remote_id=Identity.parse(remote_id),
        psk=psk,
        ike_proposals=tuple(parse_proposal(p, "ike") for p in ike.split(",")),
        children=(child,),
        fragment_size=fragment_size,
        retransmit_timeout=1.0,
        retransmit_tries=8,
        retransmit_base=1.5,
        remote_natt_port=PORTS[1],
    )


def initiator_and_responder(
    backend: Backend,
    *,
    ike: str = "aes256gcm16-prfsha384-x25519-ke1_mlkem768",
    responder_ike: str | None = None,
    esp: str = "aes256gcm16",
    psk: bytes = PSK,
    responder_psk: bytes | None = None,
    mode: str = "tunnel",
    fragment_size: int = 1280,
    cookie_threshold: int = 30,
    initiator_id: str = "fqdn:initiator.pq.test",
    initiator_addr: str = I_ADDR,
    responder_id: str = "fqdn:responder.pq.test",
    seed: str = "pqike",
) -> tuple[Peer, Peer]:
    """An initiator and a responder endpoint that match unless told otherwise."""
    conn_i = _conn(
        initiator_addr,
        R_ADDR,
        initiator_id,
        responder_id,
        ike=ike,
        esp=esp,
        psk=psk,
        local_ts="10.1.0.0/24",
        remote_ts="10.2.0.0/16",
        mode=mode,
        fragment_size=fragment_size,
    )
    conn_r = _conn(
        R_ADDR,
        I_ADDR,
        responder_id,
        initiator_id,
        ike=responder_ike or ike,
        esp=esp,
        psk=psk if responder_psk is None else responder_psk,
        local_ts="10.2.0.0/24",
        remote_ts="10.1.0.0/16",
        mode=mode,
        fragment_size=fragment_size,
        remote_addrs=(),
    )
    cfg_i = EndpointConfig(
        listen=((initiator_addr, PORTS[0]),),
        connections={"conn": conn_i},
        port=PORTS[0],
        natt_port=PORTS[1],
    )
    cfg_r = EndpointConfig(
        listen=((R_ADDR, PORTS[0]),),
        connections={"conn": conn_r},
        port=PORTS[0],
        natt_port=PORTS[1],
        cookie_threshold=cookie_threshold,
    )
    return (
        Peer("i", IkeEndpoint(cfg_i, backend, seeded_rng(seed + "/i")), initiator_addr),
        Peer("r", IkeEndpoint(cfg_r, backend, seeded_rng(seed + "/r")), R_ADDR),
    )


def with_responder_conn(peer: Peer, **changes: object) -> None:
    """Replace fields of the responder's connection (test setup only)."""
    cfg = peer.ep.config
    conn = replace(cfg.connections["conn"], **changes)  # type: ignore[arg-type]
    peer.ep.config = replace(cfg, connections={"conn": conn})


@dataclass
class Channel:
    """Delivery policy: loss, duplication and reordering with a seeded PRNG."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: bool = False
    seed: int = 1
    log: list[tuple[str, bytes]] = field(default_factory=list)
    tamper: Callable[[str, bytes], bytes | None] | None = None

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def deliver(
        self, sender: str, batch: list[tuple[bytes, tuple[str, int], tuple[str, int]]]
    ) -> list[tuple[bytes, tuple[str, int], tuple[str, int]]]:
        out = []
        for item in batch:
            self.log.append((sender, item[0]))
            data = item[0]
            if self.tamper is not None:
                changed = self.tamper(sender, data)
                if changed is None:
                    continue
                item = (changed, item[1], item[2])
            if self.random.random() < self.loss:
                continue
            out.append(item)
            if self.random.random() < self.duplicate:
                out.append(item)
        if self.reorder:
            self.random.shuffle(out)
        return out


def roundtrip(
    a: Peer,
    b: Peer,
    *extra: Peer,
    channel: Channel | None = None,
    now: float = 0.0,
    max_steps: int = 400,
    until: Callable[[], bool] | None = None,
) -> float:
    """Exchange datagrams until quiet (then fire timers); returns the fake time."""
    channel = channel or Channel()
    group = (a, b, *extra)
    peers = {p.addr: p for p in group}
    for _ in range(max_steps):
        moved = False
        for peer in group:
            batch = peer.ep.datagrams_to_send(now)
            for data, local, remote in channel.deliver(peer.name, batch):
                moved = True
                target = peers.get(remote[0])
                if target is not None:
                    target.ep.receive_datagram(data, remote, local, now)
        for peer in group:
            peer.drain()
        if until is not None and until():
            return now
        if moved:
            continue
        timers = [t for p in group if (t := p.ep.get_timer()) is not None]
        if not timers or now > 10_000:
            return now
        now = max(now, min(timers))
        for peer in group:
            peer.ep.handle_timer(now)
    return now
