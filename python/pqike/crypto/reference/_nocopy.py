# SPDX-License-Identifier: Apache-2.0
"""Objects holding secrets or sequence state are not copied or pickled.

The Rust backend's objects cannot be (PyO3 classes have no pickle support); the
reference objects refuse the same way: a copied ESP SA would seal its sequence numbers,
and so its AES-GCM/ChaCha20 nonces, a second time, and a pickled Keymat or KeyExchange
would write SKEYSEED, SK_* or a private key wherever the pickle goes.
"""

from __future__ import annotations

from typing import NoReturn, SupportsIndex

__all__ = ["NoCopy"]


class NoCopy:
    """Mixin: ``copy.copy``, ``copy.deepcopy`` and ``pickle`` raise TypeError."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        cls = type(self)
        raise TypeError(f"cannot pickle '{cls.__module__}.{cls.__qualname__}' object")
