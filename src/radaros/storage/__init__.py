"""radaros.storage: one async key-value interface, interchangeable drivers.

Importing this package needs no extra and does no I/O; the PostgreSQL, MongoDB and Redis
drivers import their client libraries on first use.
"""

# The layers built on the drivers (typed values, scopes, sessions) live in `radaros` and
# are re-exported here; pydantic is imported only when a Collection is made.
from radaros.collection import Collection, Item
from radaros.scoped import Scoped
from radaros.sessions import (
    ChatHistory,
    Session,
    SessionExistsError,
    SessionNotFoundError,
    Sessions,
    Summaries,
)
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
    "ChatHistory",
    "Collection",
    "Entry",
    "InMemoryStorage",
    "InvalidKeyError",
    "Item",
    "MongoDBStorage",
    "PostgresStorage",
    "RedisStorage",
    "Scoped",
    "SerializationError",
    "Session",
    "SessionExistsError",
    "SessionNotFoundError",
    "Sessions",
    "SqliteStorage",
    "StorageClosedError",
    "StorageConnectionError",
    "StorageDriver",
    "StorageError",
    "StorageNotInitializedError",
    "Summaries",
    "TTLEntry",
    "ValueTooLargeError",
    "open_storage",
]
