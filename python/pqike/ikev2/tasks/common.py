# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by the tasks: payload lookup, notifies, SA payload conversion."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from pqike._memo import IdentityMemo, remember
from pqike.errors import (
    InvalidKeyExchangeData,
    RemoteProtocolError,
    UnsupportedTransform,
)
from pqike.ikev2.codec.payloads import NotifyPayload
from pqike.ikev2.codec.sa import Proposal, SaPayload, Transform
from pqike.ikev2.constants import NotifyType
from pqike.ikev2.negotiation import Offer, Pair, Selected

if TYPE_CHECKING:
    from pqike.crypto.kex import KeyExchange
    from pqike.ikev2.sa import IkeSa
    from pqike.ikev2.tasks.base import Received

__all__ = [
    "error_notifies",
    "find",
    "find_all",
    "initiator_ke",
    "notify",
    "notify_types",
    "offer_to_proposal",
    "proposal_to_offer",
    "require",
    "responder_ke",
    "response_sa_payload",
    "sa_payload",
]

_P = TypeVar("_P")


def find(msg: Received, cls: type[_P]) -> _P | None:
    """First payload of class ``cls`` (exact type, so IDi and IDr stay apart)."""
    found: _P | None = msg.by_class.get(cls)
    return found


def find_all(msg: Received, cls: type[_P]) -> list[_P]:
    """Every payload of class ``cls``, in message order."""
    return msg.all_of(cls)


def require(msg: Received, cls: type[_P], what: str) -> _P:
    """The payload of class ``cls``.

    Raises:
        RemoteProtocolError: INVALID_SYNTAX when it is missing (RFC 7296 §2.21).
    """
    found: _P | None = msg.by_class.get(cls)
    if found is None:
        raise RemoteProtocolError(f"{what} payload missing", NotifyType.INVALID_SYNTAX)
    return found


def notify(msg: Received, notify_type: int) -> NotifyPayload | None:
    """The first Notify payload of a type, or None."""
    return msg.notifies.get(notify_type)


def notify_types(msg: Received) -> Collection[int]:
    """The Notify types in a message."""
    return msg.notifies.keys()


def error_notifies(msg: Received) -> list[NotifyPayload]:
    """Error Notify payloads (type below 16384, RFC 7296 §3.10.1), the first of
    each type, in message order."""
    return [n for t, n in msg.notifies.items() if t < 16384]


def proposal_to_offer(proposal: Proposal) -> Offer:
    """Codec Proposal -> negotiation Offer (transforms grouped by type, order kept).

    The transform map is read-only and shared by every proposal with the same
    transforms, so proposal matching can be memoised (``negotiation``).
    """
    codec_transforms = proposal.transforms
    transforms = _OFFER_TRANSFORMS.get(codec_transforms)
    if transforms is None:
        types: dict[int, list[Pair]] = {}
        for t in codec_transforms:
            types.setdefault(t.transform_type, []).append(
                (t.transform_id, t.key_length or 0)
            )
        transforms = MappingProxyType({k: tuple(v) for k, v in types.items()})
        _OFFER_TRANSFORMS.put(codec_transforms, transforms)
    return Offer(proposal.protocol_id, transforms, proposal.number, proposal.spi)


def offer_to_proposal(offer: Offer) -> Proposal:
    """Negotiation Offer -> codec Proposal (types in ascending order)."""
    return Proposal(
        offer.number, offer.protocol, offer.spi, _transforms(offer.transforms)
    )


_OFFER_TRANSFORMS: IdentityMemo[Mapping[int, tuple[Pair, ...]]] = IdentityMemo()
"""Read-only transform maps by the identity of the codec's transform tuple (the
codec hands out one tuple per distinct transform octets)."""
_TRANSFORMS: dict[tuple[Any, ...], tuple[Transform, ...]] = {}
"""Codec transforms by the Offer's transform map (as a tuple): the same few
suites are proposed and answered over and over; Transforms are immutable."""
_SA_PAYLOADS: dict[tuple[Any, ...], tuple[Any, SaPayload]] = {}
"""SA payloads by what they carry, for proposals without SPI (the IKE SA's): the
same payload object, so its encoding can be reused (see codec/sa.py)."""


def _transforms(types: Mapping[int, tuple[Pair, ...]]) -> tuple[Transform, ...]:
    key = tuple(types.items())
    built = _TRANSFORMS.get(key)
    if built is None:
        built = tuple(
            Transform.of(t, tid, bits or None)
            for t in sorted(types)
            for tid, bits in types[t]
        )
        remember(_TRANSFORMS, key, built)
    return built


def sa_payload(offers: Sequence[Offer]) -> SaPayload:
    """An SA payload carrying ``offers`` (renumbered 1.. in order)."""
    numbered = _numbered(offers)
    key = _sa_key(numbered)
    if key is not None:
        hit = _SA_PAYLOADS.get(key)
        if hit is not None:
            return hit[1]
    payload = SaPayload(tuple(offer_to_proposal(o) for o in numbered))
    if key is not None:
        # the entry keeps the transform maps alive: their ids stay unique
        remember(_SA_PAYLOADS, key, (tuple(o.transforms for o in numbered), payload))
    return payload


def response_sa_payload(chosen: Selected) -> SaPayload:
    """The responder's SA payload: the one chosen proposal (RFC 7296 §3.3)."""
    return sa_payload((chosen.as_offer(),))


def _sa_key(offers: Sequence[Offer]) -> tuple[Any, ...] | None:
    """Identity key of SPI-less offers with read-only transform maps, else None."""
    key: list[Any] = []
    for o in offers:
        if o.spi or type(o.transforms) is not MappingProxyType:
            return None
        key.append((id(o.transforms), o.protocol, o.number))
    return tuple(key)


def _numbered(offers: Sequence[Offer]) -> list[Offer]:
    """``offers`` numbered 1.. in order (as they are, when they already are)."""
    return [
        o if o.number == n else Offer(o.protocol, o.transforms, n, o.spi)
        for n, o in enumerate(offers, 1)
    ]


def initiator_ke(sa: IkeSa, method: int) -> KeyExchange:
    """A fresh initiator KeyExchange; its seed comes from the SA's rng (replayable).

    draft-ietf-ipsecme-ikev2-mlkem §3: every exchange gets its own fresh seed.
    """
    return sa.backend.key_exchange(method, seed=sa.rng(32))


def responder_ke(sa: IkeSa, method: int, peer_data: bytes, what: str) -> KeyExchange:
    """Responder side of one key exchange: DH agreement or ML-KEM encapsulation.

    A backend without seeded encapsulation (pyca) gets OS randomness instead.

    Raises:
        RemoteProtocolError: INVALID_SYNTAX when the peer's data fails the recipient
            tests (draft-ietf-ipsecme-ikev2-mlkem §2.2: bad ek -> INVALID_SYNTAX).
    """
    try:
        kx = sa.backend.key_exchange(method, seed=sa.rng(32))
        try:
            kx.set_peer_public(peer_data)
        except UnsupportedTransform:
            kx = sa.backend.key_exchange(method)
            kx.set_peer_public(peer_data)
    except (InvalidKeyExchangeData, UnsupportedTransform) as exc:
        raise RemoteProtocolError(
            f"{what} rejected: {exc}", NotifyType.INVALID_SYNTAX
        ) from None
    return kx
