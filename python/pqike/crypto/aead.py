# SPDX-License-Identifier: Apache-2.0
"""The IkeCipher protocol: SK payload protection for one direction of an IKE SA.

Encrypted payload layout (RFC 7296 §3.14, RFC 5282 §3, RFC 7634 §3)::

    IV | E(inner payloads | Padding | Pad Length) | ICV

For AEADs the nonce is ``salt(4) | IV(8)`` and the associated data is the IKE header
through the SK payload's generic header. For AES-CBC the ICV is the truncated HMAC over
``aad | IV | ciphertext``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pqike.crypto._args import BytesLike

__all__ = ["IkeCipher"]


@runtime_checkable
class IkeCipher(Protocol):
    """Seals and opens the body of SK (and SKF) payloads for one direction."""

    @property
    def encr_id(self) -> int:
        """The ENCR transform ID."""
        ...

    @property
    def integ_id(self) -> int:
        """The INTEG transform ID (0 for AEADs)."""
        ...

    @property
    def iv_length(self) -> int:
        """Octets of explicit IV: 8 for AEADs, 16 for AES-CBC."""
        ...

    @property
    def icv_length(self) -> int:
        """Octets of the ICV (AEAD tag or truncated HMAC)."""
        ...

    def sealed_length(self, plaintext_len: int) -> int:
        """Return ``len(iv | ciphertext incl. padding and pad length | icv)``."""
        ...

    def seal(self, aad: BytesLike, iv: BytesLike, plaintext: BytesLike) -> bytes:
        """Pad, encrypt and authenticate the inner payloads.

        Args:
            aad: IKE header .. SK generic header, with the final lengths.
            iv: ``iv_length`` octets, unique per key.
            plaintext: the inner payloads.

        Returns:
            ``iv | ciphertext | icv``.

        Raises:
            InvalidLength: ``iv`` has the wrong length.
        """
        ...

    def open(self, aad: BytesLike, body: BytesLike) -> bytes:
        """Verify and decrypt ``iv | ciphertext | icv``; return the inner payloads.

        Raises:
            AuthenticationError: the ICV did not verify, the body is too short, or the
                padding is inconsistent. No further detail, by design.
        """
        ...
