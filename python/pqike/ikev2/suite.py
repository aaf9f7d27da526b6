# SPDX-License-Identifier: Apache-2.0
"""Names of a negotiated suite, for events and the INFO log line."""

from __future__ import annotations

from enum import IntEnum

from pqike.ikev2.constants import EncrId, IntegId, KeMethod, NotifyType, PrfId
from pqike.ikev2.events import SuiteInfo
from pqike.ikev2.negotiation import ENCR, INTEG, KE, PRF, Selected

__all__ = ["encr_name", "ke_name", "notify_name", "suite_info"]


def _enum_name(enum: type[IntEnum], value: int, strip: str = "") -> str:
    try:
        return enum(value).name.removeprefix(strip)
    except ValueError:
        return f"{enum.__name__}_{value}"


def encr_name(encr_id: int, key_bits: int) -> str:
    """``AES_GCM_16_256`` style name of an ENCR transform."""
    base = _enum_name(EncrId, encr_id, "ENCR_")
    return f"{base}_{key_bits}" if key_bits else base


def ke_name(method: int) -> str:
    """IANA name of a key exchange method (``CURVE25519``, ``ML_KEM_768``)."""
    return _enum_name(KeMethod, method)


def notify_name(notify_type: int) -> str:
    """IANA name of a Notify type (``AUTHENTICATION_FAILED``), or its number."""
    try:
        return NotifyType(notify_type).name
    except ValueError:
        return str(notify_type)


def suite_info(suite: Selected) -> SuiteInfo:
    """The SuiteInfo of a negotiated IKE proposal."""
    encr_id, bits = suite.chosen.get(ENCR, (0, 0))
    prf, integ, ke = suite.id_of(PRF), suite.id_of(INTEG), suite.id_of(KE)
    return SuiteInfo(
        encryption=encr_name(encr_id, bits),
        prf=_enum_name(PrfId, prf),
        integrity=_enum_name(IntegId, integ),
        ke=ke_name(ke),
        addke=tuple(ke_name(m) for m in suite.addke),
        ids=(encr_id, bits, prf, integ, ke, *suite.addke),
    )
