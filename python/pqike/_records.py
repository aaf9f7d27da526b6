# SPDX-License-Identifier: Apache-2.0
"""Cheaper construction for frozen, slotted dataclasses.

A ``@dataclass(frozen=True)`` ``__init__`` stores each field with
``object.__setattr__(self, name, value)``: a global lookup, a generic call and an
attribute-name lookup per field. Payloads, headers and events are built several
hundred times per handshake, so :func:`fast_init` replaces that ``__init__`` with one
that stores through the slot descriptors directly. Everything else (immutability,
``__eq__``, ``__hash__``, ``__repr__``, ``__match_args__``) stays the dataclass's own.

Usage, outermost::

    @fast_init
    @dataclass(frozen=True, slots=True)
    class NotifyPayload: ...
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["fast_init"]

_T = TypeVar("_T")


def _slot_setter(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None and hasattr(descriptor, "__set__"):
            return descriptor.__set__
    raise TypeError(f"{cls.__qualname__}.{name} is not a slot")


def fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass a faster ``__init__`` with the same signature.

    Supported: positional-or-keyword fields, plain defaults, ``default_factory`` and
    ``__post_init__``; ``kw_only`` fields, ``InitVar`` and ``init=False`` fields are
    refused (a TypeError at class creation), so nothing is silently dropped.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(
            f"{cls.__qualname__} must be @dataclass(frozen=True, slots=True)"
        )
    namespace: dict[str, Any] = {"_MISSING": dataclasses.MISSING}
    args: list[str] = []
    body: list[str] = []
    for index, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__qualname__}.{f.name}: unsupported field kind")
        setter = f"_set{index}"
        namespace[setter] = _slot_setter(cls, f.name)
        if f.default is not dataclasses.MISSING:
            namespace[f"_default{index}"] = f.default
            args.append(f"{f.name}=_default{index}")
            body.append(f"    {setter}(self, {f.name})")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory{index}"] = f.default_factory
            args.append(f"{f.name}=_MISSING")
            body.append(
                f"    {setter}(self, _factory{index}() "
                f"if {f.name} is _MISSING else {f.name})"
            )
        else:
            args.append(f.name)
            body.append(f"    {setter}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(args)}):\n" + (
        "\n".join(body) or "    pass"
    )
    exec(source, namespace)  # generated from the field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(getattr(cls.__init__, "__annotations__", {}))
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
