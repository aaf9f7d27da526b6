# SPDX-License-Identifier: Apache-2.0
"""Record every crypto call one handshake makes, then time those calls alone.

:class:`RecordingBackend` wraps a :class:`~pqike.crypto.Backend`. Every call on it,
and on every object it hands out (KeyExchange, Keymat, IkeCipher, EspSa), is
appended to a :class:`CryptoTrace` with its arguments as given. The engine never
notices: results are the real backend's, and objects are wrapped only so that calls
on them are seen too.

:meth:`CryptoTrace.replay` then performs the same calls, in the same order, with the
same arguments, on a plain backend and without the engine. KE seeds are part of the
arguments, so the replayed key pairs, ciphertexts and IKE keys are the recorded ones
and every ``open`` authenticates. What the replay costs is the crypto-only cost of
the handshake; the engine's rate divided by the replay rate is the share of time
that goes to cryptography.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pqike.crypto import Backend

__all__ = ["Call", "CryptoTrace", "RecordingBackend"]

_PLAIN = (bytes, bytearray, memoryview, str, int, float, bool, type(None))
_NOT_CRYPTO = frozenset({"supports", "why_unsupported"})
"""Calls forwarded but not recorded: capability look-ups (building an endpoint
checks its configuration with them), not primitives."""


@dataclass(frozen=True)
class Call:
    """One recorded call: ``result = objects[target].method(*args, **kwargs)``."""

    target: int
    """Index of the object called (0 is the backend)."""
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: int | None
    """Index given to the returned object, or None for plain results."""
    raised: type[BaseException] | None = None
    """The exception class the call raised (replayed calls expect it again)."""


@dataclass
class CryptoTrace:
    """The crypto calls of one handshake, in order."""

    calls: list[Call] = field(default_factory=list)
    kinds: dict[int, str] = field(default_factory=lambda: {0: "Backend"})
    """Class name of each recorded object, by index."""

    def summary(self) -> Counter[str]:
        """How often each ``Class.method`` was called."""
        return Counter(f"{self.kinds[c.target]}.{c.method}" for c in self.calls)

    def bytes_in(self) -> int:
        """Octets passed as bytes arguments (a rough size of the crypto work)."""
        return sum(
            len(a)
            for c in self.calls
            for a in c.args
            if isinstance(a, bytes | bytearray)
        )

    def replay(self, backend: Backend) -> None:
        """Perform every recorded call again on ``backend`` (not wrapped)."""
        objects: list[Any] = [backend]
        objects.extend([None] * (len(self.kinds) - 1))
        for call in self.calls:
            method = getattr(objects[call.target], call.method)
            if call.raised is not None:
                try:
                    method(*call.args, **call.kwargs)
                except call.raised:
                    continue
                raise AssertionError(f"replayed {call.method} did not raise")
            result = method(*call.args, **call.kwargs)
            if call.result is not None:
                objects[call.result] = result

    def replayer(self, backend: Backend) -> Callable[[], None]:
        """A no-argument function that replays this trace once (for timing loops)."""
        return lambda: self.replay(backend)


class _Recorder:
    """Wraps one object; forwards attribute reads and records method calls."""

    __slots__ = ("_index", "_target", "_trace")

    def __init__(self, target: Any, index: int, trace: CryptoTrace) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_trace", trace)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value) or name.startswith("__") or name in _NOT_CRYPTO:
            return value
        return _RecordedMethod(self, name, value)

    def __repr__(self) -> str:
        return f"Recording({self._target!r})"


class _RecordedMethod:
    __slots__ = ("_func", "_name", "_owner")

    def __init__(self, owner: _Recorder, name: str, func: Callable[..., Any]) -> None:
        self._owner = owner
        self._name = name
        self._func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        trace: CryptoTrace = self._owner._trace
        plain_args = tuple(_unwrap(a) for a in args)
        plain_kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        index: int | None = None
        raised: type[BaseException] | None = None
        try:
            result = self._func(*plain_args, **plain_kwargs)
        except Exception as exc:
            raised = type(exc)
            raise
        else:
            if not isinstance(result, (*_PLAIN, list, tuple, dict)):
                index = len(trace.kinds)
                trace.kinds[index] = type(result).__name__
                result = _Recorder(result, index, trace)
            return result
        finally:
            call = Call(
                self._owner._index, self._name, plain_args, plain_kwargs, index, raised
            )
            trace.calls.append(call)


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Recorder):
        return value._target
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class RecordingBackend(_Recorder):
    """A backend that records into ``trace`` every crypto call made through it."""

    def __init__(self, backend: Backend, trace: CryptoTrace | None = None) -> None:
        super().__init__(backend, 0, trace if trace is not None else CryptoTrace())

    @property
    def trace(self) -> CryptoTrace:
        """The calls recorded so far."""
        result: CryptoTrace = self._trace
        return result
