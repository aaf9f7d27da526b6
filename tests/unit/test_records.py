# SPDX-License-Identifier: Apache-2.0
"""pqike._records.fast_init: the same dataclass, only a cheaper constructor."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from pqike._records import fast_init


@dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: bytes = b""
    c: tuple[int, ...] = field(default_factory=tuple)


@fast_init
@dataclass(frozen=True, slots=True)
class Fast:
    a: int
    b: bytes = b""
    c: tuple[int, ...] = field(default_factory=tuple)


@fast_init
@dataclass(frozen=True, slots=True)
class Child(Fast):
    pass


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, b"x"), {}), ((1,), {"c": (2, 3)}), ((), {"a": 4, "b": b"y"})],
)
def test_same_fields_as_the_dataclass_init(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    slow, fast = Plain(*args, **kwargs), Fast(*args, **kwargs)  # type: ignore[arg-type]
    assert dataclasses.astuple(slow) == dataclasses.astuple(fast)
    assert repr(fast) == repr(slow).replace("Plain", "Fast")


def test_still_frozen_hashable_and_comparable() -> None:
    x = Fast(1, b"k")
    with pytest.raises(dataclasses.FrozenInstanceError):
        x.a = 2  # type: ignore[misc]
    assert x == Fast(1, b"k")
    assert hash(x) == hash(Fast(1, b"k"))
    assert x != Fast(2, b"k")
    assert Child(5).a == 5
    assert type(Child(5)) is Child


def test_default_factory_runs_per_instance() -> None:
    @fast_init
    @dataclass(frozen=True, slots=True)
    class WithList:
        items: list[int] = field(default_factory=list)

    one, two = WithList(), WithList()
    assert one.items == []
    assert one.items is not two.items


def test_missing_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fast(1, b"", (), 4)  # type: ignore[call-arg]


def test_post_init_still_runs() -> None:
    @fast_init
    @dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    assert Checked(1).n == 1
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)


def test_refuses_classes_it_cannot_speed_up() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class KwOnly:
        a: int = field(kw_only=True)

    for cls in (NoSlots, NotFrozen, KwOnly):
        with pytest.raises(TypeError):
            fast_init(cls)
