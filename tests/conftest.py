"""Fixtures for the real backends (see `tests/support/drivers.py` for where each runs)."""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from radaros.storage import StorageDriver
from tests.support.drivers import (
    DRIVERS,
    FIGURES,
    MongoTarget,
    PostgresTarget,
    RedisTarget,
    driver_factory,
    external_or_own,
    unavailable,
)
from tests.support.servers import RedisCluster, RedisServer, SecantusServer


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


@pytest.fixture(scope="session")
def mongodb() -> Iterator[MongoTarget]:
    """A MongoDB-protocol server: RADAROS_TEST_MONGODB_URL, else SecantusDB."""
    for url, server in external_or_own("RADAROS_TEST_MONGODB_URL", SecantusServer, "SecantusDB"):
        yield MongoTarget(url, server)


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


@pytest.fixture(params=DRIVERS)
def driver_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DRIVERS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageDriver]:
    """Each driver, opened on fresh data (modules with a `storage` of their own override it)."""
    async with driver_factory(request.param, tmp_path, request)() as opened:
        yield opened


@pytest.fixture(params=DRIVERS)
async def peers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[list[StorageDriver]]:
    """Four opened instances on the same data (for memory, whose instances share nothing,
    one instance four times)."""
    factory = driver_factory(request.param, tmp_path, request)
    if request.param == "memory":
        async with factory() as only:
            yield [only] * 4
        return
    instances = [factory() for _ in range(4)]
    for instance in instances:
        await instance.initialize()
    try:
        yield instances
    finally:
        for instance in instances:
            await instance.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
