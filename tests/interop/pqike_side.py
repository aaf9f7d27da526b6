# SPDX-License-Identifier: Apache-2.0
"""pqike as the interop peer of charon: a small driver process and its test-side handle.

The driver (``python pqike_side.py serve ...``) runs inside one namespace of a
:class:`peer.Netns`, started with ``Netns.popen`` so the harness stops it by PID.  It
is pqike's own engine on its own sockets (``IkeEndpoint`` + ``UdpTransport``) plus:

- an ICMP echo host behind every Child SA (``pqike.cli.common.echo_reply``): echo
  requests that arrive through ESP are answered through the same Child SA;
- a JSON-lines event file, one line per engine event (``{"type": "IkeEstablished",
  ...}``, bytes as hex), which the test reads;
- a control socket (Unix stream, one JSON request and one JSON answer per line):
  ``initiate``, ``send_esp``, ``delete_ike``, ``delete_child``, ``ike_sas``.

Its stderr (pqike's DEBUG log) and stdout go to ``pqike.log`` in the work directory.

:class:`PqikeSide` is the test's handle: it writes the TOML configuration for a
:class:`peer.TunnelCase`, starts the driver, sends commands and waits for events.
This module imports only the standard library at module level, so conftest.py can
import it where pqike is not installed; the driver imports pqike when it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from peer import InteropError, ManagedProcess, Netns, Side, TunnelCase

_T = TypeVar("_T")

EventRecord = dict[str, Any]
"""One engine event as the driver wrote it: ``type`` plus the dataclass fields."""


# -- test side ------------------------------------------------------------------


def _toml_string(text: str) -> str:
    """A TOML basic string (json's escapes are valid TOML for these texts)."""
    return json.dumps(text)


def pqike_toml(
    case: TunnelCase, local: Side, remote: Side, ids: tuple[str, str]
) -> str:
    """pqike's configuration for ``case`` from ``local``'s point of view.

    The same tunnel as :func:`peer.swanctl_conf` writes for charon: PSK, one
    tunnel-mode child between the two inner /32s, UDP encapsulation forced.
    """
    local_id, remote_id = ids
    esp = [_toml_string(p) for p in case.esp_proposals.split(",")]
    ike = [_toml_string(p) for p in case.ike_proposals.split(",")]
    return f"""\
# written by tests/interop/pqike_side.py for case {case.name}
listen = [{_toml_string(local.outer)}]
port = 500
natt_port = 4500

[connections.{case.name}]
local_addrs = [{_toml_string(local.outer)}]
remote_addrs = [{_toml_string(remote.outer)}]
local_id = {_toml_string("fqdn:" + local_id)}
remote_id = {_toml_string("fqdn:" + remote_id)}
psk = {_toml_string(case.psk)}
ike_proposals = [{", ".join(ike)}]
force_encap = {"true" if case.encap else "false"}
retransmit_timeout = 1.0
retransmit_tries = 3

[connections.{case.name}.children.{case.child}]
local_ts = [{_toml_string(local.inner + "/32")}]
remote_ts = [{_toml_string(remote.inner + "/32")}]
esp_proposals = [{", ".join(esp)}]
mode = "tunnel"
"""


class PqikeSide:
    """pqike in one side of a :class:`Netns`, driven over its control socket.

    ``workdir`` (on the host) receives ``pqike.toml``, ``pqike.log`` (the driver's
    DEBUG log and output) and ``events.jsonl``.  The control socket lives in a short
    private directory under the system temporary directory (Unix socket paths are
    limited to about 100 octets; pytest's are longer).
    """

    def __init__(self, netns: Netns, side: Side, workdir: Path) -> None:
        self.netns = netns
        self.side = side
        self.workdir = workdir
        self.config_path = workdir / "pqike.toml"
        self.log_path = workdir / "pqike.log"
        self.events_path = workdir / "events.jsonl"
        self._ctl_dir = Path(tempfile.mkdtemp(prefix="pqike-ctl-"))
        self.control_path = self._ctl_dir / "ctl"
        self.process: ManagedProcess | None = None
        self.case: TunnelCase | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def label(self) -> str:
        """``left`` or ``right``."""
        return "left" if self.side == self.netns.left else "right"

    def configure(self, case: TunnelCase) -> None:
        """Write pqike's TOML configuration for ``case``."""
        self.case = case
        remote = self.netns.peer_of(self.side)
        self.config_path.write_text(
            pqike_toml(case, self.side, remote, case.ids(self.side, self.netns))
        )

    def start(self, timeout: float = 15.0) -> None:
        """Start the driver and wait until its control socket answers."""
        if self.process is not None:
            raise InteropError("pqike already started")
        argv = [
            sys.executable, str(Path(__file__).resolve()), "serve",
            "--config", str(self.config_path), "--control", str(self.control_path),
            "--events", str(self.events_path),
        ]  # fmt: skip
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = self.netns.popen(
            self.side, argv, name=f"pqike-{self.label}", env=env, output=self.log_path
        )
        self._poll(self._answers, "an answer on the control socket", timeout)

    def _answers(self) -> bool | None:
        if not self.control_path.exists():
            return None
        try:
            self.command("ping", timeout=2.0)
        except OSError:
            return None
        return True

    def _poll(self, check: Callable[[], _T | None], what: str, timeout: float) -> _T:
        """``check()`` every 20 ms until it returns something; InteropError with
        pqike's log when the driver exits or ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while (result := check()) is None:
            status = self.process.poll() if self.process is not None else None
            if status is not None or time.monotonic() > deadline:
                why = f"exited with {status}" if status is not None else "timed out"
                raise InteropError(
                    f"pqike {why} waiting {timeout}s for {what}\n{self.log_tail()}"
                )
            time.sleep(0.02)
        return result

    def command(self, cmd: str, timeout: float = 10.0, **args: Any) -> Any:
        """Send one control request; returns its ``result`` or raises InteropError."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.control_path))
            sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        answer = json.loads(data)
        if "error" in answer:
            raise InteropError(f"pqike {cmd}: {answer['error']}\n{self.log_tail()}")
        return answer.get("result")

    # commands

    def initiate(self) -> int:
        """Start the case's IKE SA; returns pqike's SA handle (asynchronous)."""
        return int(self.command("initiate", conn=self._case().name))

    def send_esp(self, child: int, payload: bytes, next_header: int = 4) -> None:
        """Seal ``payload`` (an inner IP packet) on Child SA ``child`` and send it."""
        self.command("send_esp", child=child, payload=payload.hex(), nh=next_header)

    def delete_ike(self, sa: int) -> None:
        """Delete IKE SA ``sa`` (INFORMATIONAL Delete; asynchronous)."""
        self.command("delete_ike", sa=sa)

    def ike_sas(self) -> list[int]:
        """Handles of the engine's live IKE SAs."""
        return [int(h) for h in self.command("ike_sas")]

    def call(self, method: str, *args: Any) -> Any:
        """``endpoint.<method>(*args, now)`` in the driver, e.g. an engine operation
        that has no command of its own yet; JSON-able arguments and result."""
        return self.command("call", method=method, args=list(args))

    # events

    def events(self, kind: str | None = None) -> list[EventRecord]:
        """Every event the driver has written so far (of type ``kind``)."""
        try:
            text = self.events_path.read_text()
        except FileNotFoundError:
            return []
        found = [json.loads(line) for line in text.splitlines() if line.endswith("}")]
        return [e for e in found if kind is None or e["type"] == kind]

    def wait_event(
        self,
        kind: str,
        match: Callable[[EventRecord], bool] = lambda _event: True,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[EventRecord]:
        """Wait until ``count`` events of type ``kind`` satisfy ``match``."""

        def enough() -> list[EventRecord] | None:
            found = [e for e in self.events(kind) if match(e)]
            return found if len(found) >= count else None

        return self._poll(enough, f"{count} matching {kind} events", timeout)

    def wait_established(
        self, timeout: float = 15.0
    ) -> tuple[EventRecord, EventRecord]:
        """The IkeEstablished and ChildEstablished events of the first SA; fails
        at once on ConnectionFailed."""

        def up() -> tuple[EventRecord, EventRecord] | None:
            if failed := self.events("ConnectionFailed"):
                raise InteropError(f"pqike: {failed[0]}\n{self.log_tail()}")
            ike, child = self.events("IkeEstablished"), self.events("ChildEstablished")
            return (ike[0], child[0]) if ike and child else None

        return self._poll(up, "IkeEstablished and ChildEstablished", timeout)

    def _case(self) -> TunnelCase:
        if self.case is None:
            raise InteropError("configure() a case first")
        return self.case

    def log_tail(self, lines: int = 80) -> str:
        """The last ``lines`` lines of pqike's log, for failure reports."""
        parts = [f"--- pqike {self.label} log tail ({self.log_path}) ---"]
        with contextlib.suppress(FileNotFoundError):
            parts += self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the driver by PID (SIGTERM: it exits at once, without deleting
        SAs) and remove the control directory."""
        if self.process is not None:
            self.process.stop()
        shutil.rmtree(self._ctl_dir, ignore_errors=True)


class PqikeFactory(Protocol):
    """The ``pqike_factory`` fixture: start pqike for a case in a side."""

    def __call__(self, side: Side, case: TunnelCase) -> PqikeSide: ...


# -- the driver process ------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    return value


def event_record(event: object) -> EventRecord:
    """An engine event as one JSON object: its class name and its fields."""
    record: EventRecord = {"type": type(event).__name__}
    record.update(_jsonable(event))
    suite = getattr(event, "suite", None)
    if suite is not None:  # IkeEstablished: also the suite as pqike prints it
        record["suite_text"] = str(suite)
    return record


async def _serve(config_path: str, control_path: str, events_path: str) -> int:
    import asyncio
    import logging
    import signal

    from pqike.cli.common import echo_reply, start_peer
    from pqike.config import load
    from pqike.ikev2.events import EspReceived

    logging.basicConfig(
        level=logging.DEBUG,
        stream=sys.stderr,
        format="%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    config = load(config_path)
    events = open(events_path, "a", buffering=1)  # noqa: SIM115 (closed below)
    holder: list[Any] = []

    def on_event(event: object) -> None:
        events.write(json.dumps(event_record(event)) + "\n")
        if isinstance(event, EspReceived) and holder:
            reply = echo_reply(event.payload)
            if reply is not None:  # the toy host behind the tunnel answers pings
                holder[0].endpoint.send_esp(event.child, reply, 4)
                holder[0].transport.flush()

    peer = await start_peer(config, "rust", on_event=on_event)
    holder.append(peer)
    endpoint, transport = peer.endpoint, peer.transport

    def handle(request: dict[str, Any]) -> Any:
        cmd = request["cmd"]
        if cmd == "ping":
            return "pong"
        if cmd == "initiate":
            return int(
                transport.run(lambda now: endpoint.initiate(request["conn"], now))
            )
        if cmd == "send_esp":
            payload = bytes.fromhex(request["payload"])
            transport.run(
                lambda _now: endpoint.send_esp(request["child"], payload, request["nh"])
            )
            return None
        if cmd == "delete_ike":
            transport.run(lambda now: endpoint.delete_ike(request["sa"], now))
            return None
        if cmd == "delete_child":
            transport.run(
                lambda now: endpoint.delete_child(request["sa"], request["child"], now)
            )
            return None
        if cmd == "ike_sas":
            return [int(sa.handle) for sa in endpoint.ike_sas()]
        if cmd == "call":  # any public endpoint method taking (*args, now)
            method = request["method"]
            if method.startswith("_"):
                raise ValueError(f"not a public method: {method!r}")
            bound = getattr(endpoint, method)
            result = transport.run(lambda now: bound(*request["args"], now))
            return _jsonable(result)
        raise ValueError(f"unknown command {cmd!r}")

    async def client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while line := await reader.readline():
                try:
                    answer = {"result": handle(json.loads(line))}
                except Exception as exc:  # reported to the test, which fails on it
                    logging.getLogger("pqike_side").exception("command %s", line)
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_unix_server(client, path=control_path)
    print(f"pqike driver ready, pid {os.getpid()}, control {control_path}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        await transport.close()
        events.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``pqike_side.py serve --config F --control SOCK --events F``."""
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(prog="pqike_side.py", description=main.__doc__)
    parser.add_argument("action", choices=["serve"])
    parser.add_argument("--config", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--events", required=True)
    args = parser.parse_args(argv)
    return asyncio.run(_serve(args.config, args.control, args.events))


if __name__ == "__main__":
    raise SystemExit(main())
