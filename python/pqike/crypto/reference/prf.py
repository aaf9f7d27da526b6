# SPDX-License-Identifier: Apache-2.0
"""HMAC PRFs, prf+ and INTEG MACs on hashlib/hmac (RFC 7296 §2.13, RFC 4868)."""

from __future__ import annotations

import hmac

from pqike.crypto import suites
from pqike.crypto._args import BytesLike, byteslike, transform_id
from pqike.crypto._args import length as length_arg
from pqike.errors import InvalidLength, UnsupportedTransform

__all__ = [
    "MIN_VERIFY_TAG_LENGTH",
    "constant_time_eq",
    "hmac_verify",
    "integ_mac",
    "prf",
    "prf_plus",
]

MIN_VERIFY_TAG_LENGTH = 10
"""Shortest tag ``hmac_verify`` accepts: 80 bits, RFC 2104 §5's lower bound for a
truncated HMAC (as ``pqike_core::prf::MIN_VERIFY_TAG_LEN``). The tag is usually the
peer's; a one-octet tag would verify once in 256 tries."""


def prf(prf_id: int, key: BytesLike, data: BytesLike) -> bytes:
    """Return ``HMAC-<hash>(key, data)`` for PRF ``prf_id``.

    Raises:
        UnsupportedTransform: unknown PRF ID.
    """
    prf_id = transform_id(prf_id, "prf_id", suites.PRF)
    key, data = byteslike(key, "key"), byteslike(data, "data")
    return hmac.digest(key, data, suites.prf_hash_name(prf_id))


def prf_plus(prf_id: int, key: BytesLike, seed: BytesLike, length: int) -> bytes:
    """Return ``length`` octets of ``prf+(key, seed)``.

    ``T1 = prf(K, S | 0x01)``, ``Ti = prf(K, T(i-1) | S | i)``; at most 255 blocks.

    Raises:
        InvalidLength: negative length or more than 255 blocks.
        UnsupportedTransform: unknown PRF ID.
    """
    prf_id = transform_id(prf_id, "prf_id", suites.PRF)
    key, seed = byteslike(key, "key"), byteslike(seed, "seed")
    length = length_arg(length, "length")
    name = suites.prf_hash_name(prf_id)
    block = suites.prf_output_length(prf_id)
    if length < 0 or length > 255 * block:
        raise InvalidLength(
            f"prf+ output is 0..{255 * block} octets for PRF {prf_id}, got {length}"
        )
    out = bytearray()
    t = b""
    counter = 1
    while len(out) < length:
        t = hmac.digest(key, t + seed + bytes((counter,)), name)
        out += t
        counter += 1
    return bytes(out[:length])


def integ_mac(integ_id: int, key: BytesLike, data: BytesLike) -> bytes:
    """Return the truncated HMAC ICV of INTEG ``integ_id`` (RFC 4868 §2.6).

    Raises:
        UnsupportedTransform: unknown INTEG ID or NONE (0).
        InvalidLength: a key of the wrong length.
    """
    integ_id = transform_id(integ_id, "integ_id", suites.INTEG)
    key, data = byteslike(key, "key"), byteslike(data, "data")
    name = suites.integ_hash_name(integ_id)
    if not name:
        raise UnsupportedTransform(suites.INTEG, integ_id, "INTEG NONE has no MAC")
    want = suites.integ_key_length(integ_id)
    if len(key) != want:
        raise InvalidLength(f"INTEG {integ_id} key is {want} octets, got {len(key)}")
    return hmac.digest(key, data, name)[: suites.integ_icv_length(integ_id)]


def hmac_verify(prf_id: int, key: BytesLike, data: BytesLike, tag: BytesLike) -> bool:
    """Compare ``tag`` with the same-length prefix of ``prf(key, data)``.

    A tag shorter than ``MIN_VERIFY_TAG_LENGTH`` (10) octets or longer than the PRF
    output never verifies.
    """
    prf_id = transform_id(prf_id, "prf_id", suites.PRF)
    key, data = byteslike(key, "key"), byteslike(data, "data")
    tag = byteslike(tag, "tag")
    full = prf(prf_id, key, data)
    if len(tag) < MIN_VERIFY_TAG_LENGTH or len(tag) > len(full):
        return False
    return hmac.compare_digest(full[: len(tag)], tag)


def constant_time_eq(a: BytesLike, b: BytesLike) -> bool:
    """Compare two byte strings in constant time (length is not secret)."""
    return hmac.compare_digest(byteslike(a, "a"), byteslike(b, "b"))
