# SPDX-License-Identifier: Apache-2.0
"""The compiled core of pqike (Rust, PyO3): one submodule per layer."""

from pqike._native import aead as aead
from pqike._native import esp as esp
from pqike._native import kex as kex
from pqike._native import keymat as keymat
from pqike._native import prf as prf
from pqike._native import testing as testing

__all__ = ["aead", "esp", "kex", "keymat", "prf", "testing"]
