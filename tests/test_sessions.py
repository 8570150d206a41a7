"""Sessions, ChatHistory and Summaries on every driver: layout, atomicity, isolation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from radaros import (
    MEMORY_LONG,
    MEMORY_SHORT,
    ChatHistory,
    InMemoryStorage,
    InvalidKeyError,
    Scoped,
    SerializationError,
    Session,
    SessionExistsError,
    SessionNotFoundError,
    Sessions,
    StorageDriver,
    Summaries,
)
from radaros.sessions import SESSION_META, SESSION_USERS
from tests.support.drivers import DRIVERS, driver_factory
from tests.support.reliability import URL_DRIVERS, shared_url
from tests.support.workers_spawn import spawn_workers


async def everything(storage: StorageDriver) -> dict[str, dict[str, Any]]:
    return {
        namespace: dict(await storage.list(namespace)) for namespace in await storage.namespaces()
    }


# -- sessions ----------------------------------------------------------------------------------


async def test_session_lifecycle_and_stored_layout(storage: StorageDriver) -> None:
    sessions = Sessions(storage)
    first = await sessions.create("ada", {"title": "first"}, session_id="s1")
    second = await sessions.create("ada")
    other = await sessions.create("bob", session_id="s3")
    anonymous = await sessions.create()
    assert len(second.id) == 32
    assert anonymous.user_id is None
    assert await sessions.get("s1") == first
    assert await sessions.get("absent") is None
    assert [s.id for s in await sessions.list("ada")] == [second.id, "s1"]  # newest first
    assert [s.id for s in await sessions.list("bob")] == ["s3"]
    assert {s.id for s in await sessions.list()} == {"s1", second.id, "s3", anonymous.id}
    with pytest.raises(SessionExistsError):
        await sessions.create("bob", session_id="s1")
    assert [s.id for s in await sessions.list("bob")] == ["s3"]  # no stray index entry
    stored = await everything(storage)
    assert stored[SESSION_META]["s1"] == {
        "id": "s1",
        "user_id": "ada",
        "created_at": first.created_at.isoformat(),
        "updated_at": first.updated_at.isoformat(),
        "metadata": {"title": "first"},
    }
    assert set(stored[SESSION_USERS]) == {"ada/s1", f"ada/{second.id}", "bob/s3"}
    assert other.created_at.tzinfo is not None


async def test_update_changes_atomically_and_guards_identity(storage: StorageDriver) -> None:
    sessions = Sessions(storage)
    created = await sessions.create("ada", session_id="s1")

    def rename(session: Session) -> None:
        session.metadata["title"] = "renamed"

    updated = await sessions.update("s1", rename)
    assert updated.metadata == {"title": "renamed"}
    assert updated.updated_at >= created.updated_at
    assert (await sessions.get("s1")) == updated

    async def count(session: Session) -> Session:
        session.metadata["n"] = session.metadata.get("n", 0) + 1
        return session

    await asyncio.gather(*(sessions.update("s1", count) for _ in range(20)))
    got = await sessions.get("s1")
    assert got is not None
    assert got.metadata["n"] == 20
    with pytest.raises(SessionNotFoundError):
        await sessions.update("absent", rename)

    def steal(session: Session) -> Session:
        session.user_id = "mallory"
        return session

    with pytest.raises(ValueError, match="cannot change"):
        await sessions.update("s1", steal)
    assert (await sessions.get("s1")) == got


async def test_delete_leaves_nothing_of_the_session(storage: StorageDriver) -> None:
    sessions = Sessions(storage)
    keep = await sessions.create("ada", session_id="keep")
    await sessions.create("ada", session_id="gone")
    for session_id in ("keep", "gone"):
        await ChatHistory(storage, session_id).add({"text": "hi"})
        await Summaries(storage).set(session_id, "a summary")
    before = await everything(storage)
    assert await sessions.delete("gone") is True
    assert await sessions.delete("gone") is False
    after = await everything(storage)
    expected = {
        namespace: {key: value for key, value in entries.items() if "gone" not in key}
        for namespace, entries in before.items()
    }
    expected[MEMORY_SHORT]["gone"] = {"deleted": True}  # the tombstone, which expires
    assert after == expected
    assert [s.id for s in await sessions.list("ada")] == [keep.id]
    assert await ChatHistory(storage, "gone").messages() == []
    with pytest.raises(SessionNotFoundError):
        await ChatHistory(storage, "gone").add({"text": "too late"})
    assert await everything(storage) == expected
    # The id can be used again: a new session starts with an empty history.
    await sessions.create("ada", session_id="gone")
    assert await sessions.history("gone").add({"text": "new"}) == 1
    assert await sessions.history("gone").messages() == [{"text": "new"}]


async def test_touch_slides_the_expiry_of_everything_in_the_session(
    storage: StorageDriver,
) -> None:
    sessions = Sessions(storage, ttl=60)
    await sessions.create("ada", session_id="s1")
    history = sessions.history("s1")
    await history.add({"text": "hi"})
    await Summaries(storage, ttl=60).set("s1", "summary")
    for namespace, key in [
        (SESSION_META, "s1"),
        (SESSION_USERS, "ada/s1"),
        (MEMORY_SHORT, "s1"),
        (MEMORY_LONG, "s1"),
    ]:
        await storage.touch(namespace, key, 5)
    await storage.delete(SESSION_USERS, "ada/s1")  # an index entry a crash left unwritten
    assert await sessions.touch("s1") is True
    for namespace, key in [
        (SESSION_META, "s1"),
        (SESSION_USERS, "ada/s1"),
        (MEMORY_SHORT, "s1"),
        (MEMORY_LONG, "s1"),
    ]:
        remaining = await storage.ttl(namespace, key)
        assert remaining is not None
        assert 30 < remaining <= 60, (namespace, remaining)
    assert await sessions.touch("absent") is False


async def test_user_ids_cannot_reach_each_others_sessions(storage: StorageDriver) -> None:
    sessions = Sessions(storage)
    users = ["a", "a/b", "a%2Fb", "a/", "%", "%25", "a:b", "ü", "a b"]
    for user in users:
        await sessions.create(user, session_id=f"of-{user}")
    for user in users:
        assert [s.id for s in await sessions.list(user)] == [f"of-{user}"]
    with pytest.raises(ValueError, match="user_id"):
        await sessions.list("")
    with pytest.raises(InvalidKeyError):
        await sessions.create("ada", session_id="")


async def test_list_is_consistent_under_concurrent_create_and_delete(
    storage: StorageDriver,
) -> None:
    """Stable sessions are always listed, churned ones never twice, other users' never."""
    sessions = Sessions(storage)
    stable = {(await sessions.create("ada", session_id=f"stable{i}")).id for i in range(5)}
    await sessions.create("bob", session_id="bobs")
    done = asyncio.Event()
    seen_wrong: list[Any] = []

    async def churn(worker: int) -> None:
        for i in range(15):
            created = await sessions.create("ada", session_id=f"churn{worker}-{i}")
            await sessions.delete(created.id)
        done.set()

    async def read() -> None:
        while not done.is_set():
            listed = [s.id for s in await sessions.list("ada")]
            if not stable <= set(listed) or len(listed) != len(set(listed)) or "bobs" in listed:
                seen_wrong.append(listed)

    await asyncio.gather(churn(0), churn(1), read(), read())
    assert seen_wrong == []
    assert {s.id for s in await sessions.list("ada")} == stable


