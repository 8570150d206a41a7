"""ChatHistory and Sessions.touch at 10 and at 100,000 messages, in one run.

    python -m benchmarks.chat_history [--drivers memory,sqlite,postgres,mongodb,redis]
                                      [--messages 100000] [--rounds 5] [--ops 200]

For each driver, two sessions: one with 10 messages, one with `--messages`. Per round
(interleaved), the median latency of `add(message)`, `messages(last=20)` and
`Sessions.touch`, on each session; the figure is the ratio long / short (1.0: the cost does
not grow with the history). `add_vs_set` is `add`'s rate over one raw `set` of the same
message (the limit: one write of the message itself).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.scaling import open_driver
from radaros import ChatHistory, Sessions

MESSAGE = {"role": "user", "content": "The quick brown fox jumps over the lazy dog."}
FILL_BATCH = 1000


async def latency(call: Callable[[], Awaitable[Any]], ops: int) -> float:
    """Median seconds per call over `ops` calls."""
    timings = []
    for _ in range(ops):
        started = time.perf_counter()
        await call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def timed(history: ChatHistory[Any], sessions: Sessions, ops: int) -> dict[str, float]:
    """Median latency of add, messages(last=20) and touch on one session."""
    return {
        "add": await latency(lambda: history.add(MESSAGE), ops),
        "messages_last_20": await latency(lambda: history.messages(last=20), ops),
        "touch": await latency(lambda: sessions.touch(history.session_id), ops),
    }


async def session_with(sessions: Sessions, name: str, count: int) -> ChatHistory[Any]:
    await sessions.create("bench", session_id=name)
    history = sessions.history(name)
    for start in range(0, count, FILL_BATCH):
        batch = [{**MESSAGE, "n": n} for n in range(start, min(count, start + FILL_BATCH))]
        await history.add(*batch)
    return history


async def measure(name: str, messages: int, rounds: int, ops: int) -> dict[str, float]:
    ratios: dict[str, list[float]] = {
        "add": [],
        "messages_last_20": [],
        "touch": [],
        "add_vs_set": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        async with open_driver(name, Path(folder)) as (storage, _):
            sessions = Sessions(storage, ttl=3600)
            short = await session_with(sessions, "short", 10)
            long = await session_with(sessions, "long", messages)
            for _ in range(rounds):
                timings: dict[str, dict[str, float]] = {"short": {}, "long": {}}
                for label, history in (("short", short), ("long", long)):
                    timings[label] = await timed(history, sessions, ops)
                for workload in ("add", "messages_last_20", "touch"):
                    ratios[workload].append(timings["long"][workload] / timings["short"][workload])
                raw = await latency(lambda: storage.set("bench", "raw", MESSAGE), ops)
                ratios["add_vs_set"].append(raw / timings["long"]["add"])
    return {workload: statistics.median(values) for workload, values in ratios.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--drivers", default="memory,sqlite,postgres,mongodb,redis")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=200)
    args = parser.parse_args()
    header = f"{'driver':10} {'add':>8} {'last 20':>8} {'touch':>8} {'add/set':>8}"
    print(f"{header}   (ratios at {args.messages:,} messages / at 10)")
    for name in args.drivers.split(","):
        print(f"# {name}", file=sys.stderr, flush=True)
        figures = asyncio.run(measure(name, args.messages, args.rounds, args.ops))
        print(
            f"{name:10} {figures['add']:7.2f}x {figures['messages_last_20']:7.2f}x "
            f"{figures['touch']:7.2f}x {figures['add_vs_set']:7.2f}x"
        )


if __name__ == "__main__":
    main()
