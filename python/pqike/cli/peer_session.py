# SPDX-License-Identifier: Apache-2.0
"""The bodies of ``pqike respond`` and ``pqike initiate`` (imported only when one of
them runs, so that the CLI starts and explains itself while the engine is missing).

Both print one line per SA event to stdout. Each side has a toy host behind its
tunnels that answers ICMP echo requests arriving over ESP, so ``initiate --ping``
can show traffic flowing end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
from collections.abc import Callable
from typing import Any

from pqike.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EventLog,
    Peer,
    count_echoes,
    echo_reply,
    echo_request,
    say,
    start_peer,
    stop_on_signals,
)
from pqike.config import ConnectionConfig, EndpointConfig, TrafficSelector
from pqike.ikev2.events import (
    ChildDeleted,
    ChildEstablished,
    ChildRekeyed,
    ConnectionFailed,
    EspReceived,
    ExchangeCompleted,
    IkeDeleted,
    IkeEstablished,
    IkeRekeyed,
)

__all__ = ["describe", "initiate", "respond"]


def describe(event: object) -> str | None:
    """One human-readable line for an SA event; None for per-packet events."""
    match event:
        case IkeEstablished():
            role = "initiator" if event.is_initiator else "responder"
            return (
                f"IKE SA #{event.sa} {event.conn_name!r} established as {role}: "
                f"{event.suite} (SPIs {event.spi_i.hex()}/{event.spi_r.hex()})"
            )
        case ChildEstablished():
            return (
                f"Child SA {event.name!r} (#{event.child}) of IKE SA #{event.sa} up: "
                f"{event.mode} mode, ESP {event.encryption}, "
                f"SPI in {event.spi_in:#010x} out {event.spi_out:#010x}"
            )
        case ExchangeCompleted():
            detail = f" ({event.detail})" if event.detail else ""
            return (
                f"  {event.exchange} done: request {event.request_size} B, "
                f"response {event.response_size} B{detail}"
            )
        case ConnectionFailed():
            notify = f" (notify {event.notify})" if event.notify is not None else ""
            return f"IKE SA #{event.sa} failed: {event.reason}{notify}"
        case IkeDeleted():
            return f"IKE SA #{event.sa} deleted{_reason(event.reason)}"
        case ChildDeleted():
            return f"Child SA #{event.child} deleted{_reason(event.reason)}"
        case IkeRekeyed():
            return f"IKE SA #{event.sa} rekeyed as #{event.new_sa}"
        case ChildRekeyed():
            return f"Child SA #{event.child} rekeyed as #{event.new_child}"
    return None


def _reason(text: str) -> str:
    return f": {text}" if text else ""


def _printer(peer_ref: list[Peer]) -> Any:
    """An event callback: print the event, and echo pings back through the tunnel."""

    def on_event(event: object) -> None:
        line = describe(event)
        if line is not None:
            say(line)
        if isinstance(event, EspReceived) and peer_ref:
            reply = echo_reply(event.payload)
            if reply is not None:
                peer_ref[0].endpoint.send_esp(event.child, reply, 4)
                peer_ref[0].transport.flush()

    return on_event


async def _start(config: EndpointConfig, backend: str) -> Peer:
    peer_ref: list[Peer] = []
    peer = await start_peer(config, backend, on_event=_printer(peer_ref))
    peer_ref.append(peer)
    addrs = ", ".join(f"{h}:{p}" for h, p in peer.transport.local_addresses)
    say(f"listening on {addrs}")
    return peer


def _live_sas(log: EventLog) -> list[Any]:
    gone = {e.sa for e in log.of(IkeDeleted)} | {e.sa for e in log.of(ConnectionFailed)}
    return [e.sa for e in log.of(IkeEstablished) if e.sa not in gone]


def _deleter(peer: Peer, sa: Any) -> Callable[[float], None]:
    def delete(now: float) -> None:
        peer.endpoint.delete_ike(sa, now)

    return delete


async def _delete_all(peer: Peer, timeout: float = 2.0) -> None:
    """Delete every live IKE SA and give the peers a moment to confirm."""
    live = _live_sas(peer.log)
    for sa in live:
        peer.transport.run(_deleter(peer, sa))
    if live:
        await peer.log.wait_for(lambda log: not _live_sas(log), timeout)


async def respond(args: argparse.Namespace, config: EndpointConfig) -> int:
    """Serve every connection until SIGINT/SIGTERM; then delete SAs and exit 0."""
    stop = stop_on_signals()
    peer = await _start(config, args.backend)
    peer.log.keep_esp = False
    try:
        say(f"responder ready: connections {', '.join(config.connections)}")
        await stop.wait()
        await _delete_all(peer)
    finally:
        await peer.transport.close()
    say("responder stopped")
    return EXIT_OK


def _first_host(selector: TrafficSelector) -> str | None:
    """A host address inside an IPv4 selector (the first after the network)."""
    if selector.ts_type != 7:
        return None
    start = int(ipaddress.IPv4Address(selector.start_addr))
    end = int(ipaddress.IPv4Address(selector.end_addr))
    return str(ipaddress.IPv4Address(start + 1 if end - start > 1 else start))


def _outcome(log: EventLog, wants_child: bool) -> bool | None:
    """True when the SA (and child) are up, False when it failed, None meanwhile."""
    if log.of(ConnectionFailed) or bool(log.of(IkeDeleted)):
        return False
    child_up = bool(log.of(ChildEstablished)) or not wants_child
    if log.of(IkeEstablished) and child_up:
        return True
    return None


async def _ping(args: argparse.Namespace, peer: Peer, conn: ConnectionConfig) -> bool:
    child_cfg = conn.children[0]
    src, dst = _first_host(child_cfg.local_ts[0]), _first_host(child_cfg.remote_ts[0])
    if src is None or dst is None:
        say("ping: needs IPv4 traffic selectors")
        return False
    child = peer.log.of(ChildEstablished)[0].child
    for seq in range(1, args.ping + 1):
        peer.endpoint.send_esp(child, echo_request(src, dst, 0x5049, seq, b"pqike"), 4)
    peer.transport.flush()

    await peer.log.wait_for(
        lambda log: count_echoes(log, requests=False) >= args.ping, args.timeout
    )
    got = count_echoes(peer.log, requests=False)
    say(f"ping {src} -> {dst}: {got}/{args.ping} replies through the tunnel")
    return bool(got == args.ping)


async def initiate(args: argparse.Namespace, config: EndpointConfig) -> int:
    """Bring up ``args.name``; exit 0 once the IKE SA and its first child are up."""
    conn = config.connections[args.name]
    stop = stop_on_signals()
    peer = await _start(config, args.backend)
    try:
        return await _initiate(args, peer, conn, stop)
    finally:
        await peer.transport.close()


async def _initiate(
    args: argparse.Namespace, peer: Peer, conn: ConnectionConfig, stop: asyncio.Event
) -> int:
    remote = f"{conn.remote_addrs[0]}:{conn.remote_port}" if conn.remote_addrs else "?"
    say(f"initiating {conn.name!r} to {remote}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    peer.transport.run(lambda now: peer.endpoint.initiate(conn.name, now))
    wants_child = bool(conn.children)
    await peer.log.wait_for(
        lambda log: _outcome(log, wants_child) is not None, args.timeout
    )
    outcome = _outcome(peer.log, wants_child)
    if not outcome:
        say(f"FAILED: {'see above' if outcome is False else 'timed out'}")
        return EXIT_FAILED
    what = "IKE SA and child" if wants_child else "IKE SA"
    elapsed = (loop.time() - started) * 1000
    say(f"up: {what} established in {elapsed:.1f} ms")
    if args.ping and (not wants_child or not await _ping(args, peer, conn)):
        await _delete_all(peer)
        return EXIT_FAILED
    if not args.once:
        say("connection up; SIGINT or SIGTERM closes it")
        lost = asyncio.ensure_future(
            peer.log.wait_for(lambda log: not _live_sas(log), None)
        )
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({lost, stopped}, return_when=asyncio.FIRST_COMPLETED)
        lost.cancel()
        stopped.cancel()
        if not _live_sas(peer.log):
            say("connection lost")
            return EXIT_FAILED
    await _delete_all(peer)
    say("closed")
    return EXIT_OK
