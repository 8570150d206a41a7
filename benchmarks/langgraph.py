"""RadarosSaver and RadarosStore beside LangGraph's own SQLite and PostgreSQL backends.

    python -m benchmarks.langgraph [--backends sqlite,postgres] [--rounds 5] [--ops 200]

Needs `pip install -e ".[bench-langgraph]"`. Each backend runs on one server (PostgreSQL: the
embedded PostgreSQL 18 the tests use) or one file per side (SQLite, both WAL with
`synchronous=FULL`: every commit reaches the disk), both sides in the same process,
interleaved over rounds. Workloads:

- `checkpoint`: `aput` of a checkpoint holding 5 messages, then `aget_tuple` of the thread's
  latest, one thread, sequentially (what a graph does at every step);
- `store_put`: `aput` of a new item into a namespace;
- `store_update`: `aput` of an item the store has just written, again and again;
- `store_search`: `asearch(namespace, filter={"kind": ...}, limit=10)` in a namespace of 1,000
  items (a tenth of them match).

Prints, per backend and workload, both rates and the median of per-round ratios
radaros / LangGraph (> 1: radaros is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.store.base import BaseStore

from benchmarks.sides import Workload, compare, record
from radaros.integrations.langgraph import RadarosSaver, RadarosStore
from radaros.storage import PostgresStorage, SqliteStorage, StorageDriver

MESSAGES = [
    {"type": "human" if n % 2 == 0 else "ai", "content": f"message {n}: " + "lorem ipsum " * 8}
    for n in range(5)
]
STORE_ITEMS = 1000
NAMESPACE = ("users", "u1", "memories")


class Sides:
    """Both sides of one backend, opened."""

    def __init__(self) -> None:
        self.savers: dict[str, BaseCheckpointSaver[Any]] = {}
        self.stores: dict[str, BaseStore] = {}


@contextlib.asynccontextmanager
async def opened(backend: str, folder: Path) -> AsyncIterator[Sides]:
    sides = Sides()
    async with contextlib.AsyncExitStack() as stack:
        storage: StorageDriver
        if backend == "sqlite":
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
            from langgraph.store.sqlite.aio import AsyncSqliteStore

            storage = await stack.enter_async_context(SqliteStorage(folder / "radaros.db"))
            saver_conn = await stack.enter_async_context(
                aiosqlite.connect(folder / "langgraph-saver.db")
            )
            await saver_conn.execute("PRAGMA synchronous=FULL")
            sides.savers["framework"] = AsyncSqliteSaver(saver_conn)
            store_conn = await stack.enter_async_context(
                aiosqlite.connect(folder / "langgraph-store.db", isolation_level=None)
            )
            await store_conn.execute("PRAGMA journal_mode=WAL")
            await store_conn.execute("PRAGMA synchronous=FULL")
            sides.stores["framework"] = AsyncSqliteStore(store_conn)
        elif backend == "postgres":
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
            from langgraph.store.postgres.aio import AsyncPostgresStore

            from tests.support import servers

            server = servers.EmbeddedPostgres()
            stack.callback(server.close)
            storage = await stack.enter_async_context(PostgresStorage(server.url))
            sides.savers["framework"] = await stack.enter_async_context(
                AsyncPostgresSaver.from_conn_string(server.url)
            )
            sides.stores["framework"] = await stack.enter_async_context(
                AsyncPostgresStore.from_conn_string(server.url)
            )
        else:
            raise SystemExit(f"unknown backend {backend}")
        sides.savers["radaros"] = RadarosSaver(storage)
        sides.stores["radaros"] = RadarosStore(storage)
        for saver in sides.savers.values():
            if hasattr(saver, "setup"):
                await saver.setup()
        for store in sides.stores.values():
            if hasattr(store, "setup"):
                await store.setup()
        yield sides


def checkpoint_step(saver: BaseCheckpointSaver[Any], thread: str) -> Callable[[], Awaitable[Any]]:
    """One graph step: put a checkpoint after the thread's latest, then read the latest."""
    state: dict[str, Any] = {
        "config": {"configurable": {"thread_id": thread, "checkpoint_ns": ""}},
        "version": None,
    }
    step = 0

    async def call() -> None:
        nonlocal step
        step += 1
        checkpoint = empty_checkpoint()
        checkpoint["id"] = str(uuid6(clock_seq=step))
        checkpoint["channel_values"] = {"messages": MESSAGES}
        version = state["version"] = saver.get_next_version(state["version"], None)
        checkpoint["channel_versions"] = {"messages": version}
        state["config"] = await saver.aput(
            state["config"],
            checkpoint,
            {"source": "loop", "step": step, "parents": {}},
            {"messages": version},
        )
        latest = await saver.aget_tuple({"configurable": {"thread_id": thread}})
        assert latest is not None
        assert latest.checkpoint["id"] == checkpoint["id"]

    return call


def store_put(store: BaseStore) -> Callable[[], Awaitable[Any]]:
    count = 0

    async def call() -> None:
        nonlocal count
        count += 1
        await store.aput(("bench", "puts"), f"item-{count}", {"n": count, "text": "lorem " * 20})

    return call


def store_update(store: BaseStore) -> Callable[[], Awaitable[Any]]:
    count = 0

    async def call() -> None:
        nonlocal count
        count += 1
        await store.aput(("bench", "updates"), "item", {"n": count, "text": "lorem " * 20})

    return call


def store_search(store: BaseStore) -> Callable[[], Awaitable[Any]]:
    async def call() -> None:
        found = await store.asearch(NAMESPACE, filter={"kind": "k3"}, limit=10)
        assert len(found) == 10

    return call


async def fill_store(store: BaseStore) -> None:
    for start in range(0, STORE_ITEMS, 100):
        await asyncio.gather(
            *(
                store.aput(NAMESPACE, f"m-{n:05}", {"kind": f"k{n % 10}", "text": f"fact {n}"})
                for n in range(start, start + 100)
            )
        )


async def measure(backend: str, rounds: int, ops: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        async with opened(backend, Path(folder)) as sides:
            for store in sides.stores.values():
                await fill_store(store)
            workloads: dict[str, Workload] = {
                "checkpoint": {
                    side: checkpoint_step(saver, f"bench-{side}")
                    for side, saver in sides.savers.items()
                },
                "store_put": {side: store_put(store) for side, store in sides.stores.items()},
                "store_update": {side: store_update(store) for side, store in sides.stores.items()},
                "store_search": {side: store_search(store) for side, store in sides.stores.items()},
            }
            return await compare(workloads, rounds, ops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--json", type=Path, help="record the figures here (benchmarks.sides)")
    args = parser.parse_args()
    print(f"{'backend':9} {'workload':13} {'radaros/s':>10} {'langgraph/s':>12} {'ratio':>6}")
    for backend in args.backends.split(","):
        print(f"# {backend}", file=sys.stderr, flush=True)
        results = asyncio.run(measure(backend, args.rounds, args.ops))
        if args.json:
            record(args.json, "langgraph", backend, results)
        for workload, figures in results.items():
            print(
                f"{backend:9} {workload:13} {figures['radaros']:10,.0f} "
                f"{figures['framework']:12,.0f} {figures['ratio']:5.2f}x"
            )


if __name__ == "__main__":
    main()
