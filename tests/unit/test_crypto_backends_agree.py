# SPDX-License-Identifier: Apache-2.0
"""Both backends raise the same exception class for the same wrong call, also when
several arguments are wrong at once (docs/contracts.md §2, ``pqike.crypto._args``).

Each argument is checked in turn with the range of its type (a transform ID within
0..65535, a length within 0..2^64-1, the ESP fields), then what relates arguments. The
cases below each broke that rule on one backend: the Rust backend reports an argument's
range as it converts it, the reference backend reported every type first, or checked
the SPIs of an IKE rekey before its suite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pqike.crypto import Backend, Keymat
from pqike.errors import (
    InvalidKeyExchangeData,
    InvalidLength,
    UnsupportedTransform,
)

Call = Callable[[Backend], object]
STR: Any = "s"
"""A str where an int or a byte string belongs (typed Any: the type is the point)."""


def _keymat(b: Backend) -> Keymat:
    return b.keymat_derive(5, 20, 128, 0, b"g", b"n", b"m", bytes(8), bytes(8))


CASES: list[tuple[str, Call, type[Exception]]] = [
    # An ID beyond 16 bits before a later argument's type.
    (
        "ke id range, seed type",
        lambda b: b.key_exchange(70000, STR),
        UnsupportedTransform,
    ),
    (
        "prf+ unknown prf, length -1",
        lambda b: b.prf_plus(99, b"k", b"s", -1),
        InvalidLength,
    ),
    (
        "child length -1, ni type",
        lambda b: _keymat(b).child_keymat(-1, STR, b""),
        InvalidLength,
    ),
    (
        "child length -1, list type",
        lambda b: _keymat(b).child_keymat(-1, b"", b"", STR),
        InvalidLength,
    ),
    # The new suite before the SPIs, before the secrets (as derive does).
    (
        "rekey suite, spi",
        lambda b: _keymat(b).rekey_ike(
            [b"s"], b"", b"", bytes(3), bytes(8), 5, 20, 100, 0
        ),
        UnsupportedTransform,
    ),
    (
        "rekey spi, no secret",
        lambda b: _keymat(b).rekey_ike([], b"", b"", bytes(3), bytes(8), 5, 20, 128, 0),
        InvalidLength,
    ),
    # ESP: each field's range when it is converted, initial_seq's upper end (it depends
    # on esn), the ENCR, the key.
    (
        "esp window range, initial_seq type",
        lambda b: b.esp_sa(1, 20, bytes(20), replay_window=5, initial_seq=STR),
        ValueError,
    ),
    (
        "esp encr range, initial_seq 0",
        lambda b: b.esp_sa(1, 70000, bytes(20), initial_seq=0),
        UnsupportedTransform,
    ),
    (
        "esp spi 0, key type",
        lambda b: b.esp_sa(0, 20, STR),
        ValueError,
    ),
    (
        "esp encr 12, initial_seq 2^32",
        lambda b: b.esp_sa(1, 12, bytes(5), initial_seq=1 << 32),
        ValueError,
    ),
]


@pytest.mark.parametrize(
    ("call", "error"),
    [pytest.param(call, error, id=name) for name, call, error in CASES],
)
def test_same_class_on_both_backends(
    backend: Backend, call: Call, error: type[Exception]
) -> None:
    """Exactly ``error`` (its subclasses UnsupportedTransform and InvalidLength of
    ValueError do not count as a ValueError here)."""
    with pytest.raises(error) as info:
        call(backend)
    assert type(info.value) is error


@pytest.mark.parametrize(
    ("hook", "args", "error"),
    [
        # A KE method of the wrong kind is UnsupportedTransform (the Rust backend raised
        # a plain ValueError, "invalid state").
        ("ecdh", (31, bytes(32), bytes(64)), UnsupportedTransform),
        ("mlkem_keygen", (19, bytes(64)), UnsupportedTransform),
        ("mlkem_encaps", (31, bytes(32), bytes(32)), UnsupportedTransform),
        ("mlkem_decaps", (32, bytes(64), bytes(3)), UnsupportedTransform),
        ("mlkem_public_key", (21, bytes(64)), UnsupportedTransform),
        # m's length before the ek checks.
        ("mlkem_encaps", (36, bytes(3), bytes(3)), InvalidLength),
        ("mlkem_encaps", (36, b"\xff" * 1184, bytes(32)), InvalidKeyExchangeData),
    ],
)
def test_testing_hooks_raise_the_same_class(
    backend: Backend, hook: str, args: tuple[object, ...], error: type[Exception]
) -> None:
    """The known-answer hooks follow the same rule."""
    with pytest.raises(error) as info:
        getattr(backend.testing, hook)(*args)
    assert type(info.value) is error
