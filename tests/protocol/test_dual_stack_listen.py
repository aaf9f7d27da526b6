# SPDX-License-Identifier: Apache-2.0
"""A responder listening on ``["0.0.0.0", "::"]`` (the usual dual-stack server)
serves IKE over IPv4 and IPv6, and an initiator on both wildcards sends from the
socket of its peer's family.

The wildcards are bound in a network namespace of its own (``unshare --net``, as
root or in a user namespace), with only loopback in it, so nothing outside sees
the sockets and fixed ports cannot clash with anything. A child process runs the
endpoints there with the CLI's ``start_peer`` and prints what each initiator saw."""

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


def test_responder_on_both_wildcards_serves_ipv4_and_ipv6() -> None:
    backends = available_backends()
    if not backends:
        pytest.skip("no crypto backend can be loaded")
    command = [
        *_netns_prefix(),
        sys.executable,
        "-c",
        CHILD,
        backends[0],
        RESPONDER,
        json.dumps(INITIATORS),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False
    )
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
