# SPDX-License-Identifier: Apache-2.0
"""IKE_AUTH with a pre-shared key (RFC 7296 §2.15, RFC 9242 §3.3.2).

Request:  HDR, SK{IDi, [IDr], AUTH, SAi2, TSi, TSr [, N(USE_TRANSPORT_MODE)]}
Response: HDR, SK{IDr, AUTH, SAr2, TSi, TSr}          (SA/TS: ``child_create.py``)

AUTH = prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>), where
InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfIDi) [| IntAuth]
ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfIDr) [| IntAuth]
IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH MID (4 octets), present only when at
least one IKE_INTERMEDIATE exchange took place (RFC 9242 §3.3.2, SPEC §3.3).
"""

from __future__ import annotations

import hmac
import struct
from typing import TYPE_CHECKING

from pqike.errors import RemoteProtocolError
from pqike.ikev2.codec.payloads import (
    AuthPayload,
    IdiPayload,
    IdPayload,
    IdrPayload,
    NotifyPayload,
)
from pqike.ikev2.constants import AuthMethod, ExchangeType, NotifyType
from pqike.ikev2.events import IkeEstablished
from pqike.ikev2.keylog import ikev2_decryption_row
from pqike.ikev2.negotiation import offer_from_spec, select
from pqike.ikev2.suite import notify_name, suite_info
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.common import error_notifies, find, require

if TYPE_CHECKING:
    from pqike.config import Identity
    from pqike.crypto.keymat import Keymat
    from pqike.ikev2.sa import IkeSa

__all__ = ["IkeAuth", "int_auth_octets", "psk_auth"]

_PSK = AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE


def int_auth_octets(int_auth_i: bytes, int_auth_r: bytes, auth_mid: int) -> bytes:
    """RFC 9242 §3.3.2: IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID."""
    if not int_auth_i and not int_auth_r:
        return b""
    return int_auth_i + int_auth_r + struct.pack(">I", auth_mid)


def psk_auth(
    keymat: Keymat,
    *,
    signer_is_initiator: bool,
    psk: bytes,
    real_message: bytes,
    peer_nonce: bytes,
    id_payload: IdPayload,
    int_auth: bytes,
) -> bytes:
    """RFC 7296 §2.15 PSK AUTH data for one side (RestOfIDPayload = ``encode()``)."""
    return keymat.psk_auth(
        signer_is_initiator,
        psk,
        real_message,
        peer_nonce,
        id_payload.encode(),
        int_auth,
    )


def _format_addr(addr: tuple[str, int]) -> str:
    """``192.0.2.1:500`` or ``[2001:db8::1]:500``."""
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _id_matches(got: IdPayload, want: Identity) -> bool:
    return got.id_type == want.id_type and got.data == want.data


