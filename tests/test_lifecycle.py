"""close() with calls in flight: once it has begun, no new backend call starts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from radaros.storage import InMemoryStorage, StorageClosedError


class HeldReads(InMemoryStorage):
    """A test double for an interleaving a real server cannot be made to produce on cue:
    reads of key "held" wait for `release`, and every primitive started is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.started: list[str] = []

    async def _get(self, namespace: str, key: str) -> Any:
        self.started.append(f"get {key}")
        if key == "held":
            await self.release.wait()
        return await super()._get(namespace, key)

    async def _replace_if(self, *args: Any) -> bool:
        self.started.append("replace_if")
        return await super()._replace_if(*args)


async def test_an_update_between_its_read_and_write_does_not_write_into_a_closing_driver() -> None:
    storage = HeldReads()
    await storage.initialize()
    await storage.set("ns", "counter", 1)
    changing = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_increment(value: Any) -> Any:
        changing.set()
        await go_on.wait()
        return value + 1

    held_read = asyncio.create_task(storage.get("ns", "held"))
    update = asyncio.create_task(storage.update("ns", "counter", slow_increment))
    await changing.wait()  # the update has read; a get is still in flight
    closing = asyncio.create_task(storage.close())
    await asyncio.sleep(0)
    assert storage.is_closed
    assert not closing.done()  # close() waits for the held read
    go_on.set()  # the update now wants to write while close() waits
    storage.release.set()
    await closing
    with pytest.raises(StorageClosedError):
        await update
    assert await held_read is None  # a call already in flight finishes normally
    assert "replace_if" not in storage.started
