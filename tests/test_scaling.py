"""Listing namespaces costs what matches, not the size of the store.

The cost is counted by the engine itself, so a slow or busy machine cannot decide these
tests: SQLite's virtual-machine steps (a progress handler called on every instruction) and
the rows PostgreSQL's executor touches (`EXPLAIN ANALYZE`). What they catch is a walk over
every namespace: it made `namespaces(prefix)` ~650x slower on SQLite with 80,000 other
namespaces before the walk stopped at the prefix's bound. The same comparison in wall-clock
time, on every driver, is `python -m benchmarks.scaling`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from radaros.storage import PostgresStorage, SqliteStorage, StorageDriver
from radaros.storage.validate import prefix_upper_bound
from tests.support.drivers import PostgresTarget, unique_name

pytestmark = pytest.mark.slow

OTHERS_EACH_SIDE = 40_000
MATCHING = [f"m:{i:02}" for i in range(10)]
OTHERS = [f"a:{i:05}" for i in range(OTHERS_EACH_SIDE)] + [
    f"z:{i:05}" for i in range(OTHERS_EACH_SIDE)
]
MAX_RATIO = 2.0
"""The SPEC's bound: 40,000 other namespaces on each side may cost at most 2x."""


async def fill(storage: StorageDriver, names: list[str]) -> None:
    """One key in each namespace, 250 writes in flight at a time."""
    for start in range(0, len(names), 250):
        await asyncio.gather(*(storage.set(name, "k", 1) for name in names[start : start + 250]))


async def test_sqlite_namespaces_prefix_steps_ignore_other_namespaces(tmp_path: Path) -> None:
    path = tmp_path / "radaros.db"

    def steps(statements: Any) -> int:
        connection = sqlite3.connect(path)
        counter = [0]

        def count() -> int:
            counter[0] += 1
            return 0

        connection.set_progress_handler(count, 1)
        upper = prefix_upper_bound("m:")
        rows = connection.execute(statements.namespaces, ("m:", upper, upper, time.time()))
        assert [row[0] for row in rows] == MATCHING
        connection.close()
        return counter[0]

    async with SqliteStorage(path) as storage:
        await fill(storage, MATCHING)
        alone = steps(storage.statements)
        await fill(storage, OTHERS)
        assert await storage.namespaces("m:") == MATCHING
        crowded = steps(storage.statements)
    assert crowded <= MAX_RATIO * alone, f"{alone=} {crowded=} virtual-machine steps"


def rows_touched(node: dict[str, Any]) -> int:
    """Rows every node of an `EXPLAIN (ANALYZE, FORMAT JSON)` plan produced or filtered out."""
    own = node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0)
    return int(own) + sum(rows_touched(child) for child in node.get("Plans", []))


@pytest.mark.postgres
async def test_postgres_namespaces_prefix_rows_ignore_other_namespaces(
    postgres: PostgresTarget,
) -> None:
    import asyncpg

    table = unique_name()
    async with PostgresStorage(postgres.url, table=table) as storage:
        connection = await asyncpg.connect(postgres.url)
        try:

            async def touched() -> int:
                sql = storage.statements.namespaces
                explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"
                plan = await connection.fetchval(explain, "m:", prefix_upper_bound("m:"))
                return rows_touched(json.loads(plan)[0]["Plan"])

            await fill(storage, MATCHING)
            alone = await touched()
            await fill(storage, OTHERS)
            await connection.execute(f'ANALYZE "{table}"')  # the planner sees the big table
            assert await storage.namespaces("m:") == MATCHING
            crowded = await touched()
        finally:
            await connection.close()
    assert crowded <= MAX_RATIO * alone, f"{alone=} {crowded=} rows touched"
