#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: set up, then run a full hybrid x25519 + ML-KEM-768 IKEv2 handshake with
# an ESP Child SA between two endpoints over UDP on loopback, on built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pqike demo "$@"
