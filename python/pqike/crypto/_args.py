# SPDX-License-Identifier: Apache-2.0
"""Argument rules of the crypto API, for the pure-Python code (docs/contracts.md §2).

Both backends follow the same rules; the Rust backend applies them in its PyO3 glue
(``rust/pqike-py/src/args.rs`` and ``errors.rs``) with the same exception texts:

* byte strings: ``bytes`` or any object exporting a buffer of unsigned bytes
  (``bytearray``, ``memoryview``, ``array.array("B")``); anything else, ``str``
  included, is a TypeError;
* integers (IDs, key sizes, lengths, SPIs, counters): ``int`` or an object with
  ``__index__``, but not ``bool``; a ``float`` is a TypeError;
* flags: ``bool`` only.

A TypeError raised for an argument carries the note ``while processing '<name>'``, as
PyO3 adds it on the Rust backend.

When several arguments are wrong, both backends report the first in this order: each
argument in turn, its type and the range of its type (a transform ID within 0..65535,
a length within 0..2^64-1, as PyO3 converts into ``u16``/``usize``), then the checks
that need several arguments (a Key Length for its ENCR, key lengths, SPI lengths).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import SupportsIndex

from pqike.errors import InvalidLength, UnsupportedTransform

__all__ = [
    "BytesLike",
    "byteslike",
    "byteslike_list",
    "check_flag",
    "integer",
    "length",
    "transform_id",
]

_MAX_LENGTH = (1 << 64) - 1
"""Largest length argument: the Rust backend's ``usize`` on 64-bit platforms."""

BytesLike = bytes | bytearray | memoryview
"""What a byte-string argument of the crypto API accepts (for type checkers)."""

_BYTE_FORMATS = frozenset({"B", "c"})


def _named(exc: TypeError, name: str) -> TypeError:
    exc.add_note(f"while processing '{name}'")
    return exc


def byteslike(value: object, name: str) -> bytes:
    """Return the octets of a bytes-like argument (``value`` itself if it is bytes).

    Raises:
        TypeError: no buffer, or one whose items are not unsigned bytes.
    """
    if type(value) is bytes:
        return value
    if isinstance(value, bytes):
        return bytes(value)
    try:
        view = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        raise _named(
            TypeError(
                "expected a bytes-like object (bytes, bytearray or memoryview), "
                f"got {type(value).__name__}"
            ),
            name,
        ) from None
    with view:
        if view.itemsize != 1 or view.format not in _BYTE_FORMATS:
            raise _named(
                TypeError(
                    "expected a buffer of unsigned bytes (format 'B'), got "
                    f"{type(value).__name__} of format '{view.format}'"
                ),
                name,
            )
        return view.tobytes()


def byteslike_list(values: object, name: str) -> list[bytes]:
    """Return the octets of each item of a sequence of bytes-like arguments.

    Raises:
        TypeError: ``values`` is a str or no sequence, or an item is not bytes-like.
    """
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise _named(
            TypeError(
                "expected a sequence of bytes-like objects, got "
                f"{type(values).__name__}"
            ),
            name,
        )
    return [byteslike(value, name) for value in values]


def integer(value: SupportsIndex, name: str) -> int:
    """Return an integer argument as an ``int`` (``operator.index``, as PyO3 converts).

    Without this an ID of ``None``, ``"20"`` or ``20.0`` would be looked up (and
    ``True`` taken for 1) instead of being refused as the Rust backend refuses it.

    Raises:
        TypeError: a bool, or an object without ``__index__`` (float, str, None).
    """
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise _named(
            TypeError("'bool' object cannot be interpreted as an integer"), name
        )
    try:
        return operator.index(value)
    except TypeError as exc:
        raise _named(exc, name) from None


def transform_id(value: SupportsIndex, name: str, transform_type: int) -> int:
    """Return an IANA transform ID argument (``integer``, then 0..65535).

    Raises:
        TypeError: not an integer (see ``integer``).
        UnsupportedTransform: outside 0..65535, as an unknown ID of ``transform_type``
            (the Rust backend's ``u16`` conversion).
    """
    value = integer(value, name)
    if not 0 <= value <= 0xFFFF:
        raise UnsupportedTransform(transform_type, value)
    return value


def length(value: SupportsIndex, name: str) -> int:
    """Return a length argument in octets (``integer``, then 0..2^64-1).

    Raises:
        TypeError: not an integer (see ``integer``).
        InvalidLength: negative or beyond 2^64 - 1 (the Rust backend's ``usize``).
    """
    value = integer(value, name)
    if not 0 <= value <= _MAX_LENGTH:
        raise InvalidLength(
            f"a length must be an integer in [0, {_MAX_LENGTH}], got {value}"
        )
    return value


def check_flag(value: object, name: str) -> None:
    """Raise TypeError unless ``value`` is a bool (as PyO3 converts a ``bool``)."""
    if not isinstance(value, bool):
        raise _named(
            TypeError(f"'{type(value).__name__}' object is not an instance of 'bool'"),
            name,
        )
