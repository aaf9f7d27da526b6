# SPDX-License-Identifier: Apache-2.0
"""Two ``pqike`` processes on loopback: ``respond`` and ``initiate`` from TOML files.

Ports are picked free; the responder is stopped by its PID (SIGTERM, SIGKILL only if
it does not exit in time)."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pqike.cli.common import free_udp_ports
from pqike.crypto import available_backends

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0

RESPONDER = """
listen = ["127.0.0.1"]
port = {r_ike}
natt_port = {r_natt}

[connections.lab]
remote_addrs = ["%any"]
remote_port = {i_ike}
local_id = "fqdn:responder.pq.test"
remote_id = "fqdn:initiator.pq.test"
psk_file = "psk.txt"
ike_proposals = ["aes256gcm16-prfsha384-x25519-ke1_mlkem768"]

[connections.lab.children.net]
local_ts = ["10.2.0.0/24"]
remote_ts = ["10.1.0.0/24"]
"""

INITIATOR = """
listen = ["127.0.0.1"]
port = {i_ike}
natt_port = {i_natt}

[connections.lab]
remote_addrs = ["127.0.0.1"]
remote_port = {r_ike}
remote_natt_port = {r_natt}
local_id = "fqdn:initiator.pq.test"
remote_id = "fqdn:responder.pq.test"
psk_env = "PQIKE_TEST_PSK"
ike_proposals = ["aes256gcm16-prfsha384-x25519-ke1_mlkem768"]
retransmit_timeout = 1.0
retransmit_tries = 2

