"""Per-operation cost against the limit: what one raw connection doing the same statements
reaches, beside the pooled raw client, in one run.

    python -m benchmarks.limits --rounds 5 --json benchmarks/results/limits.json \
        --plot docs/limits.png

Implementations, interleaved in every round:

- PostgreSQL: radaros; raw asyncpg on connections of its own with every statement prepared
  once (one connection for sequential work, 16 for 16 tasks: each call takes a free one
  from a list, nothing else), and the one connection again with radaros's default 30 s
  statement timeout (asyncpg arms a timer per statement: what that safety costs); raw
  asyncpg's pool (`pool.acquire()`), the same statements.
- MongoDB: radaros; raw PyMongo async with `maxPoolSize=1`, and with its default pool,
  sending the same commands; and the simplest equivalent a user would write (the key as
  `_id`, the value as it is: no namespace, expiry or revision field), default pool.
- SQLite: radaros; a bare sqlite3 worker thread (one statement or batch per job, answered
  with `call_soon_threadsafe`); sync sqlite3 called in the event loop's thread. Same file,
  pragmas (WAL, `synchronous=FULL`) and SQL.

The ratio is radaros / that implementation, the median of per-round ratios (> 1: radaros
is faster). `RADAROS_BENCH_POSTGRES_URL` / `RADAROS_BENCH_MONGODB_URL` pick servers;
otherwise an embedded PostgreSQL and a SecantusDB server are started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks.run import (
    NS,
    VALUE,
    AsyncpgRaw,
    PymongoRaw,
    RadarosAdapter,
    SqliteThread,
    keep_session,
    load_data,
    make_workloads,
    percentile,
)
from benchmarks.run import SQL as SQLITE_SQL
from radaros.storage import MongoDBStorage, PostgresStorage, SqliteStorage

WORKLOADS = {
    "postgres": ("get", "set", "get_x16", "set_x16", "get_many_1000", "set_many_1000"),
    "mongodb": ("get", "set", "get_x16", "set_x16"),
    "sqlite": ("get", "set", "set_x16", "get_many_1000", "set_many_1000"),
}
"""The workloads each driver is held to (MongoDB on SecantusDB: single operations only)."""

TARGETS = {
    ("postgres", "get", "1 connection"): 0.9,
    ("postgres", "set", "1 connection"): 0.9,
    ("postgres", "get_x16", "16 connections"): 0.85,
    ("postgres", "set_x16", "16 connections"): 0.85,
    ("postgres", "get_many_1000", "1 connection"): 0.9,
    ("postgres", "set_many_1000", "1 connection"): 0.9,
    ("mongodb", "get", "1 connection"): 0.85,
    ("mongodb", "set", "1 connection"): 0.85,
    ("mongodb", "get_x16", "pool"): 0.85,
    ("mongodb", "set_x16", "pool"): 0.85,
    ("sqlite", "get", "worker thread"): 0.95,
    ("sqlite", "set_many_1000", "sync sqlite3"): 0.9,
    ("sqlite", "set_x16", "worker thread"): 2.0,
}
"""(driver, workload, limit) -> the ratio radaros must reach against that limit."""


class AsyncpgDirect:
    """Raw asyncpg on its own connections, statements prepared once per connection; a call
    pops a free connection from a list and pushes it back."""

    def __init__(self, connections: list[tuple[Any, dict[str, Any]]], sql: Any) -> None:
        self.idle = connections  # (connection, its prepared statements by SQL text)
        self.sql = sql
        self.name = "1 connection" if len(connections) == 1 else f"{len(connections)} connections"

    @classmethod
    async def open(
        cls, url: str, size: int, storage: PostgresStorage, command_timeout: float | None = None
    ) -> AsyncpgDirect:
        import asyncpg

        sql = storage.statements
        connections = []
        for _ in range(size):
            connection = await asyncpg.connect(url, command_timeout=command_timeout)
            prepared = {}
            for text in (sql.get, sql.put, sql.put_many, sql.get_many):
                prepared[text] = await connection.prepare(text)
            connections.append((connection, prepared))
        return cls(connections, sql)

    async def _run(self, method: str, sql: str, *args: Any) -> Any:
        taken = self.idle.pop()
        try:
            return await getattr(taken[1][sql], method)(*args)
        finally:
            self.idle.append(taken)

    async def set(self, key: str, value: Any) -> None:
        await self._run("fetch", self.sql.put, NS, key, json.dumps(value), None)

    async def get(self, key: str) -> Any:
        raw = await self._run("fetchval", self.sql.get, NS, key)
        return None if raw is None else json.loads(raw)

    async def set_many(self, items: dict[str, Any]) -> None:
        raws = [json.dumps(value) for value in items.values()]
        await self._run("fetch", self.sql.put_many, NS, list(items), raws, None)

    async def get_many(self, keys: list[str]) -> list[Any]:
        rows = await self._run("fetch", self.sql.get_many, NS, keys)
        found = {row[0]: row[1] for row in rows}
        return [json.loads(found[key]) if key in found else None for key in keys]

    async def close(self) -> None:
        for connection, _ in self.idle:
            await connection.close()


class PymongoSimplest:
    """The simplest equivalent PyMongo a user would write: one document per key with the
    key as `_id` and the value as it is (no namespace field, no expiry, no revision)."""

    name = "simplest pymongo"

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    @classmethod
    async def open(cls, client: Any) -> PymongoSimplest:
        collection = client["bench"]["limits_simplest"]
        await collection.drop()
        await collection.insert_many([{"_id": f"warm:{i}", "v": VALUE} for i in range(1000)])
        return cls(collection)

    async def set(self, key: str, value: Any) -> None:
        await self.collection.update_one({"_id": key}, {"$set": {"v": value}}, upsert=True)

    async def get(self, key: str) -> Any:
        document = await self.collection.find_one({"_id": key})
        return None if document is None else document["v"]


class SqliteSync:
    """Sync sqlite3 in the event loop's thread: the same statements, no thread hand-off."""

    name = "sync sqlite3"

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            self.connection.executemany(sql, rows)
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    async def set(self, key: str, value: Any) -> None:
        self._write(SQLITE_SQL.put, [(NS, key, json.dumps(value), None)])

    async def get(self, key: str) -> Any:
        row = self.connection.execute(SQLITE_SQL.get, (NS, key, time.time())).fetchone()
        return None if row is None else json.loads(row[0])

    async def set_many(self, items: dict[str, Any]) -> None:
        self._write(SQLITE_SQL.put, [(NS, k, json.dumps(v), None) for k, v in items.items()])

    async def get_many(self, keys: list[str]) -> list[Any]:
        sql = SQLITE_SQL.get_many(len(keys))
        found = dict(self.connection.execute(sql, (NS, time.time(), *keys)).fetchall())
        return [json.loads(found[key]) if key in found else None for key in keys]

    async def close(self) -> None:
        self.connection.close()


