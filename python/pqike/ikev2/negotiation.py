# SPDX-License-Identifier: Apache-2.0
"""Proposal selection (RFC 7296 §2.7, §3.3) with the RFC 9370 additional-KE rules.

A proposal is handled here in a neutral form, :class:`Offer`: a map from transform
type to the offered ``(transform_id, key_bits)`` pairs in the sender's order. The
codec's SA payload classes are converted at the edge (``tasks/common.py``).

Rules (RFC 9370 §2.2.1, §3.1 and SPEC §2.2):

* exactly one transform per type is chosen, from the ones the initiator offered;
* Transform Types 6..12 (ADDKE1..7) choose one method each, or NONE (0) if offered;
  a missing ADDKE type counts as "NONE only";
* the chosen additional methods contain no duplicates (NONE excepted), and none of
  them equals the Type 4 method (strongSwan and libreswan refuse that too);
* an IKE proposal needs a real Type 4 method; ESP proposals may use NONE (no PFS);
* KE and ADDKE transforms of a Child SA proposal carried in IKE_AUTH are ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from pqike._memo import remember
from pqike._records import fast_init

__all__ = [
    "ADDKE_TYPES",
    "KE_TYPES",
    "Offer",
    "Selected",
    "SpecLike",
    "local_offers",
    "offer_from_spec",
    "select",
    "validate_choice",
]

ENCR, PRF, INTEG, KE, ESN = 1, 2, 3, 4, 5
ADDKE_TYPES = tuple(range(6, 13))
"""Transform Types 6..12 = ADDKE1..ADDKE7 (RFC 9370 §2.2.1): ADDKEn = 5 + n."""
KE_TYPES = (KE, *ADDKE_TYPES)

_REQUIRED = {1: {ENCR, PRF, KE}, 3: {ENCR, ESN}}
"""Types a proposal must carry per protocol (RFC 7296 §3.3.3)."""

Pair = tuple[int, int]
"""(transform_id, key_bits); key_bits 0 when the transform has no Key Length."""
_NONE: Pair = (0, 0)
_NONE_ONLY: tuple[Pair, ...] = (_NONE,)
_KE_SET = frozenset(KE_TYPES)
_NONE_DEFAULTS: dict[int, tuple[Pair, ...]] = dict.fromkeys(
    (INTEG, *KE_TYPES), _NONE_ONLY
)
"""What an absent INTEG or KE type means: NONE only."""


class SpecLike(Protocol):
    """The parts of ``pqike.proposals.ProposalSpec`` used here."""

    @property
    def encr(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def prf(self) -> tuple[int, ...]: ...
    @property
    def integ(self) -> tuple[int, ...]: ...
    @property
    def ke(self) -> tuple[int, ...]: ...
    @property
    def addke(self) -> tuple[tuple[int, ...], ...]: ...
    @property
    def esn(self) -> tuple[int, ...]: ...
    def __hash__(self) -> int: ...


@fast_init
@dataclass(frozen=True, slots=True)
class Offer:
    """One proposal: protocol (1 IKE, 3 ESP), number, SPI and transforms by type."""

    protocol: int
    transforms: Mapping[int, tuple[Pair, ...]]
    number: int = 1
    spi: bytes = b""


@fast_init
@dataclass(frozen=True, slots=True)
class Selected:
    """The responder's choice: one ``(id, key_bits)`` per transform type present."""

    protocol: int
    chosen: Mapping[int, Pair]
    number: int = 1
    spi: bytes = b""
    response_types: tuple[int, ...] = field(default=())
    """Types to list in the response SA payload (the ones the offer carried)."""

    def id_of(self, transform_type: int) -> int:
        """Chosen transform ID of a type, 0 (NONE) when absent."""
        return self.chosen.get(transform_type, _NONE)[0]

    @property
    def addke(self) -> tuple[int, ...]:
        """Negotiated additional methods in ADDKE order, NONE (0) left out."""
        get = self.chosen.get
        return tuple([m for t in ADDKE_TYPES if (m := get(t, _NONE)[0]) != 0])

    def as_offer(self) -> Offer:
        """The choice as a one-transform-per-type proposal (for the response)."""
        chosen = self.chosen
        if type(chosen) is not MappingProxyType:
            return Offer(self.protocol, _one_each(self), self.number, self.spi)
        key = (id(chosen), self.response_types)
        hit = _as_offer_memo.get(key)
        if hit is None:
            hit = (chosen, MappingProxyType(_one_each(self)))
            remember(_as_offer_memo, key, hit)
        return Offer(self.protocol, hit[1], self.number, self.spi)


