"""Conformance: expiry, ttl() and touch().

No test here depends on the machine's speed: a deadline is taken after the writes
that it bounds, and facts about live entries are read with ttl(), not by sleeping."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

import pytest

from radaros.storage import (
    Entry,
    StorageDriver,
    TTLEntry,
)
from radaros.storage.testing.cases import (
    BAD_TTLS,
)
from radaros.storage.testing.support import NS, TTL_S, SuiteBase, wait_until_expired

__all__ = ["ExpiryTests"]


class ExpiryTests(SuiteBase):
    """Expired entries are absent everywhere; ttl() and touch() report and move expiry."""

    async def test_expired_entry_is_absent_everywhere(self, storage: StorageDriver) -> None:
        """From expiry on, get, get_many, list, scan, count, ttl and namespaces all omit it."""
        await storage.set("ttl", "short", "v", ttl=TTL_S)
        await storage.set("ttl-only", "short", "v", ttl=timedelta(seconds=TTL_S))
        deadline = time.monotonic() + TTL_S  # taken after the writes: each expires before it
        await storage.set("ttl", "long", "v", ttl=60)
        await wait_until_expired(deadline)
        assert await storage.get("ttl", "short", "gone") == "gone"
        assert await storage.get_many("ttl", ["short", "long"]) == [None, "v"]
        assert await storage.list("ttl") == [Entry("long", "v")]
        assert [e.key async for e in storage.scan("ttl")] == ["long"]
        assert [e.key async for e in storage.scan("ttl", with_ttl=True)] == ["long"]
        assert await storage.count("ttl") == 1
        assert await storage.ttl("ttl", "short") is None
        assert "ttl-only" not in await storage.namespaces()
        assert await storage.clear("ttl-only") == 0
        assert await storage.touch("ttl", "short", 60) is False
        assert await storage.delete("ttl", "short") is False

    async def test_add_append_update_treat_expired_as_absent(self, storage: StorageDriver) -> None:
        """add stores over an expired entry; append and update start from nothing."""
        await storage.set(NS, "add", "old", ttl=TTL_S)
        await storage.set(NS, "append", [1, 2], ttl=TTL_S)
        await storage.set(NS, "update", 41, ttl=TTL_S)
        await wait_until_expired(time.monotonic() + TTL_S)
        assert await storage.add(NS, "add", "new") is True
        assert await storage.append(NS, "append", [3]) == 1
        seen: list[Any] = []

        def record(value: Any) -> int:
            seen.append(value)
            return 1

        assert await storage.update(NS, "update", record) == 1
        assert seen == [None]
        assert await storage.get_many(NS, ["add", "append", "update"]) == ["new", [3], 1]

    async def test_set_without_ttl_clears_expiry(self, storage: StorageDriver) -> None:
        """set replaces value and expiry: no ttl means it never expires."""
        await storage.set(NS, "k", 1, ttl=60)
        await storage.set(NS, "k", 2)
        assert await storage.ttl(NS, "k") == math.inf
        assert await storage.get(NS, "k") == 2

    async def test_update_and_append_keep_expiry_without_ttl(self, storage: StorageDriver) -> None:
        """Without ttl, update and append keep the entry's current expiry."""
        await storage.set(NS, "counter", 1, ttl=60)
        await storage.set(NS, "list", [1], ttl=60)
        await storage.update(NS, "counter", lambda v: v + 1)
        await storage.append(NS, "list", [2])
        assert await storage.get_many(NS, ["counter", "list"]) == [2, [1, 2]]
        for key in ("counter", "list"):
            remaining = await storage.ttl(NS, key)
            assert remaining is not None
            assert 0 < remaining <= 60

    async def test_update_and_append_with_ttl_set_new_expiry(self, storage: StorageDriver) -> None:
        """With ttl, update and append set a new expiry (here: extend a short one)."""
        await storage.set(NS, "counter", 1, ttl=60)
        await storage.set(NS, "list", [1], ttl=60)
        await storage.update(NS, "counter", lambda v: v + 1, ttl=3600)
        await storage.append(NS, "list", [2], ttl=timedelta(hours=1))
        assert await storage.get_many(NS, ["counter", "list"]) == [2, [1, 2]]
        for key in ("counter", "list"):
            remaining = await storage.ttl(NS, key)
            assert remaining is not None
            assert 60 < remaining <= 3600

    async def test_set_many_and_add_honour_ttl(self, storage: StorageDriver) -> None:
        """set_many and add apply their ttl to what they store."""
        await storage.set_many(NS, {"a": 1, "b": 2}, ttl=TTL_S)
        assert await storage.add(NS, "c", 3, ttl=TTL_S) is True
        deadline = time.monotonic() + TTL_S
        await storage.set_many(NS, {"d": 4}, ttl=60)
        assert await storage.add(NS, "e", 5, ttl=60) is True
        for key in ("d", "e"):
            remaining = await storage.ttl(NS, key)
            assert remaining is not None
            assert 0 < remaining <= 60
        await wait_until_expired(deadline)
        assert [e.key for e in await storage.list(NS)] == ["d", "e"]

    @pytest.mark.parametrize("ttl", BAD_TTLS, ids=range(len(BAD_TTLS)))
    async def test_bad_ttl_raises_value_error(self, storage: StorageDriver, ttl: Any) -> None:
        """ttl must be seconds > 0 or a positive timedelta; anything else is a ValueError."""
        await storage.set(NS, "live", 1)
        for attempt in [
            storage.set(NS, "k", 1, ttl=ttl),
            storage.add(NS, "k", 1, ttl=ttl),
            storage.set_many(NS, {"k": 1}, ttl=ttl),
            storage.append(NS, "k", [1], ttl=ttl),
            storage.update(NS, "k", lambda v: 1, ttl=ttl),
            storage.touch(NS, "live", ttl),
        ]:
            with pytest.raises(ValueError, match="ttl"):
                await attempt
        with pytest.raises(ValueError, match="ttl"):
            await storage.set(NS, "k", 1, ttl=timedelta(seconds=-1))
        assert await storage.list(NS) == [Entry("live", 1)]
        assert await storage.ttl(NS, "live") == math.inf

    # -- ttl() and touch() -------------------------------------------------------------------

    async def test_ttl_reports_seconds_left_inf_or_none(self, storage: StorageDriver) -> None:
        """ttl() is seconds left by the backend's clock, math.inf for never, None if absent."""
        await storage.set(NS, "forever", 1)
        await storage.set(NS, "minute", 1, ttl=60)
        await storage.set(NS, "none-value", None)
        assert await storage.ttl(NS, "forever") == math.inf
        assert await storage.ttl(NS, "none-value") == math.inf
        remaining = await storage.ttl(NS, "minute")
        assert remaining is not None
        assert 0 < remaining <= 60
        assert isinstance(remaining, float)
        assert await storage.ttl(NS, "absent") is None
        assert await storage.ttl("other", "minute") is None

    @pytest.mark.parametrize(
        "huge", [1e13, 1e300, timedelta.max, 2**70], ids=["1e13", "1e300", "timedelta.max", "2**70"]
    )
    async def test_ttl_past_year_9999_means_never(self, storage: StorageDriver, huge: Any) -> None:
        """A ttl whose expiry falls after 9999-12-31 is accepted everywhere and means never."""
        await storage.set(NS, "set", 1, ttl=huge)
        await storage.set_many(NS, {"many": 1}, ttl=huge)
        assert await storage.add(NS, "add", 1, ttl=huge) is True
        await storage.set(NS, "update", 1, ttl=60)
        await storage.update(NS, "update", lambda v: v + 1, ttl=huge)
        await storage.append(NS, "append", [1], ttl=huge)
        await storage.set(NS, "touch", 1, ttl=60)
        assert await storage.touch(NS, "touch", huge) is True
        for key in ("set", "many", "add", "update", "append", "touch"):
            assert await storage.ttl(NS, key) == math.inf, key
        assert await storage.get(NS, "update") == 2

    async def test_touch_sets_expiry_without_rewriting(self, storage: StorageDriver) -> None:
        """touch moves the expiry of a live entry and leaves its value alone."""
        await storage.set(NS, "k", {"v": [1, 2.5]}, ttl=60)
        assert await storage.touch(NS, "k", 3600) is True
        remaining = await storage.ttl(NS, "k")
        assert remaining is not None
        assert 60 < remaining <= 3600
        assert await storage.get(NS, "k") == {"v": [1, 2.5]}
        assert await storage.touch(NS, "k", timedelta(seconds=30)) is True
        remaining = await storage.ttl(NS, "k")
        assert remaining is not None
        assert 0 < remaining <= 30

    async def test_touch_none_removes_expiry_and_short_ttl_expires(
        self, storage: StorageDriver
    ) -> None:
        """touch(None) makes a live entry permanent; a short touch makes it expire."""
        await storage.set(NS, "keep", 1, ttl=60)
        await storage.set(NS, "drop", 2)
        assert await storage.touch(NS, "keep", None) is True
        assert await storage.touch(NS, "drop", TTL_S) is True
        deadline = time.monotonic() + TTL_S
        assert await storage.ttl(NS, "keep") == math.inf
        await wait_until_expired(deadline)
        assert await storage.get_many(NS, ["keep", "drop"]) == [1, None]

    async def test_touch_of_absent_key_is_false(self, storage: StorageDriver) -> None:
        """touch creates nothing: an absent key stays absent."""
        assert await storage.touch(NS, "absent", 60) is False
        assert await storage.touch(NS, "absent", None) is False
        assert await storage.count(NS) == 0
        assert await storage.namespaces() == []

    async def test_scan_with_ttl_reads_value_and_expiry_together(
        self, storage: StorageDriver
    ) -> None:
        """scan(with_ttl=True) yields TTLEntry(key, value, ttl) in key order, on every page."""
        await storage.set_many(NS, {f"n{i}": i for i in range(5)})
        await storage.set_many(NS, {f"t{i}": [i] for i in range(5)}, ttl=60)
        entries = [entry async for entry in storage.scan(NS, page_size=3, with_ttl=True)]
        assert [entry.key for entry in entries] == [
            *(f"n{i}" for i in range(5)),
            *(f"t{i}" for i in range(5)),
        ]
        assert all(isinstance(entry, TTLEntry) for entry in entries)
        key, value, seconds = entries[0]
        assert (key, value, seconds) == ("n0", 0, math.inf)
        for entry in entries[5:]:
            assert entry.value == [int(entry.key[1:])]
            assert 0 < entry.ttl <= 60
        prefixed = [entry.key async for entry in storage.scan(NS, "t", with_ttl=True)]
        assert prefixed == [f"t{i}" for i in range(5)]