def named(adapter: Any, name: str) -> Any:
    adapter.name = name
    return adapter


@contextlib.asynccontextmanager
async def implementations(driver: str, folder: Path) -> AsyncIterator[list[Any]]:
    """radaros (data loaded) first, then the limits it is compared with."""
    if driver == "sqlite":
        path = str(folder / "limits.db")
        async with SqliteStorage(path) as storage:
            await load_data(storage, 0)
            thread, sync = named(SqliteThread(path), "worker thread"), SqliteSync(path)
            yield [RadarosAdapter(storage), thread, sync]
            await thread.close()
            await sync.close()
    elif driver == "postgres":
        import asyncpg

        async with (
            postgres_url() as url,
            PostgresStorage(url, table="limits_kv", max_size=16) as storage,
        ):
            await load_data(storage, 0)
            one = await AsyncpgDirect.open(url, 1, storage)
            # The same, with radaros's default statement timeout (what that safety costs).
            timed = named(await AsyncpgDirect.open(url, 1, storage, 30.0), "1 connection, timeout")
            sixteen = await AsyncpgDirect.open(url, 16, storage)
            # The pool as benchmarks.run sets it up: no reset query on release, like radaros.
            pool = await asyncpg.create_pool(url, min_size=16, max_size=16, reset=keep_session)
            pooled = named(AsyncpgRaw(pool, storage), "pool")
            yield [RadarosAdapter(storage), one, timed, sixteen, pooled]
            await one.close()
            await timed.close()
            await sixteen.close()
            await pool.close()
    elif driver == "mongodb":
        from pymongo import AsyncMongoClient

        async with (
            mongodb_url() as url,
            MongoDBStorage(url, database="bench", collection="limits_kv") as storage,
        ):
            await load_data(storage, 0)
            single: Any = AsyncMongoClient(url, maxPoolSize=1)
            shared: Any = AsyncMongoClient(url)
            yield [
                RadarosAdapter(storage),
                named(PymongoRaw(single["bench"]["limits_kv"]), "1 connection"),
                named(PymongoRaw(shared["bench"]["limits_kv"]), "pool"),
                await PymongoSimplest.open(shared),
            ]
            await single.close()
            await shared.close()
    else:
        raise SystemExit(f"unknown driver {driver}")


