# SPDX-License-Identifier: Apache-2.0
"""The first Child SA, created inside IKE_AUTH (RFC 7296 §1.2, §2.9, §2.17).

Request part:  SAi2 (ESP, our inbound SPI), TSi, TSr [, N(USE_TRANSPORT_MODE)]
Response part: SAr2 (one proposal, the responder's inbound SPI), TSi, TSr (narrowed)

Key and Type 6..12 transforms in SAi2 are ignored (SPEC §2.2): they only matter for a
later CREATE_CHILD_SA. KEYMAT = prf+(SK_d, Ni | Nr) (RFC 7296 §2.17), split as
encr_i | integ_i | encr_r | integ_r; "i" is the initiator-to-responder direction.
A failed Child SA does not fail the IKE SA (RFC 7296 §2.21.2): the responder answers
with the error notify instead of SAr2/TS, the initiator reports ChildDeleted.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pqike._memo import IdentityMemo
from pqike.crypto.suites import encr_key_length, integ_key_length
from pqike.errors import PqIkeError, RemoteProtocolError
from pqike.ikev2.codec.payloads import NotifyPayload
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.codec.ts import TrafficSelector as WireTs
from pqike.ikev2.codec.ts import TsiPayload, TsrPayload
from pqike.ikev2.constants import ExchangeType, NotifyType, ProtocolId
from pqike.ikev2.events import ChildDeleted, ChildEstablished, ChildId
from pqike.ikev2.negotiation import (
    ENCR,
    ESN,
    INTEG,
    Offer,
    Selected,
    local_offers,
    select,
    validate_choice,
)
from pqike.ikev2.suite import encr_name, notify_name
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.common import (
    error_notifies,
    find,
    notify,
    proposal_to_offer,
    response_sa_payload,
    sa_payload,
)
from pqike.ikev2.tasks.informational import DeleteChild

if TYPE_CHECKING:
    from pqike.config import ChildConfig
    from pqike.crypto.esp import EspSa
    from pqike.ikev2.sa import IkeSa

__all__ = [
    "ChildCreate",
    "ChildSa",
    "narrow",
    "split_keymat",
    "usable_esp_spi",
    "wire_ts",
]

_N = NotifyType
_NONE = (0, 0)


@dataclass
class ChildSa:
    """An installed Child SA: two EspSa objects and what was negotiated."""

    child_id: ChildId
    name: str
    spi_in: int
    spi_out: int
    inbound: EspSa
    outbound: EspSa
    mode: str
    encr: tuple[int, int]
    local_ts: tuple[Any, ...]
    remote_ts: tuple[Any, ...]


def _intersect(a: WireTs, b: Any) -> WireTs | None:
    """Intersection of two selectors of the same type (RFC 7296 §2.9 narrowing)."""
    if not isinstance(b, WireTs) or a.ts_type != b.ts_type:
        return None
    if a.ip_protocol and b.ip_protocol and a.ip_protocol != b.ip_protocol:
        return None
    lo_p, hi_p = max(a.start_port, b.start_port), min(a.end_port, b.end_port)
    lo_a, hi_a = max(a.start_addr, b.start_addr), min(a.end_addr, b.end_addr)
    if lo_p > hi_p or lo_a > hi_a:
        return None
    return WireTs(a.ts_type, a.ip_protocol or b.ip_protocol, lo_p, hi_p, lo_a, hi_a)


def narrow(offered: tuple[Any, ...], ours: tuple[Any, ...]) -> tuple[WireTs, ...]:
    """Every non-empty intersection of an offered selector with one of ours.

    Selector tuples are immutable and the same ones (configured, or decoded once per
    distinct octets by the codec) come back every handshake: the answer is
    remembered by their identity (tuples only: a list could change).
    """
    hit = _NARROWED.get2(offered, ours)
    if hit is not None:
        return hit
    result = _narrow(offered, ours)
    if type(offered) is tuple and type(ours) is tuple:
        _NARROWED.put2(offered, ours, result)
    return result


_NARROWED: IdentityMemo[tuple[WireTs, ...]] = IdentityMemo()
_WITHIN: IdentityMemo[bool] = IdentityMemo()
_WIRE_TS: IdentityMemo[tuple[WireTs, ...]] = IdentityMemo()


def _narrow(offered: tuple[Any, ...], ours: tuple[Any, ...]) -> tuple[WireTs, ...]:
    out: list[WireTs] = []
    for theirs in offered:
        if not isinstance(theirs, WireTs):
            continue
        for mine in ours:
            cut = _intersect(theirs, mine)
            if cut is not None and cut not in out:
                out.append(cut)
    return tuple(out)


def _within(got: tuple[Any, ...], proposed: tuple[Any, ...]) -> bool:
    """True when every selector the responder returned lies inside ours
    (remembered like :func:`narrow`)."""
    hit = _WITHIN.get2(got, proposed)
    if hit is not None:
        return hit
    result = bool(got) and all(
        isinstance(g, WireTs) and any(_intersect(g, p) == g for p in proposed)
        for g in got
    )
    if type(got) is tuple and type(proposed) is tuple:
        _WITHIN.put2(got, proposed, result)
    return result


def _ranges(selectors: tuple[Any, ...]) -> tuple[WireTs, ...]:
    return tuple(s for s in selectors if isinstance(s, WireTs))


def wire_ts(config_ts: tuple[Any, ...]) -> tuple[WireTs, ...]:
    """Config TrafficSelectors as codec TrafficSelectors (same fields).

    Configs are frozen: each tuple is converted once and remembered by identity
    (hashing it by value would cost as much as converting it).
    """
    converted = _WIRE_TS.get(config_ts)
    if converted is None:
        converted = _wire_ts(config_ts)
        if type(config_ts) is tuple:
            _WIRE_TS.put(config_ts, converted)
    return converted


def _wire_ts(config_ts: tuple[Any, ...]) -> tuple[WireTs, ...]:
    return tuple(
        WireTs(
            t.ts_type, t.ip_protocol, t.start_port, t.end_port, t.start_addr, t.end_addr
        )
        for t in config_ts
    )


def usable_esp_spi(spi: bytes) -> bool:
    """An ESP SPI the peer may give us: 4 octets, not zero (RFC 4303 §2.1: 0 is
    reserved for local use and must never be sent on the wire)."""
    return len(spi) == 4 and spi != b"\x00\x00\x00\x00"


def split_keymat(
    keymat: bytes, encr_len: int, integ_len: int
) -> tuple[bytes, bytes, bytes, bytes]:
    """RFC 7296 §2.17: KEYMAT = encr_i | integ_i | encr_r | integ_r."""
    one = encr_len + integ_len
    return (
        keymat[:encr_len],
        keymat[encr_len:one],
        keymat[one : one + encr_len],
        keymat[one + encr_len : 2 * one],
    )


@functools.lru_cache(maxsize=64)
def _esp_suite(encr_id: int, bits: int, integ: int) -> tuple[int, int, str]:
    """(encr key octets with salt, integ key octets, ESP ENCR name) of a choice."""
    return (
        encr_key_length(encr_id, bits),
        integ_key_length(integ),
        encr_name(encr_id, bits),
    )


def _child_payloads(
    msg: Received,
) -> tuple[SaPayload | None, TsiPayload | None, TsrPayload | None]:
    get = msg.by_class.get
    return get(SaPayload), get(TsiPayload), get(TsrPayload)


class ChildCreate(Task):
    """Negotiates and installs one Child SA (the connection's first child)."""

    # LIMITATION: ESP ciphers are the backend's AEADs (AES-GCM-16,
    # ChaCha20-Poly1305); INTEG keys are derived but unused. Further children of a
    # connection follow in CREATE_CHILD_SA exchanges (``child_rekey.py``).

    exchange = ExchangeType.IKE_AUTH
    with_ke = False
    """Types 4 and 6..12 in the proposals (CREATE_CHILD_SA only, SPEC §2.2)."""

    def __init__(self, sa: IkeSa, child_cfg: ChildConfig | None = None) -> None:
        super().__init__(sa)
        children = sa.conn.children
        self.explicit_cfg = child_cfg
        self.cfg = child_cfg or (children[0] if children else None)
        self.spi_in = 0
        self.offers: list[Offer] = []
        self.chosen: Selected | None = None
        self.ts_i: tuple[WireTs, ...] = ()
        self.ts_r: tuple[WireTs, ...] = ()
        self.transport = False
        self.failure: tuple[int, str] | None = None
        self.done = self.cfg is None
        self.install_now = True
        """False while IKE_FOLLOWUP_KE rounds still have to run (child_rekey)."""
        self.secrets: list[bytes] = []
        """SK(0), SK(1).. of the exchange(s) for KEYMAT; empty = no PFS."""

    def nonces(self) -> tuple[bytes, bytes]:
        """(Ni, Nr) for KEYMAT: the IKE_SA_INIT ones for the IKE_AUTH child."""
        return self.sa.ni, self.sa.nr

    def pending_exchange(self) -> ExchangeType | None:
        return None if self.done else self.exchange

    def _local_offers(self, spi: bytes) -> list[Offer]:
        assert self.cfg is not None
        return list(
            local_offers(
                self.cfg.esp_proposals,
                ProtocolId.ESP,
                spi=spi,
                with_ke=self.with_ke,
                supports=self.sa.backend.supports,
            )
        )

    # -- initiator -------------------------------------------------------------

    def _build_i(self, draft: Draft) -> TaskStatus:
        assert self.cfg is not None
        self.spi_in = self.sa.ctx.alloc_esp_spi()
        self.offers = self._local_offers(struct.pack(">I", self.spi_in))
        self.ts_i, self.ts_r = wire_ts(self.cfg.local_ts), wire_ts(self.cfg.remote_ts)
        if self.cfg.mode == "transport":
            draft.payloads.append(NotifyPayload(_N.USE_TRANSPORT_MODE))
        draft.payloads += [
            sa_payload(self.offers),
            TsiPayload(self.ts_i),
            TsrPayload(self.ts_r),
        ]
        return TaskStatus.NEED_MORE

    def _process_i(self, msg: Received) -> TaskStatus:
        self.done = True
        if self._accept_response(msg):
            assert self.chosen is not None
            try:
                self._install(int.from_bytes(self.chosen.spi, "big"), initiator=True)
            except RemoteProtocolError as exc:
                # our side cannot be installed: the IKE SA stays, the responder's
                # half of the child is deleted (RFC 7296 §1.4.1)
                self.sa.log.warning("local error installing the Child SA: %s", exc)
                self._child_failed(str(exc))
                self.sa.queue.append(DeleteChild(self.sa, ChildId(0), self.spi_in))
        return TaskStatus.DONE

    def _accept_response(self, msg: Received) -> bool:
        """Check SAr and the narrowed TS against what we proposed."""
        sa_p, tsi, tsr = _child_payloads(msg)
        errors = error_notifies(msg)
        if errors or sa_p is None or tsi is None or tsr is None:
            code = errors[0].notify_type if errors else _N.INVALID_SYNTAX
            self._child_failed(f"Child SA refused ({notify_name(code)})")
            return False
        chosen = (
            validate_choice(
                proposal_to_offer(sa_p.proposals[0]),
                self.offers,
                ignore_ke=not self.with_ke,
            )
            if len(sa_p.proposals) == 1
            else None
        )
        if chosen is None or not usable_esp_spi(chosen.spi):
            self._child_failed("responder's ESP proposal is not one we offered")
            return False
        if not (
            _within(tsi.selectors, self.ts_i) and _within(tsr.selectors, self.ts_r)
        ):
            self._child_failed("responder's traffic selectors exceed ours")
            return False
        self.chosen = chosen
        self.ts_i, self.ts_r = _ranges(tsi.selectors), _ranges(tsr.selectors)
        self.transport = (
            self.cfg is not None
            and self.cfg.mode == "transport"
            and notify(msg, _N.USE_TRANSPORT_MODE) is not None
        )
        return True

    def _child_failed(self, reason: str) -> None:
        self.sa.log.info(
            "CHILD_SA %s failed: %s", self.cfg.name if self.cfg else "", reason
        )
        self.sa.emit(ChildDeleted(self.sa.handle, ChildId(0), reason))

    # -- responder -------------------------------------------------------------

    def _pick_config(self, msg: Received) -> bool:
        """The connection's first child config whose selectors overlap the TS.

        Runs at processing time, so a connection switched by IDi (IKE_AUTH) counts.
        """
        tsi, tsr = find(msg, TsiPayload), find(msg, TsrPayload)
        if tsi is None or tsr is None:
            return True
        for cfg in self.sa.conn.children:
            if narrow(tsi.selectors, wire_ts(cfg.remote_ts)) and narrow(
                tsr.selectors, wire_ts(cfg.local_ts)
            ):
                self.cfg = cfg
                return True
        return False

    def _process_r(self, msg: Received) -> TaskStatus:
        ts_matched = True
        if self.explicit_cfg is None:
            self.cfg = self.sa.conn.children[0] if self.sa.conn.children else None
            ts_matched = self._pick_config(msg)
        sa_p, tsi, tsr = _child_payloads(msg)
        if self.cfg is None or sa_p is None or tsi is None or tsr is None:
            self.done = True  # childless (RFC 6023) or nothing configured
            if sa_p is not None:
                self.failure = (_N.NO_PROPOSAL_CHOSEN, "no child configured")
            return TaskStatus.DONE
        if not ts_matched:
            # RFC 7296 §2.9: selectors that fit no configured child are answered
            # with TS_UNACCEPTABLE, whatever the first child's ESP proposals say.
            self.failure = (_N.TS_UNACCEPTABLE, "traffic selectors match no child")
            return TaskStatus.DONE
        self.spi_in = self.sa.ctx.alloc_esp_spi()
        offers = [proposal_to_offer(p) for p in sa_p.proposals]
        local = self._local_offers(struct.pack(">I", self.spi_in))
        chosen = select(offers, local, ignore_ke=not self.with_ke)
        if chosen is None or not usable_esp_spi(chosen.spi):
            self.failure = (_N.NO_PROPOSAL_CHOSEN, "no acceptable ESP proposal")
            return TaskStatus.DONE
        self.ts_i = narrow(tsi.selectors, wire_ts(self.cfg.remote_ts))
        self.ts_r = narrow(tsr.selectors, wire_ts(self.cfg.local_ts))
        if not self.ts_i or not self.ts_r:
            self.failure = (_N.TS_UNACCEPTABLE, "traffic selectors do not match")
            return TaskStatus.DONE
        self.transport = (
            self.cfg.mode == "transport"
            and notify(msg, _N.USE_TRANSPORT_MODE) is not None
        )
        self.chosen = chosen
        return TaskStatus.NEED_MORE

    def _build_r(self, draft: Draft) -> TaskStatus:
        self.done = True
        if self.failure is None and self.chosen is not None and self.install_now:
            try:
                self._install(int.from_bytes(self.chosen.spi, "big"), initiator=False)
            except RemoteProtocolError as exc:
                # our side cannot be installed (e.g. the backend refuses our SPI):
                # refuse only the child (RFC 7296 §2.21.2), never send SAr2/TS for
                # a Child SA we do not have
                self.sa.log.warning("local error installing the Child SA: %s", exc)
                self.sa.ctx.release_esp_spi(self.spi_in)
                self.failure = (_N.NO_PROPOSAL_CHOSEN, str(exc))
        if self.failure is not None:
            draft.payloads.append(NotifyPayload(self.failure[0]))
            self.sa.log.info("CHILD_SA not created: %s", self.failure[1])
            return TaskStatus.DONE
        if self.chosen is None:
            return TaskStatus.DONE
        mine = Selected(
            self.chosen.protocol,
            self.chosen.chosen,
            self.chosen.number,
            struct.pack(">I", self.spi_in),
            self.chosen.response_types,
        )
        if self.transport:
            draft.payloads.append(NotifyPayload(_N.USE_TRANSPORT_MODE))
        draft.payloads += [
            response_sa_payload(mine),
            TsiPayload(self.ts_i),
            TsrPayload(self.ts_r),
        ]
        return TaskStatus.DONE

    # -- both ------------------------------------------------------------------

    def _install(self, spi_out: int, *, initiator: bool) -> ChildSa:
        """Create both EspSa objects from KEYMAT (RFC 7296 §2.17, RFC 9370 §2.2.4).

        KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, SK(0) | Ni | Nr | SK(1)..) with
        the secrets of a CREATE_CHILD_SA and its IKE_FOLLOWUP_KE exchanges.
        """
        sa, chosen, cfg = self.sa, self.chosen, self.cfg
        assert sa.keymat is not None
        assert chosen is not None
        assert cfg is not None
        get = chosen.chosen.get
        encr_id, bits = get(ENCR, _NONE)
        encr_len, integ_len, encryption = _esp_suite(
            encr_id, bits, get(INTEG, _NONE)[0]
        )
        ni, nr = self.nonces()
        keymat = sa.keymat.child_keymat(
            2 * (encr_len + integ_len), ni, nr, list(self.secrets)
        )
        encr_i, _integ_i, encr_r, _integ_r = split_keymat(keymat, encr_len, integ_len)
        # "initiator" is this exchange's (RFC 7296 §1.3, §2.17), not the IKE SA's
        out_key, in_key = (encr_i, encr_r) if initiator else (encr_r, encr_i)
        esn = get(ESN, _NONE)[0] == 1
        try:
            outbound = sa.backend.esp_sa(
                spi_out, encr_id, out_key, esn=esn, replay_window=0
            )
            inbound = sa.backend.esp_sa(
                self.spi_in, encr_id, in_key, esn=esn, replay_window=cfg.replay_window
            )
        except (PqIkeError, ValueError) as exc:  # e.g. an SPI the backend refuses
            raise RemoteProtocolError(
                f"cannot install ESP SA: {exc}", _N.NO_PROPOSAL_CHOSEN
            ) from None
        local_ts, remote_ts = (
            (self.ts_i, self.ts_r) if initiator else (self.ts_r, self.ts_i)
        )
        mode = "transport" if self.transport else "tunnel"
        child = ChildSa(
            ChildId(self.spi_in),
            cfg.name,
            self.spi_in,
            spi_out,
            inbound,
            outbound,
            mode,
            (encr_id, bits),
            local_ts,
            remote_ts,
        )
        sa.add_child(child)
        sa.log.info(
            "CHILD_SA %s established: SPIs %08x_i %08x_o, %s, %s",
            cfg.name,
            self.spi_in,
            spi_out,
            encryption,
            mode,
        )
        sa.emit(
            ChildEstablished(
                sa.handle,
                child.child_id,
                self.spi_in,
                spi_out,
                mode,
                encryption,
                cfg.name,
            )
        )
        return child
