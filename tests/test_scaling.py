"""Listing costs follow what matches, not the size of the store.

These compare two timings taken in the same run on the same driver (a ratio of medians),
never a time against a fixed budget, so a slow or busy machine does not decide them. What
they catch is a cost that grows with the store: a walk over 80,000 namespaces made
`namespaces(prefix)` ~650x slower on SQLite before it stopped at the prefix's bound.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import BulkWriteError

from radaros.storage import MongoDBStorage, StorageDriver
from radaros.storage.mongodb import DUPLICATE_KEY, NEVER
from tests.conftest import DRIVERS, driver_factory

pytestmark = pytest.mark.slow

OTHERS_EACH_SIDE = 40_000
MATCHING = 10
MAX_RATIO = 2.0
"""The SPEC's bound: 40,000 other namespaces on each side may cost at most 2x."""


async def median_s(call: Callable[[], Awaitable[Any]], rounds: int = 9) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def fill(storage: StorageDriver, names: list[str]) -> None:
    """One key in each namespace, a few hundred writes in flight at a time. On MongoDB the
    documents (in the driver's layout) go in one bulk insert: SecantusDB takes minutes for
    80,000 single upserts."""
    if isinstance(storage, MongoDBStorage):
        for start in range(0, len(names), 1000):  # each batch well inside the socket timeout
            documents = [
                {"ns": name, "k": "k", "v": 1, "e": NEVER, "r": 1}
                for name in names[start : start + 1000]
            ]
            try:
                await storage._live_collection().insert_many(documents, ordered=False)
            except BulkWriteError as exc:
                # A batch PyMongo retried after a timeout finds its documents already there.
                codes = {error["code"] for error in exc.details["writeErrors"]}
                if codes != {DUPLICATE_KEY}:
                    raise
        return
    for start in range(0, len(names), 250):
        chunk = names[start : start + 250]
        await asyncio.gather(*(storage.set(name, "k", 1) for name in chunk))


@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_namespaces_prefix_cost_ignores_other_namespaces(
    driver_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """namespaces(prefix) with 40,000 other namespaces before and after the prefix costs at
    most 2x what it costs alone."""
    async with driver_factory(driver_name, tmp_path, request)() as storage:
        matching = [f"m:{i:02}" for i in range(MATCHING)]
        await fill(storage, matching)
        assert await storage.namespaces("m:") == matching
        alone = await median_s(lambda: storage.namespaces("m:"))
        await fill(storage, [f"a:{i:05}" for i in range(OTHERS_EACH_SIDE)])
        await fill(storage, [f"z:{i:05}" for i in range(OTHERS_EACH_SIDE)])
        assert await storage.namespaces("m:") == matching
        crowded = await median_s(lambda: storage.namespaces("m:"))
        ratio = crowded / alone
        assert ratio <= MAX_RATIO, f"{driver_name}: {ratio:.1f}x ({alone=:.6f}s {crowded=:.6f}s)"