@contextlib.asynccontextmanager
async def postgres_url() -> AsyncIterator[str]:
    url = os.environ.get("RADAROS_BENCH_POSTGRES_URL")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tests.support.servers import EmbeddedPostgres

        server = EmbeddedPostgres()
    try:
        yield server.url
    finally:
        server.close()


@contextlib.asynccontextmanager
async def mongodb_url() -> AsyncIterator[str]:
    url = os.environ.get("RADAROS_BENCH_MONGODB_URL")
    if url:
        yield url
        return
    from tests.support.servers import SecantusServer

    server = SecantusServer()
    try:
        yield server.url
    finally:
        server.close()


def serial_only(adapter: Any, workload: str) -> bool:
    """One connection or the loop's own thread cannot serve 16 tasks at once."""
    return workload.endswith("_x16") and adapter.name in {
        "1 connection",
        "1 connection, timeout",
        "sync sqlite3",
    }


def concurrent_only(adapter: Any, workload: str) -> bool:
    return not workload.endswith("_x16") and adapter.name == "16 connections"


async def bench(
    driver: str, rounds: int, counts: dict[str, int], only: set[str]
) -> list[dict[str, Any]]:
    chosen = only or set(WORKLOADS[driver])
    workloads = [
        w for w in make_workloads(counts) if w.name in WORKLOADS[driver] and w.name in chosen
    ]
    samples: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        async with implementations(driver, Path(folder)) as adapters:
            for workload in workloads:
                print(f"# {driver}: {workload.name}", file=sys.stderr, flush=True)
                for round_ in range(-1, rounds):  # round -1 warms up (connections, caches)
                    for adapter in adapters:
                        if serial_only(adapter, workload.name) or concurrent_only(
                            adapter, workload.name
                        ):
                            continue
                        tag = f"{round_}{adapter.name.replace(' ', '')}"
                        rate, latencies, _ = await workload.run(adapter, tag)
                        if round_ < 0:
                            continue
                        samples.append(
                            {
                                "driver": driver,
                                "workload": workload.name,
                                "implementation": adapter.name,
                                "round": round_,
                                "ops_per_s": rate,
                                "p50_ms": percentile(latencies, 0.5) * 1000,
                            }
                        )
    return samples


