# SPDX-License-Identifier: Apache-2.0
"""Pieces shared by the CLI commands: starting an engine on UDP sockets, collecting
its events, a toy ICMP echo "host" behind the tunnel, and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import importlib
import ipaddress
import logging
import math
import os
import signal
import socket
import stat
import struct
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from pqike.config import EndpointConfig
from pqike.transport.udp import UdpTransport, bind_addresses, format_addr

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EventLog",
    "Peer",
    "SignalStop",
    "count_echoes",
    "echo_count",
    "echo_reply",
    "echo_request",
    "engine_unavailable",
    "format_addr",
    "format_spi",
    "free_udp_ports",
    "parse_echo",
    "positive_seconds",
    "run_async",
    "run_session",
    "say",
    "start_peer",
    "stop_on_signals",
]

EXIT_OK = 0
EXIT_FAILED = 1
"""The exchange failed, timed out or lost packets."""
EXIT_USAGE = 2
"""Bad arguments or configuration, or the engine could not be loaded."""

_E = TypeVar("_E")

logger = logging.getLogger("pqike.cli")


def engine_unavailable(exc: BaseException) -> ImportError:
    """The ImportError the CLI reports as "engine not available: ..."."""
    return ImportError(f"{type(exc).__name__}: {exc}")


def _engine_class() -> Any:
    # Imported by name so the CLI starts (and says why) while the engine is missing.
    try:
        return importlib.import_module("pqike.ikev2.endpoint").IkeEndpoint
    except (ImportError, AttributeError) as exc:
        raise engine_unavailable(exc) from exc


_BACKEND_EXTRAS = {"cryptography": "reference"}
"""Modules a backend needs -> the pqike extra that installs them."""


def _backend(name: str) -> Any:
    try:
        from pqike.crypto import get_backend

        return get_backend(name)
    except ImportError as exc:
        extra = _BACKEND_EXTRAS.get((exc.name or "").partition(".")[0])
        hint = f"; install it with: pip install 'pqike[{extra}]'" if extra else ""
        raise ImportError(f"crypto backend {name!r}: {exc}{hint}") from exc


@dataclass
class EventLog:
    """Collects one endpoint's events and wakes waiters when one arrives."""

    events: list[object] = field(default_factory=list)
    on_event: Callable[[object], None] | None = None
    """Called for each event as it arrives (e.g. to print it)."""
    keep: bool = True
    """Keep events in :attr:`events`. A long-running responder turns this off:
    events then only go to ``on_event`` and wake waiters, so memory does not grow
    with every handshake served."""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: object) -> None:
        if self.keep:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        self._changed.set()

    def of(self, kind: type[_E]) -> list[_E]:
        """Every event of class ``kind`` so far."""
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self, done: Callable[[EventLog], bool], timeout: float | None
    ) -> bool:
        """Wait until ``done(self)`` holds; False after ``timeout`` seconds
        (``None``: no limit)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # Cleared before ``done`` looks: an event that ``done`` itself brings
            # about (it may act, e.g. send a Delete) then still wakes the wait.
            self._changed.clear()
            if done(self):
                return True
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return done(self)


@dataclass
class Peer:
    """One engine on its sockets."""

    endpoint: Any
    transport: UdpTransport
    log: EventLog
    config: EndpointConfig


async def start_peer(
    config: EndpointConfig,
    backend: str = "rust",
    on_event: Callable[[object], None] | None = None,
) -> Peer:
    """Build an ``IkeEndpoint`` for ``config`` and bind its sockets.

    Raises:
        ImportError: the engine or the crypto backend cannot be loaded.
        OSError: a socket cannot be bound.
    """
    endpoint = _engine_class()(config, _backend(backend), os.urandom)
    log = EventLog(on_event=on_event)
    transport = UdpTransport(
        endpoint,
        bind_addresses(config),
        on_event=log,
        receive_buffer=config.receive_buffer or None,
    )
    await transport.start()  # OSError "cannot bind HOST:PORT: ..." names the socket
    for conn in config.connections.values():
        if conn.keylog is not None:
            logger.warning(
                "keylog is on for connection %r: IKE keys are written to %s "
                "(anyone who reads it can decrypt the IKE traffic)",
                conn.name,
                getattr(conn.keylog, "path", conn.keylog),
            )
    return Peer(endpoint, transport, log, config)


MAX_ECHOES = 0xFFFF
"""Most echo requests one run sends: the ICMP sequence number is 16 bits."""


def echo_count(text: str) -> int:
    """argparse type of ``--ping``/``--packets``: an integer 0..65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_ECHOES:
        raise argparse.ArgumentTypeError(
            f"must be 0..{MAX_ECHOES} (16-bit ICMP sequence), got {value}"
        )
    return value


