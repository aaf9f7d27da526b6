# SPDX-License-Identifier: Apache-2.0
"""The benchmarked suites and the endpoint configurations that use them.

Every suite is an IKE proposal in strongSwan syntax with ESP ``aes256gcm16``; the
configurations are the demo's (PSK, FQDN identities, one tunnel-mode Child SA) with
the proposal swapped in, so a benchmark handshake is the demo's handshake.
"""

from __future__ import annotations

from dataclasses import replace

from pqike.config import EndpointConfig, demo_pair
from pqike.proposals import ProposalSpec, parse_proposal

__all__ = ["CONN_NAME", "ESP_PROPOSAL", "SUITES", "configs", "parse_suites", "proposal"]

ESP_PROPOSAL = "aes256gcm16"
CONN_NAME = "demo"
"""The connection name in the demo configurations."""

SUITES: dict[str, str] = {
    "x25519": "aes256gcm16-prfsha256-x25519",
    "x25519+mlkem768": "aes256gcm16-prfsha256-x25519-ke1_mlkem768",
    "ecp256+mlkem768": "aes256gcm16-prfsha256-ecp256-ke1_mlkem768",
    "x25519+mlkem768+mlkem1024": (
        "aes256gcm16-prfsha256-x25519-ke1_mlkem768-ke2_mlkem1024"
    ),
    "mlkem768": "aes256gcm16-prfsha256-mlkem768",
}
"""Short name -> IKE proposal."""


def parse_suites(text: str) -> list[str]:
    """``"x25519,mlkem768"`` -> names; ``all`` for every suite; an IKE proposal
    string is accepted as its own name.

    Raises:
        ValueError: an unknown name that is not a valid proposal either.
    """
    if text.strip() == "all":
        return list(SUITES)
    names = [t.strip() for t in text.split(",") if t.strip()]
    for name in names:
        if name not in SUITES:
            try:
                parse_proposal(name, "ike")
            except ValueError as exc:
                known = ", ".join(SUITES)
                raise ValueError(
                    f"unknown suite {name!r} ({exc}); known: {known}"
                ) from None
    if not names:
        raise ValueError("no suites given")
    return names


def proposal(suite: str) -> str:
    """The IKE proposal of a suite name (or the name itself if it is a proposal)."""
    return SUITES.get(suite, suite)


def configs(
    suite: str,
    *,
    host: str = "127.0.0.1",
    responder_ports: tuple[int, int] = (500, 4500),
    initiator_ports: tuple[int, int] = (1500, 14500),
) -> tuple[EndpointConfig, EndpointConfig]:
    """``(initiator, responder)`` configurations negotiating ``suite``."""
    ike = (parse_proposal(proposal(suite), "ike"),)
    esp = (parse_proposal(ESP_PROPOSAL, "esp"),)
    responder, initiator = demo_pair(
        host=host, responder_ports=responder_ports, initiator_ports=initiator_ports
    )
    return _with_proposals(initiator, ike, esp), _with_proposals(responder, ike, esp)


def _with_proposals(
    config: EndpointConfig,
    ike: tuple[ProposalSpec, ...],
    esp: tuple[ProposalSpec, ...],
) -> EndpointConfig:
    conn = config.connections[CONN_NAME]
    children = tuple(replace(c, esp_proposals=esp) for c in conn.children)
    conn = replace(conn, ike_proposals=ike, children=children)
    return replace(config, connections={CONN_NAME: conn})
