# SPDX-License-Identifier: Apache-2.0
"""IKE SK payload ciphers and raw AEADs on pyca/cryptography.

AES-GCM-8/12/16 (RFC 5282), ChaCha20-Poly1305 (RFC 7634) and AES-CBC with an HMAC-SHA
integrity transform (RFC 7296 §3.14).
"""

from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from pqike.crypto import suites
from pqike.crypto._args import BytesLike, byteslike, integer, transform_id
from pqike.errors import AuthenticationError, InvalidLength, UnsupportedTransform

from ._nocopy import NoCopy
from .prf import integ_mac

__all__ = ["KeyedAead", "ReferenceIkeCipher", "aead_open", "aead_seal"]

_GCM = frozenset({18, 19, 20})
_CHACHA = 28
_CBC = 12


# An IKE message, header included, is at most 2^32 - 1 octets (RFC 7296 §3.1).
_MAX_SK_PLAINTEXT = (1 << 32) - 1


def _check_raw_key(encr_id: int, key: bytes) -> None:
    if encr_id in _GCM:
        if len(key) not in (16, 24, 32):
            raise InvalidLength(
                f"AES-GCM key is 16, 24 or 32 octets (no salt), got {len(key)}"
            )
    elif encr_id == _CHACHA:
        if len(key) != 32:
            raise InvalidLength(
                f"ChaCha20-Poly1305 key is 32 octets (no salt), got {len(key)}"
            )
    else:
        raise UnsupportedTransform(suites.ENCR, encr_id, f"ENCR {encr_id} is no AEAD")


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) != 12:
        raise InvalidLength(f"AEAD nonce is 12 octets, got {len(nonce)}")


