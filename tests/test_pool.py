"""ConnectionStack: the pool PostgresStorage keeps its own connections in.

Its connections here are plain objects: the stack only ever asks a connection whether it
is closed, and closes or terminates it. PostgreSQL behaviour through it (timeouts,
cancellation, restarts, exhaustion) is covered on a real server in tests/reliability.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from radaros.storage.pool import ConnectionStack


class Conn:
    numbers = itertools.count()

    def __init__(self) -> None:
        self.number = next(self.numbers)
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    def terminate(self) -> None:
        self.closed = True


def stack(max_size: int = 2, min_size: int = 0, **options: float) -> ConnectionStack[Conn]:
    opened: list[Conn] = []

    async def connect() -> Conn:
        await asyncio.sleep(0)
        opened.append(Conn())
        return opened[-1]

    return ConnectionStack(
        connect,
        is_closed=lambda c: c.closed,
        close=lambda c: c.close(),
        terminate=lambda c: c.terminate(),
        min_size=min_size,
        max_size=max_size,
        acquire_timeout_s=options.get("acquire_timeout_s", 5.0),
        max_idle_s=options.get("max_idle_s", 300.0),
    )


async def test_the_most_recently_released_connection_is_reused_first() -> None:
    pool = stack()
    a, b = await pool.acquire(), await pool.acquire()
    pool.release(a)
    pool.release(b)
    assert await pool.acquire() is b
    assert pool.get_size() == 2


async def test_callers_beyond_max_size_wait_in_order_and_time_out() -> None:
    pool = stack(max_size=1, acquire_timeout_s=0.05)
    held = await pool.acquire()
    first = asyncio.create_task(pool.acquire())
    second = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    pool.release(held)
    assert await first is held
    with pytest.raises(TimeoutError):
        await second
    assert pool.get_size() == 1


async def test_a_connection_handed_to_a_cancelled_waiter_goes_back() -> None:
    pool = stack(max_size=1)
    held = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    pool.release(held)  # handed to the waiter ...
    waiting.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pool.get_idle_size() == 1
    assert await pool.acquire() is held


async def test_a_dropped_connection_frees_its_slot_for_a_waiter() -> None:
    pool = stack(max_size=1)
    broken = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    pool.release(broken, reusable=False)
    fresh = await waiting
    assert broken.closed
    assert fresh is not broken
    assert pool.get_size() == 1


async def test_closed_idle_connections_are_skipped() -> None:
    pool = stack()
    connection = await pool.acquire()
    pool.release(connection)
    connection.closed = True  # the server went away while it sat idle
    assert await pool.acquire() is not connection
    assert pool.get_size() == 1


async def test_connections_idle_too_long_are_closed_down_to_min_size() -> None:
    pool = stack(max_size=3, min_size=1, max_idle_s=0.0)
    a, b, c = [await pool.acquire() for _ in range(3)]
    for connection in (a, b, c):
        await asyncio.sleep(0.001)
        pool.release(connection)
    assert pool.get_size() == 1
    assert (a.closed, b.closed, c.closed) == (True, True, False)


async def test_close_closes_idle_ones_and_those_in_use_as_they_come_back() -> None:
    pool = stack()
    idle, busy = await pool.acquire(), await pool.acquire()
    pool.release(idle)
    await pool.close()
    assert idle.closed
    assert not busy.closed
    pool.release(busy)
    assert busy.closed
    assert pool.get_size() == 0
    with pytest.raises(RuntimeError, match="closed"):
        await pool.acquire()


async def test_terminate_cuts_every_connection() -> None:
    pool = stack()
    connections = [await pool.acquire(), await pool.acquire()]
    pool.release(connections[0])
    pool.terminate()
    assert all(connection.closed for connection in connections)
    assert pool.get_size() == 0


async def test_a_failed_connect_frees_its_slot() -> None:
    attempts = 0

    async def connect() -> Conn:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("refused")
        return Conn()

    pool: ConnectionStack[Conn] = ConnectionStack(
        connect,
        is_closed=lambda c: c.closed,
        close=lambda c: c.close(),
        terminate=lambda c: c.terminate(),
        min_size=0,
        max_size=1,
        acquire_timeout_s=1.0,
    )
    with pytest.raises(OSError, match="refused"):
        await pool.acquire()
    assert pool.get_size() == 0
    assert isinstance(await pool.acquire(), Conn)
