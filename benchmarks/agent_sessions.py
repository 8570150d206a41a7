"""Radaros's agent-session adapters beside the frameworks' own session backends.

    python -m benchmarks.agent_sessions [--rounds 5] [--ops 200]

Needs `pip install -e ".[bench-agents]"`. Both sides in one process, on the same backend,
interleaved over rounds; the figure is the median of per-round ratios radaros / the
framework's (> 1: radaros is faster).

- OpenAI Agents SDK, `add_items` of one message and `get_items(limit=20)` of a session holding
  1,000: `RadarosSession` on SQLite against `SQLiteSession` (each its own file; radaros in WAL
  mode, the SDK in SQLite's default rollback journal, both `synchronous=FULL`: every commit
  reaches the disk), and on Redis against the SDK's `RedisSession` (one server for both).
- Google ADK, `append_event` of one message event: `RadarosSessionService` on SQLite against
  `DatabaseSessionService` (SQLAlchemy with aiosqlite), each its own file.
- LlamaIndex `Memory`'s store, `add_message` of one message and `get_messages` of a session
  holding 1,000 (what `Memory.aget` reads): `RadarosMemoryStore` on SQLite against
  `SQLAlchemyChatStore` (aiosqlite), each its own file.
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

from benchmarks.sides import Workload, compare, record
from radaros.storage import RedisStorage, SqliteStorage

MESSAGE = {"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 4}
HISTORY = 1000


async def fill(session: Any) -> None:
    for start in range(0, HISTORY, 100):
        await session.add_items([{**MESSAGE, "n": n} for n in range(start, start + 100)])


def session_workloads(
    ours: Any, theirs: Any, ours_long: Any, theirs_long: Any
) -> dict[str, Workload]:
    async def get_20(session: Any) -> None:
        assert len(await session.get_items(limit=20)) == 20

    return {
        "add_items": {
            "radaros": lambda: ours.add_items([MESSAGE]),
            "framework": lambda: theirs.add_items([MESSAGE]),
        },
        "get_items_20": {
            "radaros": lambda: get_20(ours_long),
            "framework": lambda: get_20(theirs_long),
        },
    }


@contextlib.asynccontextmanager
async def openai_sqlite(folder: Path) -> AsyncIterator[dict[str, Workload]]:
    from agents import SQLiteSession

    from radaros.integrations.openai_agents import RadarosSession

    async with SqliteStorage(folder / "radaros.db") as storage:
        sdk_file = folder / "sdk.db"
        sessions = [SQLiteSession(name, sdk_file) for name in ("short", "long")]
        ours = [RadarosSession(name, storage) for name in ("short", "long")]
        await fill(ours[1])
        await fill(sessions[1])
        try:
            yield session_workloads(ours[0], sessions[0], ours[1], sessions[1])
        finally:
            for session in sessions:
                session.close()


@contextlib.asynccontextmanager
async def openai_redis(folder: Path) -> AsyncIterator[dict[str, Workload]]:
    from agents.extensions.memory.redis_session import RedisSession

    from radaros.integrations.openai_agents import RadarosSession
    from tests.support import servers

    server = servers.RedisServer(extra=["--appendfsync", "everysec"])
    try:
        async with RedisStorage(server.url) as storage:
            sessions = [RedisSession.from_url(name, url=server.url) for name in ("short", "long")]
            ours = [RadarosSession(name, storage) for name in ("short", "long")]
            await fill(ours[1])
            await fill(sessions[1])
            yield session_workloads(ours[0], sessions[0], ours[1], sessions[1])
            for session in sessions:
                await session.close()
    finally:
        server.close()


@contextlib.asynccontextmanager
async def adk_sqlite(folder: Path) -> AsyncIterator[dict[str, Workload]]:
    from google.adk.events.event import Event
    from google.adk.sessions.database_session_service import DatabaseSessionService
    from google.genai import types

    from radaros.integrations.google_adk import RadarosSessionService

    def event() -> Event:
        text = types.Part(text=str(MESSAGE["content"]))
        return Event(author="user", content=types.Content(role="user", parts=[text]))

    async with SqliteStorage(folder / "radaros.db") as storage:
        ours = RadarosSessionService(storage)
        theirs = DatabaseSessionService(f"sqlite+aiosqlite:///{folder / 'adk.db'}")
        sides = {"radaros": ours, "framework": theirs}
        sessions = {
            side: await service.create_session(app_name="bench", user_id="u")
            for side, service in sides.items()
        }

        def append(side: str) -> Callable[[], Awaitable[Any]]:
            return lambda: sides[side].append_event(sessions[side], event())

        try:
            yield {"append_event": {side: append(side) for side in sides}}
        finally:
            await theirs.close()


@contextlib.asynccontextmanager
async def llama_sqlite(folder: Path) -> AsyncIterator[dict[str, Workload]]:
    from llama_index.core.llms import ChatMessage
    from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

    from radaros.integrations.llama_index import RadarosMemoryStore

    message = ChatMessage(role="user", content=str(MESSAGE["content"]))
    async with SqliteStorage(folder / "radaros.db") as storage:
        ours = RadarosMemoryStore(storage)
        theirs = SQLAlchemyChatStore(
            table_name="memory", async_database_uri=f"sqlite+aiosqlite:///{folder / 'li.db'}"
        )
        sides = {"radaros": ours, "framework": theirs}
        for store in sides.values():
            for _ in range(HISTORY // 100):
                await store.add_messages("long", [message] * 100)

        def add(store: Any) -> Callable[[], Awaitable[Any]]:
            return lambda: store.add_message("short", message)

        def read_long(store: Any) -> Callable[[], Awaitable[Any]]:
            async def read() -> None:
                assert len(await store.get_messages("long")) == HISTORY

            return read

        try:
            yield {
                "add_message": {side: add(store) for side, store in sides.items()},
                "get_1000": {side: read_long(store) for side, store in sides.items()},
            }
        finally:
            if theirs._async_engine is not None:
                await theirs._async_engine.dispose()


BACKENDS = {
    "openai-sqlite": openai_sqlite,
    "openai-redis": openai_redis,
    "adk-sqlite": adk_sqlite,
    "llama-sqlite": llama_sqlite,
}


async def measure(backend: str, rounds: int, ops: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        async with BACKENDS[backend](Path(folder)) as workloads:
            return await compare(workloads, rounds, ops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--json", type=Path, help="record the figures here (benchmarks.sides)")
    args = parser.parse_args()
    print(f"{'backend':14} {'workload':13} {'radaros/s':>10} {'framework/s':>12} {'ratio':>6}")
    for backend in args.backends.split(","):
        print(f"# {backend}", file=sys.stderr, flush=True)
        results = asyncio.run(measure(backend, args.rounds, args.ops))
        if args.json:
            record(args.json, "agent_sessions", backend, results)
        for workload, figures in results.items():
            print(
                f"{backend:14} {workload:13} {figures['radaros']:10,.0f} "
                f"{figures['framework']:12,.0f} {figures['ratio']:5.2f}x"
            )


if __name__ == "__main__":
    main()
