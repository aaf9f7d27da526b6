# SPDX-License-Identifier: Apache-2.0
"""pqike._memo: bounded memos keyed by value or by the identity of live objects."""

from __future__ import annotations

from pqike._memo import MEMO_ENTRIES, IdentityMemo, remember


def test_remember_empties_a_full_memo_first() -> None:
    memo: dict[int, int] = {}
    for n in range(MEMO_ENTRIES):
        remember(memo, n, n)
    assert len(memo) == MEMO_ENTRIES
    remember(memo, -1, -1)
    assert memo == {-1: -1}


def test_identity_memo_answers_only_for_the_same_object() -> None:
    memo: IdentityMemo[str] = IdentityMemo()
    key = (1, 2)
    memo.put(key, "derived")
    assert memo.get(key) == "derived"
    assert key in memo
    other = tuple([1, 2])  # equal, not the same object
    assert memo.get(other) is None


def test_identity_memo_keeps_its_keys_alive() -> None:
    # If entries held only ids, a freed key's id could be reused by a new object
    # and answer for it; the entry holds the key, so its id stays taken.
    memo: IdentityMemo[int] = IdentityMemo()
    memo.put(tuple([7, 8]), 1)
    fresh = [tuple([n, n + 1]) for n in range(1000)]
    assert all(memo.get(t) is None for t in fresh)


def test_pairs_and_bound() -> None:
    memo: IdentityMemo[bool] = IdentityMemo()
    a, b = tuple([1]), tuple([2])
    memo.put2(a, b, False)
    assert memo.get2(a, b) is False
    assert memo.get2(b, a) is None
    for n in range(3 * MEMO_ENTRIES):
        memo.put2(tuple([n]), b, True)
    assert len(memo) <= MEMO_ENTRIES
