# SPDX-License-Identifier: Apache-2.0
"""The fast paths of proposal matching (issue #5) choose what the plain search
chose: a straightforward restatement of RFC 9370 §2.2.1 / RFC 7296 §2.7 below is
compared with ``negotiation`` on many random proposals."""

from __future__ import annotations

import dataclasses
import random

import pytest

from pqike.ikev2.negotiation import (
    INTEG,
    KE_TYPES,
    Offer,
    Selected,
    _pick_ke,
    select,
    validate_choice,
)

_REQUIRED = {1: {1, 2, 4}, 3: {1, 5}}


def _normalised(
    offer: Offer, ignore_ke: bool
) -> dict[int, tuple[tuple[int, int], ...]]:
    types = {t: v for t, v in offer.transforms.items() if v}
    if ignore_ke:
        for t in KE_TYPES:
            types.pop(t, None)
        return types
    for t in (INTEG, *KE_TYPES):
        types.setdefault(t, ((0, 0),))
    return types


def _reference_match(offer: Offer, local: Offer, ignore_ke: bool) -> Selected | None:
    offered, ours = _normalised(offer, ignore_ke), _normalised(local, ignore_ke)
    if set(offered) - set(ours) - {INTEG}:
        return None
    chosen: dict[int, tuple[int, int]] = {}
    for t in sorted(set(offered) - set(KE_TYPES)):
        pair = next((p for p in offered[t] if p in ours.get(t, ((0, 0),))), None)
        if pair is None:
            return None
        chosen[t] = pair
    # the backtracking search itself is unchanged: it is the reference
    ke = _pick_ke(offered, ours, [t for t in KE_TYPES if t in offered], frozenset())
    if ke is None:
        return None
    chosen.update(ke)
    if not _REQUIRED.get(offer.protocol, set()) <= set(chosen):
        return None
    if offer.protocol == 1 and chosen.get(4, (0, 0))[0] == 0:
        return None
    present = tuple(t for t in sorted(offer.transforms) if offer.transforms[t])
    if ignore_ke:
        present = tuple(t for t in present if t not in KE_TYPES)
    return Selected(offer.protocol, chosen, offer.number, offer.spi, present)


def _reference_validate(
    response: Offer, local: Offer, ignore_ke: bool
) -> Selected | None:
    if local.number != response.number or local.protocol != response.protocol:
        return None
    if any(len(v) != 1 for v in response.transforms.values()):
        return None
    single = Offer(response.protocol, response.transforms, response.number)
    chosen = _reference_match(single, local, ignore_ke)
    if chosen is None:
        return None
    for t, pairs in _normalised(local, ignore_ke).items():
        if t not in response.transforms and (0, 0) not in pairs:
            return None
    return dataclasses.replace(chosen, spi=response.spi)


_METHODS = (0, 31, 19, 35, 36, 37)


def _random_offer(rng: random.Random, protocol: int) -> Offer:
    types: dict[int, tuple[tuple[int, int], ...]] = {
        1: ((20, 256), (20, 128))[: rng.randint(1, 2)]
    }
    if protocol == 1:
        types[2] = tuple((p, 0) for p in rng.sample((5, 6, 7), rng.randint(1, 2)))
    else:
        types[5] = ((0, 0),)
    if rng.random() < 0.2:
        types[3] = ((12, 0),)
    for t in KE_TYPES:
        if rng.random() < (0.9 if t == 4 else 0.4):
            types[t] = tuple((m, 0) for m in rng.sample(_METHODS, rng.randint(1, 3)))
    return Offer(protocol, types)


def _near(rng: random.Random, offer: Offer) -> Offer:
    """A local proposal that shares most of ``offer`` (reordered, some extra)."""
    types = {}
    for t, pairs in offer.transforms.items():
        mine = list(pairs) + ([(rng.choice(_METHODS), 0)] if t in KE_TYPES else [])
        rng.shuffle(mine)
        types[t] = tuple(dict.fromkeys(mine))
    return Offer(offer.protocol, types)


@pytest.mark.parametrize("ignore_ke", [False, True])
@pytest.mark.parametrize("protocol", [1, 3])
def test_select_matches_reference_search_random_proposals(
    protocol: int, ignore_ke: bool
) -> None:
    rng = random.Random(f"{protocol}-{ignore_ke}")
    for _ in range(600):
        offer = _random_offer(rng, protocol)
        local = (
            _random_offer(rng, protocol) if rng.random() < 0.3 else _near(rng, offer)
        )
        want = _reference_match(offer, local, ignore_ke)
        assert select([offer], [local], ignore_ke=ignore_ke) == want
        if want is not None:
            response = want.as_offer()
            got = validate_choice(response, [local], ignore_ke=ignore_ke)
            assert got == _reference_validate(response, local, ignore_ke)


def test_select_backtracks_when_first_choice_repeats_a_method() -> None:
    # ADDKE1 first offers the Type 4 method again: the greedy path fails, the
    # search takes ML-KEM-768 for ADDKE1.
    offer = Offer(
        1, {1: ((20, 256),), 2: ((5, 0),), 4: ((31, 0),), 6: ((31, 0), (36, 0))}
    )
    chosen = select([offer], [offer])
    assert chosen is not None
    assert chosen.chosen[4] == (31, 0)
    assert chosen.chosen[6] == (36, 0)
