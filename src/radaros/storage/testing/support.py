"""What every section of the conformance kit shares: the fixtures a driver provides.

A driver's test class provides `storage_factory`, a fixture returning a callable that
makes a new, unopened driver on this test's data (every call: the same backing store, so
instances see each other's writes). A driver whose instances cannot share data (the
in-memory one) overrides `peers` to hand out one instance several times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from radaros.storage import StorageDriver

__all__ = ["NS", "TTL_S", "Factory", "SuiteBase", "count_reads", "wait_until_expired"]

Factory = Callable[[], StorageDriver]
NS = "conformance"
TTL_S = 0.4
CLOCK_MARGIN_S = 0.05
"""Added to every expiry wait: server clocks and rounding of stored expiries."""


def count_reads(storage: StorageDriver, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys the driver's `_get` primitive reads from now on (until the monkeypatch
    is undone): what shows that a call skipped a read."""
    reads: list[str] = []
    read = storage._get

    async def counted(namespace: str, key: str) -> Any:
        reads.append(key)
        return await read(namespace, key)

    monkeypatch.setattr(storage, "_get", counted)
    return reads


async def wait_until_expired(deadline: float) -> None:
    """Sleep until a monotonic deadline has passed (plus a margin for server clocks)."""
    await asyncio.sleep(max(0.0, deadline - time.monotonic()) + CLOCK_MARGIN_S)


class SuiteBase:
    """The fixtures every section uses. Subclass a section (or the whole suite) and
    provide `storage_factory`."""

    PEER_COUNT = 4

    @pytest.fixture
    def storage_factory(self) -> Factory:
        raise NotImplementedError("provide a storage_factory fixture")

    @pytest.fixture
    async def storage(self, storage_factory: Factory) -> AsyncIterator[StorageDriver]:
        async with storage_factory() as storage:
            yield storage

    @pytest.fixture
    async def peers(self, storage_factory: Factory) -> AsyncIterator[list[StorageDriver]]:
        """Independent instances on the same data, all opened."""
        instances = [storage_factory() for _ in range(self.PEER_COUNT)]
        for instance in instances:
            await instance.initialize()
        yield instances
        for instance in instances:
            await instance.close()
