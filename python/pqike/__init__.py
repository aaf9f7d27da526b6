# SPDX-License-Identifier: Apache-2.0
"""pqike: hybrid post-quantum IKEv2 (ML-KEM, RFC 9370/9242) with a Rust crypto core."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
