# SPDX-License-Identifier: Apache-2.0
"""Events the sans-IO engine hands to its driver (``IkeEndpoint.next_event()``).

Every event is a frozen, slotted dataclass, built through
:func:`pqike._records.fast_init` (several are emitted per handshake). ``sa`` is the
:data:`SaHandle` returned by ``IkeEndpoint.initiate`` (or assigned when a responder
SA is created); ``child`` is the :data:`ChildId` used with
``IkeEndpoint.send_esp``. Events never carry key bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

from pqike._records import fast_init

__all__ = [
    "ChildDeleted",
    "ChildEstablished",
    "ChildId",
    "ChildRekeyed",
    "ConnectionFailed",
    "EspReceived",
    "Event",
    "ExchangeCompleted",
    "IkeDeleted",
    "IkeEstablished",
    "IkeRekeyed",
    "SaHandle",
    "SuiteInfo",
]

SaHandle = NewType("SaHandle", int)
"""Local number of one IKE SA, unique within an ``IkeEndpoint``."""

ChildId = NewType("ChildId", int)
"""Local number of one Child SA, unique within an ``IkeEndpoint``."""


@fast_init
@dataclass(frozen=True, slots=True)
class SuiteInfo:
    """The negotiated IKE SA suite, as names and IANA numbers."""

    encryption: str
    """ENCR transform name with key size, e.g. ``"AES_GCM_16_256"``."""
    prf: str
    """PRF name, e.g. ``"PRF_HMAC_SHA2_384"``."""
    integrity: str
    """INTEG name, ``"NONE"`` with AEAD ciphers."""
    ke: str
    """Transform Type 4 method, e.g. ``"X25519"``."""
    addke: tuple[str, ...]
    """One name per negotiated additional key exchange (Types 6..12), in order."""
    ids: tuple[int, ...] = ()
    """(encr, key_bits, prf, integ, ke, addke1..) as IANA numbers."""
    addke_rounds: tuple[int, ...] = ()
    """The ADDKE number (1..7) of each ``addke`` entry; empty = 1, 2, 3, ..."""

    def __str__(self) -> str:
        parts = [self.encryption, self.prf]
        if self.integrity != "NONE":
            parts.append(self.integrity)
        parts.append(self.ke)
        rounds = self.addke_rounds or range(1, len(self.addke) + 1)
        pairs = zip(rounds, self.addke, strict=True)
        parts.extend(f"ADDKE{n}={name}" for n, name in pairs)
        return "/".join(parts)


@fast_init
@dataclass(frozen=True, slots=True)
class IkeEstablished:
    """The IKE SA is authenticated (IKE_AUTH done on both sides)."""

    sa: SaHandle
    suite: SuiteInfo
    spi_i: bytes = b""
    """Initiator's IKE SPI (8 octets)."""
    spi_r: bytes = b""
    """Responder's IKE SPI (8 octets)."""
    is_initiator: bool = True
    """True when this endpoint initiated the SA."""
    conn_name: str = ""
    """Name of the connection from the config."""
    remote: tuple[str, int] = ("", 0)
    """The peer's IP address and port (where IKE messages go; the NAT-T port
    after IKE_SA_INIT)."""


@fast_init
@dataclass(frozen=True, slots=True)
class ChildEstablished:
    """A Child SA is installed: ESP can flow through ``send_esp(child, ...)``."""

    sa: SaHandle
    child: ChildId
    spi_in: int = 0
    """Our inbound ESP SPI."""
    spi_out: int = 0
    """The peer's inbound ESP SPI, used on our outbound packets."""
    mode: str = "tunnel"
    """``"tunnel"`` or ``"transport"``."""
    encryption: str = ""
    """ESP ENCR transform name."""
    name: str = ""
    """Child config name."""


@fast_init
@dataclass(frozen=True, slots=True)
class EspReceived:
    """One ESP packet was authenticated and decrypted on a Child SA."""

    child: ChildId
    payload: bytes
    next_header: int


@fast_init
@dataclass(frozen=True, slots=True)
class IkeRekeyed:
    """The IKE SA was rekeyed (RFC 7296 §2.18); its Child SAs now belong to
    ``new_sa``. The old SA's IkeDeleted follows."""

    sa: SaHandle
    new_sa: SaHandle


@fast_init
@dataclass(frozen=True, slots=True)
class ChildRekeyed:
    """A Child SA was rekeyed: use ``new_child`` from now on; ChildDeleted for the
    old ``child`` follows once the old pair is deleted."""

    sa: SaHandle
    child: ChildId
    new_child: ChildId


@fast_init
@dataclass(frozen=True, slots=True)
class IkeDeleted:
    """The IKE SA is gone (deleted by either side, or torn down after a failure)."""

    sa: SaHandle
    reason: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class ChildDeleted:
    """A Child SA is gone."""

    sa: SaHandle
    child: ChildId
    reason: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """Setting up (or keeping) the IKE SA failed; the SA is being removed."""

    sa: SaHandle
    reason: str
    notify: int | None = None
    """The error Notify type sent or received, if any."""
    remote: tuple[str, int] = ("", 0)
    """The peer's IP address and port, as far as it was known."""


@fast_init
@dataclass(frozen=True, slots=True)
class ExchangeCompleted:
    """One request/response exchange finished (for the demo's per-exchange sizes)."""

    sa: SaHandle
    exchange: str
    """Exchange type name, e.g. ``"IKE_INTERMEDIATE"``."""
    request_size: int
    """Octets of the request as sent on the wire (all fragments, no UDP/IP)."""
    response_size: int
    """Octets of the response (all fragments)."""
    message_id: int = 0
    is_initiator: bool = True
    """True when this endpoint sent the request."""
    request_fragments: int = 1
    response_fragments: int = 1
    detail: str = ""
    """Short summary, e.g. ``"KE round 1 of 1: ML_KEM_768"``."""


Event = (
    IkeEstablished
    | ChildEstablished
    | EspReceived
    | IkeRekeyed
    | ChildRekeyed
    | IkeDeleted
    | ChildDeleted
    | ConnectionFailed
    | ExchangeCompleted
)
