"""radaros.storage: one async key-value interface, interchangeable drivers.

Importing this package needs no extra and does no I/O; the PostgreSQL, MongoDB and Redis
drivers import their client libraries on first use. The layers built on the drivers
(typed values, scopes, sessions, the sync API, telemetry, transfer) live above this
package, in `radaros`, and nothing here imports them.
"""

from radaros.storage.base import StorageDriver
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
from radaros.storage.protocol import (
    DELETE,
    KEEP,
    MEMORY_LONG,
    MEMORY_SHORT,
    SESSION_PREFIX,
    UNREAD,
    Entry,
    KeyValue,
    TTLEntry,
)
from radaros.storage.redis import RedisStorage
from radaros.storage.schemes import open_storage
from radaros.storage.sqlite import SqliteStorage

__all__ = [
    "DELETE",
    "KEEP",
    "MEMORY_LONG",
    "MEMORY_SHORT",
    "SESSION_PREFIX",
    "UNREAD",
    "Entry",
    "InMemoryStorage",
    "InvalidKeyError",
    "KeyValue",
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
