"""The thread that owns a SQLite connection, for `SqliteStorage`.

Jobs (`work(connection)`) queue for one worker thread, which answers each caller through
`loop.call_soon_threadsafe`. Write jobs that queue up while a commit runs are applied
together in the next transaction, each inside its own SAVEPOINT (one failure touches only
its own caller), and every caller is answered after that COMMIT, with one wake-up of each
caller's loop for the whole batch: group commit. A blocking caller (`SyncStorage`) whose
job finds the worker idle runs it in its own thread, on the same connection, under the lock
the worker holds for each job. Writes take the lock up front (`BEGIN IMMEDIATE`) and retry
`SQLITE_BUSY` until the lock timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from radaros.storage.errors import StorageClosedError

__all__ = ["Connection", "Job", "Stop", "Worker", "is_busy"]

logger = logging.getLogger("radaros.storage")
T = TypeVar("T")
Connection = sqlite3.Connection

BUSY_LOG_S = 1.0
"""A wait for another process's lock at least this long is logged at INFO (else DEBUG)."""
BUSY_TIMEOUT_MS = 100
"""SQLite's own busy handler waits up to this per attempt; our loop retries to the deadline."""
MAX_BATCH = 256
"""Most write jobs committed together."""


def is_busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


@dataclass
class Job:
    """A call for the worker: answered on the caller's event loop, or (`loop` None, from
    a blocking call) straight into its `concurrent.futures.Future`."""

    work: Callable[[Connection], Any]
    is_write: bool
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[Any] | concurrent.futures.Future[Any]
    is_statement: bool = False
    """A write of one statement: alone, it needs no BEGIN and COMMIT of its own."""


