"""The blocking API: every method of a driver, for scripts, notebooks, WSGI apps and Django.

```python
from radaros.sync import open_storage

with open_storage("sqlite:///app.db") as storage:
    storage.set("prefs", "theme", "dark")
    print(storage.get("prefs", "theme"))
```

Each `SyncStorage` runs its driver on an event loop of its own, in one background thread:
a driver binds to the loop it was opened on, and this loop is the only one it ever sees.
On memory and SQLite, `get`, `set`, `delete` and their batches skip that trip: once the
driver is open they run in the calling thread (SQLite: a read on the thread's own read-only
connection, a write handed straight to the worker thread), a few microseconds instead of a
hop to the loop thread and back. On PostgreSQL and Redis they run in the calling thread on
a connection of that thread's own (`radaros.sync.threads`).
So a `SyncStorage` is safe to share between threads, works where an event loop is already
running in the calling thread (Jupyter), and never nests `asyncio.run`. Functions given to
`update` run on that background thread, and cannot call the storage itself.

The thread and its event loop live from construction to `close()`. An `open()` that
fails ends them, and so does dropping a storage nobody closed (with a ResourceWarning,
as for an unclosed driver). A storage opened before `os.fork()` cannot be used in the
child (its thread did not survive the fork): open a new one there.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextlib
import os
import threading
import warnings
import weakref
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from radaros.collection import Collection
from radaros.lock import Lock
from radaros.sessions import ChatHistory, Sessions, Summaries
from radaros.storage.base import StorageDriver
from radaros.storage.errors import StorageClosedError, StorageError
from radaros.storage.lifecycle import State
from radaros.storage.protocol import DEFAULT_PAGE_SIZE, TTL, UNREAD, Entry, KeyValue, TTLEntry
from radaros.storage.schemes import open_storage as open_async_storage
from radaros.sync.layers import (
    SyncChatHistory,
    SyncCollection,
    SyncLock,
    SyncSessions,
    SyncSummaries,
    blocking,
)
from radaros.sync.threads import THREAD_CONNECTIONS, ThreadConnections

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["SyncStorage", "open_storage"]

T = TypeVar("T")
D = TypeVar("D")
M = TypeVar("M")
CLOSE_WAIT_S = 10.0
"""How long `close()` waits for the driver to close before stopping the loop anyway (the
driver's own close is bounded well below this)."""


def open_storage(url: str | None = None, **options: Any) -> SyncStorage:
    """A `SyncStorage` for `url` (as `radaros.open_storage`); opened by `with` or `open()`."""
    return SyncStorage(open_async_storage(url, **options))


class _Loop:
    """An event loop on a daemon thread, and blocking calls into it."""

    def __init__(self, name: str) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.stopped = False
        self.lock = threading.Lock()
        self.waiting: set[concurrent.futures.Future[Any]] = set()
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        # Under the lock a call is either submitted before stop() (so stop() ends it,
        # never leaving it stranded on a stopped loop) or refused.
        self.check_process(coroutine)
        with self.lock:
            if self.stopped:
                coroutine.close()
                raise StorageClosedError("this SyncStorage is closed")
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
            self.waiting.add(future)
        future.add_done_callback(self.waiting.discard)
        return future

    def check_process(self, coroutine: Coroutine[Any, Any, Any] | None = None) -> None:
        """Refuse use after `os.fork()`: the loop thread exists only in the parent, so a
        call would wait for it forever."""
        if os.getpid() != self.pid:
            if coroutine is not None:
                coroutine.close()
            raise StorageError(
                "this SyncStorage was opened before os.fork() and its loop thread is in the "
                "parent process: open a new storage in the child"
            )

    @property
    def is_own_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self.is_own_thread:
            coroutine.close()
            raise StorageError(
                "a SyncStorage call cannot be made from its own loop thread (inside a "
                "function given to update): use the value passed to the function"
            )
        try:
            return self.submit(coroutine).result()
        except concurrent.futures.CancelledError:
            raise StorageClosedError("this SyncStorage was closed during the call") from None

    def stop(self) -> None:
        """Cancel what still runs (waiting up to CLOSE_WAIT_S for it to end), stop the loop
        and its thread; a call that still has no result gets StorageClosedError."""

        async def shutdown() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
            self.loop.stop()

        with self.lock:
            if self.stopped:
                return
            self.stopped = True
            if os.getpid() != self.pid:  # after a fork: the thread is the parent's
                return
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(shutdown()))
        if self.is_own_thread:
            return
        self.thread.join()
        for future in list(self.waiting):
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(StorageClosedError("this SyncStorage was closed"))


