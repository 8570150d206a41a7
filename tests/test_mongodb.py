"""What is specific to MongoDBStorage: document layout, indexes, clock, faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from radaros.storage import (
    MongoDBStorage,
    StorageConnectionError,
    StorageNotInitializedError,
    open_storage,
)
from tests.support.drivers import MongoTarget, mongodb_url, unavailable, unique_name

pytestmark = pytest.mark.mongodb
DATABASE = "radaros_mongo_tests"


@pytest.fixture
async def client(mongodb: MongoTarget) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb.url)
    yield client
    await client.close()


@pytest.fixture
async def storage(client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[MongoDBStorage]:
    async with MongoDBStorage(client, database=DATABASE, collection=unique_name()) as storage:
        yield storage


async def raw_documents(
    client: AsyncMongoClient[dict[str, Any]], storage: MongoDBStorage
) -> dict[str, Any]:
    collection = client[DATABASE][storage._collection_name]
    return {doc["k"]: doc async for doc in collection.find({}, {"_id": 0})}


async def test_documents_are_readable_where_exact(
    storage: MongoDBStorage, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """Plain values are stored as BSON in `v`; the rest as JSON text in `j`, exactly."""
    plain = {"step": 3, "tags": ["a", "b"], "ratio": 0.5, "ok": True, "none": None}
    await storage.set("ns", "plain", plain)
    await storage.set("ns", "dotted", {"a.b": 1, "$set": 2})
    await storage.set("ns", "big-int", 2**40)
    await storage.set("ns", "float-one", 1.0)
    documents = await raw_documents(client, storage)
    assert documents["plain"]["v"] == plain
    assert "j" not in documents["plain"]
    assert documents["plain"]["ns"] == "ns"
    assert documents["plain"]["e"].year == 9999
    assert documents["dotted"]["j"] == '{"a.b":1,"$set":2}'
    assert "v" not in documents["dotted"]
    assert documents["big-int"]["j"] == str(2**40)
    assert type(documents["float-one"]["v"]) is float
    await storage.set("ns", "plain", {"a.b": 1})  # switching form leaves no stale field
    assert "v" not in (await raw_documents(client, storage))["plain"]
    assert await storage.get("ns", "plain") == {"a.b": 1}


async def test_entries_are_keyed_by_namespace_and_key(
    storage: MongoDBStorage, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """A document's `_id` is the namespace, NUL and the key; `initialize()` creates the
    (ns, k, e) index and a TTL index over the entries that expire, nothing else."""
    await storage.set("a:b", "c", 1)
    await storage.set("a", "b:c", 2)
    collection = client[DATABASE][storage._collection_name]
    ids = sorted([document["_id"] async for document in collection.find({}, {"_id": 1})])
    assert ids == ["a\x00b:c", "a:b\x00c"]
    indexes = await collection.index_information()
    assert set(indexes) == {"_id_", "ns_k_e", "expiring"}
    assert indexes["ns_k_e"]["key"] == [("ns", 1), ("k", 1), ("e", 1)]
    assert indexes["expiring"]["key"] == [("e", 1)]
    assert indexes["expiring"]["expireAfterSeconds"] == 0
    assert "partialFilterExpression" in indexes["expiring"]


async def test_point_operations_look_up_the_id_alone(
    mongodb: MongoTarget, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """get, set, delete and ttl send a filter on `_id` only (the primary index's fast path);
    an expired entry is absent although its document is still there."""
    commands: list[dict[str, Any]] = []

    class Listener(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name in ("find", "update", "delete"):
                commands.append(dict(event.command))

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    watched: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb.url, event_listeners=[Listener()]
    )
    try:
        async with MongoDBStorage(watched, database=DATABASE, collection=unique_name()) as storage:
            await storage.set("ns", "k", 1)
            await storage.set("ns", "brief", 1, ttl=0.05)
            commands.clear()
            assert await storage.get("ns", "k") == 1
            assert await storage.ttl("ns", "k") == math.inf
            await asyncio.sleep(0.1)
            assert await storage.get("ns", "brief") is None
            assert await storage.ttl("ns", "brief") is None
            assert await storage.delete("ns", "k")
            document = await client[DATABASE][storage._collection_name].find_one(
                {"_id": "ns\x00brief"}
            )
            assert document is not None  # expired, not yet reaped: still invisible
    finally:
        await watched.close()
    filters = [command.get("filter") or command["deletes"][0]["q"] for command in commands]
    by_id = [{"_id": f"ns\x00{key}"} for key in ("k", "k", "brief", "brief")]
    assert filters[:4] == by_id
    assert filters[4]["_id"] == "ns\x00k"


async def test_the_ttl_index_reclaims_expired_entries_and_nothing_else(
    mongodb: MongoTarget, storage: MongoDBStorage, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """A TTL pass deletes the documents of expired entries only: entries that never
    expire are outside the partial index, entries still live are left, and an expired
    key's `add` afterwards starts afresh."""
    if mongodb.server is None:
        pytest.skip("mongod's TTL monitor runs every 60 s and cannot be started on demand")
    await storage.set("ns", "kept", 1)
    await storage.set("ns", "later", 2, ttl=3600)
    await storage.set("ns", "brief", 3, ttl=0.05)
    await asyncio.sleep(0.1)
    # SecantusDB's own command for one TTL pass (its periodic sweeper is off in tests).
    reply = await client.admin.command("secantusAdmin.pruneTtl")
    assert reply["pruned"] >= 1
    ids = {document["_id"] async for document in client[DATABASE][storage._collection_name].find()}
    assert ids == {"ns\x00kept", "ns\x00later"}
    assert await storage.get_many("ns", ["kept", "later", "brief"]) == [1, 2, None]
    assert await storage.add("ns", "brief", 4)
    assert await storage.get("ns", "brief") == 4


async def test_a_borrowed_client_with_naive_datetimes_works(
    client: AsyncMongoClient[dict[str, Any]],
) -> None:
    """PyMongo decodes dates as naive datetimes by default; the driver reads its own
    documents as aware ones, so expiries compare and every operation works."""
    async with MongoDBStorage(client, database=DATABASE, collection=unique_name()) as storage:
        await storage.set("ns", "k", {"n": 1}, ttl=60)
        assert await storage.list("ns") == [("k", {"n": 1})]
        left = await storage.ttl("ns", "k")
        assert left is not None
        assert 0 < left <= 60
        (entry,) = [entry async for entry in storage.scan("ns", with_ttl=True)]
        assert entry.key == "k"
        assert 0 < entry.ttl <= 60


async def write_02_documents(
    collection: Any, namespace: str, items: dict[str, Any], expires_at: dt.datetime
) -> None:
    """Documents as radaros 0.2 wrote them: an ObjectId `_id`, its three indexes."""
    await collection.create_index([("ns", 1), ("k", 1)], unique=True, name="ns_k")
    await collection.create_index([("ns", 1), ("k", 1), ("e", 1)], name="ns_k_e")
    await collection.create_index("e", expireAfterSeconds=0, name="expiry")
    await collection.insert_many(
        [
            {"ns": namespace, "k": key, "v": value, "e": expires_at, "r": 1}
            if not isinstance(value, str)
            else {"ns": namespace, "k": key, "j": value, "e": expires_at, "r": 1}
            for key, value in items.items()
        ]
    )


async def test_a_02_collection_is_converted_by_initialize(
    mongodb: MongoTarget, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """Documents radaros 0.2 wrote (ObjectId `_id`, 2,500 of them: three batches; values in
    `v` and in `j`, some expiring) read exactly as before once several instances have
    opened the collection at once; the old documents and indexes are gone."""
    name = unique_name()
    collection = client[DATABASE][name]
    never = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
    items: dict[str, Any] = {f"k{i:04}": {"n": i} for i in range(2500)}
    await write_02_documents(collection, "ns", items, never)
    await write_02_documents(collection, "ns", {"text": '"as json"'}, never)
    await write_02_documents(collection, "other", {"soon": [1]}, soon)
    peers = [MongoDBStorage(mongodb.url, database=DATABASE, collection=name) for _ in range(3)]
    try:
        await asyncio.gather(*(peer.initialize() for peer in peers))
        storage = peers[0]
        assert dict(await storage.list("ns", "k")) == items
        assert await storage.get("ns", "text") == "as json"
        assert await storage.count("ns") == len(items) + 1
        left = await storage.ttl("other", "soon")
        assert left is not None
        assert 500 < left <= 600
        assert await storage.namespaces() == ["ns", "other"]
        assert not await storage.add("ns", "k0001", "again")  # still exactly-once
        assert await storage.add("ns", "new", 1)
    finally:
        for peer in peers:
            await peer.close()
    assert await collection.count_documents({"_id": {"$type": "objectId"}}) == 0
    assert await collection.count_documents({}) == len(items) + 3
    assert set(await collection.index_information()) == {"_id_", "ns_k_e", "expiring"}


async def test_expiry_is_on_the_server_clock(storage: MongoDBStorage) -> None:
    """The clock offset comes from hello.localTime; expiries are server time + ttl."""
    assert storage._client is not None
    reply = await storage._client.admin.command("hello")
    server_now = reply["localTime"].replace(tzinfo=dt.timezone.utc)
    assert abs((await storage._now() - server_now).total_seconds()) < 1.0
    storage._clock_offset_s += 3600  # as if this machine's clock were an hour behind
    await storage.set("ns", "k", 1, ttl=60)
    document = await storage._live_collection().find_one({"k": "k"})
    assert document is not None
    expires_at = document["e"].replace(tzinfo=dt.timezone.utc)
    assert (expires_at - server_now).total_seconds() > 3600


async def test_database_from_url_path_keyword_or_default(mongodb: MongoTarget) -> None:
    """The database is the URL's path, else database=, else radaros."""
    collection = unique_name()
    async with MongoDBStorage(mongodb_url(mongodb.url, "from_path"), collection=collection) as s:
        assert s._live_collection().database.name == "from_path"
    async with MongoDBStorage(
        mongodb_url(mongodb.url, ""), database="from_kw", collection=collection
    ) as s:
        assert s._live_collection().database.name == "from_kw"
    async with MongoDBStorage(mongodb_url(mongodb.url, ""), collection=collection) as s:
        assert s._live_collection().database.name == "radaros"


async def test_borrowed_client_is_left_open(client: AsyncMongoClient[dict[str, Any]]) -> None:
    """A driver handed a client never closes it."""
    async with MongoDBStorage(client, database=DATABASE, collection=unique_name()) as storage:
        await storage.set("ns", "k", 1)
    assert (await client.admin.command("ping"))["ok"] == 1


async def test_operations_before_initialize_say_what_to_call(mongodb: MongoTarget) -> None:
    """Operations before initialize() raise StorageNotInitializedError."""
    storage = MongoDBStorage(mongodb.url, collection=unique_name())
    with pytest.raises(StorageNotInitializedError, match="initialize"):
        await storage.set("ns", "k", 1)
    await storage.close()


def test_bad_collection_and_database_names_raise_before_io() -> None:
    """Collection and database names MongoDB would refuse raise ValueError at construction."""
    for bad in ["", "a$b", "system.users", "a\x00b"]:
        with pytest.raises(ValueError, match="collection"):
            MongoDBStorage("mongodb://127.0.0.1:9/", collection=bad)
    for bad in ["", "a.b", "a/b", "a b", "a$"]:
        with pytest.raises(ValueError, match="database"):
            MongoDBStorage("mongodb://127.0.0.1:9/", database=bad)


async def test_unreachable_server_fails_within_the_timeout_without_password() -> None:
    """No server: StorageConnectionError within server_selection_timeout_s; no password shown."""
    storage = MongoDBStorage(
        "mongodb://user:canary-secret@127.0.0.1:9/db", server_selection_timeout_s=0.5
    )
    assert "canary-secret" not in repr(storage)
    started = time.monotonic()
    with pytest.raises(StorageConnectionError) as info:
        await storage.initialize()
    assert time.monotonic() - started < 0.5 + 1.0
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 300, message  # the host and the cause, not a topology dump
    assert "127.0.0.1:9" in message
    assert "Topology" not in message
    node: BaseException | None = info.value
    while node is not None:
        assert "canary-secret" not in f"{node!r} {node}"
        node = node.__cause__ or node.__context__
    started = time.monotonic()
    await storage.close()
    assert time.monotonic() - started < 6


# PyMongo leaves a socket to the garbage collector when a connection attempt is given up
# while the server is down (PYTHON-5867, unfixed upstream, as in the cancellation and secret
# tests): a ResourceWarning from PyMongo's socket, not a leak of radaros, which owns none.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_stopped_server_then_recovery_with_the_same_driver() -> None:
    """A stopped server gives StorageConnectionError in bounded time; service resumes after."""
    try:
        from tests.support.servers import SecantusServer

        server = SecantusServer()
    except Exception as exc:
        unavailable(f"SecantusDB unavailable: {exc}")
    try:
        async with MongoDBStorage(
            server.url, collection="kv", server_selection_timeout_s=1, timeout_s=2
        ) as storage:
            await storage.set("ns", "before", 1)
            await asyncio.to_thread(server.stop)
            started = time.monotonic()
            with pytest.raises(StorageConnectionError):
                await storage.get("ns", "before")
            assert time.monotonic() - started < 2 + 1.0
            await asyncio.to_thread(server.start)
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert await storage.get("ns", "before") == 1
                    break
                except StorageConnectionError:
                    assert time.monotonic() < deadline, "did not recover within 10 s"
                    await asyncio.sleep(0.1)
            await storage.set("ns", "after", 2)
    finally:
        server.close()
        gc.collect()  # here, under this test's filter, not in whichever test runs next


async def test_open_storage_returns_mongodb_storage(mongodb: MongoTarget) -> None:
    """mongodb:// URLs open a MongoDBStorage with the options given."""
    async with open_storage(
        mongodb_url(mongodb.url, DATABASE), collection=unique_name()
    ) as storage:
        assert isinstance(storage, MongoDBStorage)
        await storage.set("ns", "k", "v")
        assert await storage.get("ns", "k") == "v"


class HelloCounter(monitoring.CommandListener):
    """Counts the `hello` commands the application sends (not the monitor's heartbeats)."""

    def __init__(self) -> None:
        self.hellos = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name.lower() == "hello":
            self.hellos += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_stale_clock_is_refreshed_by_one_caller(mongodb: MongoTarget) -> None:
    """When the server-clock sample is stale, concurrent callers send one hello, not one each."""
    counter = HelloCounter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb.url, event_listeners=[counter]
    )
    try:
        async with MongoDBStorage(client, database=DATABASE, collection=unique_name()) as storage:
            await storage.set("ns", "k", 1)
            storage._clock_read_at = float("-inf")
            counter.hellos = 0
            values = await asyncio.gather(*(storage.get("ns", "k") for _ in range(30)))
            assert values == [1] * 30
            assert counter.hellos == 1
    finally:
        await client.close()