async def test_list_reads_only_the_users_index_range() -> None:
    """list(user) asks the store for that user's index range and sessions only, whatever
    the number of other users' sessions (the cost bound; timing: benchmarks/agent_memory.py)."""
    calls: list[tuple[str, str, int]] = []

    class Recording(InMemoryStorage):
        async def list(self, namespace: str, prefix: str | None = None, **bounds: Any) -> Any:
            entries = await super().list(namespace, prefix, **bounds)
            calls.append(("list", namespace, len(entries)))
            return entries

        async def get_many(self, namespace: str, keys: Any, default: Any = None) -> Any:
            keys = list(keys)
            calls.append(("get_many", namespace, len(keys)))
            return await super().get_many(namespace, keys, default)

    async with Recording() as storage:
        sessions = Sessions(storage)
        for i in range(3):
            await sessions.create("ada", session_id=f"ada{i}")
        for i in range(2000):
            await sessions.create(f"user{i}", session_id=f"other{i}")
        calls.clear()
        assert len(await sessions.list("ada")) == 3
    assert calls == [("list", SESSION_USERS, 3), ("get_many", SESSION_META, 3)]


async def test_bad_session_arguments_raise_before_io() -> None:
    async with InMemoryStorage() as storage:
        sessions = Sessions(storage)
        with pytest.raises(ValueError, match="user_id"):
            await sessions.create(user_id=42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="metadata"):
            await sessions.create(metadata=["not", "a", "dict"])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="ttl"):
            Sessions(storage, ttl=-1)
        assert await storage.namespaces() == []


# -- chat history ------------------------------------------------------------------------------


