"""LangChain on radaros: chat message history, key-value stores and the LLM cache.

- `RadarosChatMessageHistory` is LangChain's `BaseChatMessageHistory` on a radaros
  `ChatHistory` (one entry per message in `memory:short`, numbered by an atomic counter):
  concurrent writers lose nothing, order is the counter's, and the history is the same one
  `ChatHistory(storage, session_id)` and `Sessions(storage).history(session_id)` show.
  Messages are stored in LangChain's own dict form (`message_to_dict`).
- `RadarosStore` and `RadarosByteStore` are `BaseStore[str, Any]` and `BaseStore[str,
  bytes]`: one entry per key in one namespace. `RadarosStore` values are JSON (anything
  else is refused with `SerializationError`, nothing written); bytes are kept as base64 text.
- `RadarosCache` is a `BaseCache` for LLM and chat model calls: one entry per (prompt, LLM
  settings) pair, under the SHA-256 of both, optionally expiring. Generations are stored as
  plain JSON and rebuilt as the four generation classes LangChain has: no stored text can
  name a class to import.

Every class takes a `KeyValue` (then the async methods run on the caller's loop) or a
`SyncStorage` (then both forms work from any thread or loop; use one for LangChain's
blocking calls such as `invoke`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Generic, TypeVar

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk
from langchain_core.stores import BaseStore

from radaros.integrations.bridge import Bridge
from radaros.sessions import ChatHistory
from radaros.storage.errors import SerializationError
from radaros.storage.protocol import TTL, KeyValue
from radaros.storage.validate import check_namespace, check_ttl
from radaros.sync import SyncStorage

__all__ = ["RadarosByteStore", "RadarosCache", "RadarosChatMessageHistory", "RadarosStore"]

V = TypeVar("V")


class RadarosChatMessageHistory(BaseChatMessageHistory):
    """One conversation's LangChain messages, kept in radaros storage.

    With `max_messages` only the newest that many are kept (each add deletes what it pushes
    out); with `ttl` each message expires `ttl` after it was added. The history does not own
    the storage: close the storage, not the history.
    """

    def __init__(
        self,
        session_id: str,
        storage: KeyValue | SyncStorage,
        *,
        max_messages: int | None = None,
        ttl: TTL | None = None,
    ) -> None:
        self._bridge = Bridge(storage)
        self._history: ChatHistory[dict[str, Any]] = ChatHistory(
            self._bridge.storage, session_id, max_messages=max_messages, ttl=ttl
        )
        self.session_id = session_id

    def __repr__(self) -> str:
        return f"RadarosChatMessageHistory({self.session_id!r}, {self._bridge.storage!r})"

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]  # LangChain: an attribute
        """The messages, oldest first."""
        return self._bridge.run(self.aget_messages())

    async def aget_messages(self) -> list[BaseMessage]:
        """The messages, oldest first."""
        stored = await self._bridge.call(self._history.messages())
        return messages_from_dict(stored)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append the messages, in order (one numbered entry each)."""
        self._bridge.run(self.aadd_messages(messages))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append the messages, in order (one numbered entry each)."""
        for message in messages:
            if not isinstance(message, BaseMessage):
                raise TypeError(f"messages must be BaseMessage, not {type(message).__name__}")
        if messages:
            await self._bridge.call(self._history.add(*map(message_to_dict, messages)))

    def clear(self) -> None:
        """Forget every message of this conversation."""
        self._bridge.run(self.aclear())

    async def aclear(self) -> None:
        """Forget every message of this conversation."""
        await self._bridge.call(self._history.clear())


class _NamespaceStore(BaseStore[str, V], Generic[V]):
    """A `BaseStore` over one radaros namespace; subclasses say how values are stored."""

    def __init__(
        self, storage: KeyValue | SyncStorage, *, namespace: str, ttl: TTL | None = None
    ) -> None:
        self._bridge = Bridge(storage)
        self.namespace = check_namespace(namespace)
        self.ttl = check_ttl(ttl)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._bridge.storage!r}, namespace={self.namespace!r})"

    def _dump(self, value: V) -> Any:
        return value

    def _load(self, key: str, stored: Any) -> V:
        loaded: V = stored
        return loaded

    def mget(self, keys: Sequence[str]) -> list[V | None]:
        """The values of the keys, None where absent."""
        return self._bridge.run(self.amget(keys))

    async def amget(self, keys: Sequence[str]) -> list[V | None]:
        """The values of the keys, None where absent."""
        stored = await self._bridge.call(self._bridge.storage.get_many(self.namespace, keys))
        pairs = zip(keys, stored, strict=True)
        return [None if value is None else self._load(key, value) for key, value in pairs]

    def mset(self, key_value_pairs: Sequence[tuple[str, V]]) -> None:
        """Store every pair (all are checked before anything is written)."""
        self._bridge.run(self.amset(key_value_pairs))

    async def amset(self, key_value_pairs: Sequence[tuple[str, V]]) -> None:
        """Store every pair (all are checked before anything is written)."""
        items = [(key, self._dump(value)) for key, value in key_value_pairs]
        await self._bridge.call(self._bridge.storage.set_many(self.namespace, items, ttl=self.ttl))

    def mdelete(self, keys: Sequence[str]) -> None:
        """Delete the keys (absent ones are ignored)."""
        self._bridge.run(self.amdelete(keys))

    async def amdelete(self, keys: Sequence[str]) -> None:
        """Delete the keys (absent ones are ignored)."""
        await self._bridge.call(self._bridge.storage.delete_many(self.namespace, keys))

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """The keys (starting with `prefix`), in key order, a page per round trip."""
        entries = self._bridge.storage.scan(self.namespace, prefix)
        for entry in self._bridge.iterate_blocking(entries):
            yield entry.key

    async def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """The keys (starting with `prefix`), in key order, a page per round trip."""
        async for entry in self._bridge.iterate(self._bridge.storage.scan(self.namespace, prefix)):
            yield entry.key


class RadarosStore(_NamespaceStore[Any]):
    """LangChain's `BaseStore[str, Any]` for JSON values, one entry per key in `namespace`.

    With `ttl`, each value expires `ttl` after it was set.
    """

    def __init__(
        self,
        storage: KeyValue | SyncStorage,
        *,
        namespace: str = "langchain:store",
        ttl: TTL | None = None,
    ) -> None:
        super().__init__(storage, namespace=namespace, ttl=ttl)


class RadarosByteStore(_NamespaceStore[bytes]):
    """LangChain's `BaseStore[str, bytes]`, one entry per key in `namespace` (the bytes as
    base64 text: radaros values are JSON). With `ttl`, each value expires `ttl` after it
    was set."""

    def __init__(
        self,
        storage: KeyValue | SyncStorage,
        *,
        namespace: str = "langchain:bytes",
        ttl: TTL | None = None,
    ) -> None:
        super().__init__(storage, namespace=namespace, ttl=ttl)

    def _dump(self, value: bytes) -> Any:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"values must be bytes, not {type(value).__name__}")
        return base64.b64encode(value).decode("ascii")

    def _load(self, key: str, stored: Any) -> bytes:
        try:
            return base64.b64decode(stored, validate=True)
        except (TypeError, ValueError, binascii.Error) as exc:
            raise SerializationError(
                f"{self.namespace!r}/{key!r} does not hold bytes written by RadarosByteStore"
            ) from exc


GENERATIONS: dict[str, type[Generation]] = {
    cls.__name__: cls for cls in (Generation, GenerationChunk, ChatGeneration, ChatGenerationChunk)
}


class RadarosCache(BaseCache):
    """LangChain's LLM cache in one radaros namespace: set it with `set_llm_cache`.

    Each (prompt, LLM settings) pair is one entry, keyed by the SHA-256 of both; with `ttl`
    it expires `ttl` after it was written. `clear()` empties the namespace. Concurrent
    updates of one pair keep one of them whole.
    """

    def __init__(
        self,
        storage: KeyValue | SyncStorage,
        *,
        namespace: str = "langchain:cache",
        ttl: TTL | None = None,
    ) -> None:
        self._bridge = Bridge(storage)
        self.namespace = check_namespace(namespace)
        self.ttl = check_ttl(ttl)

    def __repr__(self) -> str:
        return f"RadarosCache({self._bridge.storage!r}, namespace={self.namespace!r})"

    @staticmethod
    def _key(prompt: str, llm_string: str) -> str:
        text = json.dumps([prompt, llm_string], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The cached generations for this prompt and LLM, or None."""
        return self._bridge.run(self.alookup(prompt, llm_string))

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The cached generations for this prompt and LLM, or None."""
        key = self._key(prompt, llm_string)
        stored = await self._bridge.call(self._bridge.storage.get(self.namespace, key))
        if stored is None:
            return None
        try:
            return [_load_generation(item) for item in stored["generations"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(
                f"{self.namespace!r}/{key!r} does not hold generations written by RadarosCache"
            ) from exc

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Cache the generations for this prompt and LLM."""
        self._bridge.run(self.aupdate(prompt, llm_string, return_val))

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Cache the generations for this prompt and LLM."""
        value = {"generations": [_dump_generation(item) for item in return_val]}
        key = self._key(prompt, llm_string)
        await self._bridge.call(self._bridge.storage.set(self.namespace, key, value, ttl=self.ttl))

    def clear(self, **kwargs: Any) -> None:
        """Forget every cached generation of this namespace."""
        self._bridge.run(self.aclear())

    async def aclear(self, **kwargs: Any) -> None:
        """Forget every cached generation of this namespace."""
        await self._bridge.call(self._bridge.storage.clear(self.namespace))


def _dump_generation(generation: Generation) -> dict[str, Any]:
    kind = type(generation).__name__
    if GENERATIONS.get(kind) is not type(generation):
        raise TypeError(f"RadarosCache stores LangChain's generation classes, not {kind}")
    dumped: dict[str, Any] = {"type": kind, "generation_info": generation.generation_info}
    if isinstance(generation, ChatGeneration):
        dumped["message"] = message_to_dict(generation.message)
    else:
        dumped["text"] = generation.text
    return dumped


def _load_generation(stored: dict[str, Any]) -> Generation:
    cls = GENERATIONS[stored["type"]]
    info = stored["generation_info"]
    if issubclass(cls, ChatGeneration):
        (message,) = messages_from_dict([stored["message"]])
        return cls(message=message, generation_info=info)
    return cls(text=stored["text"], generation_info=info)
