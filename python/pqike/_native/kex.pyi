# SPDX-License-Identifier: Apache-2.0
"""Key exchange methods by IANA Transform Type 4 ID (``pqike_core::kex``).

19/20/21 ECP-256/384/521 (RFC 5903, KE data ``x || y``), 31 X25519 and 32 X448
(RFC 8031), 35/36/37 ML-KEM-512/768/1024 (FIPS 203, draft-ietf-ipsecme-ikev2-mlkem).
"""

from pqike.crypto._args import BytesLike

__all__ = [
    "SUPPORTED_METHODS",
    "KeyExchange",
]

from typing import Final, final

SUPPORTED_METHODS: Final[tuple[int, ...]]

@final
class KeyExchange:
    """One side of one key exchange, DH group or ML-KEM alike.

    Order: initiator ``public_key()``; responder ``set_peer_public(ke_i)`` then
    ``public_key()``; initiator ``set_peer_public(ke_r)``; both ``shared_secret()``.
    A KEM object becomes the initiator when ``public_key()`` comes first and the
    responder when ``set_peer_public()`` does. ``repr()`` shows method and role only.
    """

    def __new__(cls, method: int, seed: BytesLike | None = None) -> KeyExchange:
        """Create one side of an exchange.

        Args:
            method: IANA KE method ID.
            seed: None for OS randomness; otherwise at least 32 bytes from which all
                randomness (keygen, ML-KEM encapsulation m) is expanded with SHAKE-256
                under a per-purpose label and the method ID. Tests only.

        Raises:
            UnsupportedTransform: unknown method (transform type 4).
            InvalidLength: seed shorter than 32 bytes.
        """

    @property
    def method(self) -> int:
        """The IANA KE method ID."""

    @property
    def role(self) -> str | None:
        """``"initiator"`` or ``"responder"`` once a KEM role is fixed, else None."""

    def public_key(self) -> bytes:
        """This side's KE data.

        DH: the public value (X25519 32, X448 56, ECP ``x || y`` 64/96/132 bytes).
        ML-KEM: the encapsulation key (800/1184/1568) on a fresh object, which makes
        it the initiator; the ciphertext (768/1088/1568) on a responder.
        """

    def set_peer_public(self, data: BytesLike) -> None:
        """Process the peer's KE data and compute the shared secret.

        Raises:
            InvalidKeyExchangeData: wrong length, point not on the curve, all-zero DH
                result, an ek failing the FIPS 203 §7.2 modulus check, or a ciphertext
                of the wrong length (§7.3). The object is unchanged.
            ValueError: the peer's data was already processed.
        """

    def shared_secret(self) -> bytes:
        """The shared secret (``g^ir``, or ML-KEM's 32-byte K).

        Raises:
            ValueError: ``set_peer_public`` has not succeeded yet.
        """
