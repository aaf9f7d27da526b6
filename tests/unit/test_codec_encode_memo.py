# SPDX-License-Identifier: Apache-2.0
"""Memoised encoding of proposals' transforms and TS payload bodies (issue #5)
gives what a fresh encode gives, never serves stale octets, and stays bounded."""

from __future__ import annotations

import pytest

from pqike import _memo
from pqike.ikev2.codec import sa, ts
from pqike.ikev2.codec.sa import Proposal, SaPayload, Transform, TransformAttribute
from pqike.ikev2.codec.ts import (
    TrafficSelector,
    TsiPayload,
    TsrPayload,
    UnknownTrafficSelector,
)


def _transforms(bits: int) -> tuple[Transform, ...]:
    return (Transform.of(1, 20, bits), Transform.of(2, 5), Transform.of(4, 31))


def _fresh_transforms(transforms: tuple[Transform, ...]) -> bytes:
    """The transform octets built by hand, without the memo."""
    last = len(transforms) - 1
    return b"".join(t.encode(i == last) for i, t in enumerate(transforms))


def _fresh_ts(selectors: tuple[TrafficSelector | UnknownTrafficSelector, ...]) -> bytes:
    return bytes((len(selectors), 0, 0, 0)) + b"".join(s.encode() for s in selectors)


def test_memoised_sa_encode_equals_fresh_encode() -> None:
    transforms = _transforms(256)
    first = SaPayload((Proposal(1, 1, b"", transforms),)).encode()
    assert transforms in sa._transforms_wire
    for spi in (b"", b"\x01\x02\x03\x04"):
        again = SaPayload((Proposal(1, 3, spi, transforms),)).encode()
        assert again[8 + len(spi) :] == _fresh_transforms(transforms)
        assert SaPayload.decode(again).proposals[0].spi == spi
    assert first == SaPayload((Proposal(1, 1, b"", _transforms(256)),)).encode()
    two = SaPayload(
        (Proposal(1, 1, b"", transforms), Proposal(2, 1, b"", _transforms(128)))
    )
    assert SaPayload.decode(two.encode()) == two


def test_equal_transforms_in_another_tuple_encode_alike() -> None:
    one, other = _transforms(192), _transforms(192)
    assert one is not other
    a = Proposal(1, 1, b"", one).encode(True)
    b = Proposal(1, 1, b"", other).encode(True)
    assert a == b
    assert a[8:] == _fresh_transforms(one)


@pytest.mark.parametrize(
    "transforms",
    [
        [Transform.of(1, 20, 256), Transform.of(2, 5)],  # a list can change
        (Transform(1, 20, (TransformAttribute(1, bytearray(b"ab")),)),),  # type: ignore[arg-type]
    ],
    ids=["list", "bytearray-value"],
)
def test_mutable_transforms_are_not_memoised(transforms: object) -> None:
    proposal = Proposal(1, 1, b"", transforms)  # type: ignore[arg-type]
    first = proposal.encode(True)
    assert transforms not in sa._transforms_wire
    if isinstance(transforms, list):
        transforms.append(Transform.of(4, 31))
        assert proposal.encode(True) != first
        assert proposal.encode(True)[8:] == _fresh_transforms(tuple(transforms))
    else:
        value = transforms[0].attributes[0].value  # type: ignore[index]
        value[0] = ord("z")
        assert proposal.encode(True).endswith(b"zb")


def test_memoised_ts_encode_equals_fresh_encode() -> None:
    selectors = (
        TrafficSelector(7, 0, 0, 65535, bytes(4), b"\xff" * 4),
        UnknownTrafficSelector(13, b"\x01\x02"),
    )
    first = TsiPayload(selectors).encode()
    assert selectors in ts._selectors_wire
    assert first == _fresh_ts(selectors)
    assert TsrPayload(selectors).encode() == first
    assert TsiPayload.decode(first) == TsiPayload(selectors)


def test_mutable_selectors_are_not_memoised() -> None:
    start = bytearray(4)
    selectors = (TrafficSelector(7, 0, 0, 65535, start, b"\xff" * 4),)  # type: ignore[arg-type]
    payload = TsiPayload(selectors)
    payload.encode()
    assert selectors not in ts._selectors_wire
    start[0] = 10
    assert payload.encode() == _fresh_ts(selectors)
    assert payload.encode()[12] == 10


def test_failed_encode_raises_every_time_and_is_not_remembered() -> None:
    bad = (TrafficSelector(7, 0, 0, 0, bytes(16), bytes(16)),)
    for _ in range(3):
        with pytest.raises(ValueError, match="TS type 7"):
            TsiPayload(bad).encode()
    assert bad not in ts._selectors_wire
    too_many = tuple(Transform(3, 12) for _ in range(256))
    for _ in range(3):
        with pytest.raises(ValueError, match=r"1\.\.255 transforms"):
            Proposal(1, 1, b"", too_many).encode(True)


def test_encode_memos_stay_bounded() -> None:
    for n in range(_memo.MEMO_ENTRIES * 2 + 3):
        transforms = (Transform.of(1, 20, n),)
        assert Proposal(1, 1, b"", transforms).encode(True)[8:] == _fresh_transforms(
            transforms
        )
        selectors = (TrafficSelector(7, 0, n, n, bytes(4), bytes(4)),)
        assert TsiPayload(selectors).encode() == _fresh_ts(selectors)
    assert len(sa._transforms_wire) <= _memo.MEMO_ENTRIES
    assert len(ts._selectors_wire) <= _memo.MEMO_ENTRIES
