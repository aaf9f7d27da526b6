# SPDX-License-Identifier: Apache-2.0
"""Every exception pqike raises.

This is the only module that defines exception classes; the Rust extension raises
these same classes (imported by name from ``pqike.errors``).

No exception text ever contains key bytes, shared secrets or decrypted data: messages
name algorithms, lengths and IDs only.

Hierarchy::

    PqIkeError
    ├── ConfigError                      configuration rejected at load time
    ├── UnsupportedTransform             unknown or unimplemented IANA transform ID
    ├── CryptoError
    │   ├── AuthenticationError          AEAD tag / ICV failed (a fixed text, no detail)
    │   ├── InvalidKeyExchangeData       peer KE data rejected (length, ML-KEM modulus
    │   │                                check, point not on curve, all-zero DH result)
    │   ├── InvalidLength                a key/nonce/buffer argument of the wrong size
    │   ├── ReplayError                  ESP sequence number replayed or left of window
    │   └── SequenceExhausted            ESP sequence counter would wrap: rekey first
    └── ProtocolError(notify)            notify = NotifyType to send back, or None
        ├── LocalProtocolError           the caller misused the API
        ├── RemoteProtocolError          the peer misbehaved
        └── DecodeError                  malformed bytes (-> INVALID_SYNTAX)
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "CryptoError",
    "DecodeError",
    "InvalidKeyExchangeData",
    "InvalidLength",
    "LocalProtocolError",
    "PqIkeError",
    "ProtocolError",
    "RemoteProtocolError",
    "ReplayError",
    "SequenceExhausted",
    "UnsupportedTransform",
]


class PqIkeError(Exception):
    """Base class of every pqike error."""


class ConfigError(PqIkeError, ValueError):
    """A configuration value was rejected; ``field`` names it (e.g. ``conn.a.ike``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_TRANSFORM_TYPE_NAMES = {1: "ENCR", 2: "PRF", 3: "INTEG", 4: "KE", 5: "ESN"} | {
    t: "ADDKE" for t in range(6, 13)
}
"""IKEv2 transform type names (RFC 7296 §3.3.2, RFC 9370 §2.1) for default texts; the
Rust core words its own the same (``pqike_core::error``)."""


class UnsupportedTransform(PqIkeError, ValueError):
    """An IANA transform ID that this backend does not implement.

    ``transform_type`` is the IKEv2 transform type (1 ENCR, 2 PRF, 3 INTEG, 4 KE, ...),
    ``transform_id`` the ID within it.
    """

    def __init__(
        self, transform_type: int, transform_id: int, message: str = ""
    ) -> None:
        name = _TRANSFORM_TYPE_NAMES.get(transform_type, "unknown")
        default = (
            f"unsupported transform type {transform_type} ({name}) id {transform_id}"
        )
        super().__init__(message or default)
        self.transform_type = transform_type
        self.transform_id = transform_id


class CryptoError(PqIkeError):
    """A cryptographic operation failed."""


class AuthenticationError(CryptoError):
    """An AEAD tag or integrity checksum did not verify; no detail, on purpose.

    Raised without arguments its text is the fixed :attr:`MESSAGE` (both crypto backends
    raise it so): which check failed, or any key or data byte, is not told.
    """

    MESSAGE = "integrity check failed: the ICV or AEAD tag did not verify"

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or (self.MESSAGE,)))


class InvalidKeyExchangeData(CryptoError, ValueError):
    """The peer's key exchange data was rejected by the recipient tests."""


class InvalidLength(CryptoError, ValueError):
    """An argument has the wrong length; the message states expected and actual."""


class ReplayError(CryptoError):
    """An ESP packet was a replay or fell to the left of the anti-replay window."""


class SequenceExhausted(CryptoError):
    """The ESP sequence counter cannot advance without wrapping (RFC 4303 §3.3.3)."""


class ProtocolError(PqIkeError):
    """An IKEv2 protocol failure.

    ``notify`` is the error Notify type (an ``int`` / ``NotifyType``) that should be
    sent to the peer, or ``None`` when the message must be dropped silently.
    """

    def __init__(self, message: str, notify: int | None = None) -> None:
        super().__init__(message)
        self.notify = notify


class LocalProtocolError(ProtocolError):
    """The local caller misused the API or the local state forbids the operation."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""


class DecodeError(ProtocolError):
    """Malformed bytes on the wire; the default notify is INVALID_SYNTAX (7)."""

    def __init__(self, message: str, notify: int | None = 7) -> None:
        super().__init__(message, notify)
