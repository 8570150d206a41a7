"""LlamaIndex on radaros: `RadarosChatStore` (`BaseChatStore`, for `ChatMemoryBuffer` and
the chat engines), `RadarosMemoryStore` (`AsyncDBChatStore`, for `Memory`) and
`RadarosKVStore` (`BaseKVStore`, under the document, index and ingestion-cache stores).

`RadarosChatStore` keeps each chat store key as a radaros `ChatHistory` (one entry per
message in `memory:short`, numbered by an atomic counter), so:

- `add_message` from any number of tasks, threads or processes loses nothing, and the
  order is the counter's, never a clock's;
- `delete_message(key, idx)` removes that one entry: the others keep their places;
- `add_message(key, message, idx=i)` inserts before the message now at `i` by giving the new
  message a key that sorts between its neighbours (written only if absent, so concurrent
  inserts at one place all land); inserted messages are not counted by `ChatHistory.total()`;
- the conversations are the same ones `ChatHistory(storage, key)` and `Sessions` show, and
  `get_keys()` lists every conversation in the storage (give a `Scoped` view to keep
  LlamaIndex's apart).

`RadarosMemoryStore` keeps a key's active messages the same way (they are that
conversation's `ChatHistory`) and its archived ones in a second history under the scope
`llama_index:archived`; `archive_oldest_messages` takes each message from the active queue
atomically (of concurrent archivers, each message goes to one) before archiving it.

Messages are stored as `ChatMessage.model_dump(mode="json")` (images as base64 text).
`set_messages` and `delete_messages` are a clear and a write: a reader at that moment may
see the conversation empty.

`RadarosKVStore` stores each collection as a namespace (`llama_index:` + the collection
name, so `docstore/data` is `llama_index:docstore/data`), one entry per key.

Both take a `KeyValue` (then the async methods run on the caller's loop) or a `SyncStorage`
(then the blocking and async methods work from any thread or event loop).
"""

from __future__ import annotations

import builtins
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import ChatMessage
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from llama_index.core.storage.kvstore.types import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_COLLECTION,
    BaseKVStore,
)
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from radaros.integrations.bridge import Bridge
from radaros.scoped import Scoped
from radaros.sessions import ChatHistory, _is_counter, _is_history, _message_range
from radaros.storage.codec import check_value
from radaros.storage.errors import SerializationError
from radaros.storage.protocol import MEMORY_SHORT, TTL, KeyValue
from radaros.storage.validate import check_key, check_namespace, check_ttl, unquote_part
from radaros.sync import SyncStorage

__all__ = ["RadarosChatStore", "RadarosKVStore", "RadarosMemoryStore"]

ARCHIVE_SCOPE = "llama_index:archived"

KEYS_PAGE = 100
_ABSENT: Any = object()


