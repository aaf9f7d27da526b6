# SPDX-License-Identifier: Apache-2.0
"""Algorithm proposals in strongSwan's keyword syntax.

A proposal is a dash-separated list of keywords, for example
``aes256gcm16-prfsha384-x25519-ke1_mlkem768``. Keywords of the same kind may repeat,
their order is the preference (``aes256gcm16-aes128gcm16`` prefers AES-256); the order
of different kinds does not matter. Additional key exchanges (RFC 9370) take the prefix
``ke1_`` .. ``ke7_``; ``none`` makes a key exchange optional (``ke1_none``) or, in an
ESP proposal, marks PFS as optional.

As in strongSwan, an integrity keyword in an IKE proposal without any ``prf`` keyword
also proposes the matching PRF (``sha256`` -> HMAC-SHA2-256-128 and PRF HMAC-SHA2-256),
and an integrity keyword next to an AEAD cipher only contributes that PRF.

All IDs are IANA numbers (SPEC.md §4.3): ENCR type 1, PRF 2, INTEG 3, KE 4, ESN 5 and
ADDKE1..7 = types 6..12.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from pqike.crypto import suites

__all__ = [
    "ADDKE_MAX",
    "ENCR_KEYWORDS",
    "INTEG_KEYWORDS",
    "KE_KEYWORDS",
    "PRF_KEYWORDS",
    "ProposalKind",
    "ProposalSpec",
    "check_backend",
    "check_proposal",
    "format_proposal",
    "is_aead",
    "parse_proposal",
]

ProposalKind = Literal["ike", "esp"]

ADDKE_MAX = 7
"""RFC 9370 §2.1: Additional Key Exchange 1..7 (transform types 6..12)."""

_TYPE_ENCR, _TYPE_PRF, _TYPE_INTEG, _TYPE_KE, _TYPE_ESN = 1, 2, 3, 4, 5

# ENCR IDs (IANA "Transform Type 1").
_DES3, _NULL, _AES_CBC, _AES_CTR = 3, 11, 12, 13
_CCM8, _CCM12, _CCM16, _GCM8, _GCM12, _GCM16 = 14, 15, 16, 18, 19, 20
_CHACHA20_POLY1305 = 28
_AEAD_IDS = frozenset({_CCM8, _CCM12, _CCM16, _GCM8, _GCM12, _GCM16, 28})


def _aes_family() -> dict[str, tuple[int, int]]:
    """All ``aes<bits><mode><icv>`` keywords strongSwan knows, e.g. ``aes256gcm16``."""
    modes: dict[str, int] = {
        "": _AES_CBC,
        "ctr": _AES_CTR,
        "ccm8": _CCM8,
        "ccm64": _CCM8,
        "ccm12": _CCM12,
        "ccm96": _CCM12,
        "ccm16": _CCM16,
        "ccm128": _CCM16,
        "gcm8": _GCM8,
        "gcm64": _GCM8,
        "gcm12": _GCM12,
        "gcm96": _GCM12,
        "gcm16": _GCM16,
        "gcm128": _GCM16,
        "gcm": _GCM16,
    }
    table: dict[str, tuple[int, int]] = {}
    for bits in (128, 192, 256):
        for suffix, encr_id in modes.items():
            table[f"aes{bits}{suffix}"] = (encr_id, bits)
    table["aes"] = (_AES_CBC, 128)
    return table


ENCR_KEYWORDS: dict[str, tuple[int, int]] = {
    **_aes_family(),
    "chacha20poly1305": (_CHACHA20_POLY1305, 0),
    "3des": (_DES3, 0),
    "null": (_NULL, 0),
}
"""Keyword -> (ENCR transform ID, key bits); key bits 0 for fixed-size ciphers."""

PRF_KEYWORDS: dict[str, int] = {
    "prfmd5": 1,
    "prfsha1": 2,
    "prfaesxcbc": 4,
    "prfsha256": 5,
    "prfsha384": 6,
    "prfsha512": 7,
    "prfaescmac": 8,
}
"""Keyword -> PRF transform ID (type 2)."""

INTEG_KEYWORDS: dict[str, int] = {
    "md5": 1,
    "sha1": 2,
    "sha": 2,
    "aesxcbc": 5,
    "aescmac": 8,
    "sha256": 12,
    "sha2_256": 12,
    "sha384": 13,
    "sha2_384": 13,
    "sha512": 14,
    "sha2_512": 14,
}
"""Keyword -> INTEG transform ID (type 3)."""

# strongSwan proposes these PRFs for integrity keywords when no prf keyword is given.
_PRF_FOR_INTEG: dict[int, int] = {1: 1, 2: 2, 5: 4, 8: 8, 12: 5, 13: 6, 14: 7}

KE_KEYWORDS: dict[str, int] = {
    "none": 0,
    "modp768": 1,
    "modp1024": 2,
    "modp1536": 5,
    "modp2048": 14,
    "modp3072": 15,
    "modp4096": 16,
    "modp6144": 17,
    "modp8192": 18,
    "ecp256": 19,
    "ecp384": 20,
    "ecp521": 21,
    "ecp192": 25,
    "ecp224": 26,
    "ecp224bp": 27,
    "ecp256bp": 28,
    "ecp384bp": 29,
    "ecp512bp": 30,
    "curve25519": 31,
    "x25519": 31,
    "curve448": 32,
    "x448": 32,
    "mlkem512": 35,
    "mlkem768": 36,
    "mlkem1024": 37,
}
"""Keyword -> key exchange method ID (type 4, and types 6..12 with ``keN_``)."""

_ESN_KEYWORDS: dict[str, int] = {"noesn": 0, "esn": 1}


def _canonical_names(table: dict[str, int]) -> dict[int, str]:
    """First keyword per ID wins, so each table lists its preferred spelling first."""
    names: dict[int, str] = {}
    for name, value in table.items():
        names.setdefault(value, name)
    return names


_ENCR_NAMES: dict[tuple[int, int], str] = {}
for _keyword, _encr in ENCR_KEYWORDS.items():
    _ENCR_NAMES.setdefault(_encr, _keyword)
_PRF_NAMES = _canonical_names(PRF_KEYWORDS)
_INTEG_NAMES = _canonical_names(INTEG_KEYWORDS)
_KE_NAMES = _canonical_names(KE_KEYWORDS) | {31: "x25519", 32: "x448"}
_ESN_NAMES = _canonical_names(_ESN_KEYWORDS)


def is_aead(encr_id: int) -> bool:
    """Whether an ENCR transform ID is a combined-mode (AEAD) cipher."""
    return encr_id in _AEAD_IDS


@dataclass(frozen=True)
class ProposalSpec:
    """One proposal: the acceptable transforms of each type, in preference order.

    Built by :func:`parse_proposal`; the engine turns it into an SA payload proposal
    and matches received proposals against it.
    """

    encr: tuple[tuple[int, int], ...] = ()
    """(ENCR transform ID, key bits); key bits 0 for fixed-size ciphers."""
    prf: tuple[int, ...] = ()
    """PRF transform IDs; empty for ESP."""
    integ: tuple[int, ...] = ()
    """INTEG transform IDs; empty with AEAD ciphers."""
    ke: tuple[int, ...] = ()
    """Key exchange methods (type 4); for ESP empty means no PFS, 0 = NONE."""
    addke: tuple[tuple[int, ...], ...] = ()
    """Index 0 = ADDKE1 (type 6) .. index 6 = ADDKE7; an empty entry = type absent."""
    esn: tuple[int, ...] = ()
    """ESP only: 0 no ESN, 1 ESN; :func:`parse_proposal` gives ``(0,)`` by default."""

    def transforms(self) -> list[tuple[int, int, int]]:
        """All transforms as ``(transform_type, transform_id, key_bits)`` triples.

        Types in wire order (ENCR, PRF, INTEG, KE, ESN, ADDKE1..7), each type in
        preference order; ``key_bits`` is 0 where no Key Length attribute applies.
        """
        out = [(_TYPE_ENCR, encr_id, bits) for encr_id, bits in self.encr]
        out += [(_TYPE_PRF, prf_id, 0) for prf_id in self.prf]
        out += [(_TYPE_INTEG, integ_id, 0) for integ_id in self.integ]
        out += [(_TYPE_KE, ke_id, 0) for ke_id in self.ke]
        out += [(_TYPE_ESN, esn, 0) for esn in self.esn]
        for index, methods in enumerate(self.addke):
            out += [(6 + index, method, 0) for method in methods]
        return out

    @property
    def aead(self) -> bool:
        """True if the ciphers are AEADs (then no INTEG transform is sent)."""
        return bool(self.encr) and all(is_aead(e) for e, _ in self.encr)

    def __str__(self) -> str:
        return format_proposal(self)


_T = TypeVar("_T")


def _add_once(values: list[_T], value: _T) -> None:
    """Append unless already listed: repeated keywords add nothing."""
    if value not in values:
        values.append(value)


class _Builder:
    """Collects keywords of one proposal in the order given, ignoring repeats."""

    def __init__(self) -> None:
        self.encr: list[tuple[int, int]] = []
        self.prf: list[int] = []
        self.integ: list[int] = []
        self.ke: list[int] = []
        self.addke: list[list[int]] = [[] for _ in range(ADDKE_MAX)]
        self.esn: list[int] = []
        self.integ_tokens: list[str] = []

    def take(self, token: str, kind: ProposalKind) -> None:
        """Classify one keyword; raise ValueError naming it when unknown."""
        if token in ENCR_KEYWORDS:
            _add_once(self.encr, ENCR_KEYWORDS[token])
        elif token in PRF_KEYWORDS:
            _add_once(self.prf, PRF_KEYWORDS[token])
        elif token in INTEG_KEYWORDS:
            _add_once(self.integ, INTEG_KEYWORDS[token])
            self.integ_tokens.append(token)
        elif token in KE_KEYWORDS:
            _add_once(self.ke, KE_KEYWORDS[token])
        elif token in _ESN_KEYWORDS:
            if kind == "ike":
                raise ValueError(f"{token!r}: ESN is only for ESP proposals")
            _add_once(self.esn, _ESN_KEYWORDS[token])
        else:
            self._take_addke(token)

    def _take_addke(self, token: str) -> None:
        prefix, sep, rest = token.partition("_")
        number = prefix[2:]
        if not (sep and prefix.startswith("ke") and number.isdigit()):
            raise ValueError(f"unknown algorithm keyword {token!r}")
        if not 1 <= int(number) <= ADDKE_MAX:
            raise ValueError(f"{token!r}: additional key exchanges are ke1_ .. ke7_")
        if rest not in KE_KEYWORDS:
            raise ValueError(f"{token!r}: unknown key exchange method {rest!r}")
        _add_once(self.addke[int(number) - 1], KE_KEYWORDS[rest])


def _check(builder: _Builder, kind: ProposalKind) -> None:
    """Whole-proposal rules, as strongSwan applies them."""
    if not builder.encr:
        raise ValueError("an encryption algorithm is required")
    aead = [is_aead(e) for e, _ in builder.encr]
    if any(aead) and not all(aead):
        raise ValueError("AEAD and non-AEAD ciphers cannot share one proposal")
    if kind == "esp":
        if builder.prf:
            raise ValueError("PRF keywords are only for IKE proposals")
        if not any(aead) and not builder.integ:
            raise ValueError("an integrity algorithm is required without AEAD")
        if any(aead) and builder.integ:
            raise ValueError(
                f"{builder.integ_tokens[0]!r}: no integrity algorithm with AEAD"
            )
        return
    if not builder.prf:
        builder.prf = [_PRF_FOR_INTEG[i] for i in builder.integ if i in _PRF_FOR_INTEG]
        if not builder.prf:
            raise ValueError("an IKE proposal needs a PRF, e.g. 'prfsha384'")
    if not any(aead) and not builder.integ:
        raise ValueError("an integrity algorithm is required without AEAD")
    if any(aead):
        builder.integ = []
    if not builder.ke:
        raise ValueError("an IKE proposal needs a key exchange method, e.g. 'x25519'")
    if 0 in builder.ke:
        raise ValueError("'none' is not a key exchange method for IKE_SA_INIT")


def parse_proposal(text: str, kind: ProposalKind) -> ProposalSpec:
    """Parse one strongSwan-style proposal.

    Args:
        text: dash-separated keywords, e.g. ``aes256gcm16-prfsha384-x25519``
            (case-insensitive, surrounding blanks ignored).
        kind: ``"ike"`` for IKE SA proposals, ``"esp"`` for Child SA proposals.

    Returns:
        The proposal; ESP proposals without ``esn``/``noesn`` get ``esn=(0,)``.

    Raises:
        ValueError: an unknown keyword (named in the message), a keyword of the wrong
            kind, or a proposal missing a required algorithm type.
    """
    if kind not in ("ike", "esp"):
        raise ValueError(f"proposal kind must be 'ike' or 'esp', got {kind!r}")
    tokens = text.strip().lower().split("-")
    if any(not token for token in tokens):
        raise ValueError(f"empty keyword in proposal {text!r}")
    builder = _Builder()
    for token in tokens:
        builder.take(token, kind)
    _check(builder, kind)
    addke = [tuple(methods) for methods in builder.addke]
    while addke and not addke[-1]:
        addke.pop()
    esn = tuple(builder.esn) or ((0,) if kind == "esp" else ())
    return ProposalSpec(
        encr=tuple(builder.encr),
        prf=tuple(builder.prf),
        integ=tuple(builder.integ),
        ke=tuple(builder.ke),
        addke=tuple(addke),
        esn=esn,
    )


def _name(table: dict[int, str], value: int, what: str) -> str:
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"no keyword for {what} {value}") from None


def format_proposal(spec: ProposalSpec) -> str:
    """Write a proposal back in strongSwan syntax (for logs and config dumps).

    ``parse_proposal(format_proposal(s), kind) == s`` for every proposal that
    :func:`parse_proposal` can return. The ESP default ``esn=(0,)`` is left out.

    Raises:
        ValueError: an ID has no keyword.
    """
    words: list[str] = []
    for encr in spec.encr:
        if encr not in _ENCR_NAMES:
            raise ValueError(f"no keyword for encryption algorithm {encr}")
        words.append(_ENCR_NAMES[encr])
    words += [_name(_INTEG_NAMES, i, "integrity algorithm") for i in spec.integ]
    words += [_name(_PRF_NAMES, p, "PRF") for p in spec.prf]
    words += [_name(_KE_NAMES, k, "key exchange method") for k in spec.ke]
    for index, methods in enumerate(spec.addke):
        prefix = f"ke{index + 1}_"
        words += [prefix + _name(_KE_NAMES, k, "key exchange method") for k in methods]
    if spec.esn != (0,):
        words += [_name(_ESN_NAMES, e, "ESN value") for e in spec.esn]
    return "-".join(words)


_ESP_ENCR = frozenset({_GCM16, _CHACHA20_POLY1305})
"""ENCR IDs the ESP data plane implements (``pqike.crypto`` ``esp_sa``)."""


def _unsupported(what: str, keyword: str, supported: list[str]) -> ValueError:
    return ValueError(
        f"{what} {keyword!r} is not supported by pqike "
        f"(supported: {', '.join(supported)})"
    )


def _check_algorithms(spec: ProposalSpec, kind: ProposalKind) -> None:
    encr_ok: Callable[[int], bool] = (
        _ESP_ENCR.__contains__
        if kind == "esp"
        else (lambda e: suites.supports(suites.ENCR, e))
    )
    for encr in spec.encr:
        if not encr_ok(encr[0]):
            good = [n for (e, _), n in _ENCR_NAMES.items() if encr_ok(e)]
            what = "ESP encryption" if kind == "esp" else "encryption algorithm"
            raise _unsupported(what, _ENCR_NAMES.get(encr, str(encr)), good)
    checks = (
        (spec.prf, suites.PRF, _PRF_NAMES, "PRF"),
        (spec.integ, suites.INTEG, _INTEG_NAMES, "integrity algorithm"),
    )
    for ids, transform_type, names, what in checks:
        for value in ids:
            if not suites.supports(transform_type, value):
                good = [
                    n for i, n in names.items() if suites.supports(transform_type, i)
                ]
                raise _unsupported(what, names.get(value, str(value)), good)
    rounds = [("", spec.ke), *((f"ke{n + 1}_", m) for n, m in enumerate(spec.addke))]
    good = [name for i, name in _KE_NAMES.items() if i in suites.KE_METHODS]
    for prefix, methods in rounds:
        for method in methods:
            if method and method not in suites.KE_METHODS:
                name = prefix + _KE_NAMES.get(method, str(method))
                raise _unsupported("key exchange method", name, good)


def _distinct_choice(rounds: list[tuple[int, ...]], taken: frozenset[int]) -> bool:
    """Whether one method per round can be picked with no method picked twice
    (NONE, 0, may repeat)."""
    if not rounds:
        return True
    first, rest = rounds[0], rounds[1:]
    return any(
        _distinct_choice(rest, taken if m == 0 else taken | {m})
        for m in first
        if m == 0 or m not in taken
    )


def _check_rounds(spec: ProposalSpec) -> None:
    rounds = [("the main key exchange", spec.ke or (0,))]
    rounds += [(f"ke{n + 1}_", m) for n, m in enumerate(spec.addke) if m]
    if _distinct_choice([methods for _, methods in rounds], frozenset()):
        return
    # Name the smallest set of rounds that cannot be made distinct.
    group = rounds
    for size in range(2, len(rounds)):
        found = [
            g
            for g in itertools.combinations(rounds, size)
            if not _distinct_choice([m for _, m in g], frozenset())
        ]
        if found:
            group = list(found[0])
            break
    names = sorted({_KE_NAMES.get(m, str(m)) for _, ms in group for m in ms})
    raise ValueError(
        f"{' and '.join(n for n, _ in group)} can only use {'/'.join(names)}: "
        "RFC 9370 §2.2.1 does not allow one key exchange method in two rounds "
        "(Type 4 and ADDKE1..7), so this proposal can never be negotiated"
    )


def check_proposal(spec: ProposalSpec, kind: ProposalKind) -> None:
    """Check that pqike can negotiate and run ``spec`` (configs call this after
    :func:`parse_proposal`, which accepts every keyword strongSwan knows).

    Raises:
        ValueError: an algorithm the crypto layer does not implement (for ESP: a
            cipher other than the ESP data plane's AEADs), or key exchange rounds
            that can only repeat a method (RFC 9370 §2.2.1).
    """
    _check_algorithms(spec, kind)
    _check_rounds(spec)


_TYPE_WHAT = {
    _TYPE_ENCR: "encryption algorithm",
    _TYPE_PRF: "PRF",
    _TYPE_INTEG: "integrity algorithm",
    _TYPE_KE: "key exchange method",
}


def _transform_keyword(transform_type: int, transform_id: int, key_bits: int) -> str:
    if transform_type == _TYPE_ENCR:
        return _ENCR_NAMES.get((transform_id, key_bits), str(transform_id))
    names = {_TYPE_PRF: _PRF_NAMES, _TYPE_INTEG: _INTEG_NAMES}.get(
        transform_type, _KE_NAMES
    )
    name = names.get(transform_id, str(transform_id))
    return f"ke{transform_type - 5}_{name}" if transform_type > _TYPE_ESN else name


def check_backend(
    spec: ProposalSpec, why_unsupported: Callable[[int, int], str | None]
) -> None:
    """Check that a crypto backend can run ``spec`` (``why_unsupported`` is the
    backend's ``why_unsupported``).

    The engine leaves out of its proposals what the backend cannot run, so a round
    ``ke1_mlkem512_mlkem768`` still works on a backend without ML-KEM-512. But a
    transform type left with nothing makes the engine drop the whole proposal, and a
    connection whose proposals all went fails only when it is used, with no reason
    ("unsupported transform type 4 id 0"). This names the reason at load time.

    Raises:
        ValueError: a transform type of ``spec`` lists nothing the backend can run;
            the message names the keywords and the backend's reason.
    """
    by_type: dict[int, list[tuple[int, int]]] = {}
    for transform_type, transform_id, key_bits in spec.transforms():
        by_type.setdefault(transform_type, []).append((transform_id, key_bits))
    for transform_type, ids in by_type.items():
        if transform_type == _TYPE_ESN or any(i == 0 for i, _ in ids):
            continue  # ESN is no algorithm; NONE (0) makes the round optional
        reasons = [why_unsupported(transform_type, i) for i, _ in ids]
        if any(reason is None for reason in reasons):
            continue
        keywords = [_transform_keyword(transform_type, i, bits) for i, bits in ids]
        what = _TYPE_WHAT.get(transform_type, f"ke{transform_type - 5}_ method")
        why = "; ".join(dict.fromkeys(r for r in reasons if r is not None))
        raise ValueError(
            f"{' and '.join(keywords)} cannot be used ({why}), and the proposal "
            f"lists no other {what}"
        )
