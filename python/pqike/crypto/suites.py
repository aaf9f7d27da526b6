# SPDX-License-Identifier: Apache-2.0
"""Key lengths, ICV lengths and data sizes of every transform pqike knows, by IANA ID.

The tables follow the IKEv2 registries: Transform Type 1 (ENCR), 2 (PRF), 3 (INTEG)
and 4 (Key Exchange Method, the same ID space as the ADDKE types 6..12). Lengths are in
octets. RFC 7296 §2.14 fixes the sizes of the SK_* keys: SK_d/SK_pi/SK_pr use the PRF's
preferred key length, SK_ai/SK_ar the integrity key length, SK_ei/SK_er the cipher key
plus, for AES-GCM (RFC 5282) and ChaCha20-Poly1305 (RFC 7634), a 4-octet salt.

IDs and key sizes follow the argument rules of docs/contracts.md §2: an ``int`` or an
object with ``__index__`` (an IntEnum), never a ``bool`` or a ``float`` (TypeError), so
that ``encr_key_length(20, 256.0)`` is not 36.0 and ``integ_key_length(False)`` is not
INTEG NONE's 0.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Final

from pqike.crypto._args import integer
from pqike.errors import UnsupportedTransform

__all__ = [
    "ADDKE_TYPES",
    "ENCR",
    "ESN",
    "INTEG",
    "KE",
    "KE_METHODS",
    "PRF",
    "KeMethodInfo",
    "encr_block_length",
    "encr_icv_length",
    "encr_iv_length",
    "encr_key_length",
    "integ_hash_name",
    "integ_icv_length",
    "integ_key_length",
    "is_aead",
    "ke_method",
    "prf_hash_name",
    "prf_key_length",
    "prf_output_length",
    "supports",
    "why_unsupported",
]

ENCR: Final = 1
"""Transform Type 1, encryption algorithm."""
PRF: Final = 2
"""Transform Type 2, pseudorandom function."""
INTEG: Final = 3
"""Transform Type 3, integrity algorithm."""
KE: Final = 4
"""Transform Type 4, key exchange method."""
ESN: Final = 5
"""Transform Type 5, extended sequence numbers."""
ADDKE_TYPES: Final = frozenset(range(6, 13))
"""Transform Types 6..12, Additional Key Exchange 1..7 (RFC 9370 §2.2.1)."""

# ENCR id -> (allowed key bits, salt octets, ICV octets, explicit IV octets, block)
# key bits () means a fixed key length given in _ENCR_FIXED_BITS.
_ENCR: Final[dict[int, tuple[tuple[int, ...], int, int, int, int]]] = {
    12: ((128, 192, 256), 0, 0, 16, 16),  # ENCR_AES_CBC, RFC 3602 / RFC 7296
    18: ((128, 192, 256), 4, 8, 8, 1),  # ENCR_AES_GCM_8, RFC 5282
    19: ((128, 192, 256), 4, 12, 8, 1),  # ENCR_AES_GCM_12
    20: ((128, 192, 256), 4, 16, 8, 1),  # ENCR_AES_GCM_16
    28: ((256,), 4, 16, 8, 1),  # ENCR_CHACHA20_POLY1305, RFC 7634
}
_AEAD: Final = frozenset({18, 19, 20, 28})
_FIXED_KEY: Final = frozenset({28})

# PRF id -> (hashlib name, key length = output length)
# LIMITATION: HMAC PRFs only; AES-XCBC (4) and AES-CMAC (8) are not implemented.
_PRF: Final[dict[int, tuple[str, int]]] = {
    2: ("sha1", 20),  # PRF_HMAC_SHA1
    5: ("sha256", 32),  # PRF_HMAC_SHA2_256
    6: ("sha384", 48),  # PRF_HMAC_SHA2_384
    7: ("sha512", 64),  # PRF_HMAC_SHA2_512
}

# INTEG id -> (hashlib name or "", key length, ICV length)
_INTEG: Final[dict[int, tuple[str, int, int]]] = {
    0: ("", 0, 0),  # NONE (with AEADs)
    2: ("sha1", 20, 12),  # AUTH_HMAC_SHA1_96
    12: ("sha256", 32, 16),  # AUTH_HMAC_SHA2_256_128
    13: ("sha384", 48, 24),  # AUTH_HMAC_SHA2_384_192
    14: ("sha512", 64, 32),  # AUTH_HMAC_SHA2_512_256
}


@dataclass(frozen=True)
class KeMethodInfo:
    """Sizes of one key exchange method's wire data.

    Attributes:
        method: IANA KE method ID.
        name: strongSwan-style name (``x25519``, ``mlkem768``, ``ecp256``).
        initiator_length: octets of the initiator's KE data (DH public or ML-KEM ek).
        responder_length: octets of the responder's KE data (DH public or ML-KEM ct).
        shared_secret_length: octets of the shared secret.
        is_kem: True for ML-KEM methods.
    """

    method: int
    name: str
    initiator_length: int
    responder_length: int
    shared_secret_length: int
    is_kem: bool


KE_METHODS: Final[dict[int, KeMethodInfo]] = {
    m.method: m
    for m in (
        KeMethodInfo(19, "ecp256", 64, 64, 32, False),  # RFC 5903
        KeMethodInfo(20, "ecp384", 96, 96, 48, False),
        KeMethodInfo(21, "ecp521", 132, 132, 66, False),
        KeMethodInfo(31, "x25519", 32, 32, 32, False),  # RFC 8031
        KeMethodInfo(32, "x448", 56, 56, 56, False),
        KeMethodInfo(
            35, "mlkem512", 800, 768, 32, True
        ),  # draft-ietf-ipsecme-ikev2-mlkem
        KeMethodInfo(36, "mlkem768", 1184, 1088, 32, True),
        KeMethodInfo(37, "mlkem1024", 1568, 1568, 32, True),
    )
}
"""Every key exchange method pqike implements, by IANA ID."""


def _encr(encr_id: int) -> tuple[tuple[int, ...], int, int, int, int]:
    encr_id = integer(encr_id, "encr_id")
    try:
        return _ENCR[encr_id]
    except KeyError:
        raise UnsupportedTransform(ENCR, encr_id) from None


def is_aead(encr_id: int) -> bool:
    """Return True if ``encr_id`` is a combined-mode cipher (no INTEG transform).

    Raises:
        UnsupportedTransform: unknown ENCR ID.
    """
    _encr(encr_id)
    return integer(encr_id, "encr_id") in _AEAD


def encr_key_length(encr_id: int, key_bits: int) -> int:
    """Return the octets of SK_e / ESP key material, including any salt.

    Args:
        encr_id: IANA ENCR ID.
        key_bits: the Key Length attribute; 0 (or the fixed size) for ChaCha20-Poly1305.

    Raises:
        UnsupportedTransform: unknown ENCR ID or a key length it does not allow.
    """
    bits, salt, _icv, _iv, _block = _encr(encr_id)
    encr_id = integer(encr_id, "encr_id")
    key_bits = integer(key_bits, "key_bits")
    allowed = (0, *bits) if encr_id in _FIXED_KEY else bits
    if key_bits not in allowed:
        # The same text as the Rust backend's (rust/pqike-py/src/aead.rs).
        choices = ", ".join(map(str, allowed[:-1]))
        choices = f"{choices} or {allowed[-1]}" if choices else str(allowed[-1])
        raise UnsupportedTransform(
            ENCR,
            encr_id,
            f"ENCR {encr_id} does not allow a {key_bits}-bit key "
            f"(Key Length {choices})",
        )
    return (key_bits or bits[0]) // 8 + salt


def encr_icv_length(encr_id: int) -> int:
    """Return the ICV octets an AEAD appends (0 for non-AEAD ciphers)."""
    return _encr(encr_id)[2]


def encr_iv_length(encr_id: int) -> int:
    """Return the explicit IV octets carried in each SK payload or ESP packet."""
    return _encr(encr_id)[3]


def encr_block_length(encr_id: int) -> int:
    """Return the padding block size (16 for AES-CBC, 1 for AEADs)."""
    return _encr(encr_id)[4]


def _prf(prf_id: int) -> tuple[str, int]:
    prf_id = integer(prf_id, "prf_id")
    try:
        return _PRF[prf_id]
    except KeyError:
        raise UnsupportedTransform(PRF, prf_id) from None


def prf_key_length(prf_id: int) -> int:
    """Return the preferred key length of a PRF (the length of SK_d, SK_pi, SK_pr).

    Raises:
        UnsupportedTransform: unknown PRF ID.
    """
    return _prf(prf_id)[1]


def prf_output_length(prf_id: int) -> int:
    """Return the output length of a PRF in octets."""
    return _prf(prf_id)[1]


def prf_hash_name(prf_id: int) -> str:
    """Return the hashlib name of the hash under an HMAC PRF (``"sha384"``)."""
    return _prf(prf_id)[0]


def _integ(integ_id: int) -> tuple[str, int, int]:
    integ_id = integer(integ_id, "integ_id")
    try:
        return _INTEG[integ_id]
    except KeyError:
        raise UnsupportedTransform(INTEG, integ_id) from None


def integ_key_length(integ_id: int) -> int:
    """Return the key length of an integrity algorithm (SK_ai / SK_ar); 0 for NONE.

    Raises:
        UnsupportedTransform: unknown INTEG ID.
    """
    return _integ(integ_id)[1]


def integ_icv_length(integ_id: int) -> int:
    """Return the truncated ICV length of an integrity algorithm; 0 for NONE.

    Raises:
        UnsupportedTransform: unknown INTEG ID.
    """
    return _integ(integ_id)[2]


def integ_hash_name(integ_id: int) -> str:
    """Return the hashlib name of the hash under an HMAC integrity algorithm."""
    return _integ(integ_id)[0]


def ke_method(method: int) -> KeMethodInfo:
    """Return the sizes of a key exchange method.

    Raises:
        UnsupportedTransform: unknown KE method ID (reported as Transform Type 4).
    """
    method = integer(method, "method")
    try:
        return KE_METHODS[method]
    except KeyError:
        raise UnsupportedTransform(KE, method) from None


def supports(transform_type: int, transform_id: int) -> bool:
    """Return True if pqike knows the transform (independent of any backend).

    Args:
        transform_type: 1 ENCR, 2 PRF, 3 INTEG, 4 KE, 5 ESN, 6..12 ADDKE1..7.
        transform_id: the IANA ID within that type.

    Raises:
        TypeError: a type or ID that is a bool or no integer (docs/contracts.md §2).
    """
    transform_type = integer(transform_type, "transform_type")
    transform_id = integer(transform_id, "transform_id")
    if transform_type == ENCR:
        return transform_id in _ENCR
    if transform_type == PRF:
        return transform_id in _PRF
    if transform_type == INTEG:
        return transform_id in _INTEG
    if transform_type == KE or transform_type in ADDKE_TYPES:
        # ID 0 (NONE) makes an additional key exchange optional (RFC 9370 §2.2.1).
        return transform_id in KE_METHODS or (
            transform_type in ADDKE_TYPES and transform_id == 0
        )
    if transform_type == ESN:
        return transform_id in (0, 1)
    return False


def why_unsupported(
    transform_type: int,
    transform_id: int,
    ke_methods: Container[int] | None = None,
    ke_gap: str = "",
) -> str | None:
    """Return why a transform cannot be used, or None if it can.

    Without ``ke_methods`` this is :func:`supports` with a reason. A backend passes the
    KE methods it implements and ``ke_gap``, the reason for the others, with
    ``{name}`` standing for the method's keyword (``mlkem512``).

    Raises:
        TypeError: a type or ID that is a bool or no integer.
    """
    transform_type = integer(transform_type, "transform_type")
    transform_id = integer(transform_id, "transform_id")
    if not supports(transform_type, transform_id):
        return (
            f"pqike does not implement transform type {transform_type} "
            f"id {transform_id}"
        )
    is_ke = transform_type == KE or transform_type in ADDKE_TYPES
    if is_ke and transform_id != 0 and ke_methods is not None:
        return (
            None
            if transform_id in ke_methods
            else ke_gap.format(name=ke_method(transform_id).name)
        )
    return None
