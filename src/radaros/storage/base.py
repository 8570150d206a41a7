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
import enum
import functools
import inspect
import logging
import math
import random
import time
import warnings
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, overload

from radaros.storage.codec import decode, encode
from radaros.storage.errors import (
    ErrorRule,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
    StorageNotInitializedError,
)
from radaros.storage.primitives import KEEP_EXPIRY, Keep, Primitives
from radaros.storage.protocol import (
    DEFAULT_PAGE_SIZE,
    MEMORY_LONG,
    MEMORY_SHORT,
    SESSION_PREFIX,
    TTL,
    Entry,
    TTLEntry,
)
from radaros.storage.secrets import redact, url_secrets, wrap_error
from radaros.storage.url import driver_arguments
from radaros.storage.validate import check_key, check_namespace, check_prefix, check_ttl

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MEMORY_LONG",
    "MEMORY_SHORT",
    "SESSION_PREFIX",
    "Entry",
    "ErrorRule",
    "State",
    "StorageDriver",
    "TTLEntry",
]

logger = logging.getLogger("radaros.storage")
"""Log arguments are always text (`repr(self)`, `str(exc)`), never the objects: a record a
handler keeps would otherwise keep a driver, an exception and its connections alive past
their event loop."""
# A library logs; the application decides where it goes (nothing on stderr by default).
logging.getLogger("radaros").addHandler(logging.NullHandler())

_running_loop = asyncio.get_running_loop
P = ParamSpec("P")
T = TypeVar("T")

SWEEP_INTERVAL_S = 60.0
"""How often (at most) a write starts a background deletion of expired entries."""
SWEEP_BATCH = 1000
"""Most expired entries one sweep statement deletes (keeps each statement short)."""
CLOSE_TIMEOUT_S = 5.0
"""How long closing an owned pool or client may wait for work in flight."""
DRAIN_TIMEOUT_S = 2.0
"""How long close() lets calls already in flight finish before it releases connections."""
RETRY_BASE_S = 0.0005
RETRY_CAP_S = 0.05


