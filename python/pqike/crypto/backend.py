# SPDX-License-Identifier: Apache-2.0
"""The Backend protocol: everything the IKE engine needs from a crypto provider."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pqike.crypto._args import BytesLike
from pqike.crypto.aead import IkeCipher
from pqike.crypto.esp import EspSa
from pqike.crypto.kex import KeyExchange
from pqike.crypto.keymat import Keymat

__all__ = ["Backend", "TestingHooks"]


@runtime_checkable
class TestingHooks(Protocol):
    """Known-answer hooks on raw keys. Never used by the engine.

    A backend that cannot do an operation (e.g. pyca/cryptography has no deterministic
    ML-KEM encapsulation) raises ``UnsupportedTransform`` with the reason.
    """

    def mlkem_keygen(self, method: int, seed_dz: BytesLike) -> tuple[bytes, bytes]:
        """Return ``(ek, dk)`` from the 64-octet seed ``d || z`` (FIPS 203 §7.1)."""
        ...

    def mlkem_public_key(self, method: int, seed_dz: BytesLike) -> bytes:
        """Return the encapsulation key derived from ``d || z``."""
        ...

    def mlkem_encaps(
        self, method: int, ek: BytesLike, m: BytesLike
    ) -> tuple[bytes, bytes]:
        """Return ``(ct, K)`` for the 32-octet randomness ``m`` (FIPS 203 §6.2).

        Raises:
            InvalidKeyExchangeData: ``ek`` fails the FIPS 203 §7.2 checks.
        """
        ...

    def mlkem_decaps(self, method: int, dk: BytesLike, ct: BytesLike) -> bytes:
        """Return ``K`` for an expanded decapsulation key (FIPS 203 §7.3)."""
        ...

    def mlkem_decaps_seed(
        self, method: int, seed_dz: BytesLike, ct: BytesLike
    ) -> bytes:
        """Return ``K`` for the key pair derived from ``d || z``."""
        ...

    def x25519(self, private: BytesLike, public: BytesLike) -> bytes:
        """Return X25519(private, public), rejecting an all-zero result."""
        ...

    def x448(self, private: BytesLike, public: BytesLike) -> bytes:
        """Return X448(private, public), rejecting an all-zero result."""
        ...

    def ecdh(
        self, method: int, private_scalar: BytesLike, peer_public_xy: BytesLike
    ) -> bytes:
        """Return the x coordinate of ``private_scalar * peer`` on ECP ``method``."""
        ...


@runtime_checkable
class Backend(Protocol):
    """A crypto provider. ``pqike.crypto.get_backend`` returns one."""

    @property
    def name(self) -> str:
        """``"rust"`` or ``"reference"``."""
        ...

    @property
    def testing(self) -> TestingHooks:
        """Known-answer hooks for tests."""
        ...

    def supports(self, transform_type: int, transform_id: int) -> bool:
        """Return True if this backend implements the transform."""
        ...

    def why_unsupported(self, transform_type: int, transform_id: int) -> str | None:
        """Return why this backend cannot use the transform, or None if it can.

        For example ``"reference backend: pyca/cryptography has no mlkem512"``;
        configurations name it when a proposal needs such a transform.
        """
        ...

    def key_exchange(self, method: int, seed: BytesLike | None = None) -> KeyExchange:
        """Return a fresh KeyExchange for a DH group or ML-KEM parameter set.

        Args:
            method: IANA KE method ID.
            seed: None for OS randomness; otherwise >= 32 octets from which all the
                object's randomness is expanded (replayable tests).

        Raises:
            UnsupportedTransform: unknown or unimplemented method.
            InvalidLength: a seed shorter than 32 octets.
        """
        ...

    def prf(self, prf_id: int, key: BytesLike, data: BytesLike) -> bytes:
        """Return ``prf(key, data)`` (HMAC, RFC 7296 §2.13)."""
        ...

    def prf_plus(
        self, prf_id: int, key: BytesLike, seed: BytesLike, length: int
    ) -> bytes:
        """Return ``length`` octets of ``prf+(key, seed)`` (RFC 7296 §2.13).

        Raises:
            InvalidLength: more than 255 PRF blocks requested, or a negative length.
        """
        ...

    def integ_mac(self, integ_id: int, key: BytesLike, data: BytesLike) -> bytes:
        """Return the truncated ICV of an INTEG transform."""
        ...

    def hmac_verify(
        self, prf_id: int, key: BytesLike, data: BytesLike, tag: BytesLike
    ) -> bool:
        """Compare ``tag`` with a prefix of ``HMAC(key, data)`` in constant time.

        Tags of 10 octets (80 bits, RFC 2104 §5) up to the full PRF output are
        compared; a shorter or longer one never verifies.
        """
        ...

    def constant_time_eq(self, a: BytesLike, b: BytesLike) -> bool:
        """Compare two byte strings without data-dependent timing."""
        ...

    def keymat_derive(
        self,
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
        """Derive SKEYSEED and SK_* after IKE_SA_INIT (RFC 7296 §2.14).

        Raises:
            UnsupportedTransform: unknown ID or an AEAD/INTEG combination not allowed.
            InvalidLength: SPIs that are not 8 octets.
        """
        ...

    def ike_cipher(
        self,
        encr_id: int,
        key_bits: int,
        integ_id: int,
        encr_key: BytesLike,
        integ_key: BytesLike = b"",
    ) -> IkeCipher:
        """Return an SK payload cipher; ``encr_key`` includes the salt for AEADs.

        Raises:
            UnsupportedTransform: unknown ID or combination.
            InvalidLength: a key of the wrong length.
        """
        ...

    def esp_sa(
        self,
        spi: int,
        encr_id: int,
        key: BytesLike,
        *,
        esn: bool = False,
        replay_window: int = 64,
        initial_seq: int = 1,
    ) -> EspSa:
        """Return one direction of an ESP SA (AES-GCM-16 20 or ChaCha20-Poly1305 28).

        Raises:
            UnsupportedTransform: another ENCR ID.
            InvalidLength: a key of the wrong length.
            ValueError: replay_window not 0 or 32..8192, or a bad initial_seq.
        """
        ...

    def aead_seal(
        self,
        encr_id: int,
        key: BytesLike,
        nonce: BytesLike,
        aad: BytesLike,
        plaintext: BytesLike,
    ) -> bytes:
        """Raw AEAD: key without salt, 12-octet nonce; return ``ct | tag``.

        Raises:
            InvalidLength: key or nonce of the wrong length.
            UnsupportedTransform: not an AEAD ENCR ID.
        """
        ...

    def aead_open(
        self,
        encr_id: int,
        key: BytesLike,
        nonce: BytesLike,
        aad: BytesLike,
        ct_and_tag: BytesLike,
    ) -> bytes:
        """Raw AEAD decryption of ``ct | tag``.

        Raises:
            AuthenticationError: the tag did not verify.
            InvalidLength: key or nonce of the wrong length.
        """
        ...
