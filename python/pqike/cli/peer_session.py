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
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from pqike.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EventLog,
    Peer,
    SignalStop,
    echo_reply,
    echo_request,
    format_addr,
    format_spi,
    say,
    start_peer,
    stop_on_signals,
)
from pqike.cli.decode import notify_label
from pqike.cli.ping import ECHO_IDENT, EchoReplies, send_paced, wait_or_stop
from pqike.config import ConnectionConfig, EndpointConfig, TrafficSelector
from pqike.ikev2.constants import ExchangeType
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
from pqike.ikev2.sa import SaState

__all__ = ["describe", "initiate", "respond"]

logger = logging.getLogger("pqike.cli")

_TS_IPV4 = 7
_AUTHENTICATION_FAILED = 24


def describe(
    event: object, esn: bool | None = None, remote: str | None = None
) -> str | None:
    """One human-readable line for an SA event; None for per-packet events.

    ``esn``: whether a ChildEstablished's SA uses extended sequence numbers, when
    known. ``remote``: the peer's address and port (``127.0.0.1:500``), shown on
    the lines of an IKE SA established or failed, when known."""
    peer = f" with {remote}" if remote else ""
    match event:
        case IkeEstablished():
            role = "initiator" if event.is_initiator else "responder"
            return (
                f"IKE SA #{event.sa} {event.conn_name!r} established as {role}{peer}: "
                f"{event.suite} (SPIs {event.spi_i.hex()}/{event.spi_r.hex()})"
            )
        case ChildEstablished():
            esn_text = "" if esn is None else f", ESN {'on' if esn else 'off'}"
            return (
                f"Child SA {event.name!r} ({format_spi(event.child)}) of IKE SA "
                f"#{event.sa} up: {event.mode} mode, ESP {event.encryption}{esn_text}, "
                f"SPIs {format_spi(event.spi_in)}_i {format_spi(event.spi_out)}_o"
            )
        case ExchangeCompleted():
            detail = f" ({event.detail})" if event.detail else ""
            return (
                f"  {event.exchange} done: request {event.request_size} B, "
                f"response {event.response_size} B{detail}"
            )
        case ConnectionFailed():
            notify = (
                ""
                if event.notify is None
                else f" (notify {notify_label(event.notify)})"
            )
            return f"IKE SA #{event.sa}{peer} failed: {event.reason}{notify}"
        case IkeDeleted():
            return f"IKE SA #{event.sa} deleted{_reason(event.reason)}"
        case ChildDeleted() if event.child == 0:
            return (
                f"Child SA of IKE SA #{event.sa} could not be created"
                f"{_reason(event.reason)}"
            )
        case ChildDeleted():
            child = format_spi(event.child)
            return f"Child SA {child} deleted{_reason(event.reason)}"
        case IkeRekeyed():
            return f"IKE SA #{event.sa} rekeyed as #{event.new_sa}"
        case ChildRekeyed():
            return (
                f"Child SA {format_spi(event.child)} rekeyed as "
                f"{format_spi(event.new_child)}"
            )
    return None


def _reason(text: str) -> str:
    return f": {text}" if text else ""


def remote_of(peer: Peer | None, sa: object) -> str | None:
    """The address and port the engine talks to for IKE SA ``sa`` (None once the
    SA is gone)."""
    ike = getattr(getattr(peer, "endpoint", None), "sas", {}).get(sa)
    remote = getattr(ike, "remote", None)
    return format_addr(*remote) if isinstance(remote, tuple) else None


def _child_esn(peer: Peer, event: ChildEstablished) -> bool | None:
    """Whether the Child SA uses ESN, read from the engine's SA (None if unknown)."""
    sa = getattr(peer.endpoint, "sas", {}).get(event.sa)
    child = getattr(sa, "children", {}).get(event.child)
    esn = getattr(getattr(child, "inbound", None), "esn", None)
    return esn if isinstance(esn, bool) else None


def _asked_mode(config: EndpointConfig, conn_name: str, child: str) -> str | None:
    conn = config.connections.get(conn_name)
    for child_cfg in conn.children if conn is not None else ():
        if child_cfg.name == child:
            return child_cfg.mode
    return None


