"""Google ADK sessions on radaros: `RadarosSessionService`, ADK's `BaseSessionService`.

Plain JSON entries, with the app name, user id and session id of each key percent-encoded
(`%` and `/`), so no id reaches into another's keys:

```
namespace         key                                   value
adk:sessions      <app>/<user>/<session>                {"state", "revision", "incarnation",
                                                         "create_time", "update_time",
                                                         "newest"}
adk:events        <app>/<user>/<session>/<incarnation>/ one event (ADK's own JSON form)
                    <revision, 19 digits>
adk:app_state     <app>                                 the app's state (`app:` keys)
adk:user_state    <app>/<user>                          the user's state (`user:` keys)
```
Every `append_event` is one compare-and-swap of the session's entry: it checks the session
object's revision (`StaleSessionError` if another writer got there first), applies the
session-scoped state delta, moves the revision on and keeps the event as `newest`; then the
event gets its own entry at that revision. A crash between the two loses nothing: `newest`
is read as the session's last event until the next append. Events are in append order (the
revision), never in timestamp order. `app:` and `user:` deltas are merged into their
entries, each atomically, right after. `temp:` keys are never stored. A re-created session
(delete, then create with the same id) has a new incarnation, so no late event of the old
one can appear in it.

State values must be JSON (strings, numbers, booleans, None, lists, dicts, or what pydantic
turns into those, like datetimes and models): anything else is refused with
`SerializationError` before anything is written (ADK's SQL services store a lossy string
instead).
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
import uuid
from typing import Any

from google.adk.errors import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
    ListSessionsResponse,
)
from google.adk.sessions.session import Session
from google.adk.sessions.state import State
from pydantic_core import to_jsonable_python

from radaros.integrations.bridge import Bridge
from radaros.storage.codec import check_value
from radaros.storage.errors import SerializationError
from radaros.storage.protocol import KeyValue
from radaros.storage.validate import check_key, check_namespace, quote_part, unquote_part
from radaros.sync import SyncStorage

__all__ = ["RadarosSessionService", "StaleSessionError"]

STALE = (
    "the session was changed since this session object was read (another run appended "
    "to it): get the session again and retry"
)


class RadarosSessionService(BaseSessionService):
    """ADK sessions, their events and the app- and user-scoped state, in radaros storage.

    Any `KeyValue` (or a `SyncStorage`, whose loop thread then runs every call) works;
    `namespace` names the storage namespaces used (`<namespace>:sessions`, ...).
    """

    def __init__(self, storage: KeyValue | SyncStorage, *, namespace: str = "adk") -> None:
        self._bridge = Bridge(storage)
        self._storage = self._bridge.storage
        self._sessions = check_namespace(f"{namespace}:sessions")
        self._events = check_namespace(f"{namespace}:events")
        self._app_state = check_namespace(f"{namespace}:app_state")
        self._user_state = check_namespace(f"{namespace}:user_state")

    def __repr__(self) -> str:
        return f"RadarosSessionService({self._storage!r})"

    # -- BaseSessionService ------------------------------------------------------------------

    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        session_id = session_id or str(uuid.uuid4())
        key = _session_key(app_name, user_id, session_id)
        deltas = _split_state(state or {})
        return await self._bridge.call(self._create(app_name, user_id, session_id, key, deltas))

    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> Session | None:
        key = _session_key(app_name, user_id, session_id)
        recent = None if config is None else config.num_recent_events
        if recent is not None and (isinstance(recent, bool) or recent < 0):
            raise ValueError(f"num_recent_events must be an int >= 0 or None, not {recent!r}")
        return await self._bridge.call(self._get(app_name, user_id, session_id, key, config))

    async def list_sessions(
        self, *, app_name: str, user_id: str | None = None
    ) -> ListSessionsResponse:
        prefix = _part(app_name) + "/" + ("" if user_id is None else _part(user_id) + "/")
        check_key(prefix)
        return await self._bridge.call(self._list(app_name, prefix))

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        key = _session_key(app_name, user_id, session_id)
        await self._bridge.call(self._delete(key))

    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        key = _user_key(app_name, user_id)
        stored = await self._bridge.call(self._storage.get(self._user_state, key))
        return dict(stored or {})

    async def append_event(self, session: Session, event: Event) -> Event:
        if event.partial:
            return event
        # As BaseSessionService does: `temp:` keys reach the in-memory session (later agents
        # of this invocation read them), never the stored event or state.
        delta = dict(event.actions.state_delta) if event.actions else {}
        temporary = {
            name: value for name, value in delta.items() if name.startswith(State.TEMP_PREFIX)
        }
        key = _session_key(session.app_name, session.user_id, session.id)
        deltas = _split_state(delta)
        if temporary:
            event.actions.state_delta = {n: v for n, v in delta.items() if n not in temporary}
        stored_event = _dump_event(event)
        session.state.update(temporary)
        revision = await self._bridge.call(
            self._append(session, key, deltas, stored_event, event.timestamp)
        )
        session._storage_update_marker = str(revision)
        session.last_update_time = event.timestamp
        session.state.update({n: v for n, v in delta.items() if n not in temporary})
        session.events.append(event)
        return event

    # -- on the storage's loop ---------------------------------------------------------------

    async def _create(
        self,
        app_name: str,
        user_id: str,
        session_id: str,
        key: str,
        deltas: dict[str, dict[str, Any]],
    ) -> Session:
        now = time.time()
        entry = {
            "state": deltas["session"],
            "revision": 0,
            "incarnation": uuid.uuid4().hex,
            "create_time": now,
            "update_time": now,
            "newest": None,
        }
        if not await self._storage.add(self._sessions, key, entry):
            raise AlreadyExistsError(f"Session with id {session_id} already exists.")
        app_state, user_state = await self._merge_scoped(app_name, user_id, deltas)
        session = Session(
            id=session_id,
            app_name=app_name,
            user_id=user_id,
            state=_merged(app_state, user_state, deltas["session"]),
            events=[],
            last_update_time=now,
        )
        session._storage_update_marker = "0"
        return session

    async def _get(
        self,
        app_name: str,
        user_id: str,
        session_id: str,
        key: str,
        config: GetSessionConfig | None,
    ) -> Session | None:
        entry, app_state, user_state = await asyncio.gather(
            self._storage.get(self._sessions, key),
            self._storage.get(self._app_state, _part(app_name)),
            self._storage.get(self._user_state, _user_key(app_name, user_id)),
        )
        if entry is None:
            return None
        recent = None if config is None else config.num_recent_events
        after = None if config is None else config.after_timestamp
        events = [] if recent == 0 else await self._events_of(key, entry, recent, after)
        session = Session(
            id=session_id,
            app_name=app_name,
            user_id=user_id,
            state=_merged(app_state or {}, user_state or {}, entry["state"]),
            events=events,
            last_update_time=entry["update_time"],
        )
        session._storage_update_marker = str(entry["revision"])
        return session

    async def _events_of(
        self, key: str, entry: dict[str, Any], recent: int | None, after: float | None
    ) -> builtins.list[Event]:
        """The session's events in append order: the newest `recent` of those at or after
        `after` (reading only the newest `recent` entries when there is no `after`)."""
        prefix = f"{key}/{entry['incarnation']}/"
        limit = recent if after is None else None
        stored = [
            (revision_entry.key, revision_entry.value)
            for revision_entry in await self._storage.list(
                self._events, prefix, reverse=True, limit=limit
            )
        ]
        newest = entry["newest"]
        if newest is not None:
            newest_key = _event_key(prefix, newest["revision"])
            if not stored or stored[0][0] < newest_key:  # its own entry is not written yet
                stored.insert(0, (newest_key, newest["event"]))
        events = [_load_event(value) for _, value in reversed(stored)]
        if after is not None:
            events = [event for event in events if event.timestamp >= after]
        if recent is not None:
            events = events[-recent:] if recent else []
        return events

    async def _list(self, app_name: str, prefix: str) -> ListSessionsResponse:
        entries = await self._storage.list(self._sessions, prefix)
        app_state = await self._storage.get(self._app_state, _part(app_name)) or {}
        owners = sorted({entry.key.split("/")[1] for entry in entries})
        user_keys = [f"{_part(app_name)}/{owner}" for owner in owners]
        user_states = dict(
            zip(owners, await self._storage.get_many(self._user_state, user_keys), strict=False)
        )
        sessions = []
        for stored in entries:
            _, owner, session_part = stored.key.split("/")
            sessions.append(
                Session(
                    id=unquote_part(session_part),
                    app_name=app_name,
                    user_id=unquote_part(owner),
                    state=_merged(app_state, user_states[owner] or {}, stored.value["state"]),
                    events=[],
                    last_update_time=stored.value["update_time"],
                )
            )
        sessions.sort(key=lambda session: (session.last_update_time, session.user_id, session.id))
        return ListSessionsResponse(sessions=sessions)

    async def _delete(self, key: str) -> None:
        await self._storage.delete(self._sessions, key)
        await self._storage.clear(self._events, f"{key}/")

    async def _append(
        self,
        session: Session,
        key: str,
        deltas: dict[str, dict[str, Any]],
        stored_event: dict[str, Any],
        timestamp: float,
    ) -> int:
        marker = session._storage_update_marker
        seen = session.last_update_time
        newest_id = session.events[-1].id if session.events else None

        def advance(current: Any) -> Any:
            if current is None:
                raise SessionNotFoundError(f"Session {session.id} not found.")
            if marker is not None:
                if marker != str(current["revision"]):
                    raise StaleSessionError(STALE)
            elif current["update_time"] > seen and _newest_id(current) != newest_id:
                raise StaleSessionError(STALE)  # a session object from elsewhere, behind
            revision = current["revision"] + 1
            return {
                **current,
                "state": {**current["state"], **deltas["session"]},
                "revision": revision,
                "update_time": timestamp,
                "newest": {"revision": revision, "event": stored_event},
            }

        entry = await self._storage.update(self._sessions, key, advance)
        revision: int = entry["revision"]
        prefix = f"{key}/{entry['incarnation']}/"
        await self._storage.set(self._events, _event_key(prefix, revision), stored_event)
        await self._merge_scoped(session.app_name, session.user_id, deltas)
        return revision

    async def _merge_scoped(
        self, app_name: str, user_id: str, deltas: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Merge the `app:` and `user:` deltas into their entries; both states, as stored."""

        def merge(delta: dict[str, Any]) -> Any:
            return lambda current: {**(current or {}), **delta}

        app_key, user_key = _part(app_name), _user_key(app_name, user_id)
        app_state, user_state = await asyncio.gather(
            self._storage.update(self._app_state, app_key, merge(deltas["app"]))
            if deltas["app"]
            else self._storage.get(self._app_state, app_key),
            self._storage.update(self._user_state, user_key, merge(deltas["user"]))
            if deltas["user"]
            else self._storage.get(self._user_state, user_key),
        )
        return app_state or {}, user_state or {}


