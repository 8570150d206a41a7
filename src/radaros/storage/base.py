"""`StorageDriver`: the public methods every driver shares.

They are never overridden: they check arguments, encode values, enforce the lifecycle and
then call the primitives a driver implements (`radaros.storage.primitives`, the file a
driver author reads). So checks, encoding and error translation run once, before any I/O,
identically on every driver.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import math
import random
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Literal, overload

from radaros.storage.codec import decode, encode
from radaros.storage.errors import NotAnIntegerError
from radaros.storage.lifecycle import Lifecycle, State, logger
from radaros.storage.primitives import KEEP_EXPIRY, Keep
from radaros.storage.protocol import (
    DEFAULT_PAGE_SIZE,
    DELETE,
    KEEP,
    MEMORY_LONG,
    MEMORY_SHORT,
    NUMBER_DIGITS,
    SESSION_PREFIX,
    TTL,
    UNREAD,
    Entry,
    TTLEntry,
    numbered_key,
)
from radaros.storage.validate import (
    check_key,
    check_namespace,
    check_prefix,
    check_ttl,
    prefix_upper_bound,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MEMORY_LONG",
    "MEMORY_SHORT",
    "SESSION_PREFIX",
    "Entry",
    "State",
    "StorageDriver",
    "TTLEntry",
]

_running_loop = asyncio.get_running_loop

RETRY_BASE_S = 0.0005
RETRY_CAP_S = 0.05


class StorageDriver(Lifecycle):
    """One async key-value interface; checks, JSON and expiry live here, the lifecycle in
    `Lifecycle`, the backend in the driver's primitives."""

    # -- the seed interface ------------------------------------------------------------------

    async def get(self, namespace: str, key: str, default: Any = None) -> Any:
        """The stored value, or `default` when absent or expired."""
        namespace, key = check_namespace(namespace), check_key(key)
        # The hottest path: `_ready()` inlined for the common case.
        if self._state is not State.OPEN or (
            self._loop is not None and self._loop is not _running_loop()
        ):
            await self._ready()
        self._calls_in_flight += 1
        try:
            stored = await self._get(namespace, key)
        except Exception as exc:
            error = self._translated(exc)
        else:
            if self._unreachable_since is not None:
                self._reached_again()
            return default if stored is None else self._load(stored)
        finally:
            self._call_done()
        raise error

    async def set(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> None:
        """Store the value, replacing both value and expiry (no `ttl`: never expires)."""
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = None if ttl is None else _finite(check_ttl(ttl))
        stored = self._dump(value)
        # A hot path: `_ready()` and `_call()` inlined for the common case, as in `get`.
        if self._state is not State.OPEN or (
            self._loop is not None and self._loop is not _running_loop()
        ):
            await self._ready()
        self._calls_in_flight += 1
        try:
            await self._put_many(namespace, [(key, stored)], seconds)
        except Exception as exc:
            error = self._translated(exc)
        else:
            if self._unreachable_since is not None:
                self._reached_again()
            self._after_write()
            return
        finally:
            self._call_done()
        raise error

    async def delete(self, namespace: str, key: str) -> bool:
        """Remove the key; True if a live entry was removed (of concurrent deletes of one
        live key, exactly one gets True). An absent key is not an error."""
        namespace, key = check_namespace(namespace), check_key(key)
        await self._ready()
        return await self._call(self._delete_many, namespace, [key]) > 0

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
        """Every live entry whose key starts with `prefix` and lies in `start <= key < stop`
        (code point order), ascending (descending with `reverse`), at most `limit`."""
        namespace, bounds = check_namespace(namespace), _bounds(prefix, start, stop)
        _check_flag("reverse", reverse)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValueError(f"limit must be an int >= 0 or None, not {limit!r}")
        await self._ready()
        if bounds is None or limit == 0:
            return []
        rows = await self._call(self._page, namespace, *bounds, None, limit, reverse)
        keys, values = [row[0] for row in rows], self._load_many([row[1] for row in rows])
        return builtins.list(map(Entry._make, zip(keys, values, strict=True)))

    # -- expiry ------------------------------------------------------------------------------

    async def ttl(self, namespace: str, key: str) -> float | None:
        """Seconds until the entry expires by the backend's clock; `math.inf` when it never
        does; None when it is absent or expired."""
        namespace, key = check_namespace(namespace), check_key(key)
        await self._ready()
        return await self._call(self._ttl, namespace, key)

    async def touch(self, namespace: str, key: str, ttl: TTL | None) -> bool:
        """Set a live entry's expiry to now + `ttl` (None: never) without rewriting its
        value; False when it is absent or expired. Sliding expiry in one round trip."""
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = _finite(check_ttl(ttl))
        await self._ready()
        is_touched = await self._call(self._touch, namespace, key, seconds)
        self._after_write()
        return is_touched

    # -- batches -----------------------------------------------------------------------------

    async def get_many(
        self, namespace: str, keys: Iterable[str], default: Any = None
    ) -> builtins.list[Any]:
        """Values aligned with `keys`: the value, or `default` when absent or expired."""
        namespace = check_namespace(namespace)
        keys = _checked_keys(keys)
        await self._ready()
        if not keys:
            return []
        found = await self._call(self._get_many, namespace, keys)
        return [default if stored is None else self._load(stored) for stored in found]

    async def set_many(
        self,
        namespace: str,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        ttl: TTL | None = None,
    ) -> None:
        """Store every item; all are checked and encoded before anything is written.

        A key given twice keeps its last value. All-or-nothing on memory, SQLite and
        PostgreSQL; MongoDB writes in one ordered bulk request (see its docs).
        """
        namespace = check_namespace(namespace)
        seconds = _finite(check_ttl(ttl))
        encoded = self._encoded(items)
        await self._ready()
        if not encoded:
            return
        await self._call(self._put_many, namespace, encoded, seconds)
        self._after_write()

    def _encoded(
        self, items: Mapping[str, Any] | Iterable[tuple[str, Any]]
    ) -> builtins.list[tuple[str, Any]]:
        """Checked keys and stored values of `set_many`'s items (a key given twice: its last)."""
        dump = self._dump
        encoded: dict[str, Any] = {}
        if isinstance(items, Mapping):
            for key, value in items.items():
                encoded[check_key(key)] = dump(value)
        else:
            for pair in items:
                if isinstance(pair, (str, bytes)) or len(pair) != 2:
                    raise TypeError("set_many items must be a mapping or (key, value) pairs")
                key, value = pair
                encoded[check_key(key)] = dump(value)
        return builtins.list(encoded.items())

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> int:
        """Remove every key given; return how many live entries were removed (a key listed
        twice counts once). Absent keys are not an error."""
        namespace = check_namespace(namespace)
        unique = builtins.list(dict.fromkeys(_checked_keys(keys)))
        await self._ready()
        if not unique:
            return 0
        return await self._call(self._delete_many, namespace, unique)

    # -- blocking calls (for SyncStorage, on drivers that serve them) --------------------------

    def _blocking_get(self, namespace: str, key: str, default: Any = None) -> Any:
        """`get` in the calling thread (a driver with `serves_blocking`, once open)."""
        namespace, key = check_namespace(namespace), check_key(key)
        stored = self._blocking_call(self._get_blocking, namespace, key)
        return default if stored is None else self._load(stored)

    def _blocking_set(self, namespace: str, key: str, value: Any, ttl: TTL | None) -> None:
        """`set` in the calling thread."""
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = None if ttl is None else _finite(check_ttl(ttl))
        stored = self._dump(value)
        self._blocking_call(self._put_many_blocking, namespace, [(key, stored)], seconds)

    def _blocking_delete(self, namespace: str, key: str) -> bool:
        """`delete` in the calling thread."""
        namespace, key = check_namespace(namespace), check_key(key)
        return self._blocking_call(self._delete_many_blocking, namespace, [key]) > 0

    def _blocking_get_many(
        self, namespace: str, keys: Iterable[str], default: Any = None
    ) -> builtins.list[Any]:
        """`get_many` in the calling thread."""
        namespace = check_namespace(namespace)
        keys = _checked_keys(keys)
        if not keys:
            return []
        found = self._blocking_call(self._get_many_blocking, namespace, keys)
        return [default if stored is None else self._load(stored) for stored in found]

    def _blocking_set_many(
        self,
        namespace: str,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        ttl: TTL | None,
    ) -> None:
        """`set_many` in the calling thread."""
        namespace = check_namespace(namespace)
        seconds = _finite(check_ttl(ttl))
        encoded = self._encoded(items)
        if encoded:
            self._blocking_call(self._put_many_blocking, namespace, encoded, seconds)

    def _blocking_delete_many(self, namespace: str, keys: Iterable[str]) -> int:
        """`delete_many` in the calling thread."""
        namespace = check_namespace(namespace)
        unique = builtins.list(dict.fromkeys(_checked_keys(keys)))
        if not unique:
            return 0
        return self._blocking_call(self._delete_many_blocking, namespace, unique)

    # -- listing -----------------------------------------------------------------------------

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
        """Entries in key order (descending with `reverse`), `page_size` at a time: keyset
        paging, one statement or command per page, so memory stays bounded.

        The bounds are those of `list`. Keys present for the whole scan are seen exactly
        once; keys written during it may or may not be seen. With `with_ttl`, yields
        `TTLEntry(key, value, ttl)`, value and expiry read together (what export and copy
        need). Arguments are checked here, before iteration starts.
        """
        namespace, bounds = check_namespace(namespace), _bounds(prefix, start, stop)
        _check_flag("reverse", reverse)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, not {page_size!r}")
        pages = self._pages(namespace, bounds, reverse, page_size)
        if with_ttl:
            return self._scan_with_ttl(pages)
        return self._scan(pages)

    async def _pages(
        self, namespace: str, bounds: tuple[str, str | None] | None, reverse: bool, page_size: int
    ) -> AsyncIterator[builtins.list[tuple[str, Any, float]]]:
        if bounds is None:
            return
        after: str | None = None
        while True:
            await self._ready()
            rows = await self._call(self._page, namespace, *bounds, after, page_size, reverse)
            yield rows
            if len(rows) < page_size:
                return
            after = rows[-1][0]

    async def _scan(
        self, pages: AsyncIterator[builtins.list[tuple[str, Any, float]]]
    ) -> AsyncIterator[Entry]:
        async for rows in pages:
            for row in rows:
                yield Entry(row[0], self._load(row[1]))

    async def _scan_with_ttl(
        self, pages: AsyncIterator[builtins.list[tuple[str, Any, float]]]
    ) -> AsyncIterator[TTLEntry]:
        async for rows in pages:
            for key, stored, seconds in rows:
                yield TTLEntry(key, self._load(stored), seconds)

    async def count(self, namespace: str, prefix: str | None = None) -> int:
        """Number of live keys in the namespace that start with `prefix`."""
        namespace, prefix = check_namespace(namespace), check_prefix(prefix)
        await self._ready()
        return await self._call(self._count, namespace, prefix)

    async def clear(self, namespace: str, prefix: str | None = None) -> int:
        """Delete the keys that start with `prefix`; return how many live ones were deleted."""
        namespace, prefix = check_namespace(namespace), check_prefix(prefix)
        await self._ready()
        return await self._call(self._clear, namespace, prefix)

    async def namespaces(self, prefix: str | None = None) -> builtins.list[str]:
        """Sorted names of the namespaces that hold at least one live key."""
        prefix = check_prefix(prefix)
        await self._ready()
        return await self._call(self._namespaces, prefix)

    # -- atomic operations -------------------------------------------------------------------

    async def add(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> bool:
        """Store the value only if the key is absent or expired; True if it stored.

        Of many concurrent adds of one key, from any process, exactly one wins: drivers
        insert against the primary key, never read then write.
        """
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = _finite(check_ttl(ttl))
        stored = self._dump(value)
        await self._ready()
        is_stored = await self._call(self._add, namespace, key, stored, seconds)
        self._after_write()
        return is_stored

    async def incr(
        self, namespace: str, key: str, amount: int = 1, *, ttl: TTL | None = None
    ) -> int:
        """Atomically add `amount` to the integer at `key` and return the result; an absent
        or expired key starts at 0. A stored value that is not an int raises TypeError and
        a result beyond signed 64 bits SerializationError; nothing is written then.
        Without `ttl` the entry keeps its expiry."""
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = check_ttl(ttl)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"amount must be an int, not {type(amount).__name__}")
        encode(amount)  # beyond signed 64 bits: SerializationError before any I/O
        await self._ready()
        return await self._incremented(namespace, key, amount, _expiry_change(seconds))

    async def _incremented(
        self, namespace: str, key: str, amount: int, expiry: float | Keep | None
    ) -> int:
        """`incr` once its arguments are checked: the driver's one step, else a
        compare-and-swap."""

        def add_amount(current_stored: Any) -> int:
            current = 0 if current_stored is None else self._load(current_stored)
            return added(namespace, key, current, amount)

        result = await self._call(self._incr, namespace, key, amount, expiry)
        if result is not None:  # the driver did it in one step
            self._after_write()
            return result
        stored = await self._update_loop(namespace, key, add_amount, expiry)
        return int(self._load(stored))

    async def pop(self, namespace: str, key: str, default: Any = None) -> Any:
        """Atomically remove the entry and return its value, or `default` when absent or
        expired. Of concurrent pops of one live entry exactly one gets the value."""
        namespace, key = check_namespace(namespace), check_key(key)
        taken: builtins.list[Any] = []

        def take(current_stored: Any) -> Any:
            taken.append(current_stored)
            return DELETE

        await self._ready()
        await self._update_loop(namespace, key, take, KEEP_EXPIRY)
        return default if taken[-1] is None else self._load(taken[-1])

    async def update(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]],
        *,
        ttl: TTL | None = None,
        current: Any = UNREAD,
    ) -> Any:
        """Atomically store `fn(current_or_None)` and return it (as `get` would).

        Optimistic: read, call `fn`, then write only if the stored value is unchanged;
        otherwise retry. So `fn` may run more than once and must be pure; if it raises,
        nothing is written and the exception propagates. Without `ttl` the entry keeps
        its expiry. `fn` may return `KEEP` (nothing is written; the current value is
        returned) or `DELETE` (the entry is deleted, atomically with the read; None is
        returned).

        `current` is the value you believe is stored (from a recent `get`, say; None:
        absent). The first try then skips the read: `fn(current)` is written only if the
        entry still holds exactly that value, in one round trip. A wrong belief costs
        the read it skipped, never a wrong write; `fn` then also sees the real value.
        MongoDB compares revisions, not values: there an existing entry is always read.
        """
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = check_ttl(ttl)
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")
        believed = current if current is UNREAD or current is None else self._dump(current)
        if believed is not None and not self.swaps_on_value:
            believed = UNREAD
        await self._ready()

        def apply(stored: Any) -> Any:
            return fn(None if stored is None else self._load(stored))

        stored = await self._update_loop(namespace, key, apply, _expiry_change(seconds), believed)
        return None if stored is None else self._load(stored)

    async def append(
        self,
        namespace: str,
        key: str,
        items: Sequence[Any],
        *,
        max_items: int | None = None,
        ttl: TTL | None = None,
    ) -> int:
        """Atomically append `items` to the list at `key`; return the new length.

        An absent key starts an empty list; with `max_items` only the newest that many are
        kept. A stored value that is not a list raises TypeError and nothing is written.
        Concurrent appends from any number of instances lose no item.
        """
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = check_ttl(ttl)
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"items must be a list or tuple, not {type(items).__name__}")
        if max_items is not None and (
            isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1
        ):
            raise ValueError(f"max_items must be a positive int or None, not {max_items!r}")
        new_items: builtins.list[Any] = decode(encode(builtins.list(items), self.max_value_bytes))
        length = 0

        def extend(current_stored: Any) -> builtins.list[Any]:
            nonlocal length
            current = [] if current_stored is None else self._load(current_stored)
            if not isinstance(current, list):
                raise TypeError(
                    f"cannot append to {namespace!r}/{key!r}: it holds "
                    f"{type(current).__name__}, not a list"
                )
            combined: builtins.list[Any] = current + new_items
            if max_items is not None:
                combined = combined[-max_items:]
            length = len(combined)
            return combined

        await self._ready()
        await self._update_loop(namespace, key, extend, _expiry_change(seconds))
        return length

    async def add_numbered(
        self,
        namespace: str,
        counter: str,
        key_prefix: str,
        values: Sequence[Any],
        *,
        ttl: TTL | None = None,
    ) -> int:
        """Take the next `len(values)` numbers from the integer at `counter` (as `incr`)
        and store each value under `key_prefix` + its number in 19 digits (keys sort in
        number order); return the new total.

        Concurrent callers from any number of instances get distinct numbers, so no value
        overwrites another. Memory and SQLite take the numbers and write the values in one
        transaction; the server drivers take the numbers, then write the values (a crash
        between the two leaves numbers with no value, never a wrong one). A counter that
        is not an int raises TypeError, and a total beyond signed 64 bits
        SerializationError; nothing is written then. Without `ttl` the counter keeps its
        expiry and the values never expire.
        """
        namespace, counter = check_namespace(namespace), check_key(counter)
        seconds = check_ttl(ttl)
        if not isinstance(key_prefix, str):
            raise TypeError(f"key_prefix must be a str, not {type(key_prefix).__name__}")
        check_key(numbered_key(key_prefix, 2**63 - 1))  # the longest key it can write
        number = counter[len(key_prefix) :]
        if (
            counter.startswith(key_prefix)
            and len(number) == NUMBER_DIGITS
            and number.isascii()
            and number.isdigit()
        ):
            raise ValueError(f"counter {counter!r} is one of its own numbered keys")
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"values must be a list or tuple, not {type(values).__name__}")
        if not values:
            raise ValueError("values must not be empty")
        stored = [self._dump(value) for value in values]
        amount = len(stored)

        def items_of(total: int) -> builtins.list[tuple[str, Any]]:
            first = total - amount + 1
            return [(numbered_key(key_prefix, first + i), one) for i, one in enumerate(stored)]

        await self._ready()
        expiry, finite = _expiry_change(seconds), _finite(seconds)
        total = await self._call(
            self._incr_put, namespace, counter, expiry, items_of, amount, finite
        )
        if total is None:  # two steps: the numbers, then the values
            total = await self._incremented(namespace, counter, amount, expiry)
            await self._call(self._put_many, namespace, items_of(total), finite)
        self._after_write()
        return total

    async def _update_loop(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any],
        expiry: float | Keep | None,
        believed: Any = UNREAD,
    ) -> Any:
        """Compare-and-swap `fn(current stored value or None)` until it sticks.

        Returns the stored value written (the current one for KEEP, None for DELETE or
        an absent entry left absent). `expiry` is seconds, None (never) or KEEP_EXPIRY (a
        new entry then never expires). `believed` (a stored form, or None: absent)
        stands in for the first read; an answer that writes nothing (KEEP, or DELETE of
        an absent entry) cannot confirm it, so that try reads after all.

        Tasks of this instance queue on a per-key lock, so only other instances and
        processes can make a swap fail; those retries back off with jitter.
        """
        async with self._key_lock(namespace, key):
            attempt = 0
            while True:
                await self._ready()  # a close() between retries ends the loop
                guessed = believed is not UNREAD
                if guessed:
                    current, believed = believed, UNREAD
                else:
                    current = await self._call(self._get, namespace, key)
                result = fn(current)
                if inspect.isawaitable(result):
                    result = await result
                if result is KEEP or (result is DELETE and current is None):
                    if guessed:
                        continue  # no write would confirm the belief: read after all
                    return current
                if result is DELETE:
                    stored = None
                    swapped = await self._call(self._delete_if, namespace, key, current)
                elif current is None:
                    stored = self._dump(result)
                    fresh = None if isinstance(expiry, Keep) else expiry
                    swapped = await self._call(self._add, namespace, key, stored, fresh)
                else:
                    stored = self._dump(result)
                    swapped = await self._call(
                        self._replace_if, namespace, key, current, stored, expiry
                    )
                if swapped:
                    self._after_write()
                    return stored
                if guessed:
                    continue  # the belief was wrong, not a lost race: read at once
                attempt += 1
                if attempt in (16, 256):
                    logger.info(
                        "%s: update of %r in %r retried %d times (other writers on the key)",
                        repr(self),
                        key,
                        namespace,
                        attempt,
                    )
                backoff = min(RETRY_CAP_S, RETRY_BASE_S * 2**attempt)
                await asyncio.sleep(random.uniform(0, backoff))  # noqa: S311 (jitter, not crypto)

    @contextlib.asynccontextmanager
    async def _key_lock(self, namespace: str, key: str) -> AsyncIterator[None]:
        slot = (namespace, key)
        entry = self._key_locks.get(slot)
        if entry is None:
            entry = self._key_locks[slot] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._key_locks[slot]


