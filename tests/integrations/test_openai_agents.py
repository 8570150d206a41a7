"""RadarosSession: the OpenAI Agents SDK's own session tests on every driver, agent runs,
and what the Session protocol promises under concurrency and bad input."""

from __future__ import annotations

import asyncio
import importlib.metadata
import re
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.conftest import require
from tests.support.drivers import driver_url

require("agents")

from agents import Agent, Runner, SessionSettings  # noqa: E402
from agents.memory import Session  # noqa: E402
from agents.testing import ScriptedModel  # noqa: E402
from openai.types.responses import ResponseOutputMessage, ResponseOutputText  # noqa: E402

from radaros import ChatHistory  # noqa: E402
from radaros.integrations.openai_agents import RadarosSession  # noqa: E402
from radaros.storage import SerializationError, StorageDriver  # noqa: E402
from radaros.sync import open_storage  # noqa: E402

PLUGINS = Path(__file__).parent / "plugins"
PLUGIN = ["-p", "radaros_openai_agents", "-W", "ignore::DeprecationWarning"]
SDK_TESTS = ["tests/memory/test_session.py", "tests/memory/test_session_limit.py"]


def reply(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="1",
        type="message",
        role="assistant",
        content=[ResponseOutputText(text=text, type="output_text", annotations=[], logprobs=[])],
        status="completed",
    )


def said(n: int) -> Any:
    return {"role": "user", "content": f"message {n}"}


def said_bytes() -> Any:
    return {"role": "user", "content": b"bytes"}


# -- the SDK's own tests ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def sdk_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed SDK's sdist from PyPI, unpacked (its tests are not in the wheel)."""
    version = importlib.metadata.version("openai-agents")
    folder = tmp_path_factory.mktemp("openai-agents-sdist")
    download = ["download", "--quiet", "--no-deps", "--no-binary", ":all:", "--dest", str(folder)]
    subprocess.run(
        [sys.executable, "-m", "pip", *download, f"openai-agents=={version}"],
        check=True,
        timeout=300,
    )
    (archive,) = folder.glob("openai_agents-*.tar.gz")
    with tarfile.open(archive) as sdist:
        sdist.extractall(folder, filter="data")
    return folder / archive.name.removesuffix(".tar.gz")


def test_sdk_session_tests_pass_on_radaros(
    driver_name: str, tmp_path: Path, request: pytest.FixtureRequest, sdk_source: Path
) -> None:
    """The SDK's session and session-limit tests, every SQLiteSession a RadarosSession."""
    url = driver_url(driver_name, tmp_path, request)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGIN, *SDK_TESTS],
        cwd=sdk_source,
        env={**_environment(), "RADAROS_TEST_STORAGE_URL": url, "PYTHONPATH": str(PLUGINS)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    made = re.search(r"radaros sessions made: (\d+)", done.stdout)
    assert passed is not None, done.stdout[-2000:]
    assert int(passed.group(1)) >= 50
    assert made is not None, done.stdout[-2000:]
    assert int(made.group(1)) >= 40
    assert " failed" not in done.stdout
    assert " error" not in done.stdout


def _environment() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


# -- agent runs ------------------------------------------------------------------------------


async def test_agent_run_sees_the_conversation(storage: StorageDriver) -> None:
    session = RadarosSession("chat/1", storage)
    model = ScriptedModel()
    agent = Agent(name="assistant", model=model)
    model.enqueue([reply("Paris")])
    first = await Runner.run(agent, "Capital of France?", session=session)
    model.enqueue([reply("About 2 million")])
    second = await Runner.run(agent, "How many people live there?", session=session)
    assert (first.final_output, second.final_output) == ("Paris", "About 2 million")
    sent = model.calls[-1].input
    assert isinstance(sent, list)
    assert [item.get("content") for item in sent][:1] == ["Capital of France?"]
    items = await session.get_items()
    assert len(items) == 4
    assert items[0] == {"content": "Capital of France?", "role": "user"}
    assert items[2] == {"content": "How many people live there?", "role": "user"}


def test_run_sync_on_a_sync_storage(tmp_path: Path) -> None:
    def blocking() -> None:
        with open_storage(f"sqlite:///{tmp_path / 'agents.db'}") as storage:
            session = RadarosSession("blocking", storage)
            model = ScriptedModel()
            agent = Agent(name="assistant", model=model)
            for text in ("one", "two"):
                model.enqueue([reply(text)])
                result = Runner.run_sync(agent, f"say {text}", session=session)
                assert result.final_output == text
            # run_sync leaves this thread's default loop open (the SDK does so on purpose).
            asyncio.get_event_loop_policy().get_event_loop().close()
            asyncio.set_event_loop(None)
            # Other event loops: the same items.
            assert len(asyncio.run(session.get_items())) == 4
            assert len(asyncio.run(RadarosSession("blocking", storage).get_items())) == 4

    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(blocking, errors))
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def _capture(function: Any, errors: list[BaseException]) -> None:
    try:
        function()
    except BaseException as error:
        errors.append(error)


