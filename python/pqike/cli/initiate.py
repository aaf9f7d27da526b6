# SPDX-License-Identifier: Apache-2.0
"""``pqike initiate -c FILE NAME``: bring up connection NAME of a configuration file.

Exits 0 once the IKE SA and its first Child SA are up and, without ``--once``,
keeps them up until SIGINT or SIGTERM (then deletes them and exits 0); exits 1 when
the exchange fails, times out, or the SA is lost.
"""

from __future__ import annotations

import argparse
from typing import Any

from pqike.cli.common import echo_count, positive_seconds, run_session

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``initiate`` subcommand."""
    parser = subparsers.add_parser(
        "initiate",
        help="initiate a connection from a TOML file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="TOML configuration"
    )
    parser.add_argument("name", metavar="NAME", help="connection name in the file")
    parser.add_argument(
        "--once", action="store_true", help="delete the SA once it is up, then exit"
    )
    parser.add_argument(
        "--ping",
        type=echo_count,
        default=0,
        metavar="N",
        help="send N (0..65535) ICMP echo requests through the child and wait for "
        "the replies",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds to wait for the SA and, while pinging, for each next reply "
        "(default 30)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the configuration and initiate ``args.name``."""
    return run_session("initiate", args)
