"""Conformance: key ranges and reverse order, incr, add_numbered, pop, and update's KEEP
and DELETE."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from radaros.storage import (
    DELETE,
    KEEP,
    Entry,
    SerializationError,
    StorageDriver,
)
from radaros.storage.testing.support import NS, TTL_S, SuiteBase, wait_until_expired

__all__ = ["CoreTests"]

KEYS = [f"k{i:02}" for i in range(25)]


class CoreTests(SuiteBase):
    """Ranges, counters and atomic take-and-delete, on every driver."""

    async def _fill(self, storage: StorageDriver) -> None:
        await storage.set_many(NS, {key: index for index, key in enumerate(KEYS)})
        await storage.set_many(NS, {"a": "before", "z": "after", "k": "bare"})

    async def test_list_bounds_reverse_and_limit(self, storage: StorageDriver) -> None:
        """start <= key < stop in code point order, within the prefix, descending with
        reverse, at most limit."""
        await self._fill(storage)
        keys = [entry.key for entry in await storage.list(NS, "k", start="k05", stop="k09")]
        assert keys == ["k05", "k06", "k07", "k08"]
        newest = await storage.list(NS, "k0", reverse=True, limit=3)
        assert newest == [Entry("k09", 9), Entry("k08", 8), Entry("k07", 7)]
        assert [e.key for e in await storage.list(NS, start="k23")] == ["k23", "k24", "z"]
        assert [e.key for e in await storage.list(NS, stop="k01")] == ["a", "k", "k00"]
        assert [e.key for e in await storage.list(NS, reverse=True)][:2] == ["z", "k24"]
        assert await storage.list(NS, "k", start="k30") == []
        assert await storage.list(NS, "k1", stop="k0") == []  # empty range: no error
        assert await storage.list(NS, "k", limit=0) == []
        assert len(await storage.list(NS, "k", limit=100)) == len(KEYS) + 1

    async def test_scan_bounds_and_reverse_page_through(self, storage: StorageDriver) -> None:
        """scan pages through a range in either direction, whatever the page size."""
        await self._fill(storage)
        expected = [Entry(key, index) for index, key in enumerate(KEYS)][3:20]
        for page_size in (1, 4, 17, 100):
            forward = [
                entry
                async for entry in storage.scan(
                    NS, "k", start="k03", stop="k20", page_size=page_size
                )
            ]
            backward = [
                entry
                async for entry in storage.scan(
                    NS, "k", start="k03", stop="k20", reverse=True, page_size=page_size
                )
            ]
            assert forward == expected
            assert backward == expected[::-1]
        timed = [e async for e in storage.scan(NS, "k2", reverse=True, with_ttl=True)]
        assert [entry.key for entry in timed] == ["k24", "k23", "k22", "k21", "k20"]
        assert all(entry.ttl == math.inf for entry in timed)

    async def test_ranges_skip_expired_entries(self, storage: StorageDriver) -> None:
        """An expired entry is absent from every range, in both directions."""
        await storage.set_many(NS, {"r1": 1, "r3": 3})
        await storage.set(NS, "r2", 2, ttl=TTL_S)
        deadline = time.monotonic() + TTL_S
        await wait_until_expired(deadline)
        assert [e.key for e in await storage.list(NS, "r", reverse=True)] == ["r3", "r1"]
        assert [e.key async for e in storage.scan(NS, start="r2", page_size=1)] == ["r3"]

    async def test_bad_range_arguments_raise_before_io(self, storage: StorageDriver) -> None:
        """Bounds are checked like prefixes; reverse must be a bool, limit an int >= 0."""
        with pytest.raises(ValueError, match="NUL"):
            await storage.list(NS, start="a\x00")
        with pytest.raises(TypeError, match="reverse"):
            await storage.list(NS, reverse=1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="limit"):
            await storage.list(NS, limit=-1)
        with pytest.raises(ValueError, match="lone surrogates"):
            storage.scan(NS, stop="\ud800")
        assert await storage.namespaces() == []

    async def test_incr_counts_from_zero_and_keeps_the_expiry(self, storage: StorageDriver) -> None:
        """incr starts an absent key at 0, adds any int, and without ttl keeps the expiry."""
        assert await storage.incr(NS, "n") == 1
        assert await storage.incr(NS, "n", 10) == 11
        assert await storage.incr(NS, "n", -20) == -9
        assert await storage.get(NS, "n") == -9
        assert await storage.incr(NS, "t", ttl=600) == 1
        assert await storage.incr(NS, "t") == 2
        left = await storage.ttl(NS, "t")
        assert left is not None
        assert 0 < left <= 600
        assert await storage.ttl(NS, "n") == math.inf

    async def test_incr_is_exact_across_the_signed_64_bit_range(
        self, storage: StorageDriver
    ) -> None:
        """incr returns and stores the exact sum, also where a double loses digits (above
        2**53) and at both ends of the signed 64-bit range."""
        cases = [
            (123_456_789_012_345, 1),
            (2**53, 1),
            (2**62, 3),
            (2**63 - 2, 1),
            (-(2**63) + 1, -1),
        ]
        for start, amount in cases:
            await storage.set(NS, "big", start)
            assert await storage.incr(NS, "big", amount) == start + amount
            stored = await storage.get(NS, "big")
            assert stored == start + amount
            assert type(stored) is int

    async def test_incr_refuses_what_is_not_an_int(self, storage: StorageDriver) -> None:
        """A stored non-int raises TypeError and a result beyond 64 bits SerializationError;
        nothing is written either way."""
        for value in (1.5, "3", True, None, [1], {"n": 1}):
            await storage.set(NS, "v", value)
            with pytest.raises(TypeError):
                await storage.incr(NS, "v")
            assert await storage.get(NS, "v", "absent") == value
        await storage.set(NS, "big", 2**63 - 1)
        with pytest.raises(SerializationError):
            await storage.incr(NS, "big")
        assert await storage.get(NS, "big") == 2**63 - 1
        with pytest.raises(TypeError):
            await storage.incr(NS, "n", 1.0)  # type: ignore[arg-type]
        with pytest.raises(SerializationError):
            await storage.incr(NS, "n", 2**64)

    async def test_concurrent_incrs_lose_nothing(self, peers: list[StorageDriver]) -> None:
        """Many tasks on several instances incr one key: the total is exact and every
        result was returned once."""
        results = await asyncio.gather(
            *(peers[i % len(peers)].incr(NS, "shared") for i in range(40))
        )
        assert sorted(results) == list(range(1, 41))
        assert await peers[0].get(NS, "shared") == 40

    async def test_add_numbered_writes_values_under_the_counters_numbers(
        self, storage: StorageDriver
    ) -> None:
        """add_numbered takes the next numbers from the counter and stores each value under
        the prefix and its number in 19 digits; keys sort in number order."""
        assert await storage.add_numbered(NS, "log", "log/", ["a", {"b": 1}]) == 2
        assert await storage.add_numbered(NS, "log", "log/", ("c",)) == 3
        assert await storage.get(NS, "log") == 3
        assert await storage.list(NS, "log/") == [
            Entry("log/0000000000000000001", "a"),
            Entry("log/0000000000000000002", {"b": 1}),
            Entry("log/0000000000000000003", "c"),
        ]
        await storage.set(NS, "started", 41)  # an existing counter goes on from its value
        assert await storage.add_numbered(NS, "started", "", [None]) == 42
        assert await storage.get(NS, "0000000000000000042", "absent") is None
        assert await storage.ttl(NS, "log/0000000000000000001") == math.inf

    async def test_add_numbered_with_ttl_expires_counter_and_values(
        self, storage: StorageDriver
    ) -> None:
        """With ttl, the counter and the values expire; without, the counter keeps its."""
        assert await storage.add_numbered(NS, "t", "t/", [1], ttl=600) == 1
        for key in ("t", "t/0000000000000000001"):
            left = await storage.ttl(NS, key)
            assert left is not None
            assert 0 < left <= 600
        assert await storage.add_numbered(NS, "t", "t/", [2]) == 2
        left = await storage.ttl(NS, "t")
        assert left is not None
        assert 0 < left <= 600
        assert await storage.ttl(NS, "t/0000000000000000002") == math.inf

    async def test_add_numbered_refuses_bad_counters_and_input(
        self, storage: StorageDriver
    ) -> None:
        """A counter that is not an int, or a total beyond 64 bits, raises and writes
        nothing; bad arguments raise before any I/O."""
        await storage.set_many(NS, {"text": "3", "big": 2**63 - 1})
        with pytest.raises(TypeError):
            await storage.add_numbered(NS, "text", "text/", ["x"])
        with pytest.raises(SerializationError):
            await storage.add_numbered(NS, "big", "big/", ["x"])
        for bad, error in (
            ([], ValueError),
            ("abc", TypeError),
            ({"a": 1}, TypeError),
            ([{1, 2}], SerializationError),
        ):
            with pytest.raises(error):
                await storage.add_numbered(NS, "n", "n/", bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="numbered"):
            await storage.add_numbered(NS, "p0000000000000000001", "p", ["x"])
        with pytest.raises(TypeError):
            await storage.add_numbered(NS, "n", 1, ["x"])  # type: ignore[arg-type]
        assert await storage.list(NS) == [Entry("big", 2**63 - 1), Entry("text", "3")]

    async def test_concurrent_add_numbered_lose_nothing(self, peers: list[StorageDriver]) -> None:
        """Many tasks on several instances: distinct numbers, every value kept once, in its
        call's order."""
        totals = await asyncio.gather(
            *(
                peers[i % len(peers)].add_numbered(NS, "log", "log/", [f"{i}a", f"{i}b"])
                for i in range(30)
            )
        )
        assert sorted(totals) == list(range(2, 61, 2))
        entries = await peers[0].list(NS, "log/")
        values = [entry.value for entry in entries]
        assert sorted(values) == sorted([f"{i}a" for i in range(30)] + [f"{i}b" for i in range(30)])
        for i in range(30):
            assert values.index(f"{i}a") + 1 == values.index(f"{i}b")
        assert await peers[0].get(NS, "log") == 60

    async def test_pop_takes_the_value_once(self, storage: StorageDriver) -> None:
        """pop returns the value and removes it; then, or for an expired key, the default."""
        await storage.set(NS, "k", {"job": 1})
        assert await storage.pop(NS, "k") == {"job": 1}
        assert await storage.pop(NS, "k", "gone") == "gone"
        assert await storage.get(NS, "k") is None
        await storage.set(NS, "none", None)
        assert await storage.pop(NS, "none", "default") is None  # a stored None is a value
        await storage.set(NS, "t", 1, ttl=TTL_S)
        deadline = time.monotonic() + TTL_S
        await wait_until_expired(deadline)
        assert await storage.pop(NS, "t", "expired") == "expired"

    async def test_concurrent_pops_have_exactly_one_winner(
        self, peers: list[StorageDriver]
    ) -> None:
        """Of many concurrent pops of one live key, from several instances, exactly one gets
        the value."""
        missing = object()
        for round_ in range(5):
            await peers[0].set(NS, f"job{round_}", round_)
            taken = await asyncio.gather(
                *(peers[i % len(peers)].pop(NS, f"job{round_}", missing) for i in range(16))
            )
            assert [value for value in taken if value is not missing] == [round_]

    async def test_update_keep_writes_nothing(self, storage: StorageDriver) -> None:
        """KEEP returns the current value (None when absent) and writes nothing: the expiry
        stays and an absent key stays absent."""
        await storage.set(NS, "k", [1], ttl=600)
        assert await storage.update(NS, "k", lambda current: KEEP) == [1]
        left = await storage.ttl(NS, "k")
        assert left is not None
        assert 0 < left <= 600
        assert await storage.update(NS, "absent", lambda current: KEEP) is None
        assert await storage.get(NS, "absent", "still absent") == "still absent"

    async def test_update_delete_removes_atomically(self, peers: list[StorageDriver]) -> None:
        """DELETE removes the entry read; racing a counter's updates, the deletion and every
        increment all take effect in some order (none is lost or resurrected)."""
        storage = peers[0]
        await storage.set(NS, "k", 1)
        assert await storage.update(NS, "k", lambda current: DELETE) is None
        assert await storage.get(NS, "k", "gone") == "gone"
        assert await storage.update(NS, "k", lambda current: DELETE) is None

        def delete_at_five(current: int | None) -> object:
            return DELETE if current == 5 else (current or 0) + 1

        await asyncio.gather(
            *(peers[i % len(peers)].update(NS, "c", delete_at_five) for i in range(11))
        )
        # Each update is atomic, so 11 of them are 5 increments, the DELETE, 5 increments.
        assert await storage.get(NS, "c") == 5
