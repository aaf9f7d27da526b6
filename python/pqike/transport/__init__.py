# SPDX-License-Identifier: Apache-2.0
"""I/O for the sans-IO engine: the asyncio UDP driver (``pqike.transport.udp``)."""

from __future__ import annotations

from pqike.transport.udp import (
    NAT_KEEPALIVE,
    EndpointLike,
    UdpTransport,
    bind_addresses,
)

__all__ = ["NAT_KEEPALIVE", "EndpointLike", "UdpTransport", "bind_addresses"]
