# SPDX-License-Identifier: Apache-2.0
"""Loading of the vector files in tests/vectors for the KAT modules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pqike.crypto import Backend, suites

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

MLKEM_METHOD = {"ML-KEM-512": 35, "ML-KEM-768": 36, "ML-KEM-1024": 37}


def load(relpath: str) -> dict[str, Any]:
    """Return a vector file as parsed JSON."""
    with (VECTORS / relpath).open() as f:
        data: dict[str, Any] = json.load(f)
    return data


def wycheproof_cases(name: str) -> list[Any]:
    """Return one ``pytest.param((group, test))`` per test of a Wycheproof file.

    The id is ``<file stem>-<tcId>``.
    """
    data = load(f"wycheproof/{name}")
    stem = name.removesuffix("_test.json")
    return [
        pytest.param(group, test, id=f"{stem}-{test['tcId']}")
        for group in data["testGroups"]
        for test in group["tests"]
    ]


def require_ke(backend: Backend, method: int) -> None:
    """Skip when ``backend`` does not implement KE method ``method``."""
    if not backend.supports(suites.KE, method):
        pytest.skip(
            f"{backend.name} backend does not implement {suites.ke_method(method).name}"
        )