def added(namespace: str, key: str, current: Any, amount: int) -> int:
    """`current + amount` for `incr`, or NotAnIntegerError when `current` is no int."""
    if isinstance(current, bool) or not isinstance(current, int):
        raise NotAnIntegerError(
            f"cannot incr {namespace!r}/{key!r}: it holds {type(current).__name__}, not an int"
        )
    return current + amount


def _bounds(prefix: object, start: object, stop: object) -> tuple[str, str | None] | None:
    """`(low, high)`: the keys starting with `prefix` within `start <= key < stop`, as
    `low <= key < high` (high None: no bound); None when no key can be in range."""
    prefix = check_prefix(prefix)
    low = max(prefix, "" if start is None else check_prefix(start))
    high = prefix_upper_bound(prefix)
    if stop is not None:
        stop = check_prefix(stop)
        high = stop if high is None else min(high, stop)
    if high is not None and low >= high:
        return None
    return low, high


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")


def _expiry_change(seconds: float | None) -> float | Keep | None:
    """An update's ttl for `_replace_if`: none given keeps the expiry; "never" is None."""
    if seconds is None:
        return KEEP_EXPIRY
    return None if seconds == math.inf else seconds


def _finite(seconds: float | None) -> float | None:
    """A ttl for writes that always set the expiry: `math.inf` ("never") becomes None."""
    return None if seconds == math.inf else seconds


def _checked_keys(keys: Iterable[str]) -> builtins.list[str]:
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys must be an iterable of str, not a single str")
    return [check_key(key) for key in keys]
