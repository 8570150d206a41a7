"""radaros.sync: the blocking API on every driver, from many threads, inside a running loop."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from radaros import (
    InMemoryStorage,
    PostgresStorage,
    RedisStorage,
    StorageClosedError,
    StorageError,
)
from radaros.sync import SyncStorage, open_storage
from tests.support.drivers import (
    DRIVERS,
    SERVER_DRIVERS,
    RedisTarget,
    driver_factory,
    unavailable,
    unique_name,
)
from tests.support.servers import redis_cli


@pytest.fixture(params=DRIVERS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncStorage]:
    with SyncStorage(driver_factory(request.param, tmp_path, request)()) as opened:
        yield opened


class Note(BaseModel):
    text: str


def test_every_method_blocks_and_returns_what_the_driver_returns(storage: SyncStorage) -> None:
    storage.set("ns", "a", 1)
    storage.set_many("ns", {"b": 2, "c": 3}, ttl=60)
    assert storage.get("ns", "a") == 1
    assert storage.get("ns", "zz", "default") == "default"
    assert storage.get_many("ns", iter(["a", "zz"]), 0) == [1, 0]
    assert [e.key for e in storage.list("ns")] == ["a", "b", "c"]
    assert [e.key for e in storage.scan("ns", page_size=2)] == ["a", "b", "c"]
    ttls = {e.key: e.ttl for e in storage.scan("ns", with_ttl=True)}
    assert ttls["a"] == float("inf")
    assert 0 < ttls["b"] <= 60
    assert storage.count("ns") == 3
    assert storage.add("ns", "a", 9) is False
    assert storage.update("ns", "a", lambda v: v + 1) == 2
    assert storage.append("ns", "log", ["x"], max_items=5) == 1
    assert storage.ttl("ns", "a") == float("inf")
    assert storage.touch("ns", "a", 30) is True
    assert storage.namespaces() == ["ns"]
    assert storage.delete("ns", "log") is True
    assert storage.delete_many("ns", ["b", "c"]) == 2
    assert storage.clear("ns") == 1
    notes = storage.collection("notes", Note)
    notes.set("n", Note(text="hi"))
    assert notes.get("n") == Note(text="hi")
    assert [item.value for item in notes.scan()] == [Note(text="hi")]
    session = storage.sessions().create("ada")
    assert storage.history(session.id, message_type=Note).add(Note(text="hi")) == 1
    assert storage.history(session.id).messages() == [{"text": "hi"}]
    storage.summaries().set(session.id, "short")
    assert storage.summaries().get(session.id) == "short"
    assert [s.id for s in storage.sessions().list("ada")] == [session.id]
    assert storage.sessions().delete(session.id) is True


def test_sixteen_threads_lose_no_update(storage: SyncStorage) -> None:
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(25):
                storage.update("ns", "counter", lambda v: (v or 0) + 1)
                storage.append("ns", "log", [f"{thread}-{i}"])
                storage.set("ns", f"t{thread}", i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    assert errors == []
    assert storage.get("ns", "counter") == 16 * 25
    assert sorted(storage.get("ns", "log")) == sorted(
        f"{t}-{i}" for t in range(16) for i in range(25)
    )


async def test_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    """As in a Jupyter cell: the calling thread runs a loop; the sync API still works."""
    with open_storage(f"sqlite:///{tmp_path}/nb.db") as storage:
        storage.set("ns", "k", {"from": "a notebook"})
        assert storage.get("ns", "k") == {"from": "a notebook"}


def increment(url: str, times: int) -> None:
    with open_storage(url) as storage:
        for _ in range(times):
            storage.update("ns", "counter", lambda v: (v or 0) + 1)


def test_processes_started_with_spawn_each_use_their_own(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=increment, args=(url, 20)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    with open_storage(url) as storage:
        assert storage.get("ns", "counter") == 60


def test_close_while_calls_are_in_flight_never_hangs(storage: SyncStorage) -> None:
    outcomes: list[str] = []
    started = threading.Barrier(9)

    def work() -> None:
        started.wait()
        try:
            while True:
                storage.update("ns", "counter", lambda v: (v or 0) + 1)
        except StorageClosedError:
            outcomes.append("closed")
        except BaseException as exc:  # anything else is a defect
            outcomes.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(0.2)  # let calls be in flight; not a timing assertion
    closing = time.monotonic()
    storage.close()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a call hung after close()"
    assert outcomes == ["closed"] * 8
    assert time.monotonic() - closing < 60
    with pytest.raises(StorageClosedError):
        storage.get("ns", "counter")
    storage.close()  # idempotent
    assert storage.is_closed


def test_bad_input_raises_before_io(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="KeyValue"):
        SyncStorage("sqlite:///x.db")  # type: ignore[arg-type]
    with open_storage(f"sqlite:///{tmp_path}/x.db") as storage:
        with pytest.raises(ValueError, match="namespace"):
            storage.set("", "k", 1)
        with pytest.raises(ValueError, match="page_size"):
            storage.scan("ns", page_size=0)
        assert storage.namespaces() == []
        assert "SqliteStorage" in repr(storage)


def test_a_scan_left_unfinished_does_not_block_close(tmp_path: Path) -> None:
    storage: Any = open_storage(f"sqlite:///{tmp_path}/x.db").open()
    storage.set_many("ns", {f"k{i:03}": i for i in range(50)})
    entries = storage.scan("ns", page_size=10)
    assert next(entries).key == "k000"
    storage.close()
    with pytest.raises(StorageClosedError):
        list(entries)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_failed_opens_leak_no_thread_and_no_file_descriptor(tmp_path: Path) -> None:
    """An open that fails ends the storage's loop thread and closes its loop."""
    SyncStorage(InMemoryStorage()).open().close()  # warm up lazily opened files
    threads, fds = threading.active_count(), _open_fds()
    for _ in range(20):
        storage = open_storage(f"sqlite:///{tmp_path}/missing/x.db")
        with pytest.raises(StorageError):
            storage.open()
        assert storage.is_closed
    assert threading.active_count() == threads
    assert _open_fds() == fds


