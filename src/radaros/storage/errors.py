"""The errors every radaros driver raises.

```
StorageError                     base of everything radaros raises on purpose
├── InvalidKeyError              (also ValueError)
├── SerializationError           (also ValueError)
├── ValueTooLargeError           (also ValueError)
├── StorageClosedError
├── StorageNotInitializedError
└── StorageConnectionError       (also ConnectionError)
```

A backend's own exception never escapes: it is wrapped in one of these and kept as
`__cause__` (unless its text would reveal a secret from the URL, see `secrets.wrap_error`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

__all__ = [
    "InvalidKeyError",
    "NotAnIntegerError",
    "SerializationError",
    "StorageClosedError",
    "StorageConnectionError",
    "StorageError",
    "StorageNotInitializedError",
    "ValueTooLargeError",
]


class StorageError(Exception):
    """Base class of every error radaros raises on purpose."""


class InvalidKeyError(StorageError, ValueError):
    """A namespace, key or prefix breaks the rules; raised before any I/O."""


class SerializationError(StorageError, ValueError):
    """A value is not strict JSON, or stored bytes are not a value radaros wrote."""


class ValueTooLargeError(StorageError, ValueError):
    """The encoded value is larger than the driver can store; nothing was written."""


class StorageClosedError(StorageError):
    """The driver was closed; create a new one."""


class StorageNotInitializedError(StorageError):
    """A server driver was used before `await storage.initialize()` (or `async with`)."""


class StorageConnectionError(StorageError, ConnectionError):
    """The backend could not be reached, timed out, or failed mid-operation."""


class NotAnIntegerError(StorageError, TypeError):
    """`incr` met a stored value that is not an int; nothing was written."""


class ErrorRule(NamedTuple):
    """One row of a driver's error table (httpx's `map_httpcore_exceptions` is the model).

    `match` is an exception class, a tuple of them, or a predicate; the first matching
    row wins. `message` may name `{where}` (the driver's `_describe()`).
    """

    match: type[BaseException] | tuple[type[BaseException], ...] | Callable[[Exception], bool]
    error: type[StorageError]
    message: str
    detail: Callable[[Exception], str] | None = None
    """The backend's words, shortened (default: the first line of its message)."""

    def matches(self, exc: Exception) -> bool:
        if isinstance(self.match, (type, tuple)):
            return isinstance(exc, self.match)
        return bool(self.match(exc))
