"""Redis baselines: raw redis-py running the driver's own scripts, and two peers.

`RedisRaw` sends exactly what `RedisStorage` sends (its public `scripts`, by EVALSHA, and a
page as one ZRANGEBYLEX where nothing expires) on a plain redis-py client: one connection
(the limit a caller can reach) or a pool sized as the driver's. The peers store values
their own way (py-key-value: one JSON string per key; aiocache: one string per key), so
they run only the workloads they support.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import radaros.storage.redis_scripts as lua
from radaros.storage.redis_scripts import Script, Scripts
from radaros.storage.validate import prefix_upper_bound

NS = "bench"


class RedisRaw:
    def __init__(self, client: Any, scripts: Scripts, name: str) -> None:
        self.client = client
        self.scripts = scripts
        self.name = name

    async def open(self) -> None:
        for source in self.scripts.source.values():
            await self.client.script_load(source)

    async def close(self) -> None:
        await self.client.aclose()

    async def run(self, script: Script, namespace: str, *args: Any) -> Any:
        keys = self.scripts.keys(namespace, script)
        return await self.client.evalsha(script.sha, len(keys), *keys, namespace, *args)

    async def set(self, key: str, value: Any) -> None:
        await self.run(lua.PUT, NS, 0, key, json.dumps(value))

    async def get(self, key: str) -> Any:
        member = await self.run(lua.GET, NS, key)
        return None if member is None else json.loads(member[len(key) + 1 :])

    async def set_many(self, items: dict[str, Any]) -> None:
        pairs = [part for key, value in items.items() for part in (key, json.dumps(value))]
        await self.run(lua.PUT, NS, 0, *pairs)

    async def get_many(self, keys: list[str]) -> list[Any]:
        found = await self.run(lua.GET_MANY, NS, *keys)
        return [
            None if member is None else json.loads(member[len(key) + 1 :])
            for key, member in zip(keys, found, strict=True)
        ]

    async def list_prefix(self, namespace: str, prefix: str) -> list[tuple[str, Any]]:
        upper = prefix_upper_bound(prefix)
        stop = "+" if upper is None else f"({upper}"
        plain = self.scripts.plain(namespace)
        members = await self.client.zrangebylex(plain, f"[{prefix}", stop, 0, 1000)
        pairs = [member.partition("\0") for member in members]
        return [(key, json.loads(value)) for key, _, value in pairs]

    async def transform(self, key: str, change: Callable[[Any], Any]) -> Any:
        """The driver's compare-and-swap: read, change, replace if still the same text."""
        while True:
            member = await self.run(lua.GET, NS, key)
            raw = None if member is None else member[len(key) + 1 :]
            value = change(None if raw is None else json.loads(raw))
            if raw is None:
                if await self.run(lua.ADD, NS, key, json.dumps(value), 0) != -1:
                    return value
            elif await self.run(lua.REPLACE_IF, NS, key, raw, json.dumps(value)) == 1:
                return value

    async def increment(self, key: str) -> Any:
        return await self.transform(key, lambda v: (v or 0) + 1)

    async def append(self, key: str, items: list[Any]) -> int:
        return len(await self.transform(key, lambda v: (v or []) + items))

    async def add(self, key: str, value: Any) -> bool:
        return bool(await self.run(lua.ADD, NS, key, json.dumps(value), 0) != -1)


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
