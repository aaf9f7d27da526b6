# SPDX-License-Identifier: Apache-2.0
"""charon against charon: proves the harness on every suite pqike must later cover.

Each IKE proposal set is run through handshake, ping over UDP-encapsulated ESP, a
Child SA rekey with PFS (CREATE_CHILD_SA then IKE_FOLLOWUP_KE), an IKE SA rekey and a
delete.  The pqike tests replace one of the two charons and keep these assertions.
"""

from __future__ import annotations

import re

import pytest
from peer import Charon, CharonPair, Netns, TunnelCase, ping

pytestmark = pytest.mark.interop

# (strongSwan proposal, the "selected proposal" charon logs for it)
IKE_SUITES = [
    pytest.param(
        "aes256gcm16-prfsha256-x25519",
        "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519",
        id="gcm256-prfsha256-x25519",
    ),
    pytest.param(
        "aes256gcm16-prfsha384-x25519-ke1_ecp256-ke2_ecp384",
        "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE_25519/KE1_ECP_256/KE2_ECP_384",
        id="gcm256-prfsha384-x25519-ke1ecp256-ke2ecp384",
    ),
    pytest.param(
        "aes256-sha256-ecp256-ke1_x25519",
        "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256/KE1_CURVE_25519",
        id="cbc256-sha256-ecp256-ke1x25519",
    ),
]
ESP_PLAIN = ("aes256gcm16", "ESP:AES_GCM_16_256/NO_EXT_SEQ")
ESP_PFS = ("aes256gcm16-x25519-ke1_ecp256", "ESP:AES_GCM_16_256/NO_EXT_SEQ")
# What the responder selects when the initiator rekeys with the PFS proposal.
ESP_PFS_REKEY = "ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ/KE1_ECP_256"

_PACKETS = re.compile(
    r"^\s+(in|out)\s+[0-9a-f]{8}(?:\(\d+\))?,\s+\d+ bytes,\s+(\d+) packets"
)


def _case(ike: str, esp: str) -> TunnelCase:
    name = "c" + re.sub(r"[^a-z0-9]", "", ike)[:20]
    return TunnelCase(name=name, ike_proposals=ike, esp_proposals=esp)


def _establish(
    charon_pair: CharonPair, ike: str, esp: str = ESP_PLAIN[0]
) -> tuple[Charon, Charon, TunnelCase]:
    case = _case(ike, esp)
    left, right = charon_pair(case)
    left.initiate()
    for charon in (left, right):
        states = {(sa.kind, sa.name): sa.state for sa in charon.sas()}
        assert states == {
            ("ike", case.name): "ESTABLISHED",
            ("child", case.child): "INSTALLED",
        }, charon.list_sas()
    return left, right, case


def _ping_ok(netns: Netns, left: Charon, count: int = 3) -> None:
    done = ping(netns, netns.left, left.tree, netns.right.inner,
                source=netns.left.inner, count=count)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{count} received, 0% packet loss" in done.stdout, done.stdout


def _ping_fails(netns: Netns, left: Charon) -> None:
    done = ping(netns, netns.left, left.tree, netns.right.inner,
                source=netns.left.inner, count=1, wait=1)  # fmt: skip
    assert done.returncode != 0, done.stdout


def _esp_packets(charon: Charon) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in charon.list_sas().splitlines():
        if match := _PACKETS.match(line):
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.mark.parametrize(("ike", "selected"), IKE_SUITES)
def test_handshake_selects_proposal_on_both_sides(
    charon_pair: CharonPair, ike: str, selected: str
) -> None:
    left, right, _case = _establish(charon_pair, ike)
    for charon in (left, right):
        assert charon.selected_proposals("IKE") == [selected]
        assert charon.selected_proposals("ESP") == [ESP_PLAIN[1]]
    # Forced UDP encapsulation: both ends moved to 4500 and ESP runs in UDP.
    listing = left.list_sas()
    assert "TUNNEL-in-UDP" in listing
    assert f"@ {left.netns.right.outer}[4500]" in listing
    if "ke1_" in ike:
        exchanges = len(re.findall(r"ke\d_", ike))
        left.wait_log(r"generating IKE_INTERMEDIATE request", count=exchanges)
        right.wait_log(r"parsed IKE_INTERMEDIATE request", count=exchanges)


