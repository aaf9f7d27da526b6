# SPDX-License-Identifier: Apache-2.0
"""Endpoint configuration: frozen dataclasses, loaded from TOML and validated once.

:func:`load` reads a TOML file (format: ``docs/config.md``) and returns an
:class:`EndpointConfig`; every problem raises :class:`~pqike.errors.ConfigError` whose
``field`` is the TOML path of the offending value, e.g.
``connections.site-a.ike_proposals[0]``. :func:`defaults` returns the built-in demo
configuration (both ends on 127.0.0.1).

Nothing here does I/O after loading: the engine and transport receive plain values.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import math
import os
import re
import select
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pqike.crypto import suites
from pqike.errors import ConfigError
from pqike.proposals import (
    ProposalKind,
    ProposalSpec,
    check_proposal,
    parse_proposal,
)
from pqike.proposals import check_backend as _check_spec_backend

if TYPE_CHECKING:
    from pqike.crypto import Backend

__all__ = [
    "DEFAULT_ESP_PROPOSAL",
    "DEFAULT_IKE_PROPOSAL",
    "DEMO_PSK",
    "MAX_CONFIG_OCTETS",
    "MAX_PSK_FILE_OCTETS",
    "PIPE_WAIT_SECONDS",
    "Addr",
    "ChildConfig",
    "ConnectionConfig",
    "EndpointConfig",
    "Identity",
    "KeylogFile",
    "TrafficSelector",
    "check_backend",
    "defaults",
    "demo_pair",
    "load",
    "loads",
]

Addr = tuple[str, int]
"""(IP address literal, UDP port)."""

DEFAULT_IKE_PROPOSAL = "aes256gcm16-prfsha384-x25519-ke1_mlkem768"
DEFAULT_ESP_PROPOSAL = "aes256gcm16"
DEMO_PSK = b"pqike-demo-psk: public, for loopback demos only"
"""The demo's pre-shared key. It is published in the source: never deploy it."""

# IKEv2 ID types (RFC 7296 §3.5) and traffic selector types (§3.13.1).
_ID_IPV4, _ID_FQDN, _ID_RFC822, _ID_IPV6, _ID_KEY_ID = 1, 2, 3, 5, 11
_TS_IPV4, _TS_IPV6 = 7, 8

_ID_PREFIXES: dict[str, int] = {
    "fqdn": _ID_FQDN,
    "email": _ID_RFC822,
    "rfc822": _ID_RFC822,
    "userfqdn": _ID_RFC822,
    "ipv4": _ID_IPV4,
    "ipv6": _ID_IPV6,
    "keyid": _ID_KEY_ID,
}
_IP_PROTOCOLS: dict[str, int] = {
    "any": 0,
    "icmp": 1,
    "tcp": 6,
    "udp": 17,
    "ipv6-icmp": 58,
    "icmp6": 58,
    "sctp": 132,
}

logger = logging.getLogger("pqike.config")

MAX_ID_OCTETS = 65535 - 8
"""Longest identification data: an ID payload's length is 16 bits (RFC 7296 §3.2)
and counts the 4-octet generic header and the 4 octets of ID type and reserved
(§3.5) as well."""
MAX_TRAFFIC_SELECTORS = 255
"""Selectors per TSi/TSr payload: "Number of TSs" is one octet (RFC 7296 §3.13)."""
MAX_PROPOSALS = 255
"""Proposals per SA payload: "Proposal Num" is one octet (RFC 7296 §3.3.1)."""

_PROTOCOL_NAMES: dict[int, str] = {}
for _proto_name, _proto in _IP_PROTOCOLS.items():
    _PROTOCOL_NAMES.setdefault(_proto, _proto_name)


