"""The test drivers and servers, for every test module: which drivers exist, where each
runs (a real server started here, or the one an environment variable names), and how to
make fresh, unopened instances on fresh data.

SQLite uses a file in a temp dir. PostgreSQL, MongoDB and Redis are real servers from
`tests/support/servers.py` (embedded PostgreSQL 18, SecantusDB, redis-server standalone and
a 3 + 3 cluster), or the ones named by RADAROS_TEST_POSTGRES_URL, RADAROS_TEST_MONGODB_URL,
RADAROS_TEST_REDIS_URL and RADAROS_TEST_REDIS_CLUSTER_URL. Each test gets its own table,
collection or key prefix. A missing server skips locally and fails when
RADAROS_REQUIRE_ALL_DRIVERS=1.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from radaros.storage import (
    InMemoryStorage,
    MongoDBStorage,
    PostgresStorage,
    RedisStorage,
    SqliteStorage,
    StorageDriver,
)
from tests.support.servers import RedisCluster, RedisServer, SecantusServer

SERVER_DRIVERS = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mongodb", marks=pytest.mark.mongodb),
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis_cluster", marks=pytest.mark.redis),
]
DRIVERS = ["memory", "sqlite", *SERVER_DRIVERS]
TEST_LOCALE = "en_US.UTF-8"
SECANTUS_TIMEOUT_S = 120
"""SecantusDB (a Python server) answers a `$in` of 2,600 keys in about 20 s, and slower on
a loaded machine: past the driver's 30 s default. A real `mongod` keeps the default."""

_unique = itertools.count()


def require_all_drivers() -> bool:
    return os.environ.get("RADAROS_REQUIRE_ALL_DRIVERS") == "1"


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where every driver must run."""
    if require_all_drivers():
        pytest.fail(f"{reason} (RADAROS_REQUIRE_ALL_DRIVERS=1)")
    pytest.skip(reason)


def unique_name(prefix: str = "t") -> str:
    """A table/collection name no other test uses (tests never see each other's data)."""
    return f"{prefix}_{os.getpid()}_{next(_unique)}"


def run_in_thread(coroutine_function: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """asyncio.run() on a helper thread: session fixtures may be set up inside a running loop
    (when an async test is the first to ask for them)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine_function())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def ensure_test_locale() -> None:
    """Generate en_US.UTF-8 when the OS lacks it and we may (root with localedef, as on CI
    machines): a database with a non-"C" collation is what exposes a missing COLLATE "C"."""
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False)
    if "en_us.utf8" in listed.stdout.lower().replace("-", ""):
        return
    if os.geteuid() == 0 and shutil.which("localedef"):
        subprocess.run(["localedef", "-i", "en_US", "-f", "UTF-8", "en_US.UTF-8"], check=False)


class PostgresTarget:
    """Where PostgreSQL tests run: a server, and a database whose collation is not "C"."""

    def __init__(self, admin_url: str, server: Any = None) -> None:
        import asyncpg

        self.server = server
        self.admin_url = admin_url
        self.database = f"radaros_test_{os.getpid()}"
        base, _, _ = admin_url.rpartition("/")
        self.url = f"{base}/{self.database}"

        self.has_test_locale = True

        async def create() -> None:
            connection = await asyncpg.connect(admin_url)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
                try:
                    await connection.execute(
                        f'CREATE DATABASE "{self.database}" TEMPLATE template0 '
                        f"ENCODING 'UTF8' LOCALE '{TEST_LOCALE}'"
                    )
                except asyncpg.WrongObjectTypeError:  # "invalid locale name": the OS lacks it
                    self.has_test_locale = False
                    await connection.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await connection.close()

        ensure_test_locale()
        run_in_thread(create)

    def drop(self) -> None:
        import asyncpg

        async def drop() -> None:
            connection = await asyncpg.connect(self.admin_url)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            finally:
                await connection.close()

        run_in_thread(drop)


@dataclass
class MongoTarget:
    """Where MongoDB tests run; `server` is None for an external RADAROS_TEST_MONGODB_URL."""

    url: str
    server: SecantusServer | None


def external_or_own(env_var: str, start: Callable[[], Any], what: str) -> Iterator[tuple[str, Any]]:
    """(url, None) for the server `env_var` names, else (url, server) for one started here
    (closed afterwards); a server that cannot start makes the tests unavailable."""
    url = os.environ.get(env_var)
    if url:
        yield url, None
        return
    try:
        server = start()
    except Exception as exc:
        unavailable(f"{what} unavailable: {type(exc).__name__}: {exc}")
    yield server.url, server
    server.close()


@dataclass
class RedisTarget:
    """Where Redis tests run; `server` is None for an external URL."""

    url: str
    server: RedisServer | RedisCluster | None


def mongodb_url(base_url: str, database: str) -> str:
    """The server URL with `database` as its path (query string kept)."""
    head, question, query = base_url.partition("?")
    scheme, _, rest = head.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{database}{question}{query}"


def driver_factory(
    name: str, tmp_path: Path, request: pytest.FixtureRequest | None = None, **options: Any
) -> Callable[[], StorageDriver]:
    """A callable making new, unopened instances of `name` on one fresh backing store."""
    if name == "memory":
        return InMemoryStorage
    if name == "sqlite":
        path = tmp_path / "radaros.db"
        return lambda: SqliteStorage(path, **options)
    assert request is not None, "server drivers need the pytest request"
    if name == "postgres":
        target: PostgresTarget = request.getfixturevalue("postgres")
        table = unique_name()
        return lambda: PostgresStorage(target.url, table=table, **options)
    if name == "mongodb":
        mongo: MongoTarget = request.getfixturevalue("mongodb")
        url = mongodb_url(mongo.url, f"radaros_test_{os.getpid()}")
        collection = unique_name()
        options.setdefault("server_selection_timeout_s", 5)
        if mongo.server is not None:
            options.setdefault("timeout_s", SECANTUS_TIMEOUT_S)
        return lambda: MongoDBStorage(url, collection=collection, **options)
    if name in ("redis", "redis_cluster"):
        redis_target: RedisTarget = request.getfixturevalue(name)
        prefix = unique_name("radaros")
        cluster = name == "redis_cluster"
        return lambda: RedisStorage(redis_target.url, prefix=prefix, cluster=cluster, **options)
    raise ValueError(f"unknown driver {name}")


def driver_url(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A storage URL for `name` on one fresh backing store (for a test in another process)."""
    if name == "memory":
        return "memory://"
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'radaros.db'}"
    if name == "postgres":
        target: PostgresTarget = request.getfixturevalue("postgres")
        return _with_options(target.url, table=unique_name())
    if name == "mongodb":
        mongo: MongoTarget = request.getfixturevalue("mongodb")
        url = mongodb_url(mongo.url, f"radaros_test_{os.getpid()}")
        timeouts: dict[str, Any] = {"server_selection_timeout_s": 5}
        if mongo.server is not None:
            timeouts["timeout_s"] = SECANTUS_TIMEOUT_S
        return _with_options(url, collection=unique_name(), **timeouts)
    if name in ("redis", "redis_cluster"):
        redis_target: RedisTarget = request.getfixturevalue(name)
        cluster = "true" if name == "redis_cluster" else "false"
        return _with_options(redis_target.url, prefix=unique_name("radaros"), cluster=cluster)
    raise ValueError(f"unknown driver {name}")


def _with_options(url: str, **options: Any) -> str:
    query = "&".join(f"{name}={value}" for name, value in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


FIGURES: list[str] = []


def report(line: str) -> None:
    """Record one line of figures; printed in the "reliability figures" summary section."""
    FIGURES.append(line)
