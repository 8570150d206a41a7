"""radaros: the storage layer for Python AI-agent applications.

`from radaros import InMemoryStorage`: the drivers and their interface (`radaros.storage`)
and the layers built on any `KeyValue` (typed collections, scopes, sessions and memory).
The sync API, telemetry and data transfer are the modules `radaros.sync`,
`radaros.telemetry` and `radaros.transfer`.
"""

from radaros.collection import Collection, Item
from radaros.lock import Lock, LockNotAcquiredError, LockNotOwnedError
from radaros.scoped import Scoped
from radaros.sessions import (
    ChatHistory,
    Session,
    SessionExistsError,
    SessionNotFoundError,
    Sessions,
    Summaries,
)
from radaros.storage import (
    DELETE,
    KEEP,
    MEMORY_LONG,
    MEMORY_SHORT,
    SESSION_PREFIX,
    UNREAD,
    Entry,
    InMemoryStorage,
    InvalidKeyError,
    KeyValue,
    MongoDBStorage,
    PostgresStorage,
    RedisStorage,
    SerializationError,
    SqliteStorage,
    StorageClosedError,
    StorageConnectionError,
    StorageDriver,
    StorageError,
    StorageNotInitializedError,
    TTLEntry,
    ValueTooLargeError,
    open_storage,
)

__all__ = [
    "DELETE",
    "KEEP",
    "MEMORY_LONG",
    "MEMORY_SHORT",
    "SESSION_PREFIX",
    "UNREAD",
    "ChatHistory",
    "Collection",
    "Entry",
    "InMemoryStorage",
    "InvalidKeyError",
    "Item",
    "KeyValue",
    "Lock",
    "LockNotAcquiredError",
    "LockNotOwnedError",
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

__version__ = "0.3.0.dev0"