@dataclass(frozen=True)
class Identity:
    """An IKE identity (ID payload body without the reserved octets)."""

    id_type: int
    """RFC 7296 §3.5 ID type: 1 IPv4, 2 FQDN, 3 RFC822, 5 IPv6, 11 KEY_ID."""
    data: bytes
    """Identification data as sent on the wire."""

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Parse strongSwan-like identity syntax.

        ``fqdn:a.pq.test``, ``a.pq.test`` and ``@a.pq.test`` are FQDNs; ``user@x`` (or
        ``email:user@x``) is RFC822; an IP literal is an address ID; ``keyid:#0a1b``
        is a hex key ID and ``keyid:text`` a key ID of those UTF-8 octets.

        Raises:
            ValueError: empty text, a bad address after ``ipv4:``/``ipv6:`` or bad hex.
        """
        text = text.strip()
        prefix, sep, rest = text.partition(":")
        if sep and prefix.lower() in _ID_PREFIXES:
            return cls._typed(_ID_PREFIXES[prefix.lower()], rest)
        try:
            return cls._address(ipaddress.ip_address(text))
        except ValueError:
            pass
        if text.startswith("@"):
            return cls._typed(_ID_FQDN, text[1:])
        if "=" in text:
            # LIMITATION: no DER_ASN1_DN identities (they come with certificates).
            raise ValueError(f"{text!r} looks like a distinguished name: unsupported")
        return cls._typed(_ID_RFC822 if "@" in text else _ID_FQDN, text)

    @classmethod
    def _address(cls, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Identity:
        return cls(_ID_IPV4 if addr.version == 4 else _ID_IPV6, addr.packed)

    @classmethod
    def _typed(cls, id_type: int, value: str) -> Identity:
        if not value:
            raise ValueError("identity is empty")
        if id_type in (_ID_IPV4, _ID_IPV6):
            addr = ipaddress.ip_address(value)
            if (addr.version == 4) != (id_type == _ID_IPV4):
                raise ValueError(f"{value!r} is not an IPv{6 - 2 * (id_type == 1)} ID")
            return cls._address(addr)
        if id_type == _ID_KEY_ID and value.startswith("#"):
            try:
                return cls(id_type, bytes.fromhex(value[1:]))
            except ValueError:
                raise ValueError(f"key ID {value!r} is not hex") from None
        if id_type in (_ID_FQDN, _ID_RFC822):
            _check_name(id_type, value)
        return cls(id_type, value.encode())

    def __str__(self) -> str:
        if self.id_type in (_ID_IPV4, _ID_IPV6):
            return str(ipaddress.ip_address(self.data))
        if self.id_type == _ID_FQDN:
            return f"fqdn:{self.data.decode(errors='replace')}"
        if self.id_type == _ID_RFC822:
            return self.data.decode(errors="replace")
        if self.id_type == _ID_KEY_ID:
            return f"keyid:#{self.data.hex()}"
        return f"id{self.id_type}:#{self.data.hex()}"


def _check_name(id_type: int, value: str) -> None:
    """RFC 7296 §3.5: ID_FQDN and ID_RFC822_ADDR are strings "without any terminators"
    (no NUL, CR, LF or other control character). A peer compares the octets, so an
    FQDN must be ASCII: a name with other letters is sent in its IDNA form (RFC 5890,
    ``xn--...``), as DNS carries it.

    Raises:
        ValueError: a control character, or a non-ASCII FQDN (with its IDNA form).
    """
    what = "FQDN" if id_type == _ID_FQDN else "RFC822"
    for index, char in enumerate(value):
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            raise ValueError(
                f"{what} identity {value!r} has a control character (U+{ord(char):04X}"
                f" at {index}); RFC 7296 §3.5 IDs are strings without terminators"
            )
    if id_type == _ID_FQDN and not value.isascii():
        try:
            hint = f": write {value.encode('idna').decode('ascii')!r}"
        except UnicodeError:
            hint = ""
        raise ValueError(
            f"FQDN identity {value!r} is not ASCII; peers compare the octets, so use "
            f"the IDNA (punycode, xn--...) form{hint}"
        )


@dataclass(frozen=True)
class TrafficSelector:
    """One traffic selector (RFC 7296 §3.13.1), addresses as packed bytes."""

    ts_type: int
    """7 TS_IPV4_ADDR_RANGE or 8 TS_IPV6_ADDR_RANGE."""
    ip_protocol: int
    """IP protocol number, 0 = any."""
    start_port: int
    end_port: int
    start_addr: bytes
    end_addr: bytes

    @classmethod
    def parse(cls, text: str) -> TrafficSelector:
        """Parse ``10.0.0.0/24``, ``10.0.0.1``, ``10.0.0.1-10.0.0.9``, optionally
        followed by ``[proto]`` or ``[proto/port]`` / ``[proto/lo-hi]`` (strongSwan
        syntax), e.g. ``10.0.0.0/24[tcp/443]``, ``::/0[udp]``.

        Raises:
            ValueError: bad address, prefix, protocol or port, naming the part.
        """
        text = text.strip()
        addresses, _, selector = text.partition("[")
        protocol, start_port, end_port = 0, 0, 65535
        if selector:
            if not selector.endswith("]"):
                raise ValueError(f"{text!r}: missing ']'")
            protocol, start_port, end_port = _parse_proto_ports(selector[:-1])
        start, end = _parse_range(addresses.strip())
        ts_type = _TS_IPV4 if start.version == 4 else _TS_IPV6
        return cls(ts_type, protocol, start_port, end_port, start.packed, end.packed)

    def __str__(self) -> str:
        start = ipaddress.ip_address(self.start_addr)
        end = ipaddress.ip_address(self.end_addr)
        nets = list(ipaddress.summarize_address_range(start, end))
        text = str(nets[0]) if len(nets) == 1 else f"{start}-{end}"
        if self.ip_protocol == 0 and (self.start_port, self.end_port) == (0, 65535):
            return text
        ports = (
            ""
            if (self.start_port, self.end_port) == (0, 65535)
            else f"/{self.start_port}"
            if self.start_port == self.end_port
            else f"/{self.start_port}-{self.end_port}"
        )
        protocol = _PROTOCOL_NAMES.get(self.ip_protocol, str(self.ip_protocol))
        return f"{text}[{protocol}{ports}]"


_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_range(text: str) -> tuple[_IpAddress, _IpAddress]:
    if "-" in text:
        first, _, last = text.partition("-")
        start, end = ipaddress.ip_address(first), ipaddress.ip_address(last)
        if start.version != end.version or int(start) > int(end):
            raise ValueError(f"{text!r} is not an address range")
        return start, end
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return net.network_address, net.broadcast_address


def _parse_proto_ports(text: str) -> tuple[int, int, int]:
    name, _, ports = text.partition("/")
    name = name.strip().lower()
    if name in _IP_PROTOCOLS:
        protocol = _IP_PROTOCOLS[name]
    elif name.isdigit() and int(name) <= 255:
        protocol = int(name)
    else:
        raise ValueError(f"unknown IP protocol {name!r}")
    if not ports or ports == "%any":
        return protocol, 0, 65535
    first, _, last = ports.partition("-")
    last = last or first
    if not (first.isdigit() and last.isdigit()):
        raise ValueError(f"bad port {ports!r}")
    start, end = int(first), int(last)
    if not start <= end <= 65535:
        raise ValueError(f"bad port range {ports!r}")
    return protocol, start, end


@dataclass(frozen=True)
class ChildConfig:
    """One Child SA (ESP) of a connection."""

    name: str
    local_ts: tuple[TrafficSelector, ...]
    remote_ts: tuple[TrafficSelector, ...]
    esp_proposals: tuple[ProposalSpec, ...]
    mode: Literal["tunnel", "transport"] = "tunnel"
    replay_window: int = 64
    """Anti-replay window in packets: 0 (off) or 32..8192."""


@dataclass(frozen=True)
class ConnectionConfig:
    """One IKE connection: peers, identities, PSK, proposals and children."""

    name: str
    local_addrs: tuple[str, ...]
    """Local IP literals; empty = any listen address."""
    remote_addrs: tuple[str, ...]
    """Peer IP literals; empty (``%any`` in TOML) = accept from anywhere."""
    remote_port: int
    """The peer's IKE port (500 unless the peer listens elsewhere)."""
    local_id: Identity
    remote_id: Identity
    psk: bytes = field(repr=False)
    """Pre-shared key; never shown by ``repr``."""
    ike_proposals: tuple[ProposalSpec, ...]
    children: tuple[ChildConfig, ...]
    fragment_size: int = 1280
    force_encap: bool = False
    retransmit_timeout: float = 4.0
    retransmit_tries: int = 5
    retransmit_base: float = 1.8
    dpd_delay: float = 0
    """Seconds of inactivity before a liveness check; 0 = off."""
    keylog: Callable[[str], None] | None = None
    """DANGER: receives key material (Wireshark IKEv2 decryption-table rows).

    Anyone reading its output can decrypt the traffic. Debugging only."""
    remote_natt_port: int = 4500
    """The peer's NAT-T port, used after floating to UDP encapsulation."""


