"""A connection per calling thread, for `SyncStorage` on a server driver.

A server driver's connections belong to the event loop that opened them, which for a
`SyncStorage` runs in its background thread: every call crosses to that thread and back,
two thread wake-ups that cost about as much as a round trip to a nearby server. Instead, a
thread that calls `get`, `set`, `delete` or their batches gets an event loop of its own
and a twin of the driver on it (the same URL and options, one connection), and the call
runs right there, in the calling thread.

Bounds and fallbacks: at most `limit` threads have a twin (the others cross to the
background thread as before); a thread whose own event loop is running (Jupyter, sync
code called from async code) crosses too; a twin that cannot open (the server is down)
leaves its thread crossing. Twins of threads that have ended are closed when another
thread opens one, and all of them when the storage closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from radaros.storage.base import StorageDriver
from radaros.storage.errors import StorageClosedError

__all__ = ["THREAD_CONNECTIONS", "ThreadConnections"]

T = TypeVar("T")
THREAD_CONNECTIONS = 8
"""Threads of one `SyncStorage` that get a connection of their own (by default)."""


@dataclass(eq=False)
class _Twin:
    thread: threading.Thread
    driver: StorageDriver
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    busy: threading.Lock = field(default_factory=threading.Lock)
    """Held while a call runs on the loop; closing takes it, so it waits for that call."""
    is_closed: bool = False

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self.busy:
            if self.is_closed:
                coroutine.close()
                raise StorageClosedError("this SyncStorage is closed")
            return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        """Close the driver on its loop, then the loop. From a thread with no running loop."""
        with self.busy:
            if self.is_closed:
                return
            self.is_closed = True
            try:
                with contextlib.suppress(Exception):
                    self.loop.run_until_complete(self.driver.close())
            finally:
                self.loop.close()


_NONE: Any = object()  # a thread that crosses to the loop thread (no twin for it)


class ThreadConnections:
    """Twins of one driver, one per calling thread, at most `limit` of them."""

    def __init__(self, driver: StorageDriver, limit: int) -> None:
        self.driver = driver
        self.limit = limit
        self.local = threading.local()
        self.lock = threading.Lock()
        self.twins: dict[threading.Thread, _Twin] = {}
        self.opening = 0
        self.is_closed = False

    def call(
        self, make: Callable[[StorageDriver], Coroutine[Any, Any, T]], cross: Callable[[], T]
    ) -> T:
        """`make(twin)` run in this thread on its twin, or `cross()` where there is none."""
        twin = self._here()
        if twin is None:
            return cross()
        return twin.run(make(twin.driver))

    def _here(self) -> _Twin | None:
        twin: _Twin | None = getattr(self.local, "twin", None)
        if twin is _NONE or asyncio._get_running_loop() is not None:
            return None
        if twin is None or twin.is_closed:
            twin = self._open()
            self.local.twin = _NONE if twin is None else twin
        return twin

    def _open(self) -> _Twin | None:
        """A twin for this thread, or None: no room, the driver has no twins, or it failed
        to open (this thread then crosses for good)."""
        with self.lock:
            ended = [twin for thread, twin in self.twins.items() if not thread.is_alive()]
            for twin in ended:
                del self.twins[twin.thread]
            driver = None
            if not self.is_closed and len(self.twins) + self.opening < self.limit:
                driver = self.driver._twin()
                self.opening += driver is not None  # its place is kept while it opens
        for twin in ended:
            twin.close()
        if driver is None:
            return None
        opened = _Twin(threading.current_thread(), driver)
        keep = False
        try:
            opened.loop.run_until_complete(driver.initialize())
            keep = True
        except Exception:
            return None  # this thread crosses; the storage's own driver reports the cause
        finally:
            with self.lock:
                self.opening -= 1
                keep = keep and not self.is_closed
                if keep:
                    self.twins[opened.thread] = opened
            if not keep:
                opened.close()
        return opened if keep else None

    def close(self) -> None:
        """Close every twin (waiting for a call in flight on each). Idempotent."""
        with self.lock:
            self.is_closed = True
            twins, self.twins = list(self.twins.values()), {}
        if not twins:
            return
        if asyncio._get_running_loop() is None:
            for twin in twins:
                twin.close()
            return

        # This thread runs a loop of its own: a twin's loop cannot run here.
        def close_all() -> None:
            for twin in twins:
                twin.close()

        closer = threading.Thread(target=close_all, name="radaros-sync-close")
        closer.start()
        closer.join()
