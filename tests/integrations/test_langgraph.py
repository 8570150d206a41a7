"""RadarosSaver and RadarosStore: LangGraph's own conformance suite on every driver, real
graphs with interrupts, and the store's behaviours as LangGraph documents them."""

from __future__ import annotations

import asyncio
import itertools
import operator
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import pytest

from tests.integrations.conftest import require

require("langgraph.checkpoint.conformance")

from langchain_core.runnables import RunnableConfig  # noqa: E402
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint  # noqa: E402
from langgraph.checkpoint.conformance import checkpointer_test, validate  # noqa: E402
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.store.base import (  # noqa: E402
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    PutOp,
    SearchOp,
)
from langgraph.types import Command, interrupt  # noqa: E402

from radaros.integrations.langgraph import RadarosSaver, RadarosStore  # noqa: E402
from radaros.storage import SerializationError, StorageDriver  # noqa: E402
from radaros.storage.testing.support import count_reads  # noqa: E402
from radaros.sync import SyncStorage  # noqa: E402

_suites = itertools.count()

# LangGraph's interrupt() under ainvoke reads the run's config from a contextvar, which
# asyncio tasks inherit only from Python 3.11 (LangGraph documents this).
async_interrupts = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="interrupt() under ainvoke needs Python 3.11"
)


# -- LangGraph's conformance suite -----------------------------------------------------------


async def test_conformance_base_and_extended(storage: StorageDriver) -> None:
    @checkpointer_test(name=f"RadarosSaver[{type(storage).__name__}]")
    async def saver() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        # A fresh namespace per capability suite: the suite reuses thread ids across them.
        yield RadarosSaver(storage, namespace=f"langgraph-{next(_suites)}")

    report = await validate(saver)
    failures = {name: result.failures for name, result in report.results.items() if result.failures}
    assert not failures
    assert report.passed_all_base()
    for capability in ("delete_for_runs", "copy_thread", "prune"):
        result = report.results[capability]
        assert result.detected, capability
        assert result.passed, capability
        assert result.tests_passed > 0


# -- real graphs -----------------------------------------------------------------------------


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def approval_graph() -> StateGraph[State]:
    def draft(state: State) -> dict[str, Any]:
        return {"log": ["drafted"]}

    def review(state: State) -> dict[str, Any]:
        verdict = interrupt({"question": "approve?"})
        return {"log": [f"review:{verdict}"]}

    def publish(state: State) -> dict[str, Any]:
        return {"log": ["published"]}

    graph = StateGraph(State)
    graph.add_node("draft", draft)
    graph.add_node("review", review)
    graph.add_node("publish", publish)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", "publish")
    graph.add_edge("publish", END)
    return graph


@async_interrupts
async def test_graph_interrupt_and_resume(storage: StorageDriver) -> None:
    app = approval_graph().compile(checkpointer=RadarosSaver(storage))
    config: RunnableConfig = {
        "configurable": {"thread_id": "order/42 %x"}
    }  # hostile characters are data
    first = await app.ainvoke(State(log=["start"]), config)
    assert first["__interrupt__"][0].value == {"question": "approve?"}
    paused = await app.aget_state(config)
    assert paused.next == ("review",)

    # A new compiled graph (another process, say) resumes from storage alone.
    resumed = approval_graph().compile(checkpointer=RadarosSaver(storage))
    final = await resumed.ainvoke(Command(resume="yes"), config)
    assert final["log"] == ["start", "drafted", "review:yes", "published"]
    history = [snapshot async for snapshot in resumed.aget_state_history(config)]
    assert history[0].values["log"] == final["log"]
    steps = [(s.metadata or {})["step"] for s in history]
    assert steps == sorted(steps, reverse=True)
    other: RunnableConfig = {"configurable": {"thread_id": "order/42"}}
    assert (await resumed.aget_state(other)).values == {}


def test_blocking_graph_on_sync_storage(tmp_path: Any) -> None:
    from radaros.sync import open_storage

    with open_storage(f"sqlite:///{tmp_path}/graph.db") as storage:
        app = approval_graph().compile(checkpointer=RadarosSaver(storage))
        config: RunnableConfig = {"configurable": {"thread_id": "t"}}
        app.invoke(State(log=[]), config)
        final = app.invoke(Command(resume="no"), config)
        assert final["log"] == ["drafted", "review:no", "published"]


