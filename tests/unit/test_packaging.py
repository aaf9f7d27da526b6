# SPDX-License-Identifier: Apache-2.0
"""The wheel is what users install: abi3, self-contained, usable without Rust.

Builds the release wheel with maturin (reusing the release build the test command
already made), installs it into a fresh venv, and runs it with a PATH that holds no
cargo or rustc. Also checks that ``pip install .`` into another fresh venv works.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("cargo") is None or shutil.which("maturin") is None,
    reason="building the wheel needs cargo and maturin on PATH",
)


def _toolless_env(tmp_path: Path) -> dict[str, str]:
    """A minimal environment whose PATH has no Rust toolchain on it."""
    bare = tmp_path / "bin"
    bare.mkdir(exist_ok=True)
    env = {"PATH": f"{bare}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    for tool in ("cargo", "rustc"):
        found = shutil.which(tool, path=env["PATH"])
        assert found is None, f"{tool} is on the bare PATH at {found}"
    return env


def _new_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        args, capture_output=True, text=True, timeout=600, check=False, **kwargs
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = _run(
        ["maturin", "build", "--release", "--quiet", "--out", str(out)], cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    wheels = list(out.glob("pqike-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_is_abi3_and_carries_its_extension(wheel: Path) -> None:
    assert "-cp311-abi3-" in wheel.name, wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("pqike/_native") and n.endswith(".so") for n in names)
    assert "pqike/py.typed" in names
    assert any(n.startswith("pqike/_native/") and n.endswith(".pyi") for n in names)


def test_wheel_runs_a_handshake_without_a_rust_toolchain(
    wheel: Path, tmp_path: Path
) -> None:
    python = _new_venv(tmp_path / "venv")
    done = _run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)])
    assert done.returncode == 0, done.stderr[-3000:]
    env = _toolless_env(tmp_path)
    probe = (
        "import pqike._native, pqike.crypto as c\n"
        "b = c.get_backend('rust')\n"
        "i, r = b.key_exchange(36), b.key_exchange(36)\n"
        "r.set_peer_public(i.public_key()); i.set_peer_public(r.public_key())\n"
        "assert i.shared_secret() == r.shared_secret()\n"
        "print('ok', pqike._native.__file__)\n"
    )
    done = _run([str(python), "-c", probe], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert str(tmp_path / "venv") in done.stdout
    demo = _run([str(tmp_path / "venv" / "bin" / "pqike"), "demo"], env=env)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "IKE SA established" in demo.stdout
    replies = re.search(r"(\d+)/(\d+) echo replies", demo.stdout)
    assert replies is not None, demo.stdout[-2000:]
    assert replies.group(1) == replies.group(2) != "0"


def test_pip_install_dot_into_a_new_venv(tmp_path: Path) -> None:
    python = _new_venv(tmp_path / "venv")
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    done = _run(
        [str(python), "-m", "pip", "install", "-q", str(ROOT)], env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    probe = "import pqike._native.kex as k; print(k.SUPPORTED_METHODS)"
    check = _run(
        [str(python), "-c", probe],
        env=_toolless_env(tmp_path),
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert "36" in check.stdout
    assert sys.version_info >= (3, 11)
