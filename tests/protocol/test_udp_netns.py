# SPDX-License-Identifier: Apache-2.0
"""UDP sockets where loopback tests cannot go: wildcard addresses and a used-up
ephemeral port range.

- A responder listening on ``["0.0.0.0", "::"]`` (the usual dual-stack server)
  serves IKE over IPv4 and IPv6, and an initiator on both wildcards sends from the
  socket of its peer's family.
- Binding port 0 with no ephemeral port left says so.

Each test runs a child process in a network namespace of its own (``unshare
--net``, as root or in a user namespace) with only loopback in it, so nothing
outside sees its sockets, fixed ports cannot clash with anything, and its sysctls
are its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pqike.crypto import available_backends

ROOT = Path(__file__).resolve().parents[2]

RESPONDER = """
listen = ["0.0.0.0", "::"]
port = 500
natt_port = 4500

[connections.lab]
local_id = "fqdn:responder.pq.test"
remote_id = "fqdn:initiator.pq.test"
psk = "dual-stack test key"
ike_proposals = ["aes256gcm16-prfsha384-x25519-ke1_mlkem768"]

[connections.lab.children.net]
local_ts = ["10.2.0.0/24"]
remote_ts = ["10.1.0.0/24"]
"""

INITIATOR = """
listen = {listen}
port = {port}
natt_port = {natt_port}

[connections.lab]
local_addrs = ["{local}"]
remote_addrs = ["{remote}"]
local_id = "fqdn:initiator.pq.test"
remote_id = "fqdn:responder.pq.test"
psk = "dual-stack test key"
ike_proposals = ["aes256gcm16-prfsha384-x25519-ke1_mlkem768"]
retransmit_timeout = 1.0
retransmit_tries = 2

[connections.lab.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
"""


def _initiator(listen: list[str], local: str, port: int) -> str:
    return INITIATOR.format(
        listen=json.dumps(listen),
        port=port,
        natt_port=port + 10000,
        local=local,
        remote=local,  # the responder listens on every address of both families
    )


INITIATORS = {
    "ipv4": _initiator(["127.0.0.1"], "127.0.0.1", 1500),
    "ipv6": _initiator(["::1"], "::1", 1501),
    # Both wildcards bound; the one that is not the peer's family comes first.
    "wildcards_to_ipv6": _initiator(["0.0.0.0", "::"], "::1", 1502),
    "wildcards_to_ipv4": _initiator(["::", "0.0.0.0"], "127.0.0.1", 1503),
}

CHILD = """
import asyncio, json, subprocess, sys
from pqike.cli.common import start_peer
from pqike.config import loads

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
backend, responder, initiators = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
FINAL = ("ChildEstablished", "ConnectionFailed")


def finished(log):
    return any(type(event).__name__ in FINAL for event in log.events)


async def main():
    r = await start_peer(loads(responder), backend)
    out = {"listening": r.transport.local_addresses}
    try:
        for name, text in initiators.items():
            i = await start_peer(loads(text), backend)
            try:
                i.transport.run(lambda now, i=i: i.endpoint.initiate("lab", now))
                await i.log.wait_for(finished, 20)
                out[name] = [type(event).__name__ for event in i.log.events]
            finally:
                await i.transport.close()
    finally:
        await r.transport.close()
    print(json.dumps(out))


asyncio.run(main())
"""


def _netns_prefix() -> list[str]:
    """The command prefix that runs a process in a new network namespace."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare(1) and ip(8)")
    for prefix in (["unshare", "--net"], ["unshare", "--user", "--map-root-user"]):
        probe = [*prefix, "--net", "ip", "link", "set", "lo", "up"]
        done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
        if done.returncode == 0:
            return [*prefix, "--net"] if "--user" in prefix else prefix
    pytest.skip("cannot create a network namespace here (not root, no user ns)")


def _in_netns(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``script`` with ``args`` in a new network namespace."""
    command = [*_netns_prefix(), sys.executable, "-c", script, *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_responder_on_both_wildcards_serves_ipv4_and_ipv6() -> None:
    backends = available_backends()
    if not backends:
        pytest.skip("no crypto backend can be loaded")
    done = _in_netns(CHILD, backends[0], RESPONDER, json.dumps(INITIATORS))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["listening"] == [
        ["0.0.0.0", 500],
        ["0.0.0.0", 4500],
        ["::", 500],
        ["::", 4500],
    ]
    for name in INITIATORS:
        assert "ChildEstablished" in out[name], (name, out[name], done.stderr)


NO_PORT_LEFT = """
from pqike.transport.udp import bind_sockets

with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as ports:
    ports.write("40000 40003")  # this namespace's range: four ports
held = bind_sockets([("127.0.0.1", 0)] * 4)
try:
    bind_sockets([("127.0.0.1", 0)])
except OSError as exc:
    print(exc)
"""


def test_binding_port_0_with_no_ephemeral_port_left_says_so() -> None:
    # "Address already in use" for port 0 is not about a port someone holds.
    done = _in_netns(NO_PORT_LEFT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "[Errno 98] cannot bind 127.0.0.1:0: Address already in use (no free port "
        "left for the OS to choose: the ephemeral range, "
        "net.ipv4.ip_local_port_range on Linux, is used up)"
    )
