# SPDX-License-Identifier: Apache-2.0
"""Memoised decoding of SA/TS payload bodies (issue #5) gives what a fresh decode
gives, never remembers a failure, and stays bounded."""

from __future__ import annotations

import pytest

from pqike import _memo
from pqike.errors import DecodeError
from pqike.ikev2.codec import message, sa
from pqike.ikev2.codec.message import decode_payloads, encode_payloads
from pqike.ikev2.codec.payloads import IdiPayload, NotifyPayload
from pqike.ikev2.codec.sa import Proposal, SaPayload, Transform
from pqike.ikev2.codec.ts import TrafficSelector, TsiPayload
from pqike.ikev2.constants import IdType, NotifyType, PayloadType


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


def test_sa_payloads_with_an_spi_are_not_remembered() -> None:
    """A Child SA proposal carries its fresh SPI, so its octets never come back:
    remembering them only pushed the recurring entries out (every ~128
    handshakes). Proposals without an SPI (IKE_SA_INIT's) are still remembered."""
    message._memo.clear()
    transforms = _sa(256).proposals[0].transforms
    for spi in (b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"):
        child = SaPayload((Proposal(1, 3, spi, transforms),))
        first, octets = encode_payloads([child])
        assert decode_payloads(octets, first) == (child,)
    assert len(message._memo) == 0
    first, octets = encode_payloads([_sa(256)])
    decode_payloads(octets, first)
    assert len(message._memo) == 1
    assert (
        decode_payloads(bytes(octets), first)[0]
        is message._memo[(PayloadType.SA, octets[4:])]
    )


def test_decode_memoised_malformed_body_raises_every_time() -> None:
    first, octets = encode_payloads([_sa(128)])
    broken = octets[:-1]  # SA body one octet short
    broken = broken[:2] + (len(broken)).to_bytes(2, "big") + broken[4:]
    for _ in range(3):
        with pytest.raises(DecodeError):
            decode_payloads(broken, first)


def test_decode_memoised_cache_stays_bounded() -> None:
    for port in range(_memo.MEMO_ENTRIES * 2):
        ts = TrafficSelector(7, 0, port, port, bytes(4), bytes(4))
        first, octets = encode_payloads([TsiPayload((ts,))])
        assert decode_payloads(octets, first) == (TsiPayload((ts,)),)
    assert len(message._memo) <= _memo.MEMO_ENTRIES


def _child_sa(spi: bytes, encr_bits: int = 256) -> SaPayload:
    transforms = (Transform.of(1, 20, encr_bits), Transform.of(5, 0))
    return SaPayload((Proposal(1, 3, spi, transforms),))


def test_decode_proposals_differing_only_in_spi_share_their_transforms() -> None:
    one = SaPayload.decode(_child_sa(b"\x00\x00\x00\x01").encode())
    two = SaPayload.decode(_child_sa(b"\x00\x00\x00\x02").encode())
    assert one == _child_sa(b"\x00\x00\x00\x01")
    assert two == _child_sa(b"\x00\x00\x00\x02")
    assert one.proposals[0].transforms is two.proposals[0].transforms
    fresh = sa._decode_transforms(_child_sa(b"").encode()[8:], 2)
    assert fresh == two.proposals[0].transforms


def test_decode_memoised_transforms_with_wrong_count_raise_every_time() -> None:
    octets = bytearray(_child_sa(b"\x00\x00\x00\x01").encode())
    SaPayload.decode(bytes(octets))  # the transforms are remembered now
    octets[7] = 3  # Num Transforms 3, but 2 follow
    for _ in range(3):
        with pytest.raises(DecodeError, match="announces 3 transforms"):
            SaPayload.decode(bytes(octets))


def test_decode_memoised_transforms_stay_bounded() -> None:
    for bits in range(_memo.MEMO_ENTRIES * 2):
        got = SaPayload.decode(_child_sa(b"\x00\x00\x00\x07", bits).encode())
        assert got == _child_sa(b"\x00\x00\x00\x07", bits)
    assert len(sa._transforms_decoded) <= _memo.MEMO_ENTRIES


def test_decode_memoises_short_notifies_and_identities_only() -> None:
    short = NotifyPayload(NotifyType.SIGNATURE_HASH_ALGORITHMS, bytes.fromhex("0002"))
    nat = NotifyPayload(NotifyType.NAT_DETECTION_SOURCE_IP, bytes(20))
    ident = IdiPayload(IdType.ID_FQDN, b"initiator.example")
    first, octets = encode_payloads([short, nat, ident])
    once = decode_payloads(octets, first)
    twice = decode_payloads(bytes(octets), first)
    assert once == twice == (short, nat, ident)
    assert once[0] is twice[0]  # remembered
    assert once[1] is not twice[1]  # 24 octets: never remembered
    assert once[2] is twice[2]
    assert (PayloadType.NOTIFY, short.encode()) in message._memo
    assert (PayloadType.NOTIFY, nat.encode()) not in message._memo


def test_decode_memoised_notify_with_bad_spi_size_raises_every_time() -> None:
    body = bytes([0, 9]) + NotifyType.REKEY_SA.to_bytes(2, "big") + bytes(4)
    chain = bytes([0, 0, 0, 4 + len(body)]) + body
    for _ in range(3):
        with pytest.raises(DecodeError, match="SPI Size 9"):
            decode_payloads(chain, PayloadType.NOTIFY)
