# SPDX-License-Identifier: Apache-2.0
"""The harness itself: it cleans up after itself and says why it cannot run."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from peer import (
    Charon,
    CharonFactory,
    CharonPair,
    InteropError,
    InteropUnavailableError,
    Netns,
    TunnelCase,
    check_host,
    ensure_tree,
    namespace_exists,
    parse_list_sas,
    run_test_source,
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


def _host(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_netns_addresses_stay_inside_namespaces(interop_tree: Path) -> None:
    host_addrs = _host("ip", "-o", "addr", "show")
    host_routes = _host("ip", "route", "show", "table", "all")
    with Netns() as netns:
        names = [netns.left.netns, netns.right.netns]
        assert all(namespace_exists(n) for n in names)
        assert "10.200.0.1" in netns.ip(netns.left, "-o", "addr", "show")
        assert _host("ip", "-o", "addr", "show") == host_addrs
        assert _host("ip", "route", "show", "table", "all") == host_routes
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


def test_popen_returns_with_the_process_inside_the_namespace(netns: Netns) -> None:
    """``Popen`` returns while ``ip netns exec`` may not have called setns() yet."""
    inside = os.stat(f"/run/netns/{netns.right.netns}")
    for _ in range(20):
        with netns.popen(netns.right, ["sleep", "300"], name="sleeper") as sleeper:
            st = os.stat(f"/proc/{sleeper.pid}/ns/net")
            assert (st.st_dev, st.st_ino) == (inside.st_dev, inside.st_ino)
            assert netns.pids(netns.right) == [sleeper.pid]
    # A program that is done at once is not an error: its status is the caller's.
    assert netns.popen(netns.right, ["true"], name="quick").wait(5) == 0


def test_popen_stops_a_process_that_never_enters_the_namespace(
    netns: Netns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("peer.NETNS_ENTER_TIMEOUT", 0.5)
    # Without the "ip netns exec" prefix the program stays in our namespace.
    monkeypatch.setattr(netns, "argv", lambda side, argv: list(argv))
    with pytest.raises(InteropError, match="not inside network namespace") as info:
        netns.popen(netns.right, ["sleep", "300"], name="outsider")
    match = re.search(r"\(PID (\d+)\)", str(info.value))
    assert match is not None
    comm = Path(f"/proc/{match.group(1)}/comm")
    assert not comm.exists() or comm.read_text().strip() != "sleep"


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


def test_key_dumps_only_on_request_and_equal_on_both_sides(
    netns: Netns, charon_factory: CharonFactory
) -> None:
    case = TunnelCase(name="keys", ike_proposals="aes256-sha256-ecp256-ke1_x25519")
    left = charon_factory(netns.left, case, log_keys=True)
    right = charon_factory(netns.right, case)
    left.initiate()
    right.wait_established()
    # The additional exchange replaces SKEYSEED, so the left side dumps it twice.
    seeds = left.log_dumps("SKEYSEED")
    assert len(seeds) == 2
    assert all(len(seed) == 32 for seed in seeds)
    assert len(left.log_dumps("Sk_ei secret")) == 2
    assert right.log_dumps("SKEYSEED") == []
    assert seeds[-1].hex().upper() not in right.log_text().replace(" ", "")


STUB_RESPONDER = """\
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 500))
data, peer = sock.recvfrom(65535)
open(sys.argv[2], "w").write(data.hex() + " " + peer[0] + "\\n")
"""


def test_host_program_in_namespace_receives_ike_sa_init(
    netns: Netns, charon_factory: CharonFactory, tmp_path: Path
) -> None:
    """The shape of pqike-vs-charon: a host program in the other namespace."""
    case = TunnelCase(name="stub", ike_proposals="aes256gcm16-prfsha256-x25519")
    left = charon_factory(netns.left, case)
    out = tmp_path / "received"
    stub = netns.popen(
        netns.right,
        [sys.executable, "-c", STUB_RESPONDER, netns.right.outer, str(out)],
        name="stub-responder",
        output=tmp_path / "stub.log",
    )
    deadline = time.monotonic() + 5
    while ":500 " not in netns.run(netns.right, ["ss", "-uln"]).stdout:
        assert time.monotonic() < deadline, "stub did not bind"
        time.sleep(0.05)
    left.swanctl("--initiate", "--child", case.child, "--timeout", "1", check=False)
    assert stub.wait(5) == 0
    data_hex, sender = out.read_text().split()
    data = bytes.fromhex(data_hex)
    assert sender == netns.left.outer
    assert data[8:16] == bytes(8)  # responder SPI still zero
    assert data[17] == 0x20  # IKEv2
    assert data[18] == 34  # IKE_SA_INIT


FAILING_TEST = """\
import pytest
from peer import TunnelCase

