# SPDX-License-Identifier: Apache-2.0
"""Key exchange methods on pyca/cryptography: ECP (RFC 5903), X25519/X448 (RFC 8031)
and ML-KEM (FIPS 203, draft-ietf-ipsecme-ikev2-mlkem).

pyca/cryptography 50 offers ML-KEM-768 and ML-KEM-1024 with key generation from the
64-octet seed ``d || z`` but no deterministic encapsulation and no import of expanded
decapsulation keys; those gaps raise ``UnsupportedTransform`` with the reason.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x448, x25519

from pqike.crypto import suites
from pqike.crypto._args import BytesLike, byteslike, transform_id
from pqike.errors import InvalidKeyExchangeData, InvalidLength, UnsupportedTransform

from ._nocopy import NoCopy

__all__ = [
    "MLKEM_GAP",
    "MLKEM_METHODS",
    "ReferenceKeyExchange",
    "check_mlkem_ct",
    "check_mlkem_ek",
    "ecdh_raw",
    "expand_seed",
    "mlkem_private_from_seed",
    "x448_raw",
    "x25519_raw",
]

_CURVES: Final[dict[int, ec.EllipticCurve]] = {
    19: ec.SECP256R1(),
    20: ec.SECP384R1(),
    21: ec.SECP521R1(),
}
_ORDERS: Final[dict[int, int]] = {
    19: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    20: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    21: int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D0"
        "3BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
_MLKEM_K: Final[dict[int, int]] = {35: 2, 36: 3, 37: 4}
MLKEM_METHODS: Final = frozenset(_MLKEM_K)
# LIMITATION: pyca/cryptography 50 has no ML-KEM-512, no encapsulation with a given m
# and no expanded decapsulation keys; those calls raise UnsupportedTransform.
_PYCA_MLKEM: Final[
    dict[int, type[mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey]]
] = {
    36: mlkem.MLKEM768PrivateKey,
    37: mlkem.MLKEM1024PrivateKey,
}
MLKEM_GAP: Final = "reference backend: pyca/cryptography has no {name}"
"""Why a KE method of pqike is missing here (``{name}``: its keyword)."""
_Q: Final = 3329


def expand_seed(seed: bytes, method: int, label: bytes, length: int) -> bytes:
    """Expand a test seed into ``length`` octets for one purpose.

    ``SHAKE-256("pqike kex v1" | 0x00 | label | 0x00 | method (2 octets) | seed)``, the
    same stream as the Rust core, so both backends replay the same keys from a seed.
    """
    data = b"pqike kex v1\x00" + label + b"\x00" + method.to_bytes(2, "big") + seed
    return hashlib.shake_256(data).digest(length)


_DH_LABEL: Final = b"dh private key"
_KEYGEN_LABEL: Final = b"ml-kem keygen d||z"


def _name(method: int) -> str:
    return suites.ke_method(method).name


def check_mlkem_ek(method: int, ek: bytes) -> None:
    """Run the FIPS 203 §7.2 encapsulation key checks in pure Python.

    Used by the known-answer hooks, which never reach pyca/cryptography; the
    KeyExchange path leaves the modulus check to pyca.

    Raises:
        InvalidKeyExchangeData: wrong length (type check) or a coefficient >= q
            (modulus check).
    """
    info = suites.ke_method(method)
    if len(ek) != info.initiator_length:
        raise InvalidKeyExchangeData(
            f"{info.name}: encapsulation key is {info.initiator_length} octets, "
            f"got {len(ek)}"
        )
    t = ek[: 384 * _MLKEM_K[method]]
    for i in range(0, len(t), 3):
        b0, b1, b2 = t[i], t[i + 1], t[i + 2]
        if b0 | (b1 & 0x0F) << 8 >= _Q or (b1 >> 4) | b2 << 4 >= _Q:
            raise InvalidKeyExchangeData(
                f"{info.name}: encapsulation key fails the modulus check "
                f"(coefficient >= {_Q})"
            )


def _pyca_mlkem(
    method: int,
) -> type[mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey]:
    if method not in _MLKEM_K:
        raise UnsupportedTransform(suites.KE, method)
    try:
        return _PYCA_MLKEM[method]
    except KeyError:
        raise UnsupportedTransform(
            suites.KE, method, MLKEM_GAP.format(name=_name(method))
        ) from None


def mlkem_private_from_seed(
    method: int, seed_dz: bytes
) -> mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey:
    """Return the pyca private key for the 64-octet FIPS 203 seed ``d || z``.

    Raises:
        InvalidLength: the seed is not 64 octets.
        UnsupportedTransform: pyca lacks the parameter set.
    """
    cls = _pyca_mlkem(method)
    if len(seed_dz) != 64:
        raise InvalidLength(
            f"{_name(method)} seed d || z is 64 octets, got {len(seed_dz)}"
        )
    return cls.from_seed_bytes(seed_dz)


def check_mlkem_ct(method: int, ct: bytes) -> None:
    """Run the FIPS 203 §7.3 ciphertext length check.

    Raises:
        InvalidKeyExchangeData: wrong length.
    """
    info = suites.ke_method(method)
    if len(ct) != info.responder_length:
        raise InvalidKeyExchangeData(
            f"{info.name}: ciphertext is {info.responder_length} octets, got {len(ct)}"
        )


def _nonzero(method: int, secret: bytes) -> bytes:
    if not any(secret):
        raise InvalidKeyExchangeData(f"{_name(method)}: all-zero shared secret")
    return secret


def x25519_raw(private: BytesLike, public: BytesLike) -> bytes:
    """X25519 (RFC 7748 §5) with the RFC 7748 §6.1 all-zero check."""
    private, public = byteslike(private, "private"), byteslike(public, "public")
    if len(private) != 32:
        raise InvalidLength(f"x25519 private key is 32 octets, got {len(private)}")
    if len(public) != 32:
        raise InvalidKeyExchangeData(f"x25519: public is 32 octets, got {len(public)}")
    try:
        peer = x25519.X25519PublicKey.from_public_bytes(public)
        out = x25519.X25519PrivateKey.from_private_bytes(private).exchange(peer)
    except ValueError:
        # OpenSSL refuses to return an all-zero result.
        raise InvalidKeyExchangeData("x25519: all-zero shared secret") from None
    return _nonzero(31, out)


def x448_raw(private: BytesLike, public: BytesLike) -> bytes:
    """X448 (RFC 7748 §5) with the RFC 7748 §6.2 all-zero check."""
    private, public = byteslike(private, "private"), byteslike(public, "public")
    if len(private) != 56:
        raise InvalidLength(f"x448 private key is 56 octets, got {len(private)}")
    if len(public) != 56:
        raise InvalidKeyExchangeData(f"x448: public is 56 octets, got {len(public)}")
    try:
        peer = x448.X448PublicKey.from_public_bytes(public)
        out = x448.X448PrivateKey.from_private_bytes(private).exchange(peer)
    except ValueError:
        raise InvalidKeyExchangeData("x448: all-zero shared secret") from None
    return _nonzero(32, out)


def _ecp_peer(method: int, xy: bytes) -> ec.EllipticCurvePublicKey:
    info = suites.ke_method(method)
    if len(xy) != info.initiator_length:
        raise InvalidKeyExchangeData(
            f"{info.name}: public value x || y is {info.initiator_length} octets, "
            f"got {len(xy)}"
        )
    if not any(xy):
        raise InvalidKeyExchangeData(f"{info.name}: all-zero public value")
    try:
        # RFC 5903 §7: x || y, i.e. the uncompressed point without its 0x04 octet;
        # from_encoded_point checks coordinates < p and the curve equation.
        return ec.EllipticCurvePublicKey.from_encoded_point(
            _CURVES[method], b"\x04" + xy
        )
    except ValueError:
        raise InvalidKeyExchangeData(
            f"{info.name}: point is not on the curve"
        ) from None


def _ecp_xy(method: int, key: ec.EllipticCurvePrivateKey) -> bytes:
    nums = key.public_key().public_numbers()
    size = suites.ke_method(method).initiator_length // 2
    return nums.x.to_bytes(size, "big") + nums.y.to_bytes(size, "big")


def ecdh_raw(
    method: int, private_scalar: BytesLike, peer_public_xy: BytesLike
) -> bytes:
    """ECDH on ECP group 19/20/21; return the x coordinate (RFC 5903 §7).

    Raises:
        InvalidLength: scalar not of the group's size or not in 1..n-1.
        InvalidKeyExchangeData: bad peer point.
    """
    method = transform_id(method, "method", suites.KE)
    private_scalar = byteslike(private_scalar, "private_scalar")
    peer_public_xy = byteslike(peer_public_xy, "peer_public_xy")
    if method not in _CURVES:
        suites.ke_method(method)  # an unknown ID: the plain UnsupportedTransform
        raise UnsupportedTransform(
            suites.KE, method, f"KE {method} is not an ECP group"
        )
    size = suites.ke_method(method).initiator_length // 2
    if len(private_scalar) != size:
        raise InvalidLength(
            f"{_name(method)} private scalar is {size} octets, "
            f"got {len(private_scalar)}"
        )
    d = int.from_bytes(private_scalar, "big")
    if not 0 < d < _ORDERS[method]:
        raise InvalidLength(f"{_name(method)} private scalar is out of range")
    key = ec.derive_private_key(d, _CURVES[method])
    peer = _ecp_peer(method, peer_public_xy)
    # An x coordinate of 0 is a valid result (Wycheproof EdgeCaseSharedSecret); only
    # the point at infinity is degenerate, and a prime-order curve cannot reach it.
    return key.exchange(ec.ECDH(), peer)


class ReferenceKeyExchange(NoCopy):
    """One side of one key exchange (see ``pqike.crypto.kex.KeyExchange``)."""

    __slots__ = (
        "_dk",
        "_lock",
        "_method",
        "_private",
        "_public",
        "_role",
        "_secret",
        "_seed",
    )

    def __init__(self, method: int, seed: BytesLike | None = None) -> None:
        """Create one side of a key exchange.

        Raises:
            UnsupportedTransform: unknown method, or ML-KEM-512 (absent from pyca).
            InvalidLength: a seed shorter than 32 octets.
        """
        method = transform_id(method, "method", suites.KE)
        own_seed = None if seed is None else byteslike(seed, "seed")
        suites.ke_method(method)
        if own_seed is not None and len(own_seed) < 32:
            raise InvalidLength(
                f"key exchange seed is >= 32 octets, got {len(own_seed)}"
            )
        self._method = method
        self._seed = own_seed
        # As in the Rust object: public_key and set_peer_public from several threads
        # are one step each (one key pair, one peer value).
        self._lock = threading.Lock()
        self._role = "undecided"
        self._secret: bytes | None = None
        self._public: bytes | None = None
        self._dk: mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey | None = None
        self._private: (
            x25519.X25519PrivateKey
            | x448.X448PrivateKey
            | ec.EllipticCurvePrivateKey
            | None
        ) = None
        if method in _MLKEM_K:
            _pyca_mlkem(method)
        else:
            self._private = self._dh_keygen()
            self._public = self._dh_public()

    def __repr__(self) -> str:
        return f"ReferenceKeyExchange(method={self._method}, role={self._role})"

    @property
    def method(self) -> int:
        """IANA KE method ID."""
        return self._method

    @property
    def role(self) -> str | None:
        """The ML-KEM role once fixed; None for DH or an undecided KEM object."""
        return None if self._role == "undecided" else self._role

    def _random(self, label: bytes, length: int) -> bytes | None:
        if self._seed is None:
            return None
        return expand_seed(self._seed, self._method, label, length)

    def _dh_keygen(
        self,
    ) -> x25519.X25519PrivateKey | x448.X448PrivateKey | ec.EllipticCurvePrivateKey:
        m = self._method
        if m == 31:
            raw = self._random(_DH_LABEL, 32)
            if raw is None:
                return x25519.X25519PrivateKey.generate()
            return x25519.X25519PrivateKey.from_private_bytes(raw)
        if m == 32:
            raw = self._random(_DH_LABEL, 56)
            if raw is None:
                return x448.X448PrivateKey.generate()
            return x448.X448PrivateKey.from_private_bytes(raw)
        size = suites.ke_method(m).initiator_length // 2
        raw = self._random(_DH_LABEL, 64 * size)
        if raw is None:
            return ec.generate_private_key(_CURVES[m])
        # Rejection sampling of a scalar in [1, n-1] from successive field-size
        # blocks (P-521: the low 521 bits), as the Rust core draws it.
        for pos in range(0, len(raw), size):
            d = int.from_bytes(raw[pos : pos + size], "big")
            if m == 21:
                d &= (1 << 521) - 1
            if 0 < d < _ORDERS[m]:
                return ec.derive_private_key(d, _CURVES[m])
        raise InvalidLength(f"{suites.ke_method(m).name}: no scalar from the seed")

    def _dh_public(self) -> bytes:
        key = self._private
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return _ecp_xy(self._method, key)
        assert key is not None
        return key.public_key().public_bytes_raw()

    def public_key(self) -> bytes:
        """Return this side's KE data; see the protocol.

        Raises:
            ValueError: an ML-KEM responder before ``set_peer_public``.
        """
        with self._lock:
            return self._public_key()

    def _public_key(self) -> bytes:
        if self._method not in _MLKEM_K:
            assert self._public is not None
            return self._public
        if self._role == "responder":
            if self._public is None:
                raise ValueError("ML-KEM responder has no ciphertext yet")
            return self._public
        if self._dk is None:
            self._role = "initiator"
            raw = self._random(_KEYGEN_LABEL, 64)
            cls = _pyca_mlkem(self._method)
            self._dk = cls.generate() if raw is None else cls.from_seed_bytes(raw)
            self._public = self._dk.public_key().public_bytes_raw()
        assert self._public is not None
        return self._public

    def set_peer_public(self, data: BytesLike) -> None:
        """Process the peer's KE data; see the protocol.

        Raises:
            InvalidKeyExchangeData: the data was rejected.
            UnsupportedTransform: a seeded ML-KEM responder (pyca cannot encapsulate
                deterministically).
            ValueError: called twice.
        """
        data = byteslike(data, "data")
        with self._lock:
            self._set_peer_public(data)

    def _set_peer_public(self, data: bytes) -> None:
        if self._secret is not None:
            raise ValueError("set_peer_public was already called")
        m = self._method
        if m not in _MLKEM_K:
            self._secret = self._dh_agree(data)
        elif self._dk is None:
            self._encapsulate(data)
        else:
            check_mlkem_ct(m, data)
            self._secret = self._dk.decapsulate(data)

    def _dh_agree(self, data: bytes) -> bytes:
        key = self._private
        m = self._method
        if isinstance(key, x25519.X25519PrivateKey):
            return x25519_raw(key.private_bytes_raw(), data)
        if isinstance(key, x448.X448PrivateKey):
            return x448_raw(key.private_bytes_raw(), data)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.exchange(ec.ECDH(), _ecp_peer(m, data))

    def _encapsulate(self, ek: bytes) -> None:
        m = self._method
        info = suites.ke_method(m)
        if len(ek) != info.initiator_length:  # FIPS 203 §7.2 type check
            raise InvalidKeyExchangeData(
                f"{info.name}: encapsulation key is {info.initiator_length} octets, "
                f"got {len(ek)}"
            )
        if self._seed is not None:
            raise UnsupportedTransform(
                suites.KE,
                m,
                "reference backend: pyca/cryptography cannot encapsulate "
                "deterministically from a seed",
            )
        cls = _pyca_mlkem(m)
        pub_cls = (
            mlkem.MLKEM768PublicKey
            if cls is mlkem.MLKEM768PrivateKey
            else mlkem.MLKEM1024PublicKey
        )
        try:
            # pyca/cryptography runs the FIPS 203 §7.2 modulus check here.
            peer = pub_cls.from_public_bytes(ek)
        except ValueError:
            raise InvalidKeyExchangeData(
                f"{info.name}: encapsulation key fails the modulus check"
            ) from None
        secret, ct = peer.encapsulate()
        self._role = "responder"
        self._public = ct
        self._secret = secret

    def shared_secret(self) -> bytes:
        """Return the shared secret.

        Raises:
            ValueError: not computed yet.
        """
        if self._secret is None:
            raise ValueError("shared secret not computed yet")
        return self._secret
