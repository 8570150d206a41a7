"""Conformance: initialize, close, instances sharing data, repr."""

from __future__ import annotations

import asyncio

import pytest

from radaros.storage import (
    StorageClosedError,
    StorageDriver,
    StorageError,
    StorageNotInitializedError,
)
from radaros.storage.testing.support import NS, Factory, SuiteBase

__all__ = ["LifecycleTests"]


class LifecycleTests(SuiteBase):
    """Opening, closing, and what instances on the same data see."""

    async def test_async_with_opens_and_closes(self, storage_factory: Factory) -> None:
        """async with initializes on enter and closes on exit; close is idempotent."""
        async with storage_factory() as storage:
            await storage.set(NS, "k", 1)
            assert not storage.is_closed
        assert storage.is_closed
        await storage.close()
        await storage.close()

    async def test_initialize_is_idempotent(self, storage: StorageDriver) -> None:
        """initialize may be called again, concurrently, without harm."""
        await storage.set(NS, "k", 1)
        await asyncio.gather(*(storage.initialize() for _ in range(5)))
        assert await storage.get(NS, "k") == 1

    async def test_every_operation_after_close_raises(self, storage_factory: Factory) -> None:
        """After close, every operation raises StorageClosedError."""
        storage = storage_factory()
        await storage.initialize()
        await storage.close()
        calls = [
            storage.get(NS, "k"),
            storage.set(NS, "k", 1),
            storage.delete(NS, "k"),
            storage.list(NS),
            storage.get_many(NS, ["k"]),
            storage.set_many(NS, {"k": 1}),
            storage.delete_many(NS, ["k"]),
            storage.count(NS),
            storage.clear(NS),
            storage.namespaces(),
            storage.add(NS, "k", 1),
            storage.append(NS, "k", [1]),
            storage.update(NS, "k", lambda v: 1),
            storage.ttl(NS, "k"),
            storage.touch(NS, "k", 60),
            storage.initialize(),
        ]
        for call in calls:
            with pytest.raises(StorageClosedError):
                await call
        with pytest.raises(StorageClosedError):
            [entry async for entry in storage.scan(NS)]

    async def test_server_drivers_require_initialize(self, storage_factory: Factory) -> None:
        """Drivers that need initialize() say so; embedded ones open on first use."""
        storage = storage_factory()
        try:
            if storage.requires_initialize:
                with pytest.raises(StorageNotInitializedError, match="initialize"):
                    await storage.get(NS, "k")
                with pytest.raises(StorageNotInitializedError):
                    await storage.set(NS, "k", 1)
            else:
                await storage.set(NS, "k", 1)
                assert await storage.get(NS, "k") == 1
        finally:
            await storage.close()

    async def test_close_with_operations_in_flight_does_not_hang(
        self, storage_factory: Factory
    ) -> None:
        """Closing while operations run returns promptly; each operation ends or raises."""
        storage = storage_factory()
        await storage.initialize()
        operations = [
            asyncio.ensure_future(storage.update(NS, f"k{i % 5}", lambda v: (v or 0) + 1))
            for i in range(50)
        ] + [asyncio.ensure_future(storage.list(NS)) for _ in range(20)]
        await asyncio.sleep(0.001)
        await asyncio.wait_for(storage.close(), timeout=10)
        done, pending = await asyncio.wait(operations, timeout=10)
        assert not pending
        for operation in done:
            error = operation.exception()
            assert error is None or isinstance(error, StorageError), repr(error)

    async def test_instances_see_each_others_writes(self, peers: list[StorageDriver]) -> None:
        """Once a write returns, every instance on the same data reads the new state."""
        first, second = peers[0], peers[1]
        for i in range(20):
            await first.set(NS, "k", i)
            assert await second.get(NS, "k") == i
            await second.delete(NS, "k")
            assert await first.get(NS, "k") is None

    async def test_repr_names_the_driver(self, storage: StorageDriver) -> None:
        """repr says which driver and where, without any password."""
        assert type(storage).__name__ in repr(storage)
