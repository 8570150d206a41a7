"""radaros.storage: one async key-value interface, interchangeable drivers.

Importing this package needs no extra and does no I/O; the PostgreSQL, MongoDB and Redis
drivers import their client libraries on first use.
"""

from radaros.storage.base import (
    MEMORY_LONG,
    MEMORY_SHORT,
    SESSION_PREFIX,
    Entry,
    StorageDriver,
    TTLEntry,
)
from radaros.storage.errors import (
    InvalidKeyError,
    SerializationError,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
    StorageNotInitializedError,
    ValueTooLargeError,
)
from radaros.storage.memory import InMemoryStorage
from radaros.storage.mongodb import MongoDBStorage
from radaros.storage.postgres import PostgresStorage
from radaros.storage.redis import RedisStorage
from radaros.storage.sqlite import SqliteStorage
from radaros.storage.url import open_storage

__all__ = [
    "MEMORY_LONG",
    "MEMORY_SHORT",
    "SESSION_PREFIX",
    "Entry",
    "InMemoryStorage",
    "InvalidKeyError",
    "MongoDBStorage",
    "PostgresStorage",
    "RedisStorage",
    "SerializationError",
    "SqliteStorage",
    "StorageClosedError",
    "StorageConnectionError",
    "StorageDriver",
    "StorageError",
    "StorageNotInitializedError",
    "TTLEntry",
    "ValueTooLargeError",
    "open_storage",
]
