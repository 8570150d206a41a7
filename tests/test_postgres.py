"""What is specific to PostgresStorage: the server, its pool, faults and round trips."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from radaros.storage import (
    PostgresStorage,
    StorageConnectionError,
    StorageError,
    StorageNotInitializedError,
    open_storage,
)
from radaros.storage import lifecycle as lifecycle_module
from tests.support.drivers import PostgresTarget, unavailable, unique_name
from tests.support.servers import free_port, wait_for_port

pytestmark = pytest.mark.postgres


@pytest.fixture
async def storage(postgres: PostgresTarget) -> AsyncIterator[PostgresStorage]:
    async with PostgresStorage(postgres.url, table=unique_name()) as storage:
        yield storage


async def test_database_collation_is_not_c(
    storage: PostgresStorage, postgres: PostgresTarget
) -> None:
    """The suite runs on an en_US.UTF-8 database, so a missing COLLATE "C" would show."""
    if not postgres.has_test_locale:
        unavailable("the OS has no en_US.UTF-8 locale: localedef -i en_US -f UTF-8 en_US.UTF-8")
    connection = await asyncpg.connect(postgres.url)
    try:
        collation = await connection.fetchval(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()"
        )
        assert collation.lower().replace("-", "") in {"en_us.utf8"}
        # The database's default collation is locale-aware ('a' before 'B'); radaros is not:
        assert await connection.fetchval("SELECT 'a' < 'B'")
    finally:
        await connection.close()
    await storage.set_many("ns", {"a": 1, "B": 2, "_x": 3, "é": 4})
    assert [e.key for e in await storage.list("ns")] == ["B", "_x", "a", "é"]


async def test_one_round_trip_per_operation_and_batch(postgres: PostgresTarget) -> None:
    """get, set, add and set_many/get_many of 1000 send exactly one statement each, and
    nothing is sent when a connection goes back to the pool (no reset query)."""
    queries: list[str] = []
    async with PostgresStorage(postgres.url, table=unique_name(), max_size=1) as storage:
        assert storage._stack is not None
        connection = await storage._stack.acquire()  # the driver's only connection
        connection.add_query_logger(lambda record: queries.append(record.query))
        storage._stack.release(connection)
        await storage.set("ns", "k", 1)
        await storage.get("ns", "k")
        await storage.add("ns", "k2", 1)
        await storage.set_many("ns", {f"k{i}": i for i in range(1000)})
        await storage.get_many("ns", [f"k{i}" for i in range(1000)])
        await storage.list("ns", "k1")
        await asyncio.sleep(0)  # asyncpg calls query loggers on the next loop iteration
        assert len(queries) == 6, queries
        assert not any("RESET" in query or "UNLISTEN" in query for query in queries)


async def test_set_many_is_all_or_nothing(
    storage: PostgresStorage, postgres: PostgresTarget
) -> None:
    """A batch that fails on the server writes none of its items."""
    connection = await asyncpg.connect(postgres.url)
    try:  # a trigger that rejects one specific key, to make the server fail mid-batch
        await connection.execute(f"""
            CREATE FUNCTION reject_{storage._table_name}() RETURNS trigger AS $$
            BEGIN IF NEW.key = 'poison' THEN RAISE EXCEPTION 'rejected'; END IF; RETURN NEW; END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER reject BEFORE INSERT ON "{storage._table_name}"
            FOR EACH ROW EXECUTE FUNCTION reject_{storage._table_name}();
        """)
    finally:
        await connection.close()
    items = {f"k{i}": i for i in range(100)} | {"poison": 0}
    with pytest.raises(StorageError, match="rejected"):
        await storage.set_many("ns", items)
    assert await storage.count("ns") == 0


async def test_operations_before_initialize_say_what_to_call(postgres: PostgresTarget) -> None:
    """A server driver used before initialize() raises StorageNotInitializedError."""
    storage = PostgresStorage(postgres.url, table=unique_name())
    with pytest.raises(StorageNotInitializedError, match=r"await storage.initialize\(\)"):
        await storage.get("ns", "k")
    await storage.close()


async def test_borrowed_pool_is_left_open(postgres: PostgresTarget) -> None:
    """A driver handed a pool never closes it."""
    pool = await asyncpg.create_pool(postgres.url, min_size=1, max_size=2)
    try:
        async with PostgresStorage(pool, table=unique_name()) as storage:
            await storage.set("ns", "k", 1)
        assert not pool.is_closing()
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


@pytest.mark.parametrize("option", ["table", "schema"])
def test_names_must_be_identifiers(option: str) -> None:
    """Table and schema names that are not identifiers raise ValueError before any I/O."""
    for bad in ['kv"; DROP TABLE x; --', "1kv", "k v", "", "a" * 64, "kv;"]:
        options: dict[str, Any] = {option: bad}
        with pytest.raises(ValueError, match=f"{option} name"):
            PostgresStorage("postgresql://nowhere.invalid/db", **options)


async def test_custom_schema_and_table(postgres: PostgresTarget) -> None:
    """schema= and table= place the data where asked."""
    schema = unique_name("s")
    connection = await asyncpg.connect(postgres.url)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        async with PostgresStorage(postgres.url, schema=schema, table="kv") as storage:
            await storage.set("ns", "k", {"a": 1})
        assert await connection.fetchval(f'SELECT value FROM "{schema}".kv') == '{"a":1}'
        assert await connection.fetchval(f'SELECT version FROM "{schema}".radaros_meta') == 1
    finally:
        await connection.close()


async def test_expiry_uses_the_server_clock_and_rows_are_reclaimed(
    storage: PostgresStorage, postgres: PostgresTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """expires_at is now() + ttl on the server; expired rows are deleted in the background."""
    monkeypatch.setattr(lifecycle_module, "SWEEP_INTERVAL_S", 0.0)
    await storage.set_many("ns", {f"k{i}": i for i in range(30)}, ttl=0.2)
    connection = await asyncpg.connect(postgres.url)
    try:
        table = f'"{storage._table_name}"'
        remaining = await connection.fetchval(
            f"SELECT max(extract(epoch FROM expires_at - now())) FROM {table}"
        )
        assert 0 < remaining <= 0.2
        await asyncio.sleep(0.3)
        await storage.set("ns", "trigger", 1)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if await connection.fetchval(f"SELECT count(*) FROM {table}") == 1:
                break
        assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 1
    finally:
        await connection.close()


async def test_restart_of_the_server_is_survived(restartable_postgres: Any) -> None:
    """Stopping the server gives StorageConnectionError; the same driver serves once it is back."""
    async with PostgresStorage(
        restartable_postgres.url,
        table=unique_name(),
        connect_timeout_s=2,
        command_timeout_s=2,
        acquire_timeout_s=2,
    ) as storage:
        await storage.set("ns", "before", 1)
        await asyncio.to_thread(restartable_postgres.stop, "immediate")
        try:
            started = time.monotonic()
            with pytest.raises(StorageConnectionError):
                await storage.get("ns", "before")
            assert time.monotonic() - started < 4
        finally:
            await asyncio.to_thread(restartable_postgres.start)
        deadline = time.monotonic() + 5
        while True:
            try:
                assert await storage.get("ns", "before") == 1
                break
            except StorageConnectionError:
                assert time.monotonic() < deadline, "did not recover within 5 s"
                await asyncio.sleep(0.05)
        await storage.set("ns", "after", 2)
        assert await storage.get_many("ns", ["before", "after"]) == [1, 2]


async def test_unreachable_server_fails_fast_without_the_password() -> None:
    """Connecting to nothing raises StorageConnectionError naming the URL without its password."""
    storage = PostgresStorage("postgresql://user:canary-secret@127.0.0.1:9/db", connect_timeout_s=2)
    assert "canary-secret" not in repr(storage)
    with pytest.raises(StorageConnectionError) as info:
        await storage.initialize()
    chain: list[BaseException] = []
    node: BaseException | None = info.value
    while node is not None:
        chain.append(node)
        node = node.__cause__ or node.__context__
    assert all("canary-secret" not in f"{e!r} {e}" for e in chain)
    assert "***" in str(info.value)
    await storage.close()


async def test_open_storage_accepts_both_schemes(postgres: PostgresTarget) -> None:
    """postgresql:// and postgres:// open a PostgresStorage with the options given."""
    for url in (postgres.url, postgres.url.replace("postgresql://", "postgres://")):
        async with open_storage(url, table=unique_name()) as storage:
            assert isinstance(storage, PostgresStorage)
            await storage.set("ns", "k", [1])
            assert await storage.get("ns", "k") == [1]