@async_interrupts
async def test_blocking_calls_from_another_thread(storage: StorageDriver) -> None:
    saver = RadarosSaver(storage)
    app = approval_graph().compile(checkpointer=saver)
    config: RunnableConfig = {"configurable": {"thread_id": "threaded"}}
    await app.ainvoke(State(log=[]), config)
    result: dict[str, Any] = {}

    def blocking() -> None:
        result["state"] = app.get_state(config)

    # The loop must keep running while the thread's blocking call is served on it.
    await asyncio.to_thread(blocking)
    assert result["state"].next == ("review",)
    with pytest.raises(Exception, match="await the async method"):
        saver.get_tuple(config)


async def test_concurrent_writers_on_one_thread_lose_nothing(storage: StorageDriver) -> None:
    saver = RadarosSaver(storage)
    config: RunnableConfig = {"configurable": {"thread_id": "busy", "checkpoint_ns": ""}}
    stored = await saver.aput(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
    tasks = [f"task-{n}" for n in range(40)]
    await asyncio.gather(
        *(saver.aput_writes(stored, [("log", t), ("extra", n)], t) for n, t in enumerate(tasks))
    )
    found = await saver.aget_tuple(stored)
    assert found is not None
    assert found.pending_writes is not None
    assert sorted((w[0], w[1]) for w in found.pending_writes) == sorted(
        [(t, "log") for t in tasks] + [(t, "extra") for t in tasks]
    )


@async_interrupts
async def test_delete_thread_leaves_nothing(storage: StorageDriver) -> None:
    saver = RadarosSaver(storage)
    app = approval_graph().compile(checkpointer=saver)
    config: RunnableConfig = {"configurable": {"thread_id": "gone"}}
    await app.ainvoke(State(log=[]), config)
    keep: RunnableConfig = {"configurable": {"thread_id": "gone-not"}}
    await app.ainvoke(State(log=[]), keep)
    await saver.adelete_thread("gone")
    assert await saver.aget_tuple(config) is None
    assert await storage.count("langgraph", "gone/") == 0
    assert await storage.count("langgraph:writes", "gone/") == 0
    assert await saver.aget_tuple(keep) is not None


@async_interrupts
async def test_ttl_expires_checkpoints(storage: StorageDriver) -> None:
    saver = RadarosSaver(storage, ttl=60)
    app = approval_graph().compile(checkpointer=saver)
    await app.ainvoke(State(log=[]), {"configurable": {"thread_id": "brief"}})
    keys = await storage.list("langgraph", "brief/")
    assert keys
    for key, _ in keys:
        remaining = await storage.ttl("langgraph", key)
        assert remaining is not None
        assert 0 < remaining <= 60


@async_interrupts
async def test_list_newest_first_with_before_limit_and_filter(storage: StorageDriver) -> None:
    saver = RadarosSaver(storage)
    app = approval_graph().compile(checkpointer=saver)
    config: RunnableConfig = {"configurable": {"thread_id": "paged"}}
    await app.ainvoke(State(log=[]), config)
    await app.ainvoke(Command(resume="ok"), config)
    everything = [t async for t in saver.alist(config)]
    ids = [t.checkpoint["id"] for t in everything]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) >= 4
    page = [t async for t in saver.alist(config, before=everything[1].config, limit=2)]
    assert [t.checkpoint["id"] for t in page] == ids[2:4]
    inputs = [t async for t in saver.alist(config, filter={"source": "input"})]
    assert inputs
    assert all(t.metadata["source"] == "input" for t in inputs)
    assert [t async for t in saver.alist(config, limit=0)] == []


# -- never pickle ----------------------------------------------------------------------------


@async_interrupts
async def test_pickle_is_never_written_nor_read(storage: StorageDriver) -> None:
    with pytest.raises(ValueError, match="never pickles"):
        RadarosSaver(storage, serde=JsonPlusSerializer(pickle_fallback=True))
    saver = RadarosSaver(storage)
    app = approval_graph().compile(checkpointer=saver)
    config: RunnableConfig = {"configurable": {"thread_id": "p", "checkpoint_ns": ""}}
    await app.ainvoke(State(log=[]), config)
    (key, entry), *_ = await storage.list("langgraph", "p/", reverse=True, limit=1)
    await storage.set("langgraph", key, {**entry, "checkpoint": ["pickle", "gASVAAAAAAAAAAB9lC4="]})
    with pytest.raises(SerializationError, match="pickled"):
        await saver.aget_tuple(config)


