"""Conformance: scan, count, clear and namespaces."""

from __future__ import annotations

import asyncio

import pytest

from radaros.storage import (
    Entry,
    StorageDriver,
)
from radaros.storage.testing.support import NS, SuiteBase

__all__ = ["ListingTests"]


class ListingTests(SuiteBase):
    """Ordered paging, counts, clears and the namespace list."""

    async def test_scan_pages_through_in_order(self, storage: StorageDriver) -> None:
        """scan yields every live entry in key order, whatever the page size."""
        items = {f"k{i:03}": i for i in range(23)}
        await storage.set_many(NS, items)
        await storage.set_many(NS, {"other": 0, "j": 1})
        for page_size in (1, 3, 23, 100):
            scanned = [entry async for entry in storage.scan(NS, "k", page_size=page_size)]
            assert scanned == [Entry(key, value) for key, value in items.items()]

    async def test_scan_refuses_bad_page_size(self, storage: StorageDriver) -> None:
        """page_size must be a positive int."""
        for page_size in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="page_size"):
                storage.scan(NS, page_size=page_size)  # type: ignore[arg-type]

    async def test_scan_under_concurrent_writes_sees_stable_keys_once(
        self, storage: StorageDriver
    ) -> None:
        """Keys present for the whole scan are seen exactly once, in order, despite writes."""
        stable = {f"s{i:03}": i for i in range(60)}
        await storage.set_many(NS, stable)
        stop = asyncio.Event()

        async def churn() -> None:
            round_ = 0
            while not stop.is_set():
                await storage.set(NS, f"s{round_ % 60:03}x", round_)  # new keys between pages
                await storage.delete(NS, f"s{(round_ + 30) % 60:03}x")
                round_ += 1

        writer = asyncio.create_task(churn())
        try:
            seen = [entry.key async for entry in storage.scan(NS, page_size=7)]
        finally:
            stop.set()
            await writer
        assert seen == sorted(seen)
        assert len(seen) == len(set(seen))
        assert [key for key in seen if key in stable] == list(stable)

    async def test_count_and_clear_by_prefix(self, storage: StorageDriver) -> None:
        """count counts live keys; clear deletes the prefix's keys and returns how many."""
        await storage.set_many(NS, {"user:1": 1, "user:2": 2, "users": 3, "order:1": 4})
        assert await storage.count(NS) == 4
        assert await storage.count(NS, "user:") == 2
        assert await storage.clear(NS, "user:") == 2
        assert [e.key for e in await storage.list(NS)] == ["order:1", "users"]
        assert await storage.clear(NS) == 2
        assert await storage.count(NS) == 0

    async def test_namespaces_lists_only_live_ones(self, storage: StorageDriver) -> None:
        """namespaces is sorted, filtered by prefix, and forgets emptied namespaces."""
        for name in ["session:b", "memory:short", "session:a", "memory:long", "app"]:
            await storage.set(name, "k", 1)
        assert await storage.namespaces() == [
            "app",
            "memory:long",
            "memory:short",
            "session:a",
            "session:b",
        ]
        assert await storage.namespaces("session:") == ["session:a", "session:b"]
        await storage.delete("session:a", "k")
        await storage.clear("app")
        assert await storage.namespaces() == ["memory:long", "memory:short", "session:b"]
        assert await storage.namespaces("zzz") == []