def _one_each(selected: Selected) -> dict[int, tuple[Pair, ...]]:
    chosen = selected.chosen
    return {t: (chosen[t],) for t in selected.response_types if t in chosen}


def offer_from_spec(
    spec: SpecLike,
    protocol: int,
    *,
    number: int = 1,
    spi: bytes = b"",
    with_ke: bool = True,
    supports: Callable[[int, int], bool] | None = None,
) -> Offer:
    """Turn a configured ProposalSpec into an Offer (transform order kept).

    ``with_ke=False`` drops Types 4 and 6..12 (Child SA proposal inside IKE_AUTH).
    For ESP without ``ke`` no Type 4 transform is sent (no PFS). ``supports``
    (``backend.supports``) filters out what the crypto backend cannot do; NONE
    always stays.
    """
    try:
        types = _spec_transforms(spec, protocol, with_ke, supports)
    except TypeError:  # an unhashable SpecLike: no cache
        types = _spec_transforms.__wrapped__(spec, protocol, with_ke, supports)
    return Offer(protocol, types, number, spi)


@functools.lru_cache(maxsize=256)
def _spec_transforms(
    spec: SpecLike,
    protocol: int,
    with_ke: bool,
    supports: Callable[[int, int], bool] | None,
) -> Mapping[int, tuple[Pair, ...]]:
    """The transforms of :func:`offer_from_spec`, built once per configured proposal
    (specs are frozen, backends fixed); read-only, since every Offer shares it."""
    types: dict[int, tuple[Pair, ...]] = {ENCR: tuple(spec.encr)}
    if spec.prf:
        types[PRF] = tuple((p, 0) for p in spec.prf)
    integ = tuple(i for i in spec.integ if i != 0)
    if integ:
        types[INTEG] = tuple((i, 0) for i in integ)
    if with_ke and spec.ke:
        types[KE] = tuple((k, 0) for k in spec.ke)
    if with_ke:
        for n, methods in enumerate(spec.addke):
            if methods:
                types[ADDKE_TYPES[n]] = tuple((m, 0) for m in methods)
    if protocol != 1:
        types[ESN] = tuple((e, 0) for e in (spec.esn or (0,)))
    if supports is not None:
        types = {
            t: tuple(p for p in pairs if t == ESN or p[0] == 0 or supports(t, p[0]))
            for t, pairs in types.items()
        }
    return MappingProxyType(types)


def local_offers(
    specs: Sequence[SpecLike],
    protocol: int,
    *,
    spi: bytes = b"",
    with_ke: bool = True,
    supports: Callable[[int, int], bool] | None = None,
) -> tuple[Offer, ...]:
    """Our configured proposals as Offers, in order, numbered 1.. (RFC 7296 §3.3.1).

    A proposal left with a transform type that has nothing the backend supports is
    dropped before numbering, so the numbers are the ones sent on the wire. Built
    once per configuration (specs are frozen); only the SPI differs per call.
    """
    key = (id(specs), protocol, with_ke, supports)
    hit = _local_memo.get(key)
    if hit is not None and hit[0] is specs:
        base = hit[1]
    else:
        try:
            base = _local_offers(tuple(specs), protocol, with_ke, supports)
        except TypeError:  # unhashable specs: no cache
            base = _local_offers.__wrapped__(tuple(specs), protocol, with_ke, supports)
        if type(specs) is tuple:  # immutable: remember it by identity too
            remember(_local_memo, key, (specs, base))
    if not spi:
        return base
    return tuple(Offer(o.protocol, o.transforms, o.number, spi) for o in base)


@functools.lru_cache(maxsize=256)
def _local_offers(
    specs: tuple[SpecLike, ...],
    protocol: int,
    with_ke: bool,
    supports: Callable[[int, int], bool] | None,
) -> tuple[Offer, ...]:
    usable = [
        transforms
        for spec in specs
        if all(
            (transforms := _spec_transforms(spec, protocol, with_ke, supports)).values()
        )
    ]
    return tuple(Offer(protocol, t, n) for n, t in enumerate(usable, 1))


