# SPDX-License-Identifier: Apache-2.0
"""pqike against strongSwan's charon: handshake, ESP both ways, delete from each side.

pqike runs in the left namespace (``pqike_side.py``: pqike's engine on UDP sockets,
an ICMP echo host, a control socket), charon in the right one.  Every test brings up
one tunnel for an IKE suite in one direction (pqike initiates, or charon does) and
then runs one *scenario* on it: a function taking the :class:`Tunnel`.  Rekey
scenarios (issue #4) are added the same way: a function, an entry in SCENARIOS,
and if they need one, an ESP proposal of their own.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from peer import (
    Charon,
    CharonFactory,
    Netns,
    TunnelCase,
    namespace_exists,
    ping,
    run_test_source,
)
from pqike_side import EventRecord, PqikeFactory, PqikeSide

pytestmark = pytest.mark.interop

# (strongSwan proposal, the "selected proposal" charon logs, pqike's suite text)
SUITES = [
    pytest.param(
        "aes256gcm16-prfsha256-x25519",
        "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519",
        "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519",
        id="gcm256-prfsha256-x25519",
    ),
    pytest.param(
        "aes256gcm16-prfsha384-x25519-ke1_ecp256-ke2_ecp384",
        "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE_25519/KE1_ECP_256/KE2_ECP_384",
        "AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE25519/ADDKE1=ECP_256/ADDKE2=ECP_384",
        id="gcm256-prfsha384-x25519-ke1ecp256-ke2ecp384",
    ),
    pytest.param(
        "aes256-sha256-ecp256-ke1_x25519",
        "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256/KE1_CURVE_25519",
        "AES_CBC_256/PRF_HMAC_SHA2_256/AUTH_HMAC_SHA2_256_128/ECP_256/ADDKE1=CURVE25519",
        id="cbc256-sha256-ecp256-ke1x25519",
    ),
]
ESP = ("aes256gcm16", "ESP:AES_GCM_16_256/NO_EXT_SEQ")
# PFS for CREATE_CHILD_SA: X25519, then ECP-256 in one IKE_FOLLOWUP_KE round.  The
# first Child SA (IKE_AUTH) takes no KE; a rekey selects the whole proposal.
ESP_PFS = ("aes256gcm16-x25519-ke1_ecp256", "ESP:AES_GCM_16_256/NO_EXT_SEQ")
ESP_PFS_REKEY = "ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ/KE1_ECP_256"

_RAW_PAIR = re.compile(r"([\w-]+)=([^\s{}]*)")


@dataclasses.dataclass
class Tunnel:
    """One established tunnel between pqike (left) and charon (right)."""

    netns: Netns
    case: TunnelCase
    charon: Charon
    pqike: PqikeSide
    pqike_initiates: bool
    ike_selected: str
    pqike_suite: str
    sa: int
    """pqike's SA handle."""
    child: int
    """pqike's ChildId (its inbound SPI)."""
    charon_mark: int
    """charon's log position before the tunnel came up."""


# -- inner packets, built here independently of pqike ---------------------------


def _inet_checksum(data: bytes) -> int:
    """RFC 1071 one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(word for (word,) in struct.iter_unpack("!H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp_echo_request(src: str, dst: str, ident: int, seq: int, data: bytes) -> bytes:
    """An IPv4 packet carrying an ICMP echo request (RFC 791, RFC 792)."""
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    icmp = icmp[:2] + struct.pack("!H", _inet_checksum(icmp)) + icmp[4:]
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + len(icmp), ident ^ seq, 0x4000, 64, 1, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    )  # fmt: skip
    header = header[:10] + struct.pack("!H", _inet_checksum(header)) + header[12:]
    return header + icmp


def parse_icmp_echo(packet: bytes) -> dict[str, Any] | None:
    """Type, addresses, id, seq and data of an IPv4 ICMP echo with valid checksums."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 1:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    if total > len(packet) or _inet_checksum(packet[:ihl]) != 0:
        return None
    icmp = packet[ihl:total]
    if _inet_checksum(icmp) != 0:
        return None
    kind, _code, _sum, ident, seq = struct.unpack_from("!BBHHH", icmp)
    return {
        "type": kind,
        "src": str(ipaddress.IPv4Address(packet[12:16])),
        "dst": str(ipaddress.IPv4Address(packet[16:20])),
        "id": ident,
        "seq": seq,
        "data": icmp[8:],
    }


