"""Redis baselines: raw redis-py running the driver's own scripts, and two peers.

`RedisRaw` sends exactly what `RedisStorage` sends (its public `scripts`, by EVALSHA) on a
plain redis-py client: one connection (the limit a caller can reach) or a pool sized as
the driver's. The peers store values their own way (py-key-value: one JSON string per key;
aiocache: one string per key), so they run only the workloads they support.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from radaros.storage.redis_scripts import Scripts
from radaros.storage.validate import prefix_upper_bound

NS = "bench"


class RedisRaw:
    def __init__(self, client: Any, scripts: Scripts, name: str) -> None:
        self.client = client
        self.scripts = scripts
        self.name = name
        self.sha: dict[str, str] = {}

    async def open(self) -> None:
        for script, source in self.scripts.source.items():
            self.sha[script] = await self.client.script_load(source)

    async def close(self) -> None:
        await self.client.aclose()

    async def run(self, script: str, namespace: str, *args: Any, writes: bool = False) -> Any:
        keys = self.scripts.keys(namespace, writes=writes)
        return await self.client.evalsha(self.sha[script], len(keys), *keys, namespace, *args)

    async def set(self, key: str, value: Any) -> None:
        await self.run("put", NS, 0, key, json.dumps(value), writes=True)

    async def get(self, key: str) -> Any:
        raw = await self.run("get", NS, key)
        return None if raw is None else json.loads(raw)

    async def set_many(self, items: dict[str, Any]) -> None:
        pairs = [part for key, value in items.items() for part in (key, json.dumps(value))]
        await self.run("put", NS, 0, *pairs, writes=True)

    async def get_many(self, keys: list[str]) -> list[Any]:
        found = await self.run("get_many", NS, *keys)
        return [None if raw is None else json.loads(raw) for raw in found]

    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]:
        upper = prefix_upper_bound(prefix)
        stop = "+" if upper is None else f"({upper}"
        flat = await self.run("page", namespace, f"[{prefix}", stop, 1000)
        return [(flat[i], json.loads(flat[i + 1])) for i in range(0, len(flat), 3)]

    async def transform(self, key: str, change: Callable[[Any], Any]) -> Any:
        """The driver's compare-and-swap: read, change, replace if still the same text."""
        while True:
            raw = await self.run("get", NS, key)
            value = change(None if raw is None else json.loads(raw))
            if raw is None:
                if await self.run("add", NS, key, json.dumps(value), 0, writes=True) != -1:
                    return value
            elif await self.run("replace_if", NS, key, raw, json.dumps(value)) == 1:
                return value

    async def increment(self, key: str) -> Any:
        return await self.transform(key, lambda v: (v or 0) + 1)

    async def append(self, key: str, items: list[Any]) -> int:
        return len(await self.transform(key, lambda v: (v or []) + items))

    async def add(self, key: str, value: Any) -> bool:
        return bool(await self.run("add", NS, key, json.dumps(value), "", writes=True) != -1)


class PyKeyValuePeer:
    """py-key-value's RedisStore (`key_value.aio.stores.redis`): values are dicts."""

    name = "py-key-value"

    def __init__(self, url: str) -> None:
        from key_value.aio.stores.redis import RedisStore

        self.store = RedisStore(url=url, default_collection=NS)

    async def open(self) -> None:
        await self.store.setup()

    async def close(self) -> None:
        await self.store.close()

    async def set(self, key: str, value: Any) -> None:
        await self.store.put(key, value)

    async def get(self, key: str) -> Any:
        return await self.store.get(key)

    async def set_many(self, items: dict[str, Any]) -> None:
        await self.store.put_many(list(items), list(items.values()))

    async def get_many(self, keys: list[str]) -> list[Any]:
        return list(await self.store.get_many(keys))


class AiocachePeer:
    """aiocache's RedisCache with its JSON serializer."""

    name = "aiocache"

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        from aiocache import RedisCache
        from aiocache.serializers import JsonSerializer

        where = urlsplit(url)
        self.cache = RedisCache(
            serializer=JsonSerializer(),
            endpoint=where.hostname,
            port=where.port or 6379,
            namespace=NS,
            pool_max_size=50,
        )

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        await self.cache.close()

    async def set(self, key: str, value: Any) -> None:
        await self.cache.set(key, value)

    async def get(self, key: str) -> Any:
        return await self.cache.get(key)

    async def set_many(self, items: dict[str, Any]) -> None:
        await self.cache.multi_set(list(items.items()))

    async def get_many(self, keys: list[str]) -> list[Any]:
        return list(await self.cache.multi_get(keys))

    async def add(self, key: str, value: Any) -> bool:
        try:
            await self.cache.add(key, value)
        except ValueError:  # aiocache: "Key ... already exists"
            return False
        return True
