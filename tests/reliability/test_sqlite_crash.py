"""Reliability: SQLite under kill -9 and cross-process contention.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from radaros import ChatHistory
from radaros.storage import (
    SqliteStorage,
)
from tests.support.drivers import (
    report,
)
from tests.support.reliability import SCALE
from tests.support.workers_spawn import spawn_workers

pytestmark = pytest.mark.slow


# -- 1, 2: SQLite under kill -9 and cross-process contention ----------------------------------


class Writer:
    """A crash-writer process and the acknowledgements it printed."""

    def __init__(self, url: str, worker: int, stop_file: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.workers",
                "crash-writer",
                url,
                "--worker",
                str(worker),
                "--stop-file",
                str(stop_file),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith("\n"):  # a line cut by kill -9 is not an acknowledgement
                self.lines.append(line.rstrip("\n"))

    def acknowledged(self) -> int:
        return sum(1 for line in self.lines if line[:1] in "SAUH")

    def finish(self) -> None:
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def test_sqlite_crash_loop_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """3 writers, kill -9 one every 10-150 ms, 150 kills: nothing acknowledged is lost."""
    path = tmp_path / "crash.db"
    url = f"sqlite:///{path}"
    stop_file = tmp_path / "stop"
    kills_wanted = 150 * SCALE
    rng = random.Random(1)
    writers = {worker: Writer(url, worker, stop_file) for worker in range(3)}
    finished: list[Writer] = []
    kills = 0
    integrity_failures = 0
    started = time.monotonic()
    while (
        kills < kills_wanted or sum(w.acknowledged() for w in [*finished, *writers.values()]) < 3000
    ):
        time.sleep(rng.uniform(0.010, 0.150))
        ready = [worker for worker, writer in writers.items() if writer.acknowledged() > 0]
        if not ready:
            continue
        victim = rng.choice(ready)
        os.kill(writers[victim].process.pid, signal.SIGKILL)
        writers[victim].finish()
        finished.append(writers[victim])
        kills += 1
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
            if connection.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                integrity_failures += 1
        writers[victim] = Writer(url, victim, stop_file)
        assert time.monotonic() - started < 600, "crash loop did not finish in 10 minutes"
    stop_file.touch()
    survivors = list(writers.values())
    for writer in survivors:
        writer.finish()
    every = [*finished, *survivors]
    lines = [line for writer in every for line in writer.lines]
    locked = sum(1 for line in lines if "locked" in line.lower())
    errors = [line for line in lines if line.startswith("E ")]
    sets = {line.split()[1]: int(line.split()[2]) for line in lines if line.startswith("S ")}
    appended = [line.split()[1] for line in lines if line.startswith("A ")]
    counts: dict[str, int] = {}
    for line in lines:
        if line.startswith("U "):
            _, tag, count = line.split()
            counts[tag] = max(counts.get(tag, 0), int(count))

    chatted = {line.split()[1]: int(line.split()[2]) for line in lines if line.startswith("H ")}

    async def read_back() -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        async with SqliteStorage(path) as storage:
            return (
                await storage.get_many("set", list(sets)),
                await storage.get("log", "items", []),
                await storage.get_many("counter", list(counts)),
                await ChatHistory(storage, "crash-chat").messages(),
            )

    stored_sets, items, stored_counts, messages = asyncio.run(read_back())
    texts = [message["text"] for message in messages]
    lost_messages = sum(1 for text in chatted if text not in set(texts))
    # Acknowledged messages are stored in the order of the totals their adds returned.
    acked_order = sorted(chatted, key=chatted.__getitem__)
    in_order = [text for text in texts if text in chatted] == acked_order
    lost_sets = sum(1 for key, got in zip(sets, stored_sets, strict=True) if got != sets[key])
    item_counts = Counter(items)
    lost_items = sum(1 for item in appended if item_counts[item] == 0)
    duplicated = sum(1 for count in item_counts.values() if count > 1)
    duplicated += len(texts) - len(set(texts))
    lost_counts = sum(
        1
        for (tag, acked), got in zip(counts.items(), stored_counts, strict=True)
        if got is None or not acked <= got <= acked + 1
    )
    acknowledged = len(sets) + len(appended) + sum(counts.values()) + len(chatted)
    lost = lost_sets + lost_items + lost_counts + lost_messages
    report(
        f"1 sqlite crash loop: {kills} kills, {acknowledged} acknowledged writes "
        f"({len(chatted)} chat messages), {lost} lost, {duplicated} duplicated items, "
        f"{integrity_failures} integrity failures, {locked} 'database is locked', "
        f"{len(errors)} errors in survivors"
    )
    assert kills >= kills_wanted
    assert acknowledged >= 3000
    assert lost_sets == lost_items == lost_counts == lost_messages == duplicated == 0
    assert in_order
    assert integrity_failures == 0
    assert locked == 0
    assert errors == []


def test_sqlite_cross_process_contention_is_exact(tmp_path: Path) -> None:
    """8 processes x 250 update(+1) on one key and 8 x 250 appends: exactly 2,000 and 2,000."""
    url = f"sqlite:///{tmp_path}/contention.db"
    count = 250 * SCALE
    started = time.monotonic()
    results = spawn_workers("increment", url, 8, count=count)
    results += spawn_workers("append", url, 8, count=count)
    elapsed = time.monotonic() - started
    errors = sum(len(result["errors"]) for result in results)

    async def read_back() -> tuple[Any, Any]:
        async with SqliteStorage(tmp_path / "contention.db") as storage:
            return await storage.get("workers", "counter"), await storage.get("workers", "log")

    counter, log = asyncio.run(read_back())
    report(
        f"2 sqlite contention: 8 processes, counter {counter}/{8 * count}, "
        f"{len(set(log))} unique of {len(log)} items/{8 * count}, {errors} errors, {elapsed:.1f} s"
    )
    assert counter == 8 * count
    assert len(log) == len(set(log)) == 8 * count
    assert errors == 0
