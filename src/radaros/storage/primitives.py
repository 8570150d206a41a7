"""What a driver writes: `Primitives`, the base of `StorageDriver`.

`StorageDriver`'s public methods are never overridden: they check arguments, encode values,
enforce the lifecycle and then call the primitives below, which a driver implements.
Primitives receive checked `str`s, *stored* values and `ttl` in seconds (`float`, or None
for "never expires"; `_replace_if` may also get `KEEP_EXPIRY`), and only talk to the
backend. An expiry after 9999-12-31 has already become None: `math.inf` never reaches a
primitive.

The stored form of a value is what `_dump(value)` makes: by default the strict JSON text
from `codec.encode` (SQL drivers keep exactly that). A driver may override `_dump`, `_load`
and `_load_many` to keep another form (MongoDB keeps readable documents), as long as
`_dump` applies the codec's checks and `_replace_if` can compare what `_get` returned.

Required primitives: `_get`, `_put_many`, `_delete_many`, `_page`, `_add`, `_replace_if`,
`_delete_if`, `_touch`, `_namespaces`, `_close`. Optional, with generic bodies here (override for
speed): `_initialize`, `_get_many`, `_ttl`, `_count`, `_clear`, `_sweep_batch`; and `_incr`
and `_incr_put`, which return None where the base does the work.

Hooks and class attributes a driver may define:

* `requires_initialize`: operations before `initialize()` raise (server drivers).
* `binds_event_loop`: the driver's connections belong to the loop that opened it; use
  from another loop raises a StorageError that says what to do.
* `max_value_bytes`: largest stored value; larger raises ValueTooLargeError.
* `db_system`: `db.system.name` in telemetry.
* `_describe()`: where the data lives, safe to show; used by `repr` and messages.
* `_opened_partially()`: whether `close()` must release what a failed `initialize` left.
* `_holds_resources()`: whether dropping an unclosed driver leaks something (ResourceWarning).
* `_error_rules()`: the table that turns backend exceptions into StorageErrors; whatever
  it misses still becomes a StorageError, so a backend exception never escapes.
* `_split_url(url)`: constructor arguments and radaros options from a URL.
* `_db_namespace()`: the database, for telemetry's `db.namespace`.
* `_dump`/`_load`: the stored form (see above).

Blocking twins (optional, with `serves_blocking = True`): `_get_blocking`,
`_get_many_blocking`, `_put_many_blocking` and `_delete_many_blocking` do what their async
primitives do, in the calling thread, with no event loop. `SyncStorage` calls them from its
users' threads (any number at once, beside the async primitives on its loop thread), so a
driver that has them is thread-safe. Memory and SQLite have them: a blocking `get` or `set`
then costs no trip to the loop thread.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final

from radaros.storage.codec import decode, decode_many, encode
from radaros.storage.errors import ErrorRule
from radaros.storage.protocol import DEFAULT_PAGE_SIZE
from radaros.storage.url import split_query
from radaros.storage.validate import prefix_upper_bound

__all__ = ["KEEP_EXPIRY", "Keep", "Primitives"]


class Keep:
    """The type of `KEEP_EXPIRY`."""

    def __repr__(self) -> str:
        return "KEEP_EXPIRY"


KEEP_EXPIRY: Final = Keep()
"""`_replace_if`'s ttl when the entry keeps its expiry (an `update` without `ttl`)."""


