"""Reliability: PostgreSQL restarted under load, and a backend kill storm.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import asyncpg
import pytest

from radaros.storage import (
    PostgresStorage,
    StorageConnectionError,
    StorageError,
)
from tests.support.drivers import (
    PostgresTarget,
    report,
    unique_name,
)
from tests.support.reliability import SCALE

pytestmark = pytest.mark.slow


# -- 6, 7: PostgreSQL restart under load and backend kill storm --------------------------------


@pytest.mark.postgres
async def test_postgres_restart_under_load(restartable_postgres: Any) -> None:
    """2 instances x 8 tasks for 20 s, server restarted at 8 s: bounded failures, fast recovery,
    nothing acknowledged lost, the same driver objects keep serving."""
    server = restartable_postgres
    command_timeout = 2.0
    duration, restart_at = 20.0 * SCALE, 8.0
    table = unique_name()
    instances = [
        PostgresStorage(
            server.url,
            table=table,
            command_timeout_s=command_timeout,
            acquire_timeout_s=command_timeout,
            connect_timeout_s=command_timeout,
        )
        for _ in range(2)
    ]
    for instance in instances:
        await instance.initialize()
    acknowledged: dict[str, int] = {}
    failures: Counter[str] = Counter()
    longest = 0.0
    successes_after: list[float] = []
    accepting_at: list[float] = []
    started = time.monotonic()

    async def load(instance: PostgresStorage, task: int) -> None:
        nonlocal longest
        n = 0
        while time.monotonic() - started < duration:
            key = f"{id(instance)}-{task}-{n}"
            begin = time.monotonic()
            try:
                await instance.set("ns", key, n)
                acknowledged[key] = n
                if accepting_at and begin >= accepting_at[0]:
                    successes_after.append(time.monotonic())
            except StorageConnectionError:
                failures["StorageConnectionError"] += 1
                await asyncio.sleep(0.01)
            except Exception as exc:  # anything else is a defect: counted, asserted below
                failures[type(exc).__name__] += 1
            longest = max(longest, time.monotonic() - begin)
            n += 1

    async def restart() -> None:
        await asyncio.sleep(restart_at)
        await asyncio.to_thread(server.stop, "immediate")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)  # returns once the server accepts connections
        accepting_at.append(time.monotonic())

    await asyncio.gather(restart(), *(load(i, t) for i in instances for t in range(8)))
    recovery = (min(successes_after) - accepting_at[0]) if successes_after else float("inf")
    stored = await instances[0].get_many("ns", list(acknowledged))
    lost = sum(1 for (key, n), got in zip(acknowledged.items(), stored, strict=True) if got != n)
    for instance in instances:
        await instance.close()
    report(
        f"6 postgres restart under load: {len(acknowledged)} acknowledged, {lost} lost, "
        f"failures {dict(failures)}, longest call {longest:.2f} s (timeout {command_timeout} s), "
        f"first success {recovery:.2f} s after the server accepted connections"
    )
    assert set(failures) <= {"StorageConnectionError"}
    assert longest <= command_timeout * 2 + 1.0  # acquire + statement, each bounded
    assert recovery <= 2.0
    assert lost == 0


@pytest.mark.postgres
async def test_postgres_backend_kill_storm(postgres: PostgresTarget) -> None:
    """pg_terminate_backend on radaros' connections every 300 ms for 5 s: no hang, pool bounded,
    100 operations succeed right after."""
    application = unique_name("storm")
    max_size = 4
    storage = PostgresStorage(
        postgres.url,
        table=unique_name(),
        max_size=max_size,
        command_timeout_s=2,
        acquire_timeout_s=2,
        application_name=application,
    )
    await storage.initialize()
    admin = await asyncpg.connect(postgres.url)
    stop = time.monotonic() + 5.0 * SCALE
    most_backends = 0
    outcomes: Counter[str] = Counter()
    longest = 0.0

    async def storm() -> None:
        nonlocal most_backends
        while time.monotonic() < stop:
            rows = await admin.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application
            )
            most_backends = max(most_backends, len(rows))
            for row in rows:
                await admin.execute("SELECT pg_terminate_backend($1)", row["pid"])
            await asyncio.sleep(0.3)

    async def load(task: int) -> None:
        nonlocal longest
        n = 0
        while time.monotonic() < stop:
            begin = time.monotonic()
            try:
                await storage.update("ns", f"k{task % 3}", lambda v: (v or 0) + 1)
                outcomes["ok"] += 1
            except StorageError as exc:
                outcomes[type(exc).__name__] += 1
            longest = max(longest, time.monotonic() - begin)
            n += 1

    await asyncio.gather(storm(), *(load(task) for task in range(8)))
    after = await asyncio.gather(
        *(storage.get("ns", "k0") for _ in range(100)), return_exceptions=True
    )
    succeeded_after = sum(1 for result in after if not isinstance(result, BaseException))
    await admin.close()
    await storage.close()
    report(
        f"7 postgres kill storm: outcomes {dict(outcomes)}, longest call {longest:.2f} s, "
        f"most backends {most_backends}/{max_size}, {succeeded_after}/100 right after"
    )
    assert set(outcomes) <= {"ok", "StorageConnectionError"}
    assert longest <= 2 * 2 + 1.0
    assert most_backends <= max_size
    assert succeeded_after == 100
