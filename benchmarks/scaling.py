"""namespaces(prefix) alone and among 80,000 other namespaces, in wall-clock time.

    python -m benchmarks.scaling [--drivers memory,sqlite,postgres,mongodb,redis]

Each driver: 10 matching namespaces, the median of 9 calls; then 40,000 other namespaces on
each side of the prefix and the median again. Prints the ratio crowded / alone (the SPEC's
bound is 2x). The tests count the engines' own work instead (tests/test_scaling.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

from radaros.storage import (
    InMemoryStorage,
    MongoDBStorage,
    PostgresStorage,
    RedisStorage,
    SqliteStorage,
    StorageDriver,
)

MATCHING = [f"m:{i:02}" for i in range(10)]
OTHERS = [f"{side}:{i:05}" for side in "az" for i in range(40_000)]


@contextlib.asynccontextmanager
async def open_driver(
    name: str, folder: Path
) -> AsyncIterator[tuple[StorageDriver, Callable[[], StorageDriver]]]:
    """`name` on a server of its own (the test suite's helpers start them), opened, and a
    factory of more (unopened) instances on the same data (memory: a new store each)."""
    from tests.support import servers

    server: Any = None
    make: Callable[[], StorageDriver]
    try:
        if name == "memory":
            make = InMemoryStorage
        elif name == "sqlite":
            make = partial(SqliteStorage, folder / "bench.db")
        elif name == "postgres":
            server = servers.EmbeddedPostgres()
            make = partial(PostgresStorage, server.url, table="bench")
        elif name == "mongodb":
            server = servers.SecantusServer()
            make = partial(MongoDBStorage, server.url, database="bench", collection="bench")
        elif name == "redis":
            server = servers.RedisServer(extra=["--appendfsync", "everysec"])
            make = partial(RedisStorage, server.url)
        else:
            raise SystemExit(f"unknown driver {name}")
        async with make() as storage:
            yield storage, make
    finally:
        if server is not None:
            server.close()


async def fill(storage: StorageDriver, names: list[str]) -> None:
    for start in range(0, len(names), 250):
        await asyncio.gather(*(storage.set(name, "k", 1) for name in names[start : start + 250]))


async def median_s(storage: StorageDriver, rounds: int = 9) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert await storage.namespaces("m:") == MATCHING
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def measure(name: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        async with open_driver(name, Path(folder)) as (storage, _):
            await fill(storage, MATCHING)
            alone = await median_s(storage)
            await fill(storage, OTHERS)
            return alone, await median_s(storage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--drivers", default="memory,sqlite,postgres,mongodb,redis")
    args = parser.parse_args()
    print(f"{'driver':10} {'alone ms':>9} {'crowded ms':>11} {'ratio':>6}")
    for name in args.drivers.split(","):
        print(f"# {name}: filling", file=sys.stderr, flush=True)
        alone, crowded = asyncio.run(measure(name))
        print(f"{name:10} {alone * 1000:9.3f} {crowded * 1000:11.3f} {crowded / alone:5.2f}x")


if __name__ == "__main__":
    main()
