# SPDX-License-Identifier: Apache-2.0
"""SA payload: proposals, transforms and attributes (RFC 7296 §3.3, RFC 9370 §2.2)."""

from __future__ import annotations

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import Proposal, SaPayload, Transform, TransformAttribute
from pqike.ikev2.constants import (
    EncrId,
    KeMethod,
    PrfId,
    ProtocolId,
    TransformType,
)

# aes256gcm16-prfsha384-x25519-ke1_mlkem768, as strongSwan sends it
HYBRID = bytes.fromhex(
    "0000002c010100040300000c01000014800e0100030000080200000603000008"
    "0400001f0000000806000024"
)


def hybrid_proposal() -> Proposal:
    return Proposal(
        1,
        ProtocolId.IKE,
        b"",
        (
            Transform.of(TransformType.ENCR, EncrId.ENCR_AES_GCM_16, 256),
            Transform.of(TransformType.PRF, PrfId.PRF_HMAC_SHA2_384),
            Transform.of(TransformType.KE, KeMethod.CURVE25519),
            Transform.of(TransformType.ADDKE1, KeMethod.ML_KEM_768),
        ),
    )


def test_decode_hybrid_proposal_from_strongswan() -> None:
    sa = SaPayload.decode(HYBRID)
    assert sa == SaPayload((hybrid_proposal(),))
    assert sa.proposals[0].transforms[0].key_length == 256
    assert sa.proposals[0].transforms[1].key_length is None


def test_encode_hybrid_proposal_matches_strongswan() -> None:
    assert SaPayload((hybrid_proposal(),)).encode() == HYBRID


def test_transforms_of_selects_one_type() -> None:
    proposal = hybrid_proposal()
    assert proposal.transforms_of(TransformType.ADDKE1) == (
        Transform(TransformType.ADDKE1, KeMethod.ML_KEM_768),
    )
    assert proposal.transforms_of(TransformType.INTEG) == ()


@pytest.mark.parametrize("addke", list(range(6, 13)))
def test_addke_types_and_none_pass_through(addke: int) -> None:
    proposal = Proposal(
        2,
        ProtocolId.ESP,
        b"\x01\x02\x03\x04",
        (
            Transform(addke, KeMethod.ML_KEM_1024),
            Transform(addke, KeMethod.NONE),
        ),
    )
    sa = SaPayload((hybrid_proposal(), proposal))
    assert SaPayload.decode(sa.encode()) == sa


def test_tlv_attribute_round_trips() -> None:
    transform = Transform(
        1, 12, (TransformAttribute(17, b"abc"), TransformAttribute(14, 128))
    )
    sa = SaPayload((Proposal(1, 1, b"", (transform,)),))
    wire = sa.encode()
    assert bytes.fromhex("00110003616263800e0080") in wire
    assert SaPayload.decode(wire) == sa


def test_decode_rejects_empty_sa() -> None:
    with pytest.raises(DecodeError, match="without proposals"):
        SaPayload.decode(b"")


def patch(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    out[offset] = value
    return bytes(out)


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, 2, "last proposal is not marked last"),
        (0, 1, "Last Substruc 1 is not 0 or 2"),
        (3, 0x2D, "proposal length 45 is invalid"),
        (3, 0x07, "proposal length 7 is invalid"),
        (6, 40, "SPI Size 40 exceeds"),
        (7, 5, "announces 5 transforms and holds 4"),
        (8, 0, "data after the last transform"),
        (8, 2, "Last Substruc 2 is not 0 or 3"),
        (36, 3, "last transform is not marked"),
        (11, 0x30, "transform length 48 is invalid"),
        (11, 0x07, "transform length 7 is invalid"),
    ],
)
def test_decode_rejects_inconsistent_structure(
    offset: int, value: int, message: str
) -> None:
    with pytest.raises(DecodeError, match=message):
        SaPayload.decode(patch(HYBRID, offset, value))


def test_decode_rejects_trailing_octets_after_last_proposal() -> None:
    with pytest.raises(DecodeError, match="after the last proposal"):
        SaPayload.decode(HYBRID + bytes(8))


def test_decode_rejects_truncated_proposal() -> None:
    with pytest.raises(DecodeError, match="truncated proposal"):
        SaPayload.decode(patch(HYBRID, 0, 2) + bytes(4))


def test_decode_rejects_tlv_attribute_longer_than_transform() -> None:
    transform = Transform(1, 12, (TransformAttribute(17, b"abc"),))
    wire = bytearray(SaPayload((Proposal(1, 1, b"", (transform,)),)).encode())
    wire[-4] = 9  # attribute length 3 -> 9
    with pytest.raises(DecodeError, match="attribute length 9 exceeds"):
        SaPayload.decode(bytes(wire))


def test_encode_rejects_more_than_255_transforms() -> None:
    proposal = Proposal(1, 1, b"", tuple(Transform(1, 20) for _ in range(256)))
    with pytest.raises(ValueError, match=r"1\.\.255"):
        SaPayload((proposal,)).encode()


def test_decode_rejects_proposal_without_transforms() -> None:
    with pytest.raises(DecodeError, match="without transforms"):
        SaPayload.decode(bytes.fromhex("0000000801010000"))


def test_encode_rejects_proposal_without_transforms() -> None:
    with pytest.raises(ValueError, match="transforms"):
        SaPayload((Proposal(1, 1, b"", ()),)).encode()


def test_decode_rejects_truncated_attribute() -> None:
    wire = bytes.fromhex("00000013 01010001 0000000b 01000014 800e01")
    with pytest.raises(DecodeError, match="truncated transform attribute"):
        SaPayload.decode(wire)
