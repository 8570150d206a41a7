"""LangChain on radaros: LangChain's own standard tests (langchain-tests, from PyPI) for the
stores and the cache on every driver, then what a LangChain app relies on beyond them."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from tests.integrations.conftest import require

require("langchain_core")
require("langchain_tests")

from langchain_core._api.deprecation import LangChainDeprecationWarning  # noqa: E402
from langchain_core.callbacks import CallbackManagerForLLMRun  # noqa: E402
from langchain_core.chat_history import BaseChatMessageHistory  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.language_models.fake_chat_models import FakeListChatModel  # noqa: E402
from langchain_core.messages import (  # noqa: E402
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import (  # noqa: E402
    ChatGeneration,
    ChatGenerationChunk,
    ChatResult,
    Generation,
    GenerationChunk,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder  # noqa: E402
from langchain_core.runnables.history import RunnableWithMessageHistory  # noqa: E402
from langchain_tests.integration_tests import (  # noqa: E402
    AsyncCacheTestSuite,
    BaseStoreAsyncTests,
    BaseStoreSyncTests,
    SyncCacheTestSuite,
)

from radaros import ChatHistory  # noqa: E402
from radaros.integrations.langchain import (  # noqa: E402
    RadarosByteStore,
    RadarosCache,
    RadarosChatMessageHistory,
    RadarosStore,
)
from radaros.storage import (  # noqa: E402
    InvalidKeyError,
    SerializationError,
    StorageDriver,
    StorageError,
)
from radaros.sync import SyncStorage  # noqa: E402

JSON_VALUES = ({"text": "foo", "n": 1}, [1, 2.5, None, True], "buzz")


# -- LangChain's standard tests ----------------------------------------------------------------


class TestByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def kv_store(self, sync_storage: SyncStorage) -> RadarosByteStore:
        return RadarosByteStore(sync_storage)

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar\x00\xff", b"buzz"


class TestByteStoreAsync(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    async def kv_store(self, storage: StorageDriver) -> RadarosByteStore:
        return RadarosByteStore(storage)

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar\x00\xff", b"buzz"


class TestStoreSync(BaseStoreSyncTests[Any]):
    @pytest.fixture
    def kv_store(self, sync_storage: SyncStorage) -> RadarosStore:
        return RadarosStore(sync_storage)

    @pytest.fixture
    def three_values(self) -> tuple[Any, Any, Any]:
        return JSON_VALUES


class TestStoreAsync(BaseStoreAsyncTests[Any]):
    @pytest.fixture
    async def kv_store(self, storage: StorageDriver) -> RadarosStore:
        return RadarosStore(storage)

    @pytest.fixture
    def three_values(self) -> tuple[Any, Any, Any]:
        return JSON_VALUES


class TestCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, sync_storage: SyncStorage) -> RadarosCache:
        return RadarosCache(sync_storage)


class TestCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, storage: StorageDriver) -> RadarosCache:
        return RadarosCache(storage)


# -- chat message history ----------------------------------------------------------------------

CONVERSATION: list[BaseMessage] = [
    SystemMessage("You are terse."),
    HumanMessage("What is 2 + 2?", id="h1", additional_kwargs={"lang": "en"}),
    AIMessage(
        "",
        id="a1",
        tool_calls=[{"name": "add", "args": {"a": 2, "b": 2}, "id": "call-1"}],
        usage_metadata={"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
    ),
    ToolMessage("4", tool_call_id="call-1"),
    AIMessage("4 ✓ — ok", id="a2", response_metadata={"model": "fake"}),
]


async def test_history_keeps_every_message_type_exactly(storage: StorageDriver) -> None:
    history = RadarosChatMessageHistory("s1", storage)
    assert isinstance(history, BaseChatMessageHistory)
    await history.aadd_messages(CONVERSATION[:2])
    await history.aadd_messages(CONVERSATION[2:])
    assert await history.aget_messages() == CONVERSATION
    assert await RadarosChatMessageHistory("s1", storage).aget_messages() == CONVERSATION
    assert await RadarosChatMessageHistory("s2", storage).aget_messages() == []
    await history.aclear()
    assert await history.aget_messages() == []


def test_history_blocking_methods_on_a_sync_storage(sync_storage: SyncStorage) -> None:
    history = RadarosChatMessageHistory("s1", sync_storage)
    history.add_user_message("hello")
    history.add_ai_message("hi")
    history.add_messages(CONVERSATION)
    assert history.messages == [HumanMessage("hello"), AIMessage("hi"), *CONVERSATION]
    assert asyncio.run(history.aget_messages()) == history.messages
    history.clear()
    assert history.messages == []


async def test_history_is_the_radaros_chat_history(storage: StorageDriver) -> None:
    history = RadarosChatMessageHistory("shared", storage)
    await history.aadd_messages([HumanMessage("hello")])
    stored = await ChatHistory(storage, "shared").messages()
    assert stored == [{"type": "human", "data": HumanMessage("hello").model_dump()}]
    await ChatHistory(storage, "shared").add(
        {"type": "ai", "data": AIMessage("from radaros").model_dump()}
    )
    assert await history.aget_messages() == [HumanMessage("hello"), AIMessage("from radaros")]


async def test_concurrent_writers_lose_no_message(storage: StorageDriver) -> None:
    writers = [RadarosChatMessageHistory("busy", storage) for _ in range(4)]
    await asyncio.gather(
        *(
            writer.aadd_messages([HumanMessage(f"{w}-{n}-a"), AIMessage(f"{w}-{n}-b")])
            for w, writer in enumerate(writers)
            for n in range(5)
        )
    )
    messages = await writers[0].aget_messages()
    assert sorted(str(m.content) for m in messages) == sorted(
        f"{w}-{n}-{part}" for w in range(4) for n in range(5) for part in "ab"
    )
    # Each add is one block of consecutive numbers: a question is followed by its answer.
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert str(answer.content) == str(question.content)[:-1] + "b"


async def test_max_messages_keeps_the_newest(storage: StorageDriver) -> None:
    history = RadarosChatMessageHistory("window", storage, max_messages=3)
    for n in range(5):
        await history.aadd_messages([HumanMessage(str(n))])
    assert [m.content for m in await history.aget_messages()] == ["2", "3", "4"]


async def test_ttl_is_set_on_every_message(storage: StorageDriver) -> None:
    history = RadarosChatMessageHistory("short", storage, ttl=600)
    await history.aadd_messages([HumanMessage("hello")])
    (entry,) = await storage.list("memory:short", prefix="short/")
    remaining = await storage.ttl("memory:short", entry.key)
    assert remaining is not None
    assert 0 < remaining <= 600


async def test_history_bad_input_writes_nothing(storage: StorageDriver) -> None:
    history = RadarosChatMessageHistory("bad", storage)
    with pytest.raises(TypeError, match="BaseMessage"):
        await history.aadd_messages([HumanMessage("ok"), "not a message"])  # type: ignore[list-item]
    with pytest.raises(SerializationError):
        await history.aadd_messages(
            [HumanMessage("ok"), HumanMessage("x", additional_kwargs={"raw": b"bytes"})]
        )
    assert await history.aget_messages() == []
    assert await ChatHistory(storage, "bad").total() == 0
    with pytest.raises(InvalidKeyError):
        RadarosChatMessageHistory("nul\x00id", storage)
    with pytest.raises(ValueError, match="max_messages"):
        RadarosChatMessageHistory("s", storage, max_messages=0)
    with pytest.raises(ValueError, match="ttl"):
        RadarosChatMessageHistory("s", storage, ttl=-1)
    with pytest.raises(TypeError, match="KeyValue or a SyncStorage"):
        RadarosChatMessageHistory("s", {})  # type: ignore[arg-type]


async def test_blocking_call_on_the_loop_of_an_async_storage_is_refused(
    storage: StorageDriver,
) -> None:
    history = RadarosChatMessageHistory("s", storage)
    with pytest.raises(StorageError, match="await the async method"):
        history.add_messages([HumanMessage("hello")])
    assert await history.aget_messages() == []


class EchoHistoryModel(BaseChatModel):
    """A chat model that answers with how many messages it was sent, and keeps them."""

    seen: list[list[BaseMessage]] = []  # noqa: RUF012 (a pydantic field, copied per instance)

    @property
    def _llm_type(self) -> str:
        return "echo-history"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.seen.append(list(messages))
        reply = AIMessage(f"I was sent {len(messages)} messages")
        return ChatResult(generations=[ChatGeneration(message=reply)])


def with_history(storage: StorageDriver | SyncStorage, model: BaseChatModel) -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    with warnings.catch_warnings():
        # langchain-core 1.8 deprecates it for LangGraph's persistence (see RadarosSaver);
        # apps still use it, and it is the standard way to drive a BaseChatMessageHistory.
        warnings.simplefilter("ignore", LangChainDeprecationWarning)
        return RunnableWithMessageHistory(
            prompt | model,
            lambda session_id: RadarosChatMessageHistory(session_id, storage),
            input_messages_key="question",
            history_messages_key="history",
        )


async def test_runnable_with_message_history_async(storage: StorageDriver) -> None:
    model = EchoHistoryModel()
    chain = with_history(storage, model)
    config: Any = {"configurable": {"session_id": "user-1"}}
    first = await chain.ainvoke({"question": "Hi"}, config=config)
    second = await chain.ainvoke({"question": "Again"}, config=config)
    other = await chain.ainvoke({"question": "Hi"}, config={"configurable": {"session_id": "u2"}})
    assert (first.content, second.content, other.content) == (
        "I was sent 2 messages",
        "I was sent 4 messages",
        "I was sent 2 messages",
    )
    assert [m.content for m in model.seen[1]] == [
        "Be brief.",
        "Hi",
        "I was sent 2 messages",
        "Again",
    ]
    kept = await RadarosChatMessageHistory("user-1", storage).aget_messages()
    assert [type(m).__name__ for m in kept] == ["HumanMessage", "AIMessage"] * 2


def test_runnable_with_message_history_blocking(sync_storage: SyncStorage) -> None:
    chain = with_history(sync_storage, EchoHistoryModel())
    config: Any = {"configurable": {"session_id": "user-1"}}
    assert chain.invoke({"question": "Hi"}, config=config).content == "I was sent 2 messages"
    assert chain.invoke({"question": "Again"}, config=config).content == "I was sent 4 messages"
    assert len(RadarosChatMessageHistory("user-1", sync_storage).messages) == 4


# -- stores ------------------------------------------------------------------------------------


async def test_byte_store_keeps_every_byte(storage: StorageDriver) -> None:
    store = RadarosByteStore(storage)
    every_byte = bytes(range(256))
    await store.amset([("all", every_byte), ("empty", b""), ("view", memoryview(b"mv"))])  # type: ignore[list-item]
    assert await store.amget(["all", "empty", "view"]) == [every_byte, b"", b"mv"]


async def test_store_bad_values_write_nothing(storage: StorageDriver) -> None:
    json_store, byte_store = RadarosStore(storage), RadarosByteStore(storage)
    with pytest.raises(SerializationError):
        await json_store.amset([("ok", 1), ("bad", {1, 2})])
    with pytest.raises(TypeError, match="bytes"):
        await byte_store.amset([("ok", b"1"), ("bad", "text")])  # type: ignore[list-item]
    with pytest.raises(InvalidKeyError):
        await json_store.amset([("ok", 1), ("", 2)])
    assert await json_store.amget(["ok", "bad"]) == [None, None]
    assert await byte_store.amget(["ok", "bad"]) == [None, None]


async def test_byte_store_refuses_what_it_did_not_write(storage: StorageDriver) -> None:
    await storage.set("langchain:bytes", "foreign", {"not": "base64"})
    await storage.set("langchain:bytes", "text", "not base64!")
    store = RadarosByteStore(storage)
    for key in ("foreign", "text"):
        with pytest.raises(SerializationError, match="RadarosByteStore"):
            await store.amget([key])


async def test_stores_keep_to_their_namespace(storage: StorageDriver) -> None:
    notes, other = RadarosStore(storage, namespace="notes"), RadarosStore(storage)
    await notes.amset([("k", "notes")])
    await other.amset([("k", "default")])
    assert await notes.amget(["k"]) == ["notes"]
    assert [key async for key in other.ayield_keys()] == ["k"]
    await notes.amdelete(["k"])
    assert await other.amget(["k"]) == ["default"]


async def test_yield_keys_pages_and_matches_prefixes_literally(storage: StorageDriver) -> None:
    store = RadarosStore(storage)
    keys = [f"doc:{n:05d}" for n in range(600)] + ["doc%", "doc_", "do", "dóc"]
    await store.amset([(key, 1) for key in keys])
    assert [key async for key in store.ayield_keys()] == sorted(keys)
    assert [key async for key in store.ayield_keys(prefix="doc%")] == ["doc%"]
    assert [key async for key in store.ayield_keys(prefix="doc_")] == ["doc_"]
    assert len([key async for key in store.ayield_keys(prefix="doc:")]) == 600


def test_yield_keys_pages_on_a_sync_storage(sync_storage: SyncStorage) -> None:
    store = RadarosByteStore(sync_storage)
    keys = [f"k{n:05d}" for n in range(600)]  # more than a page
    store.mset([(key, b"v") for key in keys])
    assert list(store.yield_keys()) == keys
    assert list(store.yield_keys(prefix="k0050")) == [f"k0050{n}" for n in range(10)]

    async def from_another_loop() -> list[str]:
        return [key async for key in store.ayield_keys(prefix="k001")]

    assert asyncio.run(from_another_loop()) == keys[100:200]


async def test_store_ttl_applies_to_each_value(storage: StorageDriver) -> None:
    store = RadarosStore(storage, ttl=300)
    await store.amset([("k", 1)])
    remaining = await storage.ttl("langchain:store", "k")
    assert remaining is not None
    assert 0 < remaining <= 300
    with pytest.raises(ValueError, match="ttl"):
        RadarosByteStore(storage, ttl=0)


# -- LLM cache ---------------------------------------------------------------------------------


async def test_cache_keeps_chat_generations_exactly(storage: StorageDriver) -> None:
    cache = RadarosCache(storage)
    generations = [
        ChatGeneration(message=CONVERSATION[2], generation_info={"finish_reason": "tool_calls"}),
        ChatGenerationChunk(message=AIMessageChunk(content="chunk")),
        Generation(text="plain", generation_info=None),
        GenerationChunk(text="piece"),
    ]
    await cache.aupdate("prompt", "llm", generations)
    assert await cache.alookup("prompt", "llm") == generations
    assert [type(g) for g in await cache.alookup("prompt", "llm") or []] == [
        ChatGeneration,
        ChatGenerationChunk,
        Generation,
        GenerationChunk,
    ]
    assert await cache.alookup("prompt", "other llm") is None
    assert await cache.alookup("other prompt", "llm") is None


async def test_cache_keys_do_not_meet(storage: StorageDriver) -> None:
    """The pair is hashed as a pair: moving text between prompt and settings is a miss."""
    cache = RadarosCache(storage)
    await cache.aupdate("ab", "c", [Generation(text="1")])
    assert await cache.alookup("a", "bc") is None


async def test_cache_bad_input_writes_nothing(storage: StorageDriver) -> None:
    class Custom(Generation):
        pass

    cache = RadarosCache(storage)
    with pytest.raises(TypeError, match="Custom"):
        await cache.aupdate("p", "llm", [Generation(text="ok"), Custom(text="x")])
    with pytest.raises(SerializationError):
        await cache.aupdate("p", "llm", [Generation(text="x", generation_info={"t": {1, 2}})])
    assert await cache.alookup("p", "llm") is None
    assert await storage.count("langchain:cache") == 0
    with pytest.raises(ValueError, match="ttl"):
        RadarosCache(storage, ttl=-5)


async def test_cache_refuses_what_it_did_not_write(storage: StorageDriver) -> None:
    cache = RadarosCache(storage)
    key = cache._key("p", "llm")
    for foreign in ({"generations": [{"type": "os.system", "text": "x"}]}, {"other": 1}, "text"):
        await storage.set("langchain:cache", key, foreign)
        with pytest.raises(SerializationError, match="RadarosCache"):
            await cache.alookup("p", "llm")


async def test_cache_clear_keeps_to_its_namespace_and_ttl_applies(storage: StorageDriver) -> None:
    cache, other = RadarosCache(storage, ttl=120), RadarosCache(storage, namespace="other")
    await cache.aupdate("p", "llm", [Generation(text="1")])
    await other.aupdate("p", "llm", [Generation(text="2")])
    remaining = await storage.ttl("langchain:cache", cache._key("p", "llm"))
    assert remaining is not None
    assert 0 < remaining <= 120
    await cache.aclear()
    assert await cache.alookup("p", "llm") is None
    assert await other.alookup("p", "llm") == [Generation(text="2")]


async def test_chat_model_answers_from_the_cache(storage: StorageDriver) -> None:
    cache = RadarosCache(storage)
    model = FakeListChatModel(responses=["first", "second", "third"], cache=cache)
    assert (await model.ainvoke("question")).content == "first"
    assert (await model.ainvoke("question")).content == "first"  # from the cache
    assert (await model.ainvoke("another")).content == "second"
    # Another instance with the same settings (so the same LLM string) finds it too.
    fresh = FakeListChatModel(responses=["first", "second", "third"], cache=RadarosCache(storage))
    assert (await fresh.ainvoke("another")).content == "second"


def test_chat_model_answers_from_the_cache_blocking(sync_storage: SyncStorage) -> None:
    model = FakeListChatModel(responses=["first", "second"], cache=RadarosCache(sync_storage))
    assert model.invoke("question").content == "first"
    assert model.invoke("question").content == "first"
    assert model.invoke("another").content == "second"
