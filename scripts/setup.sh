#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Creates .venv (once), installs the Python tooling, and builds pqike's Rust extension
# into it in release mode. Idempotent; safe to run again after every change.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip >/dev/null
python -m pip install --quiet "maturin>=1.7,<2" "cryptography>=44" "pytest>=8" \
  "pytest-benchmark>=4" "hypothesis>=6.100" "mypy>=1.11" "ruff>=0.6" "matplotlib>=3.8"
# Release build: the tests sweep every Wycheproof case and the benches time the core.
# pip lists every optional extra it skips ("Ignoring ...: markers 'extra == ...'");
# those lines are dropped, everything else (and the exit status) goes through.
maturin develop --release --quiet 2>&1 | { grep -v "^Ignoring [^ ]*: markers 'extra == " || true; }
