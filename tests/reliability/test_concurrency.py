"""Reliability: Exactly-once add, no lost update, concurrent initialize.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from radaros.storage import (
    open_storage,
)
from tests.support.drivers import (
    SERVER_DRIVERS,
    report,
)
from tests.support.reliability import SCALE, URL_DRIVERS, shared_url
from tests.support.workers_spawn import spawn_workers

pytestmark = pytest.mark.slow


# -- 3, 4, 9: exactly-once add, no lost update, concurrent initialize -------------------------


@pytest.mark.parametrize("driver", URL_DRIVERS)
async def test_add_is_exactly_once_even_over_expired_entries(
    driver: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """200 keys x 16 contenders, half of the keys holding an expired entry: one True per key."""
    url, options = shared_url(driver, tmp_path, request)
    keys = 200 * SCALE
    async with open_storage(url, **options) as storage:
        await storage.set_many("workers", {f"key{i}": "old" for i in range(0, keys, 2)}, ttl=0.3)
        await asyncio.sleep(0.5)
    if driver == "sqlite":  # 4 processes x 4 tasks
        results = await asyncio.to_thread(
            spawn_workers, "add", url, 4, count=keys, tasks=4, options=json.dumps(options)
        )
        winners = [key for result in results for key in result["won"]]
    else:  # 8 instances x 2 tasks, in this process
        instances = [open_storage(url, **options) for _ in range(8)]
        for instance in instances:
            await instance.initialize()
        attempts = [(f"key{i}", instance) for i in range(keys) for instance in instances * 2]
        random.shuffle(attempts)
        won = await asyncio.gather(*(instance.add("workers", key, 1) for key, instance in attempts))
        winners = [key for (key, _), is_winner in zip(attempts, won, strict=True) if is_winner]
        for instance in instances:
            await instance.close()
    per_key = Counter(winners)
    unwon = sum(1 for i in range(keys) if per_key[f"key{i}"] == 0)
    won_twice = sum(1 for i in range(keys) if per_key[f"key{i}"] > 1)
    report(
        f"3 {driver} exactly-once add: {keys} keys x 16 contenders, "
        f"{unwon} keys without a True, {won_twice} with more than one"
    )
    assert (unwon, won_twice) == (0, 0)


@pytest.mark.parametrize("driver", SERVER_DRIVERS)
async def test_no_lost_update_from_eight_instances(
    driver: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """8 instances x 100 concurrent update(+1) and 8 x 100 appends: exact totals."""
    url, options = shared_url(driver, tmp_path, request)
    per_instance = 100 * SCALE
    instances = [open_storage(url, **options) for _ in range(8)]
    for instance in instances:
        await instance.initialize()
    started = time.monotonic()
    await asyncio.gather(
        *(
            instance.update("ns", "counter", lambda v: (v or 0) + 1)
            for instance in instances
            for _ in range(per_instance)
        )
    )
    await asyncio.gather(
        *(
            instance.append("ns", "log", [f"{index}-{n}"])
            for index, instance in enumerate(instances)
            for n in range(per_instance)
        )
    )
    elapsed = time.monotonic() - started
    counter = await instances[0].get("ns", "counter")
    log = await instances[0].get("ns", "log")
    for instance in instances:
        await instance.close()
    report(
        f"4 {driver} no lost update: counter {counter}/{8 * per_instance}, "
        f"{len(set(log))} unique items/{8 * per_instance}, {elapsed:.1f} s"
    )
    assert counter == 8 * per_instance
    assert len(log) == len(set(log)) == 8 * per_instance


@pytest.mark.parametrize("driver", URL_DRIVERS)
def test_concurrent_initialize_from_eight_processes(
    driver: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """8 processes initialize a fresh file/table/collection at one instant, 10 rounds."""
    rounds = 10 * SCALE
    errors = 0
    for round_ in range(rounds):
        if driver == "sqlite":
            url, options = f"sqlite:///{tmp_path}/init{round_}.db", dict[str, Any]()
        else:
            url, options = shared_url(driver, tmp_path, request)
        results = spawn_workers("initialize", url, 8, options=json.dumps(options))
        errors += sum(len(result["errors"]) for result in results)

        async def count(url: str = url, options: dict[str, Any] = options) -> int:
            async with open_storage(url, **options) as storage:
                return await storage.count("workers")

        assert asyncio.run(count()) == 8
    report(f"9 {driver} concurrent initialize: 8 processes x {rounds} rounds, {errors} errors")
    assert errors == 0
