#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: Rust unit and known-answer tests, then pytest (unit, kat,
# property, protocol, interop, and the benchmarks as one-round smoke tests).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The strongSwan peer of tests/interop (Debian packages, a chroot tree); it never fails
# the run: where the peer cannot be had, those tests skip and say why.
bash .ci/interop-deps
# shellcheck disable=SC1091
. .venv/bin/activate

echo "== static checks: ruff, mypy --strict"
ruff check python tests benches
ruff format --check python tests benches
mypy python
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test (pqike-core)"
cargo test --release -p pqike-core

echo "== stubtest (hand-written .pyi against the built extension)"
python -m mypy.stubtest pqike._native --allowlist scripts/stubtest-allowlist.txt

echo "== pytest"
set +e
python -m pytest -q -rs "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