def _part(text: str) -> str:
    if not isinstance(text, str) or not text:
        raise ValueError(f"app names, user ids and session ids must be non-empty str: {text!r}")
    return quote_part(text)


def _session_key(app_name: str, user_id: str, session_id: str) -> str:
    key = f"{_part(app_name)}/{_part(user_id)}/{_part(session_id)}"
    check_key(_event_key(f"{key}/{'0' * 32}/", 0))  # the longest key it leads to
    return key


def _user_key(app_name: str, user_id: str) -> str:
    return check_key(f"{_part(app_name)}/{_part(user_id)}")


def _event_key(prefix: str, revision: int) -> str:
    return f"{prefix}{revision:019d}"


def _split_state(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ADK's state scopes: `app:` and `user:` keys (prefix removed), `temp:` keys dropped,
    the rest the session's own; values as JSON, checked before anything is written."""
    deltas: dict[str, dict[str, Any]] = {"app": {}, "user": {}, "session": {}}
    for name, value in state.items():
        if name.startswith(State.APP_PREFIX):
            deltas["app"][name.removeprefix(State.APP_PREFIX)] = value
        elif name.startswith(State.USER_PREFIX):
            deltas["user"][name.removeprefix(State.USER_PREFIX)] = value
        elif not name.startswith(State.TEMP_PREFIX):
            deltas["session"][name] = value
    try:
        jsonable: dict[str, dict[str, Any]] = to_jsonable_python(deltas)
    except Exception as error:  # pydantic_core's own error type for what it cannot convert
        raise SerializationError(f"session state must be JSON: {error}") from None
    check_value(jsonable)
    return jsonable


def _merged(
    app_state: dict[str, Any], user_state: dict[str, Any], session_state: dict[str, Any]
) -> dict[str, Any]:
    merged = dict(session_state)
    merged.update({State.APP_PREFIX + name: value for name, value in app_state.items()})
    merged.update({State.USER_PREFIX + name: value for name, value in user_state.items()})
    return merged


def _dump_event(event: Event) -> dict[str, Any]:
    """The event as ADK's JSON form (bytes in base64), as a JSON value."""
    stored: dict[str, Any] = json.loads(event.model_dump_json(exclude_none=True))
    check_value(stored)
    return stored


def _load_event(stored: Any) -> Event:
    return Event.model_validate_json(json.dumps(stored))


def _newest_id(entry: dict[str, Any]) -> Any:
    newest = entry.get("newest")
    return None if newest is None else newest["event"].get("id")