def test_a_dropped_storage_releases_its_thread_and_warns(tmp_path: Path) -> None:
    """A SyncStorage dropped without close() closes its driver, ends its thread and says
    so with a ResourceWarning."""
    threads = threading.active_count()
    holder = [open_storage(f"sqlite:///{tmp_path}/x.db").open()]
    holder[0].set("ns", "k", 1)
    assert threading.active_count() > threads
    with pytest.warns(ResourceWarning, match="unclosed SyncStorage"):
        holder.clear()  # the last reference: the storage is collected here
    assert threading.active_count() == threads
    with open_storage(f"sqlite:///{tmp_path}/x.db") as again:
        assert again.get("ns", "k") == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_use_after_fork_raises_in_the_child_instead_of_hanging(tmp_path: Path) -> None:
    """The child of a fork gets a StorageError saying to open a new storage; the parent's
    storage keeps working."""
    with open_storage(f"sqlite:///{tmp_path}/x.db") as storage:
        storage.set("ns", "k", 1)
        read, write = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads may deadlock: this test
            # is about exactly that situation.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: report what a call raised, and leave at once
            outcome = "no error"
            try:
                storage.get("ns", "k")
            except StorageError as exc:
                outcome = str(exc)
            storage.close()
            os.write(write, outcome.encode())
            os._exit(0)
        os.close(write)
        deadline = time.monotonic() + 30
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            assert time.monotonic() < deadline, "the child hung"
            time.sleep(0.01)
        message = os.read(read, 1000).decode()
        os.close(read)
        assert "os.fork()" in message
        assert "open a new storage in the child" in message
        assert storage.get("ns", "k") == 1


def test_close_inside_an_update_function_raises_at_once(tmp_path: Path) -> None:
    """An update function that closes its own storage gets a StorageError at once (no
    stall); the storage closes normally afterwards."""
    with open_storage(f"sqlite:///{tmp_path}/x.db") as storage:

        def closing(current: Any) -> int:
            storage.close()
            return 1

        with pytest.raises(StorageError, match="own loop thread"):
            storage.update("ns", "k", closing)
        assert storage.get("ns", "k") is None
        with pytest.raises(StorageError, match="own loop thread"):
            storage.update("ns", "k", lambda current: storage.get("ns", "other"))
    assert storage.is_closed