async def test_history_window_total_and_clear(storage: StorageDriver) -> None:
    history = ChatHistory(storage, "s1", max_messages=3)
    assert await history.add({"n": 1}, {"n": 2}) == 2
    assert await history.add({"n": 3}, {"n": 4}) == 4
    assert await history.add() == 4
    assert await history.messages() == [{"n": 2}, {"n": 3}, {"n": 4}]
    assert await history.messages(last=2) == [{"n": 3}, {"n": 4}]
    assert await history.total() == 4
    assert await storage.get(MEMORY_SHORT, "s1") == 4  # the counter
    assert await storage.list(MEMORY_SHORT, "s1/") == [
        (f"s1/1{n:019d}", {"n": n}) for n in (2, 3, 4)
    ]
    assert await history.pop() == {"n": 4}
    assert await history.messages() == [{"n": 2}, {"n": 3}]
    assert await history.total() == 4  # ever added
    assert await history.clear() is True
    assert await history.messages() == []
    assert await history.total() == 0


class Turn(BaseModel):
    role: str
    text: str


async def test_history_of_typed_messages(storage: StorageDriver) -> None:
    history = ChatHistory(storage, "s1", message_type=Turn)
    await history.add(Turn(role="user", text="hi"), Turn(role="assistant", text="hello"))
    assert await history.messages(last=1) == [Turn(role="assistant", text="hello")]
    with pytest.raises(SerializationError):
        await history.add({"role": "user"})  # type: ignore[arg-type]
    assert await history.total() == 2


async def test_history_refuses_what_is_not_a_history(storage: StorageDriver) -> None:
    history = ChatHistory(storage, "s1")
    with pytest.raises(TypeError, match="dicts"):
        await history.add("just text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_messages"):
        ChatHistory(storage, "s1", max_messages=0)
    with pytest.raises(ValueError, match="last"):
        await history.messages(last=0)
    await storage.set(MEMORY_SHORT, "s1", ["an", "old", "layout"])
    with pytest.raises(SerializationError, match="not a chat history"):
        await history.add({"text": "hi"})
    assert await history.messages() == []
    assert await storage.get(MEMORY_SHORT, "s1") == ["an", "old", "layout"]
    assert await storage.list(MEMORY_SHORT, "s1/") == []


async def check_chat(added: list[list[Any]], storage: StorageDriver, window: int) -> None:
    """Every add got a distinct total 1..N; the window holds the newest by that order, and
    nothing older is left behind."""
    totals = sorted(total for _, total in added)
    assert totals == list(range(1, len(added) + 1)), "a total was repeated or skipped"
    by_total = [text for text, _ in sorted(added, key=lambda pair: pair[1])]
    history = ChatHistory(storage, "shared", max_messages=window)
    assert await history.total() == len(added)
    assert [m["text"] for m in await history.messages()] == by_total[-window:]
    stored = await storage.list(MEMORY_SHORT, "shared/")
    assert len(stored) <= window + len(added) // 64 + 8, "trimming left the old messages"


