"""`View`: a `KeyValue` over another one, the base of every driver-shaped wrapper.

The method list is written once, here. A wrapper changes behaviour in a few hooks:

* `_namespace(namespace)`: the namespace the wrapped storage sees (`Scoped` adds its
  scope); `_namespaces(prefix)`: what `namespaces()` returns.
* `_call(operation, namespace, key, call)`: runs one operation (`telemetry.Instrumented`
  makes a span around it); `_scanned(namespace, entries)`: the same for a scan.

Arguments reach the wrapped storage as given, so it checks them, and a bad one is refused
before any I/O as on a driver.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from radaros.storage.protocol import DEFAULT_PAGE_SIZE, TTL, UNREAD, Entry, KeyValue, TTLEntry

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["View"]

T = TypeVar("T")


class View:
    """Every `KeyValue` method, passed to `storage` through the hooks above."""

    def __init__(self, storage: KeyValue) -> None:
        if not isinstance(storage, KeyValue) or not inspect.iscoroutinefunction(storage.get):
            hint = ""
            if callable(getattr(storage, "get", None)):  # the blocking API: the other way round
                hint = " (for a SyncStorage use storage.scoped(scope), or SyncStorage(view))"
            name = type(storage).__name__
            raise TypeError(f"storage must be an async KeyValue, not {name}{hint}")
        self.storage = storage

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.storage!r})"

    # -- hooks -------------------------------------------------------------------------------

    def _namespace(self, namespace: str) -> str:
        """The namespace the wrapped storage sees."""
        return namespace

    async def _namespaces(self, prefix: str | None) -> builtins.list[str]:
        """What `namespaces(prefix)` returns."""
        return await self.storage.namespaces(prefix)

    async def _call(
        self,
        operation: str,
        namespace: str | None,
        key: str | None,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """Run one operation (`namespace` and `key` as the caller gave them)."""
        return await call()

    def _scanned(self, namespace: str, entries: AsyncIterator[T]) -> AsyncIterator[T]:
        """The entries of a scan, as the caller iterates them."""
        return entries

    # -- lifecycle ---------------------------------------------------------------------------

    async def initialize(self) -> None:
        await self.storage.initialize()

    async def close(self) -> None:
        await self.storage.close()

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- operations --------------------------------------------------------------------------

    async def get(self, namespace: str, key: str, default: Any = None) -> Any:
        return await self._call(
            "get",
            namespace,
            key,
            lambda: self.storage.get(self._namespace(namespace), key, default),
        )

    async def set(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> None:
        await self._call(
            "set",
            namespace,
            key,
            lambda: self.storage.set(self._namespace(namespace), key, value, ttl=ttl),
        )

    async def delete(self, namespace: str, key: str) -> bool:
        return await self._call(
            "delete", namespace, key, lambda: self.storage.delete(self._namespace(namespace), key)
        )

    async def list(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> builtins.list[Entry]:
        return await self._call(
            "list",
            namespace,
            None,
            lambda: self.storage.list(
                self._namespace(namespace),
                prefix,
                start=start,
                stop=stop,
                reverse=reverse,
                limit=limit,
            ),
        )

    async def ttl(self, namespace: str, key: str) -> float | None:
        return await self._call(
            "ttl", namespace, key, lambda: self.storage.ttl(self._namespace(namespace), key)
        )

    async def touch(self, namespace: str, key: str, ttl: TTL | None) -> bool:
        return await self._call(
            "touch",
            namespace,
            key,
            lambda: self.storage.touch(self._namespace(namespace), key, ttl),
        )

    async def get_many(
        self, namespace: str, keys: Iterable[str], default: Any = None
    ) -> builtins.list[Any]:
        return await self._call(
            "get_many",
            namespace,
            None,
            lambda: self.storage.get_many(self._namespace(namespace), keys, default),
        )

    async def set_many(
        self,
        namespace: str,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        ttl: TTL | None = None,
    ) -> None:
        await self._call(
            "set_many",
            namespace,
            None,
            lambda: self.storage.set_many(self._namespace(namespace), items, ttl=ttl),
        )

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> int:
        return await self._call(
            "delete_many",
            namespace,
            None,
            lambda: self.storage.delete_many(self._namespace(namespace), keys),
        )

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
    ) -> AsyncIterator[Entry]: ...

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
    ) -> AsyncIterator[TTLEntry]: ...

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
    ) -> AsyncIterator[Entry] | AsyncIterator[TTLEntry]:
        """Entries in key order, a page at a time (arguments checked at the call)."""
        stored = self._namespace(namespace)
        bounds: dict[str, Any] = {"start": start, "stop": stop, "reverse": reverse}
        if with_ttl:
            timed = self.storage.scan(stored, prefix, page_size=page_size, with_ttl=True, **bounds)
            return self._scanned(namespace, timed)
        entries = self.storage.scan(stored, prefix, page_size=page_size, **bounds)
        return self._scanned(namespace, entries)

    async def count(self, namespace: str, prefix: str | None = None) -> int:
        return await self._call(
            "count", namespace, None, lambda: self.storage.count(self._namespace(namespace), prefix)
        )

    async def clear(self, namespace: str, prefix: str | None = None) -> int:
        return await self._call(
            "clear", namespace, None, lambda: self.storage.clear(self._namespace(namespace), prefix)
        )

    async def namespaces(self, prefix: str | None = None) -> builtins.list[str]:
        return await self._call("namespaces", None, None, lambda: self._namespaces(prefix))

    async def add(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> bool:
        return await self._call(
            "add",
            namespace,
            key,
            lambda: self.storage.add(self._namespace(namespace), key, value, ttl=ttl),
        )

    async def incr(
        self, namespace: str, key: str, amount: int = 1, *, ttl: TTL | None = None
    ) -> int:
        return await self._call(
            "incr",
            namespace,
            key,
            lambda: self.storage.incr(self._namespace(namespace), key, amount, ttl=ttl),
        )

    async def pop(self, namespace: str, key: str, default: Any = None) -> Any:
        return await self._call(
            "pop",
            namespace,
            key,
            lambda: self.storage.pop(self._namespace(namespace), key, default),
        )

    async def update(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]],
        *,
        ttl: TTL | None = None,
        current: Any = UNREAD,
    ) -> Any:
        return await self._call(
            "update",
            namespace,
            key,
            lambda: self.storage.update(
                self._namespace(namespace), key, fn, ttl=ttl, current=current
            ),
        )

    async def append(
        self,
        namespace: str,
        key: str,
        items: Sequence[Any],
        *,
        max_items: int | None = None,
        ttl: TTL | None = None,
    ) -> int:
        return await self._call(
            "append",
            namespace,
            key,
            lambda: self.storage.append(
                self._namespace(namespace), key, items, max_items=max_items, ttl=ttl
            ),
        )

    async def add_numbered(
        self,
        namespace: str,
        counter: str,
        key_prefix: str,
        values: Sequence[Any],
        *,
        ttl: TTL | None = None,
    ) -> int:
        return await self._call(
            "add_numbered",
            namespace,
            counter,
            lambda: self.storage.add_numbered(
                self._namespace(namespace), counter, key_prefix, values, ttl=ttl
            ),
        )