def positive_seconds(text: str) -> float:
    """argparse type of ``--timeout``: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def free_udp_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` UDP ports that are free on ``host`` right now (for demos/tests).

    LIMITATION: the ports are released before they are returned, so another socket
    or process may take one before the caller binds it (``pqike demo --port-base
    0`` then fails with "cannot bind"). Where the caller can hand sockets over, it
    binds them with :func:`pqike.transport.udp.bind_sockets` and passes them to
    ``UdpTransport(sockets=...)`` instead, as the loopback benchmark does.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


_stdout_closed: list[SignalStop] = []
"""The stop events to set when stdout's reader goes away (see :func:`say`)."""


def format_spi(spi: int) -> str:
    """An ESP SPI, or the Child SA numbered by it, as 8 hex digits (``c1234567``), as
    strongSwan prints them."""
    return f"{spi:08x}"


def say(text: str) -> None:
    """Print one line of command output to stdout, flushed (tests read it live).

    When the reader has closed stdout (``pqike initiate ... | head -4``) the
    BrokenPipeError is not raised (this runs inside event callbacks): stdout is
    pointed at /dev/null, later lines are dropped, and the running session's
    :class:`SignalStop` is set with ``broken_pipe``, so that it deletes its SAs and
    exits 1. A session with nothing more to print notices the closed pipe all the
    same (:func:`_watch_stdout`)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _lose_stdout()


def _lose_stdout() -> None:
    _unwatch_stdout()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    logger.warning("stdout was closed by its reader: stopping")
    for stop in _stdout_closed:
        stop.broken_pipe = True
        stop.set()


class SignalStop(asyncio.Event):
    """An event set by SIGINT or SIGTERM, or when stdout is closed by its reader;
    ``signum`` and ``broken_pipe`` say which."""

    signum: int | None = None
    broken_pipe: bool = False

    @property
    def exit_status(self) -> int:
        """128 + the signal number (130 SIGINT, 143 SIGTERM), as shells report;
        1 when stdout was closed."""
        if self.broken_pipe and self.signum is None:
            return EXIT_FAILED
        return 128 + (self.signum or signal.SIGINT)


def stop_on_signals() -> SignalStop:
    """An event set by SIGINT or SIGTERM, or when stdout's reader goes away (for a
    clean shutdown)."""
    stop = SignalStop()
    _stdout_closed[:] = [stop]
    loop = asyncio.get_running_loop()

    def stopped(sig: int) -> None:
        stop.signum = sig
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped, sig)
    _watch_stdout(loop)
    return stop


_stdout_watch: list[tuple[asyncio.AbstractEventLoop, int]] = []
"""The loop watching stdout's pipe, and its descriptor (see :func:`_watch_stdout`)."""


def _watch_stdout(loop: asyncio.AbstractEventLoop) -> None:
    """Stop the session as soon as the reader of a stdout pipe goes away, not only at
    the next line printed.

    A session that has printed all it has to say (``initiate`` with its SA up, an
    idle ``respond``) prints nothing until a signal comes; if its last lines were
    already in the pipe when the reader closed it, :func:`say` would never see the
    BrokenPipeError and the command would wait for ever with nobody to read it.
    The write end of a pipe is never readable, and ``poll`` reports it as an error
    once no reader is left, which a reader callback receives.

    LIMITATION: only a pipe is watched; with stdout on a socket (or a terminal) a
    reader that goes away is noticed at the next line printed.
    """
    _unwatch_stdout()
    try:
        fd = sys.stdout.fileno()
        watchable = stat.S_ISFIFO(os.fstat(fd).st_mode) and (
            fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
        )
    except (AttributeError, OSError, ValueError):  # replaced (tests) or closed
        return
    if not watchable:
        return
    try:
        loop.add_reader(fd, _lose_stdout)
    except (OSError, ValueError, NotImplementedError):  # a loop without add_reader
        return
    _stdout_watch[:] = [(loop, fd)]


def _unwatch_stdout() -> None:
    for loop, fd in _stdout_watch:
        loop.remove_reader(fd)  # a no-op once the loop is closed
    _stdout_watch.clear()


# -- a toy host behind the tunnel: IPv4 ICMP echo ---------------------------------

