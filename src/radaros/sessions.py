"""Sessions, conversation messages and summaries over the seed's reserved namespaces.

Everything is plain JSON in ordinary entries, so another client (the TypeScript RadarOS,
a SQL query, `redis-cli`) can read it:

```
namespace      key                              value
session:meta   <session id>                     {"id", "user_id", "created_at",
                                                 "updated_at", "metadata"}
session:users  <user id>/<session id>           {"created_at"}   (user id with % and /
                                                 percent-encoded, so one user's keys are
                                                 exactly those under "<user id>/")
memory:short   <session id>                     {"total": N, "messages": [...newest last]}
memory:long    <scope> (a session's: its id)    any JSON value (a summary)
```
Times are ISO 8601 strings in UTC. Each write is one atomic driver operation: a message
batch and its total go in one `update` (compare-and-swap), so concurrent writers from any
number of tasks, instances or processes lose no message and the total is exact.
"""

from __future__ import annotations

import builtins
import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, overload

from radaros.collection import Collection
from radaros.storage.errors import SerializationError, StorageError
from radaros.storage.protocol import MEMORY_LONG, MEMORY_SHORT, SESSION_PREFIX, TTL, KeyValue
from radaros.storage.validate import check_key, check_ttl

__all__ = [
    "SESSION_META",
    "SESSION_USERS",
    "ChatHistory",
    "Session",
    "SessionExistsError",
    "SessionNotFoundError",
    "Sessions",
    "Summaries",
]

SESSION_META = f"{SESSION_PREFIX}meta"
SESSION_USERS = f"{SESSION_PREFIX}users"

M = TypeVar("M")


class SessionExistsError(StorageError, ValueError):
    """`Sessions.create` was given the id of a session that already exists."""