class State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class StorageDriver(Primitives):
    """One async key-value interface; checks, JSON, TTL and lifecycle live here."""

    def __init__(self) -> None:
        self._state = State.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._init_lock = asyncio.Lock()
        self._key_locks: dict[tuple[str, str], tuple[asyncio.Lock, list[int]]] = {}
        self._last_sweep = time.monotonic()
        self._sweeper: asyncio.Task[None] | None = None
        self._url: str | None = None
        self._secrets: builtins.list[str] = []
        self._owns_client = True
        self._rules: Sequence[ErrorRule] | None = None
        self._calls_in_flight = 0
        self._unreachable_since: float | None = None
        self._drained: asyncio.Event | None = None

    # -- construction ------------------------------------------------------------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Let every driver constructor take radaros options in its URL's query string.

        `PostgresStorage("postgresql://h/db?max_size=3", command_timeout_s=5)`: the options
        of the URL apply, and keywords given to the constructor win. Only a wrapper sees
        which keywords were given, so the constructor is wrapped here, once per class.
        """
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "takes_url_options", False):
            return

        @functools.wraps(init)
        def __init__(self: StorageDriver, *args: Any, **options: Any) -> None:
            if args and isinstance(args[0], str) and "://" in args[0]:
                arguments, options = driver_arguments(cls, args[0], options)
                args = (*arguments, *args[1:])
            init(self, *args, **options)

        __init__.takes_url_options = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """A driver for `url`; options come from its query string and `options` (which win).
        The URL is checked and split once, by the constructor."""
        # A driver constructor takes the URL (the base class takes nothing).
        return cls(url, **options)  # type: ignore[call-arg]

    def _adopt(self, url_or_client: str | T) -> T | None:
        """Remember where the connection comes from: a URL is owned (and closed by the
        driver), anything else is a borrowed client or pool (never closed here). The URL
        arrives without radaros's options (the constructor's wrapper took them)."""
        if isinstance(url_or_client, str):
            self._url = url_or_client
            self._secrets = url_secrets(url_or_client)
            self._owns_client = True
            return None
        self._url = None
        self._owns_client = False
        return url_or_client

    def _source(self) -> str:
        """The URL (redacted), or that the client was borrowed."""
        return redact(self._url) if self._url else "borrowed client"

    async def _release(
        self, client: Any, close: Callable[[], Awaitable[Any]], abort: Callable[[], Any]
    ) -> None:
        """Close an owned client within CLOSE_TIMEOUT_S, else `abort()` it; borrowed ones
        are left open."""
        if client is None or not self._owns_client:
            return
        try:
            await asyncio.wait_for(close(), timeout=CLOSE_TIMEOUT_S)
        except (asyncio.TimeoutError, Exception):
            with contextlib.suppress(Exception):
                abort()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._state is State.CLOSED

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()!r}, state={self._state.value})"

    def __del__(self) -> None:
        # As aiosqlite and asyncio's transports do: an unclosed driver is a leak worth hearing.
        if getattr(self, "_state", None) is State.OPEN and self._holds_resources():
            warnings.warn(
                f"unclosed {self!r}: call await storage.close() or use async with",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )

    @property
    def db_namespace(self) -> str | None:
        """The database (SQLite file, PostgreSQL database, ...), for telemetry's
        `db.namespace`; None where there is none."""
        return self._db_namespace()

    async def initialize(self) -> None:
        """Create tables, collections and indexes; idempotent and safe to run concurrently."""
        async with self._init_lock:
            if self._state is State.CLOSED:
                raise StorageClosedError(f"{self!r} is closed; create a new driver")
            if self._state is State.OPEN:
                self._check_loop()
                return
            await self._call(self._initialize)
            if self.binds_event_loop:
                self._loop = asyncio.get_running_loop()
            self._state = State.OPEN

    async def close(self) -> None:
        """Release connections and files; idempotent, and bounded even with work in flight.

        Closing from another event loop than the one that opened a server driver marks it
        closed without touching its connections: they belong to that loop and end with it.
        """
        if self._state is State.CLOSED:
            return
        was_open = self._state is State.OPEN
        self._state = State.CLOSED
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            logger.warning(
                "%s closed from another event loop; its connections were dropped", repr(self)
            )
            return
        if self._calls_in_flight:
            # Calls already on the wire finish first (bounded): client libraries can leave
            # a socket open when it is closed under a call that is still connecting.
            self._drained = asyncio.Event()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT_S)
        if was_open or self._opened_partially():
            try:
                await self._close()
            except Exception as exc:
                error = self._translated(exc)
            else:
                return
            raise error

    def _check_loop(self) -> None:
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            raise StorageError(
                f"{type(self).__name__} was opened on another event loop, and its connections "
                "belong to that loop (asyncio.run() makes a new loop each time): create and "
                "open one driver per event loop, inside the loop that uses it"
            )

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _ready(self) -> None:
        """Raise unless the driver can serve; embedded drivers open on first use."""
        if self._state is State.OPEN:
            self._check_loop()
            return
        if self._state is State.CLOSED:
            raise StorageClosedError(f"{self!r} is closed; create a new driver")
        if self.requires_initialize:
            raise StorageNotInitializedError(
                f"{type(self).__name__} is not initialized: call await storage.initialize() "
                "or use async with"
            )
        await self.initialize()

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

    async def list(self, namespace: str, prefix: str | None = None) -> builtins.list[Entry]:
        """Every live entry whose key starts with `prefix`, ascending by key (code points)."""
        namespace, prefix = check_namespace(namespace), check_prefix(prefix)
        await self._ready()
        rows = await self._call(self._page, namespace, prefix, None, None)
        return [Entry(row[0], self._load(row[1])) for row in rows]

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
        await self._ready()
        if not encoded:
            return
        await self._call(self._put_many, namespace, builtins.list(encoded.items()), seconds)
        self._after_write()

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> int:
        """Remove every key given; return how many live entries were removed (a key listed
        twice counts once). Absent keys are not an error."""
        namespace = check_namespace(namespace)
        unique = builtins.list(dict.fromkeys(_checked_keys(keys)))
        await self._ready()
        if not unique:
            return 0
        return await self._call(self._delete_many, namespace, unique)

    # -- listing -----------------------------------------------------------------------------

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[False] = False,
    ) -> AsyncIterator[Entry]: ...

    @overload
    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: Literal[True],
    ) -> AsyncIterator[TTLEntry]: ...

    def scan(
        self,
        namespace: str,
        prefix: str | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_ttl: bool = False,
    ) -> AsyncIterator[Entry] | AsyncIterator[TTLEntry]:
        """Entries in key order, `page_size` at a time (keyset paging: memory stays bounded).

        Keys present for the whole scan are seen exactly once; keys written during it may
        or may not be seen. With `with_ttl`, yields `TTLEntry(key, value, ttl)`, value and
        expiry read together (what export and copy need). Arguments are checked here,
        before iteration starts.
        """
        namespace, prefix = check_namespace(namespace), check_prefix(prefix)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, not {page_size!r}")
        if with_ttl:
            return self._scan_with_ttl(namespace, prefix, page_size)
        return self._scan(namespace, prefix, page_size)

    async def _pages(
        self, namespace: str, prefix: str, page_size: int
    ) -> AsyncIterator[builtins.list[tuple[str, Any, float]]]:
        after: str | None = None
        while True:
            await self._ready()
            rows = await self._call(self._page, namespace, prefix, after, page_size)
            yield rows
            if len(rows) < page_size:
                return
            after = rows[-1][0]

    async def _scan(self, namespace: str, prefix: str, page_size: int) -> AsyncIterator[Entry]:
        async for rows in self._pages(namespace, prefix, page_size):
            for row in rows:
                yield Entry(row[0], self._load(row[1]))

    async def _scan_with_ttl(
        self, namespace: str, prefix: str, page_size: int
    ) -> AsyncIterator[TTLEntry]:
        async for rows in self._pages(namespace, prefix, page_size):
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

    async def update(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]],
        *,
        ttl: TTL | None = None,
    ) -> Any:
        """Atomically store `fn(current_or_None)` and return it (as `get` would).

        Optimistic: read, call `fn`, then write only if the stored value is unchanged;
        otherwise retry. So `fn` may run more than once and must be pure; if it raises,
        nothing is written and the exception propagates. Without `ttl` the entry keeps
        its expiry.
        """
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = check_ttl(ttl)
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")
        await self._ready()

        def apply(current: Any) -> Any:
            return fn(None if current is None else self._load(current))

        stored = await self._update_loop(namespace, key, apply, _expiry_change(seconds))
        return self._load(stored)

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

    async def _update_loop(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any],
        expiry: float | Keep | None,
    ) -> Any:
        """Compare-and-swap `fn(current stored value or None)` until it sticks.

        Returns the stored value written. `expiry` is seconds, None (never) or KEEP_EXPIRY
        (a new entry then never expires).

        Tasks of this instance queue on a per-key lock, so only other instances and
        processes can make a swap fail; those retries back off with jitter.
        """
        async with self._key_lock(namespace, key):
            attempt = 0
            while True:
                await self._ready()  # a close() between retries ends the loop
                current = await self._call(self._get, namespace, key)
                result = fn(current)
                if inspect.isawaitable(result):
                    result = await result
                stored = self._dump(result)
                if current is None:
                    fresh = None if isinstance(expiry, Keep) else expiry
                    swapped = await self._call(self._add, namespace, key, stored, fresh)
                else:
                    swapped = await self._call(
                        self._replace_if, namespace, key, current, stored, expiry
                    )
                if swapped:
                    self._after_write()
                    return stored
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

    # -- expiry reclamation ------------------------------------------------------------------

    def _after_write(self) -> None:
        """Now and then, delete expired entries in the background (bounded work per sweep)."""
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S or self._sweeper is not None:
            return
        self._last_sweep = now
        self._sweeper = asyncio.get_running_loop().create_task(self._run_sweep())

    async def _run_sweep(self) -> None:
        try:
            removed = 0
            while True:
                batch = await self._call(self._sweep_batch, SWEEP_BATCH)
                removed += batch
                if batch < SWEEP_BATCH or self._state is not State.OPEN:
                    break
            if removed:
                logger.info("%s reclaimed %d expired entries", repr(self), removed)
        except StorageError as exc:
            logger.warning("%s: expiry sweep failed: %s", repr(self), str(exc))
        finally:
            self._sweeper = None

    # -- errors ------------------------------------------------------------------------------

    async def _call(
        self, primitive: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await a primitive, raising its failure as a StorageError.

        The error is raised outside the `except` block, so a cause that was dropped because
        it shows a secret is not kept as `__context__` either. Nothing starts once close()
        has begun: a call sent while close() waits for the calls in flight would run on a
        client being closed (and some clients reconnect under it).
        """
        if self._state is State.CLOSED:
            raise StorageClosedError(f"{self!r} is closed")
        self._calls_in_flight += 1
        try:
            result = await primitive(*args, **kwargs)
        except Exception as exc:
            error = self._translated(exc)
        else:
            if self._unreachable_since is not None:
                self._reached_again()
            return result
        finally:
            self._call_done()
        raise error

    def _reached_again(self) -> None:
        down_s = time.monotonic() - (self._unreachable_since or 0.0)
        self._unreachable_since = None
        logger.info("%s: backend reachable again after %.1f s", repr(self), down_s)

    def _call_done(self) -> None:
        self._calls_in_flight -= 1
        if self._drained is not None and not self._calls_in_flight:
            self._drained.set()

    def _translated(self, exc: Exception) -> StorageError:
        """The StorageError for `exc`, by the driver's table; anything the table misses is
        wrapped as a plain StorageError, so no backend exception ever escapes."""
        if isinstance(exc, StorageError):
            if exc.__cause__ is None and exc.__suppress_context__:
                exc.__context__ = None  # `raise ... from None` inside a driver: keep it dropped
            return exc
        if self._rules is None:
            self._rules = self._error_rules()
        where = self._describe()
        detail = None
        for rule in self._rules:
            if rule.matches(exc):
                error_class, message = rule.error, rule.message
                detail = rule.detail(exc) if rule.detail is not None else None
                break
        else:
            error_class, message = StorageError, f"{type(self).__name__} failed at {{where}}"
        if self.is_closed:  # whatever failed in flight failed because of close()
            error_class, message = (
                StorageClosedError,
                f"{type(self).__name__} is closed ({{where}})",
            )
        error = wrap_error(error_class, message.format(where=where), exc, self._secrets, detail)
        if isinstance(error, StorageConnectionError) and self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
            logger.warning("%s: backend unreachable: %s", repr(self), str(error))
        return error


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
