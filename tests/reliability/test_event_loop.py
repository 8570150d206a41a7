"""Reliability: The event loop never stalls on SQLite's lock.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from radaros.storage import (
    SqliteStorage,
)
from tests.support.drivers import (
    report,
)

pytestmark = pytest.mark.slow


# -- 5: the event loop never stalls on SQLite's lock ------------------------------------------


@pytest.mark.parametrize("size", [100, 8 * 1024 * 1024])
async def test_sqlite_lock_wait_never_stalls_the_event_loop(tmp_path: Path, size: int) -> None:
    """Another process holds the write lock 1.5 s: heartbeat gap <= 100 ms, set lands <= 300 ms
    after the release."""
    path = tmp_path / "stall.db"
    script = textwrap.dedent(f"""
        import sqlite3, time
        connection = sqlite3.connect({str(path)!r}, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        time.sleep(1.5)
        connection.execute("COMMIT")
        print(time.time(), flush=True)
    """)
    async with SqliteStorage(path) as storage:
        await storage.set("ns", "warm", 1)
        gaps: list[float] = []
        running = True

        async def heartbeat() -> None:
            last = time.monotonic()
            while running:
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        holder = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None
        assert (await asyncio.to_thread(holder.stdout.readline)).strip() == "locked"
        await storage.set("ns", "k", "x" * (size - 2))
        landed = time.time()
        released = float(await asyncio.to_thread(holder.stdout.readline))
        running = False
        await beat
        await asyncio.to_thread(holder.wait)
        holder.stdout.close()
    after_release_ms = (landed - released) * 1000
    report(
        f"5 sqlite lock wait, {size} B value: largest heartbeat gap {max(gaps) * 1000:.0f} ms, "
        f"set landed {after_release_ms:.0f} ms after release"
    )
    assert max(gaps) <= 0.100
    assert after_release_ms <= 300
