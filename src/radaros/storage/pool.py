"""A lean connection pool: idle connections on a LIFO stack.

Taking a free connection is a list pop and giving it back a list append: no task, timer,
context manager or reset query per operation. A timer exists only while a caller waits
for a connection (all are in use), which is when `acquire_timeout_s` matters. The most
recently used connection is reused first, so the others age at the bottom of the stack
and are closed after `max_idle_s` unused (down to `min_size`).

A connection whose call failed in a way that may leave it mid-protocol (a cancellation, a
client-side timeout, a lost socket) is terminated instead of reused: the caller says so
through `release(connection, reusable=False)`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["ConnectionStack"]

C = TypeVar("C")


class ConnectionStack(Generic[C]):
    """At most `max_size` connections made by `connect`, reused most-recent-first."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[C]],
        *,
        is_closed: Callable[[C], bool],
        close: Callable[[C], Awaitable[object]],
        terminate: Callable[[C], object],
        min_size: int,
        max_size: int,
        acquire_timeout_s: float,
        max_idle_s: float = 300.0,
    ) -> None:
        self._connect = connect
        self._is_closed = is_closed
        self._close_one = close
        self._terminate = terminate
        self._min_size = min_size
        self._max_size = max_size
        self._acquire_timeout_s = acquire_timeout_s
        self._max_idle_s = max_idle_s
        self._idle: list[tuple[C, float]] = []  # (connection, released at), newest last
        self._all: set[C] = set()
        self._size = 0  # connections open or being opened (slots taken)
        self._waiters: collections.deque[asyncio.Future[C | None]] = collections.deque()
        self._closed = False

    def get_size(self) -> int:
        """Connections open or being opened."""
        return self._size

    def get_idle_size(self) -> int:
        return len(self._idle)

    async def fill(self) -> None:
        """Open connections up to `min_size` (at least one, so the server is checked)."""
        opened = await asyncio.gather(
            *(self.acquire() for _ in range(max(1, self._min_size))), return_exceptions=True
        )
        for connection in opened:
            if not isinstance(connection, BaseException):
                self.release(connection)
        for failure in opened:
            if isinstance(failure, BaseException):
                raise failure

    def take_idle(self) -> C | None:
        """A free connection without awaiting anything, or None (then `await acquire()`)."""
        idle = self._idle
        while idle:
            connection = idle.pop()[0]
            if not self._is_closed(connection):
                return connection
            self._forget(connection)
        return None

    async def acquire(self) -> C:
        connection = self.take_idle()
        if connection is not None:
            return connection
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        if self._size < self._max_size:
            self._size += 1
            return await self._open()
        return await self._wait()

    def release(self, connection: C, *, reusable: bool = True) -> None:
        """Give a connection back; not `reusable` (or closed, or the pool closed): drop it."""
        if not reusable or self._closed or self._is_closed(connection):
            self._terminate(connection)
            self._forget(connection)
            return
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        now = time.monotonic()
        idle = self._idle
        idle.append((connection, now))
        if now - idle[0][1] > self._max_idle_s and self._size > self._min_size:
            oldest = idle.pop(0)[0]
            self._terminate(oldest)
            self._forget(oldest)

    async def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(RuntimeError("the connection pool is closed"))
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._close_one(c) for c, _ in idle), return_exceptions=True)
        for connection, _ in idle:
            self._forget(connection)

    def terminate(self) -> None:
        """Cut every connection at once, in use or not."""
        self._closed = True
        for connection in list(self._all):
            with contextlib.suppress(Exception):
                self._terminate(connection)
        self._all.clear()
        self._idle = []
        self._size = 0

    # -- slots -------------------------------------------------------------------------------

    async def _open(self) -> C:
        """Open a connection in a slot already counted in `_size`."""
        try:
            connection = await self._connect()
        except BaseException:
            self._size -= 1
            self._hand_slot()
            raise
        self._all.add(connection)
        return connection

    async def _wait(self) -> C:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[C | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self._acquire_timeout_s, _expire, waiter)
        try:
            connection = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(waiter.result())  # handed over as this caller was cancelled
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise
        finally:
            timer.cancel()
        if connection is None:  # a slot freed by a dropped connection: open a new one
            return await self._open()
        return connection

    def _give_back(self, handed: C | None) -> None:
        if handed is None:
            self._size -= 1
            self._hand_slot()
        else:
            self.release(handed)

    def _forget(self, connection: C) -> None:
        if connection in self._all:
            self._all.discard(connection)
            self._size -= 1
            self._hand_slot()

    def _hand_slot(self) -> None:
        """A slot is free: the first caller still waiting takes it and opens a connection."""
        if self._closed:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._size += 1
                waiter.set_result(None)
                return


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no free connection within acquire_timeout_s"))
