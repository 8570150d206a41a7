"""OpenAI Agents SDK sessions on radaros: `RadarosSession`, the SDK's `Session` protocol.

A session's items are a radaros `ChatHistory` (one entry per item in `memory:short`, numbered
by an atomic counter), so:

- items keep the order they were added in, whatever the clocks say, and concurrent
  `add_items` from any number of tasks, threads or processes lose nothing;
- `pop_item` is atomic: of concurrent pops, each item goes to exactly one;
- `get_items(limit=N)` reads only the newest N entries, at 10 items as at 100,000;
- `RadarosSession(id, storage)` and `ChatHistory(storage, id)` (or `Sessions(storage)
  .history(id)`) are the same conversation: radaros's tools read what the agent wrote.

Items are stored as the JSON they are (no pickle); the session id is data (percent-encoded
in keys, so `a` and `a/b` never meet). Give a `SyncStorage` for `Runner.run_sync` or
sessions shared between threads and event loops: every call then runs on its loop thread.
"""

from __future__ import annotations

from typing import Any

from agents.items import TResponseInputItem
from agents.memory import SessionSettings
from agents.memory.session_settings import coerce_session_settings, resolve_session_limit

from radaros.integrations.bridge import Bridge
from radaros.sessions import ChatHistory
from radaros.storage.protocol import TTL, KeyValue
from radaros.sync import SyncStorage

__all__ = ["RadarosSession"]


class RadarosSession:
    """One conversation of the OpenAI Agents SDK, kept in radaros storage.

    `session_settings` (a `SessionSettings` or its dict) gives the default `limit` of
    `get_items`, as for the SDK's own sessions. With `ttl` (seconds or a timedelta) each item
    expires `ttl` after it was added, and the whole session `ttl` after the last add.
    The session does not own the storage: close the storage, not the session.
    """

    def __init__(
        self,
        session_id: str,
        storage: KeyValue | SyncStorage,
        *,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        ttl: TTL | None = None,
    ) -> None:
        self._bridge = Bridge(storage)
        self._history: ChatHistory[dict[str, Any]] = ChatHistory(
            self._bridge.storage, session_id, ttl=ttl
        )
        self.session_id = session_id
        self.session_settings: SessionSettings | None = coerce_session_settings(
            SessionSettings() if session_settings is None else session_settings
        )

    def __repr__(self) -> str:
        return f"RadarosSession({self.session_id!r}, {self._bridge.storage!r})"

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The items, oldest first; with `limit` (else `session_settings.limit`), the newest
        that many. A limit of 0 gives none; a negative one is refused."""
        wanted = resolve_session_limit(limit, self.session_settings)
        if wanted is not None and (
            isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 0
        ):
            raise ValueError(f"limit must be an int >= 0 or None, not {wanted!r}")
        if wanted == 0:
            return []
        items: list[Any] = await self._bridge.call(self._history.messages(last=wanted))
        return items

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append the items, in order (one numbered entry each)."""
        added: list[Any] = list(items)
        for item in added:
            if not isinstance(item, dict):
                raise TypeError(f"session items must be dicts, not {type(item).__name__}")
        if added:
            await self._bridge.call(self._history.add(*added))

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the newest item and return it (None when the session is empty)."""
        item: Any = await self._bridge.call(self._history.pop())
        return item  # type: ignore[no-any-return]

    async def clear_session(self) -> None:
        """Forget every item of this session."""
        await self._bridge.call(self._history.clear())
