# SPDX-License-Identifier: Apache-2.0
"""TSi/TSr payloads with IPv4 and IPv6 ranges (RFC 7296 §3.13)."""

from __future__ import annotations

import ipaddress

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import (
    TrafficSelector,
    TsiPayload,
    TsrPayload,
    UnknownTrafficSelector,
)
from pqike.ikev2.constants import TsType

V4 = TrafficSelector(
    TsType.TS_IPV4_ADDR_RANGE,
    0,
    0,
    65535,
    ipaddress.IPv4Address("10.78.1.1").packed,
    ipaddress.IPv4Address("10.78.1.1").packed,
)
V6 = TrafficSelector(
    TsType.TS_IPV6_ADDR_RANGE,
    17,
    500,
    500,
    ipaddress.IPv6Address("2001:db8::").packed,
    ipaddress.IPv6Address("2001:db8::ffff").packed,
)
V4_WIRE = bytes.fromhex("070000100000ffff0a4e01010a4e0101")


def test_encode_ipv4_range_matches_rfc_layout() -> None:
    assert TsiPayload((V4,)).encode() == bytes.fromhex("01000000") + V4_WIRE


def test_decode_ipv4_and_ipv6_ranges() -> None:
    payload = TsrPayload((V4, V6))
    wire = payload.encode()
    assert len(wire) == 4 + 16 + 40
    assert TsrPayload.decode(wire) == payload


def test_tsi_and_tsr_are_distinct_types() -> None:
    tsi: object = TsiPayload((V4,))
    assert tsi != TsrPayload((V4,))
    assert TsiPayload.payload_type == 44
    assert TsrPayload.payload_type == 45


def test_unknown_selector_type_is_kept_opaque() -> None:
    payload = TsiPayload((UnknownTrafficSelector(10, b"\x00\x01label"), V4))
    assert TsiPayload.decode(payload.encode()) == payload


def test_decode_rejects_count_above_selectors() -> None:
    with pytest.raises(DecodeError, match="truncated traffic selector"):
        TsiPayload.decode(bytes.fromhex("02000000") + V4_WIRE)


def test_decode_rejects_count_below_selectors() -> None:
    with pytest.raises(DecodeError, match="after its 1 selectors"):
        TsiPayload.decode(bytes.fromhex("01000000") + V4_WIRE + V4_WIRE)


def test_decode_rejects_ipv4_selector_of_wrong_length() -> None:
    wire = bytes.fromhex("01000000") + V4_WIRE[:3] + b"\x14" + V4_WIRE[4:] + bytes(4)
    with pytest.raises(DecodeError, match="must be 16 octets"):
        TsiPayload.decode(wire)


def test_decode_rejects_selector_longer_than_payload() -> None:
    wire = bytes.fromhex("01000000") + V4_WIRE[:3] + b"\x20" + V4_WIRE[4:]
    with pytest.raises(DecodeError, match="length 32 is invalid"):
        TsiPayload.decode(wire)


def test_decode_rejects_body_shorter_than_fixed_part() -> None:
    with pytest.raises(DecodeError, match="needs 4 octets"):
        TsiPayload.decode(b"\x00\x00")


def test_encode_rejects_address_of_wrong_family() -> None:
    bad = TrafficSelector(
        TsType.TS_IPV6_ADDR_RANGE, 0, 0, 65535, V4.start_addr, V4.end_addr
    )
    with pytest.raises(ValueError, match="16-octet"):
        TsiPayload((bad,)).encode()
