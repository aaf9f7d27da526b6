# SPDX-License-Identifier: Apache-2.0
"""IKEv2 wire codec: every RFC 7296 payload as a frozen dataclass, pure data.

Decoding any byte string either returns a value or raises
:class:`pqike.errors.DecodeError`. Encrypted payloads are sealed and opened through
a cipher object the caller passes in; nothing here holds keys.
"""

from __future__ import annotations

from pqike.ikev2.codec.cp import CpAttribute, CpPayload
from pqike.ikev2.codec.encrypted import SkfPayload, SkPayload
from pqike.ikev2.codec.fragment import (
    ReassembledMessage,
    Reassembler,
    fragment_protected,
)
from pqike.ikev2.codec.header import IkeHeader, decode_header, ike_from_natt_datagram
from pqike.ikev2.codec.message import (
    EncryptedPayload,
    Message,
    Payload,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from pqike.ikev2.codec.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EapPayload,
    IdiPayload,
    IdPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    UnknownPayload,
    VendorIdPayload,
)
from pqike.ikev2.codec.protected import (
    IkeCipher,
    OpenedMessage,
    decode_protected,
    encode_protected,
    int_auth_chunks,
    open_protected,
    seal_payloads,
)
from pqike.ikev2.codec.sa import Proposal, SaPayload, Transform, TransformAttribute
from pqike.ikev2.codec.ts import (
    TrafficSelector,
    TsiPayload,
    TsPayload,
    TsrPayload,
    UnknownTrafficSelector,
)

__all__ = [
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "CpAttribute",
    "CpPayload",
    "DeletePayload",
    "EapPayload",
    "EncryptedPayload",
    "IdPayload",
    "IdiPayload",
    "IdrPayload",
    "IkeCipher",
    "IkeHeader",
    "KePayload",
    "Message",
    "NoncePayload",
    "NotifyPayload",
    "OpenedMessage",
    "Payload",
    "Proposal",
    "ReassembledMessage",
    "Reassembler",
    "SaPayload",
    "SkPayload",
    "SkfPayload",
    "TrafficSelector",
    "Transform",
    "TransformAttribute",
    "TsPayload",
    "TsiPayload",
    "TsrPayload",
    "UnknownPayload",
    "UnknownTrafficSelector",
    "VendorIdPayload",
    "decode_header",
    "decode_message",
    "decode_payloads",
    "decode_protected",
    "encode_message",
    "encode_payloads",
    "encode_protected",
    "fragment_protected",
    "ike_from_natt_datagram",
    "int_auth_chunks",
    "open_protected",
    "seal_payloads",
]
