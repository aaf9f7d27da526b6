# SPDX-License-Identifier: Apache-2.0
"""The harness itself: it cleans up after itself and says why it cannot run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from peer import (
    Charon,
    CharonPair,
    InteropError,
    InteropUnavailableError,
    Netns,
    TunnelCase,
    ensure_tree,
    namespace_exists,
    parse_list_sas,
)

pytestmark = pytest.mark.interop

LISTING = """\
demo: #3, ESTABLISHED, IKEv2, 2cef1034fc843295_i* b4728702b08bbeb7_r
  local  'left.pqike.test' @ 10.200.0.1[4500]
  AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519/KE1_ECP_256/KE2_ECP_384
  net: #7, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256
    in  f6477b15,      0 bytes,     0 packets
"""


def test_parse_list_sas_reads_ike_and_child_lines() -> None:
    found = [
        (sa.kind, sa.name, sa.unique_id, sa.state) for sa in parse_list_sas(LISTING)
    ]
    assert found == [
        ("ike", "demo", 3, "ESTABLISHED"),
        ("child", "net", 7, "INSTALLED"),
    ]


def test_missing_mmdebstrap_is_reported_as_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("ensure_tree checks for root before mmdebstrap")
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if name == "mmdebstrap" else real_which(name)
    )
    with pytest.raises(InteropUnavailableError, match="mmdebstrap is not installed"):
        ensure_tree(tmp_path / "tree")
    assert not (tmp_path / "tree").exists()


def test_netns_addresses_stay_inside_namespaces(interop_tree: Path) -> None:
    host_addrs = os.popen("ip -o addr show").read()
    with Netns() as netns:
        names = [netns.left.netns, netns.right.netns]
        assert all(namespace_exists(n) for n in names)
        assert "10.200.0.1" in netns.ip(netns.left, "-o", "addr", "show")
        assert os.popen("ip -o addr show").read() == host_addrs
        # Only loopback and our end of the veth exist in a fresh namespace.
        links = netns.ip(netns.right, "-o", "link", "show")
        assert [
            line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
        ] == [
            "lo",
            netns.right.ifname,
        ]
    assert not any(namespace_exists(n) for n in names)


def test_close_stops_every_process_and_leaves_no_mount(
    interop_tree: Path, tmp_path: Path
) -> None:
    case = TunnelCase(name="cleanup", ike_proposals="aes256gcm16-prfsha256-x25519")
    with Netns() as netns:
        charon = Charon(interop_tree, netns, netns.left, tmp_path / "c")
        charon.configure(case)
        charon.start()
        assert charon.process is not None
        pid = charon.process.pid
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "charon"
        # A stray process started in a namespace is ended by close() too.
        stray = netns.popen(netns.right, ["sleep", "300"], name="stray")
        assert netns.pids(netns.right) == [stray.pid]
    assert not Path(f"/proc/{pid}").exists()
    assert stray.poll() is not None
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(interop_tree) not in mounts


def test_failed_charon_start_reports_log_tail(
    interop_tree: Path, netns: Netns, tmp_path: Path
) -> None:
    charon = Charon(interop_tree, netns, netns.left, tmp_path / "bad")
    charon.configure(
        TunnelCase(name="bad", ike_proposals="aes256gcm16-prfsha256-x25519")
    )
    (charon.workdir / "swanctl.conf").write_text(
        "connections { bad { proposals = nonsense } }\n"
    )
    charon.start()
    with pytest.raises(InteropError, match="charon log tail") as info:
        charon.load()
    assert "nonsense" in str(info.value)
    charon.stop()


def test_pair_fixture_gives_two_running_charons(
    netns: Netns, charon_pair: CharonPair
) -> None:
    left, right = charon_pair(
        TunnelCase(name="pair", ike_proposals="aes256gcm16-prfsha256-x25519")
    )
    assert left.side == netns.left
    assert right.side == netns.right
    assert "loaded connection 'pair'" in left.load()
