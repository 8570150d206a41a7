"""The agent layers beside the plain driver calls they are built on, in one run.

    python -m benchmarks.agent_memory [--drivers memory,sqlite,postgres,mongodb,redis]
                                      [--rounds 5] [--ops 500] [--others 100000]

- `history_add`: `ChatHistory.add(message)` against `storage.append` of the same message,
  both windowed to 50 (each one compare-and-swap per call); ratio = radaros layer / plain call.
- `collection_get`: `Collection.get` of a 10-field model against the untyped `get`.
- `sessions_list`: `Sessions.list(user)` for a user with 10 sessions, alone and then with
  `--others` sessions of other users in the store; ratio = crowded / alone (<= 1.5x).

Rounds interleave the two sides; figures are medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchmarks.scaling import open_driver
from radaros import MEMORY_SHORT, ChatHistory, Collection, Sessions, StorageDriver
from radaros.sessions import SESSION_META, SESSION_USERS


class Profile(BaseModel):
    id: int
    name: str
    email: str
    created: datetime
    active: bool
    score: float
    tags: list[str]
    plan: str
    locale: str
    visits: int


MESSAGE = {"role": "user", "content": "The quick brown fox jumps over the lazy dog."}


async def rate(calls: list[Callable[[], Awaitable[Any]]]) -> float:
    started = time.perf_counter()
    for call in calls:
        await call()
    return len(calls) / (time.perf_counter() - started)


async def median_s(call: Callable[[], Awaitable[Any]], rounds: int = 9) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def fill_other_users(storage: StorageDriver, count: int) -> None:
    """`count` sessions of other users, written in the Sessions layout in batches."""
    now = datetime.now(timezone.utc).isoformat()
    for start in range(0, count, 1000):
        ids = [f"other{n}" for n in range(start, min(start + 1000, count))]
        await storage.set_many(
            SESSION_META,
            {
                i: {
                    "id": i,
                    "user_id": f"u{i}",
                    "created_at": now,
                    "updated_at": now,
                    "metadata": {},
                }
                for i in ids
            },
        )
        await storage.set_many(SESSION_USERS, {f"u{i}/{i}": {"created_at": now} for i in ids})


async def measure(name: str, rounds: int, ops: int, others: int) -> dict[str, float]:
    ratios: dict[str, list[float]] = {"history_add": [], "collection_get": []}
    with tempfile.TemporaryDirectory() as folder:
        async with open_driver(name, Path(folder)) as (storage, _):
            profiles = Collection(storage, "profiles", Profile)
            profile = Profile(
                id=1,
                name="Ada",
                email="ada@example.com",
                created=datetime.now(timezone.utc),
                active=True,
                score=0.5,
                tags=["a", "b"],
                plan="pro",
                locale="en",
                visits=3,
            )
            await profiles.set("p", profile)
            for r in range(rounds):
                history = ChatHistory(storage, f"h{r}", max_messages=50)
                # Distinct messages: an unchanged value would measure a no-op rewrite.
                messages = [{**MESSAGE, "n": i} for i in range(ops)]
                layer = await rate([partial(history.add, m) for m in messages])
                plain = await rate(
                    [
                        partial(storage.append, MEMORY_SHORT, f"a{r}", [m], max_items=50)
                        for m in messages
                    ]
                )
                ratios["history_add"].append(layer / plain)
                typed = await rate([lambda: profiles.get("p") for _ in range(ops)])
                untyped = await rate([lambda: storage.get("profiles", "p") for _ in range(ops)])
                ratios["collection_get"].append(typed / untyped)
            sessions = Sessions(storage)
            for i in range(10):
                await sessions.create("ada", session_id=f"ada{i}")
            alone = await median_s(lambda: sessions.list("ada"))
            await fill_other_users(storage, others)
            crowded = await median_s(lambda: sessions.list("ada"))
    result = {workload: statistics.median(values) for workload, values in ratios.items()}
    result["sessions_list"] = crowded / alone
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--drivers", default="memory,sqlite,postgres,mongodb,redis")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--others", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{'driver':10} {'history_add':>12} {'collection_get':>15} {'sessions_list':>14}")
    for name in args.drivers.split(","):
        print(f"# {name}", file=sys.stderr, flush=True)
        figures = asyncio.run(measure(name, args.rounds, args.ops, args.others))
        print(
            f"{name:10} {figures['history_add']:11.2f}x {figures['collection_get']:14.2f}x "
            f"{figures['sessions_list']:13.2f}x"
        )


if __name__ == "__main__":
    main()
