"""Blocking forms of the layers: `Collection`, `Sessions`, `ChatHistory`, `Summaries`,
`Lock` (made by `SyncStorage.collection()`, `.sessions()`, ...).

Each runs its async twin on the storage's loop thread through `run`, the storage's one
way into that loop.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from radaros.collection import Collection, Item
from radaros.lock import OWN_TIMEOUT, Lock
from radaros.sessions import ChatHistory, Session, Sessions, Summaries
from radaros.storage.protocol import DEFAULT_PAGE_SIZE, TTL

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "Run",
    "SyncChatHistory",
    "SyncCollection",
    "SyncLock",
    "SyncSessions",
    "SyncSummaries",
    "blocking",
]

T = TypeVar("T")
D = TypeVar("D")
M = TypeVar("M")


class Run(Protocol):
    """Runs a coroutine on the storage's loop thread and returns its result."""

    def __call__(self, coroutine: Coroutine[Any, Any, T]) -> T: ...


async def next_page(entries: AsyncIterator[T], page_size: int) -> builtins.list[T]:
    """The next `page_size` entries of an async iterator (fewer at its end)."""
    page: builtins.list[T] = []
    async for entry in entries:
        page.append(entry)
        if len(page) == page_size:
            break
    return page


def blocking(run: Run, entries: AsyncIterator[T], page_size: int) -> Iterator[T]:
    """The entries of an async scan, a page per trip to the loop thread."""
    while True:
        page = run(next_page(entries, page_size))
        yield from page
        if len(page) < page_size:
            return


class SyncCollection(Generic[T]):
    """`Collection[T]`, blocking (from `SyncStorage.collection`)."""

    def __init__(self, run: Run, collection: Collection[T]) -> None:
        self._run = run
        self.collection = collection

    @overload
    def get(self, key: str) -> T | None: ...
    @overload
    def get(self, key: str, default: D) -> T | D: ...

    def get(self, key: str, default: Any = None) -> Any:
        return self._run(self.collection.get(key, default))

    def set(self, key: str, value: T, *, ttl: TTL | None = None) -> None:
        self._run(self.collection.set(key, value, ttl=ttl))

    def add(self, key: str, value: T, *, ttl: TTL | None = None) -> bool:
        return self._run(self.collection.add(key, value, ttl=ttl))

    def delete(self, key: str) -> bool:
        return self._run(self.collection.delete(key))

    def ttl(self, key: str) -> float | None:
        return self._run(self.collection.ttl(key))

    def touch(self, key: str, ttl: TTL | None) -> bool:
        return self._run(self.collection.touch(key, ttl))

    def update(self, key: str, fn: Callable[[T | None], T], *, ttl: TTL | None = None) -> T:
        return self._run(self.collection.update(key, fn, ttl=ttl))

    def append(
        self,
        key: str,
        items: builtins.list[Any] | tuple[Any, ...],
        *,
        max_items: int | None = None,
        ttl: TTL | None = None,
    ) -> int:
        return self._run(self.collection.append(key, items, max_items=max_items, ttl=ttl))

    def get_many(self, keys: Iterable[str]) -> builtins.list[T | None]:
        return self._run(self.collection.get_many(builtins.list(keys)))

    def set_many(
        self, items: Mapping[str, T] | Iterable[tuple[str, T]], *, ttl: TTL | None = None
    ) -> None:
        pairs = dict(items) if isinstance(items, Mapping) else builtins.list(items)
        self._run(self.collection.set_many(pairs, ttl=ttl))

    def delete_many(self, keys: Iterable[str]) -> int:
        return self._run(self.collection.delete_many(builtins.list(keys)))

    def list(self, prefix: str | None = None) -> builtins.list[Item[T]]:
        return self._run(self.collection.list(prefix))

    def scan(
        self, prefix: str | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Item[T]]:
        return blocking(self._run, self.collection.scan(prefix, page_size=page_size), page_size)

    def count(self, prefix: str | None = None) -> int:
        return self._run(self.collection.count(prefix))

    def clear(self, prefix: str | None = None) -> int:
        return self._run(self.collection.clear(prefix))


class SyncSessions:
    """`Sessions`, blocking (from `SyncStorage.sessions`)."""

    def __init__(self, run: Run, sessions: Sessions) -> None:
        self._run = run
        self.sessions = sessions

    def create(
        self,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        return self._run(self.sessions.create(user_id, metadata, session_id))

    def get(self, session_id: str) -> Session | None:
        return self._run(self.sessions.get(session_id))

    def update(self, session_id: str, fn: Callable[[Session], Session | None]) -> Session:
        return self._run(self.sessions.update(session_id, fn))

    def touch(self, session_id: str) -> bool:
        return self._run(self.sessions.touch(session_id))

    def list(self, user_id: str | None = None) -> builtins.list[Session]:
        return self._run(self.sessions.list(user_id))

    def delete(self, session_id: str) -> bool:
        return self._run(self.sessions.delete(session_id))

    def get_or_create(
        self,
        session_id: str,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Session:
        return self._run(self.sessions.get_or_create(session_id, user_id, metadata))


class SyncChatHistory(Generic[M]):
    """`ChatHistory`, blocking (from `SyncStorage.history`)."""

    def __init__(self, run: Run, history: ChatHistory[M]) -> None:
        self._run = run
        self.history = history

    def add(self, *messages: M) -> int:
        return self._run(self.history.add(*messages))

    def messages(self, last: int | None = None) -> builtins.list[M]:
        return self._run(self.history.messages(last))

    def pop(self) -> M | None:
        return self._run(self.history.pop())

    def total(self) -> int:
        return self._run(self.history.total())

    def clear(self) -> bool:
        return self._run(self.history.clear())


class SyncSummaries:
    """`Summaries`, blocking (from `SyncStorage.summaries`)."""

    def __init__(self, run: Run, summaries: Summaries) -> None:
        self._run = run
        self.summaries = summaries

    def get(self, scope: str) -> Any:
        return self._run(self.summaries.get(scope))

    def set(self, scope: str, text_or_value: Any) -> None:
        self._run(self.summaries.set(scope, text_or_value))

    def update(self, scope: str, fn: Callable[[Any], Any]) -> Any:
        return self._run(self.summaries.update(scope, fn))


class SyncLock:
    """`Lock`, blocking (from `SyncStorage.lock`); `with` acquires and releases."""

    def __init__(self, run: Run, lock: Lock) -> None:
        self._run = run
        self.lock = lock

    @property
    def fence(self) -> int | None:
        return self.lock.fence

    @property
    def is_owned(self) -> bool:
        return self.lock.is_owned

    def acquire(self, timeout: float | None = OWN_TIMEOUT) -> None:
        self._run(self.lock.acquire(timeout))

    def release(self) -> None:
        self._run(self.lock.release())

    def extend(self, ttl: TTL | None = None) -> None:
        self._run(self.lock.extend(ttl))

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
