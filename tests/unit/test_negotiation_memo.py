# SPDX-License-Identifier: Apache-2.0
"""The engine's memos (issue #5) return what a fresh computation returns.

``select``/``validate_choice`` remember results by the identity of read-only
transform maps; ``proposal_to_offer`` and ``local_offers`` hand out such maps. These
tests compare memoised answers with answers computed on private copies (plain
dicts, which are never memoised), and check the numbering and the bounds.
"""

from __future__ import annotations

import random
from types import MappingProxyType

import pytest

from pqike._memo import MEMO_ENTRIES
from pqike.ikev2 import negotiation
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.codec.ts import TrafficSelector
from pqike.ikev2.negotiation import (
    KE_TYPES,
    Offer,
    Selected,
    local_offers,
    select,
    validate_choice,
)
from pqike.ikev2.suite import suite_info
from pqike.ikev2.tasks import child_create
from pqike.ikev2.tasks.child_create import narrow
from pqike.ikev2.tasks.common import proposal_to_offer, response_sa_payload, sa_payload
from pqike.proposals import parse_proposal

_METHODS = (0, 31, 19, 35, 36, 37)


def _random_types(rng: random.Random) -> dict[int, tuple[tuple[int, int], ...]]:
    types: dict[int, tuple[tuple[int, int], ...]] = {
        1: ((20, 256), (20, 128))[: rng.randint(1, 2)],
        2: tuple((p, 0) for p in rng.sample((5, 6, 7), rng.randint(1, 2))),
    }
    for t in KE_TYPES:
        if rng.random() < (0.9 if t == 4 else 0.4):
            types[t] = tuple((m, 0) for m in rng.sample(_METHODS, rng.randint(1, 3)))
    return types


def _frozen(offer: Offer) -> Offer:
    return Offer(offer.protocol, MappingProxyType(dict(offer.transforms)), offer.number)


def _plain(offer: Offer) -> Offer:
    return Offer(offer.protocol, dict(offer.transforms), offer.number, offer.spi)


def test_memoised_select_and_validate_equal_fresh_results() -> None:
    rng = random.Random(5)
    pool = [_frozen(Offer(1, _random_types(rng), n % 3 + 1)) for n in range(40)]
    for _ in range(3000):  # many repeats of the same maps: mostly memo hits
        offers = rng.sample(pool, rng.randint(1, 3))
        local = rng.sample(pool, rng.randint(1, 2))
        got = select(offers, local)
        want = select([_plain(o) for o in offers], [_plain(o) for o in local])
        assert got == want
        if want is not None:
            response = _frozen(want.as_offer())
            want_v = validate_choice(_plain(response), [_plain(o) for o in local])
            assert validate_choice(response, local) == want_v


def test_memo_hit_carries_the_new_proposal_number_and_spi() -> None:
    transforms = MappingProxyType({1: ((20, 256),), 2: ((5, 0),), 4: ((31, 0),)})
    local = (Offer(1, transforms, 1),)
    first = select([Offer(1, transforms, 1, b"\x01" * 8)], local)
    again = select([Offer(1, transforms, 1, b"\x02" * 8)], local)
    assert first is not None
    assert again is not None
    assert (first.spi, again.spi) == (b"\x01" * 8, b"\x02" * 8)
    response = Offer(1, MappingProxyType(dict(again.as_offer().transforms)), 1)
    for spi in (b"\x03" * 8, b"\x04" * 8):
        chosen = validate_choice(Offer(1, response.transforms, 1, spi), local)
        assert chosen is not None
        assert chosen.spi == spi


def test_memos_stay_bounded() -> None:
    rng = random.Random(7)
    local = (_frozen(Offer(1, _random_types(rng))),)
    for _ in range(3 * MEMO_ENTRIES):
        select([_frozen(Offer(1, _random_types(rng)))], local)
    assert len(negotiation._select_memo) <= MEMO_ENTRIES


