# SPDX-License-Identifier: Apache-2.0
"""``pqike demo``: a responder and an initiator in one process over real UDP sockets
on loopback, with the built-in configuration (``pqike.config.demo_pair``).

Prints the proposal, each exchange with its message sizes, the negotiated suite and
the handshake time, then sends ICMP echo requests through the Child SA; the
responder's toy host answers them, and both directions are counted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Coroutine
from typing import Any

from pqike.cli.common import (
    EXIT_USAGE,
    echo_count,
    free_udp_ports,
    positive_seconds,
    run_async,
)
from pqike.config import DEMO_INITIATOR_PORTS, DEMO_RESPONDER_PORTS, demo_pair

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run both ends on loopback and carry ESP",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--packets",
        type=echo_count,
        default=5,
        help="echo requests to send, 0..65535 (default 5)",
    )
    parser.add_argument(
        "--size", type=int, default=56, help="echo payload octets, 0..1400 (default 56)"
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="responder uses PORT/PORT+1, initiator PORT+2/PORT+3; 0 picks free "
        f"ports (default {DEMO_RESPONDER_PORTS} and {DEMO_INITIATOR_PORTS})",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=10.0,
        help="seconds per phase; while pinging, for each next reply (default 10)",
    )
    parser.set_defaults(func=run)


def _ports(base: int | None) -> tuple[tuple[int, int], tuple[int, int]]:
    if base is None:
        return DEMO_RESPONDER_PORTS, DEMO_INITIATOR_PORTS
    ports = free_udp_ports(4) if base == 0 else [base + i for i in range(4)]
    return (ports[0], ports[1]), (ports[2], ports[3])


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every echo came back authenticated."""
    if not 0 <= args.size <= 1400:
        print("pqike demo: --size must be 0..1400", file=sys.stderr)
        return EXIT_USAGE
    if args.port_base is not None and not 0 <= args.port_base <= 65532:
        print("pqike demo: --port-base must be 0..65532", file=sys.stderr)
        return EXIT_USAGE
    responder_ports, initiator_ports = _ports(args.port_base)
    configs = demo_pair(
        responder_ports=responder_ports, initiator_ports=initiator_ports
    )

    def session() -> Coroutine[Any, Any, int]:
        # Imported here: while the engine is missing this raises ImportError.
        from pqike.cli.demo_session import demo

        return demo(args, *configs)

    return run_async("demo", session, hint="try --port-base 0 for free ports")
