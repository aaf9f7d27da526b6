# SPDX-License-Identifier: Apache-2.0
"""Stateful crypto objects shared between Python threads.

The Rust objects keep their state behind a lock; the reference objects must too, or two
threads interleaving between a check and its update seal two packets under one nonce,
accept one ESP packet twice or lose a packet of a batch. Each test forces the
interleaving: a hook inside the critical section waits (briefly) for the other thread to
arrive, which it can only do if nothing keeps it out.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pqike.crypto import Backend
from pqike.crypto.reference import ReferenceEspSa
from pqike.crypto.reference import kex as ref_kex
from pqike.errors import ReplayError, SequenceExhausted

KEY = bytes(range(36))
WAIT = 0.3  # how long the first thread waits for the second inside the section


class _Meeting:
    """Makes the first caller wait up to WAIT seconds for a second one."""

    def __init__(self) -> None:
        self._barrier = threading.Barrier(2, timeout=WAIT)
        self._calls = 0
        self._lock = threading.Lock()
        self.arrived = threading.Event()

    def meet(self) -> None:
        with self._lock:
            self._calls += 1
            first_two = self._calls <= 2
        self.arrived.set()
        if first_two:
            with contextlib.suppress(threading.BrokenBarrierError):
                self._barrier.wait()


class _SlowAead:
    """Wraps a reference SA's AEAD so that each call meets the other thread first."""

    def __init__(self, inner: Any, meeting: _Meeting) -> None:
        self._inner = inner
        self._meeting = meeting

    def seal(self, *args: Any) -> bytes:
        self._meeting.meet()
        return bytes(self._inner.seal(*args))

    def open(self, *args: Any) -> bytes:
        self._meeting.meet()
        return bytes(self._inner.open(*args))


def _slow(sa: ReferenceEspSa) -> _Meeting:
    meeting = _Meeting()
    sa._aead = _SlowAead(sa._aead, meeting)  # type: ignore[assignment]
    return meeting


def _run_two(
    meeting: _Meeting, first: Callable[[], object], second: Callable[[], object]
) -> list[object]:
    """Run both in threads, ``second`` once ``first`` reached the meeting point; return
    their results (or the exceptions they raised)."""
    results: list[object] = [None, None]

    def run(i: int, fn: Callable[[], object]) -> None:
        try:
            results[i] = fn()
        except Exception as exc:  # the result under test
            results[i] = exc

    threads = [
        threading.Thread(target=run, args=(i, fn))
        for i, fn in enumerate((first, second))
    ]
    threads[0].start()
    assert meeting.arrived.wait(timeout=10)
    threads[1].start()
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive(), "deadlock"
    return results


def test_reference_esp_open_accepts_a_packet_once_across_threads(
    reference_backend: Backend,
) -> None:
    """Two threads opening the same packet: one payload, one ReplayError."""
    packet = reference_backend.esp_sa(9, 20, KEY).seal(b"once", 4)
    rx = reference_backend.esp_sa(9, 20, KEY)
    assert isinstance(rx, ReferenceEspSa)
    meeting = _slow(rx)
    results = _run_two(meeting, lambda: rx.open(packet), lambda: rx.open(packet))
    assert sorted(type(r).__name__ for r in results) == ["ReplayError", "tuple"]
    assert sum(isinstance(r, ReplayError) for r in results) == 1


def test_reference_esp_seal_batch_is_not_split_by_another_thread(
    reference_backend: Backend,
) -> None:
    """seal_batch's room check and its seals are one step: a seal() from another thread
    cannot take a number the batch counted on (the batch lost its first packet)."""
    tx = reference_backend.esp_sa(9, 20, KEY, initial_seq=(1 << 32) - 2)
    assert isinstance(tx, ReferenceEspSa)
    meeting = _slow(tx)
    batch, single = _run_two(
        meeting, lambda: tx.seal_batch([b"a", b"b"], 4), lambda: tx.seal(b"c", 4)
    )
    assert isinstance(batch, list)
    assert [struct.unpack_from(">I", p, 4)[0] for p in batch] == [
        (1 << 32) - 2,
        (1 << 32) - 1,
    ]
    assert isinstance(single, SequenceExhausted)
    assert tx.next_seq == 1 << 32


def test_reference_mlkem_initiator_has_one_key_across_threads(
    reference_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """public_key() from two threads generates one key pair: the ek both see is the one
    decapsulation uses."""
    meeting = _Meeting()
    real = ref_kex._pyca_mlkem

    def slow_pyca_mlkem(method: int) -> Any:
        meeting.meet()
        return real(method)

    monkeypatch.setattr(ref_kex, "_pyca_mlkem", slow_pyca_mlkem)
    initiator = reference_backend.key_exchange(36)
    eks = _run_two(meeting, initiator.public_key, initiator.public_key)
    monkeypatch.undo()
    assert eks[0] == eks[1] == initiator.public_key()
    responder = reference_backend.key_exchange(36)
    responder.set_peer_public(initiator.public_key())
    initiator.set_peer_public(responder.public_key())
    assert initiator.shared_secret() == responder.shared_secret()


def test_reference_dh_set_peer_public_once_across_threads(
    reference_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads calling set_peer_public: one computes, the other gets ValueError."""
    meeting = _Meeting()
    real = ref_kex.x25519_raw

    def slow_x25519(private: bytes, public: bytes) -> bytes:
        meeting.meet()
        return real(private, public)

    monkeypatch.setattr(ref_kex, "x25519_raw", slow_x25519)
    kx = reference_backend.key_exchange(31)
    a = reference_backend.key_exchange(31).public_key()
    b = reference_backend.key_exchange(31).public_key()
    results = _run_two(
        meeting, lambda: kx.set_peer_public(a), lambda: kx.set_peer_public(b)
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "ValueError"]


def test_esp_seal_from_many_threads_never_reuses_a_number(backend: Backend) -> None:
    """Both backends: seals and batches from four threads get distinct numbers."""
    tx = backend.esp_sa(3, 28, KEY)
    sealed: list[list[bytes]] = [[] for _ in range(4)]

    def work(i: int) -> None:
        for _ in range(50):
            sealed[i].append(tx.seal(b"x", 4))
            sealed[i].extend(tx.seal_batch([b"y", b"z"], 4))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    seqs = [struct.unpack_from(">I", p, 4)[0] for ps in sealed for p in ps]
    assert sorted(seqs) == list(range(1, 601))
    assert tx.next_seq == 601