async def test_pgbouncer_mode_works_without_prepared_statements(postgres: PostgresTarget) -> None:
    """pgbouncer=True turns off the statement cache; every operation still works."""
    async with PostgresStorage(postgres.url, table=unique_name(), pgbouncer=True) as storage:
        assert storage._connect_options["statement_cache_size"] == 0
        await storage.set_many("ns", {"a": 1, "b": 2})
        assert await storage.update("ns", "a", lambda v: v + 1) == 2
        assert await storage.list("ns") == [("a", 2), ("b", 2)]


@pytest.fixture(scope="module")
def pgbouncer_url(
    postgres: PostgresTarget, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real PgBouncer in transaction mode in front of the test server (Debian's pgbouncer)."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        unavailable("pgbouncer is not installed (apt-get install pgbouncer)")
    # A folder the unprivileged user can reach (pytest's tmp_path is private to root).
    folder = Path(tempfile.mkdtemp(prefix="radaros-pgbouncer-"))
    folder.chmod(0o777)
    upstream = urlsplit(postgres.url)
    port = free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n* = host=127.0.0.1 port={upstream.port}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder}/users.txt\npool_mode = transaction\n"
        "default_pool_size = 4\nignore_startup_parameters = extra_float_digits\n"
        f"logfile = {folder}/pgbouncer.log\n"
    )
    for path in folder.iterdir():
        path.chmod(0o666)
    # PgBouncer refuses to run as root; the system user of Debian's PostgreSQL runs it.
    user = "postgres" if os.geteuid() == 0 else None
    process = subprocess.Popen(
        [binary, str(folder / "pgbouncer.ini")], user=user, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(port, timeout_s=15)
    except TimeoutError:
        process.kill()
        _, errors = process.communicate()
        unavailable(f"pgbouncer did not start: {errors[-500:]}")
    yield f"postgresql://postgres@127.0.0.1:{port}{upstream.path}"
    process.terminate()
    process.communicate(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


async def test_works_behind_pgbouncer_in_transaction_mode(pgbouncer_url: str) -> None:
    """Through PgBouncer (transaction pooling, 4 server connections), every operation works,
    also under concurrency that makes PgBouncer move sessions between server connections."""
    table = unique_name("bouncer")
    instances = [
        PostgresStorage(pgbouncer_url, table=table, pgbouncer=True, max_size=8) for _ in range(3)
    ]
    for instance in instances:
        await instance.initialize()
    try:
        first = instances[0]
        await first.set_many("ns", {f"k{i}": i for i in range(200)})
        assert await first.count("ns") == 200
        assert await first.add("ns", "k1", 0) is False
        await asyncio.gather(
            *(
                instance.update("ns", "counter", lambda v: (v or 0) + 1)
                for instance in instances
                for _ in range(40)
            )
        )
        await asyncio.gather(
            *(
                instance.append("ns", "log", [f"{index}-{n}"])
                for index, instance in enumerate(instances)
                for n in range(20)
            )
        )
        assert await first.get("ns", "counter") == 120
        assert len(set(await first.get("ns", "log"))) == 60
        assert [entry.key async for entry in first.scan("ns", "k1", page_size=7)][:3] == [
            "k1",
            "k10",
            "k100",
        ]
        assert await first.clear("ns", "k") == 200
    finally:
        for instance in instances:
            await instance.close()


def test_use_from_another_event_loop_says_what_to_do(postgres: PostgresTarget) -> None:
    """initialize on one loop, then asyncio.run(get) on another: a StorageError naming the
    fix, never asyncpg's bare RuntimeError. (The first loop is kept alive here only so that
    the test can close the pool on it afterwards.)"""
    storage = PostgresStorage(postgres.url, table=unique_name())
    first_loop = asyncio.new_event_loop()
    try:
        first_loop.run_until_complete(storage.initialize())
        expected = r"another event loop.*one driver per event loop"
        with pytest.raises(StorageError, match=expected) as info:
            asyncio.run(storage.get("a", "b"))
        assert not isinstance(info.value.__cause__, RuntimeError)
        with pytest.raises(StorageError, match="another event loop"):
            asyncio.run(storage.set("a", "b", 1))
        assert first_loop.run_until_complete(storage.get("a", "b")) is None
        first_loop.run_until_complete(storage.close())
    finally:
        first_loop.close()
