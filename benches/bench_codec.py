# SPDX-License-Identifier: Apache-2.0
"""The IKEv2 codec on real strongSwan messages: decode, encode, seal, fragment.

``pytest benches`` runs each case once (``--benchmark-disable`` is the default);
``pytest benches/bench_codec.py --benchmark-enable`` measures. Sealing uses a toy
cipher so the numbers are the codec's own cost, not AES-GCM's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pqike.ikev2.codec import (
    IkeHeader,
    KePayload,
    Reassembler,
    SkfPayload,
    decode_message,
    encode_message,
    encode_payloads,
    encode_protected,
    fragment_protected,
    open_protected,
)

VECTOR = Path(__file__).parents[1] / "tests" / "vectors" / "strongswan"
INIT = bytes.fromhex(
    json.loads((VECTOR / "x25519-mlkem768.json").read_text())["captures"]["initial"][0][
        "hex"
    ]
)
HEADER = IkeHeader(bytes(8), bytes(8), 43, 8, 1)
KEI = (KePayload(36, bytes(1184)),)


class NullCipher:
    """Copies the plaintext and appends a 16-octet zero tag: no cryptography."""

    iv_length = 8

    def sealed_length(self, plaintext_len: int) -> int:
        return 8 + plaintext_len + 1 + 16

    def seal(self, aad: bytes, iv: bytes, plaintext: bytes) -> bytes:
        return iv + plaintext + b"\x00" + bytes(16)

    def open(self, aad: bytes, body: bytes) -> bytes:
        return body[8:-17]


def test_decode_ike_sa_init(benchmark: Any) -> None:
    message = benchmark(decode_message, INIT)
    assert message.header.exchange_type == 34


def test_encode_ike_sa_init(benchmark: Any) -> None:
    message = decode_message(INIT)
    assert benchmark(encode_message, message) == INIT


def test_encode_protected_mlkem768_kei(benchmark: Any) -> None:
    wire = benchmark(encode_protected, HEADER, KEI, NullCipher(), bytes(8))
    assert len(wire) == 1249


@pytest.mark.parametrize("size", [1280, 576])
def test_fragment_and_reassemble_mlkem768_kei(benchmark: Any, size: int) -> None:
    cipher = NullCipher()
    first, body = encode_payloads(KEI)

    def roundtrip() -> object:
        ivs = (bytes(8) for _ in range(16))
        reassembler = Reassembler()
        result = None
        for wire in fragment_protected(
            HEADER, body, cipher, ivs, size, 32, first_payload=first
        ):
            opened = open_protected(wire, cipher)
            assert isinstance(opened.encrypted, SkfPayload)
            result = reassembler.add(opened.header, opened.encrypted, opened.plaintext)
        return result

    assert benchmark(roundtrip) is not None