def test_plain_dicts_are_not_memoised() -> None:
    types = {1: ((20, 256),), 2: ((5, 0),), 4: ((31, 0),)}
    local = [Offer(1, {1: ((20, 256),), 2: ((5, 0),), 4: ((31, 0),)})]
    assert select([Offer(1, types)], local) is not None
    types[4] = ((19, 0),)  # the same dict object, now something else
    assert select([Offer(1, types)], local) is None


def test_local_offers_number_what_is_sent() -> None:
    specs = (
        parse_proposal("aes256gcm16-prfsha256-mlkem512", "ike"),
        parse_proposal("aes256gcm16-prfsha256-x25519", "ike"),
    )
    no_mlkem512 = lambda t, i: not (t == 4 and i == 35)  # noqa: E731
    offers = local_offers(specs, 1, supports=no_mlkem512)
    # the unusable first proposal is dropped before numbering: the wire numbers
    # and the numbers validate_choice matches against are the same
    assert [o.number for o in offers] == [1]
    assert offers[0].transforms[4] == ((31, 0),)
    (proposal,) = sa_payload(list(offers)).proposals
    assert proposal.number == 1
    spi = b"\x00\x00\x10\x01"
    with_spi = local_offers(specs, 3, spi=spi, with_ke=False)
    assert {o.spi for o in with_spi} == {spi}


@pytest.mark.parametrize(
    "text", ["aes256gcm16-prfsha256-x25519-ke1_mlkem768", "aes128-sha256-ecp256"]
)
def test_sa_payloads_round_trip_through_the_memos(text: str) -> None:
    offers = local_offers((parse_proposal(text, "ike"),), 1)
    payload = sa_payload(list(offers))
    assert sa_payload(list(offers)) is payload  # same offers, same payload object
    decoded = SaPayload.decode(payload.encode())
    received = [proposal_to_offer(p) for p in decoded.proposals]
    assert [dict(o.transforms) for o in received] == [
        dict(o.transforms) for o in offers
    ]
    chosen = select(received, list(offers))
    assert chosen is not None
    answer = response_sa_payload(chosen)
    assert len(answer.proposals) == 1
    back = proposal_to_offer(SaPayload.decode(answer.encode()).proposals[0])
    assert validate_choice(back, list(offers)) == chosen


def _random_ts(rng: random.Random) -> TrafficSelector:
    lo, hi = sorted(rng.randrange(0, 256) for _ in range(2))
    plo, phi = sorted(rng.choice((0, 80, 443, 500, 65535)) for _ in range(2))
    return TrafficSelector(
        7,
        rng.choice((0, 6, 17)),
        plo,
        phi,
        bytes((10, 0, 0, lo)),
        bytes((10, 0, 0, hi)),
    )


def test_narrowing_memo_equals_fresh_narrowing() -> None:
    rng = random.Random(11)
    pool = [tuple(_random_ts(rng) for _ in range(rng.randint(1, 3))) for _ in range(30)]
    for _ in range(2000):
        offered, ours = rng.choice(pool), rng.choice(pool)
        assert narrow(offered, ours) == child_create._narrow(offered, ours)
        got = narrow(offered, ours)
        fresh = bool(got) and all(
            any(child_create._intersect(g, p) == g for p in ours) for g in got
        )
        assert child_create._within(got, ours) == fresh
    assert len(child_create._NARROWED) <= MEMO_ENTRIES
    assert len(child_create._WITHIN) <= MEMO_ENTRIES


def test_suite_info_memo_equals_fresh_suite_info() -> None:
    specs = (parse_proposal("aes256gcm16-prfsha384-x25519-ke1_mlkem768", "ike"),)
    offers = local_offers(specs, 1)
    chosen = select(list(offers), list(offers))
    assert chosen is not None
    assert type(chosen.chosen) is MappingProxyType  # the memoised kind
    plain = Selected(
        chosen.protocol,
        dict(chosen.chosen),
        chosen.number,
        chosen.spi,
        chosen.response_types,
    )
    assert suite_info(chosen) == suite_info(plain)
    assert suite_info(chosen) is suite_info(chosen)
    assert str(suite_info(chosen)) == (
        "AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE25519/ADDKE1=ML_KEM_768"
    )
