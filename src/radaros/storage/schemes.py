"""`open_storage(url)`: the driver for a URL's scheme.

The table maps schemes to `"module:Class"`, imported on first use, so this module imports
no driver (and no driver imports a backend client before it is used).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from radaros.storage.base import StorageDriver
from radaros.storage.secrets import redact
from radaros.storage.url import scheme_of

__all__ = ["DEFAULT_URL", "ENV_VAR", "SCHEMES", "open_storage"]

ENV_VAR = "RADAROS_STORAGE_URL"
DEFAULT_URL = "sqlite:///radaros.db"

SCHEMES: dict[str, str] = {
    "memory": "radaros.storage.memory:InMemoryStorage",
    "sqlite": "radaros.storage.sqlite:SqliteStorage",
    "postgresql": "radaros.storage.postgres:PostgresStorage",
    "postgres": "radaros.storage.postgres:PostgresStorage",
    "postgresql+asyncpg": "radaros.storage.postgres:PostgresStorage",
    "mongodb": "radaros.storage.mongodb:MongoDBStorage",
    "mongodb+srv": "radaros.storage.mongodb:MongoDBStorage",
    "redis": "radaros.storage.redis:RedisStorage",
    "rediss": "radaros.storage.redis:RedisStorage",
}


def driver_class(scheme: str) -> type[StorageDriver] | None:
    """The driver class for a scheme (lower case), or None."""
    target = SCHEMES.get(scheme)
    if target is None:
        return None
    module, _, name = target.partition(":")
    found: type[StorageDriver] = getattr(importlib.import_module(module), name)
    return found


def open_storage(url: str | None = None, **options: Any) -> StorageDriver:
    """An unopened driver for the URL (`async with open_storage(url) as storage:`).

    Without a URL, `RADAROS_STORAGE_URL` is used. Driver options may be given in the URL's
    query string (`?max_size=20`) and as keywords here; keywords win.
    """
    if url is None:
        url = os.environ.get(ENV_VAR)
        if not url:
            raise ValueError(f"no storage URL given and {ENV_VAR} is not set")
    scheme = scheme_of(url)
    found = driver_class(scheme)
    if found is None:
        supported = ", ".join(f"{name}://" for name in SCHEMES)
        shown = f"{scheme}://" if scheme else repr(redact(url))
        raise ValueError(f"unsupported storage URL {shown}; supported: {supported}")
    return found.from_url(url, **options)