async def test_bad_config_is_refused_before_any_io(storage: StorageDriver) -> None:
    saver = RadarosSaver(storage)
    with pytest.raises(ValueError, match="thread_id"):
        await saver.aget_tuple({"configurable": {}})
    with pytest.raises(ValueError, match="checkpoint_id"):
        await saver.aput_writes({"configurable": {"thread_id": "t"}}, [("a", 1)], "task")
    with pytest.raises(ValueError, match="strategy"):
        await saver.aprune(["t"], strategy="everything")
    with pytest.raises(TypeError):
        RadarosSaver({"not": "storage"})  # type: ignore[arg-type]
    assert await storage.namespaces() == []


# -- the store -------------------------------------------------------------------------------


async def test_store_put_get_delete_and_timestamps(storage: StorageDriver) -> None:
    store = RadarosStore(storage)
    await store.aput(("users", "u/1"), "prefs", {"theme": "dark"})
    first = await store.aget(("users", "u/1"), "prefs")
    assert first is not None
    assert first.value == {"theme": "dark"}
    assert first.namespace == ("users", "u/1")
    assert first.key == "prefs"
    await asyncio.sleep(0.01)
    await store.aput(("users", "u/1"), "prefs", {"theme": "light"})
    second = await store.aget(("users", "u/1"), "prefs")
    assert second is not None
    assert second.value == {"theme": "light"}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert await store.aget(("users", "u"), "prefs") is None
    await store.adelete(("users", "u/1"), "prefs")
    assert await store.aget(("users", "u/1"), "prefs") is None


async def test_store_batch_answers_each_op_in_place(storage: StorageDriver) -> None:
    """A batch's results line up with its ops (None for a put); its reads, one or several,
    see the store as it was before the batch's puts."""
    store = RadarosStore(storage)
    await store.aput(("b",), "old", {"v": 0})
    one = await store.abatch([PutOp(("b",), "new", {"v": 1}), GetOp(("b",), "new")])
    assert one == [None, None]
    several = await store.abatch(
        [
            GetOp(("b",), "old"),
            PutOp(("b",), "old", {"v": 2}),
            SearchOp(("b",)),
            ListNamespacesOp(),
        ]
    )
    item, put, found, names = several
    assert isinstance(item, Item)
    assert item.value == {"v": 0}
    assert put is None
    assert isinstance(found, list)
    assert [(hit.key, hit.value) for hit in found if isinstance(hit, Item)] == [
        ("new", {"v": 1}),
        ("old", {"v": 0}),
    ]
    assert names == [("b",)]
    latest = await store.aget(("b",), "old")
    assert latest is not None
    assert latest.value == {"v": 2}


async def test_store_search_reads_the_namespace_then_those_under_it(
    storage: StorageDriver,
) -> None:
    store = RadarosStore(storage)
    for key in ("a", "b", "c"):
        await store.aput(("t",), key, {"in": "t"})
    for key in ("d", "e"):
        await store.aput(("t", "sub"), key, {"in": "sub"})
    await store.aput(("u",), "f", {"in": "u"})

    async def found(**options: Any) -> list[tuple[tuple[str, ...], str]]:
        return [(item.namespace, item.key) for item in await store.asearch(("t",), **options)]

    assert await found(limit=2) == [(("t",), "a"), (("t",), "b")]
    assert await found(limit=3, offset=2) == [
        (("t",), "c"),
        (("t", "sub"), "d"),
        (("t", "sub"), "e"),
    ]
    assert await found(limit=10, filter={"in": "sub"}) == [(("t", "sub"), "d"), (("t", "sub"), "e")]
    assert len(await found(limit=10)) == 5