# -- bringing the tunnel up ----------------------------------------------------------


def _case(ike: str, esp: str) -> TunnelCase:
    name = "p" + re.sub(r"[^a-z0-9]", "", ike)[:20]
    return TunnelCase(name=name, ike_proposals=ike, esp_proposals=esp)


def establish(
    netns: Netns,
    charon_factory: CharonFactory,
    pqike_factory: PqikeFactory,
    case: TunnelCase,
    *,
    pqike_initiates: bool,
    ike_selected: str,
    pqike_suite: str,
) -> Tunnel:
    """charon in the right namespace, pqike in the left, one side initiates; both
    must report the IKE SA and its Child SA up."""
    charon = charon_factory(netns.right, case)
    pqike = pqike_factory(netns.left, case)
    mark = charon.log_mark()
    if pqike_initiates:
        pqike.initiate()
        charon.wait_established(since=mark)
    else:
        charon.initiate()
    ike, child = pqike.wait_established()
    assert ike["is_initiator"] is pqike_initiates
    assert ike["conn_name"] == case.name
    states = {(sa.kind, sa.name): sa.state for sa in charon.sas()}
    assert states == {
        ("ike", case.name): "ESTABLISHED",
        ("child", case.child): "INSTALLED",
    }, charon.list_sas()
    return Tunnel(
        netns, case, charon, pqike, pqike_initiates, ike_selected, pqike_suite,
        sa=ike["sa"], child=child["child"], charon_mark=mark,
    )  # fmt: skip


def charon_raw_sas(charon: Charon) -> tuple[dict[str, str], dict[str, str]]:
    """charon's one IKE SA and its one Child SA, from ``swanctl --list-sas --raw``:
    the ``key=value`` fields before and after ``child-sas``."""
    raw = charon.swanctl("--list-sas", "--raw").stdout
    ike_part, _, child_part = raw.partition("child-sas")
    return dict(_RAW_PAIR.findall(ike_part)), dict(_RAW_PAIR.findall(child_part))


def pqike_pings(tunnel: Tunnel, count: int, ident: int) -> list[dict[str, Any]]:
    """pqike seals ``count`` echo requests to charon's inner address; returns the
    replies pqike opened, matched by id and seq."""
    src, dst = tunnel.netns.left.inner, tunnel.netns.right.inner
    for seq in range(1, count + 1):
        data = f"pqike interop {ident}/{seq}".encode()
        tunnel.pqike.send_esp(
            tunnel.child, icmp_echo_request(src, dst, ident, seq, data)
        )

    def reply(event: EventRecord) -> bool:
        echo = parse_icmp_echo(bytes.fromhex(event["payload"]))
        return (
            event["child"] == tunnel.child
            and echo is not None
            and echo["type"] == 0
            and echo["id"] == ident
            and (echo["src"], echo["dst"]) == (dst, src)
        )

    events = tunnel.pqike.wait_event("EspReceived", reply, count=count)
    replies = [parse_icmp_echo(bytes.fromhex(e["payload"])) for e in events]
    echoes = [echo for echo in replies if echo is not None]
    assert sorted(e["seq"] for e in echoes) == list(range(1, count + 1))
    for echo in echoes:
        assert echo["data"] == f"pqike interop {ident}/{echo['seq']}".encode()
    return echoes


def charon_pings(tunnel: Tunnel, count: int = 3, wait: int = 2) -> Any:
    """ping from charon's namespace, inner to inner, with the tree's iputils."""
    netns = tunnel.netns
    return ping(netns, netns.right, tunnel.charon.tree, netns.left.inner,
                source=netns.right.inner, count=count, wait=wait)  # fmt: skip


def _charon_verb(pqike_sends: bool) -> str:
    """How charon's log names a request pqike sent, or one charon sent."""
    return "parsed" if pqike_sends else "generating"


# -- scenarios -----------------------------------------------------------------------