_IPV4 = struct.Struct(">BBHHHBBH4s4s")
_ICMP = struct.Struct(">BBHHH")
_ECHO_REQUEST, _ECHO_REPLY, _PROTO_ICMP = 8, 0, 1


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4_icmp(
    src: str, dst: str, icmp_type: int, ident: int, seq: int, data: bytes
) -> bytes:
    icmp = _ICMP.pack(icmp_type, 0, 0, ident, seq) + data
    icmp = icmp[:2] + struct.pack(">H", _checksum(icmp)) + icmp[4:]
    src_b, dst_b = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    header = _IPV4.pack(
        0x45, 0, 20 + len(icmp), seq, 0, 64, _PROTO_ICMP, 0, src_b, dst_b
    )
    header = header[:10] + struct.pack(">H", _checksum(header)) + header[12:]
    return header + icmp


def echo_request(src: str, dst: str, ident: int, seq: int, data: bytes) -> bytes:
    """An IPv4 ICMP echo request packet (what ``ping`` sends), checksums included."""
    return _ipv4_icmp(src, dst, _ECHO_REQUEST, ident, seq, data)


@dataclass(frozen=True)
class Echo:
    """A parsed IPv4 ICMP echo request or reply."""

    src: str
    dst: str
    is_request: bool
    ident: int
    seq: int
    data: bytes


def parse_echo(packet: bytes) -> Echo | None:
    """The echo in an IPv4 packet, or None if it is anything else or malformed."""
    if len(packet) < 28 or packet[0] != 0x45 or packet[9] != _PROTO_ICMP:
        return None
    if _checksum(packet[:20]) != 0 or _checksum(packet[20:]) != 0:
        return None
    icmp_type, _, _, ident, seq = _ICMP.unpack_from(packet, 20)
    if icmp_type not in (_ECHO_REQUEST, _ECHO_REPLY):
        return None
    src = str(ipaddress.IPv4Address(packet[12:16]))
    dst = str(ipaddress.IPv4Address(packet[16:20]))
    return Echo(src, dst, icmp_type == _ECHO_REQUEST, ident, seq, packet[28:])


def count_echoes(log: EventLog, requests: bool) -> int:
    """Echo requests (or replies) among the ESP payloads ``log`` received."""
    total = 0
    for event in log.events:
        payload = getattr(event, "payload", None)
        if type(event).__name__ == "EspReceived" and isinstance(payload, bytes):
            echo = parse_echo(payload)
            total += echo is not None and echo.is_request == requests
    return total


def echo_reply(packet: bytes) -> bytes | None:
    """The reply a host would send to an echo request, or None for other packets."""
    echo = parse_echo(packet)
    if echo is None or not echo.is_request:
        return None
    return _ipv4_icmp(echo.dst, echo.src, _ECHO_REPLY, echo.ident, echo.seq, echo.data)


def run_session(command: str, args: Any) -> int:
    """Shared driver of ``respond`` and ``initiate``: load and check the
    configuration, then run the session; errors become messages and exit codes."""
    from pqike.config import check_backend, load
    from pqike.errors import ConfigError

    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"pqike: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        backend = _backend(args.backend)
    except ImportError as exc:
        print(f"pqike {command}: engine not available: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        # What the chosen backend lacks (the reference one has no ML-KEM-512) is
        # named now, not as a failed handshake without a reason.
        check_backend(config, backend)
    except ConfigError as exc:
        print(
            f"pqike: configuration error (with --backend {args.backend}): {exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    name = getattr(args, "name", None)
    if name is not None and name not in config.connections:
        known = ", ".join(config.connections)
        print(
            f"pqike: no connection {name!r} in {args.config} (has: {known})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if name is not None and not config.connections[name].remote_addrs:
        print(
            f"pqike: configuration error: connections.{name}.remote_addrs: "
            "initiating needs a peer address, not %any (or nothing)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    def session() -> Coroutine[Any, Any, int]:
        # Imported here: while the engine is missing this raises ImportError.
        from pqike.cli import peer_session

        return cast(
            Coroutine[Any, Any, int], getattr(peer_session, command)(args, config)
        )

    return run_async(command, session)


def run_async(
    command: str, session: Callable[[], Coroutine[Any, Any, int]], hint: str = ""
) -> int:
    """Run ``session()`` on a new event loop; engine, socket and pipe failures become
    a message on stderr (plus ``hint`` for socket errors) and an exit status."""
    try:
        return asyncio.run(session())
    except ImportError as exc:
        print(f"pqike {command}: engine not available: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # stdout closed by the reader
        return EXIT_FAILED
    except OSError as exc:
        print(f"pqike {command}: {exc}", file=sys.stderr)
        if hint:
            print(f"  ({hint})", file=sys.stderr)
        return EXIT_FAILED