class KeyedAead:
    """One AEAD key, with the pyca object built once (AES-GCM-16, ChaCha20-Poly1305).

    AES-GCM with an 8- or 12-octet ICV goes through the GCM mode object, the only pyca
    API that accepts truncated tags.
    """

    __slots__ = ("_encr_id", "_icv", "_key", "_whole")

    def __init__(self, encr_id: int, key: bytes) -> None:
        """Check the raw key (no salt) and build the cipher.

        Raises:
            InvalidLength: key of the wrong length.
            UnsupportedTransform: ``encr_id`` is not an AEAD.
        """
        _check_raw_key(encr_id, key)
        self._encr_id = encr_id
        self._key = key
        self._icv = suites.encr_icv_length(encr_id)
        self._whole: AESGCM | ChaCha20Poly1305 | None = None
        if encr_id == _CHACHA:
            self._whole = ChaCha20Poly1305(key)
        elif encr_id == 20:
            self._whole = AESGCM(key)

    def __repr__(self) -> str:
        return f"KeyedAead(encr_id={self._encr_id})"

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Return ``ciphertext | tag`` for a 12-octet nonce."""
        _check_nonce(nonce)
        if self._whole is not None:
            return self._whole.encrypt(nonce, plaintext, aad)
        enc = Cipher(algorithms.AES(self._key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        ct = enc.update(plaintext) + enc.finalize()
        return ct + enc.tag[: self._icv]

    def open(self, nonce: bytes, aad: bytes, ct_and_tag: bytes) -> bytes:
        """Verify and decrypt ``ciphertext | tag``.

        Raises:
            AuthenticationError: bad tag or input shorter than the tag.
            InvalidLength: nonce not 12 octets.
        """
        _check_nonce(nonce)
        if len(ct_and_tag) < self._icv:
            raise AuthenticationError
        try:
            if self._whole is not None:
                return self._whole.decrypt(nonce, ct_and_tag, aad)
            ct, tag = ct_and_tag[: -self._icv], ct_and_tag[-self._icv :]
            mode = modes.GCM(nonce, tag, min_tag_length=self._icv)
            dec = Cipher(algorithms.AES(self._key), mode).decryptor()
            dec.authenticate_additional_data(aad)
            return dec.update(ct) + dec.finalize()
        except InvalidTag:
            raise AuthenticationError from None


def aead_seal(
    encr_id: int, key: BytesLike, nonce: BytesLike, aad: BytesLike, plaintext: BytesLike
) -> bytes:
    """Encrypt with an AEAD ENCR transform; return ``ciphertext | tag``.

    Raises:
        InvalidLength: key or nonce of the wrong length.
        UnsupportedTransform: ``encr_id`` is not an AEAD.
    """
    encr_id = transform_id(encr_id, "encr_id", suites.ENCR)
    key, nonce = byteslike(key, "key"), byteslike(nonce, "nonce")
    aad, plaintext = byteslike(aad, "aad"), byteslike(plaintext, "plaintext")
    return KeyedAead(encr_id, key).seal(nonce, aad, plaintext)


def aead_open(
    encr_id: int,
    key: BytesLike,
    nonce: BytesLike,
    aad: BytesLike,
    ct_and_tag: BytesLike,
) -> bytes:
    """Verify and decrypt ``ciphertext | tag``.

    Raises:
        AuthenticationError: the tag did not verify (or the input is shorter than it).
        InvalidLength: key or nonce of the wrong length.
        UnsupportedTransform: ``encr_id`` is not an AEAD.
    """
    encr_id = transform_id(encr_id, "encr_id", suites.ENCR)
    key, nonce = byteslike(key, "key"), byteslike(nonce, "nonce")
    aad, ct_and_tag = byteslike(aad, "aad"), byteslike(ct_and_tag, "ct_and_tag")
    return KeyedAead(encr_id, key).open(nonce, aad, ct_and_tag)


class ReferenceIkeCipher(NoCopy):
    """SK payload protection for one direction (see ``pqike.crypto.aead.IkeCipher``)."""

    __slots__ = (
        "_aead",
        "_block",
        "_encr_id",
        "_icv",
        "_integ_id",
        "_integ_key",
        "_iv",
        "_key",
        "_salt",
    )

    def __init__(
        self,
        encr_id: int,
        key_bits: int,
        integ_id: int,
        encr_key: BytesLike,
        integ_key: BytesLike = b"",
    ) -> None:
        """Create the cipher; ``encr_key`` includes the 4-octet salt for AEADs.

        Raises:
            UnsupportedTransform: unknown ID, AEAD with INTEG, CBC without INTEG.
            InvalidLength: a key of the wrong length.
        """
        # The Rust backend's order: each argument with the range of its type, then
        # the Key Length, whose allowed values depend on the ENCR.
        encr_id = transform_id(encr_id, "encr_id", suites.ENCR)
        integ_id = transform_id(integ_id, "integ_id", suites.INTEG)
        encr_key = byteslike(encr_key, "encr_key")
        integ_key = byteslike(integ_key, "integ_key")
        key_bits = integer(key_bits, "key_bits")
        want = suites.encr_key_length(encr_id, key_bits)
        if encr_id not in _GCM and encr_id not in (_CHACHA, _CBC):
            raise UnsupportedTransform(suites.ENCR, encr_id)
        if len(encr_key) != want:
            raise InvalidLength(
                f"ENCR {encr_id} key ({key_bits} bits) is {want} octets, "
                f"got {len(encr_key)}"
            )
        aead = suites.is_aead(encr_id)
        if aead and integ_id != 0:
            raise UnsupportedTransform(
                suites.INTEG, integ_id, "an AEAD ENCR takes no INTEG transform"
            )
        if not aead and integ_id == 0:
            raise UnsupportedTransform(
                suites.INTEG, integ_id, f"ENCR {encr_id} needs an INTEG transform"
            )
        integ_want = suites.integ_key_length(integ_id)
        if len(integ_key) != integ_want:
            raise InvalidLength(
                f"INTEG {integ_id} key is {integ_want} octets, got {len(integ_key)}"
            )
        self._encr_id = encr_id
        self._integ_id = integ_id
        self._integ_key = integ_key
        self._iv = suites.encr_iv_length(encr_id)
        self._block = suites.encr_block_length(encr_id)
        self._aead: KeyedAead | None = None
        if aead:
            self._key, self._salt = encr_key[:-4], encr_key[-4:]
            self._aead = KeyedAead(encr_id, self._key)
            self._icv = suites.encr_icv_length(encr_id)
        else:
            self._key, self._salt = encr_key, b""
            self._icv = suites.integ_icv_length(integ_id)

    def __repr__(self) -> str:
        return f"ReferenceIkeCipher(encr_id={self._encr_id}, integ_id={self._integ_id})"

    @property
    def encr_id(self) -> int:
        """ENCR transform ID."""
        return self._encr_id

    @property
    def integ_id(self) -> int:
        """INTEG transform ID (0 for AEADs)."""
        return self._integ_id

    @property
    def iv_length(self) -> int:
        """Octets of explicit IV (8 for AEADs, 16 for AES-CBC)."""
        return self._iv

    @property
    def icv_length(self) -> int:
        """Octets of ICV."""
        return self._icv

    def _padded_length(self, plaintext_len: int) -> int:
        # RFC 7296 §3.14: minimal padding so that payloads | pad | pad length fill
        # whole blocks (block 1 for AEADs: no padding, just the Pad Length octet).
        n = plaintext_len + 1
        return -(-n // self._block) * self._block

    def sealed_length(self, plaintext_len: int) -> int:
        """Return ``len(iv | ciphertext | icv)`` for ``plaintext_len`` octets.

        Raises:
            InvalidLength: ``plaintext_len`` outside 0..2^32-1.
        """
        plaintext_len = integer(plaintext_len, "plaintext_len")
        if not 0 <= plaintext_len <= _MAX_SK_PLAINTEXT:
            raise InvalidLength(
                f"plaintext length must be 0..={_MAX_SK_PLAINTEXT} octets (an IKE "
                f"message is at most 2^32-1), got {plaintext_len}"
            )
        return self._iv + self._padded_length(plaintext_len) + self._icv

    def seal(self, aad: BytesLike, iv: BytesLike, plaintext: BytesLike) -> bytes:
        """Pad, encrypt and authenticate; return ``iv | ciphertext | icv``.

        Raises:
            InvalidLength: ``iv`` is not ``iv_length`` octets.
        """
        aad, iv = byteslike(aad, "aad"), byteslike(iv, "iv")
        plaintext = byteslike(plaintext, "plaintext")
        if len(iv) != self._iv:
            raise InvalidLength(f"SK IV is {self._iv} octets, got {len(iv)}")
        pad = self._padded_length(len(plaintext)) - len(plaintext) - 1
        data = plaintext + bytes(pad) + bytes((pad,))
        if self._aead is not None:
            return iv + self._aead.seal(self._salt + iv, aad, data)
        enc = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        ct = enc.update(data) + enc.finalize()
        icv = integ_mac(self._integ_id, self._integ_key, aad + iv + ct)
        return iv + ct + icv

    def open(self, aad: BytesLike, body: BytesLike) -> bytes:
        """Verify and decrypt ``iv | ciphertext | icv``; return the inner payloads.

        Raises:
            AuthenticationError: bad ICV, short body or inconsistent padding.
        """
        aad, body = byteslike(aad, "aad"), byteslike(body, "body")
        if len(body) < self._iv + self._block + self._icv:
            raise AuthenticationError
        iv, rest = body[: self._iv], body[self._iv :]
        if self._aead is not None:
            data = self._aead.open(self._salt + iv, aad, rest)
        else:
            ct, icv = rest[: -self._icv], rest[-self._icv :]
            want = integ_mac(self._integ_id, self._integ_key, aad + iv + ct)
            if not hmac.compare_digest(want, icv) or len(ct) % self._block:
                raise AuthenticationError
            dec = Cipher(algorithms.AES(self._key), modes.CBC(iv)).decryptor()
            data = dec.update(ct) + dec.finalize()
        pad = data[-1]
        if pad + 1 > len(data):
            raise AuthenticationError
        return data[: len(data) - pad - 1]
