# SPDX-License-Identifier: Apache-2.0
"""``pqike bench`` as a process, stopped in the middle of its loopback part: it stops
the responder and initiator processes it started and exits 130 (SIGINT) or 143
(SIGTERM); when it is killed outright, its workers notice the closed control pipe
and exit by themselves. Nothing prints a traceback.

Every process is watched through a pidfd, opened while it is our child's child, so
a recycled PID cannot be mistaken for it; whatever is still running at the end is
killed through its pidfd."""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pqike.crypto import available_backends

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0

pytestmark = [
    pytest.mark.skipif(
        not hasattr(os, "pidfd_open") or not os.path.exists("/proc/self/task"),
        reason="needs Linux pidfds and /proc",
    ),
    pytest.mark.skipif("rust" not in available_backends(), reason="no Rust backend"),
]

BENCH = [
    "--log-level",
    "info",
    "bench",
    "--suites",
    "x25519",
    "--backends",
    "rust",
    "--parts",
    "loopback",
    "--concurrency",
    "1",
    "--count",
    "100000000",
    "--duration",
    "3600",
    "--no-progress",
]
"""A loopback run that goes on until it is stopped."""

IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'pqike.cli.main', *sys.argv[1:]])"
)
"""Starts ``pqike`` with SIGINT ignored, as a shell starts a background job (``pqike
bench &``): it used to run to its end and exit 0."""

RUNNING = re.compile(rb"loopback x1: responder process (\d+), initiator processes")


class Bench:
    """``pqike bench`` in a session (process group) of its own."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", IGNORING_SIGINT, *BENCH],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self.err = b""
        self.pidfds: dict[int, int] = {}

    def read_err_until(self, pattern: re.Pattern[bytes]) -> bool:
        """Read stderr until ``pattern`` matches; False on EOF or TIMEOUT."""
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + TIMEOUT
        while not pattern.search(self.err):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return False
            chunk = os.read(fd, 65536)
            if not chunk:
                return False
            self.err += chunk
        return True

    def children(self) -> set[int]:
        """The PIDs of the bench's child processes now (from /proc)."""
        pids: set[int] = set()
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids.update(int(p) for p in (task / "children").read_text().split())
            except OSError:  # the task ended meanwhile
                continue
        return pids

    def watch_children(self) -> None:
        """Open a pidfd for every child process (while they are still ours)."""
        for pid in self.children():
            if pid not in self.pidfds:
                try:
                    self.pidfds[pid] = os.pidfd_open(pid)
                except ProcessLookupError:  # already gone
                    continue

    def running_children(self, timeout: float) -> list[int]:
        """The watched children still running after waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        running = dict(self.pidfds)
        while running:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select(list(running.values()), [], [], left)
            for pid in [p for p, fd in running.items() if fd in ready]:
                del running[pid]
            if not ready:
                break
        return sorted(running)

    def stderr_to_end(self, timeout: float = TIMEOUT) -> str:
        """stderr up to its end, or what came within ``timeout`` seconds: a worker
        left running holds the pipe open (0: what is there now)."""
        assert self.proc.stderr is not None
        self.err += _read_to_end(self.proc.stderr.fileno(), timeout)
        return self.err.decode(errors="replace")

    def clean_up(self) -> None:
        """Kill whatever is left: the bench by its handle, its children by pidfd."""
        if self.proc.poll() is None:
            self.watch_children()
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        for pid in self.running_children(0):
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfds[pid], signal.SIGKILL)
        for fd in self.pidfds.values():
            os.close(fd)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def _read_to_end(fd: int, timeout: float) -> bytes:
    """Read ``fd`` until EOF or until ``timeout`` seconds have passed."""
    out = b""
    deadline = time.monotonic() + timeout
    while True:
        left = max(0.0, deadline - time.monotonic())
        if not select.select([fd], [], [], left)[0]:
            return out
        chunk = os.read(fd, 65536)
        if not chunk:
            return out
        out += chunk


@pytest.fixture
def bench() -> Iterator[Bench]:
    running = Bench()
    try:
        yield running
    finally:
        running.clean_up()


def _start_loopback(bench: Bench) -> int:
    """Wait until the loopback workers run; the responder's PID."""
    assert bench.read_err_until(RUNNING), bench.err.decode(errors="replace")
    match = RUNNING.search(bench.err)
    assert match is not None
    bench.watch_children()
    responder = int(match.group(1))
    assert responder in bench.pidfds, (responder, bench.pidfds)
    # the responder, the initiator process, multiprocessing's resource tracker
    assert len(bench.pidfds) >= 3, bench.pidfds
    return responder


@pytest.mark.parametrize(
    ("sig", "to_group", "status"),
    [
        pytest.param(signal.SIGINT, True, 130, id="SIGINT-to-the-group"),
        pytest.param(signal.SIGTERM, False, 143, id="SIGTERM-to-the-bench"),
    ],
)
def test_signal_stops_the_workers_and_exits_128_plus_signal(
    bench: Bench, sig: int, to_group: bool, status: int
) -> None:
    _start_loopback(bench)
    if to_group:  # as Ctrl-C in a terminal: the workers get it too
        os.killpg(bench.proc.pid, sig)
    else:
        bench.proc.send_signal(sig)
    assert bench.proc.wait(TIMEOUT) == status, bench.stderr_to_end(0)
    assert bench.running_children(TIMEOUT) == [], bench.stderr_to_end(0)
    err = bench.stderr_to_end()
    assert f"interrupted by signal {sig}" in err
    assert "Traceback" not in err, err
    assert bench.proc.stdout is not None
    # no tables from a stopped run
    assert _read_to_end(bench.proc.stdout.fileno(), TIMEOUT) == b""


def test_workers_exit_by_themselves_when_the_bench_is_killed(bench: Bench) -> None:
    _start_loopback(bench)
    bench.proc.kill()  # no clean-up of its own: the control pipes close
    assert bench.proc.wait(TIMEOUT) == -signal.SIGKILL
    assert bench.running_children(TIMEOUT) == [], bench.stderr_to_end(0)
    err = bench.stderr_to_end()
    assert "Traceback" not in err, err
    assert "EOFError" not in err, err
