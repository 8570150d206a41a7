"""`copy` of a large SQLite file to PostgreSQL beside PostgreSQL's own `set_many`, one run.

    python -m benchmarks.copy [--entries 1000000]

Fills a SQLite file (`--entries` entries over 4 namespaces, every tenth with a TTL), measures
`PostgresStorage.set_many` of 1,000-entry batches into a scratch table (the destination's
own throughput), then runs `radaros-storage copy` in a fresh process, sampling its peak RSS,
and checks the live counts on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from radaros.storage import PostgresStorage, SqliteStorage

NAMESPACES = 4
BATCH = 1000


def entry(n: int) -> dict[str, object]:
    return {"role": "user", "content": f"message {n}", "n": n}


async def fill(path: Path, entries: int) -> None:
    async with SqliteStorage(path, synchronous="NORMAL") as storage:
        for start in range(0, entries, BATCH):
            batch = range(start, min(start + BATCH, entries))
            ttl = 86_400 if (start // BATCH) % 10 == 0 else None
            await storage.set_many(
                f"ns{(start // BATCH) % NAMESPACES}", {f"k{n:08}": entry(n) for n in batch}, ttl=ttl
            )


async def set_many_rate(url: str, entries: int) -> float:
    async with PostgresStorage(url, table="scratch") as storage:
        started = time.perf_counter()
        for start in range(0, entries, BATCH):
            await storage.set_many(
                "scratch", {f"k{n:08}": entry(n) for n in range(start, min(start + BATCH, entries))}
            )
        rate = entries / (time.perf_counter() - started)
        await storage.clear("scratch")
    return rate


def copy_with_peak_rss(source: str, destination: str) -> tuple[float, float, str]:
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "radaros", "copy", source, destination],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    _, stderr = child.communicate()
    return time.perf_counter() - started, peak / 2**20, stderr.strip()


async def counts(source: str, destination: str) -> list[tuple[int, int]]:
    from radaros import open_storage

    async with open_storage(source) as ours, open_storage(destination) as theirs:
        return [
            (await ours.count(f"ns{i}"), await theirs.count(f"ns{i}")) for i in range(NAMESPACES)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    from tests.support.servers import EmbeddedPostgres

    server = EmbeddedPostgres()
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "big.db"
            started = time.perf_counter()
            asyncio.run(fill(path, args.entries))
            print(f"# filled {args.entries} entries in {time.perf_counter() - started:.0f} s")
            rate = asyncio.run(set_many_rate(server.url, min(args.entries, 200_000)))
            seconds, peak_mib, summary = copy_with_peak_rss(f"sqlite:///{path}", server.url)
            copy_rate = args.entries / seconds
            print(summary)
            print(f"PostgreSQL set_many: {rate:,.0f} entries/s")
            print(
                f"copy: {copy_rate:,.0f} entries/s ({copy_rate / rate:.2f}x set_many), "
                f"{seconds:.0f} s, peak RSS {peak_mib:.0f} MiB"
            )
            pairs = asyncio.run(counts(f"sqlite:///{path}", server.url))
            print(f"live counts (source, destination): {pairs}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
