# SPDX-License-Identifier: Apache-2.0
"""Known-answer hooks (``pqike_core::kex::kat``): caller-chosen keys and randomness.

Never used by the protocol engine. Rejections raise the same errors as
``KeyExchange.set_peer_public`` (InvalidKeyExchangeData), bad key or randomness
sizes raise InvalidLength, and a method of the wrong kind raises ValueError.
"""

from pqike.crypto._args import BytesLike

__all__ = [
    "ecdh",
    "mlkem_decaps",
    "mlkem_encaps",
    "mlkem_keygen",
    "x448",
    "x25519",
]

def mlkem_keygen(method: int, seed_dz: BytesLike) -> tuple[bytes, bytes]:
    """``(ek, dk)`` from the 64-byte ``d || z``; dk in the FIPS 203 expanded form."""

def mlkem_encaps(method: int, ek: BytesLike, m: BytesLike) -> tuple[bytes, bytes]:
    """``(ct, K)`` for the 32-byte randomness ``m``, after the FIPS 203 §7.2 checks."""

def mlkem_decaps(method: int, dk: BytesLike, ct: BytesLike) -> bytes:
    """``K``; dk is the 64-byte seed ``d || z`` or the (validated) expanded form.

    Raises:
        InvalidLength: dk of neither length.
        ValueError: an expanded dk whose embedded ek or H(ek) is wrong.
        InvalidKeyExchangeData: a ciphertext of the wrong length (§7.3).
    """

def x25519(private: BytesLike, public: BytesLike) -> bytes:
    """X25519 (RFC 7748 §5) with the all-zero-result check."""

def x448(private: BytesLike, public: BytesLike) -> bytes:
    """X448 (RFC 7748 §5) with the low-order and all-zero-result checks."""

def ecdh(method: int, private_scalar: BytesLike, peer_public_xy: BytesLike) -> bytes:
    """ECDH on group 19/20/21; big-endian scalar of the field size, peer ``x || y``.

    Returns the x coordinate of the product (32/48/66 bytes).
    """