async def test_store_search_filters_and_pages(storage: StorageDriver) -> None:
    store = RadarosStore(storage)
    for n in range(12):
        doc = {"n": n, "kind": "even" if n % 2 == 0 else "odd", "meta": {"tier": n // 4}}
        await store.aput(("docs", "a"), f"k{n:02d}", doc)
    await store.aput(("docs", "b"), "x", {"n": 100, "kind": "even", "meta": {"tier": 9}})
    await store.aput(("docsx",), "y", {"n": 1})

    def keys(items: list[Any]) -> list[str]:
        return [item.key for item in items]

    assert len(await store.asearch(("docs",), limit=100)) == 13
    assert keys(await store.asearch(("docs", "a"), limit=3)) == ["k00", "k01", "k02"]
    assert keys(await store.asearch(("docs", "a"), limit=3, offset=3)) == ["k03", "k04", "k05"]
    evens = await store.asearch(("docs",), filter={"kind": "even"}, limit=100)
    assert keys(evens) == ["k00", "k02", "k04", "k06", "k08", "k10", "x"]
    assert [i.namespace for i in evens][-1] == ("docs", "b")
    assert keys(await store.asearch(("docs",), filter={"n": {"$gte": 10, "$lt": 100}})) == [
        "k10",
        "k11",
    ]
    assert keys(await store.asearch(("docs",), filter={"n": {"$gt": 99}})) == ["x"]
    assert len(await store.asearch(("docs",), filter={"kind": {"$ne": "even"}}, limit=50)) == 6
    assert keys(await store.asearch(("docs",), filter={"meta.tier": 2})) == [
        "k08",
        "k09",
        "k10",
        "k11",
    ]
    assert keys(await store.asearch(("docs",), filter={"meta": {"tier": 9}})) == ["x"]
    assert await store.asearch(("docs",), filter={"n": {"$gt": "a"}}) == []
    assert keys(await store.asearch((), filter={"n": 1})) == ["k01", "y"]


async def test_store_refuses_bad_input_before_any_io(storage: StorageDriver) -> None:
    store = RadarosStore(storage)
    with pytest.raises(ValueError, match="no vector index"):
        await store.asearch(("docs",), query="similar to this")
    for bad in ({"$or": 1}, {"": 1}, {"a..b": 1}, {"n": {"$regex": "x"}}, {"n": {"$gt": [1]}}):
        with pytest.raises(ValueError, match="filter"):
            await store.asearch(("docs",), filter=bad)
    for namespace in ((), ("a.b",), ("",), ("langgraph",), ("x" * 300,)):
        with pytest.raises(InvalidNamespaceError):
            await store.aput(namespace, "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        await store.abatch([PutOp(("ok",), "k", {"v": 1}), GetOp(("bad.label",), "k")])
    assert await storage.namespaces() == []  # the valid put in that batch was not written


async def test_store_list_namespaces(storage: StorageDriver) -> None:
    store = RadarosStore(storage)
    for namespace in [("a", "b", "c"), ("a", "b", "d"), ("a", "x"), ("b", "c"), ("a/b",)]:
        await store.aput(namespace, "k", {"v": 1})
    assert await store.alist_namespaces() == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "x"),
        ("a/b",),
        ("b", "c"),
    ]
    assert await store.alist_namespaces(prefix=("a",)) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "x"),
    ]
    assert await store.alist_namespaces(suffix=("c",)) == [("a", "b", "c"), ("b", "c")]
    assert await store.alist_namespaces(prefix=("a", "*", "d")) == [("a", "b", "d")]
    assert await store.alist_namespaces(prefix=("a",), max_depth=2) == [("a", "b"), ("a", "x")]
    assert await store.alist_namespaces(limit=2, offset=1) == [("a", "b", "d"), ("a", "x")]
    await store.adelete(("a", "x"), "k")
    assert ("a", "x") not in await store.alist_namespaces()


async def test_store_ttl_and_refresh_on_read(storage: StorageDriver) -> None:
    store = RadarosStore(storage, ttl={"default_ttl": 1.0, "refresh_on_read": True})
    await store.aput(("cache",), "k", {"v": 1})
    name = "langgraph:store/cache/"
    remaining = await storage.ttl(name, "k")
    assert remaining is not None
    assert 0 < remaining <= 60
    await storage.touch(name, "k", 5)
    await store.aget(("cache",), "k")  # refreshes the one-minute TTL
    refreshed = await storage.ttl(name, "k")
    assert refreshed is not None
    assert refreshed > 5
    await storage.touch(name, "k", 5)
    await store.aget(("cache",), "k", refresh_ttl=False)
    kept = await storage.ttl(name, "k")
    assert kept is not None
    assert kept <= 5
    await store.aput(("cache",), "forever", {"v": 2}, ttl=None)
    assert await storage.ttl(name, "forever") == float("inf")
    await store.aput(("cache",), "k", {"v": 3}, ttl=None)  # a put without ttl: permanent
    assert await storage.ttl(name, "k") == float("inf")
    await RadarosStore(storage).aput(("cache",), "forever", {"v": 4}, ttl=2)
    assert 60 < (await storage.ttl(name, "forever") or 0) <= 120


