"""Where a MongoDB point read and write spend their time: radaros's `get` and `set` beside
PyMongo's `find_one` and `update_one` in the shapes that separate them from the simplest
code, on one server.

    python -m benchmarks.mongo_lookups [--rounds 5] [--ops 200]

`RADAROS_BENCH_MONGODB_URL` picks the server; otherwise a SecantusDB server is started.
Shapes, each on a collection of 1,000 documents:

- radaros `get` (its document: `_id` = namespace NUL key, `ns`, `k`, `e`, `r`, the value);
- `find_one({_id})` on radaros's collection, the whole document: what `get` sends;
- `find_one({ns, k, e > now})`: the query radaros 0.2 sent, through the `(ns, k, e)` index;
- `find_one({_id})` on a collection keyed by `_id` holding only the value (the simplest);
- radaros `set` of an existing key; `update_one` by `_id` with radaros's update (the value,
  the expiry, `$inc` of the revision, `$unset` of the other form, `$setOnInsert` of `ns` and
  `k`); the simplest `$set` of the value; the simplest with the expiry, revision and unset
  added (on the simplest collection: only the `_id` index).

Shapes run interleaved, in a new order each round; prints the median latency of each.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from radaros.storage import MongoDBStorage

VALUE = {"role": "assistant", "content": "The quick brown fox jumps over the lazy dog."}
FIELDS = {"_id": 1, "k": 1, "v": 1, "j": 1, "r": 1, "e": 1}
NEVER = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)


async def measure(url: str, rounds: int, ops: int) -> dict[str, float]:
    from pymongo import AsyncMongoClient

    async with MongoDBStorage(url, collection="bench_lookups") as storage:
        await storage.set_many("ns", {f"k{i}": VALUE for i in range(1000)})
        collection = storage._live_collection()
        client: Any = AsyncMongoClient(url)
        simplest = client["bench"]["bench_lookups_simplest"]
        await simplest.drop()
        await simplest.insert_many([{"_id": f"k{i}", "v": VALUE} for i in range(1000)])
        now = dt.datetime.now(dt.timezone.utc)
        shapes: dict[str, Callable[[], Awaitable[Any]]] = {
            "radaros get": lambda: storage.get("ns", "k500"),
            "find_one {_id} (radaros's)": lambda: collection.find_one({"_id": "ns\x00k500"}),
            "find_one {ns, k, e > now}": lambda: collection.find_one(
                {"ns": "ns", "k": "k500", "e": {"$gt": now}}, FIELDS
            ),
            "find_one {_id} (simplest)": lambda: simplest.find_one({"_id": "k500"}),
            "radaros set": lambda: storage.set("ns", "k501", VALUE),
            "update_one {_id} (radaros's)": lambda: collection.update_one(
                {"_id": "ns\x00k502"},
                {
                    "$set": {"v": VALUE, "e": NEVER},
                    "$unset": {"j": ""},
                    "$inc": {"r": 1},
                    "$setOnInsert": {"ns": "ns", "k": "k502"},
                },
                upsert=True,
            ),
            "update_one $set v (simplest)": lambda: simplest.update_one(
                {"_id": "k503"}, {"$set": {"v": VALUE}}, upsert=True
            ),
            "simplest + e, r, unset": lambda: simplest.update_one(
                {"_id": "k504"},
                {"$set": {"v": VALUE, "e": NEVER}, "$unset": {"j": ""}, "$inc": {"r": 1}},
                upsert=True,
            ),
        }
        latencies: dict[str, list[float]] = {name: [] for name in shapes}
        for _ in range(rounds):
            for name, call in random.sample(list(shapes.items()), len(shapes)):
                started = time.perf_counter()
                for _ in range(ops):
                    await call()
                latencies[name].append((time.perf_counter() - started) / ops * 1e6)
        await simplest.drop()
        await client.close()
        await collection.drop()
    return {name: statistics.median(values) for name, values in latencies.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=200)
    args = parser.parse_args()
    url = os.environ.get("RADAROS_BENCH_MONGODB_URL")
    server = None
    if url is None:
        from tests.support.servers import SecantusServer

        server = SecantusServer()
        url = server.url + "bench"
    try:
        figures = asyncio.run(measure(url, args.rounds, args.ops))
    finally:
        if server is not None:
            server.close()
    for name, microseconds in figures.items():
        print(f"{name:28} {microseconds:8.1f} µs")


if __name__ == "__main__":
    main()