# -- the Session protocol --------------------------------------------------------------------


async def test_is_an_sdk_session_and_keeps_order(storage: StorageDriver) -> None:
    session = RadarosSession("s", storage)
    assert isinstance(session, Session)
    await session.add_items([said(n) for n in range(5)])
    await session.add_items([said(5)])
    assert await session.get_items() == [said(n) for n in range(6)]
    assert await session.get_items(limit=2) == [said(4), said(5)]
    assert await session.get_items(limit=0) == []
    assert await session.pop_item() == said(5)
    assert await session.get_items(limit=10) == [said(n) for n in range(5)]
    await session.clear_session()
    assert await session.get_items() == []
    assert await session.pop_item() is None


async def test_session_settings_limit_is_the_default(storage: StorageDriver) -> None:
    session = RadarosSession("s", storage, session_settings={"limit": 2})
    assert session.session_settings == SessionSettings(limit=2)
    await session.add_items([said(n) for n in range(4)])
    assert await session.get_items() == [said(2), said(3)]
    assert await session.get_items(limit=3) == [said(1), said(2), said(3)]


async def test_concurrent_writers_lose_nothing_and_keep_each_batch_in_order(
    storage: StorageDriver,
) -> None:
    sessions = [RadarosSession("busy", storage) for _ in range(4)]
    await asyncio.gather(
        *(
            session.add_items([said(writer * 100 + n) for n in range(3)])
            for writer, session in enumerate(sessions)
            for _ in range(5)
        )
    )
    items: list[Any] = await sessions[0].get_items()
    assert len(items) == 4 * 5 * 3
    # Each add_items call is one block of consecutive numbers: its items stay together.
    for start in range(0, len(items), 3):
        block = [int(item["content"].split()[1]) for item in items[start : start + 3]]
        assert block == list(range(block[0], block[0] + 3))


async def test_concurrent_pops_take_each_item_once(storage: StorageDriver) -> None:
    session = RadarosSession("pops", storage)
    await session.add_items([said(n) for n in range(20)])
    popped = await asyncio.gather(*(RadarosSession("pops", storage).pop_item() for _ in range(30)))
    taken = [str(item.get("content")) for item in popped if item is not None]
    assert sorted(taken) == sorted(said(n)["content"] for n in range(20))
    assert popped.count(None) == 10


async def test_hostile_session_ids_are_data(storage: StorageDriver) -> None:
    ids = ["a", "a/b", "a%2Fb", "a/", "a:b", "%", "'; DROP TABLE x;--", "é/∂"]
    for n, session_id in enumerate(ids):
        await RadarosSession(session_id, storage).add_items([said(n)])
    for n, session_id in enumerate(ids):
        assert await RadarosSession(session_id, storage).get_items() == [said(n)]
    await RadarosSession("a", storage).clear_session()
    assert await RadarosSession("a/b", storage).get_items() == [said(1)]


async def test_same_conversation_as_chat_history(storage: StorageDriver) -> None:
    await RadarosSession("shared", storage).add_items([said(1)])
    history = ChatHistory(storage, "shared")
    await history.add(said(2))
    assert await history.messages() == [said(1), said(2)]
    assert await RadarosSession("shared", storage).get_items() == [said(1), said(2)]


async def test_ttl_expires_the_items(storage: StorageDriver) -> None:
    session = RadarosSession("brief", storage, ttl=0.3)
    await session.add_items([said(1)])
    assert await session.get_items() == [said(1)]
    for _ in range(100):  # bounded: expiry lands within ~1 s on every driver
        await asyncio.sleep(0.05)
        if not await session.get_items():
            break
    assert await session.get_items() == []


async def test_bad_input_is_refused_before_any_write(storage: StorageDriver) -> None:
    session = RadarosSession("strict", storage)
    with pytest.raises(TypeError):
        await session.add_items([said(1), "not a dict"])  # type: ignore[list-item]
    with pytest.raises(SerializationError):
        await session.add_items([said(2), said_bytes()])
    assert await session.get_items() == []
    with pytest.raises(ValueError, match="limit"):
        await session.get_items(limit=-1)
    with pytest.raises(TypeError, match="Unknown session settings"):
        RadarosSession("x", storage, session_settings={"limitt": 1})
    with pytest.raises(ValueError, match="key"):
        RadarosSession("", storage)
    with pytest.raises(ValueError, match="ttl"):
        RadarosSession("x", storage, ttl=-1)
    with pytest.raises(TypeError, match="KeyValue or a SyncStorage"):
        RadarosSession("x", {})  # type: ignore[arg-type]


def test_repr_names_the_session_and_hides_secrets() -> None:
    storage = open_storage("redis://user:hunter2secret@127.0.0.1:1/0")
    try:
        shown = repr(RadarosSession("abc", storage))
    finally:
        storage.close()
    assert "abc" in shown
    assert "hunter2" not in shown
