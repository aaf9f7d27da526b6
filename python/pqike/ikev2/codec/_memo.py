# SPDX-License-Identifier: Apache-2.0
"""Bounded memo of encodings, keyed by the identity of an immutable tuple.

The engine sends the same configured proposals and traffic selectors in every
handshake, and keeps them as the same tuples of frozen records. Hashing such a
tuple by value calls a dataclass ``__hash__`` per element (as costly as encoding
it), so the memo is keyed by ``id()`` instead: an entry holds the tuple itself,
so that id cannot be reused by another object while the entry lives, and a hit
is checked with ``is``. Callers store only tuples whose contents are immutable
all the way down (exact codec classes holding ints and bytes), so an encoding
never goes stale.
"""

from __future__ import annotations

__all__ = ["WireMemo", "remember"]

MEMO_ENTRIES = 256
"""Entries per memo before it is emptied (a bound: peers and callers cannot grow
it; in steady state a handful of configured tuples live here)."""

WireMemo = dict[int, tuple[object, bytes]]
"""``id(key) -> (key, encoding)``; look up with ``memo.get(id(key))`` and accept
the entry only when ``entry[0] is key``."""


def remember(memo: WireMemo, key: object, encoding: bytes) -> None:
    """Store ``encoding`` for ``key`` (emptying the memo first when it is full)."""
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[id(key)] = (key, encoding)