def test_views_compose_with_the_sync_api(tmp_path: Path) -> None:
    """SyncStorage wraps any KeyValue (a Scoped view of an instrumented driver), and
    `scoped()` gives a blocking scoped view on the same loop; a Scoped view of the
    blocking API is refused with a hint instead."""
    from radaros import Scoped, SqliteStorage, telemetry

    driver = SqliteStorage(tmp_path / "x.db")
    with SyncStorage(Scoped(telemetry.instrument(driver), "tenant:a:")) as tenant:
        tenant.set("notes", "k", 1)
        assert tenant.get("notes", "k") == 1
        assert tenant.namespaces() == ["notes"]
    with open_storage(f"sqlite:///{tmp_path}/x.db") as storage:
        assert storage.get("tenant:a:/notes", "k") == 1
        other = storage.scoped("tenant:b:")
        other.set("notes", "k", 2)
        assert other.list("notes") == [("k", 2)]
        assert storage.namespaces() == ["tenant:a:/notes", "tenant:b:/notes"]
        with pytest.raises(TypeError, match=r"storage\.scoped"):
            Scoped(storage, "tenant:c:")  # type: ignore[arg-type]
    assert other.is_closed


# -- calls served in the calling thread (memory, SQLite) ---------------------------------------

IN_CALLER = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]
"""Drivers whose SyncStorage point calls run in the calling thread, with no event loop:
memory, SQLite, and a standalone Redis the driver connects to itself."""


@pytest.fixture(params=IN_CALLER)
def in_caller(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncStorage]:
    driver = driver_factory(request.param, tmp_path, request)()
    assert driver.serves_blocking
    with SyncStorage(driver) as opened:
        yield opened


def point_calls_beside_a_held_loop(storage: SyncStorage) -> None:
    """Hold the storage's loop thread busy, and meanwhile run get, set, delete and their
    batches: they must all answer before the loop is let go."""
    held, release = threading.Event(), threading.Event()

    async def hold_the_loop() -> None:
        held.set()
        release.wait(timeout=60)  # blocks the loop thread on purpose

    busy = storage.submit(hold_the_loop())
    try:
        assert held.wait(timeout=60)
        storage.set("ns", "a", {"v": 1})
        storage.set_many("ns", {"b": 2, "c": 3}, ttl=60)
        assert storage.get("ns", "a") == {"v": 1}
        assert storage.get_many("ns", ["a", "b", "zz"], 0) == [{"v": 1}, 2, 0]
        assert storage.delete("ns", "a") is True
        assert storage.delete_many("ns", ["b", "c", "zz"]) == 2
        assert storage.get("ns", "a") is None
        assert not busy.done()  # all of that ran beside the held loop
    finally:
        release.set()
    busy.result(timeout=60)


def test_point_calls_do_not_wait_for_the_loop_thread(in_caller: SyncStorage) -> None:
    """get, set, delete and their batches answer while the loop thread is held busy; the
    other methods still run there."""
    point_calls_beside_a_held_loop(in_caller)
    assert in_caller.count("ns") == 0  # through the loop thread again


def test_threads_and_the_loop_thread_share_the_driver_safely(in_caller: SyncStorage) -> None:
    """Eight threads write and delete their own keys of one namespace in the calling threads
    while a ninth counts with incr (on the loop thread): every effect lands exactly once."""
    rounds, errors = 150, []

    def writer(thread: int) -> None:
        try:
            for n in range(rounds):
                in_caller.set_many("ns", {f"t{thread}-{n}": n, f"t{thread}-{n}-gone": n})
                in_caller.delete("ns", f"t{thread}-{n}-gone")
                assert in_caller.get("ns", f"t{thread}-{n}") == n
        except BaseException as error:
            errors.append(error)

    def counter() -> None:
        try:
            for _ in range(rounds):
                in_caller.incr("ns", "counter")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    threads.append(threading.Thread(target=counter))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[0]
    keys = [entry.key for entry in in_caller.list("ns")]
    expected = {f"t{t}-{n}" for t in range(8) for n in range(rounds)} | {"counter"}
    assert keys == sorted(expected)  # no key lost, duplicated or out of order
    assert in_caller.get("ns", "counter") == rounds
    assert in_caller.count("ns") == len(expected)


def test_writes_in_the_calling_thread_still_reclaim_expired_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from radaros.storage import lifecycle

    monkeypatch.setattr(lifecycle, "SWEEP_INTERVAL_S", 0.0)
    driver = InMemoryStorage()
    with SyncStorage(driver) as storage:
        storage.set("ns", "brief", 1, ttl=0.01)
        time.sleep(0.05)
        storage.set("ns", "other", 2)  # the sweep it starts runs on the loop thread
        deadline = time.monotonic() + 30
        while "brief" in driver._data["ns"].values and time.monotonic() < deadline:
            time.sleep(0.01)
            storage.set("ns", "other", 2)
        assert "brief" not in driver._data["ns"].values
        assert storage.get("ns", "other") == 2