class SessionNotFoundError(StorageError, LookupError):
    """`Sessions.update` was given the id of a session that does not exist (or expired)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Session:
    """One session's metadata. `metadata` is any JSON object of yours."""

    id: str
    user_id: str | None
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, stored: Any) -> Session:
        try:
            return cls(
                id=stored["id"],
                user_id=stored["user_id"],
                created_at=datetime.fromisoformat(stored["created_at"]),
                updated_at=datetime.fromisoformat(stored["updated_at"]),
                metadata=dict(stored["metadata"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(
                f"{SESSION_META!r} holds an entry that is not a session ({type(exc).__name__})"
            ) from None


def _user_part(user_id: str) -> str:
    """The user id in an index key: `%` and `/` percent-encoded, so no user's keys start
    with another user's `<id>/`."""
    return user_id.replace("%", "%25").replace("/", "%2F")


def _check_user(user_id: object) -> str | None:
    if user_id is None:
        return None
    if not isinstance(user_id, str) or not user_id:
        raise ValueError(f"user_id must be a non-empty str or None, not {user_id!r}")
    return user_id


class Sessions:
    """Create, find, list and delete sessions; `ttl` makes them expire unless touched.

    `list(user_id)` reads one user's sessions through `session:users` (a key range), so its
    cost follows that user's sessions, not everyone's. `delete` removes the session, its
    messages and its summary.
    """

    def __init__(self, storage: KeyValue, *, ttl: TTL | None = None) -> None:
        self.storage = storage
        check_ttl(ttl)
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"Sessions({self.storage!r}, ttl={self.ttl!r})"

    def history(
        self, session_id: str, *, max_messages: int | None = None
    ) -> ChatHistory[dict[str, Any]]:
        """The session's `ChatHistory` (dict messages), expiring with the session."""
        return ChatHistory(self.storage, session_id, max_messages=max_messages, ttl=self.ttl)

    async def create(
        self,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        """A new session (a random id unless given); SessionExistsError if the id is taken."""
        user_id = _check_user(user_id)
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict or None, not {type(metadata).__name__}")
        session_id = check_key(uuid.uuid4().hex if session_id is None else session_id)
        now = _now()
        session = Session(session_id, user_id, now, now, dict(metadata or {}))
        document = session.to_json()
        index_key = None if user_id is None else check_key(f"{_user_part(user_id)}/{session_id}")
        # The index entry first: an entry whose session is missing or another user's is
        # never listed, so a failure between the two writes shows nothing wrong.
        indexed = index_key is not None and await self.storage.add(
            SESSION_USERS, index_key, {"created_at": document["created_at"]}, ttl=self.ttl
        )
        if not await self.storage.add(SESSION_META, session_id, document, ttl=self.ttl):
            if indexed and index_key is not None:
                await self.storage.delete(SESSION_USERS, index_key)
            raise SessionExistsError(f"session {session_id!r} already exists")
        return session

    async def get(self, session_id: str) -> Session | None:
        stored = await self.storage.get(SESSION_META, session_id)
        return None if stored is None else Session.from_json(stored)

    async def update(
        self,
        session_id: str,
        fn: Callable[[Session], Session | None] | Callable[[Session], Awaitable[Session | None]],
    ) -> Session:
        """Atomically change a session: `fn` gets a fresh copy and returns the new one (or
        None, having changed the copy); `updated_at` is set for you. `fn` may run more than
        once. SessionNotFoundError if there is no such session."""
        check_key(session_id)

        async def change(stored: Any) -> Any:
            if stored is None:
                raise SessionNotFoundError(f"no session {session_id!r}")
            session = Session.from_json(stored)
            result = fn(session)
            if inspect.isawaitable(result):
                result = await result
            changed = session if result is None else result
            if not isinstance(changed, Session):
                raise TypeError(f"fn must return a Session or None, not {type(changed).__name__}")
            if changed.id != stored["id"] or changed.user_id != stored["user_id"]:
                raise ValueError("a session's id and user_id cannot change")
            changed.updated_at = _now()
            return changed.to_json()

        return Session.from_json(await self.storage.update(SESSION_META, session_id, change))

    async def touch(self, session_id: str) -> bool:
        """Restart the session's expiry (its entry, index entry, messages and summary);
        False if it does not exist."""
        session = await self.get(session_id)
        if session is None:
            return False
        if session.user_id is not None:
            index_key = f"{_user_part(session.user_id)}/{session_id}"
            await self.storage.touch(SESSION_USERS, index_key, self.ttl)
        await self.storage.touch(MEMORY_SHORT, session_id, self.ttl)
        await self.storage.touch(MEMORY_LONG, session_id, self.ttl)
        return await self.storage.touch(SESSION_META, session_id, self.ttl)

    async def list(self, user_id: str | None = None) -> builtins.list[Session]:
        """Sessions newest first: one user's (through the per-user index), or everyone's."""
        user_id = _check_user(user_id)
        if user_id is None:
            sessions = [Session.from_json(v) for _, v in await self.storage.list(SESSION_META)]
        else:
            entries = await self.storage.list(SESSION_USERS, f"{_user_part(user_id)}/")
            ids = [key.partition("/")[2] for key, _ in entries]
            found = await self.storage.get_many(SESSION_META, ids)
            sessions = [Session.from_json(stored) for stored in found if stored is not None]
            sessions = [s for s in sessions if s.user_id == user_id]
        return sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True)

    async def delete(self, session_id: str) -> bool:
        """Remove the session, its messages, its summary and its index entry; True if it
        existed. The session's own entry goes last, so an interrupted delete can be run
        again to finish."""
        session = await self.get(session_id)
        await self.storage.delete(MEMORY_SHORT, session_id)
        await self.storage.delete(MEMORY_LONG, session_id)
        if session is not None and session.user_id is not None:
            await self.storage.delete(SESSION_USERS, f"{_user_part(session.user_id)}/{session_id}")
        return await self.storage.delete(SESSION_META, session_id)


class ChatHistory(Generic[M]):
    """A session's messages in `memory:short`, oldest first; with `max_messages` only the
    newest that many are kept. `add` returns how many were ever added (exact under any
    number of concurrent writers). Messages are JSON dicts, or instances of the pydantic
    model (or dataclass, TypedDict...) given as `message_type` (needs `radaros[pydantic]`).
    """

    @overload
    def __init__(
        self: ChatHistory[dict[str, Any]],
        storage: KeyValue,
        session_id: str,
        *,
        max_messages: int | None = None,
        ttl: TTL | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        storage: KeyValue,
        session_id: str,
        *,
        message_type: type[M],
        max_messages: int | None = None,
        ttl: TTL | None = None,
    ) -> None: ...

    def __init__(
        self,
        storage: KeyValue,
        session_id: str,
        *,
        message_type: Any = None,
        max_messages: int | None = None,
        ttl: TTL | None = None,
    ) -> None:
        if max_messages is not None and (
            isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
        ):
            raise ValueError(f"max_messages must be a positive int or None, not {max_messages!r}")
        check_ttl(ttl)
        self.storage = storage
        self.session_id = check_key(session_id)
        self.max_messages = max_messages
        self.ttl = ttl
        self._type: Any = None
        if message_type is not None:
            # A collection of lists of messages does the validating; it is never written to.
            self._type = Collection(storage, MEMORY_SHORT, builtins.list[message_type])

    def __repr__(self) -> str:
        return f"ChatHistory({self.storage!r}, {self.session_id!r})"

    def _dump(self, messages: tuple[Any, ...]) -> builtins.list[Any]:
        if self._type is not None:
            dumped: builtins.list[Any] = self._type._dump(builtins.list(messages), self.session_id)
            return dumped
        for message in messages:
            if not isinstance(message, dict):
                raise TypeError(f"messages must be dicts, not {type(message).__name__}")
        return builtins.list(messages)

    def _load(self, messages: builtins.list[Any]) -> builtins.list[M]:
        if self._type is None:
            return messages
        loaded: builtins.list[M] = self._type._load(self.session_id, messages)
        return loaded

    async def add(self, *messages: M) -> int:
        """Append the messages (one atomic write); return the total ever added."""
        new = self._dump(messages)
        if not new:
            return await self.total()
        total = 0

        def extend(current: Any) -> dict[str, Any]:
            nonlocal total
            current = self._history(current)
            kept = current["messages"] + new
            if self.max_messages is not None:
                kept = kept[-self.max_messages :]
            total = current["total"] + len(new)
            return {"total": total, "messages": kept}

        await self.storage.update(MEMORY_SHORT, self.session_id, extend, ttl=self.ttl)
        return total

    async def _stored(self) -> dict[str, Any]:
        return self._history(await self.storage.get(MEMORY_SHORT, self.session_id))

    def _history(self, stored: Any) -> dict[str, Any]:
        """The stored history (an empty one if absent); SerializationError if it is not one."""
        if stored is None:
            return {"total": 0, "messages": []}
        if not _is_history(stored):
            raise SerializationError(f"{MEMORY_SHORT!r}/{self.session_id!r} is not a chat history")
        return dict(stored)

    async def messages(self, last: int | None = None) -> builtins.list[M]:
        """The kept messages, oldest first; with `last`, only the newest `last`."""
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
            raise ValueError(f"last must be a positive int or None, not {last!r}")
        kept = (await self._stored())["messages"]
        return self._load(kept if last is None else kept[-last:])

    async def total(self) -> int:
        """How many messages were ever added (kept or not)."""
        return int((await self._stored())["total"])

    async def clear(self) -> bool:
        """Forget every message and the total; True if there was a history."""
        return await self.storage.delete(MEMORY_SHORT, self.session_id)


def _is_history(stored: Any) -> bool:
    return (
        isinstance(stored, dict)
        and isinstance(stored.get("total"), int)
        and isinstance(stored.get("messages"), list)
    )


class Summaries:
    """Long-term summaries in `memory:long`, one per scope (a session's scope is its id)."""

    def __init__(self, storage: KeyValue, *, ttl: TTL | None = None) -> None:
        check_ttl(ttl)
        self.storage = storage
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"Summaries({self.storage!r})"

    async def get(self, scope: str) -> Any:
        """The summary (text or any JSON value), or None."""
        return await self.storage.get(MEMORY_LONG, scope)

    async def set(self, scope: str, text_or_value: Any) -> None:
        await self.storage.set(MEMORY_LONG, scope, text_or_value, ttl=self.ttl)

    async def update(
        self, scope: str, fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]]
    ) -> Any:
        """Atomically store `fn(current or None)` and return it; `fn` may run more than once."""
        return await self.storage.update(MEMORY_LONG, scope, fn, ttl=self.ttl)