class _Printer:
    """The event callback of ``respond`` and ``initiate``: prints each event, and
    echoes pings back through the tunnel.

    With ``quiet_unauthenticated`` (``respond``) a responder SA that has done
    nothing but IKE_SA_INIT (which anyone can send) is kept off stdout: its
    IKE_SA_INIT line goes to the DEBUG log and is printed only once the SA gets
    further, and its failure goes to the DEBUG log (AUTHENTICATION_FAILED excepted),
    as does the failure of an SA that never completed IKE_SA_INIT (no acceptable
    proposal, INVALID_KE_PAYLOAD, malformed requests), so that a flood of
    IKE_SA_INIT requests does not flood the output."""

    _PENDING_MAX = 4096
    """IKE_SA_INIT lines kept for SAs that may still get further (oldest dropped;
    half-open SAs time out silently)."""

    def __init__(self, peer_ref: list[Peer], quiet_unauthenticated: bool) -> None:
        self.peer_ref = peer_ref
        self.quiet = quiet_unauthenticated
        self.pending: dict[object, str] = {}
        """SA -> its IKE_SA_INIT line, for SAs that got no further yet."""
        self.initiated: dict[object, str] = {}
        """SA -> connection name, for the SAs this endpoint initiated."""
        self.remotes: dict[object, str] = {}
        """SA -> the peer's address, noted when IKE_SA_INIT is done (the engine
        may have forgotten a failed SA by the time its ConnectionFailed comes)."""

    def __call__(self, event: object) -> None:
        peer = self.peer_ref[0] if self.peer_ref else None
        esn = None
        if isinstance(event, IkeEstablished) and event.is_initiator:
            self.initiated[event.sa] = event.conn_name
        elif isinstance(event, ChildEstablished) and peer is not None:
            esn = _child_esn(peer, event)
        line = describe(event, esn, self._remote(peer, event))
        if line is not None:
            if self.quiet and self._unauthenticated(event, line):
                logger.debug("%s", line.strip())
            else:
                say(line)
        if isinstance(event, ChildEstablished) and peer is not None:
            self._check_mode(peer, event)
        if isinstance(event, EspReceived) and peer is not None:
            reply = echo_reply(event.payload)
            if reply is not None:
                peer.endpoint.send_esp(event.child, reply, 4)
                peer.transport.flush()

    def _remote(self, peer: Peer | None, event: object) -> str | None:
        """The peer address for the line of an IKE SA event (noted at IKE_SA_INIT,
        forgotten when the SA is gone)."""
        sa = getattr(event, "sa", None)
        if isinstance(event, ExchangeCompleted) and event.exchange == "IKE_SA_INIT":
            remote = remote_of(peer, sa)
            if remote is not None:
                if len(self.remotes) >= self._PENDING_MAX:
                    del self.remotes[next(iter(self.remotes))]
                self.remotes[sa] = remote
            return remote
        if isinstance(event, (ConnectionFailed, IkeDeleted)):
            noted = self.remotes.pop(sa, None)
            return remote_of(peer, sa) or noted
        if isinstance(event, IkeEstablished):
            return remote_of(peer, sa) or self.remotes.get(sa)
        return None

    def _unauthenticated(self, event: object, line: str) -> bool:
        """Whether ``line`` stays off stdout (printing a held IKE_SA_INIT line
        first when the SA got further)."""
        sa = getattr(event, "sa", None)
        if (
            isinstance(event, ExchangeCompleted)
            and event.exchange == "IKE_SA_INIT"
            and not event.is_initiator
        ):
            if len(self.pending) >= self._PENDING_MAX:
                del self.pending[next(iter(self.pending))]
            self.pending[sa] = line
            return True
        held = self.pending.pop(sa, None)
        failed = isinstance(event, (ConnectionFailed, IkeDeleted))
        quiet_failure = (
            failed and getattr(event, "notify", None) != _AUTHENTICATION_FAILED
        )
        if held is None:
            # A ConnectionFailed is only sent while connecting: a responder SA
            # with no IKE_SA_INIT line held failed in or before IKE_SA_INIT.
            return (
                quiet_failure
                and isinstance(event, ConnectionFailed)
                and sa not in self.initiated
            )
        if quiet_failure:
            return True
        say(held)
        return False

    def _check_mode(self, peer: Peer, event: ChildEstablished) -> None:
        conn_name = self.initiated.get(event.sa)
        if conn_name is None:
            return
        asked = _asked_mode(peer.config, conn_name, event.name)
        if asked == "transport" and event.mode != "transport":
            # Once, on stdout with the other SA events (it was also logged as a
            # WARNING, which the CLI prints on stderr: twice in a terminal).
            say(
                f"warning: Child SA {event.name!r} asked for transport mode but the "
                f"peer set it up in {event.mode} mode"
            )


