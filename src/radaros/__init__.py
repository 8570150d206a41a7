"""radaros: the storage layer for Python AI-agent applications.

`from radaros import InMemoryStorage`; everything public also lives in `radaros.storage`.
"""

from radaros.storage import (
    MEMORY_LONG,
    MEMORY_SHORT,
    SESSION_PREFIX,
    Entry,
    InMemoryStorage,
    InvalidKeyError,
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

__version__ = "0.2.0"
