# SPDX-License-Identifier: Apache-2.0
"""pqike's crypto API: the one surface IKE code uses for all cryptography.

Everything is looked up by IANA transform ID::

    from pqike.crypto import get_backend
    backend = get_backend("rust")            # or "reference"
    kx = backend.key_exchange(36)            # ML-KEM-768
    keymat = backend.keymat_derive(6, 20, 256, 0, g_ir, ni, nr, spi_i, spi_r)
    sk_i = keymat.cipher(sender_is_initiator=True)
    esp = backend.esp_sa(0x1234, 20, key)

The Rust backend (``pqike._native``) is the default; the reference backend implements
the same interface on pyca/cryptography and hashlib. The module-level shortcuts
(``pqike.crypto.key_exchange(...)`` and so on) use ``default_backend()``.
"""

from __future__ import annotations

import os
from typing import Literal

from pqike.crypto import suites
from pqike.crypto._args import BytesLike
from pqike.crypto.aead import IkeCipher
from pqike.crypto.backend import Backend, TestingHooks
from pqike.crypto.esp import EspSa
from pqike.crypto.kex import KeyExchange
from pqike.crypto.keymat import Keymat
from pqike.crypto.suites import supports as known_transform

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BytesLike",
    "EspSa",
    "IkeCipher",
    "KeyExchange",
    "Keymat",
    "TestingHooks",
    "aead_open",
    "aead_seal",
    "available_backends",
    "default_backend",
    "esp_sa",
    "get_backend",
    "ike_cipher",
    "key_exchange",
    "keymat_derive",
    "known_transform",
    "prf",
    "prf_plus",
    "set_default_backend",
    "suites",
    "supports",
]

BackendName = Literal["rust", "reference"]
BACKEND_NAMES: tuple[BackendName, ...] = ("rust", "reference")
"""Names accepted by ``get_backend``."""

_cache: dict[str, Backend] = {}
_default: Backend | None = None


def get_backend(name: str = "rust") -> Backend:
    """Return the backend called ``name`` (one shared instance per name).

    Args:
        name: ``"rust"`` (``pqike._native``) or ``"reference"`` (pyca/cryptography).

    Raises:
        ImportError: the Rust extension is not built, or pyca/cryptography is missing.
        ValueError: an unknown name.
    """
    backend = _cache.get(name)
    if backend is not None:
        return backend
    if name == "rust":
        from pqike.crypto._rust import RustBackend

        backend = RustBackend()
    elif name == "reference":
        from pqike.crypto.reference import ReferenceBackend

        backend = ReferenceBackend()
    else:
        raise ValueError(f"unknown crypto backend {name!r}; use 'rust' or 'reference'")
    _cache[name] = backend
    return backend


def available_backends() -> list[str]:
    """Return the names of the backends that can be loaded here."""
    names: list[str] = []
    for name in BACKEND_NAMES:
        try:
            get_backend(name)
        except ImportError:
            continue
        names.append(name)
    return names


def default_backend() -> Backend:
    """Return the default backend.

    That is the one set by ``set_default_backend``, else the one named by the
    ``PQIKE_BACKEND`` environment variable, else ``"rust"``; when the Rust extension
    is not built (and nothing was chosen explicitly) it falls back to ``"reference"``.

    Raises:
        ImportError: no backend can be loaded.
    """
    global _default
    if _default is None:
        chosen = os.environ.get("PQIKE_BACKEND")
        if chosen:
            _default = get_backend(chosen)
        else:
            try:
                _default = get_backend("rust")
            except ImportError:
                _default = get_backend("reference")
    return _default


def set_default_backend(backend: Backend | str | None) -> None:
    """Set (or with None, reset) the backend that the module-level shortcuts use."""
    global _default
    _default = get_backend(backend) if isinstance(backend, str) else backend


def supports(transform_type: int, transform_id: int) -> bool:
    """Return True if the default backend implements the transform."""
    return default_backend().supports(transform_type, transform_id)


def key_exchange(method: int, seed: BytesLike | None = None) -> KeyExchange:
    """``default_backend().key_exchange(method, seed)``."""
    return default_backend().key_exchange(method, seed)


def prf(prf_id: int, key: BytesLike, data: BytesLike) -> bytes:
    """``default_backend().prf(prf_id, key, data)``."""
    return default_backend().prf(prf_id, key, data)


def prf_plus(prf_id: int, key: BytesLike, seed: BytesLike, length: int) -> bytes:
    """``default_backend().prf_plus(prf_id, key, seed, length)``."""
    return default_backend().prf_plus(prf_id, key, seed, length)


def keymat_derive(
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
    """``default_backend().keymat_derive(...)``: SKEYSEED and SK_* (RFC 7296 §2.14)."""
    return default_backend().keymat_derive(
        prf_id, encr_id, encr_key_bits, integ_id, shared_secret, ni, nr, spi_i, spi_r
    )


def ike_cipher(
    encr_id: int,
    key_bits: int,
    integ_id: int,
    encr_key: BytesLike,
    integ_key: BytesLike = b"",
) -> IkeCipher:
    """``default_backend().ike_cipher(...)``."""
    return default_backend().ike_cipher(
        encr_id, key_bits, integ_id, encr_key, integ_key
    )


def esp_sa(
    spi: int,
    encr_id: int,
    key: BytesLike,
    *,
    esn: bool = False,
    replay_window: int = 64,
    initial_seq: int = 1,
) -> EspSa:
    """``default_backend().esp_sa(...)``."""
    return default_backend().esp_sa(
        spi, encr_id, key, esn=esn, replay_window=replay_window, initial_seq=initial_seq
    )


def aead_seal(
    encr_id: int, key: BytesLike, nonce: BytesLike, aad: BytesLike, plaintext: BytesLike
) -> bytes:
    """``default_backend().aead_seal(...)``."""
    return default_backend().aead_seal(encr_id, key, nonce, aad, plaintext)


def aead_open(
    encr_id: int,
    key: BytesLike,
    nonce: BytesLike,
    aad: BytesLike,
    ct_and_tag: BytesLike,
) -> bytes:
    """``default_backend().aead_open(...)``."""
    return default_backend().aead_open(encr_id, key, nonce, aad, ct_and_tag)
