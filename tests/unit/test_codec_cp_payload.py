# SPDX-License-Identifier: Apache-2.0
"""Configuration payload (RFC 7296 §3.15)."""

from __future__ import annotations

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import CpAttribute, CpPayload
from pqike.ikev2.constants import CfgType, ConfigAttributeType


def test_encode_request_with_empty_attributes() -> None:
    payload = CpPayload(
        CfgType.CFG_REQUEST,
        (
            CpAttribute(ConfigAttributeType.INTERNAL_IP4_ADDRESS),
            CpAttribute(ConfigAttributeType.INTERNAL_IP4_DNS),
        ),
    )
    assert payload.encode() == bytes.fromhex("010000000001000000030000")


def test_decode_reply_with_address() -> None:
    wire = bytes.fromhex("02000000000100040a000001")
    assert CpPayload.decode(wire) == CpPayload(
        CfgType.CFG_REPLY,
        (CpAttribute(ConfigAttributeType.INTERNAL_IP4_ADDRESS, b"\x0a\x00\x00\x01"),),
    )


def test_decode_drops_reserved_bit() -> None:
    wire = bytes.fromhex("0200000080010000")
    assert CpPayload.decode(wire).attributes == (CpAttribute(1),)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ("0200", "needs 4 octets"),
        ("020000000001", "truncated configuration attribute"),
        ("02000000000100050a000001", "length 5 too big"),
    ],
)
def test_decode_rejects_malformed_body(wire: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        CpPayload.decode(bytes.fromhex(wire))
