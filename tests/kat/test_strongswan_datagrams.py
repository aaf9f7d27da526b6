# SPDX-License-Identifier: Apache-2.0
"""Every datagram of the strongSwan 6.0.6 transcripts through the codec.

tests/vectors/strongswan/*.json hold the UDP payloads of two hybrid handshakes
(initial exchanges, Child and IKE rekeys with IKE_FOLLOWUP_KE, deletes) and the keys
strongSwan logged. Without keys we check decoding, re-encoding and the IKE_SA_INIT
contents; with the reference backend of ``pqike.crypto`` we open every SK/SKF
payload, reassemble the fragments and recompute the IntAuth values and the PSK AUTH
payloads strongSwan logged and sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pqike.ikev2.codec import (
    AuthPayload,
    IdiPayload,
    IdPayload,
    IdrPayload,
    IkeHeader,
    KePayload,
    Message,
    NoncePayload,
    Payload,
    Reassembler,
    SaPayload,
    SkfPayload,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
    encode_protected,
    fragment_protected,
    ike_from_natt_datagram,
    int_auth_chunks,
    open_protected,
)
from pqike.ikev2.constants import (
    AuthMethod,
    ExchangeType,
    NotifyType,
    ProtocolId,
    TransformType,
)
from pqike.proposals import parse_proposal

VECTORS = Path(__file__).parents[1] / "vectors" / "strongswan"
FILES = sorted(VECTORS.glob("*.json"))
HASHES = {5: hashlib.sha256, 6: hashlib.sha384, 7: hashlib.sha512}


@dataclass
class Datagram:
    phase: str
    index: int
    src_port: int
    raw: bytes
    ike: bytes | None
    message: Message | None = None


@dataclass
class Transcript:
    doc: dict[str, Any]
    datagrams: list[Datagram] = field(default_factory=list)

    @property
    def ike(self) -> list[Datagram]:
        return [d for d in self.datagrams if d.message is not None]

    def init_pair(self) -> tuple[Message, Message]:
        init = [
            d.message
            for d in self.ike
            if d.message and d.message.header.exchange_type == ExchangeType.IKE_SA_INIT
        ]
        assert len(init) == 2
        return init[0], init[1]


def load(path: Path) -> Transcript:
    doc = json.loads(path.read_text())
    transcript = Transcript(doc)
    for phase, captures in doc["captures"].items():
        for index, capture in enumerate(captures):
            raw = bytes.fromhex(capture["hex"])
            port = int(capture["src"].rsplit(":", 1)[1])
            ike = raw if port == 500 else ike_from_natt_datagram(raw)
            transcript.datagrams.append(Datagram(phase, index, port, raw, ike))
    return transcript


@pytest.fixture(scope="module", params=FILES, ids=[p.stem for p in FILES])
def transcript(request: pytest.FixtureRequest) -> Transcript:
    t = load(request.param)
    for d in t.datagrams:
        if d.ike is not None:
            d.message = decode_message(d.ike)
    return t


def all_datagrams() -> list[Any]:
    return [
        pytest.param(path, d, id=f"{path.stem}-{d.phase}-{d.index}")
        for path in FILES
        for d in load(path).datagrams
    ]


@pytest.mark.parametrize(("path", "datagram"), all_datagrams())
def test_every_datagram_decodes_or_is_esp(path: Path, datagram: Datagram) -> None:
    if datagram.src_port == 500:
        assert datagram.ike is not None
    if datagram.ike is None:
        # ESP in UDP (RFC 3948): a non-zero SPI where IKE has its marker
        assert datagram.src_port == 4500
        assert datagram.raw[:4] != bytes(4)
        assert len(datagram.raw) >= 8
        return
    message = decode_message(datagram.ike)
    assert message.header.length == len(datagram.ike)
    assert encode_message(message) == datagram.ike


def test_transcripts_hold_ike_on_500_and_4500_and_esp(transcript: Transcript) -> None:
    ports = {(d.src_port, d.ike is not None) for d in transcript.datagrams}
    assert ports == {(500, True), (4500, True), (4500, False)}


def test_ike_sa_init_proposal_matches_config(transcript: Transcript) -> None:
    spec = parse_proposal(transcript.doc["config"]["ike_proposal"], "ike")
    ((encr_id, key_bits),) = spec.encr
    expected = [
        (1, encr_id, key_bits),
        *((2, p, None) for p in spec.prf),
        *((3, i, None) for i in spec.integ if i),
        *((4, k, None) for k in spec.ke),
        *((6 + n, m, None) for n, methods in enumerate(spec.addke) for m in methods),
    ]
    for message in transcript.init_pair():
        sa = message.find(SaPayload)
        assert sa is not None
        (proposal,) = sa.proposals
        assert proposal.protocol_id == ProtocolId.IKE
        assert proposal.spi == b""
        got = [
            (int(t.transform_type), int(t.transform_id), t.key_length)
            for t in proposal.transforms
        ]
        assert sorted(got, key=str) == sorted(expected, key=str)


def test_ike_sa_init_ke_uses_the_proposed_method(transcript: Transcript) -> None:
    for message in transcript.init_pair():
        sa, ke = message.find(SaPayload), message.find(KePayload)
        assert sa is not None
        assert ke is not None
        (ke_transform,) = sa.proposals[0].transforms_of(TransformType.KE)
        assert ke.method == ke_transform.transform_id
        assert len(ke.data) in (32, 64)  # X25519 public value or ECP-256 x|y
        nonce = message.find(NoncePayload)
        assert nonce is not None
        assert len(nonce.data) == 32


def test_ike_sa_init_announces_intermediate_and_fragmentation(
    transcript: Transcript,
) -> None:
    for message in transcript.init_pair():
        for notify in (
            NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED,
            NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
        ):
            payload = message.notify(notify)
            assert payload is not None
            assert payload.data == b""
            assert payload.protocol_id == 0


def test_fragments_are_numbered_consistently(transcript: Transcript) -> None:
    groups: dict[tuple[bytes, int, int], list[SkfPayload]] = defaultdict(list)
    for d in transcript.ike:
        assert d.message is not None
        last = d.message.payloads[-1]
        if isinstance(last, SkfPayload):
            assert len(d.message.payloads) == 1
            assert len(d.raw) <= transcript.doc["config"]["fragment_size"]
            h = d.message.header
            groups[(h.spi_i + h.spi_r, h.message_id, h.flags)].append(last)
    assert groups, "the transcripts fragment every ML-KEM-768 KEi"
    for fragments in groups.values():
        totals = {f.total_fragments for f in fragments}
        assert totals == {len(fragments)}
        assert [f.fragment_number for f in fragments] == list(
            range(1, len(fragments) + 1)
        )
        assert fragments[0].first_payload != 0
        assert all(f.first_payload == 0 for f in fragments[1:])


# --- with keys -------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    sk_ei: bytes
    sk_er: bytes
    sk_pi: bytes
    sk_pr: bytes


def key_blocks(stage: dict[str, Any]) -> list[Keys]:
    """Every SK_* block a stage logged, in derivation order."""
    values: dict[str, list[bytes]] = defaultdict(list)
    for secret in stage["secrets"]:
        values[secret["name"]].append(bytes.fromhex(secret["hex"]))
    return [
        Keys(*(values[f"Sk_{n} secret"][i] for n in ("ei", "er", "pi", "pr")))
        for i in range(len(values["Sk_ei secret"]))
    ]


def backend(name: str) -> Any:
    crypto = pytest.importorskip("pqike.crypto", reason="pqike.crypto is not built")
    try:
        return crypto.get_backend(name)
    except ImportError as exc:
        pytest.skip(f"{name} backend unavailable: {exc}")


@dataclass(frozen=True)
class Inner:
    """One protected message (reassembled if fragmented) after opening."""

    header: IkeHeader
    keys: Keys
    first: int
    plaintext: bytes
    payloads: tuple[Payload, ...]
    cipher: Any
    sent: tuple[bytes, ...]
    """The IKE message as sent, or its fragments in order."""


def generation_keys(t: Transcript) -> tuple[Keys, list[Keys]]:
    """SK_*(0) of the initial SA, and the final keys of each IKE SA generation.

    IKE SAs appear in the order initial, rekeyed by A, rekeyed by B; in the initial
    SA the IKE_INTERMEDIATE exchange (MID 1) uses SK_*(0), everything later SK_*(1).
    """
    stages = {s["stage"]: s for s in t.doc["stages"]}
    initial = key_blocks(stages["initiate"])
    assert len(initial) == 2
    rekeyed = [key_blocks(stages[f"rekey ike from {side}"])[0] for side in "AB"]
    return initial[0], [initial[1], *rekeyed]


def inner_messages(t: Transcript, backend_name: str) -> list[Inner]:
    """Open every protected message with the keys of its IKE SA generation."""
    be = backend(backend_name)
    first_keys, generations = generation_keys(t)
    pairs: list[bytes] = []
    reassembler = Reassembler()
    fragments: dict[tuple[bytes, int, int], list[bytes]] = defaultdict(list)
    out: list[Inner] = []
    for d in t.ike:
        assert d.message is not None
        assert d.ike is not None
        h = d.message.header
        if h.exchange_type == ExchangeType.IKE_SA_INIT:
            continue
        if h.spi_i + h.spi_r not in pairs:
            pairs.append(h.spi_i + h.spi_r)
        generation = pairs.index(h.spi_i + h.spi_r)
        keys = (
            first_keys
            if (generation, h.message_id) == (0, 1)
            else generations[generation]
        )
        sk_e = keys.sk_ei if h.is_initiator else keys.sk_er
        cipher = be.ike_cipher(20, (len(sk_e) - 4) * 8, 0, sk_e, b"")
        opened = open_protected(d.ike, cipher)
        if isinstance(opened.encrypted, SkfPayload):
            key = (h.spi_i + h.spi_r, h.message_id, h.flags)
            fragments[key].append(d.ike)
            whole = reassembler.add(h, opened.encrypted, opened.plaintext)
            if whole is not None:
                out.append(
                    Inner(
                        whole.header,
                        keys,
                        whole.first_payload,
                        whole.plaintext,
                        whole.payloads,
                        cipher,
                        tuple(fragments.pop(key)),
                    )
                )
            continue
        first = opened.encrypted.first_payload
        inner = decode_payloads(opened.plaintext, first, inner=True)
        out.append(Inner(h, keys, first, opened.plaintext, inner, cipher, (d.ike,)))
    assert len(pairs) == 3
    assert len(reassembler) == 0
    return out


@pytest.fixture(scope="module", params=["reference", "rust"])
def opened(transcript: Transcript, request: pytest.FixtureRequest) -> list[Inner]:
    """Every protected message opened through one ``pqike.crypto`` backend."""
    return inner_messages(transcript, request.param)


def test_every_protected_payload_opens_and_reencodes(
    transcript: Transcript, opened: list[Inner]
) -> None:
    messages = opened
    second_fragments = sum(
        1
        for d in transcript.ike
        if d.message is not None
        and isinstance(d.message.payloads[-1], SkfPayload)
        and d.message.payloads[-1].fragment_number > 1
    )
    assert len(messages) == len(transcript.ike) - 2 - second_fragments
    for m in messages:
        assert encode_payloads(m.payloads) == (m.first, m.plaintext)


def test_resealing_reproduces_strongswan_bytes(
    transcript: Transcript, opened: list[Inner]
) -> None:
    # strongSwan pads AES-GCM minimally and fragments to fragment_size IP octets
    # (IPv4 20 + UDP 8 + non-ESP marker 4 in front), as the codec does.
    size = transcript.doc["config"]["fragment_size"]
    for m in opened:
        ivs = [sent[32:40] if len(m.sent) == 1 else sent[36:44] for sent in m.sent]
        if len(m.sent) == 1:
            again = [encode_protected(m.header, m.payloads, m.cipher, ivs[0])]
        else:
            again = fragment_protected(
                m.header, m.plaintext, m.cipher, ivs, size, 32, first_payload=m.first
            )
        assert again == list(m.sent)


def test_intermediate_carries_mlkem768_ke(opened: list[Inner]) -> None:
    kes = []
    for m in opened:
        if m.header.exchange_type == ExchangeType.IKE_INTERMEDIATE:
            (ke,) = [p for p in m.payloads if isinstance(p, KePayload)]
            kes.append((m.header.is_response, ke.method, len(ke.data)))
    assert kes == [(False, 36, 1184), (True, 36, 1088)]


def prf_of(t: Transcript) -> Callable[[bytes, bytes], bytes]:
    sa = t.init_pair()[0].find(SaPayload)
    assert sa is not None
    (prf,) = sa.proposals[0].transforms_of(TransformType.PRF)
    hash_fn = HASHES[prf.transform_id]
    return lambda key, data: hmac.new(key, data, hash_fn).digest()


def int_auths(t: Transcript, opened: list[Inner]) -> list[bytes]:
    """RFC 9242 §3.3.2: IntAuth_1 = prf(SK_pi or SK_pr, A | P), per message."""
    prf = prf_of(t)
    out = []
    for m in opened:
        if m.header.exchange_type == ExchangeType.IKE_INTERMEDIATE:
            a, p = int_auth_chunks(m.header, m.first, m.plaintext)
            out.append(
                prf(m.keys.sk_pr if m.header.is_response else m.keys.sk_pi, a + p)
            )
    return out


def test_int_auth_matches_strongswan_log(
    transcript: Transcript, opened: list[Inner]
) -> None:
    logged = [
        bytes.fromhex(s["hex"])
        for s in transcript.doc["stages"][0]["secrets"]
        if s["name"].startswith("IntAuth")
    ]
    assert int_auths(transcript, opened) == logged


def test_psk_auth_payloads_verify(transcript: Transcript, opened: list[Inner]) -> None:
    # RFC 7296 §2.15 with RFC 9242 §3.3.3: AUTH = prf(prf(PSK, "Key Pad for IKEv2"),
    # RealMessage | Nonce | prf(SK_p, RestOfIDPayload) | IntAuth_i | IntAuth_r | MID)
    prf = prf_of(transcript)
    real = [
        d.ike
        for d in transcript.ike
        if d.message is not None
        and d.message.header.exchange_type == ExchangeType.IKE_SA_INIT
    ]
    nonces = [m.find(NoncePayload) for m in transcript.init_pair()]
    int_auth_i, int_auth_r = int_auths(transcript, opened)
    config = transcript.doc["config"]
    pad = prf(config["psk"].encode(), b"Key Pad for IKEv2")
    auths = [m for m in opened if m.header.exchange_type == ExchangeType.IKE_AUTH]
    assert len(auths) == 2
    for m in auths:
        responder = m.header.is_response
        kind: type[IdPayload] = IdrPayload if responder else IdiPayload
        ident = next(p for p in m.payloads if isinstance(p, kind))
        assert (
            ident.data
            == config["responder_id" if responder else "initiator_id"].encode()
        )
        sk_p = m.keys.sk_pr if responder else m.keys.sk_pi
        message, nonce = real[responder], nonces[not responder]
        assert message is not None
        assert nonce is not None
        octets = (
            message
            + nonce.data
            + prf(sk_p, ident.encode())
            + int_auth_i
            + int_auth_r
            + m.header.message_id.to_bytes(4, "big")
        )
        (auth,) = [p for p in m.payloads if isinstance(p, AuthPayload)]
        assert auth.method == AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE
        assert auth.data == prf(pad, octets)


def test_esp_spis_were_negotiated(transcript: Transcript, opened: list[Inner]) -> None:
    negotiated: set[bytes] = set()
    for m in opened:
        for payload in m.payloads:
            if isinstance(payload, SaPayload):
                negotiated.update(
                    p.spi for p in payload.proposals if p.protocol_id == ProtocolId.ESP
                )
    esp = {d.raw[:4] for d in transcript.datagrams if d.ike is None}
    assert esp
    assert esp <= negotiated
