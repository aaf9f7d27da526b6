# SPDX-License-Identifier: Apache-2.0
"""The body of ``pqike demo`` (imported only when the command runs, so that the
CLI still starts and explains itself while the engine is missing)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from pqike.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EventLog,
    Peer,
    count_echoes,
    echo_reply,
    echo_request,
    format_spi,
    start_peer,
)
from pqike.cli.ping import ECHO_IDENT, WINDOW, EchoReplies, send_paced
from pqike.config import EndpointConfig
from pqike.ikev2.events import (
    ChildEstablished,
    ConnectionFailed,
    EspReceived,
    ExchangeCompleted,
    IkeDeleted,
    IkeEstablished,
)

__all__ = ["demo"]

_INITIATOR_HOST, _RESPONDER_HOST = "10.1.0.1", "10.2.0.1"
"""Inner addresses of the echo packets, inside the demo's traffic selectors."""


class _ExchangePrinter:
    """Prints the initiator's completed exchanges with the time since ``start``."""

    def __init__(self) -> None:
        self.start: float | None = None

    def __call__(self, event: object) -> None:
        if isinstance(event, ExchangeCompleted) and event.is_initiator:
            _print_exchange(event, self.start)


def _print_exchange(event: ExchangeCompleted, start: float | None) -> None:
    counts = [
        f"{what} in {n} fragments"
        for what, n in (
            ("request", event.request_fragments),
            ("response", event.response_fragments),
        )
        if n > 1
    ]
    frags = f"  ({', '.join(counts)})" if counts else ""
    detail = f"  {event.detail}" if event.detail else ""
    at = ""
    if start is not None:
        elapsed_ms = (asyncio.get_running_loop().time() - start) * 1000
        at = f"   at {elapsed_ms:5.1f} ms"
    print(
        f"  {event.exchange:<18} request {event.request_size:>5} B   "
        f"response {event.response_size:>5} B{at}{frags}{detail}"
    )


def _failure(log: EventLog) -> str | None:
    failed = log.of(ConnectionFailed)
    return failed[0].reason if failed else None


async def demo(
    args: argparse.Namespace, r_config: EndpointConfig, i_config: EndpointConfig
) -> int:
    """Both ends, handshake, echo traffic, delete; the exit status."""
    responder = await start_peer(r_config, args.backend)
    try:
        initiator = await start_peer(
            i_config, args.backend, on_event=_ExchangePrinter()
        )
    except BaseException:
        await responder.transport.close()
        raise
    try:
        return await _session(args, initiator, responder)
    finally:
        await initiator.transport.close()
        await responder.transport.close()


async def _session(args: argparse.Namespace, initiator: Peer, responder: Peer) -> int:
    conn = initiator.config.connections["demo"]
    print(
        f"pqike demo: initiator {initiator.config.listen[0][0]}:{initiator.config.port}"
        f" -> responder {responder.config.listen[0][0]}:{responder.config.port}"
        f" (backend {args.backend})"
    )
    print(f"IKE proposal: {conn.ike_proposals[0]}")
    print(f"ESP proposal: {conn.children[0].esp_proposals[0]}")
    child_up = await _handshake(args, initiator, responder)
    if child_up is None:
        return EXIT_FAILED
    ok = await _ping(args, initiator, responder, child_up)
    await _teardown(args, initiator, responder)
    return EXIT_OK if ok else EXIT_FAILED


async def _handshake(
    args: argparse.Namespace, initiator: Peer, responder: Peer
) -> tuple[Any, Any] | None:
    """Run IKE_SA_INIT .. IKE_AUTH; the (initiator, responder) child IDs, or None."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    printer = initiator.log.on_event
    if isinstance(printer, _ExchangePrinter):
        printer.start = started
    initiator.transport.run(lambda now: initiator.endpoint.initiate("demo", now))

    def up(log: EventLog) -> bool:
        return bool(log.of(ChildEstablished) or log.of(ConnectionFailed))

    done = await initiator.log.wait_for(up, args.timeout)
    elapsed = loop.time() - started
    if isinstance(printer, _ExchangePrinter):
        printer.start = None
    reason = _failure(initiator.log) or _failure(responder.log)
    if not done or reason or not initiator.log.of(IkeEstablished):
        print(f"FAILED: {reason or f'no IKE SA after {args.timeout:.0f} s'}")
        return None
    await responder.log.wait_for(lambda log: bool(log.of(ChildEstablished)), 2.0)
    if not responder.log.of(ChildEstablished):
        print("FAILED: the responder did not install the Child SA")
        return None
    ike = initiator.log.of(IkeEstablished)[0]
    child = initiator.log.of(ChildEstablished)[0]
    print(f"IKE SA established in {elapsed * 1000:.1f} ms")
    print(f"  suite: {ike.suite}")
    print(f"  SPIs:  {ike.spi_i.hex()} / {ike.spi_r.hex()}")
    print(
        f"Child SA {child.name or format_spi(child.child)} established: "
        f"{child.mode} mode, ESP {child.encryption}, "
        f"SPIs {format_spi(child.spi_in)}_i {format_spi(child.spi_out)}_o"
    )
    return child.child, responder.log.of(ChildEstablished)[0].child


async def _ping(
    args: argparse.Namespace,
    initiator: Peer,
    responder: Peer,
    children: tuple[Any, Any],
) -> bool:
    """Send echo requests through the tunnel; the responder's host echoes them."""
    i_child, r_child = children

    def answer(event: object) -> None:
        if isinstance(event, EspReceived):
            reply = echo_reply(event.payload)
            if reply is not None:
                responder.endpoint.send_esp(r_child, reply, 4)
                responder.transport.flush()

    responder.log.on_event = answer
    payload = bytes(i % 256 for i in range(args.size))

    def send(seq: int) -> None:
        packet = echo_request(
            _INITIATOR_HOST, _RESPONDER_HOST, ECHO_IDENT, seq, payload
        )
        initiator.endpoint.send_esp(i_child, packet, 4)

    replies = EchoReplies(initiator.log)
    sent, got = await send_paced(
        args.packets, send, initiator.transport.flush, replies, args.timeout
    )
    size = 20 + 8 + args.size
    requests = count_echoes(responder.log, requests=True)
    print(
        f"ESP: sent {sent}/{args.packets} ICMP echo requests ({size} B inner "
        f"packets, at most {WINDOW} unanswered)"
    )
    print(
        f"  responder: {requests}/{args.packets} received and authenticated, "
        "answered through the tunnel"
    )
    print(f"  initiator: {got}/{args.packets} echo replies received and authenticated")
    return bool(requests == got == args.packets)


async def _teardown(args: argparse.Namespace, initiator: Peer, responder: Peer) -> None:
    ike = initiator.log.of(IkeEstablished)[0]
    print("Deleting the IKE SA:")
    initiator.transport.run(lambda now: initiator.endpoint.delete_ike(ike.sa, now))
    deleted = await initiator.log.wait_for(
        lambda log: bool(log.of(IkeDeleted)), min(args.timeout, 5.0)
    )
    await responder.log.wait_for(lambda log: bool(log.of(IkeDeleted)), 1.0)
    both = deleted and bool(responder.log.of(IkeDeleted))
    print("IKE SA deleted" + ("" if both else " (no confirmation from the peer)"))
