"""Conformance: add, update, append and delete under concurrency."""

from __future__ import annotations

import asyncio
import copy
import math
from typing import Any

import pytest

from radaros.storage import (
    DELETE,
    KEEP,
    Entry,
    SerializationError,
    StorageDriver,
)
from radaros.storage.testing.support import NS, SuiteBase, count_reads

__all__ = ["AtomicTests"]


class AtomicTests(SuiteBase):
    """Atomic operations: exactly one winner, no lost update, no lost item."""

    async def test_add_stores_only_when_absent(self, storage: StorageDriver) -> None:
        """add returns True and stores when absent; False and leaves the value otherwise."""
        assert await storage.add(NS, "k", "first") is True
        assert await storage.add(NS, "k", "second") is False
        assert await storage.get(NS, "k") == "first"
        await storage.set(NS, "none", None)
        assert await storage.add(NS, "none", 1) is False

    async def test_concurrent_adds_have_exactly_one_winner(
        self, peers: list[StorageDriver]
    ) -> None:
        """Of many concurrent adds of one key, from several instances, exactly one wins."""
        for round_ in range(5):
            attempts = [peers[i % len(peers)].add(NS, f"race{round_}", i) for i in range(24)]
            results = await asyncio.gather(*attempts)
            assert results.count(True) == 1
            winner = results.index(True)
            assert await peers[0].get(NS, f"race{round_}") == winner

    async def test_concurrent_updates_lose_no_increment(self, peers: list[StorageDriver]) -> None:
        """Concurrent update(+1) from several instances and tasks counts every one."""
        tasks = [
            peers[i % len(peers)].update(NS, "counter", lambda v: (v or 0) + 1) for i in range(120)
        ]
        results = await asyncio.gather(*tasks)
        assert sorted(results) == list(range(1, 121))
        assert await peers[0].get(NS, "counter") == 120

    async def test_concurrent_appends_lose_no_item(self, peers: list[StorageDriver]) -> None:
        """Concurrent appends from several instances keep every item exactly once."""
        tasks = [
            peers[i % len(peers)].append(NS, "log", [f"item{i}", f"item{i}b"]) for i in range(60)
        ]
        lengths = await asyncio.gather(*tasks)
        assert sorted(lengths) == list(range(2, 121, 2))
        stored = await peers[0].get(NS, "log")
        assert sorted(stored) == sorted(
            [f"item{i}" for i in range(60)] + [f"item{i}b" for i in range(60)]
        )
        for i in range(60):  # each call's items stay together, in order
            assert stored.index(f"item{i}") + 1 == stored.index(f"item{i}b")

    async def test_update_calls_sync_and_async_functions(self, storage: StorageDriver) -> None:
        """update accepts sync and async functions and returns the stored value."""

        async def add_two(value: Any) -> Any:
            await asyncio.sleep(0)
            return (value or 0) + 2

        assert await storage.update(NS, "k", lambda v: (v or 0) + 1) == 1
        assert await storage.update(NS, "k", add_two) == 3
        assert await storage.update(NS, "t", lambda v: (1, 2)) == [1, 2]
        assert await storage.get(NS, "k") == 3

    async def test_update_that_raises_writes_nothing(self, storage: StorageDriver) -> None:
        """If fn raises, its exception propagates and nothing is written."""
        await storage.set(NS, "k", 1)

        def fail(value: Any) -> Any:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await storage.update(NS, "k", fail)
        with pytest.raises(RuntimeError, match="boom"):
            await storage.update(NS, "absent", fail)
        with pytest.raises(TypeError):
            await storage.update(NS, "k", "not callable")  # type: ignore[arg-type]
        assert await storage.list(NS) == [Entry("k", 1)]

    async def test_update_sees_a_copy(self, storage: StorageDriver) -> None:
        """Mutating the value passed to fn without returning it writes nothing unexpected."""
        await storage.set(NS, "k", {"a": [1]})

        def mutate(value: Any) -> Any:
            changed = copy.deepcopy(value)
            value["a"].append("leak")
            changed["a"].append(2)
            return changed

        assert await storage.update(NS, "k", mutate) == {"a": [1, 2]}
        assert await storage.get(NS, "k") == {"a": [1, 2]}

    async def test_update_on_a_right_belief_skips_the_read(
        self, storage: StorageDriver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With `current` right, fn runs once on it and the entry is not read first
        (MongoDB, which swaps on revisions, reads an existing entry); with `ttl` the
        entry gets the new expiry."""
        await storage.set(NS, "k", {"n": 1})
        reads = count_reads(storage, monkeypatch)
        seen: list[Any] = []

        def bump(value: Any) -> Any:
            seen.append(value)
            return {"n": (value or {"n": 0})["n"] + 1}

        assert await storage.update(NS, "k", bump, ttl=60, current={"n": 1}) == {"n": 2}
        assert await storage.update(NS, "new", bump, current=None) == {"n": 1}
        assert seen == [{"n": 1}, None]
        assert reads == ([] if storage.swaps_on_value else ["k"])
        assert await storage.get(NS, "k") == {"n": 2}
        assert await storage.get(NS, "new") == {"n": 1}
        assert 0 < (await storage.ttl(NS, "k") or 0) <= 60
        assert await storage.ttl(NS, "new") == math.inf

    async def test_update_on_a_wrong_belief_uses_the_real_value(
        self, storage: StorageDriver
    ) -> None:
        """A stale `current`, a present one for an absent entry and an absent one for a
        present entry: fn then also runs on the real value, and that result is stored.
        An answer that writes nothing is given for the real value, never the belief."""
        seen: list[Any] = []

        def plus_one(value: Any) -> Any:
            seen.append(value)
            return (value or 0) + 1

        await storage.set(NS, "stale", 5)
        assert await storage.update(NS, "stale", plus_one, current=4) == 6
        assert await storage.update(NS, "absent", plus_one, current=4) == 1
        assert await storage.update(NS, "stale", plus_one, current=None) == 7
        believed = [4, 5, 4, None] if storage.swaps_on_value else [5, None]
        assert seen == [*believed, None, 6]  # an absent belief is tried everywhere
        assert await storage.get_many(NS, ["stale", "absent"]) == [7, 1]
        assert await storage.update(NS, "stale", lambda v: KEEP, current=3) == 7
        assert await storage.update(NS, "absent", lambda v: DELETE, current=None) is None
        assert await storage.get(NS, "absent") is None

    async def test_update_belief_is_checked_before_anything_is_written(
        self, storage: StorageDriver
    ) -> None:
        """A `current` that is no JSON value raises SerializationError; fn never runs."""
        await storage.set(NS, "k", 1)
        with pytest.raises(SerializationError):
            await storage.update(NS, "k", lambda v: 2, current={1, 2})
        assert await storage.get(NS, "k") == 1

    async def test_concurrent_updates_on_stale_beliefs_lose_no_increment(
        self, peers: list[StorageDriver]
    ) -> None:
        """update(+1) with the same stale `current` from several instances and tasks
        still counts every one."""
        await peers[0].set(NS, "counter", 0)
        tasks = [
            peers[i % len(peers)].update(NS, "counter", lambda v: v + 1, current=0)
            for i in range(60)
        ]
        assert sorted(await asyncio.gather(*tasks)) == list(range(1, 61))
        assert await peers[0].get(NS, "counter") == 60

    async def test_append_builds_a_list_and_returns_length(self, storage: StorageDriver) -> None:
        """append starts an absent key as [], extends it, and returns the new length."""
        assert await storage.append(NS, "log", [1]) == 1
        assert await storage.append(NS, "log", (2, 3)) == 3
        assert await storage.append(NS, "log", []) == 3
        assert await storage.get(NS, "log") == [1, 2, 3]

    async def test_append_keeps_only_the_newest_max_items(self, storage: StorageDriver) -> None:
        """With max_items, only the newest that many items are kept."""
        await storage.append(NS, "log", list(range(5)))
        assert await storage.append(NS, "log", [5, 6], max_items=3) == 3
        assert await storage.get(NS, "log") == [4, 5, 6]
        assert await storage.append(NS, "new", list(range(10)), max_items=2) == 2
        assert await storage.get(NS, "new") == [8, 9]
        for bad in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="max_items"):
                await storage.append(NS, "log", [1], max_items=bad)  # type: ignore[arg-type]

    async def test_append_to_a_non_list_raises_type_error(self, storage: StorageDriver) -> None:
        """Appending to a stored value that is not a list raises TypeError; nothing written."""
        await storage.set_many(NS, {"dict": {"a": 1}, "str": "abc", "none": None})
        for key in ("dict", "str", "none"):
            with pytest.raises(TypeError, match="not a list"):
                await storage.append(NS, key, [1])
        with pytest.raises(TypeError):
            await storage.append(NS, "new", "abc")
        assert await storage.get_many(NS, ["dict", "str", "none", "new"]) == [
            {"a": 1},
            "abc",
            None,
            None,
        ]

    async def test_concurrent_deletes_have_exactly_one_true(
        self, peers: list[StorageDriver]
    ) -> None:
        """Of many concurrent deletes of one live key, from several instances, one is True."""
        for round_ in range(10):
            await peers[0].set(NS, f"victim{round_}", round_)
            attempts = [peers[i % len(peers)].delete(NS, f"victim{round_}") for i in range(12)]
            results = await asyncio.gather(*attempts)
            assert results.count(True) == 1, results
            assert await peers[-1].get(NS, f"victim{round_}") is None