def summarize(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    groups = dict.fromkeys((s["driver"], s["workload"]) for s in samples)
    for driver, workload in groups:
        group = [s for s in samples if (s["driver"], s["workload"]) == (driver, workload)]
        radaros = {s["round"]: s["ops_per_s"] for s in group if s["implementation"] == "radaros"}
        for implementation in dict.fromkeys(s["implementation"] for s in group):
            mine = [s for s in group if s["implementation"] == implementation]
            ratio = statistics.median(radaros[s["round"]] / s["ops_per_s"] for s in mine)
            target = TARGETS.get((driver, workload, implementation))
            rows.append(
                {
                    "driver": driver,
                    "workload": workload,
                    "implementation": implementation,
                    "ops_per_s": statistics.median(s["ops_per_s"] for s in mine),
                    "p50_ms": statistics.median(s["p50_ms"] for s in mine),
                    "radaros_ratio": ratio,
                    "target": target,
                    "met": None if target is None else ratio >= target,
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per workload, radaros' rate and its ratio to each other side."""
    lines = [
        "| driver | workload | radaros | vs the limit | vs pooled raw | target | met |",
        "|---|---|---:|---|---|---:|---|",
    ]
    for driver, workload in dict.fromkeys((r["driver"], r["workload"]) for r in rows):
        group = [r for r in rows if (r["driver"], r["workload"]) == (driver, workload)]
        mine = next(r for r in group if r["implementation"] == "radaros")
        targeted = [r for r in group if r["target"] is not None]
        limits = [r for r in group if r["implementation"] not in {"radaros", "pool"}]
        pooled = [r for r in group if r["implementation"] == "pool"]
        unit = "items/s" if "many" in workload else "ops/s"
        lines.append(
            f"| {driver} | {workload} | {mine['ops_per_s']:,.0f} {unit} | "
            + ", ".join(f"{r['radaros_ratio']:.2f}x {r['implementation']}" for r in limits)
            + " | "
            + ", ".join(f"{r['radaros_ratio']:.2f}x" for r in pooled)
            + " | "
            + ", ".join(f">= {r['target']}x {r['implementation']}" for r in targeted)
            + " | "
            + ", ".join("yes" if r["met"] else "**no**" for r in targeted)
            + " |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r["implementation"] != "radaros"]
    labels = [f"{r['driver']} {r['workload']} / {r['implementation']}" for r in shown]
    values = [r["radaros_ratio"] for r in shown]
    colours = [
        "#888888" if r["target"] is None else "#2a9d8f" if r["met"] else "#e76f51" for r in shown
    ]
    figure, axes = plt.subplots(figsize=(9, 0.3 * len(shown) + 1.4))
    axes.barh(labels[::-1], values[::-1], color=colours[::-1])
    for position, row in enumerate(shown[::-1]):
        if row["target"] is not None:
            axes.plot([row["target"]] * 2, [position - 0.4, position + 0.4], color="black")
    axes.axvline(1.0, color="black", linewidth=0.6, linestyle=":")
    axes.set_xscale("log")
    axes.set_xlabel("radaros throughput / the other (log scale; black tick = target)")
    axes.set_title(
        "radaros / the limit (green: target met, red: missed) and / the others (grey)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--drivers", default="postgres,sqlite,mongodb")
    parser.add_argument("--workloads", default="", help="comma-separated; default: all")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    counts = {"ops": 2000, "batches": 10, "lists": 0, "contended": 0, "big_keys": 0}
    if args.quick:
        counts = {**counts, "ops": 200, "batches": 2}
    samples: list[dict[str, Any]] = []
    for driver in args.drivers.split(","):
        # SecantusDB (a Python server) slows down under long runs: fewer operations there.
        driver_counts = {**counts, "ops": 300, "batches": 2} if driver == "mongodb" else counts
        only = set(filter(None, args.workloads.split(",")))
        samples += asyncio.run(bench(driver, args.rounds, driver_counts, only))
    rows = summarize(samples)
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "command": "python -m benchmarks.limits " + " ".join(sys.argv[1:]),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
            },
            "summary": rows,
            "samples": samples,
        }
        args.json.write_text(json.dumps(document, indent=1))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
