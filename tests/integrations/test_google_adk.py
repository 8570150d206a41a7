"""RadarosSessionService: every behaviour ADK documents for a session service, on every
driver, agent runs with a scripted model, and concurrent runs on one session."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncGenerator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.conftest import require

require("google.adk")

from google.adk.agents import LlmAgent  # noqa: E402
from google.adk.errors.already_exists_error import AlreadyExistsError  # noqa: E402
from google.adk.events.event import Event  # noqa: E402
from google.adk.events.event_actions import EventActions  # noqa: E402
from google.adk.models.base_llm import BaseLlm  # noqa: E402
from google.adk.models.llm_request import LlmRequest  # noqa: E402
from google.adk.models.llm_response import LlmResponse  # noqa: E402
from google.adk.runners import Runner  # noqa: E402
from google.adk.sessions.base_session_service import GetSessionConfig  # noqa: E402
from google.genai import types  # noqa: E402

from radaros.integrations.google_adk import RadarosSessionService, StaleSessionError  # noqa: E402
from radaros.storage import SerializationError, StorageDriver  # noqa: E402
from radaros.sync import open_storage  # noqa: E402

APP = "app"


def text_event(text: str, *, author: str = "user", **delta: Any) -> Event:
    return Event(
        author=author,
        invocation_id="run-1",
        content=types.Content(role="user", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=delta),
    )


def texts(events: list[Event]) -> list[str]:
    return [
        event.content.parts[0].text or ""
        for event in events
        if event.content is not None and event.content.parts
    ]


class ScriptedLlm(BaseLlm):
    """Answers each request with the next scripted reply (and records what it was sent)."""

    replies: list[str]
    seen: list[int]

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self.seen.append(len(llm_request.contents))
        yield LlmResponse(
            content=types.Content(role="model", parts=[types.Part(text=self.replies.pop(0))])
        )


@pytest.fixture
def service(storage: StorageDriver) -> RadarosSessionService:
    return RadarosSessionService(storage)


# -- create, get, list, delete ----------------------------------------------------------------


async def test_create_and_get(service: RadarosSessionService) -> None:
    made = await service.create_session(app_name=APP, user_id="u1", state={"topic": "tea"})
    assert made.id
    assert made.app_name == APP
    assert made.user_id == "u1"
    assert made.state == {"topic": "tea"}
    assert made.events == []
    got = await service.get_session(app_name=APP, user_id="u1", session_id=made.id)
    assert got is not None
    assert (got.id, got.state, got.events) == (made.id, {"topic": "tea"}, [])
    assert got.last_update_time == pytest.approx(made.last_update_time)
    assert await service.get_session(app_name=APP, user_id="u2", session_id=made.id) is None
    assert await service.get_session(app_name="other", user_id="u1", session_id=made.id) is None


async def test_a_duplicate_id_is_already_exists(service: RadarosSessionService) -> None:
    await service.create_session(app_name=APP, user_id="u", session_id="s", state={"n": 1})
    with pytest.raises(AlreadyExistsError):
        await service.create_session(app_name=APP, user_id="u", session_id="s", state={"n": 2})
    got = await service.get_session(app_name=APP, user_id="u", session_id="s")
    assert got is not None
    assert got.state == {"n": 1}


async def test_concurrent_creates_of_one_id_one_wins(service: RadarosSessionService) -> None:
    async def create(n: int) -> bool:
        try:
            await service.create_session(
                app_name=APP, user_id="u", session_id="race", state={"n": n}
            )
        except AlreadyExistsError:
            return False
        return True

    won = await asyncio.gather(*(create(n) for n in range(8)))
    assert won.count(True) == 1
    got = await service.get_session(app_name=APP, user_id="u", session_id="race")
    assert got is not None
    assert got.state == {"n": won.index(True)}


async def test_list_sessions_oldest_update_first_without_events(
    service: RadarosSessionService,
) -> None:
    first = await service.create_session(app_name=APP, user_id="u1", session_id="a")
    await service.create_session(app_name=APP, user_id="u1", session_id="b")
    await service.create_session(app_name=APP, user_id="u2", session_id="c")
    await service.create_session(app_name="other", user_id="u1", session_id="d")
    await service.append_event(first, text_event("hello", **{"user:lang": "fr"}))

    mine = await service.list_sessions(app_name=APP, user_id="u1")
    assert [session.id for session in mine.sessions] == ["b", "a"]  # "a" was updated last
    assert all(session.events == [] for session in mine.sessions)
    assert all(session.state == {"user:lang": "fr"} for session in mine.sessions)
    everyone = await service.list_sessions(app_name=APP)
    assert [(s.user_id, s.id) for s in everyone.sessions] == [("u1", "b"), ("u2", "c"), ("u1", "a")]
    assert everyone.sessions[1].state == {}
    assert (await service.list_sessions(app_name=APP, user_id="nobody")).sessions == []


async def test_delete_removes_the_session_and_its_events(service: RadarosSessionService) -> None:
    session = await service.create_session(app_name=APP, user_id="u", session_id="s")
    await service.append_event(session, text_event("one"))
    await service.delete_session(app_name=APP, user_id="u", session_id="s")
    assert await service.get_session(app_name=APP, user_id="u", session_id="s") is None
    assert (await service.list_sessions(app_name=APP, user_id="u")).sessions == []
    again = await service.create_session(app_name=APP, user_id="u", session_id="s")
    got = await service.get_session(app_name=APP, user_id="u", session_id=again.id)
    assert got is not None
    assert got.events == []
    with pytest.raises(StaleSessionError):  # the old object belongs to the deleted session
        await service.append_event(session, text_event("late"))
    await service.delete_session(app_name=APP, user_id="u", session_id="never-was")


async def test_an_event_written_after_delete_never_reaches_a_recreated_session(
    storage: StorageDriver,
) -> None:
    service = RadarosSessionService(storage)
    session = await service.create_session(app_name=APP, user_id="u", session_id="s")
    await service.append_event(session, text_event("one"))
    await service.delete_session(app_name=APP, user_id="u", session_id="s")
    with pytest.raises(Exception, match="not found"):  # ADK's SessionNotFoundError
        await service.append_event(session, text_event("late"))
    await service.create_session(app_name=APP, user_id="u", session_id="s")
    got = await service.get_session(app_name=APP, user_id="u", session_id="s")
    assert got is not None
    assert got.events == []


# -- events ----------------------------------------------------------------------------------


async def test_events_in_append_order_whatever_their_timestamps(
    service: RadarosSessionService,
) -> None:
    session = await service.create_session(app_name=APP, user_id="u")
    now = time.time()
    for n, skew in enumerate([0.0, -50.0, 10.0, -100.0]):  # clocks that disagree
        event = text_event(f"m{n}")
        event.timestamp = now + skew
        await service.append_event(session, event)
    assert texts(session.events) == ["m0", "m1", "m2", "m3"]
    got = await service.get_session(app_name=APP, user_id="u", session_id=session.id)
    assert got is not None
    assert texts(got.events) == ["m0", "m1", "m2", "m3"]
    assert [event.id for event in got.events] == [event.id for event in session.events]
    assert got.events[0] == session.events[0]


async def test_get_session_config(service: RadarosSessionService) -> None:
    session = await service.create_session(app_name=APP, user_id="u")
    for n in range(5):
        event = text_event(f"m{n}")
        event.timestamp = 1000.0 + n
        await service.append_event(session, event)

    async def read(**config: Any) -> list[str]:
        got = await service.get_session(
            app_name=APP, user_id="u", session_id=session.id, config=GetSessionConfig(**config)
        )
        assert got is not None
        return texts(got.events)

    assert await read(num_recent_events=2) == ["m3", "m4"]
    assert await read(num_recent_events=0) == []
    assert await read(num_recent_events=50) == ["m0", "m1", "m2", "m3", "m4"]
    assert await read(after_timestamp=1002.0) == ["m2", "m3", "m4"]
    assert await read(after_timestamp=1002.0, num_recent_events=1) == ["m4"]
    with pytest.raises(ValueError, match="num_recent_events"):  # (ADK >= 2.8 refuses it too)
        await read_unchecked(
            service, session.id, GetSessionConfig.model_construct(num_recent_events=-1)
        )


async def read_unchecked(
    service: RadarosSessionService, session_id: str, config: GetSessionConfig
) -> None:
    await service.get_session(app_name=APP, user_id="u", session_id=session_id, config=config)


async def test_partial_events_are_not_stored(service: RadarosSessionService) -> None:
    session = await service.create_session(app_name=APP, user_id="u")
    partial = text_event("stream chunk")
    partial.partial = True
    assert await service.append_event(session, partial) is partial
    got = await service.get_session(app_name=APP, user_id="u", session_id=session.id)
    assert got is not None
    assert got.events == []


async def test_event_content_round_trips_exactly(service: RadarosSessionService) -> None:
    session = await service.create_session(app_name=APP, user_id="u")
    event = Event(
        author="tool",
        invocation_id="inv",
        content=types.Content(
            role="user",
            parts=[
                types.Part(text="é ∂ 🐍 '; DROP TABLE x;--"),
                types.Part(inline_data=types.Blob(mime_type="image/png", data=b"\x00\x89PNG\xff")),
                types.Part(
                    function_call=types.FunctionCall(name="lookup", args={"q": "x", "n": 2})
                ),
            ],
        ),
        actions=EventActions(state_delta={"k": [1, 2.5, None]}),
    )
    await service.append_event(session, event)
    got = await service.get_session(app_name=APP, user_id="u", session_id=session.id)
    assert got is not None
    assert got.events == [event]


# -- state scopes ----------------------------------------------------------------------------


async def test_state_scopes(service: RadarosSessionService) -> None:
    one = await service.create_session(
        app_name=APP, user_id="u1", state={"mine": 1, "app:mode": "a", "user:lang": "en"}
    )
    two = await service.create_session(app_name=APP, user_id="u1")
    three = await service.create_session(app_name=APP, user_id="u2")
    await service.append_event(
        two, text_event("x", mine=2, **{"user:lang": "fr", "temp:scratch": "t", "app:mode": "b"})
    )
    assert two.state["temp:scratch"] == "t"  # in memory for the invocation...
    assert two.events[-1].actions.state_delta == {"mine": 2, "user:lang": "fr", "app:mode": "b"}

    async def state(session_id: str, user: str) -> dict[str, Any]:
        got = await service.get_session(app_name=APP, user_id=user, session_id=session_id)
        assert got is not None
        return got.state

    assert await state(one.id, "u1") == {"mine": 1, "app:mode": "b", "user:lang": "fr"}
    assert await state(two.id, "u1") == {"mine": 2, "app:mode": "b", "user:lang": "fr"}
    assert await state(three.id, "u2") == {"app:mode": "b"}  # ...never stored
    assert await service.get_user_state(app_name=APP, user_id="u1") == {"lang": "fr"}
    assert await service.get_user_state(app_name=APP, user_id="u2") == {}
    assert await service.get_user_state(app_name="other", user_id="u1") == {}


async def test_state_values_pydantic_can_convert_are_stored_as_json(
    service: RadarosSessionService,
) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    session = await service.create_session(app_name=APP, user_id="u", state={"when": when})
    got = await service.get_session(app_name=APP, user_id="u", session_id=session.id)
    assert got is not None
    assert got.state == {"when": "2026-01-02T03:04:05Z"}


async def test_bad_state_is_refused_before_anything_is_written(
    service: RadarosSessionService,
) -> None:
    with pytest.raises(SerializationError):
        await service.create_session(
            app_name=APP, user_id="u", session_id="s", state={"f": lambda: 1, "app:x": 1}
        )
    assert await service.get_session(app_name=APP, user_id="u", session_id="s") is None
    session = await service.create_session(app_name=APP, user_id="u", session_id="s")
    with pytest.raises(SerializationError):
        await service.append_event(session, text_event("x", n=float("nan")))
    got = await service.get_session(app_name=APP, user_id="u", session_id="s")
    assert got is not None
    assert got.events == []
    assert got.state == {}
    assert await service.get_user_state(app_name=APP, user_id="u") == {}
    for bad in ("", None, 7):
        with pytest.raises(ValueError, match="non-empty str"):
            await service.get_session(app_name=APP, user_id=bad, session_id="s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bytes"):  # too long for a key: refused, not cut
        await service.create_session(app_name=APP, user_id="u", session_id="x" * 2000)


async def test_hostile_ids_are_data(service: RadarosSessionService) -> None:
    ids = [("a", "b/c"), ("a/b", "c"), ("a", "b%2Fc"), ("a:b", "c"), ("a", "b"), ("a", "b/")]
    for n, (app, user) in enumerate(ids):
        await service.create_session(app_name=app, user_id=user, session_id="s", state={"n": n})
    for n, (app, user) in enumerate(ids):
        got = await service.get_session(app_name=app, user_id=user, session_id="s")
        assert got is not None
        assert got.state == {"n": n}
        listed = await service.list_sessions(app_name=app, user_id=user)
        assert [(s.user_id, s.state) for s in listed.sessions] == [(user, {"n": n})]
    everyone_in_a = await service.list_sessions(app_name="a")
    assert sorted(s.user_id for s in everyone_in_a.sessions) == ["b", "b%2Fc", "b/", "b/c"]


# -- stale sessions and concurrency ---------------------------------------------------------


async def test_append_to_a_stale_session_is_refused(service: RadarosSessionService) -> None:
    made = await service.create_session(app_name=APP, user_id="u", session_id="s")
    first = await service.get_session(app_name=APP, user_id="u", session_id="s")
    second = await service.get_session(app_name=APP, user_id="u", session_id="s")
    assert first is not None
    assert second is not None
    await service.append_event(first, text_event("first", n=1))
    with pytest.raises(StaleSessionError):
        await service.append_event(second, text_event("second", n=2))
    with pytest.raises(StaleSessionError):
        await service.append_event(made, text_event("third"))
    fresh = await service.get_session(app_name=APP, user_id="u", session_id="s")
    assert fresh is not None
    assert texts(fresh.events) == ["first"]
    assert fresh.state == {"n": 1}
    await service.append_event(fresh, text_event("second", n=2))
    final = await service.get_session(app_name=APP, user_id="u", session_id="s")
    assert final is not None
    assert texts(final.events) == ["first", "second"]
    assert final.state == {"n": 2}


async def test_a_session_object_from_elsewhere_is_checked_by_its_events(
    service: RadarosSessionService,
) -> None:
    stored = await service.create_session(app_name=APP, user_id="u", session_id="s")
    await service.append_event(stored, text_event("one"))
    copy = stored.model_copy(deep=True)
    copy._storage_update_marker = None  # as ADK's other services or hand-made objects have
    await service.append_event(copy, text_event("two"))  # it is up to date: accepted
    behind = copy.model_copy(deep=True)
    behind._storage_update_marker = None
    behind.events = behind.events[:1]
    behind.last_update_time = 0.0
    with pytest.raises(StaleSessionError):
        await service.append_event(behind, text_event("three"))


async def test_concurrent_writers_lose_no_event(service: RadarosSessionService) -> None:
    """Writers on one session, each re-reading the session when it is stale: every event
    acknowledged is stored exactly once, with every state delta, and an append that returned
    before another began is stored before it. (Two appends that overlap may be acknowledged
    in either order: each is ordered by its compare-and-swap, and the `user:` merge after it
    can finish later.)"""
    await service.create_session(app_name=APP, user_id="u", session_id="s")
    clock = itertools.count()
    began: dict[str, int] = {}
    returned: dict[str, int] = {}

    async def writer(name: str) -> None:
        for n in range(5):
            text = f"{name}-{n}"
            for _ in range(200):  # bounded retries
                session = await service.get_session(app_name=APP, user_id="u", session_id="s")
                assert session is not None
                began[text] = next(clock)
                try:
                    await service.append_event(
                        session, text_event(text, **{name: str(n), "user:last": name})
                    )
                except StaleSessionError:
                    continue
                returned[text] = next(clock)
                break
            else:
                pytest.fail("no append got through in 200 tries")

    await asyncio.gather(*(writer(f"w{i}") for i in range(4)))
    final = await service.get_session(app_name=APP, user_id="u", session_id="s")
    assert final is not None
    stored = texts(final.events)
    assert len(returned) == 20
    assert sorted(stored) == sorted(returned)
    position = {text: index for index, text in enumerate(stored)}
    out_of_order = [
        (first, then)
        for first in returned
        for then in returned
        if returned[first] < began[then] and position[first] > position[then]
    ]
    assert out_of_order == []
    assert {name: final.state[name] for name in ("w0", "w1", "w2", "w3")} == dict.fromkeys(
        ("w0", "w1", "w2", "w3"), "4"
    )


# -- agent runs ------------------------------------------------------------------------------


async def test_runner_keeps_the_conversation(service: RadarosSessionService) -> None:
    model = ScriptedLlm(model="scripted", replies=["Paris", "About 2 million"], seen=[])
    agent = LlmAgent(name="assistant", model=model, output_key="last_answer")
    runner = Runner(app_name=APP, agent=agent, session_service=service)
    await service.create_session(app_name=APP, user_id="u", session_id="chat")

    async def ask(text: str) -> list[Event]:
        message = types.Content(role="user", parts=[types.Part(text=text)])
        return [
            event
            async for event in runner.run_async(user_id="u", session_id="chat", new_message=message)
        ]

    await ask("Capital of France?")
    await ask("How many people live there?")
    assert model.seen == [1, 3]  # the second turn was sent the whole conversation
    got = await service.get_session(app_name=APP, user_id="u", session_id="chat")
    assert got is not None
    assert texts(got.events) == [
        "Capital of France?",
        "Paris",
        "How many people live there?",
        "About 2 million",
    ]
    assert got.state["last_answer"] == "About 2 million"


async def test_two_concurrent_runs_on_one_session(service: RadarosSessionService) -> None:
    """Both runs load the session, then race: a run whose session went stale fails with
    StaleSessionError and is retried; no acknowledged event is lost or doubled."""
    model = ScriptedLlm(model="scripted", replies=[f"reply {n}" for n in range(40)], seen=[])
    runner = Runner(
        app_name=APP, agent=LlmAgent(name="assistant", model=model), session_service=service
    )
    await service.create_session(app_name=APP, user_id="u", session_id="chat")

    async def run(text: str) -> int:
        message = types.Content(role="user", parts=[types.Part(text=text)])
        for attempt in range(20):  # bounded; a random pause breaks the runs' symmetry
            try:
                async for _ in runner.run_async(
                    user_id="u", session_id="chat", new_message=message
                ):
                    pass
            except StaleSessionError:
                await asyncio.sleep(random.random() * 0.02)
                continue
            return attempt
        raise AssertionError("the run never got through")

    await asyncio.gather(run("question A"), run("question B"))
    got = await service.get_session(app_name=APP, user_id="u", session_id="chat")
    assert got is not None
    said = texts(got.events)
    replies = [text for text in said if text.startswith("reply")]
    assert len(replies) == len(set(replies)) >= 2  # no event doubled
    for question in ("question A", "question B"):  # each question's last try is answered
        last = len(said) - 1 - said[::-1].index(question)
        assert last + 1 < len(said)
        assert said[last + 1].startswith("reply")


def test_on_a_sync_storage_from_any_event_loop(tmp_path: Path) -> None:
    with open_storage(f"sqlite:///{tmp_path / 'adk.db'}") as storage:
        service = RadarosSessionService(storage)
        made = asyncio.run(service.create_session(app_name=APP, user_id="u", session_id="s"))
        asyncio.run(service.append_event(made, text_event("one")))
        got = asyncio.run(service.get_session(app_name=APP, user_id="u", session_id="s"))
        assert got is not None
        assert texts(got.events) == ["one"]


def test_repr_hides_secrets() -> None:
    storage = open_storage("postgresql://app:hunter2secret@127.0.0.1:1/db")
    try:
        shown = repr(RadarosSessionService(storage))
    finally:
        storage.close()
    assert "RadarosSessionService" in shown
    assert "hunter2" not in shown
