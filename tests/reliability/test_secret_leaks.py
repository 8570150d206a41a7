"""Reliability: No secret in errors, logs, repr or CLI output.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from radaros.storage import (
    PostgresStorage,
    StorageConnectionError,
    open_storage,
)
from tests.support.drivers import (
    MongoTarget,
    RedisTarget,
    report,
    unique_name,
)

pytestmark = pytest.mark.slow


# -- 12: no secret leakage ---------------------------------------------------------------------

CANARY = "Canary-Pw-7f3e"


@pytest.fixture
async def password_postgres(restartable_postgres: Any) -> str:
    """A role that must log in with a password (scram), on the module's own embedded server."""
    server = restartable_postgres
    hba = server.data / "pg_hba.conf"
    original = hba.read_text()
    if "canary_user" not in original:
        hba.write_text("host all canary_user 127.0.0.1/32 scram-sha-256\n" + original)
    connection = await asyncpg.connect(server.url)
    try:
        await connection.execute("DROP ROLE IF EXISTS canary_user")
        await connection.execute("CREATE ROLE canary_user LOGIN PASSWORD 'right-password'")
        await connection.execute("GRANT ALL ON SCHEMA public TO canary_user")
        # Other tests' tables (radaros_meta included) belong to postgres: share them too.
        await connection.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO canary_user")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()
    return f"127.0.0.1:{server.port}"


@pytest.mark.postgres
@pytest.mark.mongodb
@pytest.mark.redis
async def test_no_secret_in_errors_logs_repr_or_cli(
    password_postgres: str,
    mongodb: MongoTarget,
    redis: RedisTarget,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """A canary password never shows in exception chains, DEBUG logs, repr or CLI stderr."""
    caplog.set_level(logging.DEBUG)
    mongo_host = mongodb.url.split("//", 1)[1].rstrip("/")
    urls = {
        "server down": f"postgresql://u:{CANARY}@127.0.0.1:9/db",
        "wrong password": f"postgresql://canary_user:{CANARY}@{password_postgres}/postgres",
        "wrong host": f"postgresql://u:{CANARY}@no-such-host.invalid/db",
        "# and @ in password": f"postgresql://u:{CANARY}#@x@127.0.0.1:9/db",
        "malformed URL": f"postgresql://u:{CANARY}@[::1/db",
        "mongo server down": f"mongodb://u:{CANARY}@127.0.0.1:9/db",
        "mongo wrong password": f"mongodb://u:{CANARY}@{mongo_host}/db",
        "mongo malformed": f"mongodb://u:{CANARY}@:notaport/db",
        "redis server down": f"redis://u:{CANARY}@127.0.0.1:9/0",
        "redis wrong password": redis.url.replace("redis://", f"redis://u:{CANARY}@"),
        "redis cluster down": f"redis://:{CANARY}@127.0.0.1:9/0?cluster=true",
    }
    leaks: dict[str, int] = {}
    for case, url in urls.items():
        found = 0
        error: BaseException | None = None
        options: dict[str, Any] = (
            {"server_selection_timeout_s": 0.5}
            if url.startswith("mongodb")
            else {"connect_timeout_s": 2}
        )
        storage: Any = None
        try:
            storage = open_storage(url, **options)
        except Exception as exc:
            error = exc
        else:
            found += CANARY in repr(storage)
            try:
                await storage.initialize()
                await storage.get("ns", "k")
            except Exception as exc:
                error = exc
            await storage.close()
        assert error is not None, f"{case}: expected a failure"
        node: BaseException | None = error
        while node is not None:
            found += CANARY in f"{node!r} {node}" or CANARY in "".join(map(str, node.args))
            node = node.__cause__ or node.__context__
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "radaros", "--url", url, "get", "ns", "k"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        found += CANARY in cli.stderr + cli.stdout
        leaks[case] = found
        error = node = storage = None  # nothing of the failed case stays referenced
        collect_failed_clients(mongodb=url.startswith("mongodb"))
    # Pool timeout: a pool of 1 held by another caller, on a password URL that works.
    good = f"postgresql://canary_user:right-password@{password_postgres}/postgres"
    async with PostgresStorage(good, table=unique_name(), max_size=1, acquire_timeout_s=0.2) as s:
        assert s._stack is not None
        connection = await s._stack.acquire()
        try:
            with pytest.raises(StorageConnectionError) as info:
                await s.get("ns", "k")
        finally:
            s._stack.release(connection)
        leaks["pool timeout"] = "right-password" in f"{info.value!r} {info.value} {s!r}"
    logged = sum(CANARY in record.getMessage() for record in caplog.records)
    logged += sum("right-password" in record.getMessage() for record in caplog.records)
    report(
        f"12 secrets: {len(leaks)} cases, leaks {sum(leaks.values())} {leaks}, "
        f"{logged} in DEBUG logs"
    )
    assert sum(leaks.values()) == 0, leaks
    assert logged == 0


def collect_failed_clients(mongodb: bool) -> None:
    """Collect what the failed case left, now, while its event loop runs: a client torn down
    later, after the loop, cannot close its sockets and warns in whichever test runs then.
    PyMongo abandons the socket of a connection attempt that server selection gave up on
    (PYTHON-5867, unfixed upstream, as in test_cancellation): that warning alone is ignored,
    for the MongoDB cases only. Any other unclosed socket still fails this test."""
    with warnings.catch_warnings():
        if mongodb:
            warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