def _normalised(offer: Offer, ignore_ke: bool) -> dict[int, tuple[Pair, ...]]:
    """Offer transforms with absent optional types made explicit (INTEG/KE = NONE)."""
    if ignore_ke:
        return {t: v for t, v in offer.transforms.items() if v and t not in _KE_SET}
    types = _NONE_DEFAULTS.copy()
    for t, v in offer.transforms.items():
        if v:
            types[t] = v
    return types


def _pick_plain(offered: tuple[Pair, ...], ours: tuple[Pair, ...]) -> Pair | None:
    """First offered pair we also accept (the initiator's preference order)."""
    for pair in offered:
        if pair in ours:
            return pair
    return None


def _pick_ke(
    offered: Mapping[int, tuple[Pair, ...]],
    ours: Mapping[int, tuple[Pair, ...]],
    pending: Sequence[int],
    used: frozenset[int],
) -> dict[int, Pair] | None:
    """Choose Types 4, 6..12 with backtracking so that no method repeats (RFC 9370)."""
    if not pending:
        return {}
    t, rest = pending[0], pending[1:]
    for pair in offered[t]:
        if pair not in ours.get(t, ((0, 0),)) or (pair[0] != 0 and pair[0] in used):
            continue
        tail = _pick_ke(offered, ours, rest, used | ({pair[0]} - {0}))
        if tail is not None:
            return {t: pair, **tail}
    return None


def _pick_ke_first(
    offered: Mapping[int, tuple[Pair, ...]],
    ours: Mapping[int, tuple[Pair, ...]],
    pending: Sequence[int],
) -> dict[int, Pair] | None:
    """The first acceptable pair of every type, if that repeats no method.

    This is the first path :func:`_pick_ke` tries, so when it succeeds it is also
    what the backtracking search returns; None means "search". (Loops, not
    generators: this runs for every proposal matched.)
    """
    chosen: dict[int, Pair] = {}
    used: set[int] = set()
    for t in pending:
        mine = ours.get(t, _NONE_ONLY)
        for pair in offered[t]:
            if pair in mine:
                break
        else:
            return None
        method = pair[0]
        if method != 0:
            if method in used:
                return None
            used.add(method)
        chosen[t] = pair
    return chosen


def _match(offer: Offer, local: Offer, ignore_ke: bool) -> Selected | None:
    """Match one received proposal against one local proposal."""
    offered = _normalised(offer, ignore_ke)
    ours = _normalised(local, ignore_ke)
    plain: list[int] = []
    ke_types: list[int] = []
    for t in offered:
        if t not in ours and t != INTEG:
            return None  # a type we do not know/configure (RFC 7296 §3.3.6)
        (ke_types if t in _KE_SET else plain).append(t)
    chosen: dict[int, Pair] = {}
    for t in sorted(plain):
        pair = _pick_plain(offered[t], ours.get(t, _NONE_ONLY))
        if pair is None:
            return None
        chosen[t] = pair
    ke_types.sort()  # KE_TYPES order: 4, 6..12
    ke = _pick_ke_first(offered, ours, ke_types)
    if ke is None:
        ke = _pick_ke(offered, ours, ke_types, frozenset())
        if ke is None:
            return None
    chosen.update(ke)
    if not _REQUIRED.get(offer.protocol, set()) <= chosen.keys():
        return None
    if offer.protocol == 1 and chosen.get(KE, _NONE)[0] == 0:
        return None  # IKE SAs need a real Type 4 method
    present = [t for t, v in offer.transforms.items() if v]
    if ignore_ke:
        present = [t for t in present if t not in _KE_SET]
    present.sort()
    return Selected(offer.protocol, chosen, offer.number, offer.spi, tuple(present))


