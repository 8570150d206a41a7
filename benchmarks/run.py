"""radaros benchmarks: each driver against a raw client doing the same work, in one run.

Committed results (docs/performance.md, benchmarks/results/latest.json) came from:

    python -m benchmarks.run --rounds 3 --json benchmarks/results/latest.json

Options: `--drivers memory,sqlite,postgres,mongodb,redis`, `--workloads set,get,...`,
`--big-keys 1000000` (keys in the large namespace for list/scan), `--quick` (small counts).

Every workload runs for radaros and for a baseline adapter that issues the same statements
through the raw client (and, where installed, peers such as aiosqlite and diskcache). Rounds
interleave the implementations; the table shows medians over rounds, and the ratio is the
median of per-round ratios radaros / baseline (> 1 means radaros is faster). These machines
switch CPU speed by about 2x, so only ratios from one run are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import queue
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchmarks.scan_probe import measure_scan
from radaros.storage import (
    InMemoryStorage,
    MongoDBStorage,
    PostgresStorage,
    RedisStorage,
    SqliteStorage,
    StorageDriver,
)
from radaros.storage.sqlite import Statements as SqliteStatements
from radaros.storage.validate import prefix_upper_bound

NS = "bench"
LOAD_BATCH = 1000
SURROGATE_LIMITS = {  # workloads SecantusDB cannot serve in useful time (not radaros limits)
    "get_many_1000": "SecantusDB answers a 1000-value $in slower than the 30 s socket timeout "
    "(real MongoDB serves it from the (ns, k) index)",
    "list_100_of_10k": "SecantusDB reads every document of the namespace for a key range "
    "(about 1 s per call at 10k keys; real MongoDB reads 100 index entries)",
    "list_100_of_big": "as list_100_of_10k",
}
VALUE = {
    "role": "assistant",
    "content": "The quick brown fox jumps over the lazy dog.",
    "n": 7,
    "tags": ["a", "b"],
    "score": 0.75,
}


class Adapter(Protocol):
    """The operations every workload uses, for radaros and for each raw baseline."""

    name: str

    async def set(self, key: str, value: Any) -> None: ...
    async def get(self, key: str) -> Any: ...
    async def set_many(self, items: dict[str, Any]) -> None: ...
    async def get_many(self, keys: list[str]) -> list[Any]: ...
    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]: ...
    async def increment(self, key: str) -> Any: ...
    async def append(self, key: str, items: list[Any]) -> int: ...
    async def add(self, key: str, value: Any) -> bool: ...


@dataclass
class Sample:
    driver: str
    workload: str
    implementation: str
    round: int
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    extra: dict[str, Any] = field(default_factory=dict)


# -- radaros -----------------------------------------------------------------------------------


class RadarosAdapter:
    def __init__(self, storage: StorageDriver) -> None:
        self.storage = storage
        self.name = "radaros"

    async def set(self, key: str, value: Any) -> None:
        await self.storage.set(NS, key, value)

    async def get(self, key: str) -> Any:
        return await self.storage.get(NS, key)

    async def set_many(self, items: dict[str, Any]) -> None:
        await self.storage.set_many(NS, items)

    async def get_many(self, keys: list[str]) -> list[Any]:
        return await self.storage.get_many(NS, keys)

    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]:
        return [(e.key, e.value) for e in await self.storage.list(namespace, prefix)]

    async def increment(self, key: str) -> Any:
        return await self.storage.update(NS, key, lambda v: (v or 0) + 1)

    async def append(self, key: str, items: list[Any]) -> int:
        return await self.storage.append(NS, key, items)

    async def add(self, key: str, value: Any) -> bool:
        return await self.storage.add(NS, key, value)


# -- memory baseline: a dict of JSON text behind async def -------------------------------------


class DictOfJson:
    """A dict per namespace of JSON text: what a hand-written in-memory store would be."""

    name = "raw dict+json"

    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}

    async def set(self, key: str, value: Any) -> None:
        self.data.setdefault(NS, {})[key] = json.dumps(value)

    async def get(self, key: str) -> Any:
        raw = self.data.get(NS, {}).get(key)
        return None if raw is None else json.loads(raw)

    async def set_many(self, items: dict[str, Any]) -> None:
        space = self.data.setdefault(NS, {})
        for key, value in items.items():
            space[key] = json.dumps(value)

    async def get_many(self, keys: list[str]) -> list[Any]:
        return [await self.get(key) for key in keys]

    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]:
        space = self.data.get(namespace, {})
        return sorted((k, json.loads(raw)) for k, raw in space.items() if k.startswith(prefix))

    async def increment(self, key: str) -> Any:
        value = (await self.get(key) or 0) + 1
        await self.set(key, value)
        return value

    async def append(self, key: str, items: list[Any]) -> int:
        value = (await self.get(key) or []) + items
        await self.set(key, value)
        return len(value)

    async def add(self, key: str, value: Any) -> bool:
        if key in self.data.get(NS, {}):
            return False
        await self.set(key, value)
        return True


# -- SQLite baseline: stdlib sqlite3 on one worker thread, same pragmas and SQL ----------------


class SqliteThread:
    """One thread, one connection, one statement per job, answered via call_soon_threadsafe."""

    name = "raw sqlite3 thread"

    def __init__(self, path: str) -> None:
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.path = path
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        while True:
            job = self.jobs.get()
            if job is None:
                connection.close()
                return
            work, write, loop, future = job
            try:
                if write:
                    connection.execute("BEGIN IMMEDIATE")
                    result = work(connection)
                    connection.execute("COMMIT")
                else:
                    result = work(connection)
            except Exception as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                loop.call_soon_threadsafe(future.set_exception, exc)
            else:
                loop.call_soon_threadsafe(future.set_result, result)

    async def run(self, work: Callable[[sqlite3.Connection], Any], write: bool) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((work, write, loop, future))
        return await future

    async def set(self, key: str, value: Any) -> None:
        raw = json.dumps(value)
        await self.run(lambda c: c.execute(SQL.put, (NS, key, raw, None)), True)

    async def get(self, key: str) -> Any:
        row = await self.run(lambda c: c.execute(SQL.get, (NS, key, time.time())).fetchone(), False)
        return None if row is None else json.loads(row[0])

    async def set_many(self, items: dict[str, Any]) -> None:
        rows = [(NS, key, json.dumps(value), None) for key, value in items.items()]
        await self.run(lambda c: c.executemany(SQL.put, rows), True)

    async def get_many(self, keys: list[str]) -> list[Any]:
        sql = SQL.get_many(len(keys))
        rows = await self.run(lambda c: c.execute(sql, (NS, time.time(), *keys)).fetchall(), False)
        found = dict(rows)
        return [json.loads(found[key]) if key in found else None for key in keys]

    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]:
        sql, params = SQL.page(namespace, prefix, prefix_upper_bound(prefix), None, None, False)
        rows = await self.run(lambda c: c.execute(sql, (time.time(), *params)).fetchall(), False)
        return [(row[0], json.loads(row[1])) for row in rows]

    async def increment(self, key: str) -> Any:
        def work(connection: sqlite3.Connection) -> Any:
            row = connection.execute(SQL.get, (NS, key, time.time())).fetchone()
            value = (json.loads(row[0]) if row else 0) + 1
            connection.execute(SQL.put, (NS, key, json.dumps(value), None))
            return value

        return await self.run(work, True)

    async def append(self, key: str, items: list[Any]) -> int:
        def work(connection: sqlite3.Connection) -> int:
            row = connection.execute(SQL.get, (NS, key, time.time())).fetchone()
            value = (json.loads(row[0]) if row else []) + items
            connection.execute(SQL.put, (NS, key, json.dumps(value), None))
            return len(value)

        return int(await self.run(work, True))

    async def add(self, key: str, value: Any) -> bool:
        raw = json.dumps(value)
        now = time.time()
        return bool(
            await self.run(lambda c: c.execute(SQL.add, (NS, key, raw, None, now)).rowcount, True)
        )

    async def close(self) -> None:
        self.jobs.put(None)


SQL = SqliteStatements("radaros_kv")  # the very statements SqliteStorage sends


class AiosqlitePeer(SqliteThread):
    """aiosqlite with the same SQL and pragmas (a peer, where installed)."""

    name = "aiosqlite"

    def __init__(self, path: str) -> None:  # no worker thread of our own: aiosqlite has one
        self.path = path
        self.connection: Any = None

    async def open(self) -> None:
        import aiosqlite

        self.connection = await aiosqlite.connect(self.path, isolation_level=None)
        await self.connection.execute("PRAGMA journal_mode=WAL")
        await self.connection.execute("PRAGMA synchronous=FULL")

    async def run(self, work: Callable[[sqlite3.Connection], Any], write: bool) -> Any:
        # aiosqlite's public API is statement-by-statement; run the same work on its thread.
        def job() -> Any:
            raw_connection = self.connection._conn
            if write:
                raw_connection.execute("BEGIN IMMEDIATE")
                try:
                    result = work(raw_connection)
                except Exception:
                    raw_connection.execute("ROLLBACK")
                    raise
                raw_connection.execute("COMMIT")
                return result
            return work(raw_connection)

        return await self.connection._execute(job)

    async def close(self) -> None:
        await self.connection.close()


class DiskcachePeer:
    """diskcache.Cache (synchronous, SQLite-backed), called directly from async def."""

    name = "diskcache (sync)"

    def __init__(self, path: str) -> None:
        import diskcache

        self.cache = diskcache.Cache(path)

    async def set(self, key: str, value: Any) -> None:
        self.cache.set((NS, key), json.dumps(value))

    async def get(self, key: str) -> Any:
        raw = self.cache.get((NS, key))
        return None if raw is None else json.loads(raw)

    async def close(self) -> None:
        self.cache.close()


# -- PostgreSQL baseline: raw asyncpg, same pool options and statements ------------------------


class AsyncpgRaw:
    name = "raw asyncpg"

    def __init__(self, pool: Any, storage: PostgresStorage) -> None:
        self.pool = pool
        self.sql = storage.statements  # the very statements the driver sends

    async def set(self, key: str, value: Any) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute(self.sql.put, NS, key, json.dumps(value), None)

    async def get(self, key: str) -> Any:
        async with self.pool.acquire() as connection:
            raw = await connection.fetchval(self.sql.get, NS, key)
        return None if raw is None else json.loads(raw)

    async def set_many(self, items: dict[str, Any]) -> None:
        keys = list(items)
        raws = [json.dumps(value) for value in items.values()]
        async with self.pool.acquire() as connection:
            await connection.execute(self.sql.put_many, NS, keys, raws, None)

    async def get_many(self, keys: list[str]) -> list[Any]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(self.sql.get_many, NS, keys)
        found = {row[0]: row[1] for row in rows}
        return [json.loads(found[key]) if key in found else None for key in keys]

    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]:
        sql, args = self.sql.page(namespace, prefix, prefix_upper_bound(prefix), None, None, False)
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(sql, *args)
        return [(row[0], json.loads(row[1])) for row in rows]

    async def transform(self, key: str, change: Callable[[Any], Any]) -> Any:
        """The same compare-and-swap the driver does: read, change, write if unchanged."""
        while True:
            async with self.pool.acquire() as connection:
                raw = await connection.fetchval(self.sql.get, NS, key)
                value = change(json.loads(raw) if raw else None)
                if raw is None:
                    done = await connection.fetchval(self.sql.add, NS, key, json.dumps(value), None)
                else:
                    done = await connection.fetchval(
                        self.sql.replace_keep_expiry, NS, key, raw, json.dumps(value)
                    )
            if done is not None:
                return value

    async def increment(self, key: str) -> Any:
        return await self.transform(key, lambda v: (v or 0) + 1)

    async def append(self, key: str, items: list[Any]) -> int:
        return len(await self.transform(key, lambda v: (v or []) + items))

    async def add(self, key: str, value: Any) -> bool:
        async with self.pool.acquire() as connection:
            return (
                await connection.fetchval(self.sql.add, NS, key, json.dumps(value), None)
                is not None
            )


# -- MongoDB baseline: raw PyMongo async, same filters ------------------------------------------


class PymongoRaw:
    """PyMongo sending the driver's own commands: point operations by `_id` (namespace,
    NUL, key), ranges on `(ns, k, e)`."""

    name = "raw pymongo"

    def __init__(self, collection: Any) -> None:
        import datetime

        # As the driver reads: aware datetimes, whatever the client's codec says.
        codec = collection.codec_options.with_options(tz_aware=True, tzinfo=datetime.timezone.utc)
        self.collection = collection.with_options(codec_options=codec)
        self.never = datetime.datetime(9999, 12, 31, tzinfo=datetime.timezone.utc)

    def now(self) -> Any:
        import datetime

        return datetime.datetime.now(datetime.timezone.utc)

    @staticmethod
    def id(key: str) -> str:
        return f"{NS}\x00{key}"

    def change(self, key: str, value: Any) -> dict[str, Any]:
        return {
            "$set": {"v": value, "e": self.never},
            "$unset": {"j": ""},
            "$inc": {"r": 1},
            "$setOnInsert": {"ns": NS, "k": key},
        }

    async def set(self, key: str, value: Any) -> None:
        await self.collection.update_one(
            {"_id": self.id(key)}, self.change(key, value), upsert=True
        )

    async def get(self, key: str) -> Any:
        document = await self.collection.find_one({"_id": self.id(key)})
        return None if document is None or document["e"] <= self.now() else document.get("v")

    async def set_many(self, items: dict[str, Any]) -> None:
        from pymongo import UpdateOne

        await self.collection.bulk_write(
            [
                UpdateOne({"_id": self.id(key)}, self.change(key, value), upsert=True)
                for key, value in items.items()
            ],
            ordered=True,
        )

    async def get_many(self, keys: list[str]) -> list[Any]:
        now = self.now()
        cursor = self.collection.find({"_id": {"$in": [self.id(key) for key in keys]}})
        found = {
            document["k"]: document.get("v") async for document in cursor if document["e"] > now
        }
        return [found.get(key) for key in keys]

    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]:
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        cursor = self.collection.find(
            {"ns": namespace, "e": {"$gt": self.now()}, "k": {"$gte": prefix, "$lt": upper}},
            sort=[("k", 1)],
            hint="ns_k_e",
        )
        return [(document["k"], document.get("v")) async for document in cursor]

    async def transform(self, key: str, change: Callable[[Any], Any]) -> Any:
        """The driver's compare-and-swap: on _id and revision, or an upsert over expired."""
        from pymongo.errors import DuplicateKeyError

        while True:
            document = await self.collection.find_one(
                {"_id": self.id(key)}, {"v": 1, "r": 1, "e": 1}
            )
            if document is not None and document["e"] <= self.now():
                document = None
            value = change(document["v"] if document else None)
            if document is None:
                try:
                    await self.collection.update_one(
                        {"_id": self.id(key), "e": {"$lte": self.now()}},
                        self.change(key, value),
                        upsert=True,
                    )
                    return value
                except DuplicateKeyError:
                    continue
            result = await self.collection.update_one(
                {"_id": document["_id"], "r": document["r"], "e": {"$gt": self.now()}},
                {"$set": {"v": value}, "$inc": {"r": 1}},
            )
            if result.modified_count:
                return value

    async def increment(self, key: str) -> Any:
        return await self.transform(key, lambda v: (v or 0) + 1)

    async def append(self, key: str, items: list[Any]) -> int:
        return len(await self.transform(key, lambda v: (v or []) + items))

    async def add(self, key: str, value: Any) -> bool:
        from pymongo.errors import DuplicateKeyError

        try:
            await self.collection.update_one(
                {"_id": self.id(key), "e": {"$lte": self.now()}},
                self.change(key, value),
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True


# -- measuring -----------------------------------------------------------------------------------


async def timed(
    operations: Sequence[Callable[..., Awaitable[Any]]], concurrency: int
) -> tuple[float, list[float]]:
    """Run the operations with `concurrency` workers; (ops per second, latencies in s)."""
    latencies: list[float] = []
    pending = iter(operations)

    async def worker() -> None:
        for operation in pending:
            started = time.perf_counter()
            await operation()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(operations) / (time.perf_counter() - started), latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Workload:
    name: str
    description: str
    run: Callable[[Adapter, str], Awaitable[tuple[float, list[float], dict[str, Any]]]]
    needs: tuple[str, ...] = ("set",)


def make_workloads(counts: dict[str, int]) -> list[Workload]:
    n = counts["ops"]

    async def seq_set(a: Adapter, r: str) -> Any:
        ops = [lambda i=i: a.set(f"s{r}:{i % 500}", {**VALUE, "n": i}) for i in range(n)]
        return (*await timed(ops, 1), {})

    async def seq_get(a: Adapter, r: str) -> Any:
        ops = [lambda i=i: a.get(f"warm:{i % 500}") for i in range(n * 2)]
        return (*await timed(ops, 1), {})

    async def set16(a: Adapter, r: str) -> Any:
        ops = [lambda i=i: a.set(f"c{r}:{i % 500}", {**VALUE, "n": i}) for i in range(n * 2)]
        return (*await timed(ops, 16), {})

    async def get16(a: Adapter, r: str) -> Any:
        ops = [lambda i=i: a.get(f"warm:{i % 500}") for i in range(n * 2)]
        return (*await timed(ops, 16), {})

    async def set_many(a: Adapter, r: str) -> Any:
        batches = counts["batches"]
        ops = [
            lambda b=b: a.set_many({f"m{r}:{b}:{i}": {**VALUE, "n": i} for i in range(1000)})
            for b in range(batches)
        ]
        rate, latencies = await timed(ops, 1)
        return rate * 1000, latencies, {"unit": "items/s"}

    async def get_many(a: Adapter, r: str) -> Any:
        keys = [f"warm:{i}" for i in range(1000)]
        ops = [lambda: a.get_many(keys) for _ in range(counts["batches"] * 2)]
        rate, latencies = await timed(ops, 1)
        return rate * 1000, latencies, {"unit": "items/s"}

    async def list_small(a: Adapter, r: str) -> Any:
        ops = [
            lambda i=i: a.list_prefix("small", f"p{i % 100:03}:") for i in range(counts["lists"])
        ]
        return (*await timed(ops, 1), {"entries": 100, "namespace_keys": 10_000})

    async def list_big(a: Adapter, r: str) -> Any:
        groups = counts["big_keys"] // 100
        step = max(1, groups // 100)
        ops = [
            lambda i=i: a.list_prefix("big", f"p{(i * step) % groups:05}:")
            for i in range(counts["lists"])
        ]
        return (*await timed(ops, 1), {"entries": 100, "namespace_keys": counts["big_keys"]})

    async def update16(a: Adapter, r: str) -> Any:
        ops = [lambda: a.increment(f"counter{r}") for _ in range(counts["contended"])]
        return (*await timed(ops, 16), {})

    async def append16(a: Adapter, r: str) -> Any:
        ops = [lambda i=i: a.append(f"log{r}", [{"turn": i}]) for i in range(counts["contended"])]
        return (*await timed(ops, 16), {})

    async def add_race(a: Adapter, r: str) -> Any:
        ops = [lambda i=i: a.add(f"race{r}:{i // 16}", i) for i in range(counts["contended"])]
        return (*await timed(ops, 16), {})

    return [
        Workload("set", "sequential set of a small JSON value", seq_set),
        Workload("get", "sequential get", seq_get, ("get",)),
        Workload("set_x16", "set from 16 concurrent tasks", set16),
        Workload("get_x16", "get from 16 concurrent tasks", get16, ("get",)),
        Workload("set_many_1000", "set_many of 1000 (items/s)", set_many, ("set_many",)),
        Workload("get_many_1000", "get_many of 1000 (items/s)", get_many, ("get_many",)),
        Workload(
            "list_100_of_10k",
            "list(prefix) -> 100 entries, 10k-key namespace",
            list_small,
            ("list_prefix",),
        ),
        Workload(
            "list_100_of_big",
            "list(prefix) -> 100 entries, big namespace",
            list_big,
            ("list_prefix",),
        ),
        Workload("update_x16_one_key", "update(+1), 16 tasks, one key", update16, ("increment",)),
        Workload("append_x16_one_key", "append, 16 tasks, one key", append16, ("append",)),
        Workload("add_race_16", "add, 16 contenders per key", add_race, ("add",)),
    ]


async def load_data(storage: StorageDriver, big_keys: int) -> None:
    """Warm keys, a 10k-key namespace and a big one, through radaros (shared by baselines)."""
    await storage.set_many(NS, {f"warm:{i}": {**VALUE, "n": i} for i in range(1000)})
    for group in range(100):
        await storage.set_many(
            "small", {f"p{group:03}:{i:03}": {**VALUE, "n": i} for i in range(100)}
        )
    existing = await storage.count("big")
    for start in range(existing, big_keys, LOAD_BATCH):
        batch = range(start, min(start + LOAD_BATCH, big_keys))
        await storage.set_many("big", {f"p{n // 100:05}:{n % 100:03}": {"n": n} for n in batch})


async def scan_in_fresh_process(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run benchmarks.scan_probe on the same data in a new process; its JSON result."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.scan_probe",
        url,
        json.dumps(options),
        "big",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await probe.communicate()
    result: dict[str, Any] = json.loads(out)
    return result


# -- drivers -------------------------------------------------------------------------------------


async def keep_session(connection: Any) -> None:
    """asyncpg pool reset hook that sends nothing (as PostgresStorage's)."""


@contextlib.asynccontextmanager
async def driver_setup(
    name: str, folder: Path, big_keys: int
) -> AsyncIterator[tuple[StorageDriver, list[Any], tuple[str, dict[str, Any]]]]:
    """The radaros driver (data loaded), its baselines, and the URL and options that open
    its data again in another process."""
    if name == "memory":
        async with InMemoryStorage() as storage:
            await load_data(storage, big_keys)
            baseline = DictOfJson()
            for namespace in (NS, "small", "big"):
                baseline.data[namespace] = {
                    key: json.dumps(value) for key, value in await storage.list(namespace)
                }
            yield storage, [baseline], ("memory://", {})
    elif name == "sqlite":
        path = str(folder / "bench.db")
        async with SqliteStorage(path) as storage:
            await load_data(storage, big_keys)
            baselines: list[Any] = [SqliteThread(path)]
            with contextlib.suppress(ImportError):
                peer = AiosqlitePeer(path)
                await peer.open()
                baselines.append(peer)
            with contextlib.suppress(ImportError):
                baselines.append(DiskcachePeer(str(folder / "diskcache")))
            yield storage, baselines, (f"sqlite:///{path}", {})
            for baseline in baselines:
                await baseline.close()
    elif name == "postgres":
        import asyncpg

        url = os.environ.get("RADAROS_BENCH_POSTGRES_URL")
        server: Any = None
        if not url:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from tests.support.servers import EmbeddedPostgres

                server = EmbeddedPostgres()
            url = server.url
        try:
            async with PostgresStorage(url, table="bench_kv", max_size=16) as storage:
                await load_data(storage, big_keys)
                # The driver's own pool settings: same size, statement cache and timeouts,
                # and no reset query on release (radaros leaves no session state).
                pool = await asyncpg.create_pool(
                    url,
                    min_size=1,
                    max_size=16,
                    command_timeout=30,
                    statement_cache_size=100,
                    reset=keep_session,
                    server_settings={"application_name": "radaros"},
                )
                yield storage, [AsyncpgRaw(pool, storage)], (url, {"table": "bench_kv"})
                await pool.close()
        finally:
            if server is not None:
                server.close()
    elif name == "mongodb":
        from pymongo import AsyncMongoClient

        url = os.environ.get("RADAROS_BENCH_MONGODB_URL")
        mongo_server: Any = None
        if not url:
            from tests.support.servers import SecantusServer

            mongo_server = SecantusServer()
            url = mongo_server.url
        try:
            async with MongoDBStorage(url, database="bench", collection="bench_kv") as storage:
                await load_data(storage, big_keys)
                client: Any = AsyncMongoClient(url)
                reopen = (url, {"database": "bench", "collection": "bench_kv"})
                yield storage, [PymongoRaw(client["bench"]["bench_kv"])], reopen
                await client.close()
        finally:
            if mongo_server is not None:
                mongo_server.close()
    elif name == "redis":
        import redis.asyncio

        from benchmarks.redis_adapters import AiocachePeer, PyKeyValuePeer, RedisRaw

        url = os.environ.get("RADAROS_BENCH_REDIS_URL")
        redis_server: Any = None
        if not url:
            from tests.support.servers import RedisServer

            # Redis's own default for an AOF: fsync once a second.
            redis_server = RedisServer(extra=["--appendfsync", "everysec"])
            url = redis_server.url
        try:
            async with RedisStorage(url, prefix="bench") as storage:
                await load_data(storage, big_keys)
                one = redis.asyncio.Redis.from_url(
                    url, decode_responses=True, single_connection_client=True
                )
                pooled = redis.asyncio.Redis(
                    connection_pool=redis.asyncio.BlockingConnectionPool.from_url(
                        url, decode_responses=True, max_connections=50
                    )
                )
                redis_baselines: list[Any] = [
                    RedisRaw(one, storage.scripts, "raw redis-py, 1 connection"),
                    RedisRaw(pooled, storage.scripts, "raw redis-py, pool"),
                ]
                with contextlib.suppress(ImportError):
                    redis_baselines.append(PyKeyValuePeer(url))
                with contextlib.suppress(ImportError):
                    redis_baselines.append(AiocachePeer(url))
                for baseline in redis_baselines:
                    await baseline.open()
                yield storage, redis_baselines, (url, {"prefix": "bench"})
                for baseline in redis_baselines:
                    await baseline.close()
        finally:
            if redis_server is not None:
                redis_server.close()
    else:
        raise SystemExit(f"unknown driver {name}")


async def bench_driver(
    name: str, workloads: list[Workload], rounds: int, counts: dict[str, int]
) -> tuple[list[Sample], dict[str, Any]]:
    samples: list[Sample] = []
    if name == "mongodb":  # SecantusDB is a Python server: smaller data, same workloads
        counts = {
            **counts,
            "big_keys": counts["mongo_big_keys"],
            "contended": min(counts["contended"], 200),
        }
    big_keys = counts["big_keys"]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        async with driver_setup(name, Path(folder), big_keys) as (storage, baselines, reopen):
            print(
                f"# {name}: data loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr
            )
            implementations: list[Any] = [RadarosAdapter(storage), *baselines]
            for workload in make_workloads(counts):
                if workload.name not in {w.name for w in workloads}:
                    continue
                if name == "mongodb" and workload.name in SURROGATE_LIMITS:
                    print(
                        f"# {name}: {workload.name} skipped: {SURROGATE_LIMITS[workload.name]}",
                        file=sys.stderr,
                    )
                    continue
                print(f"# {name}: {workload.name}", file=sys.stderr, flush=True)
                for round_ in range(rounds):
                    for adapter in implementations:
                        if not all(hasattr(adapter, method) for method in workload.needs):
                            continue
                        tag = f"{round_}{adapter.name.replace(' ', '')}"
                        rate, latencies, extra = await workload.run(adapter, tag)
                        samples.append(
                            Sample(
                                name,
                                workload.name,
                                adapter.name,
                                round_,
                                rate,
                                percentile(latencies, 0.5) * 1000,
                                percentile(latencies, 0.99) * 1000,
                                extra,
                            )
                        )
            if name == "memory":  # the data lives in this process: measure here
                scan = await measure_scan(storage, "big")
            else:
                scan = await scan_in_fresh_process(*reopen)
    return samples, scan


def summarize(samples: list[Sample]) -> list[dict[str, Any]]:
    rows = []
    keys = sorted(
        {(s.driver, s.workload) for s in samples},
        key=lambda k: (k[0], [s.workload for s in samples].index(k[1])),
    )
    for driver, workload in keys:
        group = [s for s in samples if s.driver == driver and s.workload == workload]
        radaros = {s.round: s for s in group if s.implementation == "radaros"}
        for implementation in dict.fromkeys(s.implementation for s in group):
            mine = [s for s in group if s.implementation == implementation]
            ratios = [radaros[s.round].ops_per_s / s.ops_per_s for s in mine if s.round in radaros]
            rows.append(
                {
                    "driver": driver,
                    "workload": workload,
                    "implementation": implementation,
                    "ops_per_s": statistics.median(s.ops_per_s for s in mine),
                    "p50_ms": statistics.median(s.p50_ms for s in mine),
                    "p99_ms": statistics.median(s.p99_ms for s in mine),
                    "radaros_ratio": statistics.median(ratios),
                    "unit": mine[0].extra.get("unit", "ops/s"),
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]], scans: dict[str, dict[str, Any]]) -> None:
    header = ["driver".ljust(9), "workload".ljust(22), "implementation".ljust(20)]
    header += ["rate".rjust(12), "p50 ms".rjust(8), "p99 ms".rjust(8), "radaros/x".rjust(9)]
    print(" ".join(header))
    for row in rows:
        ratio = "" if row["implementation"] == "radaros" else f"{row['radaros_ratio']:.2f}x"
        print(
            f"{row['driver']:9} {row['workload']:22} {row['implementation']:20} "
            f"{row['ops_per_s']:>10.0f}/s {row['p50_ms']:>8.3f} {row['p99_ms']:>8.3f} {ratio:>9}"
        )
    for driver, scan in scans.items():
        print(
            f"{driver:9} scan of {scan['entries']} entries: {scan['entries_per_s']}/s, "
            f"peak RSS growth {scan['peak_rss_growth_mib']} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--drivers", default="memory,sqlite,postgres,mongodb,redis")
    parser.add_argument("--workloads", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-keys", type=int, default=1_000_000)
    parser.add_argument(
        "--mongo-big-keys",
        type=int,
        default=100_000,
        help="SecantusDB loads slowly; a real mongod can take --big-keys",
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    counts = {
        "ops": 2000,
        "batches": 10,
        "lists": 300,
        "contended": 800,
        "big_keys": args.big_keys,
        "mongo_big_keys": args.mongo_big_keys,
    }
    if args.quick:
        counts = {
            "ops": 200,
            "batches": 2,
            "lists": 30,
            "contended": 64,
            "big_keys": 20_000,
            "mongo_big_keys": 20_000,
        }
    all_workloads = make_workloads(counts)
    chosen = [w for w in all_workloads if not args.workloads or w.name in args.workloads.split(",")]
    samples: list[Sample] = []
    scans: dict[str, dict[str, Any]] = {}
    for driver in args.drivers.split(","):
        try:
            driver_samples, scans[driver] = asyncio.run(
                bench_driver(driver, chosen, args.rounds, counts)
            )
        except Exception as exc:  # keep the other drivers' figures; say what failed
            print(f"# {driver}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        samples += driver_samples
        if args.json:  # after every driver, so a later failure loses nothing
            write_json(args.json, samples, scans, counts)
    print_table(summarize(samples), scans)


def write_json(
    path: Path, samples: list[Sample], scans: dict[str, dict[str, Any]], counts: dict[str, int]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    document = {
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "machine": machine,
        "counts": counts,
        "summary": summarize(samples),
        "scan": scans,
        "samples": [asdict(sample) for sample in samples],
    }
    path.write_text(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
