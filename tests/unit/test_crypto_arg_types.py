# SPDX-License-Identifier: Apache-2.0
"""Both backends take the same argument types (docs/contracts.md §2, "Argument types").

Every public entry point of the crypto API (the Backend methods, the objects they
return and the testing hooks) is called on the Rust and the reference backend with
each argument replaced in turn:

* a byte string by bytearray, memoryview (also over a bytearray, non-contiguous, or of
  format 'c'): the same result as with bytes; by str, None, an int, a list of ints or a
  memoryview of 16-bit items: TypeError;
* an integer (ID, key size, length, SPI, counter) by an object with ``__index__`` or an
  IntEnum: the same result; by a float, a bool, a str or None: TypeError;
* a flag by 1, 0, None or a str: TypeError;
* a list of byte strings by a tuple or a list of bytearrays/memoryviews: the same
  result; by a str, a list holding a str, a set or None: TypeError.

Both backends must then return the same value or raise the same exception class with
the same text and notes (PyO3's own texts, such as "Can't extract `str` to `Vec`", must
not come through).
"""

from __future__ import annotations

import array
import enum
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from pqike.crypto import Backend
from pqike.errors import PqIkeError, UnsupportedTransform

Kind = Literal["bytes", "int", "flag", "list"]


@dataclass(frozen=True)
class Arg:
    """One argument: its name (the keyword when ``keyword``), value and kind;
    ``optional``: None is a valid value (and not tried)."""

    name: str
    value: Any
    kind: Kind
    keyword: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Entry:
    """``target(backend).method(*args)``; ``observe`` turns the result into a value
    both backends must agree on; ``gap``: the reference backend raises
    UnsupportedTransform where the Rust backend returns (docs/crypto.md)."""

    name: str
    target: Callable[[Backend], Any]
    method: str
    args: tuple[Arg, ...]
    observe: Callable[[Any, Any], Any] = field(default=lambda target, result: result)
    gap: bool = False


