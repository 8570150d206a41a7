"""Hypothesis drives each driver and a plain dict with the same random operations."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from radaros.storage import Entry, StorageDriver
from tests.support.drivers import driver_factory

T = TypeVar("T")

NAMESPACES = st.sampled_from(["a", "a:b", "ab", "%", "session:1"])
KEYS = st.text(alphabet="ab%_\\.$é😀\uffff", min_size=1, max_size=4)
PREFIXES = st.one_of(st.none(), st.text(alphabet="ab%_\\é😀", max_size=2))
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)


class StorageMachine(RuleBasedStateMachine):
    """The driver must agree with `model`, a dict of {(namespace, key): value}."""

    make_storage: Callable[[], StorageDriver]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.storage = type(self).make_storage()
        self.model: dict[tuple[str, str], Any] = {}

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    @initialize()
    def open(self) -> None:
        self.run(self.storage.initialize())
        for namespace in self.run(self.storage.namespaces()):
            self.run(self.storage.clear(namespace))

    def teardown(self) -> None:
        self.run(self.storage.close())
        self.loop.close()

    def expected(self, namespace: str, prefix: str | None) -> list[Entry]:
        return sorted(
            Entry(key, value)
            for (space, key), value in self.model.items()
            if space == namespace and key.startswith(prefix or "")
        )

    @rule(namespace=NAMESPACES, key=KEYS, value=JSON_VALUES)
    def set(self, namespace: str, key: str, value: Any) -> None:
        self.run(self.storage.set(namespace, key, value))
        self.model[namespace, key] = value

    @rule(namespace=NAMESPACES, items=st.dictionaries(KEYS, JSON_VALUES, max_size=4))
    def set_many(self, namespace: str, items: dict[str, Any]) -> None:
        self.run(self.storage.set_many(namespace, items))
        self.model.update({(namespace, key): value for key, value in items.items()})

    @rule(namespace=NAMESPACES, key=KEYS)
    def delete(self, namespace: str, key: str) -> None:
        self.run(self.storage.delete(namespace, key))
        self.model.pop((namespace, key), None)

    @rule(namespace=NAMESPACES, keys=st.lists(KEYS, max_size=4))
    def delete_many(self, namespace: str, keys: list[str]) -> None:
        self.run(self.storage.delete_many(namespace, keys))
        for key in keys:
            self.model.pop((namespace, key), None)

    @rule(namespace=NAMESPACES, key=KEYS)
    def get(self, namespace: str, key: str) -> None:
        missing = object()
        assert self.run(self.storage.get(namespace, key, missing)) == self.model.get(
            (namespace, key), missing
        )

    @rule(namespace=NAMESPACES, keys=st.lists(KEYS, max_size=4))
    def get_many(self, namespace: str, keys: list[str]) -> None:
        got = self.run(self.storage.get_many(namespace, keys))
        assert got == [self.model.get((namespace, key)) for key in keys]

    @rule(namespace=NAMESPACES, key=KEYS, value=JSON_VALUES)
    def add(self, namespace: str, key: str, value: Any) -> None:
        stored = self.run(self.storage.add(namespace, key, value))
        assert stored == ((namespace, key) not in self.model)
        self.model.setdefault((namespace, key), value)

    @rule(
        namespace=NAMESPACES,
        key=KEYS,
        items=st.lists(JSON_VALUES, max_size=3),
        max_items=st.one_of(st.none(), st.integers(1, 4)),
    )
    def append(self, namespace: str, key: str, items: list[Any], max_items: int | None) -> None:
        current = self.model.get((namespace, key), [])
        if not isinstance(current, list):
            try:
                self.run(self.storage.append(namespace, key, items, max_items=max_items))
            except TypeError:
                return
            raise AssertionError("append to a non-list must raise TypeError")
        combined = current + items
        if max_items is not None:
            combined = combined[-max_items:]
        length = self.run(self.storage.append(namespace, key, items, max_items=max_items))
        assert length == len(combined)
        self.model[namespace, key] = combined

    @rule(namespace=NAMESPACES, key=KEYS)
    def update_counter(self, namespace: str, key: str) -> None:
        def bump(value: Any) -> Any:
            return value + 1 if type(value) is int and value < 2**62 else 0

        result = self.run(self.storage.update(namespace, key, bump))
        expected = bump(self.model.get((namespace, key)))
        assert result == expected
        self.model[namespace, key] = expected

    @rule(namespace=NAMESPACES, prefix=PREFIXES)
    def list(self, namespace: str, prefix: str | None) -> None:
        assert self.run(self.storage.list(namespace, prefix)) == self.expected(namespace, prefix)

    @rule(namespace=NAMESPACES, prefix=PREFIXES, page_size=st.integers(1, 4))
    def scan(self, namespace: str, prefix: str | None, page_size: int) -> None:
        async def collect() -> list[Entry]:
            return [e async for e in self.storage.scan(namespace, prefix, page_size=page_size)]

        assert self.run(collect()) == self.expected(namespace, prefix)

    @rule(namespace=NAMESPACES, prefix=PREFIXES)
    def clear(self, namespace: str, prefix: str | None) -> None:
        expected = self.expected(namespace, prefix)
        assert self.run(self.storage.clear(namespace, prefix)) == len(expected)
        for entry in expected:
            del self.model[namespace, entry.key]

    @invariant()
    def namespaces_and_counts_agree(self) -> None:
        if not hasattr(self, "storage") or self.storage.is_closed:
            return
        names = sorted({namespace for namespace, _ in self.model})
        assert self.run(self.storage.namespaces()) == names
        for namespace in names:
            assert self.run(self.storage.count(namespace)) == len(self.expected(namespace, None))


def test_driver_agrees_with_a_dict_model(driver_name: str, request: pytest.FixtureRequest) -> None:
    """Random operation sequences give the same results on the driver as on a dict."""
    with tempfile.TemporaryDirectory() as folder:
        factory = driver_factory(driver_name, Path(folder), request)
        machine: Any = type(f"{driver_name}Machine", (StorageMachine,), {"make_storage": factory})
        runner = machine.TestCase
        runner.settings = settings(
            max_examples=40 if driver_name == "memory" else 25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        runner().runTest()
