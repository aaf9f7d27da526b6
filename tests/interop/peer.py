# SPDX-License-Identifier: Apache-2.0
"""A real strongSwan charon as an interop peer, in network namespaces (stdlib only).

Three pieces, each usable alone:

- :func:`ensure_tree` builds (once, under a lock) a Debian tree with strongSwan in
  it, in ``.interop-cache/`` of the checkout or in ``$PQIKE_INTEROP_ROOT``.
- :class:`Netns` makes two network namespaces joined by a veth pair; every address lives
  inside them, the host's interfaces and routes are never touched.  ``run`` and
  ``popen`` start any program (charon, pqike, ping) in one of them.
- :class:`Charon` writes strongswan.conf and swanctl.conf for a :class:`TunnelCase`,
  runs charon chrooted in the tree with user-space ESP (kernel-libipsec), and drives it
  with swanctl.

Everything started here is stopped by PID: by the owning context manager, and by an
``atexit`` hook for what a crash left behind.  Mounts are made in a private mount
namespace of the process that needs them, so they vanish with it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE = "trixie"
# strongSwan from Debian 13 plus ping, which the host may lack.
PACKAGES = (
    "strongswan-charon",
    "strongswan-swanctl",
    "libcharon-extra-plugins",
    "libstrongswan-extra-plugins",
    "iputils-ping",
)
TREE_MARKER = ".pqike-tree.json"
# Where an instance directory is bind-mounted inside the tree.
INSTANCE_MOUNT = "/pqike"
BUILD_TIMEOUT = 600.0
# How long Netns.popen waits for a process to enter its namespace: milliseconds
# normally, far more than that on a loaded 2-core machine.
NETNS_ENTER_TIMEOUT = 10.0
# Inside the tree the Debian build has no "gcm" plugin: AES-GCM (and ECP) come from
# openssl, X25519 from curve25519.  kdf provides prf+ in strongSwan 6.
CHARON_PLUGINS = (
    "random nonce drbg aes sha1 sha2 hmac kdf curve25519 openssl pem pkcs1 pubkey "
    "x509 kernel-libipsec kernel-netlink socket-default vici"
)
_NETWORK_FAILURE = re.compile(
    r"Temporary failure resolving|Could not resolve|Failed to fetch|"
    r"Network is unreachable|Connection timed out|Connection refused|"
    r"Unable to connect|No route to host",
)


class InteropUnavailableError(RuntimeError):
    """The peer cannot be built or run on this machine; ``str()`` says exactly why."""


class InteropError(RuntimeError):
    """The harness or the peer did something it should not have."""


# -- bookkeeping of everything we start --

_LIVE_PROCESSES: dict[int, ManagedProcess] = {}
_LIVE_NETNS: dict[int, Netns] = {}
_LIVE_LOCK = threading.Lock()


def _cleanup_at_exit() -> None:
    for proc in list(_LIVE_PROCESSES.values()):
        proc.stop()
    for netns in list(_LIVE_NETNS.values()):
        netns.close()


atexit.register(_cleanup_at_exit)


class _StopOnExit:
    """``with x:`` calls ``x.stop()`` on the way out, also on an exception."""

    def stop(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ManagedProcess(_StopOnExit):
    """A process this harness started; :meth:`stop` ends it by PID and reaps it.

    The ``Popen`` object is kept until the process is reaped, so its PID cannot be
    reused for another process before we signal it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        output: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.output = output
        self._out: IO[bytes] | None = output.open("ab") if output else None
        self._popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._out if self._out else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        with _LIVE_LOCK:
            _LIVE_PROCESSES[self.pid] = self

    def poll(self) -> int | None:
        """The exit status, or None while it runs."""
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit on its own and return its status."""
        status = self._popen.wait(timeout)
        self._forget()
        return status

    def signal(self, signum: int) -> None:
        """Send ``signum`` to this PID, if it has not been reaped yet."""
        if self._popen.poll() is None:
            self._popen.send_signal(signum)

    def _exited(self) -> bool:
        """Whether the process has exited, without reaping it (its PID stays ours)."""
        if self._popen.returncode is not None:
            return True
        try:
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            return os.waitid(os.P_PID, self.pid, flags) is not None
        except ChildProcessError:
            return True

    def stop(self, grace: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit status.

        The process runs in its own process group (whose ID is its PID).  Before it
        is reaped, while that ID cannot belong to anyone else, the rest of the group
        (helpers it started) gets SIGKILL too.
        """
        if self._popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while not self._exited() and time.monotonic() < deadline:
                time.sleep(0.02)
            if self._popen.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
            self._popen.wait()
        self._forget()
        return self._popen.returncode

    def _forget(self) -> None:
        with _LIVE_LOCK:
            _LIVE_PROCESSES.pop(self.pid, None)
        if self._out is not None:
            self._out.close()
            self._out = None