class _Index:
    """An integer-like object that is no int (numpy integers are such objects)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def _strided(value: bytes) -> memoryview:
    """A non-contiguous memoryview whose items are ``value``."""
    return memoryview(bytes(x for b in value for x in (b, 0)))[::2]


SAME: dict[Kind, list[tuple[str, Callable[[Any], Any]]]] = {
    "bytes": [
        ("bytearray", bytearray),
        ("memoryview", memoryview),
        ("memoryview-bytearray", lambda v: memoryview(bytearray(v))),
        ("memoryview-strided", _strided),
        ("memoryview-c", lambda v: memoryview(v).cast("c")),
    ],
    "int": [
        ("__index__", _Index),
        ("IntEnum", lambda v: enum.IntEnum("E", {"V": v}).V),
    ],
    "flag": [],
    "list": [
        ("tuple", tuple),
        ("bytearrays", lambda v: [bytearray(x) for x in v]),
        ("memoryviews", lambda v: [memoryview(x) for x in v]),
    ],
}
TYPE_ERRORS: dict[Kind, list[tuple[str, Callable[[Any], Any]]]] = {
    "bytes": [
        ("str", lambda v: v.decode("latin-1")),
        ("None", lambda v: None),
        ("int", len),
        ("list", list),
        ("memoryview-H", lambda v: memoryview(array.array("H", [1, 2]))),
    ],
    "int": [
        ("float", float),
        ("bool", lambda v: True),
        ("str", str),
        ("None", lambda v: None),
    ],
    "flag": [
        ("int-1", lambda v: 1),
        ("int-0", lambda v: 0),
        ("None", lambda v: None),
        ("str", lambda v: "yes"),
    ],
    "list": [
        ("str", lambda v: "abc"),
        ("list-of-str", lambda v: ["abc"]),
        ("set", lambda v: set(v)),
        ("None", lambda v: None),
    ],
}

# Inputs. Values that need a backend to compute are filled in by the `inputs` fixture.
K32 = bytes(range(1, 33))
SEED = bytes(range(100, 164))
NI, NR = b"\x11" * 16, b"\x22" * 16
SPI_I, SPI_R = bytes(range(8)), bytes(range(8, 16))
SECRET = b"\x33" * 32
AAD, PT = b"header", b"inner payloads"


def _b(name: str, value: bytes, keyword: bool = False) -> Arg:
    return Arg(name, value, "bytes", keyword)


def _i(name: str, value: int, keyword: bool = False) -> Arg:
    return Arg(name, value, "int", keyword)


def _f(name: str, value: bool, keyword: bool = False) -> Arg:
    return Arg(name, value, "flag", keyword)


def _keymat(b: Backend) -> Any:
    return b.keymat_derive(5, 20, 128, 0, SECRET, NI, NR, SPI_I, SPI_R)


def _secrets(target: Any, result: Any) -> Any:
    return result.export_secrets()


def _sealed(target: Any, result: Any) -> Any:
    return result.seal(AAD, bytes(result.iv_length), PT)


def _esp_out(target: Any, result: Any) -> Any:
    return result.seal(PT, 4)


def _public(target: Any, result: Any) -> Any:
    return result.public_key()


def _shared(target: Any, result: Any) -> Any:
    return target.shared_secret()


def entries(v: dict[str, bytes]) -> list[Entry]:
    """Every public entry point, with valid arguments (``v``: computed inputs)."""
    return [
        # Backend
        Entry(
            "supports", lambda b: b, "supports", (_i("transform_type", 4), _i("id", 36))
        ),
        Entry(
            "why_unsupported",
            lambda b: b,
            "why_unsupported",
            (_i("transform_type", 1), _i("id", 20)),
        ),
        Entry(
            "key_exchange",
            lambda b: b,
            "key_exchange",
            (_i("method", 31), Arg("seed", K32, "bytes", optional=True)),
            _public,
        ),
        Entry(
            "prf", lambda b: b, "prf", (_i("prf_id", 5), _b("key", K32), _b("data", PT))
        ),
        Entry(
            "prf_plus",
            lambda b: b,
            "prf_plus",
            (_i("prf_id", 6), _b("key", K32), _b("seed", PT), _i("length", 99)),
        ),
        Entry(
            "integ_mac",
            lambda b: b,
            "integ_mac",
            (_i("integ_id", 12), _b("key", K32), _b("data", PT)),
        ),
        Entry(
            "hmac_verify",
            lambda b: b,
            "hmac_verify",
            (_i("prf_id", 5), _b("key", K32), _b("data", PT), _b("tag", v["tag"])),
        ),
        Entry(
            "constant_time_eq",
            lambda b: b,
            "constant_time_eq",
            (_b("a", K32), _b("b", K32)),
        ),
        Entry(
            "keymat_derive",
            lambda b: b,
            "keymat_derive",
            (
                _i("prf_id", 5),
                _i("encr_id", 20),
                _i("encr_key_bits", 128),
                _i("integ_id", 0),
                _b("shared_secret", SECRET),
                _b("ni", NI),
                _b("nr", NR),
                _b("spi_i", SPI_I),
                _b("spi_r", SPI_R),
            ),
            _secrets,
        ),
        Entry(
            "ike_cipher-gcm",
            lambda b: b,
            "ike_cipher",
            (
                _i("encr_id", 20),
                _i("key_bits", 128),
                _i("integ_id", 0),
                _b("encr_key", K32[:20]),
                _b("integ_key", b"", keyword=True),
            ),
            _sealed,
        ),
        Entry(
            "ike_cipher-cbc",
            lambda b: b,
            "ike_cipher",
            (
                _i("encr_id", 12),
                _i("key_bits", 128),
                _i("integ_id", 12),
                _b("encr_key", K32[:16]),
                _b("integ_key", K32),
            ),
            _sealed,
        ),
        Entry(
            "esp_sa",
            lambda b: b,
            "esp_sa",
            (
                _i("spi", 0x1234),
                _i("encr_id", 20),
                _b("key", K32[:20]),
                _f("esn", False, keyword=True),
                _i("replay_window", 64, keyword=True),
                _i("initial_seq", 1, keyword=True),
            ),
            _esp_out,
        ),
        Entry(
            "aead_seal",
            lambda b: b,
            "aead_seal",
            (
                _i("encr_id", 28),
                _b("key", K32),
                _b("nonce", K32[:12]),
                _b("aad", AAD),
                _b("plaintext", PT),
            ),
        ),
        Entry(
            "aead_open",
            lambda b: b,
            "aead_open",
            (
                _i("encr_id", 28),
                _b("key", K32),
                _b("nonce", K32[:12]),
                _b("aad", AAD),
                _b("ct_and_tag", v["aead_ct"]),
            ),
        ),
        # KeyExchange
        Entry(
            "KeyExchange.set_peer_public",
            lambda b: b.key_exchange(31, K32),
            "set_peer_public",
            (_b("data", v["x25519_pub"]),),
            _shared,
        ),
        # Keymat
        Entry(
            "Keymat.update_after_ke",
            _keymat,
            "update_after_ke",
            (_b("shared_secret", SECRET),),
            _secrets,
        ),
        Entry(
            "Keymat.rekey_ike",
            _keymat,
            "rekey_ike",
            (
                Arg("shared_secrets", [SECRET, K32], "list"),
                _b("ni", NI),
                _b("nr", NR),
                _b("spi_i", SPI_I),
                _b("spi_r", SPI_R),
                _i("prf_id", 6),
                _i("encr_id", 12),
                _i("encr_key_bits", 256),
                _i("integ_id", 13),
            ),
            _secrets,
        ),
        Entry(
            "Keymat.child_keymat",
            _keymat,
            "child_keymat",
            (
                _i("length", 72),
                _b("ni", NI),
                _b("nr", NR),
                Arg("shared_secrets", [SECRET], "list"),
            ),
        ),
        Entry("Keymat.cipher", _keymat, "cipher", (_f("sender", True),), _sealed),
        Entry(
            "Keymat.int_auth",
            _keymat,
            "int_auth",
            (_f("sender", True), _b("prev", K32), _b("a", AAD), _b("p", PT)),
        ),
        Entry(
            "Keymat.psk_auth",
            _keymat,
            "psk_auth",
            (
                _f("signer", False),
                _b("psk", K32),
                _b("real_message", PT),
                _b("peer_nonce", NI),
                _b("id_body", AAD),
                _b("int_auth", K32, keyword=True),
            ),
        ),
        Entry(
            "Keymat.signed_octets",
            _keymat,
            "signed_octets",
            (
                _f("signer", True),
                _b("real_message", PT),
                _b("peer_nonce", NR),
                _b("id_body", AAD),
                _b("int_auth", K32, keyword=True),
            ),
        ),
        # IkeCipher
        Entry(
            "IkeCipher.sealed_length",
            lambda b: b.ike_cipher(20, 128, 0, K32[:20]),
            "sealed_length",
            (_i("plaintext_len", 10),),
        ),
        Entry(
            "IkeCipher.seal",
            lambda b: b.ike_cipher(20, 128, 0, K32[:20]),
            "seal",
            (_b("aad", AAD), _b("iv", K32[:8]), _b("plaintext", PT)),
        ),
        Entry(
            "IkeCipher.open",
            lambda b: b.ike_cipher(20, 128, 0, K32[:20]),
            "open",
            (_b("aad", AAD), _b("body", v["sk_body"])),
        ),
        # EspSa (a fresh SA for each call: sequence numbers and replay window)
        Entry(
            "EspSa.seal",
            lambda b: b.esp_sa(0x1234, 20, K32[:20]),
            "seal",
            (_b("payload", PT), _i("next_header", 4)),
        ),
        Entry(
            "EspSa.seal_batch",
            lambda b: b.esp_sa(0x1234, 20, K32[:20]),
            "seal_batch",
            (Arg("payloads", [PT, AAD], "list"), _i("next_header", 41)),
        ),
        Entry(
            "EspSa.open",
            lambda b: b.esp_sa(0x1234, 20, K32[:20]),
            "open",
            (_b("packet", v["esp_packet"]),),
        ),
        Entry(
            "EspSa.open_batch",
            lambda b: b.esp_sa(0x1234, 20, K32[:20]),
            "open_batch",
            (Arg("packets", [v["esp_packet"]], "list"),),
        ),
        # TestingHooks
        Entry(
            "testing.mlkem_keygen",
            lambda b: b.testing,
            "mlkem_keygen",
            (_i("method", 36), _b("seed_dz", SEED)),
            gap=True,
        ),
        Entry(
            "testing.mlkem_public_key",
            lambda b: b.testing,
            "mlkem_public_key",
            (_i("method", 36), _b("seed_dz", SEED)),
        ),
        Entry(
            "testing.mlkem_encaps",
            lambda b: b.testing,
            "mlkem_encaps",
            (_i("method", 36), _b("ek", v["mlkem_ek"]), _b("m", K32)),
            gap=True,
        ),
        Entry(
            "testing.mlkem_decaps",
            lambda b: b.testing,
            "mlkem_decaps",
            (_i("method", 36), _b("dk", v["mlkem_dk"]), _b("ct", v["mlkem_ct"])),
            gap=True,
        ),
        Entry(
            "testing.mlkem_decaps_seed",
            lambda b: b.testing,
            "mlkem_decaps_seed",
            (_i("method", 36), _b("seed_dz", SEED), _b("ct", v["mlkem_ct"])),
        ),
        Entry(
            "testing.x25519",
            lambda b: b.testing,
            "x25519",
            (_b("private", K32), _b("public", v["x25519_pub"])),
        ),
        Entry(
            "testing.x448",
            lambda b: b.testing,
            "x448",
            (_b("private", K32 + K32[:24]), _b("public", v["x448_pub"])),
        ),
        Entry(
            "testing.ecdh",
            lambda b: b.testing,
            "ecdh",
            (_i("method", 19), _b("private_scalar", K32), _b("peer", v["ecp256_pub"])),
        ),
    ]


def _inputs(rust: Backend) -> dict[str, bytes]:
    ek, dk = rust.testing.mlkem_keygen(36, SEED)
    ct, _ = rust.testing.mlkem_encaps(36, ek, K32)
    cipher = rust.ike_cipher(20, 128, 0, K32[:20])
    return {
        "tag": rust.prf(5, K32, PT)[:16],
        "aead_ct": rust.aead_seal(28, K32, K32[:12], AAD, PT),
        "x25519_pub": rust.key_exchange(31, SEED).public_key(),
        "x448_pub": rust.key_exchange(32, SEED).public_key(),
        "ecp256_pub": rust.key_exchange(19, SEED).public_key(),
        "mlkem_ek": ek,
        "mlkem_dk": dk,
        "mlkem_ct": ct,
        "sk_body": cipher.seal(AAD, K32[:8], PT),
        "esp_packet": rust.esp_sa(0x1234, 20, K32[:20]).seal(PT, 4),
    }


# Entry names and argument kinds are needed at collection time, before any backend
# computed the inputs (placeholders here; the `both` fixture has the real ones).
_NAMES = {e.name: e for e in entries(defaultdict(bytes))}


def _normal(value: Any) -> Any:
    """Results made comparable: buffers as bytes, exceptions as their class."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return type(value)
    return value


