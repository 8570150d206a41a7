"""`KeyValue`: the whole storage interface as one `typing.Protocol`.

Every driver implements it (`StorageDriver`), and so does every driver-shaped view
(`Scoped`, `telemetry.Instrumented`). Every layer above the drivers (typed collections,
sessions and memory, transfer, the sync facade, the framework integrations) takes any
`KeyValue`, so the pieces compose in any order: `SyncStorage(Scoped(instrument(driver),
"tenant:acme:"))`.

A view's lifecycle methods act on what it wraps: `async with Scoped(driver, "t:")` opens
and closes `driver`.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, overload, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DELETE",
    "KEEP",
    "MEMORY_LONG",
    "MEMORY_SHORT",
    "OPERATIONS",
    "SESSION_PREFIX",
    "TTL",
    "UNREAD",
    "Entry",
    "KeyValue",
    "TTLEntry",
]

TTL = int | float | timedelta
"""Seconds (`int`/`float` > 0) or a `timedelta` > 0."""

MEMORY_SHORT = "memory:short"
"""Reserved namespace: short-term conversation messages."""
MEMORY_LONG = "memory:long"
"""Reserved namespace: long-term summaries."""
SESSION_PREFIX = "session:"
"""Reserved namespace prefix: session metadata (`session:<id>`)."""

DEFAULT_PAGE_SIZE = 500
"""Entries per page of `scan` unless `page_size` says otherwise."""


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return self.name  # copy and pickle give back the one instance


KEEP: Any = _Sentinel("KEEP")
"""Returned by an `update` function: write nothing (`update` returns the current value)."""
DELETE: Any = _Sentinel("DELETE")
"""Returned by an `update` function: delete the entry, atomically with the read."""
UNREAD: Any = _Sentinel("UNREAD")
"""`update`'s default `current`: read the entry before calling the function."""


class Entry(NamedTuple):
    """One live key and its value; unpacks as `key, value`."""

    key: str
    value: Any


class TTLEntry(NamedTuple):
    """One live key, its value and its seconds to live (`math.inf`: never expires)."""

    key: str
    value: Any
    ttl: float


@runtime_checkable
class KeyValue(Protocol):
    """The storage interface: what every driver and every driver-shaped view offers.

    The behaviour of each method is the driver's (see `StorageDriver`); this class only
    fixes the shape, so that mypy checks every implementation and every caller.
    """

    async def initialize(self) -> None:
        """Create what the backend needs; idempotent."""

    async def close(self) -> None:
        """Release connections and files; idempotent."""

    async def __aenter__(self) -> Self:
        """`initialize()`, then the storage itself."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """`close()`."""

    async def get(self, namespace: str, key: str, default: Any = None) -> Any:
        """The stored value, or `default` when absent or expired."""

    async def set(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> None:
        """Store the value, replacing value and expiry."""

    async def delete(self, namespace: str, key: str) -> bool:
        """Remove the key; True if a live entry was removed."""

    async def list(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> builtins.list[Entry]:
        """Live entries with `prefix` in `start <= key < stop`, by key, at most `limit`."""

    async def ttl(self, namespace: str, key: str) -> float | None:
        """Seconds left (`math.inf`: never); None when absent or expired."""

    async def touch(self, namespace: str, key: str, ttl: TTL | None) -> bool:
        """Set a live entry's expiry without rewriting it; False when absent."""

    async def get_many(
        self, namespace: str, keys: Iterable[str], default: Any = None
    ) -> builtins.list[Any]:
        """Values aligned with `keys` (`default` where absent)."""

    async def set_many(
        self,
        namespace: str,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        ttl: TTL | None = None,
    ) -> None:
        """Store every item; all are checked before anything is written."""

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> int:
        """Remove the keys; how many live entries were removed."""

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[False] = False,
    ) -> AsyncIterator[Entry]: ...

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[True],
    ) -> AsyncIterator[TTLEntry]: ...

    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        start: str | None = None,
        stop: str | None = None,
        reverse: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: bool = False,
    ) -> AsyncIterator[Entry] | AsyncIterator[TTLEntry]:
        """Entries in key order, a page at a time (arguments are checked at the call)."""
        ...

    async def count(self, namespace: str, prefix: str | None = None) -> int:
        """Number of live keys starting with `prefix`."""

    async def clear(self, namespace: str, prefix: str | None = None) -> int:
        """Delete the keys starting with `prefix`; how many live ones."""

    async def namespaces(self, prefix: str | None = None) -> builtins.list[str]:
        """Sorted namespaces holding a live key (starting with `prefix`)."""

    async def add(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> bool:
        """Store only if absent or expired; True if it stored."""

    async def incr(
        self, namespace: str, key: str, amount: int = 1, *, ttl: TTL | None = None
    ) -> int:
        """Atomically add `amount` to the int at `key` (absent: 0); the result."""

    async def pop(self, namespace: str, key: str, default: Any = None) -> Any:
        """Atomically remove the entry and return its value (`default` when absent)."""

    async def update(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]],
        *,
        ttl: TTL | None = None,
        current: Any = UNREAD,
    ) -> Any:
        """Atomically store `fn(current or None)` and return it."""

    async def append(
        self,
        namespace: str,
        key: str,
        items: Sequence[Any],
        *,
        max_items: int | None = None,
        ttl: TTL | None = None,
    ) -> int:
        """Atomically append to the list at `key`; the new length."""

    async def add_numbered(
        self,
        namespace: str,
        counter: str,
        key_prefix: str,
        values: Sequence[Any],
        *,
        ttl: TTL | None = None,
    ) -> int:
        """Take the next numbers from the int at `counter` and store each value under
        `key_prefix` + its number; the new total."""


NUMBER_DIGITS = 19
"""Digits of an `add_numbered` key's number: any positive signed 64-bit int."""


def numbered_key(key_prefix: str, number: int) -> str:
    """The key `add_numbered` stores a number's value under."""
    return f"{key_prefix}{number:0{NUMBER_DIGITS}d}"


LIFECYCLE = ("initialize", "close")
OPERATIONS: tuple[str, ...] = tuple(
    name
    for name in vars(KeyValue)
    if not name.startswith("_") and callable(vars(KeyValue)[name]) and name not in LIFECYCLE
)
"""The data operations of `KeyValue`, in the order above (`get` ... `append`)."""
