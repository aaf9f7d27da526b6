# SPDX-License-Identifier: Apache-2.0
"""Crypto primitives through pqike.crypto, Rust backend beside the reference backend.

Each primitive is one pytest-benchmark group with a ``rust`` and a ``reference`` row.
``pytest benches`` (``--benchmark-disable`` is the default) runs every case once as a
smoke test; ``pytest benches --benchmark-enable`` measures.

ESP open runs on an SA with anti-replay off, so the same packets can be opened again
in every round; the replay check is a few integer operations of the same path.
"""

from __future__ import annotations

from typing import Any

import pytest

from pqike.crypto import Backend, get_backend, suites

BACKENDS = [pytest.param(name, id=name) for name in ("rust", "reference")]
MLKEM = [pytest.param(m, id=suites.ke_method(m).name) for m in (35, 36, 37)]
DH = [pytest.param(m, id=suites.ke_method(m).name) for m in (31, 19)]
ESP_SIZES = [pytest.param(n, id=f"{n}B") for n in (64, 1400, 9000)]
BATCH = 64
ESP_KEY = bytes(range(36))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn; skips one that cannot be loaded."""
    try:
        return get_backend(str(request.param))
    except ImportError as exc:
        pytest.skip(f"{request.param} backend unavailable: {exc}")


def _need_ke(backend: Backend, method: int) -> None:
    if not backend.supports(suites.KE, method):
        pytest.skip(f"{backend.name} backend lacks {suites.ke_method(method).name}")


def _group(benchmark: Any, name: str) -> None:
    benchmark.group = name


@pytest.mark.parametrize("method", MLKEM)
def test_mlkem_keygen(benchmark: Any, backend: Backend, method: int) -> None:
    """Initiator key pair: KeyExchange(method).public_key() (the ek)."""
    _need_ke(backend, method)
    _group(benchmark, f"{suites.ke_method(method).name} keygen")
    ek = benchmark(lambda: backend.key_exchange(method).public_key())
    assert len(ek) == suites.ke_method(method).initiator_length


@pytest.mark.parametrize("method", MLKEM)
def test_mlkem_encaps(benchmark: Any, backend: Backend, method: int) -> None:
    """Responder: ek checks plus encapsulation (set_peer_public)."""
    _need_ke(backend, method)
    _group(benchmark, f"{suites.ke_method(method).name} encaps")
    ek = backend.key_exchange(method).public_key()

    def encaps() -> bytes:
        kx = backend.key_exchange(method)
        kx.set_peer_public(ek)
        return kx.public_key()

    assert len(benchmark(encaps)) == suites.ke_method(method).responder_length


@pytest.mark.parametrize("method", MLKEM)
def test_mlkem_decaps(benchmark: Any, backend: Backend, method: int) -> None:
    """Initiator: ciphertext check plus decapsulation (a fresh initiator per round)."""
    _need_ke(backend, method)
    _group(benchmark, f"{suites.ke_method(method).name} decaps")

    def setup() -> tuple[tuple[Any, bytes], dict[str, Any]]:
        initiator = backend.key_exchange(method)
        responder = backend.key_exchange(method)
        responder.set_peer_public(initiator.public_key())
        return (initiator, responder.public_key()), {}

    def decaps(initiator: Any, ct: bytes) -> bytes:
        initiator.set_peer_public(ct)
        return bytes(initiator.shared_secret())

    secret = benchmark.pedantic(decaps, setup=setup, rounds=50, warmup_rounds=2)
    assert len(secret) == 32


@pytest.mark.parametrize("method", DH)
def test_dh_keygen(benchmark: Any, backend: Backend, method: int) -> None:
    """A fresh DH key pair and its public value."""
    _group(benchmark, f"{suites.ke_method(method).name} keygen")
    pub = benchmark(lambda: backend.key_exchange(method).public_key())
    assert len(pub) == suites.ke_method(method).initiator_length


@pytest.mark.parametrize("method", DH)
def test_dh_exchange(benchmark: Any, backend: Backend, method: int) -> None:
    """Peer value validation plus the DH computation (fresh object per round)."""
    _group(benchmark, f"{suites.ke_method(method).name} exchange")
    peer = backend.key_exchange(method).public_key()

    def setup() -> tuple[tuple[Any], dict[str, Any]]:
        return (backend.key_exchange(method),), {}

    def exchange(kx: Any) -> bytes:
        kx.set_peer_public(peer)
        return bytes(kx.shared_secret())

    secret = benchmark.pedantic(exchange, setup=setup, rounds=200, warmup_rounds=5)
    assert len(secret) == suites.ke_method(method).shared_secret_length


def test_prf_plus_sk_set(benchmark: Any, backend: Backend) -> None:
    """prf+ for SK_d..SK_pr of prfsha384 + aes256gcm16 (3*48 + 2*36 = 216 octets)."""
    _group(benchmark, "prf+ SK_* (prfsha384, aes256gcm16)")
    skeyseed = bytes(range(48))
    seed = bytes(32) + bytes(range(32)) + bytes(16)  # Ni | Nr | SPIi | SPIr
    n = 3 * suites.prf_key_length(6) + 2 * suites.encr_key_length(20, 256)
    out = benchmark(backend.prf_plus, 6, skeyseed, seed, n)
    assert len(out) == 216


def test_keymat_derive(benchmark: Any, backend: Backend) -> None:
    """SKEYSEED and SK_* objects (prfsha384, aes256gcm16) via keymat_derive."""
    _group(benchmark, "keymat_derive (prfsha384, aes256gcm16)")
    args = (6, 20, 256, 0, bytes(32), bytes(32), bytes(range(32)), bytes(8), bytes(8))
    benchmark(backend.keymat_derive, *args)


@pytest.mark.parametrize("size", ESP_SIZES)
def test_esp_seal(benchmark: Any, backend: Backend, size: int) -> None:
    """One ESP packet, AES-256-GCM-16."""
    _group(benchmark, f"ESP seal {size}B")
    sa = backend.esp_sa(0x1000, 20, ESP_KEY)
    payload = bytes(size)
    packet = benchmark(sa.seal, payload, 4)
    assert len(packet) >= size + 34


@pytest.mark.parametrize("size", ESP_SIZES)
def test_esp_seal_batch(benchmark: Any, backend: Backend, size: int) -> None:
    """64 ESP packets in one seal_batch call."""
    _group(benchmark, f"ESP seal batch 64x{size}B")
    sa = backend.esp_sa(0x1000, 20, ESP_KEY)
    payloads = [bytes(size)] * BATCH
    assert len(benchmark(sa.seal_batch, payloads, 4)) == BATCH


@pytest.mark.parametrize("size", ESP_SIZES)
def test_esp_open(benchmark: Any, backend: Backend, size: int) -> None:
    """One ESP packet opened (anti-replay off so the packet can repeat)."""
    _group(benchmark, f"ESP open {size}B")
    packet = backend.esp_sa(0x1000, 20, ESP_KEY).seal(bytes(size), 4)
    sa = backend.esp_sa(0x1000, 20, ESP_KEY, replay_window=0)
    payload, _ = benchmark(sa.open, packet)
    assert len(payload) == size


@pytest.mark.parametrize("size", ESP_SIZES)
def test_esp_open_batch(benchmark: Any, backend: Backend, size: int) -> None:
    """64 ESP packets in one open_batch call."""
    _group(benchmark, f"ESP open batch 64x{size}B")
    packets = backend.esp_sa(0x1000, 20, ESP_KEY).seal_batch([bytes(size)] * BATCH, 4)
    sa = backend.esp_sa(0x1000, 20, ESP_KEY, replay_window=0)
    results = benchmark(sa.open_batch, packets)
    assert all(isinstance(r, tuple) for r in results)
