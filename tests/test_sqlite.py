"""What is specific to SqliteStorage: processes sharing one file, locks, crashes, the index."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radaros.storage import InMemoryStorage, SqliteStorage, StorageConnectionError, StorageError
from radaros.storage import lifecycle as lifecycle_module
from radaros.storage.sqlite import Statements, _ThreadReader
from radaros.storage.sqlite_worker import Stop

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def write_lock_held(path: Path, seconds: float) -> Iterator[None]:
    """Another process takes SQLite's write lock and keeps it for `seconds`."""
    script = textwrap.dedent(f"""
        import sqlite3, sys, time
        connection = sqlite3.connect({str(path)!r}, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        time.sleep({seconds})
        connection.execute("COMMIT")
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "locked"
        yield
    finally:
        child.wait(timeout=10)
        child.stdout.close()


async def test_lock_held_past_the_timeout_raises_connection_error(tmp_path: Path) -> None:
    """A lock held longer than lock_timeout_s surfaces as StorageConnectionError, not 'locked'."""
    path = tmp_path / "timeout.db"
    async with SqliteStorage(path, lock_timeout_s=0.3) as storage:
        await storage.set("ns", "k", 1)
        with write_lock_held(path, 1.5), pytest.raises(StorageConnectionError, match="lock"):
            await storage.set("ns", "k", 2)
        await storage.set("ns", "k", 3)
        assert await storage.get("ns", "k") == 3


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    """Every set acknowledged before kill -9 is in the file, which passes integrity_check."""
    path = tmp_path / "crash.db"
    script = textwrap.dedent(f"""
        import asyncio, sys
        from radaros.storage import SqliteStorage
        async def main():
            async with SqliteStorage({str(path)!r}) as storage:
                i = 0
                while True:
                    writes = (storage.set("ns", f"k{{i + j}}", i + j) for j in range(4))
                    await asyncio.gather(*writes)
                    print(i + 3, flush=True)
                    i += 4
        asyncio.run(main())
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    acknowledged = -1
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 200:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()

    async def read_back() -> list[Any]:
        async with SqliteStorage(path) as storage:
            return await storage.get_many("ns", [f"k{i}" for i in range(acknowledged + 1)])

    assert asyncio.run(read_back()) == list(range(acknowledged + 1))


async def test_cancelled_operations_leave_no_transaction_open(tmp_path: Path) -> None:
    """Cancelling callers mid-flight never leaves a transaction (or the write lock) held."""
    path = tmp_path / "cancel.db"
    async with SqliteStorage(path) as storage:
        for i in range(300):
            task = asyncio.ensure_future(storage.set("ns", f"k{i}", i))
            await asyncio.sleep(0)
            task.cancel()
        await asyncio.gather(*(storage.set("ns", f"after{i}", i) for i in range(100)))
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        other.execute("BEGIN IMMEDIATE")  # the lock is free: nothing was left open
        other.execute("ROLLBACK")
        other.close()
        assert await storage.count("ns", "after") == 100


async def test_expired_rows_are_reclaimed_without_user_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a sweep interval, a write deletes expired rows from the file itself."""
    monkeypatch.setattr(lifecycle_module, "SWEEP_INTERVAL_S", 0.0)
    path = tmp_path / "sweep.db"
    async with SqliteStorage(path) as storage:
        await storage.set_many("ns", {f"k{i}": i for i in range(50)}, ttl=0.1)
        await asyncio.sleep(0.2)
        await storage.set("ns", "trigger", 1)
        for _ in range(100):
            await asyncio.sleep(0.02)
            with contextlib.closing(sqlite3.connect(path)) as connection:
                rows = connection.execute("SELECT count(*) FROM radaros_kv").fetchone()[0]
            if rows <= 1:
                break
        assert rows == 1


def test_prefix_and_namespace_queries_use_the_primary_key_index() -> None:
    """EXPLAIN QUERY PLAN: prefix pages, counts and namespaces search the index, never scan."""
    connection = sqlite3.connect(":memory:")  # closed at the end of the test
    statements = Statements("radaros_kv")
    for statement in statements.schema:
        connection.execute(statement)
    queries = [
        statements.range("SELECT key, value", "ns", "user:", "user;", "user:5", 100),
        statements.range("SELECT count(*)", "ns", "a%_", "a%`", None, None),
        statements.page("ns", "user:", "user;", "user:5", 100, True),
        (statements.get, ("ns", "k")),
    ]
    for sql, params in queries:
        plan = " ".join(
            row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", (0, *params))
        )
        assert "USING INDEX sqlite_autoindex_radaros_kv_1" in plan, plan
        assert "SCAN" not in plan, plan
    plan = " ".join(
        row[3]
        for row in connection.execute(
            f"EXPLAIN QUERY PLAN {statements.namespaces}", ("", None, None, 0)
        )
    )
    assert "SCAN radaros_kv" not in plan, plan
    connection.close()


def test_table_name_must_be_an_identifier(tmp_path: Path) -> None:
    """A table name that is not an identifier raises ValueError before any file is touched."""
    for bad in ["kv; DROP TABLE x", "1kv", "kv-1", "", "k v", "a" * 64, 'kv"']:
        with pytest.raises(ValueError, match="table name"):
            SqliteStorage(tmp_path / "never.db", table=bad)
    assert not (tmp_path / "never.db").exists()


async def test_two_tables_in_one_file_are_independent(tmp_path: Path) -> None:
    """The table option lets two stores share a file without seeing each other."""
    path = tmp_path / "shared.db"
    async with (
        SqliteStorage(path, table="first") as first,
        SqliteStorage(path, table="second") as second,
    ):
        await first.set("ns", "k", 1)
        assert await second.get("ns", "k") is None


async def test_group_commit_returns_each_result_to_its_caller(tmp_path: Path) -> None:
    """Batched writes still answer each caller separately, failures included."""
    async with SqliteStorage(tmp_path / "batch.db") as storage:
        await storage.set("ns", "text", "not a list")
        results = await asyncio.gather(
            *(storage.set("ns", f"k{i}", i) for i in range(50)),
            storage.append("ns", "text", [1]),
            *(storage.add("ns", f"k{i}", -1) for i in range(50)),
            return_exceptions=True,
        )
        assert results[:50] == [None] * 50
        assert isinstance(results[50], TypeError)
        assert results[51:] == [False] * 50
        assert await storage.get_many("ns", [f"k{i}" for i in range(50)]) == list(range(50))


async def test_dropping_an_open_driver_warns(tmp_path: Path) -> None:
    """A driver dropped while open gives a ResourceWarning naming it (as aiosqlite does); the
    in-memory driver holds nothing and stays silent."""
    storage = SqliteStorage(tmp_path / "dropped.db")
    await storage.set("ns", "k", 1)
    worker = storage._worker
    with pytest.warns(ResourceWarning, match="unclosed SqliteStorage"):
        del storage
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[Any] = loop.create_future()
    worker.submit(Stop(loop, stopped))  # what close() would have done
    await stopped
    memory = InMemoryStorage()
    await memory.set("ns", "k", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del memory
        gc.collect()  # would raise here if the in-memory driver warned


class LockedOut(sqlite3.Connection):
    """A test double: a read connection that finds the file locked. WAL readers are locked
    out only in moments that cannot be produced on cue (recovery, some checkpoints)."""

    def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        raise sqlite3.OperationalError("database is locked")


async def test_a_read_that_finds_the_file_locked_goes_to_the_worker(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "x.db") as storage:
        await storage.set("ns", "k", {"v": 1}, ttl=3600)
        locked = sqlite3.connect(tmp_path / "x.db", factory=LockedOut, check_same_thread=False)
        storage._readers.reader = _ThreadReader(locked)
        storage._reader_connections.add(locked)
        assert await storage.get("ns", "k") == {"v": 1}
        assert 3500 < (await storage.ttl("ns", "k") or 0) <= 3600
        assert await storage.get("ns", "absent") is None


async def test_reads_in_the_worker_when_inline_reads_is_off(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "x.db", inline_reads=False) as storage:
        await storage.set("ns", "k", 1, ttl=60)
        assert await storage.get("ns", "k") == 1
        assert 0 < (await storage.ttl("ns", "k") or 0) <= 60
        assert storage._reader_connections == set()
    with pytest.raises(TypeError, match="inline_reads"):
        SqliteStorage(tmp_path / "y.db", inline_reads="no")  # type: ignore[arg-type]


async def test_each_thread_reads_on_its_own_connection_and_close_closes_them(
    tmp_path: Path,
) -> None:
    storage = SqliteStorage(tmp_path / "x.db")
    await storage.set("ns", "k", "v")
    assert await storage.get("ns", "k") == "v"
    assert await asyncio.to_thread(asyncio.run, storage.get("ns", "k")) == "v"
    readers = list(storage._reader_connections)
    assert len(readers) == 2
    await storage.close()
    assert storage._reader_connections == set()
    for reader in readers:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            reader.execute("SELECT 1")


async def test_a_failed_initialize_leaves_no_thread_and_can_be_retried(tmp_path: Path) -> None:
    """Opening a file in a missing folder fails without leaking the worker thread; once the
    folder exists, the same driver opens."""
    before = threading.active_count()
    storage = SqliteStorage(tmp_path / "missing" / "x.db")
    for _ in range(5):
        with pytest.raises(StorageError):
            await storage.initialize()
    assert threading.active_count() == before
    (tmp_path / "missing").mkdir()
    await storage.initialize()
    await storage.set("ns", "k", 1)
    assert await storage.get("ns", "k") == 1
    await storage.close()
    assert threading.active_count() == before
