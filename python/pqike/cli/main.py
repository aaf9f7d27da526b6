# SPDX-License-Identifier: Apache-2.0
"""``pqike`` entry point: global options, logging set-up and subcommand dispatch.

Each subcommand lives in its own module of this package with two functions:
``register(subparsers)`` adds its parser (and sets ``func``), and ``run(args)``
returns the exit status. To add a command, write
``pqike/cli/<name>.py`` with those two functions and list its name in
:data:`COMMANDS`; nothing else changes.

This is the only place in pqike that configures logging.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pqike import __version__

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[str, ...] = ("demo", "respond", "initiate", "decode", "bench")
"""Subcommand modules of ``pqike.cli``, in help order."""

_LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="pqike",
        description="Hybrid post-quantum IKEv2 (ML-KEM + RFC 9370/9242).",
    )
    parser.add_argument("--version", action="version", version=f"pqike {__version__}")
    parser.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        default="warning",
        help="log messages at this level and above to stderr (default: warning)",
    )
    parser.add_argument(
        "--backend",
        choices=("rust", "reference"),
        default="rust",
        help="crypto backend: rust (default) or reference",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"pqike.cli.{name}").register(subparsers)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pqike``; returns the exit status (0 success, 1 failure, 2 usage)."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.log_level)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
