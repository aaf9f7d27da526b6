# SPDX-License-Identifier: Apache-2.0
"""The Rust backend: a thin layer over ``pqike._native``.

Objects (KeyExchange, Keymat, IkeCipher, EspSa) are the native objects themselves, so
the ESP and SK hot paths never run Python code; functions are one call deep.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, cast

from pqike.crypto import suites
from pqike.crypto._args import BytesLike
from pqike.crypto.aead import IkeCipher
from pqike.crypto.esp import EspSa
from pqike.crypto.kex import KeyExchange
from pqike.crypto.keymat import Keymat

__all__ = ["RustBackend", "RustTesting", "load_native"]


def load_native() -> ModuleType:
    """Import ``pqike._native`` and its submodules.

    Raises:
        ImportError: the extension is not built (run ``maturin develop --release``).
    """
    try:
        native = importlib.import_module("pqike._native")
        for sub in ("kex", "prf", "aead", "esp", "keymat", "testing"):
            importlib.import_module(f"pqike._native.{sub}")
    except ImportError as exc:
        raise ImportError(
            f"pqike._native is not built; run `maturin develop --release` ({exc})"
        ) from exc
    return native


class RustTesting:
    """Known-answer hooks of the Rust backend (``pqike._native.testing``)."""

    __slots__ = ("_t",)

    def __init__(self, testing: Any) -> None:
        """Wrap the native testing module."""
        self._t = testing

    def mlkem_keygen(self, method: int, seed_dz: BytesLike) -> tuple[bytes, bytes]:
        """``(ek, dk)`` from ``d || z``."""
        return cast("tuple[bytes, bytes]", self._t.mlkem_keygen(method, seed_dz))

    def mlkem_public_key(self, method: int, seed_dz: BytesLike) -> bytes:
        """ek from ``d || z``."""
        return self.mlkem_keygen(method, seed_dz)[0]

    def mlkem_encaps(
        self, method: int, ek: BytesLike, m: BytesLike
    ) -> tuple[bytes, bytes]:
        """``(ct, K)`` for randomness ``m``."""
        return cast("tuple[bytes, bytes]", self._t.mlkem_encaps(method, ek, m))

    def mlkem_decaps(self, method: int, dk: BytesLike, ct: BytesLike) -> bytes:
        """``K`` for an expanded dk."""
        return cast(bytes, self._t.mlkem_decaps(method, dk, ct))

    def mlkem_decaps_seed(
        self, method: int, seed_dz: BytesLike, ct: BytesLike
    ) -> bytes:
        """``K`` for the key pair derived from ``d || z``."""
        return self.mlkem_decaps(method, self.mlkem_keygen(method, seed_dz)[1], ct)

    def x25519(self, private: BytesLike, public: BytesLike) -> bytes:
        """X25519 with the all-zero check."""
        return cast(bytes, self._t.x25519(private, public))

    def x448(self, private: BytesLike, public: BytesLike) -> bytes:
        """X448 with the all-zero check."""
        return cast(bytes, self._t.x448(private, public))

    def ecdh(
        self, method: int, private_scalar: BytesLike, peer_public_xy: BytesLike
    ) -> bytes:
        """ECDH on group 19/20/21."""
        return cast(bytes, self._t.ecdh(method, private_scalar, peer_public_xy))


class RustBackend:
    """Backend on the compiled Rust core (see ``pqike.crypto.Backend``)."""

    __slots__ = (
        "_aead",
        "_esp",
        "_kex",
        "_keymat",
        "_methods",
        "_prf",
        "_testing",
    )

    def __init__(self) -> None:
        """Load ``pqike._native``.

        Raises:
            ImportError: the extension is not built.
        """
        native = load_native()
        self._kex: Any = native.kex
        self._prf: Any = native.prf
        self._aead: Any = native.aead
        self._esp: Any = native.esp
        self._keymat: Any = native.keymat
        self._testing = RustTesting(native.testing)
        self._methods = frozenset(
            cast("tuple[int, ...]", getattr(self._kex, "SUPPORTED_METHODS", ()))
        )

    def __repr__(self) -> str:
        return "RustBackend()"

    @property
    def name(self) -> str:
        """``"rust"``."""
        return "rust"

    @property
    def testing(self) -> RustTesting:
        """Known-answer hooks."""
        return self._testing

    def supports(self, transform_type: int, transform_id: int) -> bool:
        """True if pqike knows the transform and the Rust core implements it."""
        return self.why_unsupported(transform_type, transform_id) is None

    def why_unsupported(self, transform_type: int, transform_id: int) -> str | None:
        """Why the transform cannot be used on this backend; None if it can."""
        return suites.why_unsupported(
            transform_type,
            transform_id,
            self._methods,
            "rust backend: this build of the Rust core has no {name}",
        )

    def key_exchange(self, method: int, seed: BytesLike | None = None) -> KeyExchange:
        """A fresh native KeyExchange."""
        return cast(KeyExchange, self._kex.KeyExchange(method, seed))

    def prf(self, prf_id: int, key: BytesLike, data: BytesLike) -> bytes:
        """``prf(key, data)``."""
        return cast(bytes, self._prf.prf(prf_id, key, data))

    def prf_plus(
        self, prf_id: int, key: BytesLike, seed: BytesLike, length: int
    ) -> bytes:
        """``prf+(key, seed)`` truncated to ``length``."""
        return cast(bytes, self._prf.prf_plus(prf_id, key, seed, length))

    def integ_mac(self, integ_id: int, key: BytesLike, data: BytesLike) -> bytes:
        """Truncated HMAC ICV."""
        return cast(bytes, self._prf.integ_mac(integ_id, key, data))

    def hmac_verify(
        self, prf_id: int, key: BytesLike, data: BytesLike, tag: BytesLike
    ) -> bool:
        """Constant-time check of a (possibly truncated) HMAC tag."""
        return cast(bool, self._prf.hmac_verify(prf_id, key, data, tag))

    def constant_time_eq(self, a: BytesLike, b: BytesLike) -> bool:
        """Constant-time comparison."""
        return cast(bool, self._prf.constant_time_eq(a, b))

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
        """SKEYSEED and SK_* after IKE_SA_INIT (native ``Keymat.derive``)."""
        return cast(
            Keymat,
            self._keymat.Keymat.derive(
                prf_id,
                encr_id,
                encr_key_bits,
                integ_id,
                shared_secret,
                ni,
                nr,
                spi_i,
                spi_r,
            ),
        )

    def ike_cipher(
        self,
        encr_id: int,
        key_bits: int,
        integ_id: int,
        encr_key: BytesLike,
        integ_key: BytesLike = b"",
    ) -> IkeCipher:
        """A native SK payload cipher."""
        return cast(
            IkeCipher,
            self._aead.IkeCipher(encr_id, key_bits, integ_id, encr_key, integ_key),
        )

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
        """A native ESP SA."""
        return cast(
            EspSa,
            self._esp.EspSa(
                spi,
                encr_id,
                key,
                esn=esn,
                replay_window=replay_window,
                initial_seq=initial_seq,
            ),
        )

    def aead_seal(
        self,
        encr_id: int,
        key: BytesLike,
        nonce: BytesLike,
        aad: BytesLike,
        plaintext: BytesLike,
    ) -> bytes:
        """Raw AEAD encryption."""
        return cast(bytes, self._aead.aead_seal(encr_id, key, nonce, aad, plaintext))

    def aead_open(
        self,
        encr_id: int,
        key: BytesLike,
        nonce: BytesLike,
        aad: BytesLike,
        ct_and_tag: BytesLike,
    ) -> bytes:
        """Raw AEAD decryption."""
        return cast(bytes, self._aead.aead_open(encr_id, key, nonce, aad, ct_and_tag))
