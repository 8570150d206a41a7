"""radaros.storage: one async key-value interface, interchangeable drivers.

Importing this package needs no extra and does no I/O; the PostgreSQL and MongoDB drivers
import their client libraries on first use.
"""

from radaros.storage.base import MEMORY_LONG, MEMORY_SHORT, SESSION_PREFIX, Entry, StorageDriver
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
    "SerializationError",
    "SqliteStorage",
    "StorageClosedError",
    "StorageConnectionError",
    "StorageDriver",
    "StorageError",
    "StorageNotInitializedError",
    "ValueTooLargeError",
    "open_storage",
]
