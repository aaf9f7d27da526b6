# SPDX-License-Identifier: Apache-2.0
"""STYLE §7: per-SA prefix, INFO lifecycle with the suite, no secret at any level."""

from __future__ import annotations

import logging

import pytest

from pqike.crypto import Backend

from .helpers import PSK, initiator_and_responder, roundtrip


def test_logs_name_the_sa_and_suite_but_never_a_secret(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pqike")
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    sa = i.ep.ike_sas()[0]
    assert sa.keymat is not None
    secrets = [v for v in sa.keymat.export_secrets().values() if v]
    secrets += [PSK]
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in secrets:
        for form in (secret.hex(), repr(secret), secret.hex().upper()):
            assert form not in text
    prefix = f"[ike {sa.spi_i.hex()}:{sa.spi_r.hex()}]"
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(
        m.startswith(prefix) and "established" in m and "ML_KEM_768" in m for m in infos
    )
    assert any("initiating" in m for m in infos)
    debugs = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("KE round 1 of 1" in m for m in debugs)
    assert all(
        not rec.name.startswith("pqike.ikev2") or rec.getMessage()
        for rec in caplog.records
    )


def test_keylog_hook_gets_wireshark_ikev2_row(backend: Backend) -> None:
    from dataclasses import replace

    rows: list[str] = []
    i, r = initiator_and_responder(backend)
    conn = replace(i.ep.config.connections["conn"], keylog=rows.append)
    i.ep.config = replace(i.ep.config, connections={"conn": conn})
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    sa = i.ep.ike_sas()[0]
    assert sa.keymat is not None
    k = sa.keymat.export_secrets()
    assert rows == [
        f"{sa.spi_i.hex()},{sa.spi_r.hex()},{k['sk_ei'].hex()},{k['sk_er'].hex()},"
        '"AES-GCM-256 with 16 octet ICV [RFC5282]",,,"NONE [RFC4306]"'
    ]


def test_sa_log_records_name_the_engine_caller_not_the_adapter(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    # SaLog checks the level itself (issue #5); records must still carry the file
    # and function that logged, as with a plain LoggerAdapter.
    caplog.set_level(logging.DEBUG, logger="pqike")
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    sa_records = [rec for rec in caplog.records if rec.getMessage().startswith("[ike ")]
    assert sa_records
    assert all(rec.funcName not in {"info", "debug", "log"} for rec in sa_records)
    initiating = next(r for r in sa_records if "initiating" in r.getMessage())
    assert (initiating.filename, initiating.funcName) == ("sa.py", "initiate")
    established = next(r for r in sa_records if "established" in r.getMessage())
    assert established.funcName == "_establish"


def test_established_events_and_log_name_the_peer_address(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    from pqike.ikev2.events import IkeEstablished

    from .helpers import I_ADDR, R_ADDR

    caplog.set_level(logging.INFO, logger="pqike")
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    (at_i,) = i.of(IkeEstablished)
    (at_r,) = r.of(IkeEstablished)
    assert at_i.remote[0] == R_ADDR
    assert at_r.remote[0] == I_ADDR
    lines = [m.getMessage() for m in caplog.records if "established" in m.getMessage()]
    assert any(f"({R_ADDR}:{at_i.remote[1]})" in m for m in lines)
    assert any(f"({I_ADDR}:{at_r.remote[1]})" in m for m in lines)
