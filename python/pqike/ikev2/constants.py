# SPDX-License-Identifier: Apache-2.0
"""IANA IKEv2 registry values used by the codec and the engine.

Member names copy the IANA registry names (upper case, ``-`` and spaces as ``_``) and
their values, so ``ExchangeType.IKE_INTERMEDIATE == 43`` reads like the registry.
Every enum is an ``IntEnum``: decoded fields stay plain ``int`` and still compare equal.

Sources: RFC 7296 §3, RFC 9370 §2.2 (ADDKE transform types, IKE_FOLLOWUP_KE), RFC 9242
(IKE_INTERMEDIATE), RFC 7383 (SKF), RFC 8031 (Curve25519/Curve448) and
draft-ietf-ipsecme-ikev2-mlkem (ML-KEM transform IDs), revision recorded below.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Final

__all__ = [
    "IKE_HEADER_LENGTH",
    "IKE_MAJOR_VERSION",
    "IKE_MINOR_VERSION",
    "KEY_LENGTH_ATTRIBUTE",
    "MLKEM_DRAFT",
    "NON_ESP_MARKER",
    "AuthMethod",
    "CertEncoding",
    "CfgType",
    "ConfigAttributeType",
    "EncrId",
    "EsnId",
    "ExchangeType",
    "HeaderFlag",
    "IdType",
    "IntegId",
    "KeMethod",
    "NotifyType",
    "PayloadType",
    "PrfId",
    "ProtocolId",
    "TransformType",
    "TsType",
    "addke_transform_type",
]

MLKEM_DRAFT: Final = "draft-ietf-ipsecme-ikev2-mlkem-09"
"""The one place the ML-KEM draft revision is recorded (SPEC §1: text of -08 plus the
IESG-ballot edits, i.e. the -09 text). Comments elsewhere cite the draft without it."""

IKE_HEADER_LENGTH: Final = 28
"""RFC 7296 §3.1: fixed IKE header size in octets."""

IKE_MAJOR_VERSION: Final = 2
IKE_MINOR_VERSION: Final = 0

KEY_LENGTH_ATTRIBUTE: Final = 14
"""RFC 7296 §3.3.5: the Key Length transform attribute type (TV format)."""

NON_ESP_MARKER: Final = b"\x00\x00\x00\x00"
"""RFC 3948 §2.2: four zero octets in front of IKE messages on UDP port 4500."""


class ExchangeType(IntEnum):
    """IKEv2 Exchange Types (RFC 7296 §3.1, RFC 9242, RFC 9370)."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37
    IKE_SESSION_RESUME = 38
    GSA_AUTH = 39
    GSA_REGISTRATION = 40
    GSA_REKEY = 41
    IKE_INTERMEDIATE = 43
    IKE_FOLLOWUP_KE = 44


class HeaderFlag(IntFlag):
    """IKE header Flags octet (RFC 7296 §3.1); the other bits are reserved."""

    INITIATOR = 0x08
    VERSION = 0x10
    RESPONSE = 0x20


class PayloadType(IntEnum):
    """IKEv2 Payload Types (RFC 7296 §3.2, RFC 7383 §2.5)."""

    NO_NEXT_PAYLOAD = 0
    SA = 33
    KE = 34
    IDI = 35
    IDR = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSI = 44
    TSR = 45
    SK = 46
    CP = 47
    EAP = 48
    GSPM = 49
    SKF = 53


class ProtocolId(IntEnum):
    """Security Protocol Identifiers (RFC 7296 §3.3.1); 0 = the IKE SA in Notify."""

    NONE = 0
    IKE = 1
    AH = 2
    ESP = 3