async def _start(
    config: EndpointConfig, backend: str, quiet_unauthenticated: bool = False
) -> Peer:
    peer_ref: list[Peer] = []
    printer = _Printer(peer_ref, quiet_unauthenticated)
    peer = await start_peer(config, backend, on_event=printer)
    peer_ref.append(peer)
    addrs = ", ".join(format_addr(*addr) for addr in peer.transport.local_addresses)
    say(f"listening on {addrs}")
    return peer


def _live_sas(log: EventLog) -> list[Any]:
    """IKE SAs up and not yet gone: established ones, and the new SA of every IKE
    rekey (it has no IkeEstablished of its own; the old SA's IkeDeleted follows)."""
    gone = {e.sa for e in log.of(IkeDeleted)} | {e.sa for e in log.of(ConnectionFailed)}
    up = [e.sa for e in log.of(IkeEstablished)] + [e.new_sa for e in log.of(IkeRekeyed)]
    return [sa for sa in up if sa not in gone]


def _deleter(peer: Peer, sa: Any) -> Callable[[float], None]:
    def delete(now: float) -> None:
        peer.endpoint.delete_ike(sa, now)

    return delete


def _delete_established(peer: Peer, asked: set[Any]) -> int:
    """Send a Delete for every established IKE SA not ``asked`` yet (noting it
    there); the number of IKE SAs still established."""
    established = [
        sa.handle for sa in peer.endpoint.ike_sas() if sa.state is SaState.ESTABLISHED
    ]
    for handle in established:
        if handle not in asked:
            asked.add(handle)
            peer.transport.run(_deleter(peer, handle))
    return len(established)


async def _delete_all(peer: Peer, timeout: float = 2.0) -> None:
    """Admit no new IKE SA, delete every established one and give the peers up to
    ``timeout`` seconds to confirm. An SA that completes its handshake meanwhile
    (its IKE_AUTH request was already on its way) is deleted too, so that the peer
    is not left with an SA we forgot; SAs still connecting are not waited for."""
    peer.endpoint.accepting = False
    asked: set[Any] = set()
    # Re-checked on every event: Deletes confirmed, SAs that came up meanwhile.
    await peer.log.wait_for(lambda _: _delete_established(peer, asked) == 0, timeout)


async def respond(args: argparse.Namespace, config: EndpointConfig) -> int:
    """Serve every connection until SIGINT/SIGTERM; then delete SAs and exit 0."""
    stop = stop_on_signals()
    peer = await _start(config, args.backend, quiet_unauthenticated=True)
    # Events are printed as they come; a responder that kept them all would grow
    # with every handshake it ever served.
    peer.log.keep = False
    try:
        say(f"responder ready: connections {', '.join(config.connections)}")
        await stop.wait()
        await _delete_all(peer)
    finally:
        await peer.transport.close()
    say("responder stopped")
    return EXIT_FAILED if stop.broken_pipe else EXIT_OK


def _first_host(selector: TrafficSelector) -> str | None:
    """A host address inside an IPv4 selector (the first after the network)."""
    if selector.ts_type != _TS_IPV4:
        return None
    start = int(ipaddress.IPv4Address(selector.start_addr))
    end = int(ipaddress.IPv4Address(selector.end_addr))
    return str(ipaddress.IPv4Address(start + 1 if end - start > 1 else start))


def _child_refused(log: EventLog) -> ChildDeleted | None:
    """The ChildDeleted of a first Child SA the peer would not create, if any."""
    if log.of(ChildEstablished):
        return None
    return next((e for e in log.of(ChildDeleted) if e.child == 0), None)


def _outcome(log: EventLog, wants_child: bool) -> bool | None:
    """True when the SA (and child) are up, False when it or the child failed,
    None meanwhile."""
    if log.of(ConnectionFailed) or bool(log.of(IkeDeleted)):
        return False
    if wants_child and _child_refused(log) is not None:
        return False
    child_up = bool(log.of(ChildEstablished)) or not wants_child
    if log.of(IkeEstablished) and child_up:
        return True
    return None


