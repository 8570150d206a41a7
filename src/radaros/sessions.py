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
memory:short   <session id>                     the history's counter: messages ever
                                                 added (an int; {"deleted": true} for a
                                                 while after Sessions.delete)
memory:short   <session id>/1<number, 19 digits> one message (its number from the counter)
memory:short   <session id>/0<index, 19 digits>  a message converted from a 0.2 history
memory:long    <scope> (a session's: its id)    any JSON value (a summary)
```
In `memory:short` keys the session id has `%` and `/` percent-encoded, so a counter key
holds no `/` and one session's messages are exactly the keys under `<id>/` (radaros 0.2
kept a whole history at the id as it is: it is read there and converted). Times are ISO
8601 strings in UTC. Numbers come from one atomic `incr` per `add`, so concurrent writers
from any number of tasks, instances or processes lose no message, the total is exact, and
order never depends on a clock.
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
from radaros.storage.codec import check_value
from radaros.storage.errors import SerializationError, StorageError
from radaros.storage.protocol import (
    DELETE,
    KEEP,
    MEMORY_LONG,
    MEMORY_SHORT,
    SESSION_PREFIX,
    TTL,
    KeyValue,
    numbered_key,
)
from radaros.storage.validate import check_key, check_ttl, quote_part

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
    messages and its summary. Of concurrent `create`s of one id exactly one wins, and only
    the winner writes the user index. `touch` costs the same whatever the history's length.
    """

    def __init__(self, storage: KeyValue, *, ttl: TTL | None = None) -> None:
        self.storage = storage
        check_ttl(ttl)
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"Sessions({self.storage!r}, ttl={self.ttl!r})"

    @overload
    def history(
        self, session_id: str, *, max_messages: int | None = None
    ) -> ChatHistory[dict[str, Any]]: ...

    @overload
    def history(
        self, session_id: str, *, message_type: type[M], max_messages: int | None = None
    ) -> ChatHistory[M]: ...

    def history(
        self, session_id: str, *, message_type: Any = None, max_messages: int | None = None
    ) -> ChatHistory[Any]:
        """The session's `ChatHistory` (dict messages, or `message_type`), expiring with
        the session."""
        if message_type is None:
            return ChatHistory(self.storage, session_id, max_messages=max_messages, ttl=self.ttl)
        return ChatHistory(
            self.storage,
            session_id,
            message_type=message_type,
            max_messages=max_messages,
            ttl=self.ttl,
        )

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
        index_key = None if user_id is None else check_key(f"{quote_part(user_id)}/{session_id}")
        # The session first, with `add`: exactly one of concurrent creates wins, and only
        # the winner writes the index entry, so no loser can touch the winner's entry. A
        # failure between the two leaves a session `list` misses until `touch` re-indexes it.
        if not await self.storage.add(SESSION_META, session_id, document, ttl=self.ttl):
            raise SessionExistsError(f"session {session_id!r} already exists")
        # A deleted session's tombstone goes, and whatever a writer racing that delete
        # left: the id is new again.
        tombstones: builtins.list[bool] = []

        def drop_tombstone(current: Any) -> Any:
            tombstones.append(_is_tombstone(current))
            return DELETE if tombstones[-1] else KEEP

        await self.storage.update(MEMORY_SHORT, _counter_key(session_id), drop_tombstone)
        if tombstones[-1]:
            await _clear_messages(self.storage, _message_range(session_id))
        if index_key is not None:
            await self.storage.set(
                SESSION_USERS, index_key, {"created_at": document["created_at"]}, ttl=self.ttl
            )
        return session

    async def get_or_create(
        self,
        session_id: str,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Session:
        """The session with this id, created (for `user_id`, with `metadata`) if there is
        none. Of concurrent calls, one creates it and all get the same session."""
        while True:
            try:
                return await self.create(user_id, metadata, session_id)
            except SessionExistsError:
                found = await self.get(session_id)
                if found is not None:
                    return found

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
        """Restart the session's expiry: its entry, index entry, summary and the history's
        counter (each message keeps `ttl` from when it was added), in a few round trips
        whatever the history's length; False if the session does not exist."""
        session = await self.get(session_id)
        if session is None:
            return False
        if session.user_id is not None:
            index_key = f"{quote_part(session.user_id)}/{session_id}"
            if not await self.storage.touch(SESSION_USERS, index_key, self.ttl):
                created = {"created_at": session.created_at.isoformat()}
                await self.storage.add(SESSION_USERS, index_key, created, ttl=self.ttl)
        await self.storage.touch(MEMORY_SHORT, _counter_key(session_id), self.ttl)
        await self.storage.touch(MEMORY_LONG, session_id, self.ttl)
        return await self.storage.touch(SESSION_META, session_id, self.ttl)

    async def list(self, user_id: str | None = None) -> builtins.list[Session]:
        """Sessions newest first: one user's (through the per-user index), or everyone's."""
        user_id = _check_user(user_id)
        if user_id is None:
            sessions = [Session.from_json(v) for _, v in await self.storage.list(SESSION_META)]
        else:
            entries = await self.storage.list(SESSION_USERS, f"{quote_part(user_id)}/")
            ids = [key.partition("/")[2] for key, _ in entries]
            found = await self.storage.get_many(SESSION_META, ids)
            sessions = [Session.from_json(stored) for stored in found if stored is not None]
            sessions = [s for s in sessions if s.user_id == user_id]
        return sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True)

    async def delete(self, session_id: str) -> bool:
        """Remove the session, its messages, its summary and its index entry; True if it
        existed. Once it returns nothing of the session is readable: the history's counter
        becomes a tombstone first, so an `add` racing the delete is refused instead of
        bringing the messages back (the tombstone expires by itself). The session's own
        entry goes last, so an interrupted delete can be run again to finish."""
        session = await self.get(session_id)
        counter = _counter_key(session_id)
        await self.storage.set(MEMORY_SHORT, counter, {"deleted": True}, ttl=TOMBSTONE_TTL_S)
        await _clear_messages(self.storage, _message_range(session_id))
        if counter != session_id:
            await self.storage.delete(MEMORY_SHORT, session_id)  # a 0.2 history
        await self.storage.delete(MEMORY_LONG, session_id)
        if session is not None and session.user_id is not None:
            await self.storage.delete(SESSION_USERS, f"{quote_part(session.user_id)}/{session_id}")
        return await self.storage.delete(SESSION_META, session_id)


class ChatHistory(Generic[M]):
    """A session's messages in `memory:short`, oldest first, one entry per message.

    `add` takes the next numbers from the session's counter and writes the messages under
    them (`add_numbered`: on memory and SQLite in one transaction), so concurrent writers
    from any number of tasks, instances or processes lose nothing, order is the counter's
    (never a clock's), and the total is exact. `add`, `messages(last=N)` and `pop` cost the
    same at 10 and at 100,000 messages: each reads or writes only the entries it needs. With
    `max_messages` only the newest that many are kept: each `add` deletes the ones its
    messages push out. Messages are JSON dicts, or instances of the pydantic model (or
    dataclass, TypedDict...) given as `message_type` (needs `radaros[pydantic]`).

    With `ttl`, each message expires `ttl` after it was added, and the history's counter
    `ttl` after the last add; once the counter is gone, no message is shown. A history
    written by radaros 0.2 (one entry holding every message) is read as it is, and
    converted to this layout by its next `add`.
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
        self._counter = _counter_key(session_id)
        self._prefix = f"{self._counter}/"
        self._numbered = f"{self._prefix}1"  # add_numbered's key prefix: `_message_key`
        self._range = _message_range(session_id)
        check_key(_message_key(self._prefix, 2**63 - 1))  # the longest key it will write
        self._legacy_checked = self._counter == session_id  # else: 0.2 kept it elsewhere
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
            check_value(message)  # before the counter moves: a bad batch takes no number
        return builtins.list(messages)

    def _load(self, messages: builtins.list[Any]) -> builtins.list[M]:
        if self._type is None:
            return messages
        loaded: builtins.list[M] = self._type._load(self.session_id, messages)
        return loaded

    async def add(self, *messages: M) -> int:
        """Append the messages; return the total ever added (this batch included)."""
        new = self._dump(messages)
        if not new:
            return await self.total()
        if not self._legacy_checked:
            await self._convert(self.session_id)
            self._legacy_checked = True
        while True:
            try:
                total = await self.storage.add_numbered(
                    MEMORY_SHORT, self._counter, self._numbered, new, ttl=self.ttl
                )
                break
            except TypeError:  # the counter's entry holds a 0.2 history or a tombstone
                await self._convert(self._counter)
        # A delete may have run between the numbers and the write (drivers that take them
        # in two steps): then what was just written must not outlive it (the tombstone
        # says so).
        if _is_tombstone(await self.storage.get(MEMORY_SHORT, self._counter)):
            first = total - len(new) + 1
            written = [_message_key(self._prefix, first + i) for i in range(len(new))]
            await self.storage.delete_many(MEMORY_SHORT, written)
            raise SessionNotFoundError(f"session {self.session_id!r} was deleted")
        if self.max_messages is not None and total > self.max_messages:
            await self._trim(total, len(new))
        return total

    async def _trim(self, total: int, added: int) -> None:
        """Delete what this add pushed out of the window: the `added` numbers just below
        it (bounded work). Now and then, also whatever else is left below it (a message a
        slower writer stored after its number had left the window)."""
        cutoff = total - self.max_messages  # type: ignore[operator]
        pushed_out = range(max(1, cutoff - added + 1), cutoff + 1)
        await self.storage.delete_many(
            MEMORY_SHORT, [_message_key(self._prefix, number) for number in pushed_out]
        )
        if total // TRIM_EVERY != (total - added) // TRIM_EVERY:
            stop = _message_key(self._prefix, cutoff + 1)
            start = self._range[0]
            left = await self.storage.list(MEMORY_SHORT, start=start, stop=stop, limit=TRIM_EVERY)
            await self.storage.delete_many(MEMORY_SHORT, [entry.key for entry in left])

    async def _convert(self, key: str) -> None:
        """Replace the 0.2 history at `key` (the session id as it was) by this layout: its
        messages under numbers that sort first, its total in the counter. Refuse to revive
        a deleted session's history. Safe when several writers convert at once: the
        messages go to the same keys, and one compare-and-swap takes the old entry."""
        stored = await self.storage.get(MEMORY_SHORT, key)
        if _is_tombstone(stored):
            raise SessionNotFoundError(f"session {self.session_id!r} was deleted")
        if not _is_history(stored):
            if stored is None or key != self._counter or _is_counter(stored):
                return  # nothing to convert (or converted meanwhile): go on
            raise SerializationError(f"{MEMORY_SHORT!r}/{self.session_id!r} is not a chat history")
        old = {
            _legacy_key(self._prefix, i): message for i, message in enumerate(stored["messages"])
        }
        if old:
            await self.storage.set_many(MEMORY_SHORT, old, ttl=self.ttl)
        total = stored["total"]
        if key == self._counter:  # the old entry becomes the counter, at the old total
            await self.storage.update(
                MEMORY_SHORT, key, lambda current: total if current == stored else KEEP
            )
            return
        taken: builtins.list[bool] = []

        def take(current: Any) -> Any:
            taken.append(current == stored)
            return DELETE if taken[-1] else KEEP

        await self.storage.update(MEMORY_SHORT, key, take)
        if taken[-1]:  # this writer took the old entry: its total joins the counter
            await self.storage.incr(MEMORY_SHORT, self._counter, total, ttl=self.ttl)

    async def messages(self, last: int | None = None) -> builtins.list[M]:
        """The kept messages, oldest first; with `last`, only the newest `last`."""
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
            raise ValueError(f"last must be a positive int or None, not {last!r}")
        wanted = (
            last if self.max_messages is None else min(last or self.max_messages, self.max_messages)
        )
        entries = await self.storage.list(
            MEMORY_SHORT, start=self._range[0], stop=self._range[1], reverse=True, limit=wanted
        )
        if entries:
            return self._load([entry.value for entry in reversed(entries)])
        legacy = await self.storage.get(MEMORY_SHORT, self.session_id)
        if not _is_history(legacy):
            return []
        kept = legacy["messages"]
        return self._load(kept if wanted is None else kept[-wanted:])

    async def pop(self) -> M | None:
        """Remove the newest message and return it (None when there is none). Atomic: of
        concurrent pops each message goes to exactly one. The total is unchanged."""
        while True:
            newest = await self.storage.list(
                MEMORY_SHORT, start=self._range[0], stop=self._range[1], reverse=True, limit=1
            )
            if not newest:
                return None
            taken = await self.storage.pop(MEMORY_SHORT, newest[0].key, _ABSENT)
            if taken is not _ABSENT:
                return self._load([taken])[0]

    async def total(self) -> int:
        """How many messages were ever added (kept or not)."""
        counter, legacy = await self.storage.get_many(
            MEMORY_SHORT, [self._counter, self.session_id]
        )
        if _is_history(counter):  # a 0.2 history, not converted yet
            return int(counter["total"])
        total = counter if _is_counter(counter) else 0
        if self._counter != self.session_id and _is_history(legacy):  # 0.2, at the raw id
            total += int(legacy["total"])
        return total

    async def clear(self) -> bool:
        """Forget every message and the total; True if there was a history."""
        removed = await _clear_messages(self.storage, self._range)
        counter = await self.storage.delete(MEMORY_SHORT, self._counter)
        legacy = self._counter != self.session_id and await self.storage.delete(
            MEMORY_SHORT, self.session_id
        )
        return counter or legacy or removed > 0


CLEAR_PAGE = 1000
TRIM_EVERY = 64
"""Every this many messages, an add also deletes any stray message below the window."""
TOMBSTONE_TTL_S = 3600.0
"""How long a deleted session's history refuses new messages (a writer racing the delete)."""
_ABSENT: Any = object()


def _counter_key(session_id: str) -> str:
    """A history's counter in `memory:short`: the encoded id, which holds no `/`, so no
    session's message key can start with another's counter."""
    return quote_part(session_id)


def _message_range(session_id: str) -> tuple[str, str]:
    """`(start, stop)` of a session's numbered messages (`<id>/0...` and `<id>/1...`)."""
    prefix = f"{quote_part(session_id)}/"
    return f"{prefix}0", f"{prefix}2"


def _message_key(prefix: str, number: int) -> str:
    """Messages sort by number: `1` and 19 digits (enough for any signed 64-bit total),
    as `add_numbered` writes them."""
    return numbered_key(f"{prefix}1", number)


def _legacy_key(prefix: str, index: int) -> str:
    """A converted 0.2 message: `0` and its index, before every message added since."""
    return f"{prefix}0{index:019d}"


def _is_history(stored: Any) -> bool:
    return (
        isinstance(stored, dict)
        and isinstance(stored.get("total"), int)
        and isinstance(stored.get("messages"), list)
    )


def _is_counter(stored: Any) -> bool:
    return isinstance(stored, int) and not isinstance(stored, bool)


async def _clear_messages(storage: KeyValue, bounds: tuple[str, str]) -> int:
    """Delete a session's messages (its key range, a page at a time); how many."""
    removed = 0
    start, stop = bounds
    while entries := await storage.list(MEMORY_SHORT, start=start, stop=stop, limit=CLEAR_PAGE):
        removed += await storage.delete_many(MEMORY_SHORT, [entry.key for entry in entries])
    return removed


def _is_tombstone(stored: Any) -> bool:
    return isinstance(stored, dict) and stored.get("deleted") is True


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
