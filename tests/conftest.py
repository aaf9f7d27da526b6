# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the crypto backends, each test run once per backend.

``backend`` is parametrized over ``rust`` and ``reference``; a backend that cannot be
loaded (``pqike._native`` not built yet) skips its parameter with the reason.
``rust_backend`` and ``reference_backend`` give one backend each, for differential
tests.
"""

from __future__ import annotations

import pytest

from pqike.crypto import Backend, get_backend

BACKEND_IDS = ("rust", "reference")


def _load(name: str) -> Backend:
    try:
        return get_backend(name)
    except ImportError as exc:
        pytest.skip(f"{name} backend unavailable: {exc}")


@pytest.fixture(scope="session", params=[pytest.param(n, id=n) for n in BACKEND_IDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each crypto backend in turn."""
    return _load(str(request.param))


@pytest.fixture(scope="session")
def rust_backend() -> Backend:
    """The Rust backend (skips when ``pqike._native`` is not built)."""
    return _load("rust")


@pytest.fixture(scope="session")
def reference_backend() -> Backend:
    """The pyca/cryptography reference backend."""
    return _load("reference")