@pytest.mark.parametrize(("ike", "selected"), IKE_SUITES)
def test_ping_crosses_udp_encapsulated_tunnel(
    netns: Netns, charon_pair: CharonPair, ike: str, selected: str
) -> None:
    case = _case(ike, ESP_PLAIN[0])
    left, right = charon_pair(case)
    # The inner addresses have no route to each other but through the tunnel.
    _ping_fails(netns, left)
    left.initiate()
    _ping_ok(netns, left)
    for charon in (left, right):
        counts = _esp_packets(charon)
        assert counts["in"] >= 3, charon.list_sas()
        assert counts["out"] >= 3, charon.list_sas()


@pytest.mark.parametrize(("ike", "selected"), IKE_SUITES)
def test_child_rekey_with_pfs_uses_followup_ke(
    netns: Netns, charon_pair: CharonPair, ike: str, selected: str
) -> None:
    left, right, case = _establish(charon_pair, ike, ESP_PFS[0])
    # No KE in IKE_AUTH: the first Child SA takes its keys from the IKE SA.
    assert right.selected_proposals("ESP") == [ESP_PFS[1]]
    marks = left.log_mark(), right.log_mark()
    left.rekey_child()
    left.wait_log(
        r"generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]",
        since=marks[0],
    )
    left.wait_log(r"parsed CREATE_CHILD_SA response \d+ \[.* N\(ADD_KE\) \]",
                  since=marks[0])  # fmt: skip
    left.wait_log(r"generating IKE_FOLLOWUP_KE request \d+ \[ KE N\(ADD_KE\) \]",
                  since=marks[0])  # fmt: skip
    right.wait_log(r"parsed IKE_FOLLOWUP_KE request", since=marks[1])
    left.wait_log(rf"rekeyed CHILD_SA {case.child}\{{1\}} .* with {case.child}\{{2\}}",
                  since=marks[0])  # fmt: skip
    assert right.selected_proposals("ESP", since=marks[1]) == [ESP_PFS_REKEY]
    assert left.selected_proposals("ESP", since=marks[0]) == [ESP_PFS_REKEY]
    left.wait_log(r"CHILD_SA \S+\{1\} state change: \S+ => DELETED", since=marks[0])
    _ping_ok(netns, left)
    # The old inbound SA lingers as DELETED for a few seconds; only #2 is installed.
    installed = [sa.unique_id for sa in left.sas() if sa.state == "INSTALLED"]
    assert installed == [2], left.list_sas()


@pytest.mark.parametrize(("ike", "selected"), IKE_SUITES)
def test_ike_rekey_keeps_child_sa(
    netns: Netns, charon_pair: CharonPair, ike: str, selected: str
) -> None:
    left, right, case = _establish(charon_pair, ike)
    marks = left.log_mark(), right.log_mark()
    left.rekey_ike()
    left.wait_log(rf"IKE_SA {case.name}\[2\] rekeyed between", since=marks[0])
    right.wait_log(rf"received DELETE for IKE_SA {case.name}\[1\]", since=marks[1])
    followups = len(re.findall(r"ke\d_", ike))
    log = left.log_since(marks[0])
    assert re.search(r"generating CREATE_CHILD_SA request \d+ \[ SA No KE \]", log)
    assert len(re.findall(r"generating IKE_FOLLOWUP_KE request", log)) == followups
    assert right.selected_proposals("IKE", since=marks[1]) == [selected]
    ike_sas = [sa for sa in left.sas() if sa.kind == "ike"]
    assert [(sa.unique_id, sa.state) for sa in ike_sas] == [(2, "ESTABLISHED")]
    _ping_ok(netns, left)


@pytest.mark.parametrize(("ike", "selected"), IKE_SUITES)
def test_delete_is_seen_by_peer(
    netns: Netns, charon_pair: CharonPair, ike: str, selected: str
) -> None:
    left, right, case = _establish(charon_pair, ike)
    mark = right.log_mark()
    left.terminate_ike()
    right.wait_log(rf"received DELETE for IKE_SA {case.name}\[1\]", since=mark)
    right.wait_log(r"IKE_SA deleted", since=mark)
    assert right.sas() == []
    assert left.sas() == []
    _ping_fails(netns, left)
