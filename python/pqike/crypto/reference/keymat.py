# SPDX-License-Identifier: Apache-2.0
"""The IKEv2 key schedule in pure Python (see ``pqike.crypto.keymat`` for formulas)."""

from __future__ import annotations

from collections.abc import Sequence

from pqike.crypto import suites
from pqike.crypto._args import (
    BytesLike,
    byteslike,
    byteslike_list,
    check_flag,
    integer,
    transform_id,
)
from pqike.crypto._args import length as length_arg
from pqike.errors import InvalidLength, UnsupportedTransform

from ._nocopy import NoCopy
from .aead import ReferenceIkeCipher
from .prf import prf, prf_plus

__all__ = ["ReferenceKeymat"]

_KEY_PAD = b"Key Pad for IKEv2"  # RFC 7296 §2.15, 17 octets, no NUL


def _check_suite(prf_id: int, encr_id: int, encr_key_bits: int, integ_id: int) -> None:
    # In the Rust core's order (and ike_cipher's): whether an INTEG transform goes with
    # the ENCR is told before whether that INTEG ID is known, so both backends word it
    # the same.
    suites.prf_key_length(prf_id)
    suites.encr_key_length(encr_id, encr_key_bits)
    aead = suites.is_aead(encr_id)
    if aead and integ_id != 0:
        raise UnsupportedTransform(
            suites.INTEG, integ_id, "an AEAD ENCR takes no INTEG transform"
        )
    if not aead and integ_id == 0:
        raise UnsupportedTransform(
            suites.INTEG, integ_id, f"ENCR {encr_id} needs an INTEG transform"
        )
    suites.integ_key_length(integ_id)


def _check_spis(spi_i: bytes, spi_r: bytes) -> None:
    if len(spi_i) != 8 or len(spi_r) != 8:
        raise InvalidLength(
            f"IKE SPIs are 8 octets each, got {len(spi_i)} and {len(spi_r)}"
        )


