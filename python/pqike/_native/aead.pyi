# SPDX-License-Identifier: Apache-2.0
"""IKE SK payload protection and raw AEADs (``pqike_core::aead``).

ENCR 12 AES-CBC with INTEG 2/12/13/14 (RFC 7296 §3.14, encrypt-then-MAC over
``aad | iv | ciphertext``), 18/19/20 AES-GCM with 8/12/16-octet ICVs (RFC 5282),
28 ChaCha20-Poly1305 (RFC 7634). IKE and ESP only use 96-bit AEAD nonces
(``salt(4) | IV(8)``); other nonce sizes raise InvalidLength.
"""

from typing import final

from pqike.crypto._args import BytesLike

__all__ = [
    "IkeCipher",
    "aead_open",
    "aead_seal",
]

@final
class IkeCipher:
    """One direction of SK payload protection; ``repr()`` shows the transforms only."""

    def __new__(
        cls,
        encr_id: int,
        key_bits: int,
        integ_id: int,
        encr_key: BytesLike,
        integ_key: BytesLike = b"",
    ) -> IkeCipher:
        """Key one direction.

        Args:
            encr_id: 12, 18, 19, 20 or 28.
            key_bits: Key Length attribute (128/192/256; 0 or 256 for
                ChaCha20-Poly1305).
            integ_id: 0 for the AEADs; 2, 12, 13 or 14 for AES-CBC.
            encr_key: SK_ei/SK_er; for the AEADs the key followed by the 4-octet salt.
            integ_key: SK_ai/SK_ar; empty for the AEADs.

        Raises:
            UnsupportedTransform: unknown ENCR/INTEG ID, key size or combination.
            InvalidLength: a key of the wrong length.
        """

    @property
    def iv_length(self) -> int:
        """8 for the AEADs, 16 for AES-CBC."""

    @property
    def icv_length(self) -> int:
        """ICV length in octets."""

    @property
    def encr_id(self) -> int:
        """ENCR transform ID."""

    @property
    def integ_id(self) -> int:
        """INTEG transform ID (0 for the AEADs)."""

    def sealed_length(self, plaintext_len: int) -> int:
        """``len(iv | ciphertext | icv)``; the ciphertext includes the padding."""

    def seal(self, aad: BytesLike, iv: BytesLike, plaintext: BytesLike) -> bytes:
        """Return ``iv | E(plaintext | padding | pad length) | icv``.

        ``aad`` is the IKE header through the SK generic header with final lengths;
        ``iv`` must never repeat under one key. Raises InvalidLength for a bad IV
        length.
        """

    def open(self, aad: BytesLike, body: BytesLike) -> bytes:
        """Verify and decrypt ``iv | ciphertext | icv``; return the inner payloads.

        Raises AuthenticationError for a bad ICV, a short body or impossible padding.
        """

def aead_seal(
    encr_id: int, key: BytesLike, nonce: BytesLike, aad: BytesLike, plaintext: BytesLike
) -> bytes:
    """Raw AEAD (key without salt, 12-octet nonce) -> ``ciphertext | tag``. For KATs."""

def aead_open(
    encr_id: int,
    key: BytesLike,
    nonce: BytesLike,
    aad: BytesLike,
    ct_and_tag: BytesLike,
) -> bytes:
    """Raw AEAD open of ``ciphertext | tag``. Raises AuthenticationError. For KATs."""