@pytest.mark.interop
def test_deliberately_fails(charon_pair):
    left, right = charon_pair(
        TunnelCase(name="demo", ike_proposals="aes256gcm16-prfsha256-x25519")
    )
    left.initiate()
    assert False, "deliberate failure"
"""


def test_failed_test_report_shows_charon_log_tails(
    interop_tree: Path, tmp_path: Path
) -> None:
    done = run_test_source(FAILING_TEST, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "deliberate failure" in done.stdout
    for label in ("left", "right"):
        assert f"charon {label} log" in done.stdout
    assert "selected proposal: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519" in (
        done.stdout
    )


ABANDONING_SCRIPT = """\
import sys
sys.path.insert(0, sys.argv[1])
import peer
netns = peer.Netns()
sleeper = netns.popen(netns.right, ["sleep", "300"], name="sleeper")
print(netns.left.netns, netns.right.netns, sleeper.pid, flush=True)
"""


def test_atexit_cleans_up_what_a_script_abandoned(interop_tree: Path) -> None:
    here = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", ABANDONING_SCRIPT, here],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    left, right, pid = done.stdout.split()
    assert not namespace_exists(left)
    assert not namespace_exists(right)
    comm = Path(f"/proc/{pid}/comm")
    assert not comm.exists() or comm.read_text().strip() != "sleep"


def test_unavailable_peer_skips_or_fails_when_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Load this directory's conftest by path: "conftest" may name another one.
    spec = importlib.util.spec_from_file_location(
        "interop_conftest", Path(__file__).with_name("conftest.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _unavailable = module._unavailable

    monkeypatch.delenv("PQIKE_INTEROP_REQUIRE", raising=False)
    with pytest.raises(pytest.skip.Exception, match="unavailable: no /dev/net/tun"):
        _unavailable("no /dev/net/tun")
    monkeypatch.setenv("PQIKE_INTEROP_REQUIRE", "1")
    with pytest.raises(pytest.fail.Exception, match="required but unavailable"):
        _unavailable("no /dev/net/tun")


def test_check_host_names_missing_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(InteropUnavailableError, match="not root"):
        check_host()


BUILD_SCRIPT = """\
import sys
sys.path.insert(0, sys.argv[1])
import peer
try:
    peer.ensure_tree()
except peer.InteropUnavailableError as exc:
    print("UNAVAILABLE", exc)
"""


def test_unreachable_mirror_is_reported_as_unavailable(
    netns: Netns, tmp_path: Path
) -> None:
    """A build in a namespace with no route anywhere: nothing leaves it."""
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed")
    here = str(Path(__file__).resolve().parent)
    env = dict(os.environ, PQIKE_INTEROP_ROOT=str(tmp_path / "cache"))
    done = subprocess.run(
        netns.argv(netns.left, [sys.executable, "-c", BUILD_SCRIPT, here]),
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "UNAVAILABLE mmdebstrap cannot reach the Debian mirror" in done.stdout
    assert "Temporary failure resolving" in done.stdout
    assert not (tmp_path / "cache" / "strongswan-trixie").exists()
