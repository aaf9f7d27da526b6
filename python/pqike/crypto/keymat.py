# SPDX-License-Identifier: Apache-2.0
"""The Keymat protocol: the secrets of one IKE SA generation, exposed as operations.

Key schedule (RFC 7296 §2.13-2.18, RFC 9370 §2.2.2/§2.2.4, RFC 9242 §3.3.2)::

    SKEYSEED    = prf(Ni | Nr, SK(0))
    SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr
                = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
    update      SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)
    IKE rekey   SKEYSEED = prf_old(SK_d, SK(0) | Ni | Nr | SK(1) | .. | SK(n))
    Child SA    KEYMAT = prf+(SK_d, [SK(0) |] Ni | Nr [| SK(1) | .. | SK(n)])
    IntAuth     prf(SK_pi or SK_pr, prev | A | P)

A Keymat is immutable: every update returns a new object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pqike.crypto._args import BytesLike
from pqike.crypto.aead import IkeCipher

__all__ = ["SECRET_NAMES", "Keymat"]

SECRET_NAMES = (
    "skeyseed",
    "sk_d",
    "sk_ai",
    "sk_ar",
    "sk_ei",
    "sk_er",
    "sk_pi",
    "sk_pr",
)
"""The keys of ``Keymat.export_secrets()``."""


@runtime_checkable
class Keymat(Protocol):
    """Opaque key material of one IKE SA generation."""

    @property
    def prf_id(self) -> int:
        """Negotiated PRF (IANA Transform Type 2 ID)."""
        ...

    @property
    def encr_id(self) -> int:
        """Negotiated ENCR (Transform Type 1 ID)."""
        ...

    @property
    def encr_key_bits(self) -> int:
        """Key Length attribute of the ENCR transform (0 for fixed-length ciphers)."""
        ...

    @property
    def integ_id(self) -> int:
        """Negotiated INTEG (Transform Type 3 ID); 0 with AEADs."""
        ...

    def update_after_ke(self, shared_secret: BytesLike) -> Keymat:
        """Return the keys after one more key exchange (RFC 9370 §2.2.2).

        ``SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)``; nonces and SPIs unchanged.
        """
        ...

    def rekey_ike(
        self,
        shared_secrets: Sequence[BytesLike],
        ni: BytesLike,
        nr: BytesLike,
        spi_i: BytesLike,
        spi_r: BytesLike,
        prf_id: int,
        encr_id: int,
        encr_key_bits: int,
        integ_id: int,
    ) -> Keymat:
        """Return the keys of the IKE SA that replaces this one (RFC 7296 §2.18).

        ``SKEYSEED = prf_old(SK_d, SK(0) | Ni | Nr | SK(1) ..)``; prf+ also uses the old
        PRF, as strongSwan does; key lengths follow the new suite.

        Raises:
            ValueError: no shared secret.
            InvalidLength: SPIs that are not 8 octets.
            UnsupportedTransform: an unknown ID in the new suite.
        """
        ...

    def child_keymat(
        self,
        length: int,
        ni: BytesLike,
        nr: BytesLike,
        shared_secrets: Sequence[BytesLike] = (),
    ) -> bytes:
        """Return ``length`` octets of Child SA KEYMAT (RFC 7296 §2.17, RFC 9370).

        Split as ``encr_i | integ_i | encr_r | integ_r``. An empty ``shared_secrets``
        means no PFS.
        """
        ...

    def cipher(self, sender_is_initiator: bool) -> IkeCipher:
        """Return the SK payload cipher keyed with SK_ei/SK_ai or SK_er/SK_ar."""
        ...

    def int_auth(
        self, sender_is_initiator: bool, prev: BytesLike, a: BytesLike, p: BytesLike
    ) -> bytes:
        """Return ``prf(SK_pi or SK_pr, prev | A | P)`` (RFC 9242 §3.3.2)."""
        ...

    def psk_auth(
        self,
        signer_is_initiator: bool,
        psk: BytesLike,
        real_message: BytesLike,
        peer_nonce: BytesLike,
        id_body: BytesLike,
        int_auth: BytesLike = b"",
    ) -> bytes:
        """Return the PSK AUTH value (RFC 7296 §2.15).

        ``prf(prf(PSK, "Key Pad for IKEv2"), signed_octets(...))``.
        """
        ...

    def signed_octets(
        self,
        signer_is_initiator: bool,
        real_message: BytesLike,
        peer_nonce: BytesLike,
        id_body: BytesLike,
        int_auth: BytesLike = b"",
    ) -> bytes:
        """Return ``RealMessage | peer nonce | prf(SK_p*, id_body) | IntAuth``."""
        ...

    def export_secrets(self) -> dict[str, bytes]:
        """Return every secret by name (``SECRET_NAMES``).

        Only for tests and the explicit keylog hook; never log the result.
        """
        ...