def scenario_established(tunnel: Tunnel) -> None:
    """The proposal charon selected, pqike's view of it, UDP encapsulation, and the
    IKE_INTERMEDIATE exchanges of the additional key exchanges."""
    charon, mark = tunnel.charon, tunnel.charon_mark
    assert charon.selected_proposals("IKE", since=mark) == [tunnel.ike_selected]
    assert charon.selected_proposals("ESP", since=mark) == [ESP[1]]
    ike = tunnel.pqike.events("IkeEstablished")[0]
    assert ike["suite_text"] == tunnel.pqike_suite
    child = tunnel.pqike.events("ChildEstablished")[0]
    assert (child["mode"], child["encryption"]) == ("tunnel", "AES_GCM_16_256")
    # NAT detection (RFC 7296 §2.23) in pqike's IKE_SA_INIT message, then both ends
    # moved to the NAT-T port; ESP in UDP; the same SPIs on both sides.
    pqike_init = "request" if tunnel.pqike_initiates else "response"
    init = charon.wait_log(rf"parsed IKE_SA_INIT {pqike_init} 0 \[(.*)\]", since=mark)
    assert "N(NATD_S_IP) N(NATD_D_IP)" in init[0].group(1)
    ike_sa, child_sa = charon_raw_sas(charon)
    assert (ike_sa["local-port"], ike_sa["remote-port"]) == ("4500", "4500"), ike_sa
    assert ike_sa["remote-host"] == tunnel.netns.left.outer
    assert (child_sa["mode"], child_sa["encap"]) == ("TUNNEL", "yes"), child_sa
    assert int(child_sa["spi-in"], 16) == child["spi_out"], child_sa
    assert int(child_sa["spi-out"], 16) == child["spi_in"], child_sa
    rounds = len(re.findall(r"ke\d_", tunnel.case.ike_proposals))
    verb = _charon_verb(tunnel.pqike_initiates)
    found = charon.log_since(mark).count(f"{verb} IKE_INTERMEDIATE request")
    assert found == rounds


def scenario_traffic(tunnel: Tunnel) -> None:
    """ESP both ways through the one Child SA: pqike's echo requests are answered by
    the kernel behind charon; charon's pings are answered by pqike's echo host."""
    pqike_pings(tunnel, count=4, ident=0x7051)
    done = charon_pings(tunnel, count=3)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 received, 0% packet loss" in done.stdout, done.stdout
    # charon's ESP counters: 4 requests + 3 replies in, 4 replies + 3 requests out.
    _ike_sa, child_sa = charon_raw_sas(tunnel.charon)
    assert int(child_sa["packets-in"]) >= 7, child_sa
    assert int(child_sa["packets-out"]) >= 7, child_sa
    requests = [
        e for e in tunnel.pqike.events("EspReceived")
        if (echo := parse_icmp_echo(bytes.fromhex(e["payload"]))) and echo["type"] == 8
    ]  # fmt: skip
    assert len(requests) >= 3


def scenario_pqike_deletes(tunnel: Tunnel) -> None:
    """pqike deletes the IKE SA; charon logs the DELETE and keeps no SA."""
    mark = tunnel.charon.log_mark()
    tunnel.pqike.delete_ike(tunnel.sa)
    name = re.escape(tunnel.case.name)
    tunnel.charon.wait_log(rf"received DELETE for IKE_SA {name}\[\d+\]", since=mark)
    tunnel.charon.wait_log(r"IKE_SA deleted", since=mark)
    tunnel.pqike.wait_event("IkeDeleted", lambda e: e["sa"] == tunnel.sa)
    assert tunnel.charon.sas() == []
    assert tunnel.pqike.ike_sas() == []
    done = charon_pings(tunnel, count=1, wait=1)
    assert done.returncode != 0, done.stdout


def scenario_charon_deletes(tunnel: Tunnel) -> None:
    """charon terminates the IKE SA; pqike reports it (and its child) deleted."""
    tunnel.charon.terminate_ike()
    tunnel.pqike.wait_event("IkeDeleted", lambda e: e["sa"] == tunnel.sa)
    tunnel.pqike.wait_event("ChildDeleted", lambda e: e["child"] == tunnel.child)
    assert tunnel.charon.sas() == []
    assert tunnel.pqike.ike_sas() == []


