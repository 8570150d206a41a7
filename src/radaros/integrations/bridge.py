"""One storage behind a framework's async and blocking methods alike.

Frameworks call an adapter both ways: `await saver.aput(...)` from their event loop and
`saver.put(...)` from plain threads. `Bridge` runs the async work where the storage lives:
on the caller's loop for an async `KeyValue`, on the loop thread of a `SyncStorage`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from radaros.storage.errors import StorageError
from radaros.storage.protocol import DEFAULT_PAGE_SIZE, KeyValue
from radaros.sync import SyncStorage
from radaros.sync.layers import blocking, next_page

__all__ = ["Bridge"]

T = TypeVar("T")


class Bridge:
    """The async storage an adapter works on, and the way to run its coroutines blocking.

    With a `SyncStorage` every call, async or blocking, runs on its loop thread. With an
    async `KeyValue` the async methods run on the caller's loop, and a blocking call from
    another thread runs on the loop the adapter was created on (or first awaited on); a
    blocking call from that loop's own thread would deadlock it, so it is refused.
    """

    def __init__(self, storage: KeyValue | SyncStorage) -> None:
        if isinstance(storage, SyncStorage):
            self.storage: KeyValue = storage.storage
            self.sync: SyncStorage | None = storage
        elif isinstance(storage, KeyValue):
            self.storage, self.sync = storage, None
        else:
            raise TypeError(
                f"storage must be a KeyValue or a SyncStorage, not {type(storage).__name__}"
            )
        self._loop = _running_loop()

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await `coroutine` where the storage lives."""
        if self.sync is not None:
            return await asyncio.wrap_future(self.sync.submit(coroutine))
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return await coroutine

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` to its end from blocking code."""
        if self.sync is not None:
            return self.sync.run(coroutine)
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            coroutine.close()
            raise StorageError(
                "a blocking call needs the event loop this async storage runs on; "
                "from blocking code, pass a radaros.sync.SyncStorage instead"
            )
        if _running_loop() is loop:
            coroutine.close()
            raise StorageError(
                "a blocking call from the event loop's own thread would block that loop; "
                "await the async method instead"
            )
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    async def iterate(
        self, entries: AsyncIterator[T], page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[T]:
        """The items of an async iterator of the storage's (a `scan`), from async code: a
        page per trip to where the storage lives."""
        if self.sync is None:
            async for entry in entries:
                yield entry
            return
        while True:
            page = await self.call(next_page(entries, page_size))
            for entry in page:
                yield entry
            if len(page) < page_size:
                return

    def iterate_blocking(
        self, entries: AsyncIterator[T], page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[T]:
        """The items of an async iterator of the storage's, from blocking code."""
        return blocking(self.run, entries, page_size)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