@dataclass
class Stop:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _resolve(
    future: asyncio.Future[Any] | concurrent.futures.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    if future.done():  # the caller was cancelled; its job ran (or not) all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _finished(connection: Connection) -> None:
    """What a job's work becomes once it has run."""


def _answer(job: Job | Stop, result: Any = None, error: BaseException | None = None) -> None:
    if type(job) is Job:
        # The work is a closure over the driver: let go of it before the caller resumes,
        # or a driver dropped right after its last call would outlive its last reference.
        job.work = _finished
    if job.loop is None:  # a blocking caller waits on the future itself
        _resolve(job.future, result, error)
        return
    # Not contextlib.suppress: this runs once per call, on the worker's hot path.
    try:  # noqa: SIM105
        job.loop.call_soon_threadsafe(_resolve, job.future, result, error)
    except RuntimeError:  # the caller's loop is closed: nobody waits
        pass


def _resolve_all(answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in answers:
        _resolve(future, result, error)


def _answer_all(batch: list[Job], outcomes: list[tuple[Any, BaseException | None]]) -> None:
    """Answer a committed batch: one wake-up per caller loop, not one per job (16 tasks
    writing at once cost one call_soon_threadsafe, not 16)."""
    if len(batch) == 1:
        _answer(batch[0], *outcomes[0])
        return
    by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
    for job, (result, error) in zip(batch, outcomes, strict=True):
        job.work = _finished
        if job.loop is None:
            _resolve(job.future, result, error)
        else:
            by_loop.setdefault(job.loop, []).append((job.future, result, error))
    for loop, answers in by_loop.items():
        try:  # noqa: SIM105
            loop.call_soon_threadsafe(_resolve_all, answers)
        except RuntimeError:  # that loop is closed: nobody waits
            pass


@dataclass
class Worker:
    """The thread that owns the connection. Reads run alone; writes run in batches."""

    path: str
    synchronous: str
    lock_timeout_s: float
    jobs: queue.SimpleQueue[Job | Stop] = field(default_factory=queue.SimpleQueue)
    connection: Connection | None = None
    is_started: bool = False
    is_stopped: bool = False
    gate: threading.Lock = field(default_factory=threading.Lock)
    busy: threading.Lock = field(default_factory=threading.Lock)
    """Held while a job or batch runs on the connection, by the worker or a caller."""
    thread: threading.Thread | None = None

    def submit(self, job: Job | Stop) -> None:
        """Queue a job, or refuse it once the worker has stopped (it would wait forever)."""
        with self.gate:
            if self.is_stopped:
                raise StorageClosedError("SqliteStorage is closed; create a new driver")
            self.jobs.put(job)

    def run_here(
        self, work: Callable[[Connection], T], *, write: bool, statement: bool = False
    ) -> tuple[bool, T | None]:
        """Run a blocking caller's work in the caller's thread when the worker is idle
        (nothing queued, nothing running): the same connection and transaction, without
        the hand-off to the worker and back. (True, its result), or (False, None): queue
        it (the worker is busy). Its exception propagates."""
        if not self.jobs.empty() or not self.busy.acquire(blocking=False):
            return False, None
        try:
            connection = self.connection
            if self.is_stopped or connection is None:
                return False, None
            if write:
                return True, self._write(connection, work, statement=statement)
            return True, self._read(connection, work)
        finally:
            self.busy.release()

    def start(self) -> None:
        if self.is_started:
            return
        self.is_started = True
        self.thread = threading.Thread(
            target=self._serve, name=f"radaros-sqlite:{self.path}", daemon=True
        )
        self.thread.start()

    def join(self) -> None:
        """Wait for the thread to end once it has answered `Stop` (it only has to return),
        so a closed driver leaves no thread behind."""
        if self.thread is not None:
            self.thread.join()

    def _serve(self) -> None:
        pending: Job | Stop | None = None
        while True:
            job = pending if pending is not None else self.jobs.get()
            pending = None
            with self.busy:
                if isinstance(job, Stop):
                    self._shutdown(job)
                    return
                if job.is_write:
                    pending = self._run_write_batch(job)
                else:
                    self._run_read(job)
            # Drop the finished job before waiting for the next: its closure holds the
            # driver, which could otherwise never be collected (nor warn that it was not
            # closed) while this thread waits.
            job = None  # type: ignore[assignment]

    def _run_write_batch(self, first: Job) -> Job | Stop | None:
        """Commit `first` with the write jobs queued behind it; return the next job that
        is not a write (it runs next), if one was taken from the queue."""
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                follower = self.jobs.get_nowait()
            except queue.Empty:
                break
            if isinstance(follower, Job) and follower.is_write:
                batch.append(follower)
            else:
                self._run_writes(batch)
                return follower
        self._run_writes(batch)
        return None

    def _connection(self) -> Connection:
        if self.connection is None:
            connection = sqlite3.connect(
                self.path,
                isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
            )
            try:
                self._retry_busy(lambda: connection.execute("PRAGMA journal_mode=WAL").fetchone())
                connection.execute(f"PRAGMA synchronous={self.synchronous}")
                connection.execute("PRAGMA foreign_keys=OFF")
            except BaseException:
                connection.close()
                raise
            self.connection = connection
        return self.connection

    def _retry_busy(self, action: Callable[[], T]) -> T:
        started = time.monotonic()
        deadline = started + self.lock_timeout_s
        retries = 0
        while True:
            try:
                result = action()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise
                retries += 1
                time.sleep(0.001)
            else:
                if retries:
                    waited = time.monotonic() - started
                    level = logging.INFO if waited >= BUSY_LOG_S else logging.DEBUG
                    logger.log(level, "%s busy: %d retries, %.2f s", self.path, retries, waited)
                return result

    def _read(self, connection: Connection, work: Callable[[Connection], T]) -> T:
        try:
            return work(connection)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            return self._retry_busy(lambda: work(connection))

    def _write(
        self, connection: Connection, work: Callable[[Connection], T], *, statement: bool
    ) -> T:
        """`work` in a transaction of its own, committed: one statement is its own
        transaction (autocommit; a busy lock makes it retry), more get BEGIN IMMEDIATE."""
        if statement:
            return self._retry_busy(lambda: work(connection))
        self._retry_busy(lambda: connection.execute("BEGIN IMMEDIATE"))
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        return result

    def _run_read(self, job: Job) -> None:
        try:
            result = self._read(self.connection or self._connection(), job.work)
        except BaseException as exc:
            _answer(job, error=exc)
        else:
            _answer(job, result)

    def _run_writes(self, batch: list[Job]) -> None:
        """One job alone in its transaction; several in one, each in a savepoint."""
        outcomes: list[tuple[Any, BaseException | None]]
        try:
            connection = self._connection()
            if len(batch) == 1:
                job = batch[0]
                outcomes = [(self._write(connection, job.work, statement=job.is_statement), None)]
            else:
                outcomes = self._write(
                    connection,
                    lambda connection: [self._apply(connection, job) for job in batch],
                    statement=False,
                )
        except BaseException as exc:
            for job in batch:
                _answer(job, error=exc)
            return
        _answer_all(batch, outcomes)

    @staticmethod
    def _apply(connection: Connection, job: Job) -> tuple[Any, BaseException | None]:
        """One job of a batch, in a savepoint: its failure undoes only its own work."""
        connection.execute("SAVEPOINT job")
        try:
            result = job.work(connection)
        except sqlite3.OperationalError:
            raise  # disk or lock trouble: the whole batch fails and rolls back
        except Exception as exc:
            connection.execute("ROLLBACK TO job")
            connection.execute("RELEASE job")
            return None, exc
        connection.execute("RELEASE job")
        return result, None

    def _shutdown(self, stop: Stop) -> None:
        error: BaseException | None = None
        if self.connection is not None:
            try:
                self.connection.close()
            except sqlite3.Error as exc:
                error = exc
            self.connection = None
        # Anything queued after close() was called is refused, not left waiting.
        with self.gate:
            self.is_stopped = True
        while True:
            try:
                late = self.jobs.get_nowait()
            except queue.Empty:
                break
            if isinstance(late, Job):
                _answer(late, error=StorageClosedError("SqliteStorage was closed"))
        _answer(stop, None, error)