class IkeAuth(Task):
    """Authenticates both peers with the connection's PSK."""

    # LIMITATION: PSK only (no certificates, RFC 7427 signatures or EAP), and the
    # peer's ID must equal the configured remote_id exactly (no wildcards).

    exchange = ExchangeType.IKE_AUTH

    def __init__(self, sa: IkeSa) -> None:
        super().__init__(sa)
        self.done = False

    def pending_exchange(self) -> ExchangeType | None:
        return None if self.done else self.exchange

    def _auth(self, initiator: bool, id_payload: IdPayload, mid: int) -> bytes:
        sa = self.sa
        assert sa.keymat is not None
        real = sa.init_request if initiator else sa.init_response
        return psk_auth(
            sa.keymat,
            signer_is_initiator=initiator,
            psk=sa.conn.psk,
            real_message=real,
            peer_nonce=sa.nr if initiator else sa.ni,
            id_payload=id_payload,
            int_auth=int_auth_octets(sa.int_auth_i, sa.int_auth_r, mid),
        )

    def _verify(self, msg: Received, id_cls: type[IdPayload], peer_is_i: bool) -> None:
        """Check the peer's ID and AUTH; AUTHENTICATION_FAILED otherwise."""
        ident = require(msg, id_cls, "ID")
        auth = require(msg, AuthPayload, "AUTH")
        fail = NotifyType.AUTHENTICATION_FAILED
        if peer_is_i and not _id_matches(ident, self.sa.conn.remote_id):
            self._switch_connection(ident)
        if not _id_matches(ident, self.sa.conn.remote_id):
            raise RemoteProtocolError("peer identity does not match the config", fail)
        if auth.method != _PSK:
            raise RemoteProtocolError(f"AUTH method {auth.method} is not PSK", fail)
        expected = self._auth(peer_is_i, ident, msg.message_id)
        if not hmac.compare_digest(expected, auth.data):
            raise RemoteProtocolError("AUTH payload does not verify", fail)

    def _switch_connection(self, ident: IdPayload) -> None:
        """Responder: take the connection configured for this IDi (and peer address),
        as long as it accepts the suite IKE_SA_INIT already negotiated."""
        sa = self.sa
        assert sa.suite is not None
        for conn in sa.ctx.connections_for(sa.remote):
            if not _id_matches(ident, conn.remote_id) or conn is sa.conn:
                continue
            local = [
                offer_from_spec(spec, 1, number=n + 1)
                for n, spec in enumerate(conn.ike_proposals)
            ]
            if select([sa.suite.as_offer()], local) is not None:
                sa.log.debug("IDi selects connection %s", conn.name)
                sa.conn = conn
                return

    def _establish(self) -> None:
        sa = self.sa
        assert sa.suite is not None
        sa.established()
        self.done = True
        info = suite_info(sa.suite)
        sa.log.info(
            "established %s <-> %s (%s), suite %s",
            sa.conn.local_id,
            sa.conn.remote_id,
            _format_addr(sa.remote),
            info,
        )
        sa.emit(
            IkeEstablished(
                sa.handle,
                info,
                sa.spi_i,
                sa.spi_r,
                sa.is_initiator,
                sa.conn.name,
                sa.remote,
            )
        )
        if sa.conn.keylog is not None and sa.keymat is not None:
            # DANGER: key material, only to the explicitly configured hook (STYLE §7)
            # LIMITATION: IKE rows only; no Wireshark esp_sa rows for the Child SAs.
            sa.conn.keylog(ikev2_decryption_row(sa.spi_i, sa.spi_r, sa.keymat))

    def _build_i(self, draft: Draft) -> TaskStatus:
        me = self.sa.conn.local_id
        idi = IdiPayload(me.id_type, me.data)
        draft.payloads.append(idi)
        if not self.sa.ctx.peers_of(self.sa):
            # RFC 7296 §2.4: our only IKE SA with this peer
            draft.payloads.append(NotifyPayload(NotifyType.INITIAL_CONTACT))
        peer = self.sa.conn.remote_id
        if peer.data:
            draft.payloads.append(IdrPayload(peer.id_type, peer.data))
        auth = self._auth(True, idi, draft.message_id)
        draft.payloads.append(AuthPayload(_PSK, auth))
        return TaskStatus.NEED_MORE

    def _process_i(self, msg: Received) -> TaskStatus:
        errors = error_notifies(msg)
        if errors and find(msg, AuthPayload) is None:
            code = errors[0].notify_type
            raise RemoteProtocolError(f"IKE_AUTH refused ({notify_name(code)})", code)
        try:
            self._verify(msg, IdrPayload, peer_is_i=False)
        except RemoteProtocolError as exc:
            # RFC 7296 §2.21.2: the responder thinks the SA is up; tell it, once
            self.sa.send_notify_once(
                int(exc.notify or NotifyType.AUTHENTICATION_FAILED)
            )
            raise
        self._establish()
        return TaskStatus.DONE

    def _process_r(self, msg: Received) -> TaskStatus:
        self._verify(msg, IdiPayload, peer_is_i=True)
        # LIMITATION: a received INITIAL_CONTACT is not acted on: dropping the peer's
        # older SAs needs a uniqueness policy in the config (strongSwan "uniqueids").
        return TaskStatus.NEED_MORE

    def _build_r(self, draft: Draft) -> TaskStatus:
        me = self.sa.conn.local_id
        idr = IdrPayload(me.id_type, me.data)
        auth = self._auth(False, idr, draft.message_id)
        draft.payloads[:0] = [idr, AuthPayload(_PSK, auth)]
        self._establish()
        return TaskStatus.DONE
