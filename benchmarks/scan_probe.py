"""Peak RSS growth of one scan, in a fresh process that does nothing else.

    python -m benchmarks.scan_probe URL '{"table": "bench_kv"}' NAMESPACE

Prints JSON: entries, seconds, entries_per_s, peak_rss_growth_mib. The baseline RSS is taken
after the driver is open and has answered one query, so imports and connections are not
counted; the peak is sampled every 2 ms on a thread.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

import psutil

from radaros.storage import StorageDriver, open_storage


async def measure_scan(storage: StorageDriver, namespace: str) -> dict[str, Any]:
    """Scan `namespace` (page size 1000); entries, rate and peak RSS growth during the scan."""
    process = psutil.Process()
    baseline = peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    entries = 0
    async for _ in storage.scan(namespace, page_size=1000):
        entries += 1
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "entries": entries,
        "seconds": round(seconds, 2),
        "entries_per_s": round(entries / seconds),
        "peak_rss_growth_mib": round((peak - baseline) / 2**20, 1),
    }


async def probe(url: str, options: dict[str, Any], namespace: str) -> dict[str, Any]:
    async with open_storage(url, **options) as storage:
        await storage.count("warm-up")
        return {**await measure_scan(storage, namespace), "measured_in": "a fresh process"}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]))))
