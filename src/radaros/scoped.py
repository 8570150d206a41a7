"""`Scoped`: a view of a storage confined to the namespaces under one scope.

For multi-tenant apps (the TypeScript original's `ScopedStorage`): give each tenant or user
`Scoped(storage, "tenant:acme:user:42:")` and every namespace it uses is stored as
scope + namespace. The namespace and prefix given are checked as the driver checks them,
then the scope is put in front, so no namespace, prefix or key can reach outside the scope:
the stored namespace always starts with it. `namespaces()` lists only the scope's, with the
scope stripped.

The view does not own the storage: opening and closing stay with whoever made the driver.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from radaros.storage.base import DEFAULT_PAGE_SIZE, Entry, StorageDriver, TTLEntry
from radaros.storage.validate import TTL, check_namespace, check_prefix

if TYPE_CHECKING:
    from radaros.collection import Collection

__all__ = ["Scoped"]

T = TypeVar("T")


class Scoped:
    """Every driver method, on the namespaces under `scope` only."""

    def __init__(self, storage: StorageDriver | Scoped, scope: str) -> None:
        if not isinstance(storage, (StorageDriver, Scoped)):
            raise TypeError(f"storage must be a StorageDriver, not {type(storage).__name__}")
        self.storage = storage
        self.scope = check_namespace(scope)

    def __repr__(self) -> str:
        return f"Scoped({self.storage!r}, {self.scope!r})"

    def _ns(self, namespace: str) -> str:
        return check_namespace(self.scope + check_namespace(namespace))

    def collection(self, namespace: str, type_: type[T]) -> Collection[T]:
        """A typed `Collection` over one of the scope's namespaces."""
        from radaros.collection import Collection

        return Collection(self, namespace, type_)

    async def get(self, namespace: str, key: str, default: Any = None) -> Any:
        return await self.storage.get(self._ns(namespace), key, default)

    async def set(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> None:
        await self.storage.set(self._ns(namespace), key, value, ttl=ttl)

    async def delete(self, namespace: str, key: str) -> bool:
        return await self.storage.delete(self._ns(namespace), key)

    async def list(self, namespace: str, prefix: str | None = None) -> builtins.list[Entry]:
        return await self.storage.list(self._ns(namespace), prefix)

    async def ttl(self, namespace: str, key: str) -> float | None:
        return await self.storage.ttl(self._ns(namespace), key)

    async def touch(self, namespace: str, key: str, ttl: TTL | None) -> bool:
        return await self.storage.touch(self._ns(namespace), key, ttl)

    async def get_many(
        self, namespace: str, keys: Iterable[str], default: Any = None
    ) -> builtins.list[Any]:
        return await self.storage.get_many(self._ns(namespace), keys, default)

    async def set_many(
        self,
        namespace: str,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        ttl: TTL | None = None,
    ) -> None:
        await self.storage.set_many(self._ns(namespace), items, ttl=ttl)

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> int:
        return await self.storage.delete_many(self._ns(namespace), keys)

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[False] = False,
    ) -> AsyncIterator[Entry]: ...

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[True],
    ) -> AsyncIterator[TTLEntry]: ...

    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: bool = False,
    ) -> AsyncIterator[Entry] | AsyncIterator[TTLEntry]:
        if with_ttl:
            return self.storage.scan(
                self._ns(namespace), prefix, page_size=page_size, with_ttl=True
            )
        return self.storage.scan(self._ns(namespace), prefix, page_size=page_size)

    async def count(self, namespace: str, prefix: str | None = None) -> int:
        return await self.storage.count(self._ns(namespace), prefix)

    async def clear(self, namespace: str, prefix: str | None = None) -> int:
        return await self.storage.clear(self._ns(namespace), prefix)

    async def namespaces(self, prefix: str | None = None) -> builtins.list[str]:
        """The scope's namespaces holding a live key, scope stripped, sorted."""
        names = await self.storage.namespaces(self.scope + check_prefix(prefix))
        return [name[len(self.scope) :] for name in names]

    async def add(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> bool:
        return await self.storage.add(self._ns(namespace), key, value, ttl=ttl)

    async def update(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]],
        *,
        ttl: TTL | None = None,
    ) -> Any:
        return await self.storage.update(self._ns(namespace), key, fn, ttl=ttl)

    async def append(
        self,
        namespace: str,
        key: str,
        items: Sequence[Any],
        *,
        max_items: int | None = None,
        ttl: TTL | None = None,
    ) -> int:
        return await self.storage.append(
            self._ns(namespace), key, items, max_items=max_items, ttl=ttl
        )