def rekey_child(tunnel: Tunnel, *, by_pqike: bool) -> None:
    """Rekey the Child SA with PFS (CREATE_CHILD_SA, then one IKE_FOLLOWUP_KE for
    ke1_ecp256), started by pqike or by charon; traffic then flows on the new one."""
    charon, pqike, mark = tunnel.charon, tunnel.pqike, tunnel.charon.log_mark()
    old = tunnel.child
    if by_pqike:
        pqike.call("rekey_child", tunnel.sa, old)
    else:
        charon.rekey_child()
    verb = _charon_verb(by_pqike)
    charon.wait_log(
        rf"{verb} CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]",
        since=mark,
    )
    charon.wait_log(rf"{verb} IKE_FOLLOWUP_KE request \d+ \[ KE N\(ADD_KE\) \]",
                    since=mark)  # fmt: skip
    name = re.escape(tunnel.case.child)
    rekeyed = charon.wait_log(
        rf"rekeyed CHILD_SA {name}\{{1\}} with SPIs \S+ \S+ with {name}\{{2\}} "
        r"with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o",
        since=mark,
    )[0]
    assert charon.selected_proposals("ESP", since=mark) == [ESP_PFS_REKEY]
    event = pqike.wait_event("ChildRekeyed", lambda e: e["child"] == old)[0]
    assert event["sa"] == tunnel.sa
    new = event["new_child"]
    pqike.wait_event("ChildDeleted", lambda e: e["child"] == old)
    established = pqike.wait_event("ChildEstablished", lambda e: e["child"] == new)
    # charon's inbound SPI is pqike's outbound one and the other way round.
    assert int(rekeyed.group(1), 16) == established[0]["spi_out"]
    assert int(rekeyed.group(2), 16) == established[0]["spi_in"]
    installed = [sa.unique_id for sa in charon.sas() if sa.state == "INSTALLED"]
    assert installed == [2], charon.list_sas()
    tunnel.child = new
    pqike_pings(tunnel, count=3, ident=0x7052)
    done = charon_pings(tunnel, count=3)
    assert done.returncode == 0, done.stdout + done.stderr


def rekey_ike(tunnel: Tunnel, *, by_pqike: bool) -> None:
    """Rekey the IKE SA (CREATE_CHILD_SA, then one IKE_FOLLOWUP_KE per keN_),
    started by pqike or by charon; the Child SA moves to the new IKE SA, which
    then carries a Delete (so its keys work too)."""
    charon, pqike, mark = tunnel.charon, tunnel.pqike, tunnel.charon.log_mark()
    old = tunnel.sa
    if by_pqike:
        pqike.call("rekey_ike", old)
    else:
        charon.rekey_ike()
    name = re.escape(tunnel.case.name)
    charon.wait_log(rf"IKE_SA {name}\[2\] rekeyed between", since=mark)
    charon.wait_log(r"IKE_SA deleted", since=mark)
    log = charon.log_since(mark)
    verb = _charon_verb(by_pqike)
    assert re.search(rf"{verb} CREATE_CHILD_SA request \d+ \[ SA No KE \]", log)
    rounds = len(re.findall(r"ke\d_", tunnel.case.ike_proposals))
    assert log.count(f"{verb} IKE_FOLLOWUP_KE request") == rounds
    assert charon.selected_proposals("IKE", since=mark) == [tunnel.ike_selected]
    event = pqike.wait_event("IkeRekeyed", lambda e: e["sa"] == old)[0]
    pqike.wait_event("IkeDeleted", lambda e: e["sa"] == old)
    tunnel.sa = event["new_sa"]
    assert pqike.ike_sas() == [tunnel.sa]
    states = [(sa.kind, sa.unique_id, sa.state) for sa in charon.sas()]
    assert states == [("ike", 2, "ESTABLISHED"), ("child", 1, "INSTALLED")], states
    pqike_pings(tunnel, count=3, ident=0x7053)
    done = charon_pings(tunnel, count=3)
    assert done.returncode == 0, done.stdout + done.stderr
    mark = charon.log_mark()
    pqike.delete_ike(tunnel.sa)
    charon.wait_log(rf"received DELETE for IKE_SA {name}\[2\]", since=mark)
    pqike.wait_event("IkeDeleted", lambda e: e["sa"] == tunnel.sa)


