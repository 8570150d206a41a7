"""`SqliteStorage`: a durable file (WAL) that several processes may share.

Design, chosen by the figures in docs/performance.md:

* One dedicated worker thread owns one `sqlite3` connection; every call goes through
  `_run()`, which queues a job and answers through `loop.call_soon_threadsafe`. This was
  measured faster than `run_in_executor` and than aiosqlite, and keeps the event loop free
  while SQLite waits on disk, fsync or another process's lock.
* Group commit: write jobs that queue up while a commit is running are applied together in
  the next transaction (each inside its own SAVEPOINT, so one failure touches only its own
  caller). Every caller still gets its answer only after that COMMIT: durability per call
  is unchanged, fsyncs are shared.
* Writes take the lock up front (`BEGIN IMMEDIATE`) and retry `SQLITE_BUSY` until
  `lock_timeout_s`; `busy_timeout` alone does not cover a busy BEGIN, a checkpoint or the
  first `journal_mode=WAL` on a new file (SQLite docs: "isolation", "wal").
* A transaction never spans an `await`: a cancelled caller can never leave one open.
* Point reads (`get`, `ttl`) run in the caller's thread, on a read-only connection of that
  thread: a primary-key lookup takes microseconds, less than waking the worker and
  answering back (measured about 10x faster, docs/performance.md). WAL readers never wait
  for writers; a read that finds the file locked anyway (recovery, a checkpoint) does not
  wait on the event loop but goes to the worker, which retries. `inline_reads=False` sends
  them to the worker like everything else (for a file on slow or network storage).
* Prefix queries are `key >= prefix AND key < upper` on the (namespace, key) primary key
  index: no LIKE, so `%` and `_` are data, and BINARY collation is code point order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar, cast

from radaros.storage.base import StorageDriver, added
from radaros.storage.codec import decode
from radaros.storage.errors import (
    ErrorRule,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
    ValueTooLargeError,
)
from radaros.storage.primitives import Keep
from radaros.storage.sqlite_worker import Connection, Job, Stop, Worker, is_busy
from radaros.storage.url import split_query
from radaros.storage.validate import (
    check_durations,
    check_identifier,
    prefix_upper_bound,
)

__all__ = ["SqliteStorage", "Statements"]

SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 30.0
MAX_PARAMETERS = 500
"""Keys bound in one `IN (...)` (SQLite's default limit is 999 or 32766 by version)."""

T = TypeVar("T")


def _is_too_big(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.Error) and "too big" in str(exc).lower()


def _expiry(now: float, ttl: float | None) -> float | None:
    return None if ttl is None or ttl == math.inf else now + ttl


def _remaining(expires_at: float | None, now: float) -> float:
    return math.inf if expires_at is None else expires_at - now


class SqliteStorage(StorageDriver):
    """A SQLite file in WAL mode, shared safely by tasks, instances and processes.

    `path` may be a filesystem path or ":memory:" (private to this instance). Options:
    `table` (an identifier), `synchronous` ("FULL" default: a write survives power loss;
    "NORMAL" survives a process crash only and commits faster), `lock_timeout_s` (how long
    a write waits for another process's lock before StorageConnectionError), and
    `inline_reads` (default True: `get` and `ttl` read in the caller's thread; False:
    every call goes to the worker thread).
    """

    max_value_bytes = 512 * 1024 * 1024  # SQLite's own limit is 1e9 bytes per value
    db_system = "sqlite"
    serves_blocking = True  # SyncStorage: a get reads in its caller's thread, a set is one hand-off

    def __init__(
        self,
        path: str | os.PathLike[str] = "radaros.db",
        *,
        table: str = "radaros_kv",
        synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL",
        lock_timeout_s: float = LOCK_TIMEOUT_S,
        inline_reads: bool = True,
    ) -> None:
        super().__init__()
        self._path = os.fspath(path)
        if not isinstance(inline_reads, bool):
            raise TypeError(f"inline_reads must be True or False, not {inline_reads!r}")
        self._inline_reads = inline_reads and self._path not in ("", ":memory:")
        self._readers = threading.local()  # this thread's read connection, as `.reader`
        self._reader_connections: set[Connection] = set()
        self._readers_lock = threading.Lock()
        self._table = check_identifier(table)
        if isinstance(synchronous, str):
            synchronous = synchronous.upper()  # type: ignore[assignment]
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        check_durations(lock_timeout_s=lock_timeout_s)
        self._worker = Worker(self._path, synchronous, lock_timeout_s)
        self._sql = Statements(self._table)

    @classmethod
    def _split_url(cls, url: str) -> tuple[tuple[Any, ...], dict[str, str]]:
        rest, options = split_query(url)
        path = rest.partition("://")[2]
        if not path.startswith("/") or len(path) < 2:
            raise ValueError(
                "SQLite URLs are sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        return (path[1:],), options

    @property
    def path(self) -> str:
        return self._path

    @property
    def statements(self) -> Statements:
        """The SQL this driver sends (for tools, and for benchmarks that send the same)."""
        return self._sql

    def _db_namespace(self) -> str | None:
        return self._path

    def _describe(self) -> str:
        return f"sqlite:///{self._path}"

    def _holds_resources(self) -> bool:
        return self._worker.is_started and not self._worker.is_stopped

    # -- plumbing ----------------------------------------------------------------------------

    def _run(
        self, work: Callable[[Connection], T], *, write: bool, statement: bool = False
    ) -> asyncio.Future[T]:
        """Queue `work(connection)` for the worker thread (writes inside a committed
        transaction); await the future for its result. A plain function returning the
        future, not a coroutine: this runs on every call."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._worker.submit(Job(work, write, loop, future, statement))
        return future

    def _run_blocking(
        self, work: Callable[[Connection], T], *, write: bool, statement: bool = False
    ) -> T:
        """`_run` from a thread with no event loop: here when the worker is idle, else
        queued for it (the answer is waited for here)."""
        ran, result = self._worker.run_here(work, write=write, statement=statement)
        if ran:
            return cast(T, result)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._worker.submit(Job(work, write, None, future, statement))  # behind its jobs
        return future.result()

    def _error_rules(self) -> list[ErrorRule]:
        return [
            ErrorRule(_is_too_big, ValueTooLargeError, "value too large for SQLite"),
            ErrorRule(
                is_busy,
                StorageConnectionError,
                "SQLite on {where}: another connection held the lock past lock_timeout_s",
            ),
            ErrorRule(sqlite3.OperationalError, StorageConnectionError, "SQLite failed on {where}"),
            ErrorRule(sqlite3.Error, StorageError, "SQLite failed on {where}"),
        ]

    async def _initialize(self) -> None:
        """Start the worker and create the schema. If that fails (a missing folder, a
        file that is no database), the worker thread ends at once and a fresh one is
        ready, so a failed open leaks nothing and may be retried."""
        self._worker.start()
        try:
            await self._run(self._create_schema, write=True)
        except BaseException:
            worker = self._worker
            self._worker = Worker(worker.path, worker.synchronous, worker.lock_timeout_s)
            await self._stop_worker(worker)
            raise

    def _create_schema(self, connection: Connection) -> None:
        for statement in self._sql.schema:
            connection.execute(statement)
        row = connection.execute(
            "SELECT version FROM radaros_meta WHERE name = ?", (self._table,)
        ).fetchone()
        if row[0] > SCHEMA_VERSION:
            raise StorageError(
                f"table {self._table!r} has schema version {row[0]}, newer than this radaros "
                f"({SCHEMA_VERSION}); upgrade radaros"
            )

    def _opened_partially(self) -> bool:
        return self._worker.is_started

    async def _close(self) -> None:
        with self._readers_lock:
            readers = list(self._reader_connections)
            self._reader_connections.clear()
        for reader in readers:
            with contextlib.suppress(sqlite3.Error):
                reader.close()
        await self._stop_worker(self._worker)

    @staticmethod
    async def _stop_worker(worker: Worker) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        worker.submit(Stop(loop, future))
        try:
            await future
        finally:
            worker.join()

    def _reader(self) -> Connection:
        """This thread's read-only connection (opened on first use)."""
        reader: _ThreadReader | None = getattr(self._readers, "reader", None)
        if reader is not None:
            return reader.connection
        # timeout=0: a locked file raises at once (the caller goes to the worker) rather
        # than sleeping in SQLite's busy handler on the event loop.
        connection = sqlite3.connect(
            self._path, isolation_level=None, timeout=0, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA query_only=ON")
        except BaseException:
            connection.close()
            raise
        with self._readers_lock:
            if self.is_closed:
                connection.close()
                raise StorageClosedError(f"{self!r} is closed")
            self._reader_connections.add(connection)
        reader = self._readers.reader = _ThreadReader(connection)
        # The thread's locals go when it ends, and its connection with them: a SyncStorage
        # used from short-lived threads keeps no connection per thread it ever saw.
        weakref.finalize(
            reader, _close_reader, self._reader_connections, self._readers_lock, connection
        )
        return connection

    def _read_inline(self, sql: str, params: tuple[Any, ...]) -> list[Any] | None:
        """The rows of a point read run here and now, or None if the file was locked."""
        try:
            return self._reader().execute(sql, params).fetchall()  # fetchall: ends the read
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                return None
            raise

    # -- primitives --------------------------------------------------------------------------

    async def _get(self, namespace: str, key: str) -> str | None:
        if self._inline_reads:
            rows = self._read_inline(self._sql.get, (namespace, key, time.time()))
            if rows is not None:
                return rows[0][0] if rows else None
        return await self._run(self._get_work(namespace, key), write=False)

    def _get_blocking(self, namespace: str, key: str) -> str | None:
        if self._inline_reads:
            rows = self._read_inline(self._sql.get, (namespace, key, time.time()))
            if rows is not None:
                return rows[0][0] if rows else None
        return self._run_blocking(self._get_work(namespace, key), write=False)

    def _get_work(self, namespace: str, key: str) -> Callable[[Connection], str | None]:
        sql = self._sql.get

        def work(connection: Connection) -> str | None:
            row = connection.execute(sql, (namespace, key, time.time())).fetchone()
            return None if row is None else row[0]

        return work

    async def _get_many(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        return await self._run(self._get_many_work(namespace, keys), write=False)

    def _get_many_blocking(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        return self._run_blocking(self._get_many_work(namespace, keys), write=False)

    def _get_many_work(
        self, namespace: str, keys: Sequence[str]
    ) -> Callable[[Connection], list[str | None]]:
        def work(connection: Connection) -> list[str | None]:
            now = time.time()
            found: dict[str, str] = {}
            distinct = list(dict.fromkeys(keys))
            for start in range(0, len(distinct), MAX_PARAMETERS):
                chunk = distinct[start : start + MAX_PARAMETERS]
                sql = self._sql.get_many(len(chunk))
                found.update(connection.execute(sql, (namespace, now, *chunk)).fetchall())
            return [found.get(key) for key in keys]

        return work

    async def _put_many(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        work = self._put_many_work(namespace, items, ttl)
        await self._run(work, write=True, statement=len(items) == 1)

    def _put_many_blocking(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        work = self._put_many_work(namespace, items, ttl)
        self._run_blocking(work, write=True, statement=len(items) == 1)

    def _put_many_work(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> Callable[[Connection], None]:
        def work(connection: Connection) -> None:
            expires_at = _expiry(time.time(), ttl)
            if len(items) == 1:
                key, stored = items[0]
                connection.execute(self._sql.put, (namespace, key, stored, expires_at))
            else:
                connection.executemany(
                    self._sql.put, [(namespace, key, stored, expires_at) for key, stored in items]
                )

        return work

    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> int:
        return await self._run(self._delete_many_work(namespace, keys), write=True)

    def _delete_many_blocking(self, namespace: str, keys: Sequence[str]) -> int:
        return self._run_blocking(self._delete_many_work(namespace, keys), write=True)

    def _delete_many_work(self, namespace: str, keys: Sequence[str]) -> Callable[[Connection], int]:
        def work(connection: Connection) -> int:
            # One write transaction: the count and the delete see the same rows.
            now = time.time()
            live = 0
            for start in range(0, len(keys), MAX_PARAMETERS):
                chunk = keys[start : start + MAX_PARAMETERS]
                count_sql, delete_sql = self._sql.delete_many(len(chunk))
                live += connection.execute(count_sql, (namespace, now, *chunk)).fetchone()[0]
                connection.execute(delete_sql, (namespace, *chunk))
            return live

        return work

    async def _page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> list[tuple[str, str, float]]:
        sql, params = self._sql.page(namespace, low, high, after, limit, reverse)

        def work(connection: Connection) -> list[tuple[str, str, float]]:
            now = time.time()
            rows = connection.execute(sql, (now, *params)).fetchall()
            return [(key, stored, _remaining(expires_at, now)) for key, stored, expires_at in rows]

        return await self._run(work, write=False)

    async def _ttl(self, namespace: str, key: str) -> float | None:
        if self._inline_reads:
            now = time.time()
            rows = self._read_inline(self._sql.expiry, (namespace, key, now))
            if rows is not None:
                return _remaining(rows[0][0], now) if rows else None

        def work(connection: Connection) -> float | None:
            now = time.time()
            row = connection.execute(self._sql.expiry, (namespace, key, now)).fetchone()
            return None if row is None else _remaining(row[0], now)

        return await self._run(work, write=False)

    async def _touch(self, namespace: str, key: str, ttl: float | None) -> bool:
        def work(connection: Connection) -> bool:
            now = time.time()
            params = (_expiry(now, ttl), namespace, key, now)
            return connection.execute(self._sql.touch, params).rowcount == 1

        return await self._run(work, write=True)

    async def _count(self, namespace: str, prefix: str) -> int:
        sql, params = self._sql.range(
            "SELECT count(*)", namespace, prefix, prefix_upper_bound(prefix), None, None
        )

        def work(connection: Connection) -> int:
            return int(connection.execute(sql, (time.time(), *params)).fetchone()[0])

        return await self._run(work, write=False)

    async def _clear(self, namespace: str, prefix: str) -> int:
        count_sql, params = self._sql.range(
            "SELECT count(*)", namespace, prefix, prefix_upper_bound(prefix), None, None
        )
        delete_sql = self._sql.clear(bool(prefix), prefix_upper_bound(prefix) is not None)

        def work(connection: Connection) -> int:
            live = int(connection.execute(count_sql, (time.time(), *params)).fetchone()[0])
            connection.execute(delete_sql, params)
            return live

        return await self._run(work, write=True)

    async def _namespaces(self, prefix: str) -> list[str]:
        upper = prefix_upper_bound(prefix)

        def work(connection: Connection) -> list[str]:
            rows = connection.execute(
                self._sql.namespaces, (prefix, upper, upper, time.time())
            ).fetchall()
            return [row[0] for row in rows]

        return await self._run(work, write=False)

    async def _add(self, namespace: str, key: str, stored: str, ttl: float | None) -> bool:
        def work(connection: Connection) -> bool:
            now = time.time()
            params = (namespace, key, stored, _expiry(now, ttl), now)
            return connection.execute(self._sql.add, params).rowcount == 1

        return await self._run(work, write=True)

    async def _replace_if(
        self, namespace: str, key: str, expected: str, stored: str, ttl: float | Keep | None
    ) -> bool:
        def work(connection: Connection) -> bool:
            now = time.time()
            if isinstance(ttl, Keep):
                params: tuple[Any, ...] = (stored, namespace, key, expected, now)
                cursor = connection.execute(self._sql.replace_keep_expiry, params)
            else:
                params = (stored, _expiry(now, ttl), namespace, key, expected, now)
                cursor = connection.execute(self._sql.replace_new_expiry, params)
            return cursor.rowcount == 1

        return await self._run(work, write=True)

    async def _incr(self, namespace: str, key: str, amount: int, ttl: float | Keep | None) -> int:
        """Read, check and write in one job: inside the worker's write transaction, so no
        other connection or process writes between them."""
        return await self._run(self._incr_work(namespace, key, amount, ttl), write=True)

    async def _incr_put(
        self,
        namespace: str,
        counter: str,
        expiry: float | Keep | None,
        items_of: Callable[[int], Sequence[tuple[str, str]]],
        amount: int,
        ttl: float | None,
    ) -> int:
        """The counter and the values in one job: one transaction, one commit."""
        incr = self._incr_work(namespace, counter, amount, expiry)

        def work(connection: Connection) -> int:
            total = incr(connection)
            self._put_many_work(namespace, items_of(total), ttl)(connection)
            return total

        return await self._run(work, write=True)

    def _incr_work(
        self, namespace: str, key: str, amount: int, ttl: float | Keep | None
    ) -> Callable[[Connection], int]:
        def work(connection: Connection) -> int:
            now = time.time()
            row = connection.execute(self._sql.get, (namespace, key, now)).fetchone()
            result = added(namespace, key, 0 if row is None else decode(row[0]), amount)
            stored = self._dump(result)
            if row is None:
                expires_at = _expiry(now, None if isinstance(ttl, Keep) else ttl)
                connection.execute(self._sql.put, (namespace, key, stored, expires_at))
            elif isinstance(ttl, Keep):
                params: tuple[Any, ...] = (stored, namespace, key, row[0], now)
                connection.execute(self._sql.replace_keep_expiry, params)
            else:
                params = (stored, _expiry(now, ttl), namespace, key, row[0], now)
                connection.execute(self._sql.replace_new_expiry, params)
            return result

        return work

    async def _delete_if(self, namespace: str, key: str, expected: str) -> bool:
        def work(connection: Connection) -> bool:
            params = (namespace, key, expected, time.time())
            return connection.execute(self._sql.delete_if, params).rowcount == 1

        return await self._run(work, write=True)

    async def _sweep_batch(self, limit: int) -> int:
        def work(connection: Connection) -> int:
            return connection.execute(self._sql.sweep, (time.time(), limit)).rowcount

        return await self._run(work, write=True)


class Statements:
    """Every SQL statement SqliteStorage sends, built once per table name (an identifier
    checked before use)."""

    def __init__(self, table: str) -> None:
        self.table = table
        live = "(expires_at IS NULL OR expires_at > ?)"
        self.live = live
        self.schema = [
            f"""CREATE TABLE IF NOT EXISTS {table} (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                expires_at REAL,
                PRIMARY KEY (namespace, key)
            )""",
            f"CREATE INDEX IF NOT EXISTS {table}_expiry ON {table} (expires_at) "
            "WHERE expires_at IS NOT NULL",
            "CREATE TABLE IF NOT EXISTS radaros_meta "
            "(name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
            f"INSERT INTO radaros_meta (name, version) VALUES ('{table}', {SCHEMA_VERSION}) "
            "ON CONFLICT (name) DO NOTHING",
        ]
        self.get = f"SELECT value FROM {table} WHERE namespace = ? AND key = ? AND {live}"
        self.expiry = f"SELECT expires_at FROM {table} WHERE namespace = ? AND key = ? AND {live}"
        self.put = (
            f"INSERT INTO {table} (namespace, key, value, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at"
        )
        self.touch = f"UPDATE {table} SET expires_at = ? WHERE namespace = ? AND key = ? AND {live}"
        self.add = (
            f"INSERT INTO {table} (namespace, key, value, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
            f"expires_at = excluded.expires_at WHERE {table}.expires_at <= ?"
        )
        self.replace_keep_expiry = (
            f"UPDATE {table} SET value = ? WHERE namespace = ? AND key = ? AND value = ? AND {live}"
        )
        self.replace_new_expiry = (
            f"UPDATE {table} SET value = ?, expires_at = ? "
            f"WHERE namespace = ? AND key = ? AND value = ? AND {live}"
        )
        self.delete_if = (
            f"DELETE FROM {table} WHERE namespace = ? AND key = ? AND value = ? AND {live}"
        )
        self.sweep = (
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
            "WHERE expires_at <= ? LIMIT ?)"
        )
        # A loose index scan: jump from one namespace to the next on the primary key index
        # instead of reading every row (SQLite docs: "skip-scan"; a recursive CTE does it).
        # The recursion stops at the prefix's upper bound, so namespaces after it cost nothing.
        live_at_4 = live.replace("?", "?4")
        self.namespaces = f"""
            WITH RECURSIVE names(name) AS (
                SELECT (SELECT min(namespace) FROM {table} WHERE namespace >= ?1)
                UNION ALL
                SELECT (SELECT min(namespace) FROM {table} WHERE namespace > names.name)
                FROM names WHERE names.name IS NOT NULL AND (?2 IS NULL OR names.name < ?3)
            )
            SELECT name FROM names
            WHERE name IS NOT NULL AND (?2 IS NULL OR name < ?3)
              AND EXISTS (SELECT 1 FROM {table} WHERE namespace = name AND {live_at_4})
        """
        self._get_many: dict[int, str] = {}
        self._delete_many: dict[int, tuple[str, str]] = {}
        self._ranges: dict[tuple[str, bool, bool, bool, bool, str], str] = {}

    def get_many(self, count: int) -> str:
        sql = self._get_many.get(count)
        if sql is None:
            marks = ",".join("?" * count)
            sql = self._get_many[count] = (
                f"SELECT key, value FROM {self.table} WHERE namespace = ? AND {self.live} "
                f"AND key IN ({marks})"
            )
        return sql

    def delete_many(self, count: int) -> tuple[str, str]:
        """(count the live ones, delete all) for `count` keys."""
        pair = self._delete_many.get(count)
        if pair is None:
            marks = ",".join("?" * count)
            pair = self._delete_many[count] = (
                f"SELECT count(*) FROM {self.table} WHERE namespace = ? AND {self.live} "
                f"AND key IN ({marks})",
                f"DELETE FROM {self.table} WHERE namespace = ? AND key IN ({marks})",
            )
        return pair

    def page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> tuple[str, tuple[Any, ...]]:
        """A page of (key, value, expires_at) rows in key order (descending with
        `reverse`); pass `(now, *params)`."""
        order = "DESC" if reverse else "ASC"
        select = "SELECT key, value, expires_at"
        return self.range(select, namespace, low, high, after, limit, order=order)

    def range(
        self,
        select: str,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        *,
        order: str = "",
    ) -> tuple[str, tuple[Any, ...]]:
        """A `select` over the live keys of a namespace with `low <= key < high`, past
        `after` in the direction of `order` ("ASC", "DESC" or "" for unordered). The
        liveness test comes first, so callers pass `(now, *params)`."""
        shape = (select, bool(low), high is not None, after is not None, limit is not None, order)
        params: list[Any] = [namespace]
        if low:
            params.append(low)
        if high is not None:
            params.append(high)
        if after is not None:
            params.append(after)
        if limit is not None:
            params.append(limit)
        sql = self._ranges.get(shape)
        if sql is None:
            where = [self.live, "namespace = ?"]
            if low:
                where.append("key >= ?")
            if high is not None:
                where.append("key < ?")
            if after is not None:
                where.append("key < ?" if order == "DESC" else "key > ?")
            order = f" ORDER BY key {order}" if order else ""
            limit_sql = " LIMIT ?" if limit is not None else ""
            sql = self._ranges[shape] = (
                f"{select} FROM {self.table} WHERE {' AND '.join(where)}{order}{limit_sql}"
            )
        return sql, tuple(params)

    def clear(self, has_prefix: bool, has_upper: bool) -> str:
        where = ["namespace = ?"]
        if has_prefix:
            where.append("key >= ?")
            if has_upper:
                where.append("key < ?")
        return f"DELETE FROM {self.table} WHERE {' AND '.join(where)}"


class _ThreadReader:
    """A thread's read-only connection, held in the thread's locals (so it dies with them)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection


def _close_reader(readers: set[Connection], lock: threading.Lock, connection: Connection) -> None:
    with lock:
        readers.discard(connection)
    with contextlib.suppress(sqlite3.Error):
        connection.close()
