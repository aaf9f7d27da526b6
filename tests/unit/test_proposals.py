# SPDX-License-Identifier: Apache-2.0
"""strongSwan proposal syntax: parse, format and their round trip."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pqike.proposals import (
    ENCR_KEYWORDS,
    INTEG_KEYWORDS,
    KE_KEYWORDS,
    PRF_KEYWORDS,
    ProposalKind,
    ProposalSpec,
    check_backend,
    check_proposal,
    format_proposal,
    is_aead,
    parse_proposal,
)


def test_parse_hybrid_ike_proposal() -> None:
    spec = parse_proposal("aes256gcm16-prfsha384-x25519-ke1_mlkem768", "ike")
    assert spec == ProposalSpec(
        encr=((20, 256),), prf=(6,), integ=(), ke=(31,), addke=((36,),), esn=()
    )
    assert spec.aead


def test_parse_integ_implies_prf_for_ike() -> None:
    spec = parse_proposal("aes256-sha256-ecp256-ke1_x25519", "ike")
    assert spec.encr == ((12, 256),)
    assert spec.integ == (12,)
    assert spec.prf == (5,)
    assert spec.ke == (19,)
    assert spec.addke == ((31,),)


def test_parse_explicit_prf_wins_over_integ() -> None:
    spec = parse_proposal("aes128-sha256-prfsha512-x25519", "ike")
    assert spec.prf == (7,)
    assert spec.integ == (12,)


def test_parse_integ_next_to_aead_only_gives_prf() -> None:
    spec = parse_proposal("aes256gcm16-sha384-ecp384", "ike")
    assert spec.integ == ()
    assert spec.prf == (6,)


@pytest.mark.parametrize(
    ("text", "encr"),
    [
        ("aes128gcm16", ((20, 128),)),
        ("chacha20poly1305", ((28, 0),)),
        ("aes256gcm16-aes128gcm16", ((20, 256), (20, 128))),
    ],
)
def test_parse_esp_aead_defaults_to_no_esn_and_no_pfs(
    text: str, encr: tuple[tuple[int, int], ...]
) -> None:
    spec = parse_proposal(text, "esp")
    assert spec == ProposalSpec(encr=encr, esn=(0,))


def test_parse_esp_with_pfs_and_addke() -> None:
    spec = parse_proposal("aes256gcm16-x25519-ke1_ecp256", "esp")
    assert spec.ke == (31,)
    assert spec.addke == ((19,),)
    assert spec.esn == (0,)


def test_parse_optional_addke_none() -> None:
    spec = parse_proposal("aes256gcm16-prfsha256-x25519-ke1_mlkem768-ke1_none", "ike")
    assert spec.addke == ((36, 0),)
    assert parse_proposal("aes256gcm16-ke1_none", "esp").addke == ((0,),)


def test_parse_later_addke_leaves_earlier_types_empty() -> None:
    spec = parse_proposal("aes256gcm16-prfsha256-x25519-ke3_mlkem1024", "ike")
    assert spec.addke == ((), (), (37,))


def test_parse_multiple_algorithms_per_type_keep_order() -> None:
    spec = parse_proposal(
        "aes256gcm16-aes128gcm16-prfsha384-prfsha256-x25519-ecp256", "ike"
    )
    assert spec.encr == ((20, 256), (20, 128))
    assert spec.prf == (6, 5)
    assert spec.ke == (31, 19)


@pytest.mark.parametrize(
    ("text", "esn"),
    [
        ("aes256gcm16-esn", (1,)),
        ("aes256gcm16-noesn", (0,)),
        ("aes256gcm16-esn-noesn", (1, 0)),
    ],
)
def test_parse_esn_keywords(text: str, esn: tuple[int, ...]) -> None:
    assert parse_proposal(text, "esp").esn == esn


def test_parse_is_case_insensitive_and_ignores_repeats() -> None:
    spec = parse_proposal(" AES256GCM16-prfsha384-X25519-x25519-curve25519 ", "ike")
    assert spec.ke == (31,)


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("aes256gcm17-prfsha384-x25519", "ike", "'aes256gcm17'"),
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem769", "ike", "'mlkem769'"),
        ("aes256gcm16-prfsha384-x25519-ke8_mlkem768", "ike", "'ke8_mlkem768'"),
        ("aes256gcm16-prfsha384-x25519-ke0_mlkem768", "ike", "'ke0_mlkem768'"),
        ("aes256gcm16-prfsha384-x25519-kex_mlkem768", "ike", "'kex_mlkem768'"),
        ("aes256gcm16--x25519", "ike", "empty keyword"),
        ("aes256gcm16-prfsha384-x25519-esn", "ike", "'esn'"),
        ("aes256gcm16-x25519", "ike", "PRF"),
        ("aes256gcm16-prfsha384", "ike", "key exchange"),
        ("aes256gcm16-prfsha384-none", "ike", "'none'"),
        ("prfsha384-x25519", "ike", "encryption"),
        ("aes256-prfsha384-x25519", "ike", "integrity"),
        ("aes256gcm16-aes256-sha256-prfsha384-x25519", "ike", "AEAD and non-AEAD"),
        ("aes256gcm16-prfsha256", "esp", "PRF"),
        ("aes256", "esp", "integrity"),
        ("aes256gcm16-sha256", "esp", "'sha256'"),
    ],
)
def test_parse_rejects_with_friendly_message(
    text: str, kind: ProposalKind, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_proposal(text, kind)


def test_parse_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        parse_proposal("aes128gcm16", "ah")  # type: ignore[arg-type]


def test_format_uses_canonical_keywords() -> None:
    spec = parse_proposal("aes256gcm128-prfsha384-curve25519-ke1_mlkem768", "ike")
    assert format_proposal(spec) == "aes256gcm16-prfsha384-x25519-ke1_mlkem768"
    assert str(spec) == format_proposal(spec)


def test_format_writes_esn_only_when_not_default() -> None:
    assert format_proposal(parse_proposal("aes256gcm16-noesn", "esp")) == "aes256gcm16"
    assert (
        format_proposal(parse_proposal("aes256gcm16-esn", "esp")) == "aes256gcm16-esn"
    )


def test_format_rejects_unknown_ids() -> None:
    with pytest.raises(ValueError, match="999"):
        format_proposal(ProposalSpec(encr=((20, 256),), ke=(999,)))
    with pytest.raises(ValueError, match="encryption"):
        format_proposal(ProposalSpec(encr=((20, 100),)))


def test_transforms_lists_types_in_wire_order() -> None:
    spec = parse_proposal("aes256gcm16-prfsha384-x25519-ke2_mlkem768", "ike")
    assert spec.transforms() == [(1, 20, 256), (2, 6, 0), (4, 31, 0), (7, 36, 0)]
    esp = parse_proposal("aes128-sha256", "esp")
    assert esp.transforms() == [(1, 12, 128), (3, 12, 0), (5, 0, 0)]


# -- round trip ------------------------------------------------------------------

_AEAD = sorted({v for v in ENCR_KEYWORDS.values() if is_aead(v[0])})
_PLAIN = sorted({v for v in ENCR_KEYWORDS.values() if not is_aead(v[0])})
_PRFS = sorted(set(PRF_KEYWORDS.values()))
_INTEGS = sorted(set(INTEG_KEYWORDS.values()))
_KES = sorted(set(KE_KEYWORDS.values()) - {0})


def _unique(values: list[int], min_size: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(
        st.sampled_from(values), min_size=min_size, max_size=4, unique=True
    ).map(tuple)


@st.composite
def _specs(draw: st.DrawFn, kind: ProposalKind) -> ProposalSpec:
    aead = draw(st.booleans())
    encr = draw(
        st.lists(
            st.sampled_from(_AEAD if aead else _PLAIN),
            min_size=1,
            max_size=4,
            unique=True,
        ).map(tuple)
    )
    integ: tuple[int, ...] = () if aead else draw(_unique(_INTEGS, 1))
    with_none = [*_KES, 0]
    addke = list(draw(st.lists(_unique(with_none, 0), max_size=7)))
    while addke and not addke[-1]:
        addke.pop()
    prf: tuple[int, ...]
    esn: tuple[int, ...] = ()
    if kind == "ike":
        prf, ke = draw(_unique(_PRFS, 1)), draw(_unique(_KES, 1))
    else:
        prf, ke = (), draw(_unique(with_none, 0))
        esn = draw(
            st.lists(st.sampled_from([0, 1]), min_size=1, unique=True).map(tuple)
        )
    return ProposalSpec(encr, prf, integ, ke, tuple(addke), esn)


@given(_specs("ike"))
def test_roundtrip_format_then_parse_ike(spec: ProposalSpec) -> None:
    assert parse_proposal(format_proposal(spec), "ike") == spec


@given(_specs("esp"))
def test_roundtrip_format_then_parse_esp(spec: ProposalSpec) -> None:
    assert parse_proposal(format_proposal(spec), "esp") == spec


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("aes128ccm16-prfsha256-x25519", "ike", "encryption algorithm 'aes128ccm16'"),
        ("3des-sha256-x25519", "ike", "'3des'"),
        ("aes256ctr-sha256-x25519", "ike", "'aes256ctr'"),
        ("null-sha256-x25519", "ike", "'null'"),
        ("aes256-md5-prfsha256-x25519", "ike", "integrity algorithm 'md5'"),
        ("aes256-aesxcbc-prfsha256-x25519", "ike", "'aesxcbc'"),
        ("aes256-aescmac-prfsha256-x25519", "ike", "'aescmac'"),
        ("aes256gcm16-prfaesxcbc-x25519", "ike", "PRF 'prfaesxcbc'"),
        ("aes256gcm16-prfsha256-modp2048", "ike", "method 'modp2048'"),
        ("aes256gcm16-prfsha256-x25519-ke1_ecp256bp", "ike", "'ke1_ecp256bp'"),
        ("aes256-sha256", "esp", "ESP encryption 'aes256'"),
        ("aes256gcm8", "esp", "ESP encryption 'aes256gcm8'"),
        ("aes256gcm16-modp2048", "esp", "'modp2048'"),
    ],
)
def test_check_proposal_rejects_unsupported_algorithms(
    text: str, kind: ProposalKind, message: str
) -> None:
    spec = parse_proposal(text, kind)  # strongSwan syntax: it parses
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        check_proposal(spec, kind)
    assert "not supported" in str(info.value)


@pytest.mark.parametrize(
    ("text", "kind", "rounds"),
    [
        (
            "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem768",
            "ike",
            "ke1_ and ke2_",
        ),
        ("aes256gcm16-prfsha384-x25519-ke1_x25519", "ike", "key exchange and ke1_"),
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke5_x25519", "ike", "and ke5_"),
        (
            "aes256gcm16-prfsha384-x25519-ecp256-ke1_x25519-ke1_ecp256-ke2_ecp256"
            "-ke2_x25519",
            "ike",
            "key exchange and ke1_ and ke2_",
        ),
        ("aes256gcm16-x25519-ke1_x25519", "esp", "key exchange and ke1_"),
    ],
)
def test_check_proposal_rejects_unavoidable_duplicate_methods(
    text: str, kind: ProposalKind, rounds: str
) -> None:
    with pytest.raises(ValueError, match="RFC 9370") as info:
        check_proposal(parse_proposal(text, kind), kind)
    assert rounds in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "aes256gcm16-prfsha384-x25519-ke1_mlkem768",
        "aes256gcm16-prfsha384-x25519-ke1_x25519-ke1_mlkem768",
        "aes256gcm16-prfsha384-x25519-ecp256-ke1_x25519-ke1_ecp256",
        "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem768-ke2_none",
        "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem1024-ke5_ecp384",
        "aes256-sha256-ecp256-ke1_mlkem768",
        "chacha20poly1305-prfsha512-x448-ke1_mlkem1024",
        "aes128gcm8-aes128gcm12-prfsha256-ecp521",
    ],
)
def test_check_proposal_accepts_negotiable_ike(text: str) -> None:
    check_proposal(parse_proposal(text, "ike"), "ike")


@pytest.mark.parametrize(
    "text", ["aes256gcm16", "aes128gcm16", "chacha20poly1305-esn", "aes256gcm16-x25519"]
)
def test_check_proposal_accepts_esp_aeads(text: str) -> None:
    check_proposal(parse_proposal(text, "esp"), "esp")


@pytest.mark.parametrize(
    ("proposal", "kind", "refused", "message"),
    [
        (
            "aes256gcm16-aes128gcm16-prfsha256-x25519",
            "ike",
            {(1, 20)},
            "aes256gcm16 and aes128gcm16 cannot be used (no), and the proposal lists "
            "no other encryption algorithm",
        ),
        (
            "aes256-sha384-x25519",
            "ike",
            {(3, 13)},
            "sha384 cannot be used (no), and the proposal lists no other "
            "integrity algorithm",
        ),
        (
            "aes256gcm16-prfsha256-x25519-ke2_mlkem768",
            "ike",
            {(7, 36)},
            "ke2_mlkem768 cannot be used (no), and the proposal lists no other "
            "ke2_ method",
        ),
    ],
)
def test_check_backend_names_what_is_missing(
    proposal: str, kind: ProposalKind, refused: set[tuple[int, int]], message: str
) -> None:
    """A transform type with nothing the backend runs: the keywords and the reason."""
    spec = parse_proposal(proposal, kind)
    with pytest.raises(ValueError, match="cannot be used") as info:
        check_backend(spec, lambda t, i: "no" if (t, i) in refused else None)
    assert str(info.value) == message


def test_check_backend_keeps_rounds_with_an_alternative() -> None:
    """One runnable transform (or NONE, or ESN) per type is enough."""
    refused = {(1, 20), (6, 35), (5, 1)}

    def why(transform_type: int, transform_id: int) -> str | None:
        return "no" if (transform_type, transform_id) in refused else None

    ike = "aes256gcm16-chacha20poly1305-prfsha256-x25519-ke1_mlkem512-ke1_none"
    check_backend(parse_proposal(ike, "ike"), why)
    check_backend(parse_proposal("aes256gcm16-chacha20poly1305-esn", "esp"), why)
