"""Conformance: values round-trip exactly, or are refused before any write."""

from __future__ import annotations

from typing import Any

import pytest

from radaros.storage import (
    Entry,
    SerializationError,
    StorageDriver,
    ValueTooLargeError,
)
from radaros.storage.testing.cases import (
    EDGE_VALUES,
    REFUSED_VALUES,
    same_json,
)
from radaros.storage.testing.support import NS, SuiteBase

__all__ = ["ValueTests"]


class ValueTests(SuiteBase):
    """JSON values: exact round trips, copies in and out, refusals and size limits."""

    @pytest.mark.parametrize("value", EDGE_VALUES, ids=range(len(EDGE_VALUES)))
    async def test_value_round_trips_exactly(self, storage: StorageDriver, value: Any) -> None:
        """Same value and same types back, from get, get_many, list, scan and update."""
        await storage.set(NS, "k", value)
        assert same_json(await storage.get(NS, "k"), value)
        assert same_json((await storage.get_many(NS, ["k"]))[0], value)
        assert same_json((await storage.list(NS))[0].value, value)
        assert same_json([e.value async for e in storage.scan(NS)], [value])
        assert same_json(await storage.update(NS, "k", lambda current: current), value)
        await storage.set_many(NS, {"m": value})
        assert same_json(await storage.get(NS, "m"), value)

    async def test_tuple_comes_back_as_list(self, storage: StorageDriver) -> None:
        """A tuple is stored as a JSON array."""
        await storage.set(NS, "t", (1, (2, "x")))
        assert await storage.get(NS, "t") == [1, [2, "x"]]

    async def test_floats_stay_floats_and_ints_stay_ints(self, storage: StorageDriver) -> None:
        """1.0 is a float, 1 an int, True a bool after the round trip."""
        await storage.set(NS, "k", [1.0, 1, True, 1e300, -2.5e-308, 2**63 - 1])
        back = await storage.get(NS, "k")
        assert [type(item) for item in back] == [float, int, bool, float, float, int]
        assert back == [1.0, 1, True, 1e300, -2.5e-308, 2**63 - 1]

    @pytest.mark.parametrize("value", REFUSED_VALUES, ids=range(len(REFUSED_VALUES)))
    async def test_refused_value_raises_and_writes_nothing(
        self, storage: StorageDriver, value: Any
    ) -> None:
        """Values JSON cannot carry exactly raise SerializationError; nothing is written."""
        await storage.set(NS, "keep", "old")
        await storage.set(NS, "list", [0])
        attempts = [
            storage.set(NS, "new", value),
            storage.set(NS, "keep", value),
            storage.set_many(NS, {"a": 1, "b": value}),
            storage.add(NS, "new", value),
            storage.update(NS, "keep", lambda current: value),
            storage.append(NS, "list", [value]),
            storage.update(NS, "new", lambda current: value),
        ]
        for attempt in attempts:
            with pytest.raises(SerializationError):
                await attempt
        assert await storage.list(NS) == [Entry("keep", "old"), Entry("list", [0])]

    async def test_serialization_error_is_a_value_error(self, storage: StorageDriver) -> None:
        """SerializationError is also a ValueError."""
        with pytest.raises(ValueError, match="64-bit"):
            await storage.set(NS, "k", 2**64)

    async def test_values_are_copied_in(self, storage: StorageDriver) -> None:
        """Mutating the object passed to set never changes what is stored."""
        value: dict[str, Any] = {"list": [1, 2], "nested": {"a": 1}}
        await storage.set(NS, "k", value)
        value["list"].append(3)
        value["nested"]["a"] = 2
        assert await storage.get(NS, "k") == {"list": [1, 2], "nested": {"a": 1}}

    async def test_values_are_copied_out(self, storage: StorageDriver) -> None:
        """Mutating what get, list or get_many returned never changes what is stored."""
        await storage.set(NS, "k", {"list": [1]})
        (await storage.get(NS, "k"))["list"].append(2)
        (await storage.list(NS))[0].value["list"].append(3)
        (await storage.get_many(NS, ["k"]))[0]["list"].append(4)
        assert await storage.get(NS, "k") == {"list": [1]}

    async def test_eight_mib_value_round_trips(self, storage: StorageDriver) -> None:
        """Every driver stores a serialized value of at least 8 MiB."""
        value = {"blob": "x" * (8 * 1024 * 1024 - 64), "tail": [1.5, "😀"]}
        await storage.set(NS, "big", value)
        assert await storage.get(NS, "big") == value
        assert await storage.append(NS, "biglist", ["y" * (4 * 1024 * 1024)]) == 1

    async def test_value_over_the_driver_limit_is_refused(self, storage: StorageDriver) -> None:
        """A value larger than the driver stores raises ValueTooLargeError; nothing written."""
        limit = storage.max_value_bytes
        assert limit is None or limit >= 8 * 1024 * 1024
        if limit is None or limit > 64 * 1024 * 1024:
            return  # memory: no limit; SQLite: 512 MiB, too large to build in a test
        await storage.set(NS, "k", "old")
        too_big = "x" * (limit + 1)
        for attempt in [
            storage.set(NS, "k", too_big),
            storage.set_many(NS, {"k": too_big}),
            storage.add(NS, "new", too_big),
            storage.append(NS, "l", [too_big]),
        ]:
            with pytest.raises(ValueTooLargeError):
                await attempt
        assert await storage.list(NS) == [Entry("k", "old")]
