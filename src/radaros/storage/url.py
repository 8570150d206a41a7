"""`open_storage(url)`: a driver from a URL, with its options from the query string.

Importing a driver module imports no backend client (each imports its own on first use),
so the table below maps schemes straight to classes.
"""

from __future__ import annotations

import os
from typing import Any

from radaros.storage.base import StorageDriver
from radaros.storage.memory import InMemoryStorage
from radaros.storage.mongodb import MongoDBStorage
from radaros.storage.postgres import PostgresStorage
from radaros.storage.redis import RedisStorage
from radaros.storage.secrets import check_url, redact
from radaros.storage.sqlite import SqliteStorage
from radaros.storage.validate import scheme_of

__all__ = ["DEFAULT_URL", "ENV_VAR", "SCHEMES", "open_storage"]

ENV_VAR = "RADAROS_STORAGE_URL"
DEFAULT_URL = "sqlite:///radaros.db"

SCHEMES: dict[str, type[StorageDriver]] = {
    "memory": InMemoryStorage,
    "sqlite": SqliteStorage,
    "postgresql": PostgresStorage,
    "postgres": PostgresStorage,
    "postgresql+asyncpg": PostgresStorage,
    "mongodb": MongoDBStorage,
    "mongodb+srv": MongoDBStorage,
    "redis": RedisStorage,
    "rediss": RedisStorage,
}


def open_storage(url: str | None = None, **options: Any) -> StorageDriver:
    """An unopened driver for the URL (`async with open_storage(url) as storage:`).

    Without a URL, `RADAROS_STORAGE_URL` is used. Driver options may be given in the URL's
    query string (`?max_size=20`) and as keywords here; keywords win.
    """
    if url is None:
        url = os.environ.get(ENV_VAR)
        if not url:
            raise ValueError(f"no storage URL given and {ENV_VAR} is not set")
    check_url(url)
    scheme = scheme_of(url)
    driver_class = SCHEMES.get(scheme)
    if driver_class is None:
        supported = ", ".join(f"{name}://" for name in SCHEMES)
        shown = f"{scheme}://" if scheme else repr(redact(url))
        raise ValueError(f"unsupported storage URL {shown}; supported: {supported}")
    return driver_class.from_url(url, **options)