class TransformType(IntEnum):
    """Transform Type values (RFC 7296 §3.3.2, RFC 9370 §2.2.1: ADDKEn = 5 + n)."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    KE = 4
    ESN = 5
    ADDKE1 = 6
    ADDKE2 = 7
    ADDKE3 = 8
    ADDKE4 = 9
    ADDKE5 = 10
    ADDKE6 = 11
    ADDKE7 = 12


def addke_transform_type(n: int) -> TransformType:
    """Return the transform type of Additional Key Exchange ``n`` (1..7).

    Raises:
        ValueError: ``n`` is outside 1..7.
    """
    if not 1 <= n <= 7:
        raise ValueError(f"additional key exchange number is 1..7, got {n}")
    return TransformType(5 + n)


class EncrId(IntEnum):
    """Transform Type 1 - Encryption Algorithm Transform IDs."""

    ENCR_DES_IV64 = 1
    ENCR_DES = 2
    ENCR_3DES = 3
    ENCR_NULL = 11
    ENCR_AES_CBC = 12
    ENCR_AES_CTR = 13
    ENCR_AES_CCM_8 = 14
    ENCR_AES_CCM_12 = 15
    ENCR_AES_CCM_16 = 16
    ENCR_AES_GCM_8 = 18
    ENCR_AES_GCM_12 = 19
    ENCR_AES_GCM_16 = 20
    ENCR_NULL_AUTH_AES_GMAC = 21
    ENCR_CAMELLIA_CBC = 23
    ENCR_CHACHA20_POLY1305 = 28


class PrfId(IntEnum):
    """Transform Type 2 - Pseudorandom Function Transform IDs."""

    PRF_HMAC_MD5 = 1
    PRF_HMAC_SHA1 = 2
    PRF_AES128_XCBC = 4
    PRF_HMAC_SHA2_256 = 5
    PRF_HMAC_SHA2_384 = 6
    PRF_HMAC_SHA2_512 = 7
    PRF_AES128_CMAC = 8


class IntegId(IntEnum):
    """Transform Type 3 - Integrity Algorithm Transform IDs."""

    NONE = 0
    AUTH_HMAC_MD5_96 = 1
    AUTH_HMAC_SHA1_96 = 2
    AUTH_AES_XCBC_96 = 5
    AUTH_AES_CMAC_96 = 8
    AUTH_HMAC_SHA2_256_128 = 12
    AUTH_HMAC_SHA2_384_192 = 13
    AUTH_HMAC_SHA2_512_256 = 14


class KeMethod(IntEnum):
    """Transform Type 4 (and 6..12) - Key Exchange Method Transform IDs.

    ML-KEM IDs 35..37 per draft-ietf-ipsecme-ikev2-mlkem §4; ``NONE`` (0) makes an
    ADDKE optional (RFC 9370 §2.2.1).
    """

    NONE = 0
    MODP_768 = 1
    MODP_1024 = 2
    MODP_1536 = 5
    MODP_2048 = 14
    MODP_3072 = 15
    MODP_4096 = 16
    MODP_6144 = 17
    MODP_8192 = 18
    ECP_256 = 19
    ECP_384 = 20
    ECP_521 = 21
    ECP_256_BP = 28
    ECP_384_BP = 29
    ECP_512_BP = 30
    CURVE25519 = 31
    CURVE448 = 32
    ML_KEM_512 = 35
    ML_KEM_768 = 36
    ML_KEM_1024 = 37


class EsnId(IntEnum):
    """Transform Type 5 - Extended Sequence Numbers Transform IDs."""

    NO_ESN = 0
    ESN = 1


class NotifyType(IntEnum):
    """Notify Message Types: errors 1..16383, status 16384.. (RFC 7296 §3.10.1)."""

    # Errors
    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    STATE_NOT_FOUND = 47
    # Status
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396
    MULTIPLE_AUTH_SUPPORTED = 16404
    ANOTHER_AUTH_FOLLOWS = 16405
    REDIRECT_SUPPORTED = 16406
    CHILDLESS_IKEV2_SUPPORTED = 16418
    IKEV2_FRAGMENTATION_SUPPORTED = 16430
    SIGNATURE_HASH_ALGORITHMS = 16431
    USE_PPK = 16435
    PPK_IDENTITY = 16436
    NO_PPK_AUTH = 16437
    INTERMEDIATE_EXCHANGE_SUPPORTED = 16438
    ADDITIONAL_KEY_EXCHANGE = 16441
    SUPPORTED_AUTH_METHODS = 16443
    USE_PPK_INT = 16445
    PPK_IDENTITY_KEY = 16446

    @property
    def is_error(self) -> bool:
        """True for error types (below 16384), which fail the request."""
        return self.value < 16384


class IdType(IntEnum):
    """IKEv2 Identification Payload ID Types (RFC 7296 §3.5)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_RFC822_ADDR = 3
    ID_IPV6_ADDR = 5
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11
    ID_FC_NAME = 12
    ID_NULL = 13


class AuthMethod(IntEnum):
    """IKEv2 Authentication Method (RFC 7296 §3.8, RFC 7427, RFC 7619)."""

    RSA_DIGITAL_SIGNATURE = 1
    SHARED_KEY_MESSAGE_INTEGRITY_CODE = 2
    DSS_DIGITAL_SIGNATURE = 3
    ECDSA_SHA256_P256 = 9
    ECDSA_SHA384_P384 = 10
    ECDSA_SHA512_P521 = 11
    GENERIC_SECURE_PASSWORD = 12
    NULL_AUTHENTICATION = 13
    DIGITAL_SIGNATURE = 14


class CertEncoding(IntEnum):
    """IKEv2 Certificate Encodings (RFC 7296 §3.6)."""

    PKCS7_WRAPPED_X509 = 1
    PGP = 2
    DNS_SIGNED_KEY = 3
    X509_SIGNATURE = 4
    KERBEROS_TOKEN = 6
    CRL = 7
    ARL = 8
    SPKI = 9
    X509_ATTRIBUTE = 10
    RAW_RSA_KEY = 11
    HASH_URL_X509_CERT = 12
    HASH_URL_X509_BUNDLE = 13
    OCSP_CONTENT = 14
    RAW_PUBLIC_KEY = 15


class TsType(IntEnum):
    """IKEv2 Traffic Selector Types (RFC 7296 §3.13.1, RFC 9478)."""

    TS_IPV4_ADDR_RANGE = 7
    TS_IPV6_ADDR_RANGE = 8
    TS_FC_ADDR_RANGE = 9
    TS_SECLABEL = 10


class CfgType(IntEnum):
    """IKEv2 Configuration Payload CFG Types (RFC 7296 §3.15)."""

    CFG_REQUEST = 1
    CFG_REPLY = 2
    CFG_SET = 3
    CFG_ACK = 4


class ConfigAttributeType(IntEnum):
    """IKEv2 Configuration Payload Attribute Types (RFC 7296 §3.15.1)."""

    INTERNAL_IP4_ADDRESS = 1
    INTERNAL_IP4_NETMASK = 2
    INTERNAL_IP4_DNS = 3
    INTERNAL_IP4_NBNS = 4
    INTERNAL_IP4_DHCP = 6
    APPLICATION_VERSION = 7
    INTERNAL_IP6_ADDRESS = 8
    INTERNAL_IP6_DNS = 10
    INTERNAL_IP6_DHCP = 12
    INTERNAL_IP4_SUBNET = 13
    SUPPORTED_ATTRIBUTES = 14
    INTERNAL_IP6_SUBNET = 15