@dataclass(frozen=True, kw_only=True)
class EndpointConfig:
    """One endpoint: the sockets it binds and the connections it serves."""

    listen: Sequence[Addr]
    """IKE sockets ``(address, port)``; for each address the transport also binds
    ``(address, natt_port)``."""
    connections: Mapping[str, ConnectionConfig]
    port: int = 500
    """Local IKE port. The engine sends from ``(host, port)`` or ``(host, natt_port)``,
    so both must be real port numbers (pick free ones in tests)."""
    natt_port: int = 4500
    """Local NAT-T port."""
    cookie_threshold: int = 30
    """Half-open IKE SAs above which the responder demands a COOKIE (0 = always)."""
    half_open_limit: int = 1000
    """Half-open IKE SAs above which new IKE_SA_INIT requests are dropped."""
    receive_buffer: int = 0
    """Receive buffer (``SO_RCVBUF``) in octets to ask for on each socket; 0 keeps
    the system default (Linux: ``net.core.rmem_default``, 212992). A responder
    that many initiators reach at once needs about 4 KiB per initiator in flight,
    or the kernel drops what does not fit and those handshakes wait for
    retransmissions (see ``pqike.transport.udp``)."""


class KeylogFile:
    """A ``keylog`` callable that appends each row to a file.

    DANGER: the file then holds keys that decrypt this endpoint's IKE traffic. It is
    created readable and writable by its owner only (0600).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, row: str) -> None:
        """Append ``row``; when the file cannot be opened safely (a symbolic link,
        a file of another user, no permission) log an ERROR and drop the row: this
        runs inside the engine, which must not fail because of a debugging aid."""
        fd = self._open()
        if fd is None:
            return
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(row.rstrip("\n") + "\n")

    def _open(self) -> int | None:
        # Created readable by the owner only: the rows decrypt the traffic. A
        # symbolic link is not followed, and a file that already existed with a
        # wider mode is narrowed to 0600 before anything is written to it.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            logger.error("keylog %s: not written: %s", self.path, exc)
            return None
        info = os.fstat(fd)
        try:
            if info.st_uid != os.geteuid():
                logger.error("keylog %s: not written: owned by another user", self.path)
                os.close(fd)
                return None
            if stat.S_IMODE(info.st_mode) != 0o600:
                os.fchmod(fd, 0o600)
        except OSError as exc:
            os.close(fd)
            logger.error("keylog %s: not written: %s", self.path, exc)
            return None
        return fd

    def __repr__(self) -> str:
        return f"KeylogFile({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeylogFile) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)


# ---------------------------------------------------------------------------------
# TOML reading


_T = TypeVar("_T")
_MISSING: Any = object()

_ENDPOINT_KEYS = frozenset(
    {"listen", "port", "natt_port", "cookie_threshold", "half_open_limit"}
    | {"receive_buffer", "connections"}
)
_CONNECTION_KEYS = frozenset(
    {"local_addrs", "remote_addrs", "remote_port", "remote_natt_port"}
    | {"local_id", "remote_id", "psk", "psk_file", "psk_env", "ike_proposals"}
    | {"children", "fragment_size", "force_encap", "retransmit_timeout"}
    | {"retransmit_tries", "retransmit_base", "dpd_delay", "keylog"}
)
_CHILD_KEYS = frozenset(
    {"local_ts", "remote_ts", "esp_proposals", "mode", "replay_window"}
)


class _Table:
    """A TOML table being read: typed getters that raise ConfigError with the path,
    and a check that no unknown key is given (before any value is read, so that a
    misspelt required key is reported as the typo, not as missing)."""

    def __init__(
        self, data: Mapping[str, Any], path: str, known: frozenset[str]
    ) -> None:
        self.data = data
        self.path = path
        self.used: set[str] = set()
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(self.field(key), f"unknown key{hint}")

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type[_T], default: _T, what: str) -> _T:
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise ConfigError(self.field(key), "required")
            return default
        value: object = self.data[key]
        if kind is float and type(value) is int:
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and type(value) is bool):
            raise ConfigError(self.field(key), f"must be {what}")
        return value

    def string(self, key: str, default: str = _MISSING) -> str:
        return self.get(key, str, default, "a string")

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.get(key, int, default, "an integer")
        if not low <= value <= high:
            raise ConfigError(self.field(key), f"must be {low}..{high}, got {value}")
        return value

    def number(self, key: str, default: float, low: float) -> float:
        """A finite number >= ``low`` (NaN and infinities are refused)."""
        value = self.get(key, float, default, "a number")
        if not math.isfinite(value):
            raise ConfigError(self.field(key), f"must be a finite number, got {value}")
        if value < low:
            raise ConfigError(self.field(key), f"must be >= {low}, got {value}")
        return value

    def strings(self, key: str, default: list[str] = _MISSING) -> list[str]:
        value = self.get(key, list, default, "a list of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(f"{self.field(key)}[{index}]", "must be a string")
        return value

    def tables(self, key: str, known: frozenset[str]) -> dict[str, _Table]:
        value = self.get(key, dict, {}, "a table")
        out: dict[str, _Table] = {}
        for name, sub in value.items():
            if not isinstance(sub, dict):
                raise ConfigError(f"{self.field(key)}.{name}", "must be a table")
            out[name] = _Table(sub, f"{self.field(key)}.{name}", known)
        return out

    def finish(self) -> None:
        for key in self.data:
            if key not in self.used:
                raise ConfigError(self.field(key), "unknown key")


def _ip_list(table: _Table, key: str, default: list[str]) -> tuple[str, ...]:
    """IP literals; ``["%any"]`` alone is the empty tuple (any address). ``%any``
    beside specific addresses is refused: it would be silently narrowed to them."""
    out: list[str] = []
    texts = table.strings(key, default)
    for index, text in enumerate(texts):
        if text == "%any":
            if len(texts) > 1:
                raise ConfigError(
                    f"{table.field(key)}[{index}]",
                    "%any (any address) cannot be listed beside specific addresses: "
                    'use ["%any"] alone, or only the addresses',
                )
            continue
        try:
            out.append(str(ipaddress.ip_address(text)))
        except ValueError:
            raise ConfigError(
                f"{table.field(key)}[{index}]", f"{text!r} is not an IP address"
            ) from None
    return tuple(out)


def _parsed(
    table: _Table,
    key: str,
    default: list[str],
    parse: Callable[[str], _T],
    limit: tuple[int, str],
) -> tuple[_T, ...]:
    """``key``'s strings, each through ``parse``; at most ``limit[0]`` of them
    (``limit[1]`` says why)."""
    items = table.strings(key, default)
    if not items:
        raise ConfigError(table.field(key), "must not be empty")
    if len(items) > limit[0]:
        raise ConfigError(
            table.field(key), f"at most {limit[0]} {limit[1]}, got {len(items)}"
        )
    out: list[_T] = []
    for index, text in enumerate(items):
        try:
            out.append(parse(text))
        except ValueError as exc:
            raise ConfigError(f"{table.field(key)}[{index}]", str(exc)) from None
    return tuple(out)


def _proposals(
    table: _Table, key: str, default: str, kind: ProposalKind
) -> tuple[ProposalSpec, ...]:

    def parse(text: str) -> ProposalSpec:
        spec = parse_proposal(text, kind)
        check_proposal(spec, kind)
        return spec

    why = "proposals (the proposal number is one octet)"
    return _parsed(table, key, [default], parse, (MAX_PROPOSALS, why))


def _identity(table: _Table, key: str) -> Identity:
    text = table.string(key)
    try:
        identity = Identity.parse(text)
    except ValueError as exc:
        raise ConfigError(table.field(key), str(exc)) from None
    if len(identity.data) > MAX_ID_OCTETS:
        raise ConfigError(
            table.field(key),
            f"identity is {len(identity.data)} octets; at most {MAX_ID_OCTETS} fit "
            "an ID payload (16-bit payload length)",
        )
    return identity


_NOT_UTF8 = (
    "is not valid UTF-8 text; write a binary key as hex with a 0x prefix "
    "(0x6b3a...), which psk, psk_file and psk_env all accept"
)
"""What a PSK source that is no UTF-8 text is told: never the offending octet or its
position (UnicodeDecodeError's text shows both, and they are key material)."""


def _secret_text(text: str, where: str) -> bytes:
    """PSK text: ``0x``-prefixed hex, otherwise its UTF-8 octets.

    No message quotes any part of ``text``: it is the key.
    """
    if text.startswith(("0x", "0X")):
        try:
            value = bytes.fromhex(text[2:])
        except ValueError:
            raise ConfigError(where, "PSK after '0x' is not hex") from None
    else:
        try:
            value = text.encode()
        except UnicodeEncodeError:
            # An environment value with octets that are no UTF-8 (os.environ keeps them
            # as lone surrogates).
            raise ConfigError(where, f"the PSK {_NOT_UTF8}") from None
    if not value:
        raise ConfigError(where, "PSK is empty")
    return value


MAX_CONFIG_OCTETS = 1 << 20
"""Largest configuration file read (1 MiB); a larger one is refused unread."""
MAX_PSK_FILE_OCTETS = 64 << 10
"""Largest ``psk_file`` read (64 KiB: a key of 32 KiB in hex)."""
PIPE_WAIT_SECONDS = 30.0
"""How long a pipe given as a file is waited for to carry something (its writer to
open it and write, or close it) before the load gives up."""

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_readable(mode: int) -> None:
    """Raise ValueError saying what a file of ``mode`` is, unless a regular file or
    a pipe."""
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        what = next((what for test, what in _FILE_KINDS if test(mode)), "special")
        raise ValueError(f"is {what}, not a regular file or a pipe")


def _read_bounded(path: Path, limit: int) -> tuple[bytes, int]:
    """The octets and mode of the regular file or pipe ``path``, at most ``limit``
    octets.

    A device, socket or directory is refused before it is read (``/dev/zero`` would
    never end, opening a tape or a terminal can act): it is looked at with ``stat``
    first, opened with ``O_NONBLOCK`` (opening a FIFO nobody writes to then returns
    at once) and checked again with ``fstat`` on the open descriptor, in case it was
    swapped in between. A pipe (``-c <(...)``, ``-c /dev/stdin``, a named FIFO) is
    then read to its end like a file: up to :data:`PIPE_WAIT_SECONDS` are given for
    its writer to open it and write (or close it), so a FIFO nobody opens ends in an
    error instead of a hang. At most ``limit + 1`` octets are read, so a larger file
    or an endless pipe is noticed without reading it all.

    Raises:
        ValueError: not a regular file or pipe, or larger than ``limit``; the
            message says which, to follow the path (the caller names the path and
            the field).
        OSError: cannot be opened or read.
    """
    _check_readable(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        _check_readable(info.st_mode)
        if stat.S_ISFIFO(info.st_mode):
            # Opened without blocking, a FIFO whose writer has not come yet reads as
            # at its end: wait until it carries something (Linux reports no hang-up
            # before a writer ever opened it).
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(int(PIPE_WAIT_SECONDS * 1000)):
                raise ValueError(
                    f"is a pipe that nothing was written to in {PIPE_WAIT_SECONDS:g} s"
                )
            # LIMITATION: a writer that never closes its end keeps the load waiting,
            # as it would keep `cat`; a terminal is refused as a character device.
            os.set_blocking(fd, True)  # the writer's octets, up to its end
        data = b"" if info.st_size > limit else _read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    if info.st_size > limit or len(data) > limit:
        raise ValueError(f"is larger than {limit} octets, the most read")
    return data, stat.S_IMODE(info.st_mode)


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _psk_file(path: Path, where: str) -> bytes:
    """The PSK in ``psk_file``: a regular file or pipe of UTF-8 text (or ``0x``
    hex)."""
    try:
        data, mode = _read_bounded(path, MAX_PSK_FILE_OCTETS)
    except ValueError as exc:
        raise ConfigError(where, f"{str(path)!r} {exc}") from None
    except OSError as exc:
        raise ConfigError(where, f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(where, f"{str(path)!r} {_NOT_UTF8}") from None
    if mode & 0o077:
        logger.warning(
            "%s: %s is readable by others (mode %04o); chmod 600 it",
            where,
            path,
            mode,
        )
    return _secret_text(text.strip(), where)


def _psk(table: _Table, base_dir: Path) -> bytes:
    given = [key for key in ("psk", "psk_file", "psk_env") if key in table.data]
    if len(given) != 1:
        found = ", ".join(given) or "none"
        raise ConfigError(
            table.field("psk"), f"give exactly one of psk, psk_file, psk_env ({found})"
        )
    key = given[0]
    where = table.field(key)
    value = table.string(key)
    if key == "psk":
        return _secret_text(value, where)
    if key == "psk_env":
        if value not in os.environ:
            raise ConfigError(where, f"environment variable {value!r} is not set")
        return _secret_text(os.environ[value], where)
    return _psk_file(base_dir / value, where)


def _replay_window(table: _Table) -> int:
    value = table.integer("replay_window", 64, 0, 8192)
    if 0 < value < 32:
        raise ConfigError(table.field("replay_window"), "must be 0 or 32..8192")
    return value


def _child(name: str, table: _Table) -> ChildConfig:
    any_ts = ["0.0.0.0/0", "::/0"]
    ts_limit = (
        MAX_TRAFFIC_SELECTORS,
        "selectors (a TS payload counts them in one octet)",
    )
    mode = table.string("mode", "tunnel")
    if mode not in ("tunnel", "transport"):
        raise ConfigError(table.field("mode"), "must be 'tunnel' or 'transport'")
    child = ChildConfig(
        name=name,
        local_ts=_parsed(table, "local_ts", any_ts, TrafficSelector.parse, ts_limit),
        remote_ts=_parsed(table, "remote_ts", any_ts, TrafficSelector.parse, ts_limit),
        esp_proposals=_proposals(table, "esp_proposals", DEFAULT_ESP_PROPOSAL, "esp"),
        mode="tunnel" if mode == "tunnel" else "transport",
        replay_window=_replay_window(table),
    )
    table.finish()
    # A CREATE_CHILD_SA request (a further child, a rekey) carries the SA payload
    # with both TS payloads, a nonce and a key exchange (PFS).
    size = _sa_size(child.esp_proposals, _SPI_SIZE["esp"])
    room = _SK_MAX - _CREATE_CHILD_SA_OTHERS - _ts_size(child)
    _check_sa_room(table.field("esp_proposals"), size, room, _ESP_ROOM)
    return child


def _keylog(table: _Table, base_dir: Path) -> KeylogFile | None:
    path = table.string("keylog", "")
    return KeylogFile(base_dir / path) if path else None


_WILDCARDS = {4: "0.0.0.0", 6: "::"}


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


def _local_addrs(table: _Table, listen: Sequence[str]) -> tuple[str, ...]:
    """``local_addrs``, each of them a listen address (or covered by a wildcard
    listen address of its family): the engine can only send from bound sockets."""
    addrs = _ip_list(table, "local_addrs", list(listen))
    for index, addr in enumerate(addrs):
        if addr not in listen and _WILDCARDS[_version(addr)] not in listen:
            raise ConfigError(
                f"{table.field('local_addrs')}[{index}]",
                f"{addr} is not a listen address (listen: {', '.join(listen)})",
            )
    return addrs


def _remote_addrs(table: _Table, local: Sequence[str]) -> tuple[str, ...]:
    """``remote_addrs``, each of a family some local address has (an IPv6 peer
    cannot be reached from IPv4 sockets)."""
    addrs = _ip_list(table, "remote_addrs", ["%any"])
    families = {_version(addr) for addr in local}
    for index, addr in enumerate(addrs):
        version = _version(addr)
        if version not in families:
            raise ConfigError(
                f"{table.field('remote_addrs')}[{index}]",
                f"{addr} is IPv{version} but no local address is "
                f"(local addresses: {', '.join(local)}); add an IPv{version} "
                "address to listen",
            )
    return addrs


_SK_MAX = 65535
"""An Encrypted payload's length is 16 bits (RFC 7296 §3.2, §3.14)."""
_SK_OVERHEAD = 4 + 16 + 16 + 16
"""Generic header, IV, ICV and padding, each at its largest."""
_AUTH_MAX = 8 + 64
"""AUTH payload with the longest PRF output (HMAC-SHA2-512)."""
_NOTIFY_ROOM = 256
"""Notify payloads of a request (INITIAL_CONTACT, USE_TRANSPORT_MODE, REKEY_SA,
NAT_DETECTION_*, COOKIE, ...)."""
_NONCE_MAX = 4 + 256
"""Nonce payload with the longest nonce (RFC 7296 §3.9)."""
_KE_MAX = 8 + max(
    max(info.initiator_length, info.responder_length)
    for info in suites.KE_METHODS.values()
)
"""KE payload with the longest key exchange data (an ML-KEM-1024 ek, RFC 7296 §3.4)."""
_UDP_MAX = 65535 - 8 - 20
"""Largest UDP payload over IPv4 (IPv6: 65,527). IKE_SA_INIT is never fragmented
(RFC 7383 covers encrypted messages only), so it must fit one datagram."""
_IKE_SA_INIT_OTHERS = 28 + 4 + _KE_MAX + _NONCE_MAX + _NOTIFY_ROOM
"""IKE_SA_INIT besides its SA payload: IKE header, a non-ESP marker (NAT-T port),
KE, Nonce and Notify payloads."""
_CREATE_CHILD_SA_OTHERS = _SK_OVERHEAD + _NONCE_MAX + _KE_MAX + _NOTIFY_ROOM
"""A CREATE_CHILD_SA request's Encrypted payload besides SA and TS payloads."""
_SPI_SIZE = {"ike": 8, "esp": 4}
"""SPI octets in each proposal: an IKE SA rekey carries the new 8-octet SPI
(IKE_SA_INIT none), an ESP proposal its 4-octet SPI (RFC 7296 §3.3.1)."""


# LIMITATION: the other payloads of a message are counted at their largest (nonce,
# KE data, notifies, an IPv4 datagram), so a list within about 2 KB of what would
# really fit is refused too.
def _sa_size(specs: Sequence[ProposalSpec], spi_size: int) -> int:
    """Octets of an SA payload offering ``specs`` (RFC 7296 §3.3): the 4-octet generic
    header; per proposal 8 octets and the SPI; per transform 8 octets, and 4 more for
    a Key Length attribute. An upper bound: the engine may leave transforms out (those
    the backend lacks, key exchanges inside IKE_AUTH)."""
    return 4 + sum(
        8 + spi_size + sum(8 + (4 if bits else 0) for _, _, bits in spec.transforms())
        for spec in specs
    )


def _ts_size(child: ChildConfig) -> int:
    """Octets of the TSi and TSr payloads of ``child`` (RFC 7296 §3.13)."""
    return sum(
        8 + sum(8 + 2 * len(ts.start_addr) for ts in selectors)
        for selectors in (child.local_ts, child.remote_ts)
    )


def _check_sa_room(field_: str, size: int, room: int, where: str) -> None:
    """Raise ConfigError when an SA payload of ``size`` octets exceeds the ``room``
    it has ``where``."""
    if size > room:
        raise ConfigError(
            field_,
            f"these proposals make an SA payload of up to {size} octets, but at most "
            f"{room} fit beside the other payloads of {where}: use fewer proposals "
            "or fewer algorithms per proposal",
        )


_SK_LIMIT = f"an Encrypted payload of at most {_SK_MAX} octets (16-bit length)"
_ESP_ROOM = (
    "a CREATE_CHILD_SA request for this Child SA (its traffic selectors, a nonce, a "
    f"key exchange and notifies in {_SK_LIMIT})"
)


def _ike_sa_room(specs: Sequence[ProposalSpec]) -> tuple[int, int, str]:
    """(SA payload size, the room it has, where) for ``ike_proposals``: in
    IKE_SA_INIT or in an IKE SA rekey, whichever is tighter."""
    init = (
        _sa_size(specs, 0),
        _UDP_MAX - _IKE_SA_INIT_OTHERS,
        f"IKE_SA_INIT (one UDP datagram of at most {_UDP_MAX} octets: it is never "
        "fragmented)",
    )
    rekey = (
        _sa_size(specs, _SPI_SIZE["ike"]),
        _SK_MAX - _CREATE_CHILD_SA_OTHERS,
        f"an IKE SA rekey request (CREATE_CHILD_SA: {_SK_LIMIT})",
    )
    return max(init, rekey, key=lambda part: part[0] - part[1])


def _ike_auth_parts(conn: ConnectionConfig) -> tuple[int, int, int]:
    """Upper bounds of the IKE_AUTH request's Encrypted payload: (everything, the two
    ID payloads, the first child's SA payload)."""
    ids = 8 + len(conn.local_id.data) + 8 + len(conn.remote_id.data)
    size = _SK_OVERHEAD + _AUTH_MAX + _NOTIFY_ROOM + ids
    sa = 0
    if conn.children:
        child = conn.children[0]
        sa = _sa_size(child.esp_proposals, _SPI_SIZE["esp"])
        size += sa + _ts_size(child)
    return size, ids, sa


def _check_ike_auth(table: _Table, conn: ConnectionConfig) -> None:
    """Both IDs, AUTH and the first child's SA and TS payloads must fit IKE_AUTH's
    Encrypted payload; the error names the IDs or the ESP proposals, whichever take
    more of it."""
    size, ids, sa = _ike_auth_parts(conn)
    if size <= _SK_MAX:
        return
    needs = (
        f"the IKE_AUTH request needs up to {size} octets in its Encrypted payload, "
        f"which holds at most {_SK_MAX} (16-bit payload length)"
    )
    if ids >= sa:
        raise ConfigError(
            table.field("local_id"),
            f"with remote_id and the first child's selectors and ESP proposals "
            f"{needs}: shorten the IDs",
        )
    child = conn.children[0]
    raise ConfigError(
        f"{table.field('children')}.{child.name}.esp_proposals",
        f"with the IDs and this first child's selectors {needs}; its SA payload "
        f"takes {sa}: use fewer ESP proposals or fewer algorithms per proposal",
    )


def _connection(
    name: str, table: _Table, listen: Sequence[str], base_dir: Path
) -> ConnectionConfig:
    local_addrs = _local_addrs(table, listen)
    conn = ConnectionConfig(
        name=name,
        local_addrs=local_addrs,
        remote_addrs=_remote_addrs(table, local_addrs or tuple(listen)),
        remote_port=table.integer("remote_port", 500, 1, 65535),
        local_id=_identity(table, "local_id"),
        remote_id=_identity(table, "remote_id"),
        psk=_psk(table, base_dir),
        ike_proposals=_proposals(table, "ike_proposals", DEFAULT_IKE_PROPOSAL, "ike"),
        children=tuple(
            _child(child, sub)
            for child, sub in table.tables("children", _CHILD_KEYS).items()
        ),
        fragment_size=table.integer("fragment_size", 1280, 576, 65535),
        force_encap=table.get("force_encap", bool, False, "true or false"),
        retransmit_timeout=table.number("retransmit_timeout", 4.0, 0.01),
        retransmit_tries=table.integer("retransmit_tries", 5, 0, 100),
        retransmit_base=table.number("retransmit_base", 1.8, 1.0),
        dpd_delay=table.number("dpd_delay", 0.0, 0.0),
        keylog=_keylog(table, base_dir),
        remote_natt_port=table.integer("remote_natt_port", 4500, 1, 65535),
    )
    table.finish()
    _check_sa_room(table.field("ike_proposals"), *_ike_sa_room(conn.ike_proposals))
    _check_ike_auth(table, conn)
    return conn


def _listen(top: _Table) -> tuple[str, ...]:
    """``listen``: at least one address, each bound once (with ``port`` and
    ``natt_port``), so no two of a family overlap: a wildcard takes the ports on
    every address of its family, and IPv6 sockets serve IPv6 only (IPV6_V6ONLY), so
    ``0.0.0.0`` and ``::`` go together."""
    texts = top.strings("listen", ["0.0.0.0"])
    if not texts:
        raise ConfigError("listen", "must name at least one address")
    if "%any" in texts:
        raise ConfigError(
            f"listen[{texts.index('%any')}]",
            '%any is not an address to bind: use "0.0.0.0" and/or "::" to '
            "listen on every IPv4 / IPv6 address",
        )
    hosts = _ip_list(top, "listen", ["0.0.0.0"])
    for index, host in enumerate(hosts):
        address = ipaddress.ip_address(host)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            raise ConfigError(
                f"listen[{index}]",
                f"{texts[index]} is an IPv4-mapped IPv6 address, which an IPv6-only "
                f"socket cannot bind: write {address.ipv4_mapped}",
            )
        for earlier, other in enumerate(hosts[:index]):
            if _overlaps(host, other):
                raise ConfigError(
                    f"listen[{index}]", _overlap_reason(host, other, earlier)
                )
    return hosts


def _overlaps(a: str, b: str) -> bool:
    """Whether sockets on addresses ``a`` and ``b`` with the same port clash."""
    if _version(a) != _version(b):
        return False
    return a == b or _WILDCARDS[_version(a)] in (a, b)


def _overlap_reason(host: str, other: str, index: int) -> str:
    if host == other:
        return f"{host} is listed twice (also listen[{index}])"
    wildcard, concrete = (host, other) if host in _WILDCARDS.values() else (other, host)
    return (
        f"{host} overlaps listen[{index}] ({other}): the wildcard {wildcard} "
        f"already takes port and natt_port on every IPv{_version(host)} address, "
        f"{concrete} included; list either {wildcard} or concrete IPv"
        f"{_version(host)} addresses"
    )


def _endpoint(data: Mapping[str, Any], base_dir: Path) -> EndpointConfig:
    top = _Table(data, "", _ENDPOINT_KEYS)
    hosts = _listen(top)
    port = top.integer("port", 500, 1, 65535)
    natt_port = top.integer("natt_port", 4500, 1, 65535)
    if port == natt_port:
        raise ConfigError("natt_port", f"must differ from port ({port})")
    connections = {
        name: _connection(name, sub, hosts, base_dir)
        for name, sub in top.tables("connections", _CONNECTION_KEYS).items()
    }
    if not connections:
        raise ConfigError("connections", "at least one connection is required")
    cookie_threshold = top.integer("cookie_threshold", 30, 0, 1 << 20)
    half_open_limit = top.integer("half_open_limit", 1000, 1, 1 << 20)
    if cookie_threshold > half_open_limit:
        # Above half_open_limit requests are dropped before any COOKIE is asked
        # for: a small flood would then lock everyone out.
        raise ConfigError(
            "cookie_threshold",
            f"must be <= half_open_limit ({cookie_threshold} > {half_open_limit})",
        )
    config = EndpointConfig(
        listen=tuple((host, port) for host in hosts),
        connections=connections,
        port=port,
        natt_port=natt_port,
        cookie_threshold=cookie_threshold,
        half_open_limit=half_open_limit,
        receive_buffer=top.integer("receive_buffer", 0, 0, 1 << 30),
    )
    top.finish()
    return config


_TOML_QUOTED_CHARACTER = re.compile(
    r"^(Illegal character|Found invalid character) .* \(at (line \d+), column \d+\)$"
)


def _toml_error(message: str) -> str:
    """tomllib's message, except where it quotes a character of the text: a control
    character in a string, which may be a psk's. Then only the line is told."""
    match = _TOML_QUOTED_CHARACTER.match(message)
    if match is None:
        return message
    return (
        f"a control character in a string (at {match[2]}); write it as an escape "
        '(\\u0001) in a "basic" string, or as 0x hex in a psk'
    )


def loads(
    text: str,
    base_dir: Path | str = ".",
    source: str = "<toml>",
    *,
    backend: Backend | None = None,
) -> EndpointConfig:
    """Parse and validate TOML text; relative ``psk_file``/``keylog`` paths are
    taken from ``base_dir``; ``source`` names the text in TOML syntax errors. With
    ``backend``, also :func:`check_backend`.

    Raises:
        ConfigError: invalid TOML (``field`` is ``source``) or any invalid value
            (``field`` names it).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"invalid TOML: {_toml_error(str(exc))}") from None
    config = _endpoint(data, Path(base_dir))
    if backend is not None:
        check_backend(config, backend)
    return config


def load(path: Path | str, *, backend: Backend | None = None) -> EndpointConfig:
    """Read and validate a TOML configuration file (format: ``docs/config.md``);
    with ``backend``, also check that it can run every proposal (:func:`check_backend`).

    The file (and a ``psk_file``) must be a regular file or a pipe: a device,
    socket or directory is refused before it is read, and so is a file (or what a
    pipe carries) larger than :data:`MAX_CONFIG_OCTETS` (:data:`MAX_PSK_FILE_OCTETS`).

    Raises:
        ConfigError: unreadable, special or oversized file, invalid TOML or any
            invalid value; ``field`` is the TOML path, e.g.
            ``connections.site-a.ike_proposals[0]`` (the file's path for the file).
    """
    path = Path(path)
    try:
        data, _ = _read_bounded(path, MAX_CONFIG_OCTETS)
    except ValueError as exc:
        raise ConfigError(str(path), f"not a configuration file: it {exc}") from None
    except OSError as exc:
        raise ConfigError(
            str(path), f"cannot read configuration: {exc.strerror}"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The line only: the octet and its column could be part of an inline psk.
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            str(path), f"line {line} is not valid UTF-8 text (TOML files are UTF-8)"
        ) from None
    return loads(text, path.parent, str(path), backend=backend)


def check_backend(config: EndpointConfig, backend: Backend) -> None:
    """Check that the crypto ``backend`` can run every configured proposal.

    Loading checks proposals against what pqike implements; which transforms a backend
    runs is known only once it is chosen (the reference backend has no ML-KEM-512).
    A proposal that lists, for some transform type, only transforms the backend lacks
    could never be negotiated: the engine would leave it out silently.

    Raises:
        ConfigError: ``field`` names the proposal, e.g.
            ``connections.site-a.ike_proposals[0]``; the message names the transform
            and the backend's reason.
    """
    for name, conn in config.connections.items():
        where = f"connections.{name}"
        _check_specs(f"{where}.ike_proposals", conn.ike_proposals, backend)
        for child in conn.children:
            field_ = f"{where}.children.{child.name}.esp_proposals"
            _check_specs(field_, child.esp_proposals, backend)


def _check_specs(field_: str, specs: Sequence[ProposalSpec], backend: Backend) -> None:
    for index, spec in enumerate(specs):
        try:
            _check_spec_backend(spec, backend.why_unsupported)
        except ValueError as exc:
            raise ConfigError(f"{field_}[{index}]", str(exc)) from None


# ---------------------------------------------------------------------------------
# Built-in demo

DEMO_HOST = "127.0.0.1"
DEMO_RESPONDER_PORTS = (20500, 24500)
DEMO_INITIATOR_PORTS = (20501, 24501)


def _demo_side(
    role: Literal["initiator", "responder"],
    host: str,
    own_ports: tuple[int, int],
    peer_ports: tuple[int, int],
) -> EndpointConfig:
    initiator = role == "initiator"
    nets = (
        ("10.1.0.0/24", "10.2.0.0/24") if initiator else ("10.2.0.0/24", "10.1.0.0/24")
    )
    child = ChildConfig(
        name="net",
        local_ts=(TrafficSelector.parse(nets[0]),),
        remote_ts=(TrafficSelector.parse(nets[1]),),
        esp_proposals=(parse_proposal(DEFAULT_ESP_PROPOSAL, "esp"),),
    )
    names = ("initiator.pq.test", "responder.pq.test")
    conn = ConnectionConfig(
        name="demo",
        local_addrs=(host,),
        remote_addrs=(host,),
        remote_port=peer_ports[0],
        local_id=Identity.parse(f"fqdn:{names[0] if initiator else names[1]}"),
        remote_id=Identity.parse(f"fqdn:{names[1] if initiator else names[0]}"),
        psk=DEMO_PSK,
        ike_proposals=(parse_proposal(DEFAULT_IKE_PROPOSAL, "ike"),),
        children=(child,),
        remote_natt_port=peer_ports[1],
    )
    return EndpointConfig(
        listen=((host, own_ports[0]),),
        connections={"demo": conn},
        port=own_ports[0],
        natt_port=own_ports[1],
    )


def defaults(
    role: Literal["initiator", "responder"] = "responder",
    *,
    host: str = DEMO_HOST,
    responder_ports: tuple[int, int] = DEMO_RESPONDER_PORTS,
    initiator_ports: tuple[int, int] = DEMO_INITIATOR_PORTS,
) -> EndpointConfig:
    """The built-in demo configuration of one side.

    Both sides have a connection ``demo`` on ``host`` (IKE
    ``aes256gcm16-prfsha384-x25519-ke1_mlkem768``, FQDN IDs ``initiator.pq.test`` and
    ``responder.pq.test``, :data:`DEMO_PSK`) with one tunnel-mode child ``net``
    (ESP ``aes256gcm16``) between 10.1.0.0/24 (initiator) and 10.2.0.0/24 (responder).
    Ports are ``(ike, natt)`` pairs.
    """
    if role == "initiator":
        return _demo_side(role, host, initiator_ports, responder_ports)
    return _demo_side(role, host, responder_ports, initiator_ports)


def demo_pair(
    *,
    host: str = DEMO_HOST,
    responder_ports: tuple[int, int] = DEMO_RESPONDER_PORTS,
    initiator_ports: tuple[int, int] = DEMO_INITIATOR_PORTS,
) -> tuple[EndpointConfig, EndpointConfig]:
    """``(responder, initiator)`` demo configurations that talk to each other."""
    return (
        defaults(
            "responder",
            host=host,
            responder_ports=responder_ports,
            initiator_ports=initiator_ports,
        ),
        defaults(
            "initiator",
            host=host,
            responder_ports=responder_ports,
            initiator_ports=initiator_ports,
        ),
    )
