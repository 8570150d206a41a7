"""`RedisStorage`: Redis (or Valkey), standalone or Redis Cluster, on redis-py's asyncio client.

Key layout, for the prefix `P` (default "radaros") and a namespace `N`:

```
P:{N'}:e   sorted set   the entries while none of the namespace's expires: one member
                        `key NUL value` each (the value's JSON text), score 0
P:{N'}:t   sorted set   the same entries while some expire (`e` renamed; never both)
P:{N'}:x   sorted set   keys that expire, score = expiry in ms on the server's clock (TIME)
P:namespaces  sorted set, score 0: the namespaces (lexicographic, for namespaces(prefix))
```
`N'` is the namespace with `%`, `{` and `}` percent-encoded: the hash tag `{N'}` puts every
key of one namespace in one cluster slot (so each script stays atomic), and no namespace
character can end the tag early or make two namespaces share keys. Keys hold no NUL, so
members sort by key; Redis compares members byte by byte, and UTF-8 byte order is code
point order. A key's member is found by the range `[key NUL` .. `(key \x01`.

* Writes and point reads are one Lua script on the namespace's slot (one round trip): the
  script reads the server's clock, so expired entries are absent from the moment they
  expire, on every instance. Writes reclaim a few expired entries of their namespace as
  they go; a background sweep reclaims the rest namespace by namespace. Never KEYS, never
  SCAN.
* A page (`list`, `scan`) is one plain ZRANGEBYLEX of `e`: that key exists only while
  nothing in the namespace expires, so what it returns is live, read in one atomic command
  without a script (a script spends most of a page's time converting replies). When it
  finds nothing (the namespace has expiring entries, or the range is empty) a script reads
  the page; the driver remembers namespaces seen with expiring entries and goes to the
  script first for them.
* `P:namespaces` lists namespaces that may hold keys; `namespaces()` checks each
  candidate in the prefix's range. Standalone, scripts keep it exact. In a cluster it
  lives in another slot, so a write that fills an empty namespace adds it in a second
  round trip, and the sweep removes emptied ones (removal, re-check, re-add if refilled).
* radaros 0.2 kept a namespace as a hash of values (`P:{N'}:v`) and a sorted set of keys
  (`P:{N'}:k`). Every script refuses a namespace that still has them; the driver then
  converts that namespace (a thousand entries per script call, gathered aside until the
  last batch, so no reader sees half of it) and goes on. Upgrade every instance at once:
  0.2 neither reads nor converts the new layout.
* Durability is the server's: with `appendonly yes` and `appendfsync always` an
  acknowledged write survives a crash of the server; with the default `everysec` up to
  a second of writes may be lost; with persistence off, everything is lost on restart.
* Client retries are off: a write whose reply was lost is never sent twice (an `add`
  must not win twice). A failed call raises StorageConnectionError; the next one
  reconnects (and, in a cluster, finds the new primary after a failover).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import radaros.storage.redis_scripts as lua
from radaros.storage.base import StorageDriver
from radaros.storage.errors import (
    ErrorRule,
    NotAnIntegerError,
    SerializationError,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
)
from radaros.storage.lifecycle import logger
from radaros.storage.pool import ConnectionStack
from radaros.storage.primitives import Keep
from radaros.storage.redis_scripts import LEGACY_LAYOUT, Script, Scripts
from radaros.storage.url import database_in, take_options
from radaros.storage.validate import check_durations, prefix_upper_bound

if sys.version_info >= (3, 11):
    from asyncio import timeout as _timeout
else:  # redis-py depends on async-timeout before Python 3.11.3
    from async_timeout import timeout as _timeout

if TYPE_CHECKING:
    from types import ModuleType

    from redis.asyncio import Redis, RedisCluster
    from redis.asyncio.connection import AbstractConnection

    Client = Redis | RedisCluster

__all__ = ["RedisStorage"]

T = TypeVar("T")

MAX_ARGUMENTS = 1000
"""Keys per script call: Lua's `unpack` limit is ~8000 values, and shorter scripts keep
the server responsive. So `set_many` is all-or-nothing up to this many keys, not beyond."""
SWEEP_NAMESPACES = 200
"""Namespaces one background sweep step visits."""
CONVERSIONS = 3
"""Conversions of one namespace from radaros 0.2's layout an operation waits for (more
means a 0.2 instance is still writing there)."""
TIMED_REMEMBERED = 1024
"""Namespaces remembered as holding expiring entries (their pages go to the script first);
past that many, the memory starts over."""

REDIS_URL_PARAMETERS = frozenset(
    {
        "db",
        "health_check_interval",
        "password",
        "username",
        "protocol",
        "ssl_ca_certs",
        "ssl_cert_reqs",
        "ssl_certfile",
        "ssl_check_hostname",
        "ssl_keyfile",
        "ssl_min_version",
        "client_name",
        "retry_on_timeout",
    }
)
"""Query parameters redis-py's `from_url` reads itself; they stay in the URL."""


