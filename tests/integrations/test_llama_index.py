"""LlamaIndex on radaros: every documented method of the chat store and the key-value store
on every driver, checked against LlamaIndex's own in-memory stores, and ChatMemoryBuffer,
a chat engine and the document and index stores end to end."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from tests.integrations.conftest import require

require("llama_index.core")

from llama_index.core import (  # noqa: E402
    Document,
    MockEmbedding,
    StorageContext,
    VectorStoreIndex,
    load_index_from_storage,
)
from llama_index.core.base.llms.types import ImageBlock, TextBlock  # noqa: E402
from llama_index.core.chat_engine import SimpleChatEngine  # noqa: E402
from llama_index.core.llms import ChatMessage, MessageRole, MockLLM  # noqa: E402
from llama_index.core.memory import BaseMemoryBlock, ChatMemoryBuffer, Memory  # noqa: E402
from llama_index.core.storage.chat_store import SimpleChatStore  # noqa: E402
from llama_index.core.storage.chat_store.base_db import MessageStatus  # noqa: E402
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore  # noqa: E402
from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore  # noqa: E402
from llama_index.core.storage.index_store.keyval_index_store import KVIndexStore  # noqa: E402
from llama_index.core.storage.kvstore import SimpleKVStore  # noqa: E402
from llama_index.core.vector_stores import SimpleVectorStore  # noqa: E402

from radaros import ChatHistory, Scoped, Sessions  # noqa: E402
from radaros.integrations import llama_index  # noqa: E402
from radaros.integrations.llama_index import (  # noqa: E402
    RadarosChatStore,
    RadarosKVStore,
    RadarosMemoryStore,
)
from radaros.storage import InvalidKeyError, SerializationError, StorageDriver  # noqa: E402
from radaros.sync import SyncStorage  # noqa: E402


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def texts(messages: list[ChatMessage]) -> list[str | None]:
    return [message.content for message in messages]


def words(text: str) -> list[str]:
    """A tokenizer that needs no download."""
    return text.split()


# -- the chat store ----------------------------------------------------------------------------


async def test_chat_store_methods(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage)
    assert await store.aget_messages("u1") == []
    await store.aset_messages("u1", [user("a"), user("b")])
    await store.async_add_message("u1", user("c"))
    await store.async_add_message("u2", user("x"))
    assert texts(await store.aget_messages("u1")) == ["a", "b", "c"]
    assert await store.aget_keys() == ["u1", "u2"]
    await store.aset_messages("u1", [user("new")])
    assert texts(await store.aget_messages("u1")) == ["new"]
    assert await store.adelete_last_message("u1") == user("new")
    assert await store.adelete_last_message("u1") is None
    assert texts(await store.adelete_messages("u2") or []) == ["x"]
    assert await store.adelete_messages("u2") is None
    assert await store.aget_messages("u2") == []


def test_chat_store_blocking_methods(sync_storage: SyncStorage) -> None:
    store = RadarosChatStore(sync_storage)
    store.set_messages("u1", [user("a"), user("b"), user("c")])
    store.add_message("u1", user("d"))
    store.add_message("u1", user("start"), idx=0)
    assert texts(store.get_messages("u1")) == ["start", "a", "b", "c", "d"]
    assert store.delete_message("u1", 2) == user("b")
    assert store.delete_last_message("u1") == user("d")
    assert store.get_keys() == ["u1"]
    assert texts(store.delete_messages("u1") or []) == ["start", "a", "c"]
    assert store.get_messages("u1") == []
    assert asyncio.run(store.aget_messages("u1")) == []


async def test_delete_message_keeps_order(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage)
    await store.aset_messages("k", [user(str(n)) for n in range(6)])
    assert await store.adelete_message("k", 1) == user("1")
    assert await store.adelete_message("k", -1) == user("5")
    assert await store.adelete_message("k", -4) == user("0")
    assert await store.adelete_message("k", 3) is None
    assert await store.adelete_message("k", -4) is None
    assert await store.adelete_message("missing", 0) is None
    assert texts(await store.aget_messages("k")) == ["2", "3", "4"]


async def test_messages_come_back_exactly(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage)
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief ✓"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[TextBlock(text="look"), ImageBlock(image=b"\x89PNG\r\n\x1a\n" + bytes(64))],
            additional_kwargs={"tool_calls": [{"id": "1", "name": "f", "args": {"x": 1.5}}]},
        ),
        ChatMessage(role=MessageRole.TOOL, content="", additional_kwargs={"tool_call_id": "1"}),
    ]
    await store.aset_messages("exact", messages)
    assert await store.aget_messages("exact") == messages


async def test_behaves_like_simple_chat_store(storage: StorageDriver) -> None:
    """A random sequence of every write, the same on LlamaIndex's own in-memory store:
    after each step both hold the same messages and give the same answers."""
    ours, theirs = RadarosChatStore(storage), SimpleChatStore()
    rng = random.Random(7)
    for step in range(80):
        key = rng.choice(["a", "b"])
        action = rng.choice(["add", "add", "insert", "insert", "delete", "last", "set", "drop"])
        if action == "add":
            await ours.async_add_message(key, user(f"m{step}"))
            theirs.add_message(key, user(f"m{step}"))
        elif action == "insert":
            length = len(theirs.get_messages(key))
            idx = rng.randint(-length - 2, length + 2)
            await ours.async_add_message(key, user(f"i{step}"), idx=idx)
            theirs.add_message(key, user(f"i{step}"), idx=idx)
        elif action == "delete":
            length = len(theirs.get_messages(key))
            idx = rng.randint(0, length + 1)
            assert await ours.adelete_message(key, idx) == theirs.delete_message(key, idx)
        elif action == "last" and theirs.get_messages(key):
            assert await ours.adelete_last_message(key) == theirs.delete_last_message(key)
        elif action == "set":
            replacement = [user(f"s{step}-{n}") for n in range(rng.randint(0, 3))]
            await ours.aset_messages(key, replacement)
            theirs.set_messages(key, replacement)
        elif action == "drop" and rng.random() < 0.3:
            assert (await ours.adelete_messages(key) or []) == (theirs.delete_messages(key) or [])
        for each in ("a", "b"):
            assert texts(await ours.aget_messages(each)) == texts(theirs.get_messages(each))


async def test_repeated_inserts_at_one_place_keep_their_order(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage)
    await store.aset_messages("k", [user("first"), user("last")])
    model = ["first", "last"]
    for n in range(40):
        await store.async_add_message("k", user(f"n{n}"), idx=1)
        model.insert(1, f"n{n}")
        await store.async_add_message("k", user(f"z{n}"), idx=0)
        model.insert(0, f"z{n}")
    assert texts(await store.aget_messages("k")) == model


async def test_concurrent_inserts_and_adds_lose_nothing(storage: StorageDriver) -> None:
    stores = [RadarosChatStore(storage) for _ in range(4)]
    await stores[0].aset_messages("busy", [user("a"), user("b")])
    await asyncio.gather(
        *(
            store.async_add_message("busy", user(f"{kind}{w}-{n}"), idx=1 if kind == "i" else None)
            for w, store in enumerate(stores)
            for n in range(4)
            for kind in ("i", "x")
        )
    )
    kept = texts(await stores[0].aget_messages("busy"))
    assert sorted(kept, key=str) == sorted(
        ["a", "b", *(f"{kind}{w}-{n}" for w in range(4) for n in range(4) for kind in "ix")]
    )
    assert kept[0] == "a"
    inserted = [text for text in kept if str(text).startswith("i")]
    assert kept.index("b") == 1 + len(inserted)  # every insert landed between a and b


async def test_concurrent_deletes_take_each_message_once(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage)
    await store.aset_messages("k", [user(str(n)) for n in range(12)])
    taken = await asyncio.gather(*(store.adelete_message("k", 0) for _ in range(12)))
    assert sorted(texts([m for m in taken if m is not None]), key=lambda t: int(str(t))) == [
        str(n) for n in range(12)
    ]
    assert await store.aget_messages("k") == []


async def test_get_keys_lists_every_conversation_and_nothing_else(
    storage: StorageDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llama_index, "KEYS_PAGE", 3)  # pages end everywhere, also mid-run
    store = RadarosChatStore(storage)
    keys = ["a", "a/b", "a-b", "a%2Fb", "b", "ü", *(f"many{n}" for n in range(8))]
    for key in keys:
        await store.async_add_message(key, user(key))
        await store.async_add_message(key, user(key))
    for n in range(7):  # emptied histories are still keys, and sit side by side
        await store.aset_messages(f"emptied{n}", [user("x")])
        await store.adelete_last_message(f"emptied{n}")
    await Sessions(storage).create("deleted-session")
    await Sessions(storage).history("deleted-session").add({"role": "user"})
    await Sessions(storage).delete("deleted-session")
    await storage.set("memory:summary", "not-a-chat", "text")
    assert await store.aget_keys() == sorted([*keys, *(f"emptied{n}" for n in range(7))])
    for key in keys:
        assert texts(await store.aget_messages(key)) == [key, key]


async def test_is_the_radaros_conversation(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage)
    await store.async_add_message("shared", user("from llama"))
    history = ChatHistory(storage, "shared")
    assert await history.messages() == [user("from llama").model_dump(mode="json")]
    await history.add(ChatMessage(role="assistant", content="from radaros").model_dump(mode="json"))
    assert texts(await store.aget_messages("shared")) == ["from llama", "from radaros"]
    scoped = RadarosChatStore(Scoped(storage, "llama"))
    assert await scoped.aget_keys() == []


async def test_chat_store_ttl_applies_to_each_message(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage, ttl=600)
    await store.async_add_message("k", user("a"))
    await store.async_add_message("k", user("b"), idx=0)
    entries = await storage.list("memory:short", prefix="k/")
    assert len(entries) == 2
    for entry in entries:
        remaining = await storage.ttl("memory:short", entry.key)
        assert remaining is not None
        assert 0 < remaining <= 600


async def test_chat_store_bad_input_writes_nothing(storage: StorageDriver) -> None:
    store = RadarosChatStore(storage)
    await store.aset_messages("k", [user("kept")])
    with pytest.raises(TypeError, match="ChatMessage"):
        await store.aset_messages("k", [user("x"), "text"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="ChatMessage"):
        await store.async_add_message("k", {"role": "user"})  # type: ignore[arg-type]
    with pytest.raises(SerializationError):
        await store.async_add_message("k", ChatMessage(role="user", additional_kwargs={"n": 2**70}))
    with pytest.raises(SerializationError):  # checked before the clear: "kept" stays
        await store.aset_messages(
            "k", [user("x"), ChatMessage(role="user", additional_kwargs={"n": 2**70})]
        )
    with pytest.raises(TypeError, match="idx"):
        await store.async_add_message("k", user("x"), idx="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="idx"):
        await store.adelete_message("k", 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        await store.async_add_message("nul\x00", user("x"))
    with pytest.raises(ValueError, match="ttl"):
        RadarosChatStore(storage, ttl=0)
    assert texts(await store.aget_messages("k")) == ["kept"]
    await storage.set("memory:short", "k/1zzz", ["not", "a message"])
    with pytest.raises(SerializationError, match="ChatMessage"):
        await store.aget_messages("k")


def test_chat_memory_buffer_end_to_end(sync_storage: SyncStorage) -> None:
    store = RadarosChatStore(sync_storage)
    memory = ChatMemoryBuffer.from_defaults(
        chat_store=store, chat_store_key="user-1", token_limit=14, tokenizer_fn=words
    )
    for n in range(6):
        memory.put(user(f"question {n} has five words"))
        memory.put(ChatMessage(role="assistant", content=f"answer {n}"))
    # Everything is kept; what the LLM is given is the newest that fits the token limit.
    assert len(store.get_messages("user-1")) == 12
    assert texts(memory.get()) == [
        "question 4 has five words",
        "answer 4",
        "question 5 has five words",
        "answer 5",
    ]
    again = ChatMemoryBuffer.from_defaults(
        chat_store=RadarosChatStore(sync_storage), chat_store_key="user-1", tokenizer_fn=words
    )
    assert len(again.get_all()) == 12
    assert asyncio.run(again.aget_all()) == again.get_all()
    again.reset()
    assert store.get_messages("user-1") == []


async def test_chat_engine_keeps_its_conversation(storage: StorageDriver) -> None:
    def engine() -> SimpleChatEngine:
        memory = ChatMemoryBuffer.from_defaults(
            chat_store=RadarosChatStore(storage), chat_store_key="chat-1", tokenizer_fn=words
        )
        return SimpleChatEngine.from_defaults(llm=MockLLM(max_tokens=4), memory=memory)

    await engine().achat("Hello there")
    await engine().achat("And again")
    kept = await RadarosChatStore(storage).aget_messages("chat-1")
    assert [m.role for m in kept] == ["user", "assistant"] * 2
    assert [kept[0].content, kept[2].content] == ["Hello there", "And again"]


# -- the store of Memory ----------------------------------------------------------------------

ACTIVE, ARCHIVED = MessageStatus.ACTIVE, MessageStatus.ARCHIVED


async def test_memory_store_behaves_like_the_sql_store(storage: StorageDriver) -> None:
    """A random sequence of every operation, the same on LlamaIndex's own SQLAlchemy store
    (SQLite in memory): after each step both give the same answers. Messages are added as
    Memory adds them, active (archived ones added directly sort by time there, before the
    active ones here), in non-empty batches (the SQL store fails on an empty one);
    `delete_message` is apart: the SQL store takes a row id, radaros a position."""
    ours = RadarosMemoryStore(storage)
    theirs = SQLAlchemyChatStore(
        table_name="memory", async_database_uri="sqlite+aiosqlite:///:memory:"
    )
    rng = random.Random(11)
    for step in range(40):
        key = rng.choice(["a", "b"])
        action = rng.choice(["add", "adds", "archive", "oldest", "set", "drop"])
        status = ACTIVE
        if action == "add":
            for store in (ours, theirs):
                await store.add_message(key, user(f"m{step}"), status=status)
        elif action == "adds":
            batch = [user(f"m{step}-{n}") for n in range(rng.randint(1, 3))]
            for store in (ours, theirs):
                await store.add_messages(key, batch, status=status)
        elif action in ("archive", "oldest"):
            n = rng.randint(0, 3)
            method = "archive_oldest_messages" if action == "archive" else "delete_oldest_messages"
            assert texts(await getattr(ours, method)(key, n)) == texts(
                await getattr(theirs, method)(key, n)
            )
        elif action == "set":
            replacement = [user(f"s{step}-{n}") for n in range(rng.randint(0, 2))]
            for store in (ours, theirs):
                await store.set_messages(key, replacement, status=ACTIVE)
        elif action == "drop" and rng.random() < 0.3:
            drop = rng.choice([None, ACTIVE, ARCHIVED])
            for store in (ours, theirs):
                await store.delete_messages(key, status=drop)
        for each in ("a", "b"):
            for shown in (ACTIVE, ARCHIVED):
                assert texts(await ours.get_messages(each, status=shown)) == texts(
                    await theirs.get_messages(each, status=shown)
                )
                assert await ours.count_messages(each, shown) == await theirs.count_messages(
                    each, shown
                )
            # The SQL store orders both statuses by time: archived messages are the older.
            assert texts(await ours.get_messages(each, status=None)) == texts(
                await theirs.get_messages(each, status=None)
            )
    assert await ours.get_keys() == sorted(await theirs.get_keys())
    if theirs._async_engine is not None:  # its engine's connection (aiosqlite's thread)
        await theirs._async_engine.dispose()


async def test_memory_store_limit_offset_and_delete_message(storage: StorageDriver) -> None:
    store = RadarosMemoryStore(storage)
    await store.add_messages("k", [user(str(n)) for n in range(6)])
    assert texts(await store.archive_oldest_messages("k", 2)) == ["0", "1"]
    assert texts(await store.get_messages("k", limit=2, offset=1)) == ["3", "4"]
    assert texts(await store.get_messages("k", status=None, offset=1, limit=3)) == ["1", "2", "3"]
    assert await store.count_messages("k", None) == 6
    assert await store.delete_message("k", -1) == user("5")
    assert await store.delete_message("k", 9) is None
    assert texts(await store.get_messages("k")) == ["2", "3", "4"]
    with pytest.raises(ValueError, match="limit"):
        await store.get_messages("k", limit=-1)
    with pytest.raises(ValueError, match="n must be"):
        await store.archive_oldest_messages("k", -1)
    with pytest.raises(TypeError, match="ChatMessage"):
        await store.add_messages("k", [user("x"), "y"])  # type: ignore[list-item]
    with pytest.raises(SerializationError):  # checked before the clear
        await store.set_messages("k", [ChatMessage(role="user", additional_kwargs={"n": 2**70})])
    assert await store.count_messages("k") == 3


async def test_concurrent_archivers_archive_each_message_once(storage: StorageDriver) -> None:
    store = RadarosMemoryStore(storage)
    await store.add_messages("k", [user(str(n)) for n in range(20)])
    batches = await asyncio.gather(*(store.archive_oldest_messages("k", 3) for _ in range(8)))
    archived = [text for batch in batches for text in texts(batch)]
    assert sorted(archived, key=lambda t: int(str(t))) == [str(n) for n in range(20)]
    assert await store.count_messages("k", ARCHIVED) == 20
    assert await store.count_messages("k", ACTIVE) == 0


class Recorder(BaseMemoryBlock[str]):
    """A memory block that keeps what Memory flushes to it."""

    received: list[str] = []  # noqa: RUF012 (a pydantic field, copied per instance)

    async def _aget(self, messages: list[ChatMessage] | None = None, **kwargs: Any) -> str:
        return f"{len(self.received)} messages flushed"

    async def _aput(self, messages: list[ChatMessage]) -> None:
        self.received += [str(message.content) for message in messages]


async def test_memory_end_to_end(storage: StorageDriver) -> None:
    recorder = Recorder(name="recorder")

    def memory() -> Memory:
        return Memory.from_defaults(
            session_id="user-1",
            chat_store=RadarosMemoryStore(storage),
            token_limit=40,
            chat_history_token_ratio=0.5,
            token_flush_size=10,
            tokenizer_fn=words,
            memory_blocks=[recorder],
        )

    first = memory()
    for n in range(8):
        await first.aput(user(f"question {n} is five words"))
        await first.aput(ChatMessage(role="assistant", content=f"answer {n}"))
    shown = await first.aget()
    # The newest turns stay in the queue; the oldest were archived and flushed to the block.
    assert texts(shown)[-2:] == ["question 7 is five words", "answer 7"]
    assert recorder.received
    assert recorder.received[0] == "question 0 is five words"
    store = RadarosMemoryStore(storage)
    archived = texts(await store.get_messages("user-1", status=ARCHIVED))
    active = texts(await store.get_messages("user-1"))
    assert archived == recorder.received
    assert archived + active == [
        text for n in range(8) for text in (f"question {n} is five words", f"answer {n}")
    ]
    assert texts(await memory().aget_all()) == archived + active
    await memory().areset()
    assert await store.count_messages("user-1", status=None) == 0


def test_memory_blocking_methods_on_a_sync_storage(sync_storage: SyncStorage) -> None:
    memory = Memory.from_defaults(
        session_id="s", chat_store=RadarosMemoryStore(sync_storage), tokenizer_fn=words
    )
    memory.put(user("hello"))
    memory.put_messages([ChatMessage(role="assistant", content="hi"), user("bye")])
    assert texts(memory.get_all()) == ["hello", "hi", "bye"]
    memory.set([user("only")])
    assert texts(memory.get()) == ["only"]
    assert RadarosMemoryStore(sync_storage).__repr__().startswith("RadarosMemoryStore(")


# -- the key-value store -----------------------------------------------------------------------


async def test_kv_store_methods(storage: StorageDriver) -> None:
    store = RadarosKVStore(storage)
    assert await store.aget("k") is None
    await store.aput("k", {"v": 1})
    await store.aput("k", {"v": 2}, collection="other")
    await store.aput_all([("a", {"n": 1}), ("b", {"n": [1.5, None]})], batch_size=1)
    assert await store.aget("k") == {"v": 1}
    assert await store.aget("k", collection="other") == {"v": 2}
    assert await store.aget_all() == {"a": {"n": 1}, "b": {"n": [1.5, None]}, "k": {"v": 1}}
    assert await store.aget_all("none yet") == {}
    assert await store.adelete("k") is True
    assert await store.adelete("k") is False
    assert await store.aget("k") is None
    assert await store.aget("k", collection="other") == {"v": 2}
    assert await storage.get("llama_index:other", "k") == {"v": 2}


def test_kv_store_blocking_methods_match_simple_kv_store(sync_storage: SyncStorage) -> None:
    ours, theirs = RadarosKVStore(sync_storage), SimpleKVStore()
    docs = [(f"d{n}", {"n": n}) for n in range(25)]
    ours.put_all(docs, "docs", batch_size=10)
    theirs.put_all(docs, "docs")  # LlamaIndex's own store takes no batch size but 1
    for store in (ours, theirs):
        store.put("k", {"v": 1})
        store.delete("d3", "docs")
    assert ours.get("k") == theirs.get("k") == {"v": 1}
    assert ours.get_all("docs") == theirs.get_all("docs")
    assert ours.delete("d3", "docs") is theirs.delete("d3", "docs") is False
    assert ours.get("d4", "docs") == {"n": 4}


async def test_get_all_reads_a_large_collection(storage: StorageDriver) -> None:
    store = RadarosKVStore(storage)
    await store.aput_all([(f"n{n:05d}", {"n": n}) for n in range(600)], batch_size=300)
    every = await store.aget_all()
    assert len(every) == 600  # more than a page of the scan
    assert every["n00599"] == {"n": 599}


async def test_kv_store_bad_input_writes_nothing(storage: StorageDriver) -> None:
    store = RadarosKVStore(storage)
    with pytest.raises(TypeError, match="dict"):
        await store.aput_all([("a", {"ok": 1}), ("b", [1])], batch_size=1)  # type: ignore[list-item]
    with pytest.raises(SerializationError):
        await store.aput_all([("a", {"ok": 1}), ("b", {"bad": {1}})], batch_size=1)
    with pytest.raises(InvalidKeyError):
        await store.aput_all([("a", {"ok": 1}), ("", {"ok": 2})], batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        await store.aput_all([("a", {"ok": 1})], batch_size=0)
    with pytest.raises(TypeError, match="collection"):
        await store.aget("a", collection=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        await store.aget("a", collection="x" * 300)
    assert await store.aget_all() == {}
    await storage.set("llama_index:data", "foreign", "text")
    with pytest.raises(SerializationError, match="not a dict"):
        await store.aget("foreign")


async def test_document_and_index_stores_on_radaros(storage: StorageDriver) -> None:
    """LlamaIndex's own document and index stores over RadarosKVStore: an index built,
    then loaded again from what radaros kept."""
    kv = RadarosKVStore(storage)
    vectors = SimpleVectorStore()
    context = StorageContext.from_defaults(
        docstore=KVDocumentStore(kv, batch_size=50),
        index_store=KVIndexStore(kv),
        vector_store=vectors,
    )
    documents = [Document(text=f"Fact {n}: radaros stores it.", id_=f"doc-{n}") for n in range(5)]
    index = await asyncio.to_thread(
        VectorStoreIndex.from_documents,
        documents,
        storage_context=context,
        embed_model=MockEmbedding(embed_dim=8),
    )
    fresh = StorageContext.from_defaults(
        docstore=KVDocumentStore(RadarosKVStore(storage)),
        index_store=KVIndexStore(RadarosKVStore(storage)),
        vector_store=vectors,
    )
    loaded = await asyncio.to_thread(
        load_index_from_storage, fresh, embed_model=MockEmbedding(embed_dim=8)
    )
    assert loaded.index_id == index.index_id
    docstore = fresh.docstore
    assert isinstance(docstore, KVDocumentStore)
    assert sorted((await docstore.aget_all_ref_doc_info() or {}).keys()) == [
        f"doc-{n}" for n in range(5)
    ]
    node_id = next(iter(index.index_struct.nodes_dict.values()))
    node = await docstore.aget_node(node_id)
    assert node.get_content().startswith("Fact")
    await docstore.adelete_ref_doc("doc-0")
    assert not await docstore.aref_doc_exists("doc-0")
    assert await KVDocumentStore(kv).aref_doc_exists("doc-1")


def test_document_store_blocking(sync_storage: SyncStorage) -> None:
    docstore = KVDocumentStore(RadarosKVStore(sync_storage))
    docstore.add_documents([Document(text="hello", id_="d1"), Document(text="world", id_="d2")])
    again = KVDocumentStore(RadarosKVStore(sync_storage))
    assert again.get_document("d1").text == "hello"  # type: ignore[union-attr]
    assert again.document_exists("d2")
    assert set(again.docs) == {"d1", "d2"}
    again.delete_document("d1")
    assert not docstore.document_exists("d1")


def test_kv_store_repr_and_options(sync_storage: SyncStorage) -> None:
    store = RadarosKVStore(sync_storage, namespace_prefix="app/", ttl=60)
    store.put("k", {"v": 1}, collection="c")
    assert sync_storage.get("app/c", "k") == {"v": 1}
    remaining = sync_storage.ttl("app/c", "k")
    assert remaining is not None
    assert 0 < remaining <= 60
    assert "namespace_prefix='app/'" in repr(store)
    with pytest.raises(InvalidKeyError):
        RadarosKVStore(sync_storage, namespace_prefix="bad\x00")
    assert isinstance(repr(RadarosChatStore(sync_storage)), str)