class Primitives(abc.ABC):
    """The backend side of a driver: hooks, and primitives on checked, encoded data."""

    requires_initialize: ClassVar[bool] = False
    """Server drivers refuse operations until `initialize()`; embedded ones open lazily."""
    binds_event_loop: ClassVar[bool] = False
    """The driver's connections belong to the event loop that ran `initialize()`."""
    max_value_bytes: ClassVar[int | None] = None
    """Largest encoded value (UTF-8 bytes) the backend stores; larger raises ValueTooLargeError."""
    db_system: ClassVar[str] = "radaros"
    """`db.system.name` in telemetry (the OpenTelemetry well-known value where there is one)."""
    serves_blocking: bool = False
    """The driver has the blocking twins of its point primitives (see the module docs); a
    driver may decide per instance."""
    twin_options: ClassVar[dict[str, Any] | None] = None
    """Options that give a copy of the driver one connection, for `SyncStorage` to open
    one per calling thread (server drivers); None: it has no such copies."""
    swaps_on_value: ClassVar[bool] = True
    """`_replace_if` compares the stored form `_dump` makes, so a value the caller
    believes is stored can stand in for a read (`update(current=...)`)."""

    # -- hooks -------------------------------------------------------------------------------

    @classmethod
    def _split_url(cls, url: str) -> tuple[tuple[Any, ...], dict[str, str]]:
        """Constructor arguments for `url`, and the radaros options in its query string."""
        rest, raw = split_query(url)
        return (rest,), raw

    def _describe(self) -> str:
        """Where the data lives, safe to show (no secret): used by repr and messages."""
        return ""

    def _db_namespace(self) -> str | None:
        """The database, for telemetry's `db.namespace` (None where there is none)."""
        return None

    def _holds_resources(self) -> bool:
        """True when an open driver holds connections, threads or files (not memory)."""
        return True

    def _opened_partially(self) -> bool:
        """True when `_initialize` may have acquired resources without finishing."""
        return True

    def _error_rules(self) -> Sequence[ErrorRule]:
        """The driver's error table: backend exception -> StorageError class and message."""
        return ()

    # -- primitives --------------------------------------------------------------------------

    def _dump(self, value: Any) -> Any:
        """The stored form of a value: strict JSON text (checks and size limit included)."""
        return encode(value, self.max_value_bytes)

    def _load(self, stored: Any) -> Any:
        """The value of a stored form; a fresh object every time (copy semantics)."""
        return decode(stored)

    def _load_many(self, stored: Sequence[Any]) -> builtins.list[Any]:
        """`_load` of each stored form, in order (a page of values in one call)."""
        return decode_many(stored)

    async def _initialize(self) -> None:  # noqa: B027 (an optional hook, empty by design)
        """Create what the backend needs; called once, under a lock."""

    @abc.abstractmethod
    async def _get(self, namespace: str, key: str) -> Any:
        """Stored value of a live entry, or None."""

    async def _get_many(self, namespace: str, keys: Sequence[str]) -> builtins.list[Any]:
        """Stored values aligned with `keys` (generic: one `_get` each)."""
        return [await self._get(namespace, key) for key in keys]

    @abc.abstractmethod
    async def _put_many(
        self, namespace: str, items: Sequence[tuple[str, Any]], ttl: float | None
    ) -> None:
        """Upsert every (key, stored) pair with expiry now + ttl (None: never), atomically."""

    @abc.abstractmethod
    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> int:
        """Delete the keys (distinct; expired ones too); return how many were live."""

    @abc.abstractmethod
    async def _page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> builtins.list[tuple[str, Any, float]]:
        """Live (key, stored, seconds to live or `math.inf`) rows with `low <= key < high`
        (`high` None: no upper bound) and past `after` (> it ascending, < it with
        `reverse`), in key order (descending with `reverse`), at most `limit` (None: all).
        Value and expiry are read together, in one statement or command, from the index."""

    async def _ttl(self, namespace: str, key: str) -> float | None:
        """Seconds to live of a live entry (`math.inf`: never), None when absent (generic:
        a one-row page starting at the key)."""
        rows = await self._page(namespace, key, None, None, 1, False)
        return rows[0][2] if rows and rows[0][0] == key else None

    @abc.abstractmethod
    async def _touch(self, namespace: str, key: str, ttl: float | None) -> bool:
        """Set a live entry's expiry to now + ttl (None: never); False when absent."""

    async def _count(self, namespace: str, prefix: str) -> int:
        """Live keys starting with `prefix` (generic: pages through them)."""
        total, after, high = 0, None, prefix_upper_bound(prefix)
        while rows := await self._page(namespace, prefix, high, after, DEFAULT_PAGE_SIZE, False):
            total += len(rows)
            after = rows[-1][0]
        return total

    async def _clear(self, namespace: str, prefix: str) -> int:
        """Delete keys starting with `prefix`; return the live ones (generic: page + delete)."""
        total, high = 0, prefix_upper_bound(prefix)
        while rows := await self._page(namespace, prefix, high, None, DEFAULT_PAGE_SIZE, False):
            total += await self._delete_many(namespace, [row[0] for row in rows])
        return total

    @abc.abstractmethod
    async def _namespaces(self, prefix: str) -> builtins.list[str]:
        """Sorted namespaces starting with `prefix` that hold at least one live key; the
        cost follows what matches, not the number of namespaces."""

    @abc.abstractmethod
    async def _add(self, namespace: str, key: str, stored: Any, ttl: float | None) -> bool:
        """Insert unless a live entry exists (an expired one is replaced); True if stored."""

    @abc.abstractmethod
    async def _replace_if(
        self, namespace: str, key: str, expected: Any, stored: Any, ttl: float | Keep | None
    ) -> bool:
        """Replace the value only if the live entry still holds `expected` (as `_get` gave
        it); True if replaced. Expiry: now + ttl, None never, `KEEP_EXPIRY` unchanged."""

    async def _incr(
        self, namespace: str, key: str, amount: int, ttl: float | Keep | None
    ) -> int | None:
        """Add `amount` to the int of a live entry (an absent one starts at 0) in one step,
        and return the result; raise NotAnIntegerError for another value and
        SerializationError beyond 64 bits. Expiry as in `_replace_if` (a new entry gets
        None for KEEP_EXPIRY). None: not done here, the base does a compare-and-swap."""
        return None

    async def _incr_put(
        self,
        namespace: str,
        counter: str,
        expiry: float | Keep | None,
        items_of: Callable[[int], Sequence[tuple[str, Any]]],
        amount: int,
        ttl: float | None,
    ) -> int | None:
        """`_incr` of `counter` by `amount` (expiry as there), then `_put_many` of
        `items_of(total)` (expiry now + ttl), in one transaction; the total. None: not done
        here, the base takes the numbers, then writes."""
        return None

    @abc.abstractmethod
    async def _delete_if(self, namespace: str, key: str, expected: Any) -> bool:
        """Delete the entry only if it is live and still holds `expected` (as `_get` gave
        it); True if deleted. What `pop` and an update's `DELETE` rest on."""

    async def _sweep_batch(self, limit: int) -> int:
        """Delete at most `limit` expired entries; return how many (default: the backend
        reclaims expired entries itself)."""
        return 0

    # -- blocking twins (with `serves_blocking`) -----------------------------------------------

    def _get_blocking(self, namespace: str, key: str) -> Any:
        raise NotImplementedError

    def _get_many_blocking(self, namespace: str, keys: Sequence[str]) -> builtins.list[Any]:
        raise NotImplementedError

    def _put_many_blocking(
        self, namespace: str, items: Sequence[tuple[str, Any]], ttl: float | None
    ) -> None:
        raise NotImplementedError

    def _delete_many_blocking(self, namespace: str, keys: Sequence[str]) -> int:
        raise NotImplementedError

    @abc.abstractmethod
    async def _close(self) -> None:
        """Release what the driver owns; never close a borrowed pool or client."""
