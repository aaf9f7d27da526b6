# SPDX-License-Identifier: Apache-2.0
"""Echo requests through a Child SA, paced so that the peer's socket can keep up
(``initiate --ping`` and ``demo --packets``).

Sending all N requests at once loses every one that does not fit into the
receiving UDP socket's buffer: Linux's default (``net.core.rmem_default`` 212992)
holds about 256 small datagrams, so ``--ping 1000`` got 256 replies. At most
:data:`WINDOW` requests are unanswered at any time; each reply lets the next one go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pqike.cli.common import EventLog, parse_echo

__all__ = ["ECHO_IDENT", "WINDOW", "EchoReplies", "send_paced", "wait_or_stop"]

WINDOW = 64
"""Echo requests in flight at most: 64 datagrams of up to ~1.5 kB fit well into
the default receive buffer, and keep a loopback tunnel busy."""

ECHO_IDENT = 0x5049
"""The ICMP identifier of the CLI's echo requests ("PI")."""


class EchoReplies:
    """The distinct echo replies (by sequence number) among a log's ESP events,
    counted incrementally: each call looks only at the events that came since the
    last one (a full count per event would be quadratic in N)."""

    def __init__(self, log: EventLog, ident: int = ECHO_IDENT) -> None:
        self.log = log
        self.ident = ident
        self.seen = 0
        self.seqs: set[int] = set()

    def more_than(self, known: int) -> Callable[[EventLog], bool]:
        """A ``wait_for`` condition: more than ``known`` replies are in."""
        return lambda _log: self.count() > known

    def count(self) -> int:
        """Replies received so far."""
        events = self.log.events
        for event in events[self.seen :]:
            payload = getattr(event, "payload", None)
            if type(event).__name__ != "EspReceived" or not isinstance(payload, bytes):
                continue
            echo = parse_echo(payload)
            if echo is not None and not echo.is_request and echo.ident == self.ident:
                self.seqs.add(echo.seq)
        self.seen = len(events)
        return len(self.seqs)


async def wait_or_stop(
    log: EventLog,
    done: Callable[[EventLog], bool],
    timeout: float | None,
    stop: asyncio.Event | None,
) -> bool:
    """``log.wait_for(done, timeout)``, cut short when ``stop`` is set; True only if
    ``done`` held."""
    if stop is None:
        return await log.wait_for(done, timeout)
    waiting = asyncio.ensure_future(log.wait_for(done, timeout))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        stopped.cancel()
    return done(log)


async def send_paced(
    count: int,
    send: Callable[[int], None],
    flush: Callable[[], None],
    replies: EchoReplies,
    idle_timeout: float,
    stop: asyncio.Event | None = None,
    window: int = WINDOW,
) -> tuple[int, int]:
    """Send echo requests with sequence numbers 1..``count`` (``send(seq)`` queues
    one, ``flush()`` sends what is queued), keeping at most ``window`` of them
    unanswered.

    Ends when every reply is in, when no new reply came for ``idle_timeout``
    seconds (lost requests stay counted as unanswered, so more than ``window``
    losses stall it until then), or when ``stop`` is set.

    Returns:
        The requests sent and the replies received.
    """
    sent = 0
    while True:
        got = replies.count()
        if got >= count or (stop is not None and stop.is_set()):
            return sent, got
        more = max(0, min(count, got + window) - sent)
        for seq in range(sent + 1, sent + more + 1):
            send(seq)
        if more > 0:
            sent += more
            flush()
        progressed = await wait_or_stop(
            replies.log, replies.more_than(got), idle_timeout, stop
        )
        if not progressed:
            return sent, replies.count()