class RadarosChatStore(BaseChatStore):
    """LlamaIndex's chat store on radaros: one `ChatHistory` per key.

    With `ttl` (seconds or a timedelta) each message expires `ttl` after it was added. The
    store does not own the storage: close the storage, not the store.
    """

    _bridge: Bridge = PrivateAttr()
    _ttl: float | None = PrivateAttr()

    def __init__(self, storage: KeyValue | SyncStorage, *, ttl: TTL | None = None) -> None:
        super().__init__()
        self._bridge = Bridge(storage)
        self._ttl = check_ttl(ttl)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._bridge.storage!r})"

    @classmethod
    def class_name(cls) -> str:
        return "RadarosChatStore"

    def _history(self, key: str) -> ChatHistory[dict[str, Any]]:
        return ChatHistory(self._bridge.storage, key, ttl=self._ttl)

    # The blocking forms: each runs its async twin where the storage lives.

    def set_messages(self, key: str, messages: builtins.list[ChatMessage]) -> None:
        """Replace the key's messages."""
        self._bridge.run(self.aset_messages(key, messages))

    def get_messages(self, key: str) -> builtins.list[ChatMessage]:
        """The key's messages, oldest first."""
        return self._bridge.run(self.aget_messages(key))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append the message, or insert it at `idx` (as `list.insert` does)."""
        self._bridge.run(self.async_add_message(key, message, idx))

    def delete_messages(self, key: str) -> builtins.list[ChatMessage] | None:
        """Forget the key's messages; return them (None when there were none)."""
        return self._bridge.run(self.adelete_messages(key))

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Remove the message at `idx` (negative counts from the end) and return it; None
        when there is none. The others keep their order."""
        return self._bridge.run(self.adelete_message(key, idx))

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Remove the newest message and return it (None when there is none)."""
        return self._bridge.run(self.adelete_last_message(key))

    def get_keys(self) -> builtins.list[str]:
        """Every conversation with a history in the storage, sorted."""
        return self._bridge.run(self.aget_keys())

    # The async forms.

    async def aset_messages(self, key: str, messages: builtins.list[ChatMessage]) -> None:
        """Replace the key's messages."""
        history = self._history(key)
        dumped = _dump_replacement(messages)
        await self._bridge.call(history.clear())
        if dumped:
            await self._bridge.call(history.add(*dumped))

    async def aget_messages(self, key: str) -> builtins.list[ChatMessage]:
        """The key's messages, oldest first."""
        stored = await self._bridge.call(self._history(key).messages())
        return [_load_message(key, message) for message in stored]

    async def async_add_message(
        self, key: str, message: ChatMessage, idx: int | None = None
    ) -> None:
        """Append the message, or insert it at `idx` (as `list.insert` does)."""
        history = self._history(key)
        dumped = _dump_message(message)
        if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int)):
            raise TypeError(f"idx must be an int or None, not {type(idx).__name__}")
        if idx is None or not await self._bridge.call(self._insert(history, dumped, idx)):
            await self._bridge.call(history.add(dumped))

    async def _insert(self, history: ChatHistory[dict[str, Any]], message: Any, idx: int) -> bool:
        """Store `message` before the one at `idx`; False when `idx` is past the end."""
        storage = history.storage
        start, stop = _message_range(history.session_id)
        while True:
            if idx < 0:
                total = await storage.count(MEMORY_SHORT, start[:-1])  # "<encoded id>/"
                idx = max(0, total + idx)
            entries = await storage.list(MEMORY_SHORT, start=start, stop=stop, limit=idx + 1)
            if len(entries) <= idx:
                return False
            lower = entries[idx - 1].key if idx else start
            key = check_key(_key_between(lower, entries[idx].key))
            if await storage.add(MEMORY_SHORT, key, message, ttl=self._ttl):
                return True
            # Another insert took that place first: this one goes before it.

    async def adelete_messages(self, key: str) -> builtins.list[ChatMessage] | None:
        """Forget the key's messages; return them (None when there were none)."""
        history = self._history(key)
        messages = await self.aget_messages(key)
        await self._bridge.call(history.clear())
        return messages or None

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Remove the message at `idx` (negative counts from the end) and return it; None
        when there is none. The others keep their order."""
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f"idx must be an int, not {type(idx).__name__}")
        taken = await self._bridge.call(_take(self._history(key), idx))
        return None if taken is _ABSENT else _load_message(key, taken)

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        """Remove the newest message and return it (None when there is none)."""
        taken = await self._bridge.call(self._history(key).pop())
        return None if taken is None else _load_message(key, taken)

    async def aget_keys(self) -> builtins.list[str]:
        """Every conversation with a history in the storage, sorted."""
        return sorted(await self._bridge.call(_conversation_ids(self._bridge.storage)))


async def _take(history: ChatHistory[dict[str, Any]], idx: int) -> Any:
    """Remove the message at `idx` (negative counts from the end) and return it, atomically:
    of concurrent takers each message goes to one. `_ABSENT` when there is none."""
    storage = history.storage
    start, stop = _message_range(history.session_id)
    reverse, place = (True, -idx - 1) if idx < 0 else (False, idx)
    while True:
        entries = await storage.list(
            MEMORY_SHORT, start=start, stop=stop, reverse=reverse, limit=place + 1
        )
        if len(entries) <= place:
            return _ABSENT
        taken = await storage.pop(MEMORY_SHORT, entries[place].key, _ABSENT)
        if taken is not _ABSENT:
            return taken
        # Removed meanwhile by another writer: the message now at `idx` is the one.


async def _take_oldest(history: ChatHistory[dict[str, Any]], n: int) -> builtins.list[Any]:
    """Remove the oldest `n` messages and return them, oldest first (each atomically)."""
    storage = history.storage
    start, stop = _message_range(history.session_id)
    taken: builtins.list[Any] = []
    while len(taken) < n:
        entries = await storage.list(MEMORY_SHORT, start=start, stop=stop, limit=n - len(taken))
        if not entries:
            break
        for entry in entries:
            value = await storage.pop(MEMORY_SHORT, entry.key, _ABSENT)
            if value is not _ABSENT:
                taken.append(value)
    return taken


def _dump_message(message: ChatMessage) -> dict[str, Any]:
    """The stored form of a message (its strict-JSON check is the write's own)."""
    if not isinstance(message, ChatMessage):
        raise TypeError(f"messages must be ChatMessage, not {type(message).__name__}")
    try:
        dumped: dict[str, Any] = message.model_dump(mode="json")
    except PydanticSerializationError as exc:
        raise SerializationError(f"the message cannot be stored as JSON: {exc}") from exc
    return dumped


def _dump_replacement(messages: builtins.list[ChatMessage]) -> builtins.list[dict[str, Any]]:
    """The stored forms of what replaces a conversation, checked before its clear."""
    dumped = [_dump_message(message) for message in messages]
    for message in dumped:
        check_value(message)
    return dumped


def _load_message(key: str, stored: Any) -> ChatMessage:
    try:
        return ChatMessage.model_validate(stored)
    except ValidationError as exc:
        raise SerializationError(
            f"conversation {key!r} holds a message that is not a ChatMessage"
        ) from exc


def _key_between(lower: str, upper: str) -> str:
    """A key after `lower` and before `upper`, its neighbour.

    Numbered message keys have one length, so `lower + "/5"` sorts between two of them (and
    `/` sorts before every digit, so also between a range's start and a first message).
    Keys made here end in `/`s and a `5`: between `lower` and one made after it,
    `lower + "/"` + (that one's rest) sorts first.
    """
    if upper.startswith(lower + "/"):
        return lower + "/" + upper[len(lower) :]
    return lower + "/5"


async def _conversation_ids(storage: KeyValue) -> builtins.list[str]:
    """The ids of the chat histories in `memory:short`: a page of keys, skipping each
    conversation's messages (its counter is `<encoded id>`, its messages `<encoded id>/...`)."""
    ids: builtins.list[str] = []
    start: str | None = None
    done: str | None = None  # `start` itself, when it was already looked at
    while True:
        page = await storage.list(MEMORY_SHORT, start=start, limit=KEYS_PAGE)
        entries = [entry for entry in page if entry.key != done]
        if not entries:
            return ids
        for entry in entries:
            head, slash, _ = entry.key.partition("/")
            if slash:  # a conversation's messages: jump past them all ("0" follows "/")
                start, done = head + "0", None
                break
            if _is_counter(entry.value) or _is_history(entry.value):
                ids.append(unquote_part(entry.key))
        else:
            if len(page) < KEYS_PAGE:
                return ids
            start = done = entries[-1].key


class RadarosMemoryStore(AsyncDBChatStore):
    """The chat store of LlamaIndex's `Memory` on radaros
    (`Memory.from_defaults(session_id=..., chat_store=RadarosMemoryStore(storage))`).

    A key's active messages are its `ChatHistory`; archived ones are a second history under
    the scope `llama_index:archived`. `get_messages(status=None)` gives the archived, then
    the active. `delete_message(key, idx)` takes `idx` as a position in the active queue
    (negative counts from the end): radaros has no row ids. With `ttl` each message expires
    `ttl` after it was added or archived. Give a `SyncStorage` to use `Memory`'s blocking
    methods (`put`, `get`), which run their own event loops.
    """

    _bridge: Bridge = PrivateAttr()
    _ttl: float | None = PrivateAttr()

    def __init__(self, storage: KeyValue | SyncStorage, *, ttl: TTL | None = None) -> None:
        super().__init__()
        self._bridge = Bridge(storage)
        self._ttl = check_ttl(ttl)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._bridge.storage!r})"

    @classmethod
    def class_name(cls) -> str:
        return "RadarosMemoryStore"

    def _history(self, key: str, status: MessageStatus) -> ChatHistory[dict[str, Any]]:
        storage = self._bridge.storage
        if MessageStatus(status) is MessageStatus.ARCHIVED:
            storage = Scoped(storage, ARCHIVE_SCOPE)
        return ChatHistory(storage, key, ttl=self._ttl)

    def _histories(
        self, key: str, status: MessageStatus | None
    ) -> builtins.list[ChatHistory[dict[str, Any]]]:
        if status is None:
            return [
                self._history(key, MessageStatus.ARCHIVED),
                self._history(key, MessageStatus.ACTIVE),
            ]
        return [self._history(key, status)]

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> builtins.list[ChatMessage]:
        """The key's messages with `status` (None: archived, then active), oldest first,
        from `offset`, at most `limit`."""
        for name, number in (("limit", limit), ("offset", offset)):
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, int) or number < 0
            ):
                raise ValueError(f"{name} must be an int >= 0 or None, not {number!r}")
        stored: builtins.list[Any] = []
        for history in self._histories(key, status):
            stored += await self._bridge.call(history.messages())
        first = offset or 0
        window = stored[first:] if limit is None else stored[first : first + limit]
        return [_load_message(key, message) for message in window]

    async def count_messages(
        self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE
    ) -> int:
        """How many messages the key has with `status` (None: all)."""
        total = 0
        for history in self._histories(key, status):
            total += await self._bridge.call(_count(history))
        return total

    async def add_message(
        self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Append the message with `status`."""
        await self.add_messages(key, [message], status)

    async def add_messages(
        self,
        key: str,
        messages: builtins.list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Append the messages with `status`, in order (all checked first)."""
        history = self._history(key, status)
        dumped = [_dump_message(message) for message in messages]
        if dumped:
            await self._bridge.call(history.add(*dumped))

    async def set_messages(
        self,
        key: str,
        messages: builtins.list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Replace all the key's messages (of both statuses) by these, with `status`."""
        history = self._history(key, status)
        dumped = _dump_replacement(messages)
        await self.delete_messages(key)
        if dumped:
            await self._bridge.call(history.add(*dumped))

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Remove the active message at position `idx` and return it (None when none)."""
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f"idx must be an int, not {type(idx).__name__}")
        taken = await self._bridge.call(_take(self._history(key, MessageStatus.ACTIVE), idx))
        return None if taken is _ABSENT else _load_message(key, taken)

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        """Forget the key's messages with `status` (None: all)."""
        for history in self._histories(key, status):
            await self._bridge.call(history.clear())

    async def delete_oldest_messages(self, key: str, n: int) -> builtins.list[ChatMessage]:
        """Remove the `n` oldest active messages and return them."""
        taken = await self._bridge.call(self._take_oldest(key, n))
        return [_load_message(key, message) for message in taken]

    async def archive_oldest_messages(self, key: str, n: int) -> builtins.list[ChatMessage]:
        """Move the `n` oldest active messages to the archive and return them."""
        taken = await self._bridge.call(self._take_oldest(key, n))
        if taken:
            archive = self._history(key, MessageStatus.ARCHIVED)
            await self._bridge.call(archive.add(*taken))
        return [_load_message(key, message) for message in taken]

    async def _take_oldest(self, key: str, n: int) -> builtins.list[Any]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0, not {n!r}")
        return await _take_oldest(self._history(key, MessageStatus.ACTIVE), n)

    async def get_keys(self) -> builtins.list[str]:
        """Every conversation with active or archived messages, sorted."""
        storage = self._bridge.storage
        active = await self._bridge.call(_conversation_ids(storage))
        archived = await self._bridge.call(_conversation_ids(Scoped(storage, ARCHIVE_SCOPE)))
        return sorted({*active, *archived})


async def _count(history: ChatHistory[dict[str, Any]]) -> int:
    """How many messages a history keeps now (not its total ever added)."""
    start, _ = _message_range(history.session_id)
    kept = await history.storage.count(MEMORY_SHORT, start[:-1])  # "<encoded id>/"
    return kept or len(await history.messages())  # a 0.2 history: one entry holds them


class RadarosKVStore(BaseKVStore):
    """LlamaIndex's key-value store on radaros: each collection a namespace
    (`namespace_prefix` + its name), each key one entry holding its dict.

    Give it to `KVDocumentStore`, `KVIndexStore` or `IngestionCache`. `put_all` checks every
    value before writing any, then writes `batch_size` pairs per round trip. With `ttl`,
    each value expires `ttl` after it was written.
    """

    def __init__(
        self,
        storage: KeyValue | SyncStorage,
        *,
        namespace_prefix: str = "llama_index:",
        ttl: TTL | None = None,
    ) -> None:
        self._bridge = Bridge(storage)
        self.namespace_prefix = namespace_prefix
        check_namespace(namespace_prefix + DEFAULT_COLLECTION)
        self.ttl = check_ttl(ttl)

    def __repr__(self) -> str:
        prefix = self.namespace_prefix
        return f"RadarosKVStore({self._bridge.storage!r}, namespace_prefix={prefix!r})"

    def _namespace(self, collection: str) -> str:
        if not isinstance(collection, str):
            raise TypeError(f"collection must be a str, not {type(collection).__name__}")
        return check_namespace(self.namespace_prefix + collection)

    def put(self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION) -> None:
        """Store the dict at `key`."""
        self._bridge.run(self.aput(key, val, collection))

    async def aput(
        self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION
    ) -> None:
        """Store the dict at `key`."""
        await self.aput_all([(key, val)], collection)

    def put_all(
        self,
        kv_pairs: builtins.list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Store every pair (all checked first), `batch_size` per round trip."""
        self._bridge.run(self.aput_all(kv_pairs, collection, batch_size))

    async def aput_all(
        self,
        kv_pairs: builtins.list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Store every pair (all checked first), `batch_size` per round trip."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")
        namespace = self._namespace(collection)
        pairs = builtins.list(kv_pairs)
        for key, value in pairs:
            if not isinstance(value, dict):
                raise TypeError(f"values must be dicts, not {type(value).__name__}")
            if len(pairs) > batch_size:  # several writes: all checked before the first
                check_key(key)
                check_value(value)
        storage = self._bridge.storage
        for first in range(0, len(pairs), batch_size):
            batch = pairs[first : first + batch_size]
            await self._bridge.call(storage.set_many(namespace, batch, ttl=self.ttl))

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """The dict at `key`, or None."""
        return self._bridge.run(self.aget(key, collection))

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """The dict at `key`, or None."""
        namespace = self._namespace(collection)
        stored = await self._bridge.call(self._bridge.storage.get(namespace, key))
        return None if stored is None else self._checked(namespace, key, stored)

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Every key of the collection and its dict."""
        return self._bridge.run(self.aget_all(collection))

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Every key of the collection and its dict (read a page at a time)."""
        namespace = self._namespace(collection)
        return {
            entry.key: self._checked(namespace, entry.key, entry.value)
            async for entry in self._bridge.iterate(self._bridge.storage.scan(namespace))
        }

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Remove `key`; True if it was there."""
        return self._bridge.run(self.adelete(key, collection))

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Remove `key`; True if it was there."""
        namespace = self._namespace(collection)
        return await self._bridge.call(self._bridge.storage.delete(namespace, key))

    @staticmethod
    def _checked(namespace: str, key: str, stored: Any) -> dict[str, Any]:
        if not isinstance(stored, dict):
            kind = type(stored).__name__
            raise SerializationError(f"{namespace!r}/{key!r} holds a {kind}, not a dict")
        return stored