class SyncStorage:
    """A storage's methods, blocking: around any `KeyValue` (a driver, a `Scoped` view, an
    instrumented one). `with` opens and closes; safe from many threads.

    `thread_connections`: how many calling threads get a connection of their own for
    point calls on a server driver that has them (0: none; every call then crosses to
    the loop thread)."""

    def __init__(self, storage: KeyValue, *, thread_connections: int = THREAD_CONNECTIONS) -> None:
        if not isinstance(storage, KeyValue) or isinstance(storage, SyncStorage):
            raise TypeError(f"storage must be an async KeyValue, not {type(storage).__name__}")
        if (
            isinstance(thread_connections, bool)
            or not isinstance(thread_connections, int)
            or thread_connections < 0
        ):
            raise ValueError(f"thread_connections must be an int >= 0, not {thread_connections!r}")
        self.storage = storage
        self._owner: SyncStorage | None = None
        driver = storage if isinstance(storage, StorageDriver) else None
        self._direct = driver if driver is not None and driver.serves_blocking else None
        self._threads = (
            ThreadConnections(driver, thread_connections)
            if driver is not None
            and self._direct is None
            and driver.twin_options is not None
            and thread_connections
            else None
        )
        self._loop = _Loop(f"radaros-sync-{type(storage).__name__}")
        self._lock = threading.Lock()
        # Dropped without close(): close the driver and end the thread (the finalizer
        # holds the loop, the storage and the thread connections, never this object).
        self._finalizer: weakref.finalize[Any, Any] | None = weakref.finalize(
            self, _release, self._loop, storage, self._threads, repr(self)
        )
        self._finalizer.atexit = False  # at exit the daemon thread simply ends

    def scoped(self, scope: str) -> SyncStorage:
        """A blocking `Scoped` view: this storage's namespaces under `scope` only.

        It runs on this storage's loop thread and shares its lifecycle (closing either
        closes both), as an async `Scoped` view shares its driver's.
        """
        from radaros.scoped import Scoped

        view = SyncStorage.__new__(SyncStorage)
        view.storage = Scoped(self.storage, scope)
        view._direct, view._threads = None, None
        view._loop, view._lock, view._finalizer = self._loop, self._lock, None
        view._owner = self  # keeps this storage (and its finalizer) alive while in use
        return view

    def __repr__(self) -> str:
        return f"SyncStorage({self.storage!r})"

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coroutine)

    def _point(
        self, make: Callable[[KeyValue], Coroutine[Any, Any, T]], *, write: bool = False
    ) -> T:
        """`make(storage)` run to its end: on this thread's own connection where the
        storage has them (see `radaros.sync.threads`), else on the loop thread."""
        threads = self._threads
        if threads is None or self._loop.is_own_thread:
            return self._run(make(self.storage))
        self._loop.check_process()
        result = threads.call(make, lambda: self._run(make(self.storage)))
        if write:  # the storage's own driver sweeps expired entries, on its loop
            threads.driver._sweep_from(self._loop.loop)
        return result

    def _here(self) -> StorageDriver | None:
        """The driver, when this call can run in the calling thread: an open driver with
        blocking twins, called from outside the loop thread (else the call hops, and the
        loop thread's refusals apply)."""
        driver = self._direct
        if driver is None or driver._state is not State.OPEN or self._loop.is_own_thread:
            return None
        self._loop.check_process()
        return driver

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on this storage's loop thread and return its result: how code
        built on the async storage (`self.storage`) offers blocking methods."""
        return self._loop.run(coroutine)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start a coroutine on this storage's loop thread; its future (for async callers
        on another loop: `await asyncio.wrap_future(...)`)."""
        return self._loop.submit(coroutine)

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> Self:
        """Open the driver on this storage's loop (idempotent); returns self. If opening
        fails, the storage is closed (its thread ends) and the error is raised."""
        try:
            self._run(self.storage.initialize())
        except BaseException:
            with contextlib.suppress(Exception):
                self.close()
            raise
        return self

    def close(self) -> None:
        """Close the driver and stop the loop thread. Calls still in flight end (with their
        result, or StorageClosedError); later calls raise StorageClosedError. Idempotent.

        Not from inside a function the storage runs (an `update` function): that would wait
        for itself. It raises StorageError instead.
        """
        if self._loop.is_own_thread and not self._loop.stopped:
            raise StorageError(
                "a SyncStorage cannot be closed from its own loop thread (inside a function "
                "given to update): close it after the call returns"
            )
        with self._lock:
            if self._finalizer is not None:
                self._finalizer.detach()
            if self._loop.stopped:
                return
            if os.getpid() != self._loop.pid:
                self._loop.stop()
                return
            _close(self._loop, self.storage, self._threads)

    @property
    def is_closed(self) -> bool:
        return self._loop.stopped

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the driver's methods ----------------------------------------------------------------

    def get(self, namespace: str, key: str, default: Any = None) -> Any:
        driver = self._here()
        if driver is not None:
            return driver._blocking_get(namespace, key, default)
        return self._point(lambda storage: storage.get(namespace, key, default))

    def set(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> None:
        driver = self._here()
        if driver is not None:
            driver._blocking_set(namespace, key, value, ttl)
            driver._sweep_from(self._loop.loop)
            return
        self._point(lambda storage: storage.set(namespace, key, value, ttl=ttl), write=True)

    def delete(self, namespace: str, key: str) -> bool:
        driver = self._here()
        if driver is not None:
            return driver._blocking_delete(namespace, key)
        return self._point(lambda storage: storage.delete(namespace, key))

    def list(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> builtins.list[Entry]:
        return self._run(
            self.storage.list(
                namespace, prefix, start=start, stop=stop, reverse=reverse, limit=limit
            )
        )

    def ttl(self, namespace: str, key: str) -> float | None:
        return self._run(self.storage.ttl(namespace, key))

    def touch(self, namespace: str, key: str, ttl: TTL | None) -> bool:
        return self._run(self.storage.touch(namespace, key, ttl))

    def get_many(
        self, namespace: str, keys: Iterable[str], default: Any = None
    ) -> builtins.list[Any]:
        driver = self._here()
        if driver is not None:
            return driver._blocking_get_many(namespace, keys, default)
        wanted = builtins.list(keys)
        return self._point(lambda storage: storage.get_many(namespace, wanted, default))

    def set_many(
        self,
        namespace: str,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        ttl: TTL | None = None,
    ) -> None:
        driver = self._here()
        if driver is not None:
            driver._blocking_set_many(namespace, items, ttl)
            driver._sweep_from(self._loop.loop)
            return
        pairs = dict(items) if isinstance(items, Mapping) else builtins.list(items)
        self._point(lambda storage: storage.set_many(namespace, pairs, ttl=ttl), write=True)

    def delete_many(self, namespace: str, keys: Iterable[str]) -> int:
        driver = self._here()
        if driver is not None:
            return driver._blocking_delete_many(namespace, keys)
        doomed = builtins.list(keys)
        return self._point(lambda storage: storage.delete_many(namespace, doomed))

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[False] = False,
    ) -> Iterator[Entry]: ...

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[True],
    ) -> Iterator[TTLEntry]: ...

    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: bool = False,
    ) -> Iterator[Entry] | Iterator[TTLEntry]:
        """Entries in key order, a page per trip to the loop (arguments checked here)."""
        bounds: dict[str, Any] = {"start": start, "stop": stop, "reverse": reverse}
        if with_ttl:
            entries: AsyncIterator[Any] = self.storage.scan(
                namespace, prefix, page_size=page_size, with_ttl=True, **bounds
            )
        else:
            entries = self.storage.scan(namespace, prefix, page_size=page_size, **bounds)
        return blocking(self._run, entries, page_size)

    def count(self, namespace: str, prefix: str | None = None) -> int:
        return self._run(self.storage.count(namespace, prefix))

    def clear(self, namespace: str, prefix: str | None = None) -> int:
        return self._run(self.storage.clear(namespace, prefix))

    def namespaces(self, prefix: str | None = None) -> builtins.list[str]:
        return self._run(self.storage.namespaces(prefix))

    def add(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> bool:
        return self._run(self.storage.add(namespace, key, value, ttl=ttl))

    def incr(self, namespace: str, key: str, amount: int = 1, *, ttl: TTL | None = None) -> int:
        return self._run(self.storage.incr(namespace, key, amount, ttl=ttl))

    def pop(self, namespace: str, key: str, default: Any = None) -> Any:
        return self._run(self.storage.pop(namespace, key, default))

    def update(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any],
        *,
        ttl: TTL | None = None,
        current: Any = UNREAD,
    ) -> Any:
        """Atomically store `fn(current or None)`; `fn` may run more than once (on the
        storage's loop thread)."""
        return self._run(self.storage.update(namespace, key, fn, ttl=ttl, current=current))

    def append(
        self,
        namespace: str,
        key: str,
        items: Sequence[Any],
        *,
        max_items: int | None = None,
        ttl: TTL | None = None,
    ) -> int:
        return self._run(self.storage.append(namespace, key, items, max_items=max_items, ttl=ttl))

    def add_numbered(
        self,
        namespace: str,
        counter: str,
        key_prefix: str,
        values: Sequence[Any],
        *,
        ttl: TTL | None = None,
    ) -> int:
        return self._run(self.storage.add_numbered(namespace, counter, key_prefix, values, ttl=ttl))

    # -- the layers above --------------------------------------------------------------------

    def collection(self, namespace: str, type_: type[T]) -> SyncCollection[T]:
        return SyncCollection(self._run, Collection(self.storage, namespace, type_))

    def lock(self, name: str, *, ttl: TTL, timeout: float | None = None) -> SyncLock:
        """A `Lock` on this storage, blocking (`with storage.lock("job", ttl=30):`)."""
        return SyncLock(self._run, Lock(self.storage, name, ttl=ttl, timeout=timeout))

    def sessions(self, *, ttl: TTL | None = None) -> SyncSessions:
        return SyncSessions(self._run, Sessions(self.storage, ttl=ttl))

    def summaries(self, *, ttl: TTL | None = None) -> SyncSummaries:
        return SyncSummaries(self._run, Summaries(self.storage, ttl=ttl))

    @overload
    def history(
        self, session_id: str, *, max_messages: int | None = None, ttl: TTL | None = None
    ) -> SyncChatHistory[dict[str, Any]]: ...

    @overload
    def history(
        self,
        session_id: str,
        *,
        message_type: type[M],
        max_messages: int | None = None,
        ttl: TTL | None = None,
    ) -> SyncChatHistory[M]: ...

    def history(
        self,
        session_id: str,
        *,
        message_type: Any = None,
        max_messages: int | None = None,
        ttl: TTL | None = None,
    ) -> SyncChatHistory[Any]:
        history: ChatHistory[Any]
        if message_type is None:
            history = ChatHistory(self.storage, session_id, max_messages=max_messages, ttl=ttl)
        else:
            history = ChatHistory(
                self.storage,
                session_id,
                message_type=message_type,
                max_messages=max_messages,
                ttl=ttl,
            )
        return SyncChatHistory(self._run, history)


def _close(loop: _Loop, driver: KeyValue, threads: ThreadConnections | None) -> None:
    """Close the threads' connections, then the driver on its loop (bounded by
    CLOSE_WAIT_S), then stop the loop."""
    try:
        if threads is not None:
            threads.close()
        future = loop.submit(driver.close())
        try:
            future.result(timeout=CLOSE_WAIT_S)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            future.cancel()
    finally:
        loop.stop()


def _release(loop: _Loop, driver: KeyValue, threads: ThreadConnections | None, shown: str) -> None:
    """A dropped, unclosed SyncStorage: release its driver and thread, and say so."""
    if loop.stopped or os.getpid() != loop.pid:
        return
    if loop.is_own_thread:  # collected on its own thread: it cannot wait for itself
        loop.stop()
    else:
        with contextlib.suppress(Exception):
            _close(loop, driver, threads)
    warnings.warn(f"unclosed {shown}: call close() or use with", ResourceWarning, stacklevel=1)
