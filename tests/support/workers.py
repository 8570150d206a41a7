"""Work run in separate OS processes by the multi-process tests: `python -m tests.support.workers`.

Each command opens the storage at a URL, waits for a shared start time (so processes
really run at the same moment), does its work and prints one JSON line of results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from radaros import ChatHistory
from radaros.storage import open_storage


async def wait_for_start(start_at: float) -> None:
    await asyncio.sleep(max(0.0, start_at - time.time()))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    storage = open_storage(args.url, **json.loads(args.options))
    result: dict[str, Any] = {"errors": []}
    async with storage:
        await wait_for_start(args.start_at)
        if args.command == "add":
            keys = [f"key{i}" for i in range(args.count)]
            wins = await asyncio.gather(
                *(
                    storage.add(args.namespace, key, args.worker)
                    for key in keys
                    for _ in range(args.tasks)
                )
            )
            result["won"] = [
                key
                for key, won in zip([k for k in keys for _ in range(args.tasks)], wins, strict=True)
                if won
            ]
        elif args.command == "increment":

            async def bump() -> None:
                for _ in range(args.count):
                    await storage.update(args.namespace, "counter", lambda v: (v or 0) + 1)

            await asyncio.gather(*(bump() for _ in range(args.tasks)))
        elif args.command == "append":

            async def push(task: int) -> None:
                for i in range(args.count):
                    await storage.append(args.namespace, "log", [f"{args.worker}-{task}-{i}"])

            await asyncio.gather(*(push(task) for task in range(args.tasks)))
        elif args.command == "initialize":
            await storage.set(args.namespace, f"init{args.worker}", args.worker)
        elif args.command == "chat":
            # Each task adds `count` messages one at a time; the totals returned are kept.
            history = ChatHistory(storage, "shared", max_messages=args.window)

            async def chat(task: int) -> list[list[Any]]:
                added = []
                for i in range(args.count):
                    text = f"{args.worker}-{task}-{i}"
                    added.append([text, await history.add({"text": text})])
                return added

            per_task = await asyncio.gather(*(chat(task) for task in range(args.tasks)))
            result["added"] = [pair for added in per_task for pair in added]
        elif args.command == "history":
            result["history"] = await record_history(storage, args)
    return result


async def crash_writer(args: argparse.Namespace) -> None:
    """Write forever (set, append, update+1, a chat message), printing each
    acknowledgement; killed by -9."""
    storage = open_storage(args.url)
    stop = Path(args.stop_file)
    tag = f"{args.worker}-{os.getpid()}"
    async with storage:
        print("R", flush=True)
        n = 0
        while not stop.exists():  # noqa: ASYNC240 (one stat per loop, in a test worker)
            key = f"{tag}-{n}"
            try:
                await storage.set("set", key, n)
                print(f"S {key} {n}", flush=True)
                await storage.append("log", "items", [key])
                print(f"A {key}", flush=True)
                count = await storage.update("counter", tag, lambda v: (v or 0) + 1)
                print(f"U {tag} {count}", flush=True)
                total = await ChatHistory(storage, "crash-chat").add({"text": key})
                print(f"H {key} {total}", flush=True)
            except Exception as exc:  # reported, counted by the test
                print(f"E {type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
            n += 1


async def record_history(storage: Any, args: argparse.Namespace) -> list[list[Any]]:
    """Random reads, writes and appends on 4 keys; every call with its start and end time.

    Times are time.monotonic(), which on Linux is one clock for every process.
    """
    history: list[list[Any]] = []
    deadline = time.monotonic() + args.seconds

    async def task(task_id: int) -> None:
        rng = random.Random(f"{args.worker}-{task_id}")
        n = 0
        while time.monotonic() < deadline:
            key = f"k{rng.randrange(4)}"
            op = rng.choice(["read", "write", "append"])
            value = f"{args.worker}-{task_id}-{n}"
            n += 1
            start = time.monotonic()
            try:
                if op == "read":
                    value = await storage.get("lin", key)
                elif op == "write":
                    await storage.set("lin", key, value)
                else:
                    await storage.append("lin", f"list-{key}", [value])
                history.append([op, key, value, start, time.monotonic(), True])
            except Exception as exc:
                history.append(
                    [op, key, f"{type(exc).__name__}: {exc}", start, time.monotonic(), False]
                )

    await asyncio.gather(*(task(i) for i in range(args.tasks)))
    return history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "command",
        choices=["add", "increment", "append", "initialize", "chat", "history", "crash-writer"],
    )
    parser.add_argument("url")
    parser.add_argument("--namespace", default="workers")
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--options", default="{}")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--stop-file", default="")
    args = parser.parse_args()
    if args.command == "crash-writer":
        asyncio.run(crash_writer(args))
        return
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
