"""The blocking API and OpenTelemetry beside the plain async calls, in one run.

    python -m benchmarks.sync_and_telemetry [--drivers memory,sqlite,postgres] [--rounds 5]

- `sync get` / `sync set`: `radaros.sync.SyncStorage` against the async driver doing the
  same sequential calls (ratio = sync / async).
- the limit of the blocking calls on memory and SQLite: `SyncStorage` against a dict holding
  `json.dumps` text, and against sync sqlite3 in the same thread on a file of its own with
  the same pragmas (WAL, `synchronous=FULL`: each set its own durable commit) and
  equivalent SQL.
- memory `get` with telemetry present but no provider configured, against a driver opened
  before radaros looked for one (they are the same code: nothing is wrapped).
- memory `get` with the OpenTelemetry SDK, a span processor whose exporter drops
  everything and a metric reader: the cost of tracing itself.

Rounds interleave the sides; figures are medians of per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.scaling import open_driver
from radaros import InMemoryStorage, SqliteStorage, telemetry
from radaros.sync import SyncStorage

VALUE = {"role": "assistant", "content": "The quick brown fox jumps over the lazy dog."}


async def async_rate(call: Callable[[], Awaitable[Any]], ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        await call()
    return ops / (time.perf_counter() - started)


def sync_rate(call: Callable[[], Any], ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        call()
    return ops / (time.perf_counter() - started)


async def sync_against_async(name: str, rounds: int, ops: int) -> dict[str, float]:
    """The async driver here, a SyncStorage (own loop thread) on the same data."""
    ratios: dict[str, list[float]] = {"sync get": [], "sync set": []}
    with tempfile.TemporaryDirectory() as folder:
        async with open_driver(name, Path(folder)) as (storage, make):
            blocking = SyncStorage(make())
            await asyncio.to_thread(blocking.open)
            await storage.set("bench", "k", VALUE)
            await asyncio.to_thread(blocking.set, "bench", "k", VALUE)  # memory: its own store
            for _ in range(rounds):
                plain = await async_rate(partial(storage.get, "bench", "k"), ops)
                rate = await asyncio.to_thread(sync_rate, partial(blocking.get, "bench", "k"), ops)
                ratios["sync get"].append(rate / plain)
                plain = await async_rate(partial(storage.set, "bench", "k", VALUE), ops)
                rate = await asyncio.to_thread(
                    sync_rate, partial(blocking.set, "bench", "k", VALUE), ops
                )
                ratios["sync set"].append(rate / plain)
            await asyncio.to_thread(blocking.close)
    return {operation: statistics.median(values) for operation, values in ratios.items()}


class DictJson:
    """The limit for memory: a dict of JSON text."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get(self, namespace: str, key: str) -> Any:
        stored = self.data.get((namespace, key))
        return None if stored is None else json.loads(stored)

    def set(self, namespace: str, key: str, value: Any) -> None:
        self.data[namespace, key] = json.dumps(value)


class Sqlite3Here:
    """The limit for SQLite: sync sqlite3 in the calling thread, radaros's pragmas."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.execute(
            "CREATE TABLE kv (ns TEXT, k TEXT, v TEXT, e REAL, PRIMARY KEY (ns, k)) WITHOUT ROWID"
        )

    def get(self, namespace: str, key: str) -> Any:
        row = self.connection.execute(
            "SELECT v FROM kv WHERE ns = ? AND k = ? AND (e IS NULL OR e > ?)",
            (namespace, key, time.time()),
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def set(self, namespace: str, key: str, value: Any) -> None:
        self.connection.execute(
            "INSERT INTO kv VALUES (?, ?, ?, NULL) ON CONFLICT (ns, k) DO UPDATE SET "
            "v = excluded.v, e = excluded.e",
            (namespace, key, json.dumps(value)),
        )


def sync_against_limit(name: str, rounds: int, ops: int) -> dict[str, float]:
    """SyncStorage on memory or SQLite against the bare thing it wraps, in this thread."""
    ratios: dict[str, list[float]] = {"get": [], "set": []}
    with tempfile.TemporaryDirectory() as folder:
        if name == "memory":
            driver: Any = InMemoryStorage()
            limit: Any = DictJson()
        else:
            driver, limit = (
                SqliteStorage(Path(folder) / "radaros.db"),
                Sqlite3Here(Path(folder) / "limit.db"),
            )
        with SyncStorage(driver) as storage:
            for side in (storage, limit):
                side.set("bench", "k", VALUE)
            for _ in range(rounds):
                ratios["get"].append(
                    sync_rate(partial(storage.get, "bench", "k"), ops)
                    / sync_rate(partial(limit.get, "bench", "k"), ops)
                )
                writes = ops if name == "memory" else max(1, ops // 20)  # each set an fsync
                ratios["set"].append(
                    sync_rate(partial(storage.set, "bench", "k", VALUE), writes)
                    / sync_rate(partial(limit.set, "bench", "k", VALUE), writes)
                )
    return {operation: statistics.median(values) for operation, values in ratios.items()}


async def telemetry_cost(rounds: int, ops: int) -> dict[str, float]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Dropping(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    plain_storage = InMemoryStorage()
    await plain_storage.initialize()
    present = telemetry.instrument(InMemoryStorage())  # no provider: the storage itself
    await present.initialize()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Dropping()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    traced = telemetry.instrument(
        InMemoryStorage(), tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    await traced.initialize()
    for storage in (plain_storage, present, traced):
        await storage.set("bench", "k", VALUE)
    ratios: dict[str, list[float]] = {"no provider": [], "SDK, dropping exporter": []}
    for _ in range(rounds):
        base = await async_rate(lambda: plain_storage.get("bench", "k"), ops)
        ratios["no provider"].append(
            await async_rate(lambda: present.get("bench", "k"), ops) / base
        )
        ratios["SDK, dropping exporter"].append(
            await async_rate(lambda: traced.get("bench", "k"), ops) / base
        )
    for storage in (plain_storage, present, traced):
        await storage.close()
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return {name: statistics.median(values) for name, values in ratios.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--drivers", default="memory,sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'driver':10} {'sync get':>9} {'sync set':>9}  (of the async driver)")
    for name in args.drivers.split(","):
        print(f"# {name}", file=sys.stderr, flush=True)
        figures = asyncio.run(sync_against_async(name, args.rounds, args.ops))
        print(f"{name:10} {figures['sync get']:8.2f}x {figures['sync set']:8.2f}x")
    limits = {"memory": "dict + json", "sqlite": "sync sqlite3"}
    for name in (name for name in args.drivers.split(",") if name in limits):
        figures = sync_against_limit(name, args.rounds, args.ops)
        print(
            f"{name:10} {figures['get']:8.2f}x {figures['set']:8.2f}x  (of {limits[name]}, "
            "same thread)"
        )
    costs = asyncio.run(telemetry_cost(args.rounds, args.ops * 10))
    for name, ratio in costs.items():
        print(f"memory get, {name}: {ratio:.3f}x uninstrumented")
    assert threading.active_count() >= 1


if __name__ == "__main__":
    main()