[connections.lab.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
"""

PSK = "two processes, one key"


def _command(backend: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "pqike.cli.main", "--backend", backend, *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT / "python"), PQIKE_TEST_PSK=PSK)


class Responder:
    """A ``pqike respond`` child process whose stdout lines are read by a thread."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> bool:
        """Read lines until one contains ``text``; False on timeout or exit."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                return False
            self.seen.append(line)
            if text in line:
                return True

    def stop(self) -> int:
        """SIGTERM by PID, then SIGKILL if it has not exited after 10 s."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=10)


@pytest.fixture
def backend_name() -> str:
    names = available_backends()
    if not names:
        pytest.skip("no crypto backend can be loaded")
    return names[0]


@pytest.fixture
def configs(tmp_path: Path) -> tuple[Path, Path]:
    r_ike, r_natt, i_ike, i_natt = free_udp_ports(4)
    ports = {"r_ike": r_ike, "r_natt": r_natt, "i_ike": i_ike, "i_natt": i_natt}
    (tmp_path / "psk.txt").write_text(PSK + "\n")
    (tmp_path / "psk.txt").chmod(0o600)
    responder = tmp_path / "responder.toml"
    initiator = tmp_path / "initiator.toml"
    responder.write_text(RESPONDER.format(**ports))
    initiator.write_text(INITIATOR.format(**ports))
    return responder, initiator


@pytest.fixture
def responder(configs: tuple[Path, Path], backend_name: str) -> Iterator[Responder]:
    proc = Responder(_command(backend_name, "respond", "-c", str(configs[0])))
    try:
        assert proc.wait_for("responder ready"), proc.seen
        yield proc
    finally:
        proc.stop()


def test_initiate_once_with_ping_against_a_responder_process(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    result = subprocess.run(
        _command(
            backend_name,
            "initiate",
            "-c",
            str(configs[1]),
            "lab",
            "--once",
            "--ping",
            "3",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    initiator_line = (
        r"established as initiator with \S+: AES_GCM_16_256/PRF_HMAC_SHA2_384"
    )
    assert re.search(initiator_line, out), out
    assert "ADDKE1=ML_KEM_768" in out
    assert "up: IKE SA and child established" in out
    assert "3/3 replies through the tunnel" in out
    assert "closed" in out
    assert responder.wait_for("established as responder"), responder.seen
    assert responder.wait_for("deleted by peer"), responder.seen
    assert responder.stop() == 0
    assert responder.wait_for("responder stopped", timeout=5), responder.seen


def test_initiate_stays_up_until_sigterm(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    initiator = Responder(
        _command(backend_name, "initiate", "-c", str(configs[1]), "lab")
    )
    try:
        assert initiator.wait_for("connection up; SIGINT or SIGTERM"), initiator.seen
        assert initiator.stop() == 0
        assert initiator.wait_for("closed", timeout=5), initiator.seen
    finally:
        initiator.stop()
    assert responder.wait_for("deleted by peer"), responder.seen


def test_initiate_fails_with_exit_1_when_nobody_answers(
    configs: tuple[Path, Path], backend_name: str
) -> None:
    result = subprocess.run(
        _command(
            backend_name, "initiate", "-c", str(configs[1]), "lab", "--timeout", "20"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout


def _initiate(
    backend: str, config: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(backend, "initiate", "-c", str(config), "lab", *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )


def _variant(config: Path, old: str, new: str) -> Path:
    """A copy of ``config`` with one line replaced."""
    text = config.read_text()
    assert old in text
    path = config.with_name(f"variant-{len(list(config.parent.iterdir()))}.toml")
    path.write_text(text.replace(old, new))
    return path


def test_refused_child_fails_at_once_and_deletes_the_ike_sa(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    # The responder's selectors do not cover 10.9.0.0/24: TS_UNACCEPTABLE.
    config = _variant(
        configs[1], 'remote_ts = ["10.2.0.0/24"]', 'remote_ts = ["10.9.0.0/24"]'
    )
    result = _initiate(backend_name, config, "--timeout", "25", timeout=20)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "FAILED: the peer refused Child SA 'net'" in out
    assert "Child SA #0" not in out
    assert "could not be created" in out
    assert "IKE SA #1 deleted" in out
    assert responder.wait_for("deleted by peer"), responder.seen


def test_transport_mode_refused_shows_mode_esn_and_warns(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    config = _variant(
        configs[1],
        'remote_ts = ["10.2.0.0/24"]',
        'remote_ts = ["10.2.0.0/24"]\nmode = "transport"',
    )
    result = _initiate(backend_name, config, "--once")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "up: tunnel mode, ESP AES_GCM_16_256, ESN off," in out
    assert "warning: Child SA 'net' asked for transport mode" in out


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_signal_while_connecting_stops_at_once(
    configs: tuple[Path, Path], backend_name: str, sig: int, status: int
) -> None:
    initiator = Responder(
        _command(backend_name, "initiate", "-c", str(configs[1]), "lab")
    )
    try:
        assert initiator.wait_for("initiating 'lab'"), initiator.seen
        os.kill(initiator.proc.pid, sig)
        assert initiator.proc.wait(timeout=5) == status
        assert initiator.wait_for("interrupted by signal", timeout=5), initiator.seen
    finally:
        initiator.stop()


def test_respond_keeps_unauthenticated_exchanges_off_stdout(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with flood:
        capture = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with capture:
            # An IKE_SA_INIT request as the initiator sends it, replayed under
            # 20 fresh SPIs: 20 half-open SAs that never get further.
            capture.bind(("127.0.0.1", 0))
            capture.settimeout(10)
            target = _variant(
                configs[1],
                "remote_port = ",
                f"remote_port = {capture.getsockname()[1]}\n#",
            )
            proc = subprocess.Popen(
                _command(backend_name, "initiate", "-c", str(target), "lab"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=_env(),
            )
            try:
                request, _ = capture.recvfrom(65535)
            finally:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
        port = int(configs[0].read_text().split("port = ")[1].split()[0])
        for _ in range(20):
            flood.sendto(os.urandom(8) + request[8:], ("127.0.0.1", port))
    result = _initiate(backend_name, configs[1], "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    assert responder.wait_for("deleted by peer"), responder.seen
    # Only the authenticated SA's exchanges are printed.
    inits = [line for line in responder.seen if "IKE_SA_INIT done" in line]
    assert len(inits) == 1, responder.seen
    assert any("established as responder" in line for line in responder.seen)


def test_respond_shows_authentication_failures(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    wrong = _variant(configs[1], "psk_env", 'psk = "not the key"\n#')
    assert _initiate(backend_name, wrong, "--timeout", "10").returncode == 1
    assert responder.wait_for("failed"), responder.seen


def test_unexpected_error_after_establishment_still_deletes_the_ike_sa(
    responder: Responder,
    configs: tuple[Path, Path],
    backend_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pqike.cli import peer_session
    from pqike.cli.main import main

    async def broken_ping(*_args: object) -> bool:
        raise RuntimeError("ping broke")

    monkeypatch.setenv("PQIKE_TEST_PSK", PSK)
    monkeypatch.setattr(peer_session, "_ping", broken_ping)
    argv = ["--backend", backend_name, "initiate", "-c", str(configs[1]), "lab"]
    with pytest.raises(RuntimeError, match="ping broke"):
        main([*argv, "--ping", "1"])
    assert responder.wait_for("established as responder"), responder.seen
    assert responder.wait_for("deleted by peer", timeout=10), responder.seen


def _has_line(out: bytes, text: bytes) -> bool:
    at = out.find(text)
    return at >= 0 and b"\n" in out[at:]


def _read_until(proc: subprocess.Popen[bytes], text: str) -> str:
    """What ``proc`` printed up to the end of the line containing ``text`` (its
    newline may come in a write of its own); less if it exits or TIMEOUT seconds pass
    first. The pipe stays open."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = b""
    deadline = time.monotonic() + TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not _has_line(out, text.encode()):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
    return out.decode()


def _close_stdout_after(backend: str, config: Path, last_read: str) -> None:
    """Run ``initiate`` on a pipe, close the pipe once ``last_read`` is printed (the
    reader goes away, as with ``pqike initiate ... | head -4``), and check that it
    exits 1 saying why."""
    proc = subprocess.Popen(
        _command(backend, "initiate", "-c", str(config), "lab"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        out = _read_until(proc, last_read)
        assert last_read in out, out
        proc.stdout.close()
        status = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert status == 1, err
    assert "Traceback" not in err
    assert "stdout was closed" in err


def test_closed_stdout_deletes_the_ike_sa_and_exits_1(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    # Closed once the SA is up and every line is printed: there is nothing more to
    # write, so only the closed pipe itself can tell (it used to wait for ever).
    _close_stdout_after(
        backend_name, configs[1], "connection up; SIGINT or SIGTERM closes it"
    )
    assert responder.wait_for("deleted by peer"), responder.seen


def test_closed_stdout_while_connecting_exits_1(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    # Closed as it starts: stops as on SIGTERM (a Delete only if the SA got up
    # meanwhile), but with status 1 like any broken pipe.
    _close_stdout_after(backend_name, configs[1], "initiating 'lab'")


def test_respond_keeps_refused_sa_inits_off_stdout(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    # No proposal the responder accepts: refused in IKE_SA_INIT, three times.
    refused = _variant(
        configs[1],
        'ike_proposals = ["aes256gcm16-prfsha384-x25519-ke1_mlkem768"]',
        'ike_proposals = ["aes128gcm16-prfsha256-x25519"]',
    )
    for _ in range(3):
        assert _initiate(backend_name, refused, "--timeout", "10").returncode == 1
    result = _initiate(backend_name, configs[1], "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    assert responder.wait_for("deleted by peer"), responder.seen
    assert not [line for line in responder.seen if "failed" in line], responder.seen


def test_ping_1000_is_paced_and_every_reply_comes_back(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    # Sent in one burst, only ~256 fitted into the responder's socket buffer.
    result = _initiate(backend_name, configs[1], "--once", "--ping", "1000")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "1000/1000 replies through the tunnel" in out


def _ports(config: Path) -> set[int]:
    text = config.read_text()
    return {
        int(text.split(f"\n{key} = ")[1].split()[0]) for key in ("port", "natt_port")
    }


def test_established_lines_show_the_peer_address(
    responder: Responder, configs: tuple[Path, Path], backend_name: str
) -> None:
    result = _initiate(backend_name, configs[1], "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    assert responder.wait_for("established as responder"), responder.seen
    pattern = r"established as (\w+) with 127\.0\.0\.1:(\d+): AES_GCM_16_256"
    seen = re.search(pattern, responder.seen[-1])
    assert seen is not None, responder.seen
    assert seen.group(1) == "responder"
    assert int(seen.group(2)) in _ports(configs[1]), responder.seen
    seen = re.search(pattern, result.stdout)
    assert seen is not None, result.stdout
    assert seen.group(1) == "initiator"
    assert int(seen.group(2)) in _ports(configs[0]), result.stdout


def test_timeout_names_the_peer_and_the_unanswered_exchange(
    configs: tuple[Path, Path], backend_name: str
) -> None:
    # Nobody listens; --timeout ends it before the retransmissions run out.
    result = _initiate(backend_name, configs[1], "--timeout", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    r_ike = int(configs[0].read_text().split("\nport = ")[1].split()[0])
    assert (
        f"FAILED: timed out after 2 s: no response from 127.0.0.1:{r_ike} to "
        "IKE_SA_INIT (request sent "
    ) in result.stdout
    assert "exchanges done: none; IKE SA connecting)" in result.stdout


class SilentResponder:
    """The responder's engine on its sockets, in a thread of this process, with no
    echo host behind its tunnels: IKE works, pings are never answered."""

    def __init__(self, config: Path, backend: str) -> None:
        from pqike.config import load

        self.config = load(config)
        self.backend = backend
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopped: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        from pqike.cli.common import start_peer

        peer = await start_peer(self.config, self.backend)
        try:
            self.loop = asyncio.get_running_loop()
            self.stopped = asyncio.Event()
            self.ready.set()
            await self.stopped.wait()
        finally:
            await peer.transport.close()

    def stop(self) -> None:
        if self.loop is not None and self.stopped is not None:
            self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


def test_sigint_during_ping_says_it_was_interrupted(
    configs: tuple[Path, Path], backend_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PQIKE_TEST_PSK", PSK)
    silent = SilentResponder(configs[0], backend_name)
    try:
        assert silent.ready.wait(TIMEOUT)
        assert silent.error is None, silent.error
        ping = ["--ping", "5", "--timeout", "120"]
        initiator = Responder(
            _command(backend_name, "initiate", "-c", str(configs[1]), "lab", *ping)
        )
        try:
            assert initiator.wait_for("up: IKE SA and child"), initiator.seen
            os.kill(initiator.proc.pid, signal.SIGINT)
            assert initiator.proc.wait(timeout=TIMEOUT) == 130
            assert initiator.wait_for("0/5 replies through the tunnel"), initiator.seen
            assert initiator.wait_for("ping interrupted by signal 2"), initiator.seen
        finally:
            initiator.stop()
    finally:
        silent.stop()
