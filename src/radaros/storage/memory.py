"""`InMemoryStorage`: every promise of the SPEC, in one process, lost on exit.

Values are kept as their JSON text, so nothing handed in or out is ever a live object
(mutating what you passed to `set` or got from `get` never changes what is stored), and a
value refused here is refused by every other driver too.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from radaros.storage.base import StorageDriver, added
from radaros.storage.codec import decode
from radaros.storage.primitives import Keep
from radaros.storage.url import split_query
from radaros.storage.validate import prefix_upper_bound

__all__ = ["InMemoryStorage"]

BULK_SORT_THRESHOLD = 64

_Stored = tuple[str, float | None]  # (JSON text, monotonic expiry or None)


@dataclass
class _Namespace:
    values: dict[str, _Stored] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted: prefix listing is a bisect


def _is_live(entry: _Stored, now: float) -> bool:
    expires_at = entry[1]
    return expires_at is None or expires_at > now


def _remaining(entry: _Stored, now: float) -> float:
    return math.inf if entry[1] is None else entry[1] - now


def _expiry(ttl: float | None) -> float | None:
    return None if ttl is None or ttl == math.inf else time.monotonic() + ttl


class InMemoryStorage(StorageDriver):
    """A dict per namespace plus sorted key and namespace lists; expiry on the monotonic
    clock.

    Every primitive runs whole under one lock (none awaits midway), so the driver is safe
    for many tasks of one event loop and for `SyncStorage`'s blocking calls from any thread
    beside them; it is never shared between processes.
    """

    db_system = "radaros.memory"
    serves_blocking = True

    def __init__(self) -> None:
        super().__init__()
        self._data: dict[str, _Namespace] = {}
        self._names: list[str] = []  # sorted: namespaces(prefix) is a bisect
        self._mutex = threading.RLock()

    @classmethod
    def _split_url(cls, url: str) -> tuple[tuple[Any, ...], dict[str, str]]:
        return (), split_query(url)[1]

    def _describe(self) -> str:
        return "memory://"

    def _holds_resources(self) -> bool:
        return False

    def _space(self, namespace: str) -> _Namespace:
        space = self._data.get(namespace)
        if space is None:
            space = self._data[namespace] = _Namespace()
            bisect.insort(self._names, namespace)
        return space

    def _forget_if_empty(self, namespace: str, space: _Namespace) -> None:
        if not space.values:
            del self._data[namespace]
            del self._names[bisect.bisect_left(self._names, namespace)]

    def _store(self, space: _Namespace, key: str, stored: str, expires_at: float | None) -> None:
        if key not in space.values:
            bisect.insort(space.keys, key)
        space.values[key] = (stored, expires_at)

    def _live_entry(self, namespace: str, key: str) -> _Stored | None:
        space = self._data.get(namespace)
        entry = None if space is None else space.values.get(key)
        if entry is None or not _is_live(entry, time.monotonic()):
            return None
        return entry

    def _get_blocking(self, namespace: str, key: str) -> str | None:
        with self._mutex:
            entry = self._live_entry(namespace, key)
        return None if entry is None else entry[0]

    def _get_many_blocking(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        with self._mutex:
            entries = [self._live_entry(namespace, key) for key in keys]
        return [None if entry is None else entry[0] for entry in entries]

    def _put_many_blocking(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        expires_at = _expiry(ttl)
        with self._mutex:
            space = self._space(namespace)
            if len(items) < BULK_SORT_THRESHOLD:
                for key, stored in items:
                    self._store(space, key, stored, expires_at)
                return
            # Many new keys at once: one sort of the merged list beats an insort per key.
            new_keys = [key for key, _ in items if key not in space.values]
            space.values.update((key, (stored, expires_at)) for key, stored in items)
            if new_keys:
                space.keys.extend(new_keys)
                space.keys.sort()

    def _delete_many_blocking(self, namespace: str, keys: Sequence[str]) -> int:
        with self._mutex:
            space = self._data.get(namespace)
            if space is None:
                return 0
            now = time.monotonic()
            live = 0
            for key in keys:
                entry = space.values.pop(key, None)
                if entry is not None:
                    del space.keys[bisect.bisect_left(space.keys, key)]
                    live += _is_live(entry, now)
            self._forget_if_empty(namespace, space)
            return live

    async def _get(self, namespace: str, key: str) -> str | None:
        return self._get_blocking(namespace, key)

    async def _get_many(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        return self._get_many_blocking(namespace, keys)

    async def _put_many(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        self._put_many_blocking(namespace, items, ttl)

    async def _incr_put(
        self,
        namespace: str,
        counter: str,
        expiry: float | Keep | None,
        items_of: Callable[[int], Sequence[tuple[str, str]]],
        amount: int,
        ttl: float | None,
    ) -> int:
        with self._mutex:
            total = await self._incr(namespace, counter, amount, expiry)
            self._put_many_blocking(namespace, items_of(total), ttl)
            return total

    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> int:
        return self._delete_many_blocking(namespace, keys)

    async def _page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> list[tuple[str, str, float]]:
        with self._mutex:
            space = self._data.get(namespace)
            if space is None:
                return []
            keys = space.keys
            first = bisect.bisect_left(keys, low)
            end = len(keys) if high is None else bisect.bisect_left(keys, high)
            if after is not None:
                if reverse:
                    end = min(end, bisect.bisect_left(keys, after))
                else:
                    first = max(first, bisect.bisect_right(keys, after))
            indexes = range(end - 1, first - 1, -1) if reverse else range(first, end)
            now = time.monotonic()
            rows: list[tuple[str, str, float]] = []
            for index in indexes:
                key = keys[index]
                entry = space.values[key]
                if _is_live(entry, now):
                    rows.append((key, entry[0], _remaining(entry, now)))
                    if limit is not None and len(rows) >= limit:
                        break
            return rows

    async def _incr(self, namespace: str, key: str, amount: int, ttl: float | Keep | None) -> int:
        with self._mutex:
            entry = self._live_entry(namespace, key)
            result = added(namespace, key, 0 if entry is None else decode(entry[0]), amount)
            stored = self._dump(result)  # beyond 64 bits: SerializationError, nothing written
            if entry is not None and isinstance(ttl, Keep):
                expires_at = entry[1]
            else:
                expires_at = _expiry(None if isinstance(ttl, Keep) else ttl)
            self._store(self._space(namespace), key, stored, expires_at)
            return result

    async def _delete_if(self, namespace: str, key: str, expected: str) -> bool:
        with self._mutex:
            entry = self._live_entry(namespace, key)
            if entry is None or entry[0] != expected:
                return False
            return await self._delete_many(namespace, [key]) == 1

    async def _ttl(self, namespace: str, key: str) -> float | None:
        with self._mutex:
            entry = self._live_entry(namespace, key)
            return None if entry is None else _remaining(entry, time.monotonic())

    async def _touch(self, namespace: str, key: str, ttl: float | None) -> bool:
        with self._mutex:
            entry = self._live_entry(namespace, key)
            if entry is None:
                return False
            self._data[namespace].values[key] = (entry[0], _expiry(ttl))
            return True

    async def _count(self, namespace: str, prefix: str) -> int:
        with self._mutex:
            high = prefix_upper_bound(prefix)
            return len(await self._page(namespace, prefix, high, None, None, False))

    async def _clear(self, namespace: str, prefix: str) -> int:
        with self._mutex:
            space = self._data.get(namespace)
            if space is None:
                return 0
            live = await self._count(namespace, prefix)
            start = bisect.bisect_left(space.keys, prefix)
            end = start
            while end < len(space.keys) and space.keys[end].startswith(prefix):
                del space.values[space.keys[end]]
                end += 1
            del space.keys[start:end]
            self._forget_if_empty(namespace, space)
            return live

    async def _namespaces(self, prefix: str) -> list[str]:
        with self._mutex:
            now = time.monotonic()
            names: list[str] = []
            for index in range(bisect.bisect_left(self._names, prefix), len(self._names)):
                name = self._names[index]
                if not name.startswith(prefix):
                    break
                if any(_is_live(entry, now) for entry in self._data[name].values.values()):
                    names.append(name)
            return names

    async def _add(self, namespace: str, key: str, stored: str, ttl: float | None) -> bool:
        with self._mutex:
            if self._live_entry(namespace, key) is not None:
                return False
            self._store(self._space(namespace), key, stored, _expiry(ttl))
            return True

    async def _replace_if(
        self, namespace: str, key: str, expected: str, stored: str, ttl: float | Keep | None
    ) -> bool:
        with self._mutex:
            entry = self._live_entry(namespace, key)
            if entry is None or entry[0] != expected:
                return False
            expires_at = entry[1] if isinstance(ttl, Keep) else _expiry(ttl)
            self._data[namespace].values[key] = (stored, expires_at)
            return True

    async def _sweep_batch(self, limit: int) -> int:
        with self._mutex:
            now = time.monotonic()
            removed = 0
            for name, space in list(self._data.items()):
                expired = [key for key, entry in space.values.items() if not _is_live(entry, now)]
                for key in expired[: limit - removed]:
                    del space.values[key]
                    del space.keys[bisect.bisect_left(space.keys, key)]
                    removed += 1
                self._forget_if_empty(name, space)
                if removed >= limit:
                    break
            return removed

    async def _close(self) -> None:
        with self._mutex:
            self._data.clear()
            self._names.clear()
