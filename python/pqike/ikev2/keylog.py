# SPDX-License-Identifier: Apache-2.0
"""Wireshark ``ikev2_decryption_table`` rows for the config's ``keylog`` hook.

DANGER: a row holds SK_ei/SK_er/SK_ai/SK_ar; whoever reads it can decrypt the IKE SA.
It is produced only when the connection config sets ``keylog`` and is never logged.
Row layout (Wireshark IKEv2 decryption table)::

    SPIi,SPIr,SK_ei,SK_er,"<encryption>",SK_ai,SK_ar,"<integrity>"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pqike.crypto.keymat import Keymat

__all__ = ["ikev2_decryption_row"]

_GCM_ICV = {18: 8, 19: 12, 20: 16}
_INTEG = {
    0: "NONE [RFC4306]",
    2: "HMAC_SHA1_96 [RFC2404]",
    12: "HMAC_SHA2_256_128 [RFC4868]",
    13: "HMAC_SHA2_384_192 [RFC4868]",
    14: "HMAC_SHA2_512_256 [RFC4868]",
}


def _encr_label(encr_id: int, key_bits: int) -> str:
    if encr_id in _GCM_ICV:
        return f"AES-GCM-{key_bits} with {_GCM_ICV[encr_id]} octet ICV [RFC5282]"
    if encr_id == 12:
        return f"AES-CBC-{key_bits} [RFC3602]"
    # LIMITATION: Wireshark may not know ChaCha20-Poly1305 for IKEv2 decryption.
    return "ChaCha20-Poly1305 [RFC7634]" if encr_id == 28 else f"ENCR-{encr_id}"


def ikev2_decryption_row(spi_i: bytes, spi_r: bytes, keymat: Keymat) -> str:
    """One ``ikev2_decryption_table`` row (SK_e* include the AEAD salt)."""
    k = keymat.export_secrets()
    encr = _encr_label(keymat.encr_id, keymat.encr_key_bits)
    integ = _INTEG.get(keymat.integ_id, f"INTEG-{keymat.integ_id}")
    return ",".join(
        [
            spi_i.hex(),
            spi_r.hex(),
            k["sk_ei"].hex(),
            k["sk_er"].hex(),
            f'"{encr}"',
            k["sk_ai"].hex(),
            k["sk_ar"].hex(),
            f'"{integ}"',
        ]
    )
