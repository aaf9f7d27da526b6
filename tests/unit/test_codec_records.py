# SPDX-License-Identifier: Apache-2.0
"""Every frozen codec record has the cheap constructor (issue #5) and is still the
same dataclass: same signature, frozen, slotted, equal and hashable by value."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

import pytest

from pqike.ikev2 import codec

_MODULES = [
    importlib.import_module(f"{codec.__name__}.{info.name}")
    for info in pkgutil.iter_modules(codec.__path__)
]
_FROZEN = sorted(
    {
        obj
        for module in _MODULES
        for obj in vars(module).values()
        if isinstance(obj, type)
        and obj.__module__ == module.__name__
        and dataclasses.is_dataclass(obj)
        and obj.__dataclass_params__.frozen  # type: ignore[attr-defined]
    },
    key=lambda c: c.__qualname__,
)


def _sample(cls: type) -> Any:
    """An instance with every field set to a value of the annotated kind."""
    values: list[Any] = []
    for index, f in enumerate(dataclasses.fields(cls)):
        kind = str(f.type)
        if kind.startswith("tuple"):
            values.append(())
        elif kind.startswith("bytes"):
            values.append(bytes([index]))
        elif kind == "bool":
            values.append(True)
        elif kind.startswith("int"):
            values.append(index + 1)
        else:  # another record (a header, a payload): anything hashable will do
            values.append(("field", index))
    return cls(*values)


def test_every_frozen_codec_record_is_listed() -> None:
    names = {c.__name__ for c in _FROZEN}
    assert {"IkeHeader", "NotifyPayload", "SaPayload", "Transform"} <= names
    assert len(_FROZEN) >= 30


@pytest.mark.parametrize("cls", _FROZEN, ids=lambda c: c.__qualname__)
def test_codec_record_has_fast_init_with_dataclass_signature(cls: type) -> None:
    assert "__slots__" in cls.__dict__
    assert (
        "_set0" in vars(cls)["__init__"].__globals__
    )  # built by pqike._records.fast_init
    params = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        missing = f.default is dataclasses.MISSING
        assert p.default == (inspect.Parameter.empty if missing else f.default)


@pytest.mark.parametrize("cls", _FROZEN, ids=lambda c: c.__qualname__)
def test_codec_record_stays_frozen_equal_and_hashable(cls: type) -> None:
    one, two = _sample(cls), _sample(cls)
    assert one == two
    assert hash(one) == hash(two)
    assert not hasattr(one, "__dict__")
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(one, first, 99)
    assert dataclasses.replace(one) == one
