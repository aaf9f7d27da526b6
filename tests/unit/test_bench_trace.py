# SPDX-License-Identifier: Apache-2.0
"""pqike.bench.trace: recording a handshake's crypto calls and replaying them."""

from __future__ import annotations

import pytest

from pqike.bench.inprocess import Pair, handshake, record_trace
from pqike.bench.suites import SUITES, parse_suites
from pqike.bench.trace import CryptoTrace, RecordingBackend
from pqike.crypto import Backend
from pqike.errors import AuthenticationError


def test_recording_backend_is_transparent_to_the_engine(backend: Backend) -> None:
    outcome = handshake(Pair.for_suite("x25519+mlkem768"), RecordingBackend(backend))  # type: ignore[arg-type]
    assert outcome.children == 2
    assert not outcome.failures


def test_trace_counts_the_handshake_primitives(backend: Backend) -> None:
    trace, _ = record_trace(Pair.for_suite("x25519+mlkem768+mlkem1024"), backend)
    calls = trace.summary()
    # three key exchanges, each with one initiator and one responder object
    assert calls["Backend.key_exchange"] >= 6
    assert calls["Backend.keymat_derive"] == 2
    assert sum(n for k, n in calls.items() if k.endswith(".update_after_ke")) == 4
    assert sum(n for k, n in calls.items() if k.endswith(".psk_auth")) == 4
    assert calls["Backend.esp_sa"] == 4
    assert "Backend.supports" not in calls
    assert "Backend.why_unsupported" not in calls


def test_replay_repeats_the_calls_and_opens_authenticate(backend: Backend) -> None:
    trace, _ = record_trace(Pair.for_suite("x25519"), backend)
    trace.replay(backend)  # every recorded open() must authenticate again
    trace.replay(backend)


def test_replay_fails_on_a_tampered_open(backend: Backend) -> None:
    trace, _ = record_trace(Pair.for_suite("x25519"), backend)
    opens = [i for i, c in enumerate(trace.calls) if c.method == "open"]
    call = trace.calls[opens[0]]
    body = bytearray(call.args[1])
    body[-1] ^= 1
    tampered = CryptoTrace(list(trace.calls), dict(trace.kinds))
    tampered.calls[opens[0]] = type(call)(
        call.target, call.method, (call.args[0], bytes(body)), call.kwargs, call.result
    )
    with pytest.raises(AuthenticationError):
        tampered.replay(backend)


def test_parse_suites_accepts_names_all_and_proposals() -> None:
    assert parse_suites("all") == list(SUITES)
    assert parse_suites("x25519, mlkem768") == ["x25519", "mlkem768"]
    assert parse_suites("aes128gcm16-prfsha256-x25519") == [
        "aes128gcm16-prfsha256-x25519"
    ]
    with pytest.raises(ValueError, match="unknown suite"):
        parse_suites("x25519,bogus")