def _import_redis() -> ModuleType:
    try:
        import redis.asyncio
    except ImportError:
        raise ImportError("RedisStorage needs redis-py: pip install 'radaros[redis]'") from None
    return redis


def _pack_in_python(args: tuple[Any, ...]) -> bytes:
    """A command in RESP, as redis-py and hiredis write it (str as UTF-8, numbers by repr),
    for the arguments radaros sends: str, int and float."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if type(arg) is str else repr(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _packer() -> Callable[[tuple[Any, ...]], bytes]:
    try:
        from hiredis import pack_command
    except ImportError:
        return _pack_in_python
    return cast("Callable[[tuple[Any, ...]], bytes]", pack_command)


_pack = _packer()
"""Command encoding, a third of redis-py's cost (hiredis's when installed)."""


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    """`items` in script-sized pieces (MAX_ARGUMENTS keys each)."""
    return [items[start : start + MAX_ARGUMENTS] for start in range(0, len(items), MAX_ARGUMENTS)]


def _values(keys: Sequence[str], members: Sequence[str | None]) -> list[str | None]:
    """The stored values in the members `key NUL value` the GET scripts return."""
    return [
        None if member is None else member[len(key) + 1 :]
        for key, member in zip(keys, members, strict=True)
    ]


def _flat(items: Sequence[tuple[str, str]]) -> list[str]:
    return [part for item in items for part in item]


def _milliseconds(ttl: float | None) -> float:
    """A ttl as the scripts take it: milliseconds, 0 for never."""
    return 0 if ttl is None else ttl * 1000


def _seconds(remaining: str) -> float:
    """Time left as the scripts give it (milliseconds, -1 for never), in seconds."""
    milliseconds = float(remaining)
    return math.inf if milliseconds == -1 else milliseconds / 1000


def _lex_range(low: str, high: str | None, after: str | None = None) -> tuple[str, str]:
    """(min, max) lexicographic bounds for `low <= name < high`, above `after`."""
    start = f"[{low}" if low else "-"
    stop = "+" if high is None else f"({high}"
    if after is not None and after >= low:
        start = f"({after}"
    return start, stop


def _prefix_range(prefix: str, after: str | None = None) -> tuple[str, str]:
    """Bounds for the names (or the members of the keys) starting with `prefix`, above
    the name `after`."""
    return _lex_range(prefix, prefix_upper_bound(prefix), after)


def _member_range(low: str, high: str | None, after: str | None, reverse: bool) -> tuple[str, str]:
    """(min, max) bounds of the members `key NUL value` whose key lies in `low <= key <
    high`, past the key `after`. A key's member sorts above the key itself and below
    `key + "\x01"`, and so below the member of any greater key."""
    start, stop = _lex_range(low, high)
    if after is not None and not reverse and after >= low:
        start = f"[{after}\x01"
    if after is not None and reverse and (high is None or after <= high):
        stop = f"({after}"
    return start, stop


class _BlockingConnections:
    """Blocking connections for calls from other threads (`SyncStorage`'s callers): a
    stack shared by the calling threads, at most `size` in use at once (a caller beyond
    that waits up to `timeout_s`). A connection whose call failed for any reason but an
    error reply is closed, never reused."""

    def __init__(
        self, factory: Any, response_error: type[Exception], size: int, timeout_s: float
    ) -> None:
        self._factory = factory
        self._response_error = response_error
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._timeout_s = timeout_s
        self._is_closed = False

    def command(self, *args: Any) -> Any:
        if not self._slots.acquire(timeout=self._timeout_s):
            raise TimeoutError(f"no free Redis connection within {self._timeout_s} s")
        try:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                connection = self._factory.make_connection()
            try:
                connection.send_packed_command([_pack(args)])
                reply = connection.read_response()
            except BaseException as exc:
                if isinstance(exc, self._response_error):
                    self._give_back(connection)
                else:
                    connection.disconnect()
                raise
            self._give_back(connection)
            return reply
        finally:
            self._slots.release()

    def _give_back(self, connection: Any) -> None:
        with self._lock:
            if not self._is_closed:
                self._idle.append(connection)
                return
        connection.disconnect()

    def close(self) -> None:
        """Close the idle connections; those in use close when their call ends."""
        with self._lock:
            self._is_closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                connection.disconnect()


class RedisStorage(StorageDriver):
    """Redis or Valkey through redis-py: its own client (from a URL) or a borrowed one.

    Options: `prefix` (first part of every key radaros writes, so its keys stay apart
    from the application's; no `{` or `}`), `cluster=True` for Redis Cluster (also
    `?cluster=true` in the URL), `max_connections`, `connect_timeout_s`, `timeout_s`
    (bound on every reply, so a half-open socket cannot hang a call). A borrowed client
    (`redis.asyncio.Redis` or `RedisCluster`) needs `decode_responses=True`. Needs Redis
    6.2 or newer (ZMSCORE).
    """

    requires_initialize = True
    twin_options: ClassVar[dict[str, Any] | None] = {"max_connections": 1}
    db_system = "redis"
    binds_event_loop = True
    max_value_bytes = 256 * 1024 * 1024

    def __init__(
        self,
        url_or_client: str | Client,
        *,
        prefix: str = "radaros",
        cluster: bool = False,
        max_connections: int = 50,
        connect_timeout_s: float = 10.0,
        timeout_s: float = 30.0,
    ) -> None:
        super().__init__()
        self._redis = _import_redis()
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix must be a non-empty str without '{{' or '}}', not {prefix!r}")
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        check_durations(connect_timeout_s=connect_timeout_s, timeout_s=timeout_s)
        if not isinstance(url_or_client, str):
            cluster = isinstance(url_or_client, self._redis.asyncio.RedisCluster)
            if not url_or_client.get_encoder().decode_responses:
                raise ValueError("a borrowed Redis client needs decode_responses=True")
        self._client: Client | None = self._adopt(url_or_client)  # type: ignore[assignment]
        self._prefix = prefix
        self._is_cluster = cluster
        self._index = f"{prefix}:namespaces"
        self._layout = Scripts(prefix, cluster)
        self._max_connections = max_connections
        self._timeout_s = timeout_s
        self._options: dict[str, Any] = {
            "decode_responses": True,
            "max_connections": max_connections,
            "socket_connect_timeout": connect_timeout_s,
            "socket_timeout": timeout_s,
        }
        self._stack: ConnectionStack[AbstractConnection] | None = None
        self._blocking: _BlockingConnections | None = None
        # A SyncStorage on a standalone server it owns runs point calls in the calling
        # thread, on blocking connections: no event loop between the caller and Redis.
        self.serves_blocking = not cluster and isinstance(url_or_client, str)
        self._dropping: set[asyncio.Task[None]] = set()
        self._sweep_after = ""
        self._timed: set[str] = set()
        # Beyond max_connections, client calls wait here (redis-py's cluster client would
        # raise MaxConnectionsError instead of waiting for a free connection).
        self._slots = asyncio.Semaphore(max_connections)

    @classmethod
    def _split_url(cls, url: str) -> tuple[tuple[Any, ...], dict[str, str]]:
        url, ours = take_options(cls, url, "Redis", REDIS_URL_PARAMETERS)
        return (url,), ours

    @property
    def scripts(self) -> Scripts:
        """The Lua scripts this driver runs and the keys each runs on, for tools and
        benchmarks that want to send exactly what it sends."""
        return self._layout

    def _db_namespace(self) -> str | None:
        return database_in(self._url)

    def _describe(self) -> str:
        topology = "cluster" if self._is_cluster else "standalone"
        return f"{self._source()} {topology} prefix={self._prefix}"

    def _error_rules(self) -> list[ErrorRule]:
        errors = self._redis.exceptions
        # Retryable: the server or the slot map is changing. During a reshard or failover
        # redis-py gives up with ClusterError("TTL exhausted."), MovedError, AskError or
        # SlotNotCoveredError once its redirections run out; trying again later succeeds.
        retryable = (
            "ConnectionError",
            "TimeoutError",
            "ClusterDownError",
            "TryAgainError",
            "MasterDownError",
            "ReadOnlyError",
            "RedisClusterException",
            "ClusterError",
            "MovedError",
            "AskError",
            "SlotNotCoveredError",
            "BusyLoadingError",
        )
        return [
            ErrorRule(
                (
                    *(getattr(errors, name) for name in retryable if hasattr(errors, name)),
                    OSError,
                    TimeoutError,
                ),
                StorageConnectionError,
                "Redis unavailable at {where}",
            ),
            ErrorRule(errors.RedisError, StorageError, "Redis error at {where}"),
        ]

    # -- plumbing ----------------------------------------------------------------------------

    async def _initialize(self) -> None:
        redis = self._redis
        retry = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0)
        if self._is_cluster and self._client is None:
            self._client = redis.asyncio.RedisCluster.from_url(
                self._url, retry=retry, **self._options
            )
        elif self._client is None and self._stack is None:
            # A standalone server gets connections of radaros's own, commands sent on them
            # directly: redis-py's client adds a pool checkout, retry and metrics wrapper
            # per command (about a third of a round trip here). redis-py's pool only parses
            # the URL and makes the connections (TLS, auth, db, RESP version included).
            # No socket_timeout on them: `_command` bounds each call with one timer instead
            # of redis-py's per-send `wait_for`, which starts a task on Python < 3.12.
            options = {**self._options, "socket_timeout": None, "retry": retry}
            factory = redis.asyncio.ConnectionPool.from_url(self._url, **options)
            stack: ConnectionStack[AbstractConnection] = ConnectionStack(
                lambda: self._connect(factory),
                is_closed=lambda connection: not connection.is_connected,
                close=lambda connection: connection.disconnect(),
                terminate=self._drop,
                min_size=1,
                max_size=self._max_connections,
                acquire_timeout_s=self._timeout_s,
            )
            try:
                async with _timeout(self._timeout_s):
                    await stack.fill()
            except BaseException:
                stack.terminate()
                raise
            self._stack = stack
            # For SyncStorage's calling threads: blocking sockets, whose timeouts cost
            # nothing per call. Connections open on first use.
            no_retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
            blocking = redis.ConnectionPool.from_url(self._url, **self._options, retry=no_retry)
            self._blocking = _BlockingConnections(
                blocking, redis.exceptions.ResponseError, self._max_connections, self._timeout_s
            )
        if self._client is not None:
            await self._client.ping()
        # Loaded now, so that no call pays for a NOSCRIPT reply (a primary promoted by a
        # failover may still lack them: `_run` then sends the source once).
        for script in lua.ALL:
            if self._client is not None:
                await self._client.script_load(script.source)
            else:
                await self._command("SCRIPT", "LOAD", script.source)

    @staticmethod
    async def _connect(factory: Any) -> AbstractConnection:
        connection: AbstractConnection = factory.make_connection()
        await connection.connect()  # type: ignore[no-untyped-call]
        return connection

    def _drop(self, connection: AbstractConnection) -> None:
        """Cut a connection from synchronous code (closing, or a failed call's)."""
        if not connection.is_connected:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing left to close on
            task = asyncio.get_running_loop().create_task(connection.disconnect(nowait=True))
            self._dropping.add(task)
            task.add_done_callback(self._dropping.discard)

    async def _close(self) -> None:
        client, self._client = self._client, None
        stack, self._stack = self._stack, None
        blocking, self._blocking = self._blocking, None
        if blocking is not None:
            blocking.close()
        if stack is not None:
            await self._release(stack, stack.close, stack.terminate)
        if client is not None:
            await self._release(client, client.aclose, lambda: None)

    def _holds_resources(self) -> bool:
        return self._owns_client and (self._client is not None or self._stack is not None)

    async def _command(self, *args: Any) -> Any:
        """One command and its reply: on a connection of the stack, or through the client."""
        stack = self._stack
        if stack is None:
            client = self._client
            if client is None:
                raise StorageClosedError(f"{self!r} is closed")
            async with self._slots:
                if self._client is not client:  # closed while this call waited for a slot
                    raise StorageClosedError(f"{self!r} is closed")
                return await client.execute_command(*args)
        # One timer bounds the whole call: waiting for a connection, opening one (its
        # handshake has no socket timeout either), the command and its reply.
        async with _timeout(self._timeout_s):
            connection = stack.take_idle() or await stack.acquire()
            try:
                await connection.send_packed_command(_pack(args))
                reply = await connection.read_response()
            except BaseException as exc:
                # An error reply leaves the connection in step; anything else (a timeout,
                # a cancellation, a lost socket) may leave a reply unread: it goes.
                is_reply = isinstance(exc, self._redis.exceptions.ResponseError)
                stack.release(connection, reusable=is_reply)
                raise
        stack.release(connection)
        return reply

    async def _run(self, script: Script, namespace: str, *args: Any) -> Any:
        """Run one script on the namespace's slot: one round trip (two if the server lost
        its script cache, as a freshly promoted replica may have). A namespace still in
        radaros 0.2's layout is converted first."""
        keys = self._layout.keys(namespace, script)
        for _ in range(CONVERSIONS):
            try:
                return await self._evaluate(script, keys, namespace, args)
            except self._redis.exceptions.ResponseError as exc:
                if LEGACY_LAYOUT not in str(exc):
                    raise
            await self._convert(namespace)
        raise self._still_converting(namespace)

    async def _evaluate(
        self, script: Script, keys: tuple[str, ...], namespace: str, args: tuple[Any, ...]
    ) -> Any:
        try:
            return await self._command("EVALSHA", script.sha, len(keys), *keys, namespace, *args)
        except self._redis.exceptions.NoScriptError:
            return await self._command("EVAL", script.source, len(keys), *keys, namespace, *args)

    async def _convert(self, namespace: str) -> None:
        """Convert a namespace from radaros 0.2's layout, a batch per call (safe when
        several instances convert it at once: each batch is atomic)."""
        keys = self._layout.keys(namespace, lua.MIGRATE)
        batches = 1
        while await self._evaluate(lua.MIGRATE, keys, namespace, (MAX_ARGUMENTS,)) == 1:
            batches += 1
        self._converted(batches)

    def _blocking_command(self, *args: Any) -> Any:
        """`_command` in the calling thread, on a blocking connection."""
        blocking = self._blocking
        if blocking is None:
            raise StorageClosedError(f"{self!r} is closed")
        return blocking.command(*args)

    def _run_blocking(self, script: Script, namespace: str, *args: Any) -> Any:
        """`_run` in the calling thread."""
        keys = self._layout.keys(namespace, script)
        for _ in range(CONVERSIONS):
            try:
                return self._evaluate_blocking(script, keys, namespace, args)
            except self._redis.exceptions.ResponseError as exc:
                if LEGACY_LAYOUT not in str(exc):
                    raise
            self._convert_blocking(namespace)
        raise self._still_converting(namespace)

    def _convert_blocking(self, namespace: str) -> None:
        """`_convert` in the calling thread."""
        keys = self._layout.keys(namespace, lua.MIGRATE)
        batches = 1
        while self._evaluate_blocking(lua.MIGRATE, keys, namespace, (MAX_ARGUMENTS,)) == 1:
            batches += 1
        self._converted(batches)

    def _evaluate_blocking(
        self, script: Script, keys: tuple[str, ...], namespace: str, args: tuple[Any, ...]
    ) -> Any:
        command = self._blocking_command
        try:
            return command("EVALSHA", script.sha, len(keys), *keys, namespace, *args)
        except self._redis.exceptions.NoScriptError:
            return command("EVAL", script.source, len(keys), *keys, namespace, *args)

    def _converted(self, batches: int) -> None:
        logger.info(
            "%s converted a namespace from the radaros 0.2 layout (%d batches)", repr(self), batches
        )

    def _still_converting(self, namespace: str) -> StorageError:
        return StorageError(
            f"{self!r}: namespace {namespace!r} keeps receiving radaros 0.2 writes while it "
            "is converted; upgrade every instance to this version"
        )

    async def _remember(self, namespace: str, is_fresh: Any) -> None:
        """Cluster: a write that filled an empty namespace lists it in the index."""
        if is_fresh == 1 and self._is_cluster:
            await self._command("ZADD", self._index, 0, namespace)

    # -- primitives --------------------------------------------------------------------------

    async def _get(self, namespace: str, key: str) -> str | None:
        member: str | None = await self._run(lua.GET, namespace, key)
        return None if member is None else member[len(key) + 1 :]

    async def _get_many(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        found: list[str | None] = []
        for chunk in _chunks(keys):
            found.extend(_values(chunk, await self._run(lua.GET_MANY, namespace, *chunk)))
        return found

    async def _put_many(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        ttl_ms = _milliseconds(ttl)
        for chunk in _chunks(items):
            is_fresh = await self._run(lua.PUT, namespace, ttl_ms, *_flat(chunk))
            await self._remember(namespace, is_fresh)

    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> int:
        live = 0
        for chunk in _chunks(keys):
            live += int(await self._run(lua.DELETE, namespace, *chunk))
        return live

    # The same four in the calling thread, on blocking connections (standalone, owned).

    def _get_blocking(self, namespace: str, key: str) -> str | None:
        member: str | None = self._run_blocking(lua.GET, namespace, key)
        return None if member is None else member[len(key) + 1 :]

    def _get_many_blocking(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        found: list[str | None] = []
        for chunk in _chunks(keys):
            found.extend(_values(chunk, self._run_blocking(lua.GET_MANY, namespace, *chunk)))
        return found

    def _put_many_blocking(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        ttl_ms = _milliseconds(ttl)
        for chunk in _chunks(items):
            self._run_blocking(lua.PUT, namespace, ttl_ms, *_flat(chunk))

    def _delete_many_blocking(self, namespace: str, keys: Sequence[str]) -> int:
        return sum(
            int(self._run_blocking(lua.DELETE, namespace, *chunk)) for chunk in _chunks(keys)
        )

    async def _page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> list[tuple[str, str, float]]:
        rows: list[tuple[str, str, float]] = []
        while True:
            wanted = MAX_ARGUMENTS if limit is None else min(MAX_ARGUMENTS, limit - len(rows))
            start, stop = _member_range(low, high, after, reverse)
            members, left = await self._members(namespace, start, stop, wanted, reverse)
            split = [member.partition("\0") for member in members]
            if left is None:  # nothing in the namespace expires
                rows.extend((key, value, math.inf) for key, _, value in split)
            else:
                times = map(_seconds, left)
                pairs = zip(split, times, strict=True)
                rows.extend((key, value, seconds) for (key, _, value), seconds in pairs)
            if len(members) < wanted or (limit is not None and len(rows) >= limit):
                return rows
            after = split[-1][0]

    async def _members(
        self, namespace: str, start: str, stop: str, count: int, reverse: bool
    ) -> tuple[list[str], list[str] | None]:
        """Up to `count` live members in the bounds, and each one's time left (None: none
        of them expires). First one plain read of the entries key that exists only while
        nothing expires; the script where that finds nothing."""
        timed = self._timed
        if namespace not in timed:
            plain = self._layout.plain(namespace)
            if reverse:
                command = ("ZREVRANGEBYLEX", plain, stop, start, "LIMIT", 0, count)
            else:
                command = ("ZRANGEBYLEX", plain, start, stop, "LIMIT", 0, count)
            members: list[str] = await self._command(*command)
            if members:
                return members, None
        script = lua.PAGE_REVERSE if reverse else lua.PAGE
        is_plain, members, left = await self._run(script, namespace, start, stop, count)
        if is_plain:
            timed.discard(namespace)
            return members, None
        if len(timed) >= TIMED_REMEMBERED:
            timed.clear()
        timed.add(namespace)
        return members, left

    async def _ttl(self, namespace: str, key: str) -> float | None:
        remaining = await self._run(lua.TTL, namespace, key)
        return None if remaining is None else _seconds(remaining)

    async def _touch(self, namespace: str, key: str, ttl: float | None) -> bool:
        return int(await self._run(lua.TOUCH, namespace, key, _milliseconds(ttl))) == 1

    async def _count(self, namespace: str, prefix: str) -> int:
        start, stop = _prefix_range(prefix)
        return int(await self._run(lua.COUNT, namespace, start, stop))

    async def _clear(self, namespace: str, prefix: str) -> int:
        start, stop = _prefix_range(prefix)
        live = 0
        while True:
            removed_live, removed = await self._run(
                lua.CLEAR, namespace, start, stop, MAX_ARGUMENTS
            )
            live += int(removed_live)
            if int(removed) < MAX_ARGUMENTS:
                return live

    async def _namespaces(self, prefix: str) -> list[str]:
        names: list[str] = []
        after: str | None = None
        while True:
            candidates = await self._index_range(*_prefix_range(prefix, after), MAX_ARGUMENTS)
            if not candidates:
                return names
            counts = await self._live_counts(candidates)
            names.extend(name for name, count in zip(candidates, counts, strict=True) if count > 0)
            if len(candidates) < MAX_ARGUMENTS:
                return names
            after = candidates[-1]

    async def _index_range(self, start: str, stop: str, count: int) -> list[str]:
        """Up to `count` names from the namespace index, in order, within the bounds."""
        names: list[str] = await self._command(
            "ZRANGEBYLEX", self._index, start, stop, "LIMIT", 0, count
        )
        return names

    async def _live_counts(self, names: list[str]) -> list[int]:
        """Live keys of each namespace, a few requests in flight at a time."""
        counts: list[int] = []
        for start in range(0, len(names), 16):
            chunk = names[start : start + 16]
            counts.extend(await asyncio.gather(*(self._run(lua.LIVE_COUNT, n) for n in chunk)))
        return counts

    async def _add(self, namespace: str, key: str, stored: str, ttl: float | None) -> bool:
        result = await self._run(lua.ADD, namespace, key, stored, _milliseconds(ttl))
        if result == -1:
            return False
        await self._remember(namespace, result)
        return True

    async def _replace_if(
        self, namespace: str, key: str, expected: str, stored: str, ttl: float | Keep | None
    ) -> bool:
        expiry = () if isinstance(ttl, Keep) else (_milliseconds(ttl),)  # no ARGV[5]: keep it
        replaced = await self._run(lua.REPLACE_IF, namespace, key, expected, stored, *expiry)
        return int(replaced) == 1

    async def _incr(self, namespace: str, key: str, amount: int, ttl: float | Keep | None) -> int:
        expiry = () if isinstance(ttl, Keep) else (_milliseconds(ttl),)  # no ARGV[4]: keep it
        done, result, is_fresh = await self._run(lua.INCR, namespace, key, amount, *expiry)
        if int(done) != 1:
            if "overflow" in result:
                raise SerializationError(f"incr of {namespace!r}/{key!r} beyond signed 64 bits")
            raise NotAnIntegerError(f"cannot incr {namespace!r}/{key!r}: it holds no int")
        await self._remember(namespace, is_fresh)
        return int(result)

    async def _delete_if(self, namespace: str, key: str, expected: str) -> bool:
        return int(await self._run(lua.DELETE_IF, namespace, key, expected)) == 1

    async def _sweep_batch(self, limit: int) -> int:
        """Reclaim expired entries of the next namespaces in the index (cycling through it);
        in a cluster, also unlist namespaces that are empty."""
        start, stop = _prefix_range("", self._sweep_after or None)
        candidates = await self._index_range(start, stop, SWEEP_NAMESPACES)
        self._sweep_after = candidates[-1] if len(candidates) == SWEEP_NAMESPACES else ""
        removed = 0
        for name in candidates:
            purged, has_keys = await self._run(lua.PURGE, name, limit)
            removed += int(purged)
            if self._is_cluster and not has_keys:
                # Unlist, then look again: a write that refilled it meanwhile is listed back.
                await self._command("ZREM", self._index, name)
                _, has_keys = await self._run(lua.PURGE, name, 0)
                if has_keys:
                    await self._command("ZADD", self._index, 0, name)
        return removed
