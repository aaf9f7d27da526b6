# SPDX-License-Identifier: Apache-2.0
"""``pqike respond -c FILE``: serve the connections of a configuration file until
SIGINT or SIGTERM. ICMP echo requests arriving through a tunnel are answered."""

from __future__ import annotations

import argparse
from typing import Any

from pqike.cli.common import run_session

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``respond`` subcommand."""
    parser = subparsers.add_parser(
        "respond", help="run a responder from a TOML file", description=__doc__
    )
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="TOML configuration"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the configuration and respond until stopped."""
    return run_session("respond", args)
