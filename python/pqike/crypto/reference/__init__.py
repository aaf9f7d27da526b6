# SPDX-License-Identifier: Apache-2.0
"""The reference backend: the same interface as the Rust backend, on pyca/cryptography
and hashlib/hmac.

It is the oracle of the differential tests and the baseline of the benchmarks. Gaps of
pyca/cryptography 50 (no ML-KEM-512, no deterministic ML-KEM encapsulation, no import or
export of expanded ML-KEM decapsulation keys) raise ``UnsupportedTransform`` naming the
reason.
"""

from __future__ import annotations

from pqike.crypto import suites
from pqike.crypto._args import BytesLike, byteslike, transform_id
from pqike.errors import InvalidLength, UnsupportedTransform

from . import prf as _prf
from .aead import ReferenceIkeCipher, aead_open, aead_seal
from .esp import ReferenceEspSa
from .kex import (
    MLKEM_GAP,
    MLKEM_METHODS,
    ReferenceKeyExchange,
    check_mlkem_ct,
    check_mlkem_ek,
    ecdh_raw,
    mlkem_private_from_seed,
    x448_raw,
    x25519_raw,
)
from .keymat import ReferenceKeymat

__all__ = [
    "ReferenceBackend",
    "ReferenceEspSa",
    "ReferenceIkeCipher",
    "ReferenceKeyExchange",
    "ReferenceKeymat",
    "ReferenceTesting",
]

_KE_IMPLEMENTED = frozenset({19, 20, 21, 31, 32, 36, 37})


def _mlkem_only(method: int) -> None:
    if method not in MLKEM_METHODS:
        raise UnsupportedTransform(suites.KE, method, f"KE {method} is not ML-KEM")


class ReferenceTesting:
    """Known-answer hooks of the reference backend."""

    __slots__ = ()

    def mlkem_keygen(self, method: int, seed_dz: BytesLike) -> tuple[bytes, bytes]:
        """Unsupported: pyca/cryptography cannot export the expanded dk."""
        method = transform_id(method, "method", suites.KE)
        byteslike(seed_dz, "seed_dz")
        _mlkem_only(method)
        raise UnsupportedTransform(
            suites.KE,
            method,
            "reference backend: pyca/cryptography cannot export an expanded "
            "ML-KEM decapsulation key",
        )

    def mlkem_public_key(self, method: int, seed_dz: BytesLike) -> bytes:
        """Return ek for the seed ``d || z``."""
        method = transform_id(method, "method", suites.KE)
        seed_dz = byteslike(seed_dz, "seed_dz")
        _mlkem_only(method)
        return mlkem_private_from_seed(method, seed_dz).public_key().public_bytes_raw()

    def mlkem_encaps(
        self, method: int, ek: BytesLike, m: BytesLike
    ) -> tuple[bytes, bytes]:
        """Check ek (FIPS 203 §7.2), then refuse: pyca has no deterministic encaps."""
        method = transform_id(method, "method", suites.KE)
        ek = byteslike(ek, "ek")
        m = byteslike(m, "m")
        _mlkem_only(method)
        # The Rust core's order: m's length, then the ek checks.
        if len(m) != 32:
            raise InvalidLength(
                f"ML-KEM encapsulation randomness m must be 32 bytes, got {len(m)}"
            )
        check_mlkem_ek(method, ek)
        raise UnsupportedTransform(
            suites.KE,
            method,
            "reference backend: pyca/cryptography cannot encapsulate with a given m",
        )

    def mlkem_decaps(self, method: int, dk: BytesLike, ct: BytesLike) -> bytes:
        """Unsupported: pyca/cryptography cannot import an expanded dk."""
        method = transform_id(method, "method", suites.KE)
        byteslike(dk, "dk")
        byteslike(ct, "ct")
        _mlkem_only(method)
        raise UnsupportedTransform(
            suites.KE,
            method,
            "reference backend: pyca/cryptography cannot import an expanded "
            "ML-KEM decapsulation key",
        )

    def mlkem_decaps_seed(
        self, method: int, seed_dz: BytesLike, ct: BytesLike
    ) -> bytes:
        """Decapsulate with the key pair derived from ``d || z``."""
        method = transform_id(method, "method", suites.KE)
        seed_dz, ct = byteslike(seed_dz, "seed_dz"), byteslike(ct, "ct")
        _mlkem_only(method)
        key = mlkem_private_from_seed(method, seed_dz)
        check_mlkem_ct(method, ct)
        return key.decapsulate(ct)

    def x25519(self, private: BytesLike, public: BytesLike) -> bytes:
        """X25519 with the all-zero check."""
        return x25519_raw(private, public)

    def x448(self, private: BytesLike, public: BytesLike) -> bytes:
        """X448 with the all-zero check."""
        return x448_raw(private, public)

    def ecdh(
        self, method: int, private_scalar: BytesLike, peer_public_xy: BytesLike
    ) -> bytes:
        """ECDH on group 19/20/21."""
        return ecdh_raw(method, private_scalar, peer_public_xy)


class ReferenceBackend:
    """Backend on pyca/cryptography and hashlib (see ``pqike.crypto.Backend``)."""

    __slots__ = ("_testing",)

    def __init__(self) -> None:
        """Create the backend (stateless apart from its testing hooks)."""
        self._testing = ReferenceTesting()

    def __repr__(self) -> str:
        return "ReferenceBackend()"

    @property
    def name(self) -> str:
        """``"reference"``."""
        return "reference"

    @property
    def testing(self) -> ReferenceTesting:
        """Known-answer hooks."""
        return self._testing

    def supports(self, transform_type: int, transform_id: int) -> bool:
        """True if pqike knows the transform and pyca/cryptography can run it."""
        return self.why_unsupported(transform_type, transform_id) is None

    def why_unsupported(self, transform_type: int, transform_id: int) -> str | None:
        """Why the transform cannot be used on this backend; None if it can."""
        return suites.why_unsupported(
            transform_type, transform_id, _KE_IMPLEMENTED, MLKEM_GAP
        )

    # The operations are the module functions and classes themselves: one call,
    # one signature, no wrapper layer.
    key_exchange = staticmethod(ReferenceKeyExchange)
    prf = staticmethod(_prf.prf)
    prf_plus = staticmethod(_prf.prf_plus)
    integ_mac = staticmethod(_prf.integ_mac)
    hmac_verify = staticmethod(_prf.hmac_verify)
    constant_time_eq = staticmethod(_prf.constant_time_eq)
    keymat_derive = staticmethod(ReferenceKeymat.derive)
    ike_cipher = staticmethod(ReferenceIkeCipher)
    esp_sa = staticmethod(ReferenceEspSa)
    aead_seal = staticmethod(aead_seal)
    aead_open = staticmethod(aead_open)
