# SPDX-License-Identifier: Apache-2.0
"""Memoised decoding of SA/TS payload bodies (issue #5) gives what a fresh decode
gives, never remembers a failure, and stays bounded."""

from __future__ import annotations

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import message
from pqike.ikev2.codec.message import decode_payloads, encode_payloads
from pqike.ikev2.codec.sa import Proposal, SaPayload, Transform
from pqike.ikev2.codec.ts import TrafficSelector, TsiPayload


def _sa(encr_bits: int) -> SaPayload:
    transforms = (
        Transform.of(1, 20, encr_bits),
        Transform.of(2, 5),
        Transform.of(4, 31),
    )
    return SaPayload((Proposal(1, 1, b"", transforms),))


def test_decode_memoised_sa_payload_equals_fresh_decode() -> None:
    first, octets = encode_payloads([_sa(256)])
    once = decode_payloads(octets, first)
    twice = decode_payloads(bytes(octets), first)
    assert once == twice == (_sa(256),)
    assert SaPayload.decode(octets[4:]) == once[0]


def test_decode_memoised_malformed_body_raises_every_time() -> None:
    first, octets = encode_payloads([_sa(128)])
    broken = octets[:-1]  # SA body one octet short
    broken = broken[:2] + (len(broken)).to_bytes(2, "big") + broken[4:]
    for _ in range(3):
        with pytest.raises(DecodeError):
            decode_payloads(broken, first)


def test_decode_memoised_cache_stays_bounded() -> None:
    for port in range(message._MEMO_ENTRIES * 2):
        ts = TrafficSelector(7, 0, port, port, bytes(4), bytes(4))
        first, octets = encode_payloads([TsiPayload((ts,))])
        assert decode_payloads(octets, first) == (TsiPayload((ts,)),)
    assert len(message._memo) <= message._MEMO_ENTRIES
