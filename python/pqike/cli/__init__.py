# SPDX-License-Identifier: Apache-2.0
"""The ``pqike`` command line (entry point ``pqike.cli.main:main``)."""

from __future__ import annotations

__all__: list[str] = []
