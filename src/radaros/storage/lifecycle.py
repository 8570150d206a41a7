"""`Lifecycle`: the state every driver shares: opening, closing, errors and sweeps.

The base of `StorageDriver` (whose operations call into it), above the primitives a driver
writes. A driver is NEW, then OPEN after `initialize()` (embedded drivers open on first
use), then CLOSED for good. Every call into the backend goes through `_call`, which turns
the backend's exceptions into StorageErrors by the driver's table (`_error_rules`) and
refuses to start once `close()` has begun. A write now and then starts a background sweep
of expired entries.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import enum
import functools
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from radaros.storage.errors import (
    ErrorRule,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
    StorageNotInitializedError,
)
from radaros.storage.primitives import Primitives
from radaros.storage.secrets import redact, url_secrets, wrap_error
from radaros.storage.url import driver_arguments

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CLOSE_TIMEOUT_S", "Lifecycle", "State", "logger"]

logger = logging.getLogger("radaros.storage")
"""Log arguments are always text (`repr(self)`, `str(exc)`), never the objects: a record a
handler keeps would otherwise keep a driver, an exception and its connections alive past
their event loop."""
# A library logs; the application decides where it goes (nothing on stderr by default).
logging.getLogger("radaros").addHandler(logging.NullHandler())

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


class State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class Lifecycle(Primitives):
    """State, construction from a URL, `initialize`/`close`, error translation, sweeps."""

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
        self._made_with: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._sweeps = True

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
        def __init__(self: Lifecycle, *args: Any, **options: Any) -> None:
            if args and isinstance(args[0], str) and "://" in args[0]:
                arguments, options = driver_arguments(cls, args[0], options)
                args = (*arguments, *args[1:])
            init(self, *args, **options)
            self._made_with = (args, options)  # the outermost constructor's, set last

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

    def _twin(self) -> Self | None:
        """A new, unopened driver like this one, with `twin_options` (one connection), for
        another thread's event loop; None for a borrowed client or a driver without
        `twin_options`. It leaves expiry sweeps to this driver."""
        if self.twin_options is None or self._url is None or self._made_with is None:
            return None
        args, options = self._made_with
        twin = type(self)(*args, **{**options, **self.twin_options})
        twin._sweeps = False
        return twin

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

    # -- expiry reclamation ------------------------------------------------------------------

    def _after_write(self) -> None:
        """Now and then, delete expired entries in the background (bounded work per sweep)."""
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S or self._sweeper is not None:
            return
        if not self._sweeps:
            return
        self._last_sweep = now
        self._sweeper = asyncio.get_running_loop().create_task(self._run_sweep())

    def _sweep_from(self, loop: asyncio.AbstractEventLoop) -> None:
        """After a blocking write: start the expiry sweep on `loop` when one is due."""
        if time.monotonic() - self._last_sweep >= SWEEP_INTERVAL_S and self._sweeper is None:
            loop.call_soon_threadsafe(self._after_write)

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

    def _blocking_call(self, primitive: Callable[..., T], *args: Any) -> T:
        """`_call` for a blocking twin: raise its failure as a StorageError (outside the
        `except` block, as there). Calls racing `close()` end with their result or
        StorageClosedError."""
        if self._state is not State.OPEN:
            raise StorageClosedError(f"{self!r} is closed")
        try:
            result = primitive(*args)
        except Exception as exc:
            error = self._translated(exc)
        else:
            if self._unreachable_since is not None:
                self._reached_again()
            return result
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
