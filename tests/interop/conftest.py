# SPDX-License-Identifier: Apache-2.0
"""Fixtures for tests against a real strongSwan charon (see docs/interop.md).

- ``interop_tree`` (session): the strongSwan tree, built once; skips with the reason
  when this machine cannot build or run it.
- ``netns``: a fresh :class:`peer.Netns` pair, deleted after the test.
- ``charon_factory``: ``charon_factory(side, case, log_keys=False)`` starts and
  loads one charon in ``side`` of ``netns`` (the other side is free for pqike).
- ``charon_pair``: ``charon_pair(case)`` starts one in each side; left initiates.

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

_CHARONS = pytest.StashKey[list[Charon]]()
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
    """Attach each charon's log tail to the report of a failed test."""
    report = yield
    if report.failed:
        for charon in item.stash.get(_CHARONS, []):
            report.sections.append((f"charon {charon.label} log", charon.log_tail()))
    return report