def scenario_child_rekey_by_pqike(tunnel: Tunnel) -> None:
    """pqike rekeys the Child SA."""
    rekey_child(tunnel, by_pqike=True)


def scenario_child_rekey_by_charon(tunnel: Tunnel) -> None:
    """charon rekeys the Child SA."""
    rekey_child(tunnel, by_pqike=False)


def scenario_ike_rekey_by_pqike(tunnel: Tunnel) -> None:
    """pqike rekeys the IKE SA."""
    rekey_ike(tunnel, by_pqike=True)


def scenario_ike_rekey_by_charon(tunnel: Tunnel) -> None:
    """charon rekeys the IKE SA."""
    rekey_ike(tunnel, by_pqike=False)


# (scenario, ESP proposal it needs)
SCENARIOS = [
    pytest.param(scenario_established, ESP[0], id="established"),
    pytest.param(scenario_traffic, ESP[0], id="traffic"),
    pytest.param(scenario_pqike_deletes, ESP[0], id="pqike-deletes"),
    pytest.param(scenario_charon_deletes, ESP[0], id="charon-deletes"),
    pytest.param(scenario_child_rekey_by_pqike, ESP_PFS[0], id="child-rekey-by-pqike"),
    pytest.param(
        scenario_child_rekey_by_charon, ESP_PFS[0], id="child-rekey-by-charon"
    ),
    pytest.param(scenario_ike_rekey_by_pqike, ESP[0], id="ike-rekey-by-pqike"),
    pytest.param(scenario_ike_rekey_by_charon, ESP[0], id="ike-rekey-by-charon"),
]
DIRECTIONS = [
    pytest.param(True, id="pqike-initiates"),
    pytest.param(False, id="charon-initiates"),
]


@pytest.mark.parametrize(("ike", "ike_selected", "pqike_suite"), SUITES)
@pytest.mark.parametrize("pqike_initiates", DIRECTIONS)
@pytest.mark.parametrize(("scenario", "esp"), SCENARIOS)
def test_pqike_with_charon(
    netns: Netns,
    charon_factory: CharonFactory,
    pqike_factory: PqikeFactory,
    ike: str,
    ike_selected: str,
    pqike_suite: str,
    pqike_initiates: bool,
    scenario: Callable[[Tunnel], None],
    esp: str,
) -> None:
    tunnel = establish(
        netns, charon_factory, pqike_factory, _case(ike, esp),
        pqike_initiates=pqike_initiates, ike_selected=ike_selected,
        pqike_suite=pqike_suite,
    )  # fmt: skip
    scenario(tunnel)


# -- what a failing pqike test leaves behind -------------------------------------------

FAILING_TEST = """\
from peer import TunnelCase

def test_deliberately_fails(netns, charon_factory, pqike_factory):
    case = TunnelCase(name="demo", ike_proposals="aes256gcm16-prfsha256-x25519")
    charon = charon_factory(netns.right, case)
    pqike = pqike_factory(netns.left, case)
    pqike.initiate()
    pqike.wait_established()
    print("LEFTOVERS", pqike.process.pid, charon.process.pid,
          netns.left.netns, netns.right.netns)
    assert False, "deliberate failure"
"""


def test_failed_pqike_test_reports_both_logs_and_leaves_nothing(
    interop_tree: Path, tmp_path: Path
) -> None:
    done = run_test_source(FAILING_TEST, tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "deliberate failure" in out
    assert "charon right log" in out
    assert "pqike left log" in out
    # pqike's DEBUG log and charon's view of the same SA.
    assert "established fqdn:left.pqike.test <-> fqdn:right.pqike.test" in out
    assert "selected proposal: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519" in out
    leftovers = re.search(r"LEFTOVERS (\d+) (\d+) (\S+) (\S+)", out)
    assert leftovers is not None, out
    for pid in leftovers.group(1, 2):
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} still runs"
    for name in leftovers.group(3, 4):
        assert not namespace_exists(name), name
