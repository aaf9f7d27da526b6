# SPDX-License-Identifier: Apache-2.0
"""The KeyExchange protocol: one interface for Diffie-Hellman groups and ML-KEM.

Order of calls (draft-ietf-ipsecme-ikev2-mlkem §2, RFC 7296 §1.2):

1. initiator ``public_key()`` -> DH public value, or the ML-KEM encapsulation key;
2. responder ``set_peer_public(data)`` -> DH agreement, or ML-KEM encapsulation
   (FIPS 203 §7.2 type and modulus checks first); its ``public_key()`` then returns the
   DH public value or the ML-KEM ciphertext;
3. initiator ``set_peer_public(data)`` -> DH agreement, or ML-KEM decapsulation
   (FIPS 203 §7.3 ciphertext length check first, implicit rejection after);
4. both ``shared_secret()``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pqike.crypto._args import BytesLike

__all__ = ["KeyExchange"]


@runtime_checkable
class KeyExchange(Protocol):
    """One side of one key exchange (a DH group or an ML-KEM parameter set).

    Objects are single-use. Their ``repr`` shows the method and role, never keys.
    """

    @property
    def method(self) -> int:
        """The IANA KE method ID (Transform Type 4 ID space)."""
        ...

    @property
    def role(self) -> str | None:
        """``"initiator"`` or ``"responder"`` once an ML-KEM role is fixed, else None.

        The first call decides: ``public_key()`` makes an initiator,
        ``set_peer_public()`` a responder. DH objects have no role (always None).
        """
        ...

    def public_key(self) -> bytes:
        """Return this side's KE data.

        Returns:
            Initiator: the DH public value (X25519 32, X448 56, ECP ``x || y``
            64/96/132 octets) or the ML-KEM encapsulation key. Responder after
            ``set_peer_public``: the DH public value or the ML-KEM ciphertext.

        Raises:
            ValueError: called on an ML-KEM responder before ``set_peer_public``.
        """
        ...

    def set_peer_public(self, data: BytesLike) -> None:
        """Process the peer's KE data and compute the shared secret.

        Raises:
            InvalidKeyExchangeData: wrong length, point not on the curve, all-zero DH
                result, ML-KEM ek failing the modulus check, or a ciphertext of the
                wrong length. The message names method, reason and lengths only.
            ValueError: called twice.
        """
        ...

    def shared_secret(self) -> bytes:
        """Return the shared secret (``g^ir`` or the ML-KEM ``K``).

        Raises:
            ValueError: ``set_peer_public`` has not succeeded yet.
        """
        ...
