# SPDX-License-Identifier: Apache-2.0
"""Names of a negotiated suite, for events and the INFO log line."""

from __future__ import annotations

import functools
from enum import IntEnum
from types import MappingProxyType

from pqike._memo import IdentityMemo
from pqike.ikev2.constants import EncrId, IntegId, KeMethod, NotifyType, PrfId
from pqike.ikev2.events import SuiteInfo
from pqike.ikev2.negotiation import ADDKE_TYPES, ENCR, INTEG, KE, PRF, Selected

__all__ = ["encr_name", "ke_name", "notify_name", "suite_info"]


_NAMES: dict[type[IntEnum], dict[int, str]] = {}
"""Member names by value, per enum (``enum(value)`` is slow on a hot path)."""


def _names(enum: type[IntEnum]) -> dict[int, str]:
    names = _NAMES.get(enum)
    if names is None:
        names = _NAMES[enum] = {int(m): m.name for m in enum}
    return names


def _enum_name(enum: type[IntEnum], value: int, strip: str = "") -> str:
    name = _names(enum).get(value)
    if name is None:
        return f"{enum.__name__}_{value}"
    return name.removeprefix(strip)


def encr_name(encr_id: int, key_bits: int) -> str:
    """``AES_GCM_16_256`` style name of an ENCR transform."""
    base = _enum_name(EncrId, encr_id, "ENCR_")
    return f"{base}_{key_bits}" if key_bits else base


def ke_name(method: int) -> str:
    """IANA name of a key exchange method (``CURVE25519``, ``ML_KEM_768``)."""
    return _enum_name(KeMethod, method)


def notify_name(notify_type: int) -> str:
    """IANA name of a Notify type (``AUTHENTICATION_FAILED``), or its number."""
    return _names(NotifyType).get(notify_type) or str(notify_type)


def suite_info(suite: Selected) -> SuiteInfo:
    """The SuiteInfo of a negotiated IKE proposal."""
    chosen = suite.chosen
    if type(chosen) is not MappingProxyType:
        return _suite_info_of(suite)
    info = _BY_CHOICE.get(chosen)  # shared by every SA with this choice
    if info is None:
        info = _suite_info_of(suite)
        _BY_CHOICE.put(chosen, info)
    return info


_BY_CHOICE: IdentityMemo[SuiteInfo] = IdentityMemo()
"""SuiteInfo by the identity of a read-only ``chosen`` map (negotiation's memos
hand out one per distinct choice)."""


def _suite_info_of(suite: Selected) -> SuiteInfo:
    encr_id, bits = suite.chosen.get(ENCR, (0, 0))
    prf, integ, ke = suite.id_of(PRF), suite.id_of(INTEG), suite.id_of(KE)
    rounds = tuple(n for n, t in enumerate(ADDKE_TYPES, 1) if suite.id_of(t))
    return _suite_info((encr_id, bits, prf, integ, ke, *suite.addke), rounds)


@functools.lru_cache(maxsize=64)
def _suite_info(ids: tuple[int, ...], rounds: tuple[int, ...] = ()) -> SuiteInfo:
    """SuiteInfo by ``(encr_id, key_bits, prf, integ, ke, *addke)`` (it is frozen,
    so every SA with the same suite shares one)."""
    encr_id, bits, prf, integ, ke, *addke = ids
    return SuiteInfo(
        encryption=encr_name(encr_id, bits),
        prf=_enum_name(PrfId, prf),
        integrity=_enum_name(IntegId, integ),
        ke=ke_name(ke),
        addke=tuple(ke_name(m) for m in addke),
        ids=ids,
        addke_rounds=rounds,
    )
