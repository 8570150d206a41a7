"""`InMemoryStorage`: every promise of the SPEC, in one process, lost on exit.

Values are kept as their JSON text, so nothing handed in or out is ever a live object
(mutating what you passed to `set` or got from `get` never changes what is stored), and a
value refused here is refused by every other driver too.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from radaros.storage.base import StorageDriver

__all__ = ["InMemoryStorage"]

BULK_SORT_THRESHOLD = 64


@dataclass
class _Namespace:
    values: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted: prefix listing is a bisect


class InMemoryStorage(StorageDriver):
    """A dict per namespace plus a sorted key list; expiry on the monotonic clock.

    Safe for many tasks of one event loop (no operation awaits midway); not shared
    between threads or processes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._data: dict[str, _Namespace] = {}

    def _describe(self) -> str:
        return "memory://"

    @staticmethod
    def _is_live(entry: tuple[str, float | None], now: float) -> bool:
        expires_at = entry[1]
        return expires_at is None or expires_at > now

    @staticmethod
    def _expiry(ttl: float | None) -> float | None:
        return None if ttl is None else time.monotonic() + ttl

    def _store(self, namespace: str, key: str, raw: str, expires_at: float | None) -> None:
        space = self._data.get(namespace)
        if space is None:
            space = self._data[namespace] = _Namespace()
        if key not in space.values:
            bisect.insort(space.keys, key)
        space.values[key] = (raw, expires_at)

    def _remove(self, space: _Namespace, key: str) -> None:
        if space.values.pop(key, None) is not None:
            del space.keys[bisect.bisect_left(space.keys, key)]

    async def _get(self, namespace: str, key: str) -> str | None:
        space = self._data.get(namespace)
        entry = None if space is None else space.values.get(key)
        if entry is None or not self._is_live(entry, time.monotonic()):
            return None
        return entry[0]

    async def _put_many(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        expires_at = self._expiry(ttl)
        space = self._data.get(namespace)
        if space is None or len(items) < BULK_SORT_THRESHOLD:
            for key, raw in items:
                self._store(namespace, key, raw, expires_at)
            return
        # Many new keys at once: one sort of the merged list beats an insort per key.
        new_keys = [key for key, _ in items if key not in space.values]
        space.values.update((key, (raw, expires_at)) for key, raw in items)
        if new_keys:
            space.keys.extend(new_keys)
            space.keys.sort()

    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> None:
        space = self._data.get(namespace)
        if space is not None:
            for key in keys:
                self._remove(space, key)

    async def _page(
        self, namespace: str, prefix: str, after: str | None, limit: int | None
    ) -> list[tuple[str, str]]:
        space = self._data.get(namespace)
        if space is None:
            return []
        keys = space.keys
        start = (
            bisect.bisect_right(keys, after)
            if after is not None and after >= prefix
            else bisect.bisect_left(keys, prefix)
        )
        now = time.monotonic()
        rows: list[tuple[str, str]] = []
        for index in range(start, len(keys)):
            key = keys[index]
            if not key.startswith(prefix):
                break
            entry = space.values[key]
            if self._is_live(entry, now):
                rows.append((key, entry[0]))
                if limit is not None and len(rows) >= limit:
                    break
        return rows

    async def _count(self, namespace: str, prefix: str) -> int:
        return len(await self._page(namespace, prefix, None, None))

    async def _clear(self, namespace: str, prefix: str) -> int:
        space = self._data.get(namespace)
        if space is None:
            return 0
        live = len(await self._page(namespace, prefix, None, None))
        start = bisect.bisect_left(space.keys, prefix)
        end = start
        while end < len(space.keys) and space.keys[end].startswith(prefix):
            del space.values[space.keys[end]]
            end += 1
        del space.keys[start:end]
        return live

    async def _namespaces(self, prefix: str) -> list[str]:
        now = time.monotonic()
        return sorted(
            name
            for name, space in self._data.items()
            if name.startswith(prefix)
            and any(self._is_live(entry, now) for entry in space.values.values())
        )

    async def _add(self, namespace: str, key: str, raw: str, ttl: float | None) -> bool:
        if await self._get(namespace, key) is not None:
            return False
        self._store(namespace, key, raw, self._expiry(ttl))
        return True

    async def _replace_if(
        self, namespace: str, key: str, expected: str, raw: str, ttl: float | None
    ) -> bool:
        space = self._data.get(namespace)
        entry = None if space is None else space.values.get(key)
        if entry is None or entry[0] != expected or not self._is_live(entry, time.monotonic()):
            return False
        self._store(namespace, key, raw, entry[1] if ttl is None else self._expiry(ttl))
        return True

    async def _sweep_expired(self) -> int:
        now = time.monotonic()
        removed = 0
        for name, space in list(self._data.items()):
            for key, entry in list(space.values.items()):
                if not self._is_live(entry, now):
                    self._remove(space, key)
                    removed += 1
            if not space.values:
                del self._data[name]
        return removed

    async def _close(self) -> None:
        self._data.clear()