class ReferenceKeymat(NoCopy):
    """Secrets of one IKE SA generation (see ``pqike.crypto.keymat.Keymat``)."""

    __slots__ = (
        "_encr_id",
        "_encr_key_bits",
        "_integ_id",
        "_keys",
        "_ni",
        "_nr",
        "_prf_id",
        "_spi_i",
        "_spi_r",
    )

    def __init__(
        self,
        prf_id: int,
        encr_id: int,
        encr_key_bits: int,
        integ_id: int,
        skeyseed: bytes,
        prf_plus_id: int,
        ni: bytes,
        nr: bytes,
        spi_i: bytes,
        spi_r: bytes,
    ) -> None:
        """Expand SKEYSEED into SK_*; use ``derive`` rather than this."""
        _check_suite(prf_id, encr_id, encr_key_bits, integ_id)
        _check_spis(spi_i, spi_r)
        p = suites.prf_key_length(prf_id)
        a = suites.integ_key_length(integ_id)
        e = suites.encr_key_length(encr_id, encr_key_bits)
        sizes: tuple[tuple[str, int], ...] = (
            ("sk_d", p),
            ("sk_ai", a),
            ("sk_ar", a),
            ("sk_ei", e),
            ("sk_er", e),
            ("sk_pi", p),
            ("sk_pr", p),
        )
        # RFC 7296 §2.14: {SK_d | SK_ai | ... | SK_pr} = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr)
        stream = prf_plus(
            prf_plus_id, skeyseed, ni + nr + spi_i + spi_r, sum(n for _, n in sizes)
        )
        keys = {"skeyseed": skeyseed}
        pos = 0
        for name, n in sizes:
            keys[name] = stream[pos : pos + n]
            pos += n
        self._keys = keys
        self._prf_id = prf_id
        self._encr_id = encr_id
        self._encr_key_bits = encr_key_bits
        self._integ_id = integ_id
        self._ni, self._nr, self._spi_i, self._spi_r = ni, nr, spi_i, spi_r

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
    ) -> ReferenceKeymat:
        """Derive the keys after IKE_SA_INIT: ``SKEYSEED = prf(Ni | Nr, g^ir)``."""
        # The Rust backend's order: each argument with the range of its type, then
        # the Key Length (its allowed values depend on the ENCR), the suite, the SPIs.
        prf_id = transform_id(prf_id, "prf_id", suites.PRF)
        encr_id = transform_id(encr_id, "encr_id", suites.ENCR)
        integ_id = transform_id(integ_id, "integ_id", suites.INTEG)
        shared_secret = byteslike(shared_secret, "shared_secret")
        ni, nr = byteslike(ni, "ni"), byteslike(nr, "nr")
        spi_i, spi_r = byteslike(spi_i, "spi_i"), byteslike(spi_r, "spi_r")
        encr_key_bits = integer(encr_key_bits, "encr_key_bits")
        _check_suite(prf_id, encr_id, encr_key_bits, integ_id)
        skeyseed = prf(prf_id, ni + nr, shared_secret)
        return ReferenceKeymat(
            prf_id,
            encr_id,
            encr_key_bits,
            integ_id,
            skeyseed,
            prf_id,
            ni,
            nr,
            spi_i,
            spi_r,
        )

    def __repr__(self) -> str:
        return (
            f"ReferenceKeymat(prf_id={self._prf_id}, encr_id={self._encr_id}, "
            f"encr_key_bits={self._encr_key_bits}, integ_id={self._integ_id})"
        )

    @property
    def prf_id(self) -> int:
        """PRF ID."""
        return self._prf_id

    @property
    def encr_id(self) -> int:
        """ENCR ID."""
        return self._encr_id

    @property
    def encr_key_bits(self) -> int:
        """ENCR key length attribute."""
        return self._encr_key_bits

    @property
    def integ_id(self) -> int:
        """INTEG ID."""
        return self._integ_id

    def update_after_ke(self, shared_secret: BytesLike) -> ReferenceKeymat:
        """RFC 9370 §2.2.2: ``SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)``."""
        shared_secret = byteslike(shared_secret, "shared_secret")
        skeyseed = prf(
            self._prf_id, self._keys["sk_d"], shared_secret + self._ni + self._nr
        )
        return ReferenceKeymat(
            self._prf_id,
            self._encr_id,
            self._encr_key_bits,
            self._integ_id,
            skeyseed,
            self._prf_id,
            self._ni,
            self._nr,
            self._spi_i,
            self._spi_r,
        )

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
    ) -> ReferenceKeymat:
        """RFC 7296 §2.18, RFC 9370 §2.2.4; prf+ with the old PRF (SPEC §7 item 3).

        Raises:
            UnsupportedTransform: an unknown ID or combination in the new suite.
            InvalidLength: SPIs that are not 8 octets.
            ValueError: no shared secret.
        """
        # The Rust backend's order, as in derive; then the suite, the SPIs, the secrets.
        secrets = byteslike_list(shared_secrets, "shared_secrets")
        ni, nr = byteslike(ni, "ni"), byteslike(nr, "nr")
        spi_i, spi_r = byteslike(spi_i, "spi_i"), byteslike(spi_r, "spi_r")
        prf_id = transform_id(prf_id, "prf_id", suites.PRF)
        encr_id = transform_id(encr_id, "encr_id", suites.ENCR)
        integ_id = transform_id(integ_id, "integ_id", suites.INTEG)
        encr_key_bits = integer(encr_key_bits, "encr_key_bits")
        _check_suite(prf_id, encr_id, encr_key_bits, integ_id)
        _check_spis(spi_i, spi_r)
        if not secrets:
            raise ValueError("an IKE SA rekey needs at least one shared secret")
        data = secrets[0] + ni + nr + b"".join(secrets[1:])
        skeyseed = prf(self._prf_id, self._keys["sk_d"], data)
        return ReferenceKeymat(
            prf_id,
            encr_id,
            encr_key_bits,
            integ_id,
            skeyseed,
            self._prf_id,
            ni,
            nr,
            spi_i,
            spi_r,
        )

    def child_keymat(
        self,
        length: int,
        ni: BytesLike,
        nr: BytesLike,
        shared_secrets: Sequence[BytesLike] = (),
    ) -> bytes:
        """``prf+(SK_d, [SK(0) |] Ni | Nr [| SK(1) ..])`` (RFC 7296 §2.17, RFC 9370)."""
        length = length_arg(length, "length")
        ni, nr = byteslike(ni, "ni"), byteslike(nr, "nr")
        secrets = byteslike_list(shared_secrets, "shared_secrets")
        seed = secrets[0] + ni + nr + b"".join(secrets[1:]) if secrets else ni + nr
        return prf_plus(self._prf_id, self._keys["sk_d"], seed, length)

    def cipher(self, sender_is_initiator: bool) -> ReferenceIkeCipher:
        """SK payload cipher for messages sent by the initiator or the responder."""
        check_flag(sender_is_initiator, "sender_is_initiator")
        side = "i" if sender_is_initiator else "r"
        return ReferenceIkeCipher(
            self._encr_id,
            self._encr_key_bits,
            self._integ_id,
            self._keys["sk_e" + side],
            self._keys["sk_a" + side],
        )

    def _sk_p(self, initiator: bool) -> bytes:
        return self._keys["sk_pi" if initiator else "sk_pr"]

    def int_auth(
        self, sender_is_initiator: bool, prev: BytesLike, a: BytesLike, p: BytesLike
    ) -> bytes:
        """RFC 9242 §3.3.2: ``prf(SK_pi or SK_pr, prev | A | P)``."""
        check_flag(sender_is_initiator, "sender_is_initiator")
        prev, a, p = byteslike(prev, "prev"), byteslike(a, "a"), byteslike(p, "p")
        return prf(self._prf_id, self._sk_p(sender_is_initiator), prev + a + p)

    def signed_octets(
        self,
        signer_is_initiator: bool,
        real_message: BytesLike,
        peer_nonce: BytesLike,
        id_body: BytesLike,
        int_auth: BytesLike = b"",
    ) -> bytes:
        """RFC 7296 §2.15: ``RealMessage | nonce | prf(SK_p*, ID') [| IntAuth]``."""
        check_flag(signer_is_initiator, "signer_is_initiator")
        real_message = byteslike(real_message, "real_message")
        peer_nonce = byteslike(peer_nonce, "peer_nonce")
        id_body, int_auth = (
            byteslike(id_body, "id_body"),
            byteslike(int_auth, "int_auth"),
        )
        maced_id = prf(self._prf_id, self._sk_p(signer_is_initiator), id_body)
        return real_message + peer_nonce + maced_id + int_auth

    def psk_auth(
        self,
        signer_is_initiator: bool,
        psk: BytesLike,
        real_message: BytesLike,
        peer_nonce: BytesLike,
        id_body: BytesLike,
        int_auth: BytesLike = b"",
    ) -> bytes:
        """RFC 7296 §2.15: ``prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>)``."""
        check_flag(signer_is_initiator, "signer_is_initiator")
        psk = byteslike(psk, "psk")
        octets = self.signed_octets(
            signer_is_initiator, real_message, peer_nonce, id_body, int_auth
        )
        return prf(self._prf_id, prf(self._prf_id, psk, _KEY_PAD), octets)

    def export_secrets(self) -> dict[str, bytes]:
        """Every secret by name. Tests and keylog only."""
        return dict(self._keys)
