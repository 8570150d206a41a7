"""Reliability: Cancellation and pool exhaustion leave nothing behind.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from radaros.storage import (
    PostgresStorage,
    SqliteStorage,
    StorageDriver,
    StorageError,
)
from tests.support.drivers import (
    PostgresTarget,
    driver_factory,
    report,
    unique_name,
)
from tests.support.reliability import SCALE

pytestmark = pytest.mark.slow


# -- 13, 14: cancellation and pool exhaustion ---------------------------------------------------


CANCELLATION_DRIVERS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param(
        "mongodb",
        marks=[
            pytest.mark.mongodb,
            # PyMongo leaves a socket to the garbage collector when a connection attempt is
            # cancelled (PYTHON-5867, unfixed upstream): a ResourceWarning, not a leak of ours.
            pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
            pytest.mark.filterwarnings("ignore::ResourceWarning"),
        ],
    ),
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis_cluster", marks=pytest.mark.redis),
]


@pytest.mark.parametrize("driver_name", CANCELLATION_DRIVERS)
async def test_cancellation_leaves_nothing_behind(
    driver_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """1,000 calls under random 0-5 ms timeouts: connections back to baseline, no transaction
    left open, the next 100 calls succeed, close() within 2 s."""
    storage = driver_factory(driver_name, tmp_path, request)()
    await storage.initialize()
    baseline = await open_connections(storage)
    cancelled = 0
    rng = random.Random(13)
    for i in range(1000 * SCALE):
        kind = rng.randrange(5)
        operation: Any = (
            storage.set("ns", f"k{i % 20}", i)
            if kind == 0
            else storage.get("ns", f"k{i % 20}")
            if kind == 1
            else storage.update("ns", "counter", lambda v: (v or 0) + 1)
            if kind == 2
            else storage.append("ns", "log", [i])
            if kind == 3
            else storage.list("ns")
        )
        try:
            await asyncio.wait_for(operation, timeout=rng.uniform(0, 0.005))
        except asyncio.TimeoutError:
            cancelled += 1
    await asyncio.sleep(0.2)  # cancelled work still in the backend settles
    after = await open_connections(storage)
    results = await asyncio.gather(
        *(storage.set("ns", f"after{i}", i) for i in range(100)), return_exceptions=True
    )
    succeeded = sum(1 for result in results if result is None)
    if isinstance(storage, SqliteStorage):
        with contextlib.closing(
            sqlite3.connect(storage.path, timeout=0, isolation_level=None)
        ) as other:
            other.execute("BEGIN IMMEDIATE")  # fails if radaros left its write lock held
            other.execute("ROLLBACK")
    begin = time.monotonic()
    await storage.close()
    closed_in = time.monotonic() - begin
    # Sockets a client dropped when a connect was cancelled are collected here, so that a
    # ResourceWarning lands on this test (where its cause is), not on a later one.
    gc.collect()
    report(
        f"13 {driver_name} cancellation: {cancelled}/1000 cancelled, connections {baseline} -> "
        f"{after}, {succeeded}/100 after, no transaction left open, "
        f"close {closed_in:.2f} s"
    )
    assert after <= max(baseline, 10)
    assert succeeded == 100
    assert closed_in < 2


async def open_connections(storage: StorageDriver) -> int:
    """Connections the driver holds open (pool size), where that means something."""
    if isinstance(storage, PostgresStorage) and storage._stack is not None:
        return storage._stack.get_size()
    return 0


@pytest.mark.postgres
async def test_pool_exhaustion_is_bounded(postgres: PostgresTarget) -> None:
    """Pool max 2, 50 concurrent calls while the table is locked: each ends within the acquire
    timeout + 0.2 s (or its statement timeout), with StorageConnectionError; nothing hangs."""
    table = unique_name()
    acquire_timeout, command_timeout = 0.5, 1.0
    async with PostgresStorage(
        postgres.url,
        table=table,
        max_size=2,
        acquire_timeout_s=acquire_timeout,
        command_timeout_s=command_timeout,
    ) as storage:
        await storage.set("ns", "k", 1)
        blocker = await asyncpg.connect(postgres.url)
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')

        async def timed_get() -> tuple[float, str]:
            begin = time.monotonic()
            try:
                await storage.get("ns", "k")
                return time.monotonic() - begin, "ok"
            except StorageError as exc:
                return time.monotonic() - begin, type(exc).__name__

        outcomes = await asyncio.gather(*(timed_get() for _ in range(50)))
        await transaction.rollback()
        await blocker.close()
        waited = [elapsed for elapsed, kind in outcomes]
        kinds = Counter(kind for _, kind in outcomes)
        after = await storage.get("ns", "k")
    report(
        f"14 postgres pool exhaustion: 50 calls on a pool of 2, outcomes {dict(kinds)}, "
        f"longest {max(waited):.2f} s (acquire timeout {acquire_timeout} s, statement "
        f"timeout {command_timeout} s)"
    )
    assert set(kinds) == {"StorageConnectionError"}
    assert max(waited) <= max(acquire_timeout, command_timeout) + 0.2
    assert after == 1
