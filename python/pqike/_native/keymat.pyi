# SPDX-License-Identifier: Apache-2.0
"""The IKEv2 key schedule (``pqike_core::keymat``).

RFC 7296 §2.14/§2.15/§2.17/§2.18, RFC 9370 §2.2.2/§2.2.4, RFC 9242 §3.3.2.
"""

from collections.abc import Sequence
from typing import final

from pqike._native.aead import IkeCipher
from pqike.crypto._args import BytesLike

__all__ = [
    "Keymat",
]

@final
class Keymat:
    """Secrets of one IKE SA generation; frozen, opaque, ``repr()`` shows transforms."""

    @staticmethod
    def derive(
        prf_id: int,
        encr_id: int,
        encr_key_bits: int,
        integ_id: int,
        shared_secret: BytesLike,
        ni: BytesLike,
        nr: BytesLike,
        spi_i: BytesLike,
        spi_r: BytesLike,
    ) -> Keymat:
        """SKEYSEED = prf(Ni | Nr, g^ir); SK_* = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).

        Raises UnsupportedTransform, InvalidLength (SPIs must be 8 octets).
        """

    def update_after_ke(self, shared_secret: BytesLike) -> Keymat:
        """RFC 9370: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr), same Ni/Nr/SPIs."""

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
        """SKEYSEED = prf_old(SK_d, SK(0) | Ni | Nr | SK(1) ..); prf+ uses prf_old too.

        Raises ValueError for an empty ``shared_secrets``.
        """

    def child_keymat(
        self,
        length: int,
        ni: BytesLike,
        nr: BytesLike,
        shared_secrets: Sequence[BytesLike] = ...,
    ) -> bytes:
        """prf+(SK_d, [SK(0) |] Ni | Nr [| SK(1) ..]); an empty list means no PFS."""

    def cipher(self, sender_is_initiator: bool) -> IkeCipher:
        """The SK cipher for the initiator's (SK_ei/SK_ai) or responder's messages."""

    def int_auth(
        self, sender_is_initiator: bool, prev: BytesLike, a: BytesLike, p: BytesLike
    ) -> bytes:
        """prf(SK_pi or SK_pr, prev | A | P) (RFC 9242 §3.3.2)."""

    def psk_auth(
        self,
        signer_is_initiator: bool,
        psk: BytesLike,
        real_message: BytesLike,
        peer_nonce: BytesLike,
        id_body: BytesLike,
        int_auth: BytesLike = b"",
    ) -> bytes:
        """prf(prf(PSK, "Key Pad for IKEv2"), signed octets) (RFC 7296 §2.15)."""

    def signed_octets(
        self,
        signer_is_initiator: bool,
        real_message: BytesLike,
        peer_nonce: BytesLike,
        id_body: BytesLike,
        int_auth: BytesLike = b"",
    ) -> bytes:
        """RealMessage | peer nonce | prf(SK_p*, id_body) | IntAuth."""

    @property
    def prf_id(self) -> int: ...
    @property
    def encr_id(self) -> int: ...
    @property
    def integ_id(self) -> int: ...
    @property
    def encr_key_bits(self) -> int: ...
    def export_secrets(self) -> dict[str, bytes]:
        """ONLY for tests and the explicit key log; never logged."""
