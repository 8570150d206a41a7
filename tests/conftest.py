"""Test drivers on real backends.

SQLite uses a file in a temp dir. PostgreSQL, MongoDB and Redis are real servers from
`tests/servers.py` (embedded PostgreSQL 18, SecantusDB, redis-server standalone and a
3 + 3 cluster), or the ones named by RADAROS_TEST_POSTGRES_URL, RADAROS_TEST_MONGODB_URL,
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
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresTarget]:
    """A PostgreSQL server: RADAROS_TEST_POSTGRES_URL, else embedded PostgreSQL 18."""
    url = os.environ.get("RADAROS_TEST_POSTGRES_URL")
    server = None
    try:
        if not url:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
                from tests.support.servers import EmbeddedPostgres

                server = EmbeddedPostgres()
            url = server.url
        target = PostgresTarget(url, server)
    except Exception as exc:  # no wheel, no binaries, server refuses: say why
        if server is not None:
            server.close()
        unavailable(f"PostgreSQL unavailable: {type(exc).__name__}: {exc}")
    yield target
    target.drop()
    if server is not None:
        server.close()


@pytest.fixture(scope="module")
def restartable_postgres() -> Iterator[Any]:
    """An embedded PostgreSQL 18 of the test module's own, which tests may stop and start."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            from tests.support.servers import EmbeddedPostgres

            server = EmbeddedPostgres()
    except Exception as exc:
        unavailable(f"embedded PostgreSQL unavailable: {type(exc).__name__}: {exc}")
    yield server
    server.close()


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


@pytest.fixture(scope="session")
def mongodb() -> Iterator[MongoTarget]:
    """A MongoDB-protocol server: RADAROS_TEST_MONGODB_URL, else SecantusDB."""
    for url, server in external_or_own("RADAROS_TEST_MONGODB_URL", SecantusServer, "SecantusDB"):
        yield MongoTarget(url, server)


@dataclass
class RedisTarget:
    """Where Redis tests run; `server` is None for an external URL."""

    url: str
    server: RedisServer | RedisCluster | None


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisTarget]:
    """A standalone Redis with AOF fsync on every write: RADAROS_TEST_REDIS_URL, else ours."""
    for url, server in external_or_own("RADAROS_TEST_REDIS_URL", RedisServer, "redis-server"):
        yield RedisTarget(url, server)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisTarget]:
    """A Redis Cluster (3 primaries, 3 replicas): RADAROS_TEST_REDIS_CLUSTER_URL, else ours."""
    env_var = "RADAROS_TEST_REDIS_CLUSTER_URL"
    for url, cluster in external_or_own(env_var, RedisCluster, "Redis cluster"):
        yield RedisTarget(url, cluster)


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
        return lambda: MongoDBStorage(url, collection=collection, **options)
    if name in ("redis", "redis_cluster"):
        redis_target: RedisTarget = request.getfixturevalue(name)
        prefix = unique_name("radaros")
        cluster = name == "redis_cluster"
        return lambda: RedisStorage(redis_target.url, prefix=prefix, cluster=cluster, **options)
    raise ValueError(f"unknown driver {name}")


@pytest.fixture(params=DRIVERS)
def driver_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DRIVERS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageDriver]:
    """Each driver, opened on fresh data (modules with a `storage` of their own override it)."""
    async with driver_factory(request.param, tmp_path, request)() as opened:
        yield opened


FIGURES: list[str] = []


def report(line: str) -> None:
    """Record one line of figures; printed in the "reliability figures" summary section."""
    FIGURES.append(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