async def test_store_put_from_any_instance_keeps_created_at(storage: StorageDriver) -> None:
    """Whichever store instance puts (one that has seen the item or not, at once or
    concurrently), the item keeps the created_at of its first put."""
    writer = RadarosStore(storage)
    await writer.aput(("notes",), "n", {"v": 0})
    first = await writer.aget(("notes",), "n")
    assert first is not None
    await asyncio.sleep(0.01)
    strangers = [RadarosStore(storage) for _ in range(8)]
    await asyncio.gather(
        *(store.aput(("notes",), "n", {"v": i}) for i, store in enumerate(strangers, 1)),
        *(store.aput(("notes",), "fresh", {"v": i}) for i, store in enumerate(strangers)),
    )
    after = await RadarosStore(storage).aget(("notes",), "n")
    assert after is not None
    assert after.created_at == first.created_at
    assert after.updated_at > first.updated_at
    assert after.value["v"] in range(1, 9)
    fresh = [await store.aget(("notes",), "fresh") for store in strangers]
    assert len({item.created_at for item in fresh if item is not None}) == 1
    await writer.adelete(("notes",), "n")  # forgotten: the next put creates it anew
    await writer.aput(("notes",), "n", {"v": 9})
    again = await writer.aget(("notes",), "n")
    assert again is not None
    assert again.created_at > first.created_at


async def test_store_put_after_another_store_recreated_the_item(storage: StorageDriver) -> None:
    """A store believes an item holds what it last wrote; another store deleting and
    recreating the item (or just putting it) meanwhile is never overwritten with stale
    timestamps: the put then reads the real entry."""
    mine, theirs = RadarosStore(storage), RadarosStore(storage)
    await mine.aput(("notes",), "n", {"v": 1})
    await asyncio.sleep(0.01)
    await theirs.adelete(("notes",), "n")
    await theirs.aput(("notes",), "n", {"v": 2})
    recreated = await theirs.aget(("notes",), "n")
    await mine.aput(("notes",), "n", {"v": 3})
    after = await theirs.aget(("notes",), "n")
    assert recreated is not None
    assert after is not None
    assert after.value == {"v": 3}
    assert after.created_at == recreated.created_at
    await theirs.aput(("notes",), "n", {"v": 4})
    await mine.aput(("notes",), "n", {"v": 5})
    final = await theirs.aget(("notes",), "n")
    assert final is not None
    assert final.value == {"v": 5}
    assert final.created_at == recreated.created_at


async def test_store_puts_an_item_it_wrote_without_reading_it(
    storage: StorageDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Puts of new items and repeated puts of one item read nothing first (on MongoDB,
    which swaps on revisions, a repeated put reads the item)."""
    store = RadarosStore(storage)
    reads = count_reads(storage, monkeypatch)
    for i in range(3):
        await store.aput(("notes",), "n", {"v": i})
        await store.aput(("notes",), f"new{i}", {"v": i})
    assert reads == ([] if storage.swaps_on_value else ["n", "n"])
    monkeypatch.undo()
    item = await store.aget(("notes",), "n")
    assert item is not None
    assert item.value == {"v": 2}


async def test_store_keeps_a_bounded_memory_of_what_it_wrote(tmp_path: Any) -> None:
    """What a store remembers of the entries it wrote stays under KNOWN_BYTES; entries
    over 1/64 of it are not kept; puts stay right either way."""
    from radaros.integrations import langgraph
    from radaros.storage import InMemoryStorage

    async with InMemoryStorage() as storage:
        store = RadarosStore(storage)
        big = "x" * (langgraph.KNOWN_BYTES // 64)
        await store.aput(("notes",), "big", {"text": big})
        assert store._known_bytes == 0
        middle = "x" * (langgraph.KNOWN_BYTES // 100)
        for i in range(150):
            await store.aput(("notes",), f"n{i}", {"text": middle})
            assert 0 < store._known_bytes <= langgraph.KNOWN_BYTES
        await store.aput(("notes",), "big", {"text": "small"})
        await store.aput(("notes",), "n0", {"text": "again"})
        found = [await store.aget(("notes",), key) for key in ("big", "n0")]
        assert [item.value["text"] for item in found if item is not None] == ["small", "again"]


def test_store_blocking_on_sync_storage(tmp_path: Any) -> None:
    with SyncStorage(StorageDriverFor(tmp_path)).open() as storage:
        store = RadarosStore(storage)
        store.put(("notes",), "n1", {"text": "hi"})
        found = store.get(("notes",), "n1")
        assert found is not None
        assert found.value == {"text": "hi"}
        assert [item.key for item in store.search(("notes",))] == ["n1"]


def StorageDriverFor(tmp_path: Any) -> Any:
    from radaros.storage import SqliteStorage

    return SqliteStorage(f"sqlite:///{tmp_path}/store.db")