def test_a_thread_that_ends_takes_its_sqlite_read_connection_along(tmp_path: Path) -> None:
    import gc

    from radaros import SqliteStorage

    driver = SqliteStorage(tmp_path / "x.db")
    with SyncStorage(driver) as storage:
        storage.set("ns", "k", 1)
        for _ in range(5):
            thread = threading.Thread(target=lambda: storage.get("ns", "k"))
            thread.start()
            thread.join(timeout=60)
        gc.collect()
        assert len(driver._reader_connections) == 0  # five threads read; none is left
        assert storage.get("ns", "k") == 1
        assert len(driver._reader_connections) == 1  # this thread's, until it ends


def test_a_blocking_read_of_a_locked_sqlite_file_goes_to_the_worker(tmp_path: Path) -> None:
    import sqlite3

    from radaros import SqliteStorage
    from radaros.storage.sqlite import _ThreadReader
    from tests.test_sqlite import LockedOut

    driver = SqliteStorage(tmp_path / "x.db")
    with SyncStorage(driver) as storage:
        storage.set("ns", "k", {"v": 1})
        locked = sqlite3.connect(tmp_path / "x.db", factory=LockedOut, check_same_thread=False)
        driver._readers.reader = _ThreadReader(locked)  # this thread's reads find it locked
        driver._reader_connections.add(locked)
        assert storage.get("ns", "k") == {"v": 1}
        assert storage.get("ns", "absent", 0) == 0


def test_point_calls_after_close_raise(in_caller: SyncStorage) -> None:
    in_caller.set("ns", "k", 1)
    in_caller.close()
    for call in (
        lambda: in_caller.get("ns", "k"),
        lambda: in_caller.set("ns", "k", 2),
        lambda: in_caller.delete("ns", "k"),
        lambda: in_caller.get_many("ns", ["k"]),
        lambda: in_caller.set_many("ns", {"k": 2}),
        lambda: in_caller.delete_many("ns", ["k"]),
    ):
        with pytest.raises(StorageClosedError):
            call()


def test_bad_input_in_the_calling_thread_writes_nothing(in_caller: SyncStorage) -> None:
    from radaros import InvalidKeyError, SerializationError

    with pytest.raises(SerializationError):
        in_caller.set_many("ns", {"ok": 1, "bad": {1, 2}})
    with pytest.raises(InvalidKeyError):
        in_caller.set("ns", "nul\x00", 1)
    with pytest.raises(ValueError, match="ttl"):
        in_caller.set("ns", "k", 1, ttl=-1)
    with pytest.raises(TypeError):
        in_caller.set_many("ns", ["not a pair"])  # type: ignore[list-item]
    assert in_caller.get_many("ns", ["ok", "bad", "k"]) == [None, None, None]


# -- a connection per calling thread (server drivers) ------------------------------------------

TWINNED = [param for param in SERVER_DRIVERS if param.values[0] in ("postgres", "redis_cluster")]
"""Server drivers whose point calls get a connection and event loop per calling thread."""


@pytest.fixture(params=TWINNED)
def twinned(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., SyncStorage]:
    """SyncStorages (with the given options) on one fresh PostgreSQL table or Redis prefix."""
    make = driver_factory(request.param, tmp_path, request)
    return lambda **options: SyncStorage(make(), **options)


def test_server_point_calls_run_on_the_calling_threads_connection(
    twinned: Callable[..., SyncStorage],
) -> None:
    """On PostgreSQL and Redis Cluster, get, set, delete and their batches answer while the
    loop thread is held busy: they run on a connection of the calling thread."""
    with twinned() as storage:
        storage.set("ns", "warm", 0)  # opens this thread's connection
        point_calls_beside_a_held_loop(storage)
        assert storage.count("ns") == 1  # through the loop thread, on the same data


