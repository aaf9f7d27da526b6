# SPDX-License-Identifier: Apache-2.0
"""IKEv2 PRFs, prf+ and integrity MACs (``pqike_core::prf``).

PRF IDs: 2 HMAC-SHA1, 5/6/7 HMAC-SHA2-256/384/512. INTEG IDs: 2 HMAC-SHA1-96,
12 HMAC-SHA2-256-128, 13 HMAC-SHA2-384-192, 14 HMAC-SHA2-512-256.
Unknown IDs raise UnsupportedTransform (type 2 or 3).
"""

from pqike.crypto._args import BytesLike

__all__ = [
    "constant_time_eq",
    "hmac_verify",
    "integ_mac",
    "prf",
    "prf_plus",
]

def prf(prf_id: int, key: BytesLike, data: BytesLike) -> bytes:
    """``prf(key, data)``; HMAC takes keys of any length."""

def prf_plus(prf_id: int, key: BytesLike, seed: BytesLike, length: int) -> bytes:
    """The first ``length`` bytes of prf+(key, seed) (RFC 7296 §2.13).

    Raises:
        InvalidLength: ``length`` exceeds 255 PRF output blocks.
    """

def integ_mac(integ_id: int, key: BytesLike, data: BytesLike) -> bytes:
    """The truncated ICV (12/16/24/32 bytes).

    Raises:
        InvalidLength: the key is not the transform's key length (20/32/48/64).
    """

def hmac_verify(prf_id: int, key: BytesLike, data: BytesLike, tag: BytesLike) -> bool:
    """Constant-time check that ``tag`` is a prefix of prf(key, data).

    Tags of 10 bytes (80 bits, RFC 2104 §5) up to the full output are compared; a
    shorter or over-long tag is False.
    """

def constant_time_eq(a: BytesLike, b: BytesLike) -> bool:
    """Constant-time equality; different lengths compare unequal."""