Outcome = tuple[str, Any] | tuple[str, type[BaseException], str]
"""("returns", value) or ("raises", class, text with the notes)."""


def _outcome(backend: Backend, entry: Entry, args: list[Any]) -> Outcome:
    target = entry.target(backend)
    positional = [
        a for a, spec in zip(args, entry.args, strict=True) if not spec.keyword
    ]
    keywords = {
        spec.name: a for a, spec in zip(args, entry.args, strict=True) if spec.keyword
    }
    try:
        result = getattr(target, entry.method)(*positional, **keywords)
    except (TypeError, ValueError, PqIkeError) as exc:
        notes = getattr(exc, "__notes__", [])
        return "raises", type(exc), " | ".join([str(exc), *notes])
    return "returns", _normal(entry.observe(target, result))


def _agree(entry: Entry, rust: Outcome, ref: Outcome) -> bool:
    if entry.gap and rust[0] == "returns":
        return ref[:2] == ("raises", UnsupportedTransform)
    return rust == ref


@pytest.fixture(scope="module")
def both(rust_backend: Backend, reference_backend: Backend) -> dict[str, Entry]:
    """The entries with their inputs, keyed by name."""
    return {e.name: e for e in entries(_inputs(rust_backend))}


@pytest.mark.parametrize("name", list(_NAMES))
def test_valid_arguments_agree(
    name: str,
    both: dict[str, Entry],
    rust_backend: Backend,
    reference_backend: Backend,
) -> None:
    """With bytes and ints both backends succeed and agree (gaps excepted)."""
    entry = both[name]
    args = [a.value for a in entry.args]
    rust = _outcome(rust_backend, entry, args)
    ref = _outcome(reference_backend, entry, args)
    assert rust[0] == "returns", rust
    assert _agree(entry, rust, ref), (rust, ref)