@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_concurrent_adds_from_tasks_and_instances_lose_nothing(
    driver_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    factory = driver_factory(driver_name, tmp_path, request)
    async with factory() as one, factory() as other:
        two = one if driver_name == "memory" else other  # memory instances share nothing
        window = 7
        added: list[list[Any]] = []

        async def chat(storage: StorageDriver, task: int) -> None:
            history = ChatHistory(storage, "shared", max_messages=window)
            for i in range(8):
                text = f"{task}-{i}"
                added.append([text, await history.add({"text": text})])

        await asyncio.gather(*(chat(one if task % 2 else two, task) for task in range(8)))
        await check_chat(added, one, window)


@pytest.mark.slow
@pytest.mark.parametrize("driver", URL_DRIVERS)
def test_concurrent_adds_from_processes_lose_nothing(
    driver: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url, options = shared_url(driver, tmp_path, request)
    window = 10
    results = spawn_workers(
        "chat", url, 3, tasks=4, count=10, window=window, options=json.dumps(options)
    )
    added = [pair for result in results for pair in result["added"]]
    assert len(added) == 3 * 4 * 10

    async def check() -> None:
        from radaros.storage import open_storage

        async with open_storage(url, **options) as storage:
            await check_chat(added, storage, window)

    asyncio.run(check())


# -- summaries and scopes ----------------------------------------------------------------------


async def test_summaries(storage: StorageDriver) -> None:
    summaries = Summaries(storage)
    assert await summaries.get("s1") is None
    await summaries.set("s1", "The user likes tea.")
    assert await summaries.get("s1") == "The user likes tea."
    combined = await summaries.update("s1", lambda text: f"{text} And biscuits.")
    assert combined == "The user likes tea. And biscuits."
    await summaries.set("user:42", {"facts": ["likes tea"]})
    assert await storage.get(MEMORY_LONG, "user:42") == {"facts": ["likes tea"]}


async def test_sessions_inside_a_scope_stay_there(storage: StorageDriver) -> None:
    acme, globex = Scoped(storage, "tenant:acme:"), Scoped(storage, "tenant:globex:")
    await Sessions(acme).create("ada", session_id="s1")
    await ChatHistory(acme, "s1").add({"text": "for acme"})
    assert await Sessions(globex).list("ada") == []
    assert await ChatHistory(globex, "s1").messages() == []
    assert await globex.namespaces() == []
    assert await acme.namespaces() == sorted([MEMORY_SHORT, SESSION_META, SESSION_USERS])


# -- 0.3: one entry per message, races, conversion ------------------------------------------


@pytest.mark.parametrize("session_id", ["s1", "tenant/s%1"])
async def test_a_0_2_history_is_read_and_converted_on_its_next_add(
    storage: StorageDriver, session_id: str
) -> None:
    """A history 0.2 stored as one entry (at the session id as it is) is read as it is, and
    the next add converts it: order and total kept, the old messages before the new ones."""
    old = {"total": 5, "messages": [{"n": 3}, {"n": 4}, {"n": 5}]}
    await storage.set(MEMORY_SHORT, session_id, old)
    history = ChatHistory(storage, session_id)
    assert await history.messages() == old["messages"]
    assert await history.messages(last=1) == [{"n": 5}]
    assert await history.total() == 5
    assert await history.add({"n": 6}) == 6
    assert await ChatHistory(storage, session_id).messages() == [{"n": n} for n in (3, 4, 5, 6)]
    assert await ChatHistory(storage, session_id).total() == 6
    encoded = session_id.replace("%", "%25").replace("/", "%2F")
    assert await storage.get(MEMORY_SHORT, encoded) == 6
    assert len(await storage.list(MEMORY_SHORT, f"{encoded}/")) == 4
    if encoded != session_id:
        assert await storage.get(MEMORY_SHORT, session_id) is None  # the old entry went


async def test_typed_history_through_sessions(storage: StorageDriver) -> None:
    """Sessions.history(message_type=...) validates and types the messages."""
    sessions = Sessions(storage)
    await sessions.create("ada", session_id="s1")
    history = sessions.history("s1", message_type=Turn)
    await history.add(Turn(role="user", text="hi"))
    assert await history.messages() == [Turn(role="user", text="hi")]
    assert await history.pop() == Turn(role="user", text="hi")
    assert await history.pop() is None


class Counting(InMemoryStorage):
    """Counts the calls each operation makes on the store (the cost the history pays)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.entries_read = 0

    async def list(self, namespace: str, prefix: str | None = None, **bounds: Any) -> Any:
        self.calls += 1
        found = await super().list(namespace, prefix, **bounds)
        self.entries_read += len(found)
        return found

    async def get(self, namespace: str, key: str, default: Any = None) -> Any:
        self.calls += 1
        return await super().get(namespace, key, default)


async def measure(
    storage: Counting, history: ChatHistory[dict[str, Any]], sessions: Sessions
) -> list[tuple[int, int]]:
    """(calls, entries read) of add, messages(last=20), pop and touch, in that order."""
    cost = []
    for step in (
        lambda: history.add({"n": -1}),
        lambda: history.messages(last=20),
        history.pop,
        lambda: sessions.touch("s1"),
    ):
        storage.calls = storage.entries_read = 0
        await step()
        cost.append((storage.calls, storage.entries_read))
    return cost


async def test_add_messages_pop_and_touch_cost_the_same_at_any_length() -> None:
    """At 20 and at 2,000 messages, add, messages(last=20), pop and Sessions.touch make the
    same calls and read the same entries (counted, not timed; benchmarks time them)."""
    costs = []
    for length in (20, 2000):
        async with Counting() as storage:
            sessions = Sessions(storage, ttl=3600)
            await sessions.create("ada", session_id="s1")
            history = sessions.history("s1")
            for start in range(0, length, 100):
                await history.add(*({"n": n} for n in range(start, min(length, start + 100))))
            cost = await measure(storage, history, sessions)
            costs.append(cost)
    assert costs[0] == costs[1]


@pytest.mark.slow
async def test_hostile_session_and_user_ids_are_data(storage: StorageDriver) -> None:
    """Ids that are syntax somewhere (SQL, LIKE, regex, paths, `/`, `%`) or prefixes of
    each other: each session keeps its own messages, its user lists only it, and
    deleting one leaves every other whole."""
    from tests.reliability.test_isolation import hostile_corpus

    ids = sorted({text for text in hostile_corpus() if 0 < len(text.encode()) <= 40})[:60]
    sessions = Sessions(storage)
    for session_id in ids:
        await sessions.create(session_id, session_id=session_id)
        await sessions.history(session_id).add({"id": session_id})
    for session_id in ids:
        assert await sessions.history(session_id).messages() == [{"id": session_id}]
        assert [s.id for s in await sessions.list(session_id)] == [session_id]
    for session_id in ids[::2]:
        assert await sessions.delete(session_id) is True
    for index, session_id in enumerate(ids):
        expected = [] if index % 2 == 0 else [{"id": session_id}]
        assert await sessions.history(session_id).messages() == expected
