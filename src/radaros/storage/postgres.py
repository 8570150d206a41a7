"""`PostgresStorage`: the production, multi-instance driver, on asyncpg.

Table layout (one table per store; `namespace` is a column, never part of a name):

```sql
CREATE TABLE radaros_kv (
    namespace  text COLLATE "C" NOT NULL,  -- "C": code point order and index range scans
    key        text COLLATE "C" NOT NULL,
    value      text NOT NULL,               -- JSON text, exactly as written (see below)
    expires_at timestamptz,                 -- server clock; NULL never expires
    PRIMARY KEY (namespace, key)
);
CREATE INDEX radaros_kv_expiry ON radaros_kv (expires_at) WHERE expires_at IS NOT NULL;
```

Why `text` and not `jsonb`: jsonb rewrites numbers (`1e300` becomes a 301-digit number,
`1.0` stays but float-vs-int is lost on the way back through most codecs), reorders and
dedupes object keys, and refuses `"\\u0000"`; the SPEC promises an exact round trip.
`value::jsonb` still works in ad-hoc SQL for every value without a NUL character.

Round trips: one statement per operation (batches use `unnest` arrays: one round trip per
batch), prepared once per connection and cached by asyncpg. Connections come from a
`ConnectionStack` (a list pop per call, no reset query: radaros leaves no session state
behind, no SET, LISTEN, cursors or session advisory locks), or from a borrowed asyncpg pool.
Expiry uses the server's `now()`, so instances with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from radaros.storage.base import StorageDriver
from radaros.storage.errors import (
    ErrorRule,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
    ValueTooLargeError,
)
from radaros.storage.pool import ConnectionStack
from radaros.storage.primitives import Keep
from radaros.storage.secrets import wrap_error
from radaros.storage.url import database_in, take_options
from radaros.storage.validate import (
    check_durations,
    check_identifier,
    prefix_upper_bound,
)

if TYPE_CHECKING:
    from types import ModuleType

    import asyncpg

    Pool = asyncpg.Pool[asyncpg.Record]
    Connection = asyncpg.Connection[asyncpg.Record]

_timeout = getattr(asyncio, "timeout", None)  # Python 3.11+

__all__ = ["PostgresStorage", "Statements"]

T = TypeVar("T")

SCHEMA_VERSION = 1
_INIT_LOCK_KEY = 0x7261646172  # "radar": serializes concurrent initialize() across processes
LIBPQ_PARAMETERS = frozenset(
    {
        "database",
        "dbname",
        "gsslib",
        "host",
        "krbsrvname",
        "passfile",
        "password",
        "port",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcrl",
        "sslkey",
        "sslmode",
        "sslnegotiation",
        "sslpassword",
        "sslrootcert",
        "target_session_attrs",
        "user",
    }
)
"""libpq URL parameters asyncpg reads itself; they stay in the URL handed to it."""


def _import_asyncpg() -> ModuleType:
    try:
        import asyncpg
    except ImportError:
        raise ImportError(
            "PostgresStorage needs asyncpg: pip install 'radaros[postgres]'"
        ) from None
    return asyncpg


def _server_settings(application_name: str, pgbouncer: bool) -> dict[str, str]:
    """Session settings of radaros's own connections: no bitmap scans, so a generic plan
    on stale statistics still walks the index for a newest-first page instead of sorting
    the whole range (docs/decisions.md); PgBouncer refuses unknown startup parameters."""
    if pgbouncer:
        return {"application_name": application_name}
    return {"application_name": application_name, "enable_bitmapscan": "off"}


class PostgresStorage(StorageDriver):
    """PostgreSQL through asyncpg: connections of its own (from a URL) or a borrowed pool.

    Options (keywords, or in the URL's query string through `open_storage`/`from_url`):
    `table`, `schema` (identifiers), `min_size`/`max_size` (pool size),
    `acquire_timeout_s` (waiting for a free connection), `command_timeout_s` (one
    statement, so a half-open socket cannot hang a call), `connect_timeout_s` (also
    libpq's `connect_timeout`), `pgbouncer=True` for PgBouncer in transaction mode (no
    prepared-statement cache), and `application_name` (shown in pg_stat_activity). libpq's
    own parameters (`sslmode`, `sslrootcert`, ...) stay in the URL for asyncpg.
    """

    requires_initialize = True
    twin_options: ClassVar[dict[str, Any] | None] = {"min_size": 1, "max_size": 1}
    db_system = "postgresql"
    binds_event_loop = True
    max_value_bytes = 256 * 1024 * 1024

    def __init__(
        self,
        url_or_pool: str | Pool,
        *,
        table: str = "radaros_kv",
        schema: str = "public",
        min_size: int = 1,
        max_size: int = 10,
        acquire_timeout_s: float = 10.0,
        command_timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        pgbouncer: bool = False,
        application_name: str = "radaros",
    ) -> None:
        super().__init__()
        self._asyncpg = _import_asyncpg()
        self._table_name = check_identifier(table)
        self._schema_name = check_identifier(schema, "schema")
        self._table = f'"{schema}"."{table}"'
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError("pool sizes need 0 <= min_size <= max_size and max_size >= 1")
        check_durations(
            acquire_timeout_s=acquire_timeout_s,
            command_timeout_s=command_timeout_s,
            connect_timeout_s=connect_timeout_s,
        )
        self._pool: Pool | None = self._adopt(url_or_pool)
        self._stack: ConnectionStack[Connection] | None = None
        self._connect_options = {
            "command_timeout": command_timeout_s,
            "timeout": connect_timeout_s,
            "statement_cache_size": 0 if pgbouncer else 100,
            "server_settings": _server_settings(application_name, pgbouncer),
        }
        self._min_size, self._max_size = min_size, max_size
        self._acquire_timeout_s = acquire_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._sql = Statements(self._table, f"{table}_expiry", f'"{schema}".radaros_meta')

    @classmethod
    def _split_url(cls, url: str) -> tuple[tuple[Any, ...], dict[str, str]]:
        scheme, separator, rest = url.partition("://")
        if scheme.lower() == "postgresql+asyncpg":
            url = f"postgresql{separator}{rest}"
        url, ours = take_options(cls, url, "PostgreSQL", LIBPQ_PARAMETERS)
        return (url,), ours

    @property
    def statements(self) -> Statements:
        """The SQL this driver sends (for tools, and for benchmarks that send the same)."""
        return self._sql

    def _db_namespace(self) -> str | None:
        return database_in(self._url)

    def _describe(self) -> str:
        source = self._source().replace("client", "pool")
        return f"{source} table={self._schema_name}.{self._table_name}"

    def _holds_resources(self) -> bool:
        return self._stack is not None

    # -- plumbing ----------------------------------------------------------------------------

    def _error_rules(self) -> list[ErrorRule]:
        asyncpg = self._asyncpg
        return [
            ErrorRule(
                asyncpg.UndefinedTableError,
                StorageError,
                "{where}: the table is missing; call await storage.initialize()",
            ),
            ErrorRule(
                asyncpg.ProgramLimitExceededError, ValueTooLargeError, "value too large for {where}"
            ),
            ErrorRule(
                (
                    asyncpg.PostgresConnectionError,
                    asyncpg.InterfaceError,
                    asyncpg.CannotConnectNowError,
                    asyncpg.AdminShutdownError,
                    asyncpg.InternalClientError,
                    OSError,
                    asyncio.TimeoutError,
                    TimeoutError,
                ),
                StorageConnectionError,
                "PostgreSQL unavailable at {where}",
            ),
            ErrorRule(asyncpg.PostgresError, StorageError, "PostgreSQL error at {where}"),
        ]

    def _connect(self) -> Awaitable[Connection]:
        return self._asyncpg.connect(self._url, **self._connect_options)  # type: ignore[no-any-return]

    def _new_stack(self) -> ConnectionStack[Connection]:
        return ConnectionStack(
            self._connect,
            is_closed=lambda connection: connection.is_closed(),
            close=lambda connection: connection.close(timeout=self._connect_timeout_s),
            terminate=lambda connection: connection.terminate(),
            min_size=self._min_size,
            max_size=self._max_size,
            acquire_timeout_s=self._acquire_timeout_s,
        )

    async def _initialize(self) -> None:
        if self._owns_client and self._stack is None:
            stack = self._new_stack()
            try:
                await stack.fill()
            except BaseException as exc:  # asyncpg raises many kinds here, some echo the DSN
                stack.terminate()
                if not isinstance(exc, Exception):  # cancelled: nothing left open
                    raise
                error: StorageError | None = wrap_error(
                    StorageConnectionError,
                    f"cannot connect to {self._source()}",
                    exc,
                    self._secrets,
                )
            else:
                self._stack, error = stack, None
            if error is not None:  # raised here, not in the except: no secret in __context__
                raise error
        version = await self._with_connection(self._schema_version)
        if version is None:
            version = await self._with_connection(self._create_schema)
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self._table} has schema version {version}, newer than this radaros "
                f"({SCHEMA_VERSION}); upgrade radaros"
            )

    async def _schema_version(self, connection: Connection) -> int | None:
        """The recorded version of this table, or None if it has not been created yet.

        Read first, so a role with only SELECT/INSERT/UPDATE/DELETE on an existing table (no
        CREATE, no write on radaros_meta) can open it.
        """
        try:
            version: int | None = await connection.fetchval(self._sql.read_version, self._table)
        except self._asyncpg.UndefinedTableError:
            return None
        if version is None:
            return None
        exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", self._table)
        return version if exists else None

    async def _create_schema(self, connection: Connection) -> int:
        async with connection.transaction():
            # A transaction-scoped advisory lock: concurrent CREATE ... IF NOT EXISTS can
            # still fail with a unique violation, and a session lock would outlive the
            # transaction on a pooled connection.
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _INIT_LOCK_KEY)
            for statement in self._sql.schema:
                await connection.execute(statement)
            await connection.execute(self._sql.record_version, self._table, SCHEMA_VERSION)
        return await self._schema_version(connection) or SCHEMA_VERSION

    async def _close(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            # Connections in use are closed as they come back; bounded, then cut off.
            await self._release(stack, stack.close, stack.terminate)
        pool, self._pool = self._pool, None
        await self._release(pool, lambda: pool.close(), lambda: pool.terminate())  # type: ignore[union-attr]

    async def _with_connection(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `work` on a connection of the stack (or of the borrowed pool)."""
        stack = self._stack
        if stack is None:
            return await self._with_borrowed(work)
        connection = stack.take_idle() or await stack.acquire()
        try:
            result = await work(connection)
        except BaseException as exc:
            stack.release(connection, reusable=self._reusable_after(exc, connection))
            raise
        stack.release(connection)
        return result

    def _reusable_after(self, exc: BaseException, connection: Connection) -> bool:
        """Only a server-side error leaves the protocol in step: a cancellation or a client
        timeout can leave a statement running, so that connection is dropped."""
        return isinstance(exc, self._asyncpg.PostgresError) and not connection.is_in_transaction()

    async def _with_borrowed(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        pool = self._pool
        if pool is None:
            raise StorageClosedError(f"{self!r} is closed")
        if _timeout is None:  # Python 3.10: asyncpg's own timeout (it wraps in wait_for)
            connection = await pool.acquire(timeout=self._acquire_timeout_s)
        else:
            async with _timeout(self._acquire_timeout_s):
                connection = await pool.acquire()
        try:
            return await work(connection)  # type: ignore[arg-type]  # a proxy of one
        finally:
            await pool.release(connection)

    def _fetch(self, sql: str, *args: Any) -> Coroutine[Any, Any, list[Any]]:
        return self._with_connection(lambda connection: connection.fetch(sql, *args))

    def _fetchval(self, sql: str, *args: Any) -> Coroutine[Any, Any, Any]:
        return self._with_connection(lambda connection: connection.fetchval(sql, *args))

    def _execute(self, sql: str, *args: Any) -> Coroutine[Any, Any, Any]:
        return self._with_connection(lambda connection: connection.execute(sql, *args))

    # -- primitives --------------------------------------------------------------------------

    def _get(self, namespace: str, key: str) -> Coroutine[Any, Any, str | None]:
        # The statement's coroutine itself: no frame of its own on the hottest path.
        return self._fetchval(self._sql.get, namespace, key)

    async def _get_many(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        rows = await self._fetch(self._sql.get_many, namespace, list(set(keys)))
        found = {row[0]: row[1] for row in rows}
        return [found.get(key) for key in keys]

    async def _put_many(
        self, namespace: str, items: Sequence[tuple[str, str]], ttl: float | None
    ) -> None:
        if len(items) == 1:
            key, stored = items[0]
            await self._execute(self._sql.put, namespace, key, stored, ttl)
        else:
            keys = [key for key, _ in items]
            values = [stored for _, stored in items]
            await self._execute(self._sql.put_many, namespace, keys, values, ttl)

    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> int:
        if len(keys) == 1:
            return int(await self._fetchval(self._sql.delete, namespace, keys[0]))
        return int(await self._fetchval(self._sql.delete_many, namespace, list(keys)))

    async def _page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> list[tuple[str, str, float]]:
        sql, args = self._sql.page(namespace, low, high, after, limit, reverse)
        return [(row[0], row[1], row[2]) for row in await self._fetch(sql, *args)]

    async def _ttl(self, namespace: str, key: str) -> float | None:
        rows = await self._fetch(self._sql.ttl, namespace, key)
        return rows[0][0] if rows else None

    async def _touch(self, namespace: str, key: str, ttl: float | None) -> bool:
        return await self._fetchval(self._sql.touch, namespace, key, ttl) is not None

    async def _count(self, namespace: str, prefix: str) -> int:
        high = prefix_upper_bound(prefix)
        sql, args = self._sql.range("count(*)", namespace, prefix, high, None, None)
        return int(await self._fetchval(sql, *args))

    async def _clear(self, namespace: str, prefix: str) -> int:
        sql, args = self._sql.clear(namespace, prefix)
        return int(await self._fetchval(sql, *args))

    async def _namespaces(self, prefix: str) -> list[str]:
        rows = await self._fetch(self._sql.namespaces, prefix, prefix_upper_bound(prefix))
        return [row[0] for row in rows]

    async def _add(self, namespace: str, key: str, stored: str, ttl: float | None) -> bool:
        return await self._fetchval(self._sql.add, namespace, key, stored, ttl) is not None

    async def _replace_if(
        self, namespace: str, key: str, expected: str, stored: str, ttl: float | Keep | None
    ) -> bool:
        if isinstance(ttl, Keep):
            result = await self._fetchval(
                self._sql.replace_keep_expiry, namespace, key, expected, stored
            )
        else:
            result = await self._fetchval(
                self._sql.replace_new_expiry, namespace, key, expected, stored, ttl
            )
        return result is not None

    async def _delete_if(self, namespace: str, key: str, expected: str) -> bool:
        return await self._fetchval(self._sql.delete_if, namespace, key, expected) is not None

    async def _sweep_batch(self, limit: int) -> int:
        return int(await self._fetchval(self._sql.sweep, limit))


class Statements:
    """Every SQL statement PostgresStorage sends, for one table (identifiers already
    validated and quoted)."""

    def __init__(self, table: str, expiry_index: str, meta: str) -> None:
        self.table = table
        live = "(expires_at IS NULL OR expires_at > now())"
        self.live = live
        # Seconds to live as float8; 'Infinity' for "never" (asyncpg returns math.inf).
        self.remaining = (
            "COALESCE(extract(epoch FROM expires_at - now())::float8, 'Infinity'::float8)"
        )

        def expiry(parameter: str) -> str:
            return (
                f"CASE WHEN {parameter}::float8 IS NULL THEN NULL "
                f"ELSE now() + make_interval(secs => {parameter}) END"
            )

        self.schema = [
            f"""CREATE TABLE IF NOT EXISTS {table} (
                namespace text COLLATE "C" NOT NULL,
                key text COLLATE "C" NOT NULL,
                value text NOT NULL,
                expires_at timestamptz,
                PRIMARY KEY (namespace, key)
            )""",
            f'CREATE INDEX IF NOT EXISTS "{expiry_index}" ON {table} (expires_at) '
            "WHERE expires_at IS NOT NULL",
            f"CREATE TABLE IF NOT EXISTS {meta} (name text PRIMARY KEY, version int NOT NULL)",
        ]
        self.record_version = (
            f"INSERT INTO {meta} (name, version) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        )
        self.read_version = f"SELECT version FROM {meta} WHERE name = $1"
        self.get = f"SELECT value FROM {table} WHERE namespace = $1 AND key = $2 AND {live}"
        self.ttl = (
            f"SELECT {self.remaining} FROM {table} WHERE namespace = $1 AND key = $2 AND {live}"
        )
        self.get_many = (
            f"SELECT key, value FROM {table} WHERE namespace = $1 AND key = ANY($2::text[]) "
            f"AND {live}"
        )
        upsert = (
            "ON CONFLICT (namespace, key) DO UPDATE "
            "SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"
        )
        self.put = (
            f"INSERT INTO {table} (namespace, key, value, expires_at) "
            f"VALUES ($1, $2, $3, {expiry('$4')}) {upsert}"
        )
        self.put_many = (
            f"INSERT INTO {table} (namespace, key, value, expires_at) "
            f"SELECT $1, item.key, item.value, {expiry('$4')} "
            f"FROM unnest($2::text[], $3::text[]) AS item(key, value) {upsert}"
        )
        self.touch = (
            f"UPDATE {table} SET expires_at = {expiry('$3')} "
            f"WHERE namespace = $1 AND key = $2 AND {live} RETURNING 1"
        )
        gone = "SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now()) FROM gone"
        self.delete = (
            f"WITH gone AS (DELETE FROM {table} WHERE namespace = $1 AND key = $2 "
            f"RETURNING expires_at) {gone}"
        )
        self.delete_many = (
            f"WITH gone AS (DELETE FROM {table} WHERE namespace = $1 AND key = ANY($2::text[]) "
            f"RETURNING expires_at) {gone}"
        )
        self.add = (
            f"INSERT INTO {table} AS current (namespace, key, value, expires_at) "
            f"VALUES ($1, $2, $3, {expiry('$4')}) {upsert} "
            "WHERE current.expires_at <= now() RETURNING 1"
        )
        self.replace_keep_expiry = (
            f"UPDATE {table} SET value = $4 "
            f"WHERE namespace = $1 AND key = $2 AND value = $3 AND {live} RETURNING 1"
        )
        self.replace_new_expiry = (
            f"UPDATE {table} SET value = $4, expires_at = {expiry('$5')} "
            f"WHERE namespace = $1 AND key = $2 AND value = $3 AND {live} RETURNING 1"
        )
        self.delete_if = (
            f"DELETE FROM {table} "
            f"WHERE namespace = $1 AND key = $2 AND value = $3 AND {live} RETURNING 1"
        )
        self.sweep = (
            f"WITH gone AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {table} WHERE expires_at <= now() LIMIT $1)) RETURNING 1) "
            "SELECT count(*) FROM gone"
        )
        # A loose index scan: hop from namespace to namespace on the primary key index,
        # stopping at the prefix's upper bound.
        self.namespaces = f"""
            WITH RECURSIVE names(name) AS (
                SELECT (SELECT min(namespace) FROM {table} WHERE namespace >= $1)
                UNION ALL
                SELECT (SELECT min(namespace) FROM {table} WHERE namespace > names.name)
                FROM names WHERE names.name IS NOT NULL
                  AND ($2::text IS NULL OR names.name < $2::text)
            )
            SELECT name FROM names
            WHERE name IS NOT NULL AND ($2::text IS NULL OR name < $2::text)
              AND EXISTS (SELECT 1 FROM {table} t WHERE t.namespace = names.name AND {live})
            ORDER BY name
        """
        self._ranges: dict[tuple[str, bool, bool, bool, bool, str], str] = {}

    def _where(
        self, low: str, high: str | None, after: str | None, order: str
    ) -> tuple[str, list[Any]]:
        conditions = ["namespace = $1"]
        args: list[Any] = []
        if low:
            args.append(low)
            conditions.append(f"key >= ${len(args) + 1}")
        if high is not None:
            args.append(high)
            conditions.append(f"key < ${len(args) + 1}")
        if after is not None:
            args.append(after)
            conditions.append(f"key {'<' if order == 'DESC' else '>'} ${len(args) + 1}")
        return " AND ".join(conditions), args

    def page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> tuple[str, list[Any]]:
        """A page of (key, value, seconds to live) rows in key order (descending with
        `reverse`), and its arguments."""
        order = "DESC" if reverse else "ASC"
        select = f"key, value, {self.remaining}"
        return self.range(select, namespace, low, high, after, limit, order=order)

    def range(
        self,
        select: str,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        *,
        order: str = "",
    ) -> tuple[str, list[Any]]:
        """`SELECT {select}` over live keys of a namespace with `low <= key < high`, past
        `after` in the direction of `order` ("ASC", "DESC", or "" for unordered)."""
        where, args = self._where(low, high, after, order)
        args = [namespace, *args]
        shape = (select, bool(low), high is not None, after is not None, limit is not None, order)
        sql = self._ranges.get(shape)
        if sql is None:
            order = f" ORDER BY key {order}" if order else ""
            limit_sql = f" LIMIT ${len(args) + 1}" if limit is not None else ""
            sql = self._ranges[shape] = (
                f"SELECT {select} FROM {self.table} WHERE {where} AND {self.live}{order}{limit_sql}"
            )
        if limit is not None:
            args.append(limit)
        return sql, args

    def clear(self, namespace: str, prefix: str) -> tuple[str, list[Any]]:
        """Delete the prefix's keys; the count returned is of the live ones."""
        high = prefix_upper_bound(prefix)
        where, args = self._where(prefix, high, None, "")
        sql = (
            f"WITH gone AS (DELETE FROM {self.table} WHERE {where} RETURNING expires_at) "
            "SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now()) FROM gone"
        )
        return sql, [namespace, *args]