def _run(
    argv: Sequence[str], *, timeout: float = 30.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a short command, capture its output, raise InteropError when it fails."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InteropError(f"timed out after {timeout}s: {shlex.join(argv)}") from exc
    if check and done.returncode != 0:
        raise InteropError(
            f"exit {done.returncode}: {shlex.join(argv)}\n{done.stdout}{done.stderr}"
        )
    return done


# -- host checks and the strongSwan tree --


def check_host() -> None:
    """Raise InteropUnavailableError naming the first missing prerequisite."""
    if os.geteuid() != 0:
        raise InteropUnavailableError(
            "not root: namespaces, chroot and mounts need root"
        )
    if not Path("/dev/net/tun").exists():
        raise InteropUnavailableError(
            "no /dev/net/tun: kernel-libipsec needs a TUN device"
        )
    for tool, package in (
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("mount", "mount"),
        ("chroot", "coreutils"),
    ):
        if shutil.which(tool) is None:
            raise InteropUnavailableError(
                f"no '{tool}' on PATH (Debian package {package})"
            )


def interop_root() -> Path:
    """The cache directory: ``$PQIKE_INTEROP_ROOT`` or ``<repo>/.interop-cache``."""
    env = os.environ.get("PQIKE_INTEROP_ROOT")
    return Path(env) if env else REPO_ROOT / ".interop-cache"


def default_tree() -> Path:
    """Where :func:`ensure_tree` keeps the strongSwan tree by default."""
    return interop_root() / "strongswan-trixie"


def _tree_problem(tree: Path) -> str | None:
    """Why ``tree`` is not a usable strongSwan tree, or None when it is."""
    marker = tree / TREE_MARKER
    if not marker.is_file():
        return f"no {TREE_MARKER}"
    try:
        meta = json.loads(marker.read_text())
    except ValueError:
        return f"unreadable {TREE_MARKER}"
    if meta.get("packages") != list(PACKAGES) or meta.get("suite") != SUITE:
        return "built for other packages"
    for rel in ("usr/lib/ipsec/charon", "usr/sbin/swanctl", "usr/bin/ping"):
        if not os.access(tree / rel, os.X_OK):
            return f"{rel} missing"
    for rel in ("dev", "proc", "sys", "run", INSTANCE_MOUNT.lstrip("/")):
        if not (tree / rel).is_dir():
            return f"mount point {rel} missing"
    done = _run(
        ["chroot", str(tree), "/usr/lib/ipsec/charon", "--version"], check=False
    )
    if done.returncode != 0 or "strongSwan" not in done.stdout:
        return f"charon does not run: {done.stdout}{done.stderr}".strip()
    return None


def _mounts_below(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this process's mount namespace."""
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return found


def _remove_tree(path: Path) -> None:
    """Delete a tree, refusing if anything is mounted in it (rmtree would follow)."""
    if not path.exists():
        return
    mounted = _mounts_below(path)
    if mounted:
        raise InteropError(f"refusing to delete {path}: mounted inside: {mounted}")
    shutil.rmtree(path)


def ensure_tree(path: Path | None = None, *, log: Path | None = None) -> Path:
    """Return a working strongSwan tree at ``path``, building it when missing or broken.

    Concurrent callers serialise on a lock file next to the tree.  The tree is built
    in a sibling directory and renamed into place, so it is never seen half-built.
    Raises InteropUnavailableError when it cannot be built here (no mmdebstrap, no
    route to the package mirror), InteropError when the build fails otherwise.
    """
    check_host()
    tree = (path or default_tree()).resolve()
    tree.parent.mkdir(parents=True, exist_ok=True)
    with (tree.parent / f".{tree.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        problem = _tree_problem(tree) if tree.exists() else "missing"
        if problem is None:
            return tree
        if shutil.which("mmdebstrap") is None:
            raise InteropUnavailableError(
                f"strongSwan tree {tree} is {problem} and mmdebstrap is not installed "
                "(run .ci/interop-deps)"
            )
        staging = tree.with_name(f"{tree.name}.new-{os.getpid()}")
        _remove_tree(staging)
        build_log = log or tree.with_name(f"{tree.name}.build.log")
        argv = [
            "mmdebstrap",
            "--variant=apt",
            "--include=" + ",".join(PACKAGES),
            SUITE,
            str(staging),
        ]
        started = time.monotonic()
        build_log.unlink(missing_ok=True)
        build = ManagedProcess(argv, name="mmdebstrap", output=build_log)
        try:
            status = build.wait(BUILD_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            # mmdebstrap unmounts what it mounted in the tree when it gets SIGTERM.
            build.stop(grace=60)
            _remove_tree(staging)
            raise InteropUnavailableError(
                f"mmdebstrap took over {BUILD_TIMEOUT}s; see {build_log}"
            ) from exc
        finally:
            build.stop()
        seconds = time.monotonic() - started
        if status != 0:
            _remove_tree(staging)
            text = build_log.read_text(errors="replace")
            errors = [line for line in text.splitlines() if line.startswith("E: ")]
            tail = "\n".join(errors[:4] or text.splitlines()[-15:])
            if _NETWORK_FAILURE.search(text):
                raise InteropUnavailableError(
                    f"mmdebstrap cannot reach the Debian mirror ({build_log}):\n{tail}"
                )
            raise InteropError(f"mmdebstrap failed ({build_log}):\n{tail}")
        (staging / INSTANCE_MOUNT.lstrip("/")).mkdir(exist_ok=True)
        meta = {
            "suite": SUITE,
            "packages": list(PACKAGES),
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(seconds, 1),
        }
        (staging / TREE_MARKER).write_text(json.dumps(meta, indent=1) + "\n")
        problem = _tree_problem(staging)
        if problem is not None:
            _remove_tree(staging)
            raise InteropError(f"fresh tree {staging} is broken: {problem}")
        if tree.exists():
            old = tree.with_name(f"{tree.name}.old-{os.getpid()}")
            tree.rename(old)
            _remove_tree(old)
        staging.rename(tree)
        return tree


def tree_info(tree: Path) -> dict[str, object]:
    """The build metadata written by :func:`ensure_tree`."""
    info: dict[str, object] = json.loads((tree / TREE_MARKER).read_text())
    return info


# -- network namespaces --


@dataclasses.dataclass(frozen=True)
class Side:
    """One namespace of a :class:`Netns` pair and its addresses.

    ``outer`` is on the veth link (IKE and UDP-encapsulated ESP run there), ``inner``
    is a /32 on loopback that traffic selectors cover, so it only reaches the other
    side through the tunnel.
    """

    netns: str
    ifname: str
    outer: str
    inner: str
    prefix: int = 24


_counter = 0


def _netns_id(path: str) -> tuple[int, int] | None:
    """The (device, inode) identifying the network namespace at ``path`` (a
    ``/run/netns`` name or ``/proc/<pid>/ns/net``), or None when there is none: no
    such namespace, or the process has exited.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _unique_tag() -> str:
    global _counter
    with _LIVE_LOCK:
        _counter += 1
        return f"pqike-{os.getpid()}-{_counter}"


def remove_stale_namespaces() -> list[str]:
    """Delete ``pqike-<pid>-*`` namespaces left by dead runs that hold no process."""
    removed = []
    listing = _run(["ip", "netns", "list"], check=False).stdout
    for line in listing.splitlines():
        if not line.strip():
            continue
        name = line.split()[0]
        match = re.fullmatch(r"pqike-(\d+)-\d+-[lr]", name)
        if not match or Path(f"/proc/{match.group(1)}").exists():
            continue
        if _run(["ip", "netns", "pids", name], check=False).stdout.strip():
            continue
        _run(["ip", "netns", "delete", name], check=False)
        removed.append(name)
    return removed


class Netns(_StopOnExit):
    """Two network namespaces, ``left`` and ``right``, joined by a veth pair.

    Addresses (``10.200.0.0/24`` outer, ``10.201.0.x/32`` inner) exist only inside
    the two namespaces, which start with loopback up and nothing else.  Use it as a
    context manager; :meth:`close` stops every process still in either namespace
    (all of them were started by this harness, nothing else enters them) and
    deletes both.
    """

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or _unique_tag()
        self.left = Side(f"{self.tag}-l", "pql0", "10.200.0.1", "10.201.0.1")
        self.right = Side(f"{self.tag}-r", "pqr0", "10.200.0.2", "10.201.0.2")
        self._created: list[str] = []
        self._processes: list[ManagedProcess] = []
        self._closed = False
        with _LIVE_LOCK:
            _LIVE_NETNS[id(self)] = self
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def _create(self) -> None:
        for side in (self.left, self.right):
            done = _run(["ip", "netns", "add", side.netns], check=False)
            if done.returncode != 0:
                why = f"cannot create network namespace {side.netns}: "
                why += done.stderr.strip()
                if "exists" in done.stderr:
                    # Ours from a dead run (see remove_stale_namespaces), not a
                    # limit of this machine.
                    raise InteropError(why)
                raise InteropUnavailableError(why)
            self._created.append(side.netns)
            self.ip(side, "link", "set", "lo", "up")
        # Created inside left, peer end created directly inside right.
        self.ip(
            self.left,
            "link",
            "add",
            self.left.ifname,
            "type",
            "veth",
            "peer",
            "name",
            self.right.ifname,
            "netns",
            self.right.netns,
        )
        for side in (self.left, self.right):
            self.ip(
                side, "addr", "add", f"{side.outer}/{side.prefix}", "dev", side.ifname
            )
            self.ip(side, "addr", "add", f"{side.inner}/32", "dev", "lo")
            self.ip(side, "link", "set", side.ifname, "up")

    def peer_of(self, side: Side) -> Side:
        """The other side."""
        return self.right if side == self.left else self.left

    def ip(self, side: Side, *args: str) -> str:
        """Run ``ip -n <side> ARGS`` and return its output."""
        return _run(["ip", "-n", side.netns, *args]).stdout

    def argv(self, side: Side, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside ``side``'s namespace."""
        return ["ip", "netns", "exec", side.netns, *argv]

    def run(
        self,
        side: Side,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a short command inside ``side`` and capture its output."""
        return _run(self.argv(side, argv), timeout=timeout, check=check)

    def popen(
        self,
        side: Side,
        argv: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        output: Path | None = None,
    ) -> ManagedProcess:
        """Start a long-running program (charon, a pqike responder) inside ``side``.

        Returns once the process is inside the namespace (or has already exited), so
        :meth:`pids` lists it from then on.  The returned handle is stopped by PID by
        :meth:`close` if the caller has not stopped it already.  ``output`` receives
        its stdout and stderr.  Raises InteropError when the namespace does not exist,
        or when the process is still outside it after ``NETNS_ENTER_TIMEOUT`` seconds
        (the process is stopped first).
        """
        target = _netns_id(f"/run/netns/{side.netns}")
        if target is None:
            raise InteropError(f"no network namespace {side.netns} to start {name} in")
        proc = ManagedProcess(self.argv(side, argv), name=name, env=env, output=output)
        self._processes.append(proc)
        self._wait_inside(proc, side, target)
        return proc

    def _wait_inside(
        self, proc: ManagedProcess, side: Side, target: tuple[int, int]
    ) -> None:
        """Wait until ``proc`` has entered ``side``'s namespace.

        ``Popen`` returns once ``ip netns exec`` has been executed, which can be well
        before it has called setns(): until then the process is in our namespace and
        ``ip netns pids`` does not list it.
        """
        deadline = time.monotonic() + NETNS_ENTER_TIMEOUT
        while _netns_id(f"/proc/{proc.pid}/ns/net") != target:
            # An exit is the caller's to report (with its output), e.g. charon's.
            if proc._exited():
                return
            if time.monotonic() > deadline:
                proc.stop()
                raise InteropError(
                    f"{proc.name} (PID {proc.pid}) was not inside network namespace "
                    f"{side.netns} after {NETNS_ENTER_TIMEOUT}s; stopped it: "
                    f"{shlex.join(proc.argv)}"
                )
            time.sleep(0.002)

    def pids(self, side: Side) -> list[int]:
        """PIDs of the processes currently inside ``side``'s namespace."""
        done = _run(["ip", "netns", "pids", side.netns], check=False)
        return [int(p) for p in done.stdout.split()]

    def stop(self) -> None:
        """The same as :meth:`close`."""
        self.close()

    def close(self) -> None:
        """Stop our processes, then any left in the namespaces, then delete both."""
        if self._closed:
            return
        self._closed = True
        for proc in reversed(self._processes):
            proc.stop()
        for name in self._created:
            side = self.left if name == self.left.netns else self.right
            for pid in self.pids(side):
                # Only processes this harness started can be in our namespaces
                # (children of what we ran there); end them by PID.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        for name in self._created:
            side = self.left if name == self.left.netns else self.right
            while self.pids(side) and time.monotonic() < deadline:
                time.sleep(0.05)
            _run(["ip", "netns", "delete", name], check=False)
        with _LIVE_LOCK:
            _LIVE_NETNS.pop(id(self), None)


def namespace_exists(name: str) -> bool:
    """Whether a named network namespace exists (for tests of the cleanup)."""
    return Path("/run/netns", name).exists()


# -- the test case, peer-neutral --


@dataclasses.dataclass(frozen=True)
class TunnelCase:
    """One IKE SA with one tunnel-mode Child SA, as both peers must configure it.

    Proposals use strongSwan's syntax, which pqike's config accepts too.  Rekey times
    of 0 disable rekeying, so only explicit rekeys happen.
    """

    name: str
    ike_proposals: str
    esp_proposals: str = "aes256gcm16"
    psk: str = "pqike interop shared secret, not for production"
    left_id: str = "left.pqike.test"
    right_id: str = "right.pqike.test"
    child: str = "net"
    encap: bool = True
    ike_rekey_time: int = 0
    child_rekey_time: int = 0
    mobike: bool = False

    def ids(self, side: Side, netns: Netns) -> tuple[str, str]:
        """(local id, remote id) as seen from ``side``."""
        if side == netns.left:
            return self.left_id, self.right_id
        return self.right_id, self.left_id


def swanctl_conf(
    case: TunnelCase, local: Side, remote: Side, ids: tuple[str, str]
) -> str:
    """swanctl.conf text for ``case`` from ``local``'s point of view."""
    local_id, remote_id = ids
    yes_no = {True: "yes", False: "no"}
    secret = case.psk.replace("\\", "\\\\").replace('"', '\\"')
    return f"""\
# written by tests/interop/peer.py for case {case.name}
connections {{
    {case.name} {{
        version = 2
        local_addrs = {local.outer}
        remote_addrs = {remote.outer}
        proposals = {case.ike_proposals}
        encap = {yes_no[case.encap]}
        mobike = {yes_no[case.mobike]}
        rekey_time = {case.ike_rekey_time}
        reauth_time = 0
        dpd_delay = 0
        local {{
            auth = psk
            id = {local_id}
        }}
        remote {{
            auth = psk
            id = {remote_id}
        }}
        children {{
            {case.child} {{
                mode = tunnel
                local_ts = {local.inner}/32
                remote_ts = {remote.inner}/32
                esp_proposals = {case.esp_proposals}
                rekey_time = {case.child_rekey_time}
                start_action = none
                close_action = none
                dpd_action = clear
            }}
        }}
    }}
}}
secrets {{
    ike-{case.name} {{
        id-local = {local_id}
        id-remote = {remote_id}
        secret = "{secret}"
    }}
}}
"""


def strongswan_conf(*, log_keys: bool = False) -> str:
    """strongswan.conf text for one charon in an instance directory."""
    # ike 2 shows proposals and exchanges, enc 1 the payloads of each message,
    # knl 2 the SAs and routes of kernel-libipsec.  Level 4 adds key material.
    secret_level = 4 if log_keys else 2
    return f"""\
# written by tests/interop/peer.py
charon {{
    load_modular = no
    load = {CHARON_PLUGINS}
    port = 500
    port_nat_t = 4500
    install_routes = yes
    retransmit_tries = 3
    retransmit_timeout = 1.0
    retransmit_base = 1.4
    plugins {{
        vici {{
            socket = unix:///run/charon.vici
        }}
        kernel-libipsec {{
            allow_peer_ts = no
        }}
    }}
    filelog {{
        harness {{
            path = {INSTANCE_MOUNT}/charon.log
            time_format = %H:%M:%S
            time_add_ms = yes
            ike_name = yes
            append = no
            flush_line = yes
            default = 1
            ike = {secret_level}
            chd = {secret_level}
            cfg = 2
            knl = 2
            enc = 1
            net = 1
            lib = 1
        }}
    }}
    syslog {{
        daemon {{
            default = -1
        }}
    }}
}}
swanctl {{
    load = pem pkcs1 x509 pubkey openssl random nonce
}}
"""


# -- charon --


@dataclasses.dataclass(frozen=True)
class SaState:
    """One line of ``swanctl --list-sas``: an IKE or Child SA, its name and state."""

    kind: str  # "ike" or "child"
    name: str
    unique_id: int
    state: str
    line: str


_IKE_LINE = re.compile(r"^(\S+): #(\d+), (\w+), IKEv2")
_CHILD_LINE = re.compile(r"^\s+(\S+): #(\d+), reqid \d+, (\w+), ")


def parse_list_sas(text: str) -> list[SaState]:
    """The IKE and Child SAs in ``swanctl --list-sas`` output."""
    found = []
    for line in text.splitlines():
        if match := _IKE_LINE.match(line):
            kind = "ike"
        elif match := _CHILD_LINE.match(line):
            kind = "child"
        else:
            continue
        found.append(
            SaState(kind, match.group(1), int(match.group(2)), match.group(3), line)
        )
    return found


class Charon(_StopOnExit):
    """One charon in one side of a :class:`Netns`, chrooted into the strongSwan tree.

    ``workdir`` is this instance's own directory on the host (configs, ``charon.log``,
    ``stdout.log``, and ``run/`` with the PID file and vici socket); it is bind-mounted
    at ``/pqike`` and ``/run`` inside the tree in a private mount namespace, together
    with ``/dev`` (kernel-libipsec opens /dev/net/tun), ``/proc`` and ``/sys``.  So
    several charons share one tree and no mount outlives the process that made it.
    """

    def __init__(
        self,
        tree: Path,
        netns: Netns,
        side: Side,
        workdir: Path,
        *,
        log_keys: bool = False,
    ) -> None:
        self.tree = tree
        self.netns = netns
        self.side = side
        self.workdir = workdir
        self.log_keys = log_keys
        self.log_path = workdir / "charon.log"
        self.stdout_path = workdir / "stdout.log"
        self.process: ManagedProcess | None = None
        self.case: TunnelCase | None = None
        (workdir / "run").mkdir(parents=True, exist_ok=True)

    @property
    def label(self) -> str:
        """``left`` or ``right``."""
        return "left" if self.side == self.netns.left else "right"

    def _chroot_argv(self, argv: Sequence[str]) -> list[str]:
        tree = shlex.quote(str(self.tree))
        work = shlex.quote(str(self.workdir))
        script = (
            "set -e; "
            f"mount --rbind /dev {tree}/dev; "
            f"mount -t proc proc {tree}/proc; "
            f"mount --rbind /sys {tree}/sys; "
            f"mount --bind {work}/run {tree}/run; "
            f"mount --bind {work} {tree}{INSTANCE_MOUNT}; "
            f'exec chroot {tree} "$@"'
        )
        return self.netns.argv(
            self.side,
            ["unshare", "--mount", "--propagation", "private", "--",
             "/bin/sh", "-c", script, "sh", *argv],
        )  # fmt: skip

    def _env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "STRONGSWAN_CONF": f"{INSTANCE_MOUNT}/strongswan.conf",
            "LANG": "C",
        }

    def configure(self, case: TunnelCase) -> None:
        """Write strongswan.conf and swanctl.conf for ``case`` into ``workdir``."""
        self.case = case
        remote = self.netns.peer_of(self.side)
        (self.workdir / "strongswan.conf").write_text(
            strongswan_conf(log_keys=self.log_keys)
        )
        (self.workdir / "swanctl.conf").write_text(
            swanctl_conf(case, self.side, remote, case.ids(self.side, self.netns))
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start charon and wait until its vici socket answers."""
        if self.process is not None:
            raise InteropError(f"{self.label} charon already started")
        self.process = self.netns.popen(
            self.side,
            self._chroot_argv(["/usr/lib/ipsec/charon"]),
            name=f"charon-{self.label}",
            env=self._env(),
            output=self.stdout_path,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise InteropError(
                    f"{self.label} charon exited with {self.process.poll()}\n"
                    + self.log_tail()
                )
            if (self.workdir / "run" / "charon.vici").exists():
                done = self.swanctl("--stats", check=False)
                if done.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise InteropError(
                    f"{self.label} charon did not come up\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def swanctl(
        self, *args: str, timeout: float = 30.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run swanctl against this charon (in its chroot and namespace)."""
        argv = self._chroot_argv(["/usr/sbin/swanctl", *args])
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise InteropError(
                f"swanctl {shlex.join(args)} timed out on {self.label}\n"
                + self.log_tail()
            ) from exc
        if check and done.returncode != 0:
            raise InteropError(
                f"swanctl {shlex.join(args)} failed on {self.label} "
                f"(exit {done.returncode}):\n{done.stdout}{done.stderr}\n"
                + self.log_tail()
            )
        return done

    def load(self) -> str:
        """Load connections and secrets from the written swanctl.conf."""
        return self.swanctl(
            "--load-all", "--noprompt", "--file", f"{INSTANCE_MOUNT}/swanctl.conf"
        ).stdout

    def initiate(self, child: str | None = None, timeout: int = 15) -> str:
        """Bring up the IKE SA and ``child`` (default: the case's child); blocks."""
        child = child or self._case().child
        return self.swanctl(
            "--initiate", "--child", child, "--timeout", str(timeout),
            timeout=timeout + 5,
        ).stdout  # fmt: skip

    def rekey_child(self, child: str | None = None) -> str:
        """Ask charon to rekey the Child SA (asynchronous: wait on the log after)."""
        return self.swanctl("--rekey", "--child", child or self._case().child).stdout

    def rekey_ike(self, ike: str | None = None) -> str:
        """Ask charon to rekey the IKE SA (asynchronous)."""
        return self.swanctl("--rekey", "--ike", ike or self._case().name).stdout

    def terminate_ike(self, ike: str | None = None, timeout: int = 10) -> str:
        """Delete the IKE SA (and its children) and wait for the peer's answer."""
        return self.swanctl(
            "--terminate", "--ike", ike or self._case().name,
            "--timeout", str(timeout), timeout=timeout + 5,
        ).stdout  # fmt: skip

    def list_sas(self) -> str:
        """The text of ``swanctl --list-sas``."""
        return self.swanctl("--list-sas").stdout

    def sas(self) -> list[SaState]:
        """Parsed :meth:`list_sas`."""
        return parse_list_sas(self.list_sas())

    def _case(self) -> TunnelCase:
        if self.case is None:
            raise InteropError("configure() a case first")
        return self.case

    # log access

    def log_text(self) -> str:
        """All of charon's log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self) -> int:
        """A position in the log; pass it to :meth:`wait_log` to look only after it."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, mark: int) -> str:
        """The log written after ``mark``."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(mark)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(
        self, pattern: str, *, since: int = 0, timeout: float = 10.0, count: int = 1
    ) -> list[re.Match[str]]:
        """Wait until ``pattern`` (a regex) matched ``count`` times after ``since``."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            matches = list(regex.finditer(self.log_since(since)))
            if len(matches) >= count:
                return matches
            if self.process is not None and self.process.poll() is not None:
                raise InteropError(
                    f"{self.label} charon died waiting for /{pattern}/\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                raise InteropError(
                    f"{self.label} charon log has {len(matches)} of {count} "
                    f"/{pattern}/ after {timeout}s\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def selected_proposals(
        self, kind: str, *, since: int = 0, timeout: float = 10.0
    ) -> list[str]:
        """Every ``kind`` ("IKE" or "ESP") proposal charon logged as selected, e.g.
        ``IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE_25519/KE1_ECP_256``; waits for one.
        """
        pattern = rf"selected proposal: ({kind}:\S+)$"
        return [
            m.group(1) for m in self.wait_log(pattern, since=since, timeout=timeout)
        ]

    def wait_established(
        self, *, since: int = 0, timeout: float = 15.0
    ) -> re.Match[str]:
        """Wait for the case's Child SA to come up (charon as responder, say)."""
        child = re.escape(self._case().child)
        pattern = rf"CHILD_SA {child}\{{\d+\}} established with SPIs"
        return self.wait_log(pattern, since=since, timeout=timeout)[0]

    def log_dumps(self, label: str, *, since: int = 0) -> list[bytes]:
        """The byte strings charon dumped as ``label => N bytes`` (``log_keys``).

        For example ``"SKEYSEED"``, ``"Sk_ei secret"``, ``"key exchange secret"``,
        ``"IntAuth_N = prf(Sk_px, data)"``: to compare pqike's key schedule with
        charon's.  Dump lines are matched to their header by thread number.
        """
        header = re.compile(
            rf"^\S+ (\d+)\[\w+\] (?:<[^>]*> )?{re.escape(label)} => (\d+) bytes"
        )
        row = re.compile(r"^\S+ (\d+)\[\w+\] (?:<[^>]*> )?\s+\d+: ((?:[0-9A-F]{2} )+)")
        found = []
        lines = self.log_since(since).splitlines()
        for i, line in enumerate(lines):
            match = header.match(line)
            if not match:
                continue
            thread, size, data = match.group(1), int(match.group(2)), bytearray()
            for later in lines[i + 1 :]:
                if len(data) >= size:
                    break
                if (dump := row.match(later)) and dump.group(1) == thread:
                    data += bytes.fromhex(dump.group(2))
            found.append(bytes(data[:size]))
        return found

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of charon's log and stdout, for failure reports."""
        parts = [f"--- {self.label} charon log tail ({self.log_path}) ---"]
        parts += self.log_text().splitlines()[-lines:]
        if self.stdout_path.exists():
            out = self.stdout_path.read_text(errors="replace").splitlines()
            if out:
                parts.append(f"--- {self.label} charon stdout ({self.stdout_path}) ---")
                parts += out[-lines:]
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop charon by PID (SIGTERM, then SIGKILL)."""
        if self.process is not None:
            self.process.stop()


class CharonFactory(Protocol):
    """The ``charon_factory`` fixture: start one loaded charon in a side for a case."""

    def __call__(
        self, side: Side, case: TunnelCase, *, log_keys: bool = False
    ) -> Charon: ...


CharonPair = Callable[[TunnelCase], tuple[Charon, Charon]]
"""The ``charon_pair`` fixture: a loaded charon in each side, left initiates."""


def ping(
    netns: Netns,
    side: Side,
    tree: Path,
    dest: str,
    *,
    source: str,
    count: int = 3,
    wait: int = 2,
) -> subprocess.CompletedProcess[str]:
    """Ping ``dest`` from ``source`` inside ``side``, with ping from the tree.

    ``wait`` is how long to wait for the last reply; use 1 when expecting none.
    """
    return netns.run(
        side,
        ["chroot", str(tree), "/usr/bin/ping", "-n", "-c", str(count), "-i", "0.2",
         "-W", str(wait), "-I", source, dest],
        timeout=count * wait + 10, check=False,
    )  # fmt: skip


def run_test_source(
    source: str, workdir: Path, *, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as one test file in a child pytest that loads this directory's
    conftest (fixtures, failure-report sections): for tests of what a failing
    interop test reports and leaves behind.  Output is captured as text.
    """
    test_file = workdir / "test_source.py"
    test_file.write_text(source)
    (workdir / "pytest.ini").write_text("[pytest]\nmarkers =\n    interop: child\n")
    here = str(Path(__file__).resolve().parent)
    argv = [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*argv, "-q", str(test_file)],
        cwd=workdir, env=dict(os.environ, PYTHONPATH=here), capture_output=True,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip


@contextlib.contextmanager
def charon_pair(
    tree: Path, netns: Netns, workdir: Path, case: TunnelCase, *, log_keys: bool = False
) -> Iterator[tuple[Charon, Charon]]:
    """Two configured, started and loaded charons (left initiates); no SA yet."""
    with contextlib.ExitStack() as stack:
        pair = []
        for side, label in ((netns.left, "left"), (netns.right, "right")):
            charon = stack.enter_context(
                Charon(tree, netns, side, workdir / label, log_keys=log_keys)
            )
            charon.configure(case)
            charon.start()
            charon.load()
            pair.append(charon)
        yield pair[0], pair[1]


def _serve(tree: Path, case: TunnelCase, workdir: Path, log_keys: bool) -> int:
    """Run a charon responder in the right namespace until SIGINT or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Netns() as netns:
        charon = Charon(tree, netns, netns.right, workdir, log_keys=log_keys)
        with charon:
            charon.configure(case)
            charon.start()
            charon.load()
            left, right = netns.left, netns.right
            print(
                f"charon responds on {right.outer} (500, 4500) in netns {right.netns}\n"
                f"run the peer with: ip netns exec {left.netns} <command>\n"
                f"  local {left.outer}, inner {left.inner}/32 <-> {right.inner}/32\n"
                f"  ids {case.left_id} -> {case.right_id}, psk {case.psk!r}\n"
                f"  IKE {case.ike_proposals}, ESP {case.esp_proposals}\n"
                f"log: {charon.log_path} (SAs are listed on exit)\n"
                "Ctrl-C stops charon and deletes both namespaces.",
                flush=True,
            )
            while not stop.wait(0.5):
                if charon.process is not None and charon.process.poll() is not None:
                    print(charon.log_tail())
                    return 1
            print(charon.list_sas())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 tests/interop/peer.py build|info|clean|serve`` for CI and humans."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="peer.py", description=main.__doc__)
    parser.add_argument("action", choices=["build", "info", "clean", "serve"])
    parser.add_argument("--tree", type=Path, default=None, help="tree directory")
    parser.add_argument(
        "--ike", default="aes256gcm16-prfsha256-x25519", help="serve: IKE proposals"
    )
    parser.add_argument("--esp", default="aes256gcm16", help="serve: ESP proposals")
    parser.add_argument("--log-keys", action="store_true", help="serve: log keys")
    parser.add_argument("--workdir", type=Path, default=None, help="serve: logs here")
    args = parser.parse_args(argv)
    tree = (args.tree or default_tree()).resolve()
    if args.action == "clean":
        for name in remove_stale_namespaces():
            print(f"deleted stale namespace {name}")
        return 0
    if args.action == "info":
        problem = _tree_problem(tree) if tree.exists() else "missing"
        print(f"{tree}: {problem or json.dumps(tree_info(tree))}")
        return 0 if problem is None else 1
    started = time.monotonic()
    try:
        ensure_tree(tree)
    except InteropUnavailableError as exc:
        print(f"strongSwan peer unavailable: {exc}")
        return 1
    if args.action == "serve":
        case = TunnelCase(name="serve", ike_proposals=args.ike, esp_proposals=args.esp)
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pqike-charon-"))
        return _serve(tree, case, workdir.resolve(), args.log_keys)
    print(f"{tree} ready in {time.monotonic() - started:.1f}s: {tree_info(tree)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
