"""Work run in separate OS processes by the multi-process tests: `python -m tests.workers`.

Each command opens the storage at a URL, waits for a shared start time (so processes
really run at the same moment), does its work and prints one JSON line of results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

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
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["add", "increment", "append", "initialize"])
    parser.add_argument("url")
    parser.add_argument("--namespace", default="workers")
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--options", default="{}")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
