# SPDX-License-Identifier: Apache-2.0
"""pqike.bench.loopback: the CPU split, the CPU accounting, and a pinned run whose
processes really ran where the split put them. Speed is not checked."""

from __future__ import annotations

import os

import pytest

from pqike.bench import loopback
from pqike.bench.loopback import Pinning, busy_shares, cpu_jiffies, run_loopback

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity"), reason="no os.sched_getaffinity here"
)
needs_two_cpus = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning needs two usable CPUs",
)


def _usable(monkeypatch: pytest.MonkeyPatch, cpus: set[int]) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus)


@needs_affinity
def test_pinning_gives_the_lowest_cpu_to_the_responder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _usable(monkeypatch, {3, 1, 2})
    assert loopback.pinning() == Pinning(responder=(1,), initiators=(2, 3))
    assert loopback.pinning(True) == Pinning(responder=(1,), initiators=(2, 3))
    assert loopback.pinning(False) is None


@needs_affinity
def test_pinning_with_one_cpu_is_off_by_default_and_refused_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _usable(monkeypatch, {0})
    assert loopback.pinning() is None
    with pytest.raises(ValueError, match="two usable CPUs"):
        loopback.pinning(True)


def test_busy_shares_per_cpu() -> None:
    before = {0: (100, 1000), 1: (500, 1000)}
    after = {0: (190, 1100), 1: (510, 1100), 2: (7, 9)}
    assert busy_shares(before, after) == {0: 0.9, 1: 0.1}


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="no /proc/stat")
def test_cpu_jiffies_has_every_cpu() -> None:
    ticks = cpu_jiffies()
    assert set(ticks) >= set(os.sched_getaffinity(0))
    assert all(0 <= busy <= total for busy, total in ticks.values())


@needs_two_cpus
def test_pinned_run_puts_each_side_on_its_cpus() -> None:
    split = loopback.pinning(True)
    assert split is not None
    row = run_loopback("x25519", "rust", 2, 4, 10.0, pin=split).as_dict()
    assert row["failed"] == 0
    assert row["handshakes"] == row["responder_children"] == 4
    assert row["pinned"] is True
    assert row["responder_cpus"] == list(split.responder)
    assert row["initiator_cpus"] == list(split.initiators)
    assert row["responder_cpu_ms_per_handshake"] > 0
    assert row["initiator_cpu_ms_per_handshake"] > 0
    assert row["initiator_cpu_share"] > 0
    # a run this short may end within one /proc/stat tick: then no share (None)
    assert all(0 <= share <= 1 for share in row["cpu_busy"].values())
    assert row["responder_core_busy"] is None or 0 <= row["responder_core_busy"] <= 1


@needs_affinity
def test_unpinned_run_reports_no_core_shares() -> None:
    row = run_loopback("x25519", "rust", 1, 2, 10.0, pin=False).as_dict()
    assert row["failed"] == 0
    assert row["pinned"] is False
    assert row["responder_cpus"] == sorted(os.sched_getaffinity(0))
    assert row["responder_core_busy"] is None
    assert row["initiator_cores_busy"] is None
    assert row["responder_rss_bytes_per_sa"] is None  # 2 SAs say nothing about RSS
