# SPDX-License-Identifier: Apache-2.0
"""``pqike initiate`` (without ``--once``) stays up when the peer rekeys the IKE SA.

strongSwan rekeys IKE SAs on its own (``rekey_time``, ``swanctl --rekey --ike``): the
old SA is deleted right after the rekey, and the session must follow the new one, not
report "connection lost" and leave the new IKE SA orphaned at the peer."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import pytest

from pqike.cli import peer_session
from pqike.cli.common import free_udp_ports, start_peer
from pqike.config import demo_pair
from pqike.ikev2.events import IkeDeleted, IkeEstablished, IkeRekeyed

TIMEOUT = 10.0


async def _wait(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _scenario() -> tuple[int, bool]:
    ports = free_udp_ports(4)
    responder_cfg, initiator_cfg = demo_pair(
        responder_ports=(ports[0], ports[1]), initiator_ports=(ports[2], ports[3])
    )
    responder = await start_peer(responder_cfg, "rust")
    try:
        args = argparse.Namespace(
            name="demo", backend="rust", timeout=TIMEOUT, ping=0, once=False
        )
        session = asyncio.ensure_future(peer_session.initiate(args, initiator_cfg))
        await _wait(lambda: bool(responder.log.of(IkeEstablished)))
        sa = responder.log.of(IkeEstablished)[0].sa
        responder.transport.run(lambda now: responder.endpoint.rekey_ike(sa, now))
        await _wait(lambda: any(e.sa == sa for e in responder.log.of(IkeDeleted)))
        new_sa = responder.log.of(IkeRekeyed)[0].new_sa
        await asyncio.sleep(0.3)
        survived = not session.done()
        # The peer deletes the new IKE SA: now the connection is lost.
        responder.transport.run(lambda now: responder.endpoint.delete_ike(new_sa, now))
        status = await asyncio.wait_for(session, TIMEOUT)
        return status, survived
    finally:
        await responder.transport.close()


def test_initiate_follows_an_ike_rekey_by_the_peer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, survived = asyncio.run(_scenario())
    out = capsys.readouterr().out
    assert survived, out
    assert status == 1, out
    lines = out.splitlines()
    rekeyed = next(i for i, line in enumerate(lines) if "rekeyed as #" in line)
    new = lines[rekeyed].rsplit("#", 1)[1]
    lost = lines.index("connection lost")
    deleted_new = lines.index(f"IKE SA #{new} deleted: deleted by peer")
    assert rekeyed < deleted_new < lost, out