@pytest.mark.parametrize(
    ("name", "index"),
    [
        pytest.param(e.name, i, id=f"{e.name}-{a.name}")
        for e in _NAMES.values()
        for i, a in enumerate(e.args)
    ],
)
def test_argument_types_agree(
    name: str,
    index: int,
    both: dict[str, Entry],
    rust_backend: Backend,
    reference_backend: Backend,
) -> None:
    """Each accepted type gives the bytes/int result, each refused one TypeError, and
    both backends agree on every variant."""
    entry = both[name]
    spec = entry.args[index]
    plain = [a.value for a in entry.args]
    baseline = {
        "rust": _outcome(rust_backend, entry, plain),
        "reference": _outcome(reference_backend, entry, plain),
    }
    wrong: list[str] = []
    variants = [(n, f, True) for n, f in SAME[spec.kind]]
    variants += [
        (n, f, False)
        for n, f in TYPE_ERRORS[spec.kind]
        if not (spec.optional and n == "None")
    ]
    for variant, make, accepted in variants:
        args = list(plain)
        args[index] = make(spec.value)
        got = {
            "rust": _outcome(rust_backend, entry, args),
            "reference": _outcome(reference_backend, entry, args),
        }
        for backend, outcome in got.items():
            if accepted and outcome != baseline[backend]:
                wrong.append(f"{variant} on {backend}: {outcome}, not as with bytes")
            if not accepted and outcome[:2] != ("raises", TypeError):
                wrong.append(f"{variant} on {backend}: {outcome}, expected TypeError")
        if not _agree(entry, got["rust"], got["reference"]):
            wrong.append(f"{variant}: rust {got['rust']}, reference {got['reference']}")
    assert not wrong, "\n".join(wrong)


def test_type_error_names_argument(backend: Backend) -> None:
    """The TypeError says what was expected and got, and its note names the
    argument, on both backends."""
    with pytest.raises(TypeError) as info:
        backend.prf(5, "key", b"data")
    assert str(info.value) == (
        "expected a bytes-like object (bytes, bytearray or memoryview), got str"
    )
    assert "while processing 'key'" in getattr(info.value, "__notes__", [])
    with pytest.raises(TypeError, match="'float' object cannot be interpreted"):
        backend.key_exchange(31.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'bool' object cannot be interpreted"):
        backend.esp_sa(True, 20, K32[:20])