def test_at_most_thread_connections_threads_get_one_and_close_closes_them(
    twinned: Callable[..., SyncStorage],
) -> None:
    """Six threads on a storage allowing two connections: all answers right, at most two
    connections at any time, the connection of a thread that ended is closed when another
    thread opens one, and close() closes the rest."""
    with twinned(thread_connections=2) as storage:
        assert storage._threads is not None
        seen: list[Any] = []
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    storage.set("ns", f"t{n}-{i}", i)
                    assert storage.get("ns", f"t{n}-{i}") == i
                seen.extend(storage._threads.twins.values())  # type: ignore[union-attr]
            except BaseException as exc:
                errors.append(exc)

        for batch in ([0, 1, 2], [3, 4, 5]):
            threads = [threading.Thread(target=work, args=(n,)) for n in batch]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(storage._threads.twins) <= 2
        assert errors == []
        assert storage.count("ns") == 6 * 20
        first = seen[0]
        assert first.is_closed  # its thread ended, and later threads opened theirs
        left = list(storage._threads.twins.values())
    assert all(twin.is_closed for twin in left)
    assert all(twin.driver.is_closed for twin in {*seen, *left})


async def test_server_calls_inside_a_running_loop_cross_to_the_loop_thread(
    twinned: Callable[..., SyncStorage],
) -> None:
    """A thread running its own event loop cannot run a connection's loop: its calls cross
    to the loop thread, and still work."""
    with twinned() as storage:
        storage.set("ns", "k", {"from": "a notebook"})
        assert storage.get("ns", "k") == {"from": "a notebook"}
        assert storage._threads is not None
        assert storage._threads.twins == {}


def test_a_thread_whose_connection_cannot_open_crosses_to_the_loop_thread(
    twinned: Callable[..., SyncStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a thread's own connection fails to open (here: a port nothing listens on),
    its calls still work, through the loop thread, and nothing is left open."""
    with twinned() as storage:
        threads = storage._threads
        assert threads is not None
        driver = threads.driver
        unreachable = (
            PostgresStorage("postgresql://127.0.0.1:1/none", connect_timeout_s=2)
            if isinstance(driver, PostgresStorage)
            else RedisStorage("redis://127.0.0.1:1", connect_timeout_s=2)
        )
        monkeypatch.setattr(driver, "_twin", lambda: unreachable)
        storage.set("ns", "k", 1)
        assert storage.get("ns", "k") == 1
        assert threads.twins == {}
        assert threads.opening == 0
        assert unreachable.is_closed


def test_thread_connections_is_checked() -> None:
    for bad in (-1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="thread_connections"):
            SyncStorage(InMemoryStorage(), thread_connections=bad)  # type: ignore[arg-type]
    with SyncStorage(InMemoryStorage()) as storage:
        assert storage._threads is None  # memory runs in the calling thread anyway


def test_thread_connections_zero_keeps_every_call_on_the_loop_thread(
    twinned: Callable[..., SyncStorage],
) -> None:
    with twinned(thread_connections=0) as storage:
        assert storage._threads is None
        storage.set("ns", "k", 1)
        assert storage.get("ns", "k") == 1


@pytest.mark.redis
def test_redis_blocking_connections_are_bounded_and_closed(redis: RedisTarget) -> None:
    """Twelve threads on a standalone Redis allowing three connections: every answer is
    right, the server never sees more than those three beside the loop thread's, and
    close() leaves none open."""
    if redis.server is None:
        unavailable("needs the test's own redis-server (it counts its clients)")
    port = int(redis.url.rsplit(":", 1)[1].split("/")[0])

    def clients() -> int:
        info = redis_cli(port, "info", "clients")
        line = next(line for line in info.splitlines() if line.startswith("connected_clients"))
        return int(line.split(":")[1]) - 1  # without redis-cli itself

    before = clients()
    driver = RedisStorage(redis.url, prefix=unique_name("radaros"), max_connections=3)
    most, errors = 0, []
    with SyncStorage(driver) as storage:
        assert storage._direct is driver
        assert storage._threads is None

        def work(n: int) -> None:
            try:
                for i in range(30):
                    storage.set("ns", f"t{n}-{i}", i)
                    assert storage.get("ns", f"t{n}-{i}") == i
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            most = max(most, clients() - before)
            time.sleep(0.01)
        assert errors == []
        assert storage.count("ns") == 12 * 30
    assert 1 <= most <= 1 + 3  # the loop thread's connection, and at most three blocking
    deadline = time.monotonic() + 10
    while clients() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert clients() == before


@pytest.mark.mongodb
def test_mongodb_calls_cross_to_the_loop_thread(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """PyMongo's monitors run on the client's loop between calls: MongoDB keeps one."""
    with SyncStorage(driver_factory("mongodb", tmp_path, request)()) as storage:
        assert storage._threads is None
        storage.set("ns", "k", 1)
        assert storage.get("ns", "k") == 1
