# SPDX-License-Identifier: Apache-2.0
"""``pqike decode HEX``: decode one IKE datagram and print its header and payloads.

The hex may contain white space and colons; ``-`` reads it from stdin. A datagram
from the NAT-T port that starts with the four-octet non-ESP marker is accepted too.
Encrypted (SK/SKF) payloads are shown sealed: decode needs no keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from enum import IntEnum
from typing import Any

from pqike.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, say

__all__ = ["format_message", "notify_label", "register", "run"]

_BYTES_SHOWN = 32


def register(subparsers: Any) -> None:
    """Add the ``decode`` subcommand."""
    parser = subparsers.add_parser(
        "decode", help="decode a hex IKE datagram", description=__doc__
    )
    parser.add_argument(
        "hex", nargs="+", metavar="HEX", help="datagram, or - for stdin"
    )
    parser.set_defaults(func=run)


def _value(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        shown = bytes(value[:_BYTES_SHOWN]).hex()
        more = f"… ({len(value)} octets)" if len(value) > _BYTES_SHOWN else ""
        return shown + more if value else "''"
    if isinstance(value, IntEnum):
        return f"{value.name}({int(value)})"
    if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
        return "[" + "; ".join(_fields(v) for v in value) + "]"
    return repr(value)


def notify_label(notify_type: int) -> str:
    """``INVALID_KE_PAYLOAD(17)``: the IANA name with the number, or the number."""
    from pqike.ikev2.suite import notify_name

    name = notify_name(notify_type)
    return name if name == str(notify_type) else f"{name}({notify_type})"


def _notify_type(value: object) -> str:
    return notify_label(value) if isinstance(value, int) else _value(value)


_NAMED_FIELDS = {"notify_type": _notify_type}
"""Integer fields printed with their IANA name (by field name)."""


def _fields(obj: object) -> str:
    if not dataclasses.is_dataclass(obj):
        return repr(obj)
    parts = [
        f"{f.name}={_NAMED_FIELDS.get(f.name, _value)(getattr(obj, f.name))}"
        for f in dataclasses.fields(obj)
    ]
    return f"{type(obj).__name__}({', '.join(parts)})"


def _name(enum: type[IntEnum], value: int) -> str:
    try:
        return f"{enum(value).name}({value})"
    except ValueError:
        return str(value)


def format_message(datagram: bytes) -> list[str]:
    """Lines describing one IKE datagram.

    Raises:
        DecodeError: the bytes are not an IKE message.
    """
    from pqike.ikev2.codec import decode_message
    from pqike.ikev2.constants import NON_ESP_MARKER, ExchangeType

    lines: list[str] = []
    if datagram.startswith(NON_ESP_MARKER):
        lines.append("non-ESP marker (UDP port 4500)")
        datagram = datagram[len(NON_ESP_MARKER) :]
    message = decode_message(datagram)
    header = message.header
    kind = "response" if header.is_response else "request"
    role = "initiator" if header.is_initiator else "responder"
    lines.append(
        f"IKEv{header.major_version}.{header.minor_version} "
        f"{_name(ExchangeType, header.exchange_type)} {kind} from the {role}, "
        f"message ID {header.message_id}, {header.length} octets"
    )
    lines.append(f"  SPIs {header.spi_i.hex()} / {header.spi_r.hex()}")
    for payload in message.payloads:
        lines.append(f"  {_fields(payload)}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Decode and print; 1 when the bytes are not an IKE message."""
    from pqike.errors import DecodeError

    text = sys.stdin.read() if args.hex == ["-"] else "".join(args.hex)
    cleaned = "".join(text.split()).replace(":", "")
    if cleaned.startswith(("0x", "0X")):
        cleaned = cleaned[2:]
    try:
        datagram = bytes.fromhex(cleaned)
    except ValueError:
        print("pqike decode: not hex", file=sys.stderr)
        return EXIT_USAGE
    try:
        for line in format_message(datagram):
            say(line)
    except DecodeError as exc:
        print(f"pqike decode: not an IKE message: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
