# SPDX-License-Identifier: Apache-2.0
"""Bounded memos for the handshake path (issue #5).

The engine meets the same configured proposals, selectors and negotiated choices in
every handshake, and the codec the same octets. Two kinds of memo remember what is
derived from them:

* :func:`remember` stores into a plain dict keyed by value (octets, ints, tuples of
  those), emptying it first when it is full: peers cannot grow it.
* :class:`IdentityMemo` keys by the *identity* of immutable objects (tuples of frozen
  records, read-only maps): hashing those by value costs about as much as the work
  saved. Each entry keeps its key objects alive, so an id cannot be reused by another
  object while the entry exists, and a hit is checked with ``is``. Callers store only
  values derived from objects that cannot change.

Neither remembers failures: a caller stores a result only after computing it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

__all__ = ["MEMO_ENTRIES", "IdentityMemo", "remember"]

MEMO_ENTRIES = 256
"""Entries per memo before it is emptied (in steady state a handful live there)."""

_K = TypeVar("_K")
_V = TypeVar("_V")


def remember(memo: dict[_K, _V], key: _K, value: _V) -> None:
    """Store ``value`` under ``key``, emptying ``memo`` first when it is full."""
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[key] = value


class IdentityMemo(Generic[_V]):
    """Values derived from one object (:meth:`get`/:meth:`put`) or from a pair of
    objects (:meth:`get2`/:meth:`put2`), by identity; one form per memo."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[Any, ...]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None

    def get(self, key: object) -> _V | None:
        """The value stored for ``key`` (this very object), or None."""
        entry = self._entries.get(id(key))
        if entry is not None and entry[0] is key:
            value: _V = entry[1]
            return value
        return None

    def put(self, key: object, value: _V) -> None:
        """Remember ``value`` for ``key``, which the entry keeps alive."""
        remember(self._entries, id(key), (key, value))

    def get2(self, a: object, b: object) -> _V | None:
        """The value stored for the pair ``(a, b)`` (these very objects), or None."""
        entry = self._entries.get((id(a), id(b)))
        if entry is not None and entry[0] is a and entry[1] is b:
            value: _V = entry[2]
            return value
        return None

    def put2(self, a: object, b: object, value: _V) -> None:
        """Remember ``value`` for the pair ``(a, b)``, which the entry keeps alive."""
        remember(self._entries, (id(a), id(b)), (a, b, value))
