"""`StorageDriver`: the one file a driver author reads.

Public methods live here and are never overridden: they check arguments, encode values,
enforce the lifecycle and then call a few primitives that a driver implements. Primitives
receive checked `str`s, stored values and `ttl` in seconds, and only talk to the backend.

A stored value is what `_dump(value)` makes: by default the strict JSON text from
`codec.encode` (SQL drivers keep exactly that). A driver may override `_dump`/`_load` to
keep another form (MongoDB keeps readable documents), as long as `_dump` applies the
codec's checks and `_replace_if` can compare what `_get` returned.

Required primitives: `_get`, `_put_many`, `_delete_many`, `_page`, `_add`, `_replace_if`,
`_namespaces`, `_close`. Optional (generic bodies here; override for speed): `_initialize`,
`_get_many`, `_count`, `_clear`, `_sweep_expired`, `_translate_error`, `_dump`/`_load`.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import contextlib
import enum
import inspect
import logging
import random
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, ParamSpec, TypeVar

from radaros.storage.codec import decode, encode
from radaros.storage.errors import (
    StorageClosedError,
    StorageError,
    StorageNotInitializedError,
)
from radaros.storage.validate import (
    TTL,
    check_key,
    check_namespace,
    check_prefix,
    check_ttl,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MEMORY_LONG",
    "MEMORY_SHORT",
    "SESSION_PREFIX",
    "Entry",
    "State",
    "StorageDriver",
    "wrap_error",
]

logger = logging.getLogger("radaros.storage")

P = ParamSpec("P")
T = TypeVar("T")

MEMORY_SHORT = "memory:short"
"""Reserved namespace: short-term conversation messages."""
MEMORY_LONG = "memory:long"
"""Reserved namespace: long-term summaries."""
SESSION_PREFIX = "session:"
"""Reserved namespace prefix: session metadata (`session:<id>`)."""

DEFAULT_PAGE_SIZE = 500
SWEEP_INTERVAL_S = 60.0
"""How often (at most) a write starts a background deletion of expired entries."""
RETRY_BASE_S = 0.0005
RETRY_CAP_S = 0.05


class Entry(NamedTuple):
    """One live key and its value; unpacks as `key, value`."""

    key: str
    value: Any


class State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


def wrap_error(
    error_class: type[StorageError], message: str, exc: BaseException, secrets: Iterable[str] = ()
) -> StorageError:
    """A StorageError for `exc`, with `exc` as its cause unless that would leak a secret.

    Backend messages sometimes echo a DSN; when any secret appears anywhere in the chain,
    the cause is dropped and only the exception type is named.
    """
    secrets = [secret for secret in secrets if secret]
    chain_text: list[str] = []
    node: BaseException | None = exc
    while node is not None and len(chain_text) < 20:
        chain_text.append(f"{node!r} {node}")
        node = node.__cause__ or node.__context__
    text = "\n".join(chain_text)
    leaked = any(secret in text for secret in secrets)
    detail = type(exc).__name__ if leaked else f"{type(exc).__name__}: {exc}"
    error = error_class(f"{message} ({detail})")
    error.__cause__ = None if leaked else exc
    error.__suppress_context__ = True
    return error


class StorageDriver(abc.ABC):
    """One async key-value interface; checks, JSON, TTL and lifecycle live here."""

    requires_initialize: ClassVar[bool] = False
    """Server drivers refuse operations until `initialize()`; embedded ones open lazily."""
    max_value_bytes: ClassVar[int | None] = None
    """Largest encoded value (UTF-8 bytes) the backend stores; larger raises ValueTooLargeError."""

    def __init__(self) -> None:
        self._state = State.NEW
        self._init_lock = asyncio.Lock()
        self._key_locks: dict[tuple[str, str], tuple[asyncio.Lock, list[int]]] = {}
        self._last_sweep = time.monotonic()
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._state is State.CLOSED

    def _describe(self) -> str:
        """Where the data lives, safe to show (no secret): used by repr and messages."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()!r}, state={self._state.value})"

    async def initialize(self) -> None:
        """Create tables, collections and indexes; idempotent and safe to run concurrently."""
        async with self._init_lock:
            if self._state is State.CLOSED:
                raise StorageClosedError(f"{self!r} is closed; create a new driver")
            if self._state is State.OPEN:
                return
            await self._call(self._initialize)
            self._state = State.OPEN

    async def close(self) -> None:
        """Release connections and files; idempotent, and bounded even with work in flight."""
        if self._state is State.CLOSED:
            return
        was_open = self._state is State.OPEN
        self._state = State.CLOSED
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if was_open or self._opened_partially():
            await self._call(self._close)

    def _opened_partially(self) -> bool:
        """True when `_initialize` may have acquired resources without finishing."""
        return True

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
        if self._state is not State.OPEN:  # inlined: get is the hottest path
            await self._ready()
        try:  # _call() inlined: one coroutine frame less on the hottest path
            stored = await self._get(namespace, key)
        except Exception as exc:
            error = self._translated(exc)
        else:
            return default if stored is None else self._load(stored)
        raise error

    async def set(self, namespace: str, key: str, value: Any, *, ttl: TTL | None = None) -> None:
        """Store the value, replacing both value and expiry (no `ttl`: never expires)."""
        namespace, key = check_namespace(namespace), check_key(key)
        seconds = check_ttl(ttl)
        stored = self._dump(value)
        await self._ready()
        await self._call(self._put_many, namespace, [(key, stored)], seconds)
        self._after_write()

    async def delete(self, namespace: str, key: str) -> None:
        """Remove the key; an absent key is not an error."""
        namespace, key = check_namespace(namespace), check_key(key)
        await self._ready()
        await self._call(self._delete_many, namespace, [key])

    async def list(self, namespace: str, prefix: str | None = None) -> builtins.list[Entry]:
        """Every live entry whose key starts with `prefix`, ascending by key (code points)."""
        namespace, prefix = check_namespace(namespace), check_prefix(prefix)
        await self._ready()
        rows = await self._call(self._page, namespace, prefix, None, None)
        return [Entry(key, self._load(stored)) for key, stored in rows]

    # -- batches -----------------------------------------------------------------------------

    async def get_many(self, namespace: str, keys: Iterable[str]) -> builtins.list[Any]:
        """Values aligned with `keys`: the value, or None when absent or expired."""
        namespace = check_namespace(namespace)
        keys = _checked_keys(keys)
        await self._ready()
        if not keys:
            return []
        found = await self._call(self._get_many, namespace, keys)
        return [None if stored is None else self._load(stored) for stored in found]

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
        seconds = check_ttl(ttl)
        pairs = items.items() if isinstance(items, Mapping) else items
        encoded: dict[str, Any] = {}
        for pair in pairs:
            if isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise TypeError("set_many items must be a mapping or (key, value) pairs")
            key, value = pair
            encoded[check_key(key)] = self._dump(value)
        await self._ready()
        if not encoded:
            return
        await self._call(self._put_many, namespace, list(encoded.items()), seconds)
        self._after_write()

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """Remove every key given; absent keys are not an error."""
        namespace = check_namespace(namespace)
        unique = list(dict.fromkeys(_checked_keys(keys)))
        await self._ready()
        if unique:
            await self._call(self._delete_many, namespace, unique)

    # -- listing -----------------------------------------------------------------------------

    def scan(
        self, namespace: str, prefix: str | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Entry]:
        """Entries in key order, `page_size` at a time (keyset paging: memory stays bounded).

        Keys present for the whole scan are seen exactly once; keys written during it may
        or may not be seen. Arguments are checked here, before iteration starts.
        """
        namespace, prefix = check_namespace(namespace), check_prefix(prefix)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, not {page_size!r}")
        return self._scan(namespace, prefix, page_size)

    async def _scan(self, namespace: str, prefix: str, page_size: int) -> AsyncIterator[Entry]:
        after: str | None = None
        while True:
            await self._ready()
            rows = await self._call(self._page, namespace, prefix, after, page_size)
            for key, stored in rows:
                yield Entry(key, self._load(stored))
            if len(rows) < page_size:
                return
            after = rows[-1][0]

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
        seconds = check_ttl(ttl)
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

        stored = await self._update_loop(namespace, key, apply, seconds)
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
        new_items: builtins.list[Any] = decode(encode(list(items), self.max_value_bytes))
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
        await self._update_loop(namespace, key, extend, seconds)
        return length

    async def _update_loop(
        self,
        namespace: str,
        key: str,
        fn: Callable[[Any], Any],
        seconds: float | None,
    ) -> Any:
        """Compare-and-swap `fn(current stored value or None)` until it sticks.

        Returns the stored value written.

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
                    swapped = await self._call(self._add, namespace, key, stored, seconds)
                else:
                    swapped = await self._call(
                        self._replace_if, namespace, key, current, stored, seconds
                    )
                if swapped:
                    self._after_write()
                    return stored
                attempt += 1
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
            removed = await self._call(self._sweep_expired)
            logger.debug("%r reclaimed %d expired entries", self, removed)
        except StorageError as exc:
            logger.debug("%r expiry sweep failed: %s", self, exc)
        finally:
            self._sweeper = None

    # -- primitives --------------------------------------------------------------------------

    def _dump(self, value: Any) -> Any:
        """The stored form of a value: strict JSON text (checks and size limit included)."""
        return encode(value, self.max_value_bytes)

    def _load(self, stored: Any) -> Any:
        """The value of a stored form; a fresh object every time (copy semantics)."""
        return decode(stored)

    async def _initialize(self) -> None:  # noqa: B027 (an optional hook, empty by design)
        """Create what the backend needs; called once, under a lock."""

    def _translate_error(self, exc: Exception) -> Exception:
        """The StorageError to raise for a backend exception (see `wrap_error`); others as is."""
        return exc

    async def _call(
        self, primitive: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await a primitive, raising its failure as the driver's StorageError.

        The error is raised outside the `except` block, so a cause that was dropped because
        it shows a secret is not kept as `__context__` either.
        """
        try:
            return await primitive(*args, **kwargs)
        except Exception as exc:
            error = self._translated(exc)
        raise error

    def _translated(self, exc: Exception) -> Exception:
        """`_translate_error(exc)`, to be raised outside the `except` block."""
        error = self._translate_error(exc)
        if error.__cause__ is None and error.__suppress_context__:
            error.__context__ = None  # `raise ... from None` inside a driver: keep it dropped
        return error

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
    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> None:
        """Delete the keys (distinct); absent ones are ignored."""

    @abc.abstractmethod
    async def _page(
        self, namespace: str, prefix: str, after: str | None, limit: int | None
    ) -> builtins.list[tuple[str, Any]]:
        """Live (key, stored) pairs with key starting with `prefix` and > `after`, ascending,
        at most `limit` (None: all). Must use the index, and match the prefix literally."""

    async def _count(self, namespace: str, prefix: str) -> int:
        """Live keys starting with `prefix` (generic: pages through them)."""
        total, after = 0, None
        while rows := await self._page(namespace, prefix, after, DEFAULT_PAGE_SIZE):
            total += len(rows)
            after = rows[-1][0]
        return total

    async def _clear(self, namespace: str, prefix: str) -> int:
        """Delete keys starting with `prefix`; return the live ones (generic: page + delete)."""
        total = 0
        while rows := await self._page(namespace, prefix, None, DEFAULT_PAGE_SIZE):
            await self._delete_many(namespace, [key for key, _ in rows])
            total += len(rows)
        return total

    @abc.abstractmethod
    async def _namespaces(self, prefix: str) -> builtins.list[str]:
        """Sorted namespaces starting with `prefix` that hold at least one live key."""

    @abc.abstractmethod
    async def _add(self, namespace: str, key: str, raw: Any, ttl: float | None) -> bool:
        """Insert unless a live entry exists (an expired one is replaced); True if stored."""

    @abc.abstractmethod
    async def _replace_if(
        self, namespace: str, key: str, expected: Any, raw: Any, ttl: float | None
    ) -> bool:
        """Replace the value only if the live entry still holds `expected` (as `_get` gave
        it); True if replaced. `ttl` None keeps the entry's current expiry."""

    async def _sweep_expired(self) -> int:
        """Delete some expired entries; return how many (default: the backend does it)."""
        return 0

    @abc.abstractmethod
    async def _close(self) -> None:
        """Release what the driver owns; never close a borrowed pool or client."""


def _checked_keys(keys: Iterable[str]) -> builtins.list[str]:
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys must be an iterable of str, not a single str")
    return [check_key(key) for key in keys]