async def _ping(
    args: argparse.Namespace, peer: Peer, conn: ConnectionConfig, stop: SignalStop
) -> bool:
    child_cfg = conn.children[0]
    src, dst = _first_host(child_cfg.local_ts[0]), _first_host(child_cfg.remote_ts[0])
    if src is None or dst is None:
        say("ping: needs IPv4 traffic selectors")
        return False
    child = peer.log.of(ChildEstablished)[0].child

    def send(seq: int) -> None:
        packet = echo_request(src, dst, ECHO_IDENT, seq, b"pqike")
        peer.endpoint.send_esp(child, packet, 4)

    replies = EchoReplies(peer.log)
    _, got = await send_paced(
        args.ping, send, peer.transport.flush, replies, args.timeout, stop
    )
    say(f"ping {src} -> {dst}: {got}/{args.ping} replies through the tunnel")
    if got < args.ping and stop.signum is not None:
        say(f"ping interrupted by signal {stop.signum}")
    elif got < args.ping and not stop.is_set():
        say(f"ping: no further reply for {args.timeout:g} s (--timeout)")
    return bool(got == args.ping)


def _timed_out(peer: Peer, sa: Any, remote: str, timeout: float) -> str:
    """What ``initiate`` was still waiting for when ``--timeout`` expired: the peer,
    the request it has not answered, and how far the handshake got."""
    ike = peer.endpoint.sas.get(sa)
    remote = remote_of(peer, sa) or remote
    done = [e.exchange for e in peer.log.of(ExchangeCompleted) if e.sa == sa]
    progress = f"exchanges done: {', '.join(done) or 'none'}"
    state = getattr(getattr(ike, "state", None), "value", None)
    if state is not None:
        progress += f"; IKE SA {state}"
    outstanding = getattr(getattr(ike, "manager", None), "outstanding", None)
    if outstanding is None:
        return f"timed out after {timeout:g} s with {remote} ({progress})"
    exchange = ExchangeType(outstanding.exchange).name
    sent = outstanding.tries + 1
    return (
        f"timed out after {timeout:g} s: no response from {remote} to "
        f"{exchange} (request sent {sent} time{'s' * (sent > 1)}; {progress})"
    )


async def initiate(args: argparse.Namespace, config: EndpointConfig) -> int:
    """Bring up ``args.name``; exit 0 once the IKE SA and its first child are up."""
    conn = config.connections[args.name]
    stop = stop_on_signals()
    peer = await _start(config, args.backend)
    try:
        return await _initiate(args, peer, conn, stop)
    except BaseException:
        # Whatever went wrong, tell the peer: an IKE SA left up there is an orphan.
        logger.debug("initiate failed: deleting the IKE SAs", exc_info=True)
        with contextlib.suppress(Exception):
            await _delete_all(peer)
        raise
    finally:
        await peer.transport.close()


async def _initiate(
    args: argparse.Namespace, peer: Peer, conn: ConnectionConfig, stop: SignalStop
) -> int:
    # run_session checked that remote_addrs is not empty.
    remote = format_addr(conn.remote_addrs[0], conn.remote_port)
    say(f"initiating {conn.name!r} to {remote}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    handle = peer.transport.run(lambda now: peer.endpoint.initiate(conn.name, now))
    wants_child = bool(conn.children)
    await wait_or_stop(
        peer.log, lambda log: _outcome(log, wants_child) is not None, args.timeout, stop
    )
    outcome = _outcome(peer.log, wants_child)
    if stop.is_set() and not outcome:
        # Interrupted while connecting: closing the sockets ends retransmission.
        await _delete_all(peer)
        say(f"interrupted by signal {stop.signum} before the SA was up")
        return stop.exit_status
    refused = _child_refused(peer.log) if wants_child else None
    if refused is not None:
        say(
            f"FAILED: the peer refused Child SA {conn.children[0].name!r}: "
            f"{refused.reason or 'no reason given'}; deleting the IKE SA"
        )
        await _delete_all(peer)
        return EXIT_FAILED
    if outcome is False:
        say("FAILED: see above")
        return EXIT_FAILED
    if outcome is None:
        say(f"FAILED: {_timed_out(peer, handle, remote, args.timeout)}")
        return EXIT_FAILED
    what = "IKE SA and child" if wants_child else "IKE SA"
    elapsed = (loop.time() - started) * 1000
    say(f"up: {what} established in {elapsed:.1f} ms")
    if args.ping and (not wants_child or not await _ping(args, peer, conn, stop)):
        await _delete_all(peer)
        return stop.exit_status if stop.is_set() else EXIT_FAILED
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
    return EXIT_FAILED if stop.broken_pipe else EXIT_OK