def select(
    offers: Iterable[Offer], local: Sequence[Offer], *, ignore_ke: bool = False
) -> Selected | None:
    """Responder side: the first received proposal that matches a local one.

    Args:
        offers: the initiator's proposals in its order of preference.
        local: our configured proposals (as Offers, see :func:`offer_from_spec`).
        ignore_ke: True for the Child SA proposal in IKE_AUTH (SPEC §2.2).

    Returns:
        The choice, or None (-> NO_PROPOSAL_CHOSEN).
    """
    offers = offers if isinstance(offers, list | tuple) else list(offers)
    key = _memo_key(offers, local, ignore_ke)
    if key is not None:
        hit = _select_memo.get(key)
        if hit is not None:
            index, template = hit[1], hit[2]
            if template is None:
                return None
            return _with_number_and_spi(template, offers[index])
    index, chosen = -1, None
    for index, offer in enumerate(offers):  # noqa: B007 - the index is memoised
        for mine in local:
            if mine.protocol != offer.protocol:
                continue
            chosen = _match(offer, mine, ignore_ke)
            if chosen is not None:
                break
        if chosen is not None:
            break
    if key is not None:
        chosen = _frozen(chosen)
        remember(_select_memo, key, (_keep(offers, local), index, chosen))
    return chosen


# Proposal matching is a pure function of the transform maps, the protocols and the
# proposal numbers; the same configured and received proposals come back for every
# handshake. The memos are keyed by the *identity* of read-only transform maps
# (``MappingProxyType``, as built by offer_from_spec/local_offers and by
# ``tasks.common.proposal_to_offer``), and every entry keeps those maps alive, so an
# id can never be reused for another map while its entry exists. Bounded: cleared
# when full. Plain dicts are not memoised (they could change).
_select_memo: dict[tuple[Any, ...], tuple[Any, int, Selected | None]] = {}
_validate_memo: dict[tuple[Any, ...], tuple[Any, Selected | None]] = {}
_local_memo: dict[tuple[Any, ...], tuple[Any, tuple[Offer, ...]]] = {}
_as_offer_memo: dict[tuple[Any, ...], tuple[Any, Mapping[int, tuple[Pair, ...]]]] = {}


def _memo_key(
    offers: Sequence[Offer], local: Sequence[Offer], ignore_ke: bool
) -> tuple[Any, ...] | None:
    key: list[Any] = [ignore_ke]
    for offer in (*offers, None, *local):
        if offer is None:
            key.append(None)
            continue
        transforms = offer.transforms
        if type(transforms) is not MappingProxyType:
            return None
        key.append(id(transforms))
        key.append(offer.protocol)
        key.append(offer.number)
    return tuple(key)


def _keep(*groups: Sequence[Offer]) -> tuple[Any, ...]:
    """The transform maps a memo entry's key refers to, kept alive with it."""
    return tuple(o.transforms for group in groups for o in group)


def _frozen(chosen: Selected | None) -> Selected | None:
    """``chosen`` with a read-only ``chosen`` map, since memo hits share it."""
    if chosen is None or type(chosen.chosen) is MappingProxyType:
        return chosen
    return Selected(
        chosen.protocol,
        MappingProxyType(dict(chosen.chosen)),
        chosen.number,
        chosen.spi,
        chosen.response_types,
    )


def _with_number_and_spi(template: Selected, source: Offer) -> Selected:
    if template.number == source.number and template.spi == source.spi:
        return template
    return Selected(
        template.protocol,
        template.chosen,
        source.number,
        source.spi,
        template.response_types,
    )


def validate_choice(
    response: Offer, sent: Sequence[Offer], *, ignore_ke: bool = False
) -> Selected | None:
    """Initiator side: check the responder picked one offered transform per type.

    Returns the choice as a Selected, or None when the response is not a valid
    selection from the proposal with the same number (RFC 7296 §2.7).
    """
    key = _memo_key((response,), sent, ignore_ke)
    if key is not None:
        hit = _validate_memo.get(key)
        if hit is not None:
            template = hit[1]
            return (
                None if template is None else _with_number_and_spi(template, response)
            )
    chosen = _frozen(_validate(response, sent, ignore_ke))
    if key is not None:
        remember(_validate_memo, key, (_keep((response,), sent), chosen))
    return chosen


def _validate(
    response: Offer, sent: Sequence[Offer], ignore_ke: bool
) -> Selected | None:
    for match in sent:
        if match.number == response.number:
            break
    else:
        return None
    if match.protocol != response.protocol:
        return None
    for pairs in response.transforms.values():
        if len(pairs) != 1:
            return None
    chosen = _match(response, match, ignore_ke)
    if chosen is None:
        return None
    # every type we offered must be answered, unless NONE was among our offers
    offered = _normalised(match, ignore_ke)
    for t, pairs in offered.items():
        if t not in response.transforms and (0, 0) not in pairs:
            return None
    return chosen  # the response's protocol, number and SPI, as _match took them
