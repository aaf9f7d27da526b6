# SPDX-License-Identifier: Apache-2.0
"""IANA values in pqike.ikev2.constants against SPEC §2.1, §4.1-§4.3, §4.9."""

from __future__ import annotations

import pytest

from pqike.ikev2 import constants as c


def test_exchange_types_include_rfc9242_and_rfc9370() -> None:
    assert c.ExchangeType.IKE_SA_INIT.value == 34
    assert c.ExchangeType.INFORMATIONAL.value == 37
    assert c.ExchangeType.IKE_INTERMEDIATE.value == 43
    assert c.ExchangeType.IKE_FOLLOWUP_KE.value == 44


def test_payload_types_cover_rfc7296_and_skf() -> None:
    assert [int(t) for t in c.PayloadType][1:] == [*range(33, 50), 53]
    assert c.PayloadType.SK.value == 46
    assert c.PayloadType.SKF.value == 53


def test_transform_types_number_addke_as_5_plus_n() -> None:
    assert c.TransformType.KE.value == 4
    assert c.TransformType.ESN.value == 5
    for n in range(1, 8):
        assert c.addke_transform_type(n) == 5 + n
        assert c.addke_transform_type(n).name == f"ADDKE{n}"


@pytest.mark.parametrize("n", [0, 8])
def test_addke_transform_type_rejects_out_of_range(n: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.7"):
        c.addke_transform_type(n)


def test_ke_methods_include_none_curves_and_mlkem() -> None:
    assert c.KeMethod.NONE.value == 0
    assert c.KeMethod.ECP_256.value == 19
    assert (c.KeMethod.CURVE25519, c.KeMethod.CURVE448) == (31, 32)
    assert (c.KeMethod.ML_KEM_512, c.KeMethod.ML_KEM_768, c.KeMethod.ML_KEM_1024) == (
        35,
        36,
        37,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("UNSUPPORTED_CRITICAL_PAYLOAD", 1),
        ("INVALID_SYNTAX", 7),
        ("INVALID_KE_PAYLOAD", 17),
        ("STATE_NOT_FOUND", 47),
        ("COOKIE", 16390),
        ("IKEV2_FRAGMENTATION_SUPPORTED", 16430),
        ("INTERMEDIATE_EXCHANGE_SUPPORTED", 16438),
        ("ADDITIONAL_KEY_EXCHANGE", 16441),
    ],
)
def test_notify_types_match_spec(name: str, value: int) -> None:
    assert c.NotifyType[name] == value


def test_header_flags_and_fixed_sizes() -> None:
    assert (c.HeaderFlag.INITIATOR, c.HeaderFlag.VERSION, c.HeaderFlag.RESPONSE) == (
        8,
        16,
        32,
    )
    assert c.IKE_HEADER_LENGTH == 28
    assert c.KEY_LENGTH_ATTRIBUTE == 14
    assert bytes(4) == c.NON_ESP_MARKER


def test_draft_revision_is_recorded_once() -> None:
    assert c.MLKEM_DRAFT == "draft-ietf-ipsecme-ikev2-mlkem-09"
