# SPDX-License-Identifier: Apache-2.0
"""Fixtures for tests against a real strongSwan charon (see docs/interop.md).

- ``interop_tree`` (session): the strongSwan tree, built once; skips with the reason
  when this machine cannot build or run it.
- ``netns``: a fresh :class:`peer.Netns` pair, deleted after the test.
- ``charon_factory``: ``charon_factory(side, case, log_keys=False)`` starts and
  loads one charon in ``side`` of ``netns`` (the other side is free for pqike).
- ``charon_pair``: ``charon_pair(case)`` starts one in each side; left initiates.
- ``pqike_factory``: ``pqike_factory(side, case)`` starts pqike's interop driver
  (``pqike_side.py``) in ``side`` of ``netns``; stopped by PID at teardown.

Every test here is marked ``interop``.  Every charon a test starts is stopped by PID
at teardown, and when the test fails its report carries the tail of each charon's
log.  ``PQIKE_INTEROP_REQUIRE=1`` turns the skips into failures, for CI machines that
must run the suite.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

# tests/interop is not a package: pytest puts this directory on sys.path.
from peer import (
    Charon,
    CharonFactory,
    CharonPair,
    InteropUnavailableError,
    Netns,
    Side,
    TunnelCase,
    ensure_tree,
    remove_stale_namespaces,
)
from pqike_side import PqikeFactory, PqikeSide

_CHARONS = pytest.StashKey[list[Charon]]()
_PQIKES = pytest.StashKey[list[PqikeSide]]()
_TREE_RESULT: list[Path | InteropUnavailableError] = []


def _unavailable(reason: str) -> None:
    if os.environ.get("PQIKE_INTEROP_REQUIRE") == "1":
        pytest.fail(f"interop peer required but unavailable: {reason}")
    pytest.skip(f"interop peer unavailable: {reason}")


@pytest.fixture(scope="session")
def interop_tree() -> Path:
    """The strongSwan tree; built on first use, then reused from the cache."""
    if not _TREE_RESULT:
        try:
            _TREE_RESULT.append(ensure_tree())
            remove_stale_namespaces()
        except InteropUnavailableError as exc:
            _TREE_RESULT.append(exc)
    result = _TREE_RESULT[0]
    if isinstance(result, InteropUnavailableError):
        _unavailable(str(result))
        raise AssertionError("unreachable")
    return result


@pytest.fixture
def netns(interop_tree: Path) -> Iterator[Netns]:
    """Two fresh namespaces joined by veth; closed (processes stopped) afterwards."""
    try:
        pair = Netns()
    except InteropUnavailableError as exc:
        _unavailable(str(exc))
        raise AssertionError("unreachable") from exc
    with pair:
        yield pair


@pytest.fixture
def charon_factory(
    request: pytest.FixtureRequest,
    interop_tree: Path,
    netns: Netns,
    tmp_path: Path,
) -> Iterator[CharonFactory]:
    """Start one configured and loaded charon in a chosen side of ``netns``."""
    started: list[Charon] = []
    request.node.stash[_CHARONS] = started

    def start(side: Side, case: TunnelCase, *, log_keys: bool = False) -> Charon:
        label = "left" if side == netns.left else "right"
        workdir = tmp_path / f"charon-{label}"
        charon = Charon(interop_tree, netns, side, workdir, log_keys=log_keys)
        started.append(charon)
        charon.configure(case)
        charon.start()
        charon.load()
        return charon

    yield start
    for charon in reversed(started):
        charon.stop()


@pytest.fixture
def charon_pair(netns: Netns, charon_factory: CharonFactory) -> CharonPair:
    """Start a charon in each side of ``netns`` for a case; the left one initiates."""

    def start(case: TunnelCase) -> tuple[Charon, Charon]:
        return charon_factory(netns.left, case), charon_factory(netns.right, case)

    return start


@pytest.fixture
def pqike_factory(
    request: pytest.FixtureRequest, netns: Netns, tmp_path: Path
) -> Iterator[PqikeFactory]:
    """Start pqike (the interop driver) for a case in a chosen side of ``netns``."""
    pytest.importorskip("pqike.ikev2.endpoint", reason="pqike engine not installed")
    started: list[PqikeSide] = []
    request.node.stash[_PQIKES] = started

    def start(side: Side, case: TunnelCase) -> PqikeSide:
        label = "left" if side == netns.left else "right"
        pqike = PqikeSide(netns, side, tmp_path / f"pqike-{label}")
        started.append(pqike)
        pqike.configure(case)
        pqike.start()
        return pqike

    yield start
    for pqike in reversed(started):
        pqike.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this directory needs the peer: mark it ``interop``."""
    here = Path(__file__).resolve().parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.interop)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach each charon's and pqike's log tail to the report of a failed test."""
    report = yield
    if report.failed:
        for charon in item.stash.get(_CHARONS, []):
            report.sections.append((f"charon {charon.label} log", charon.log_tail()))
        for pqike in item.stash.get(_PQIKES, []):
            report.sections.append((f"pqike {pqike.label} log", pqike.log_tail()))
    return report
