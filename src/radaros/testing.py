"""The agent layer's section of the conformance kit: sessions, histories and locks across
instances of any driver.

```python
from radaros.storage.testing import ConformanceSuite
from radaros.testing import AgentTests

class TestMyDriver(ConformanceSuite, AgentTests):
    @pytest.fixture
    def storage_factory(self): ...
```
It lives beside the layers it tests (`radaros.storage` imports nothing above it), and uses
the same fixtures as the storage kit (`storage`, `peers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest

from radaros.lock import LOCKS, Lock, LockNotOwnedError
from radaros.sessions import (
    ChatHistory,
    Session,
    SessionExistsError,
    SessionNotFoundError,
    Sessions,
)
from radaros.storage import MEMORY_SHORT, StorageDriver
from radaros.storage.testing.support import SuiteBase, wait_until_expired

__all__ = ["AgentTests"]

LEASE_S = 0.4


class AgentTests(SuiteBase):
    """One winner, nothing lost, nothing revived: the agent layer over several instances."""

    async def test_concurrent_first_adds_convert_a_0_2_history_once(
        self,
        peers: list[StorageDriver],
    ) -> None:
        """Several writers meeting a 0.2 history convert it once: nothing lost or doubled."""
        await peers[0].set(MEMORY_SHORT, "s1", {"total": 2, "messages": [{"n": 1}, {"n": 2}]})
        totals = await asyncio.gather(
            *(ChatHistory(peers[i % len(peers)], "s1").add({"n": 10 + i}) for i in range(6))
        )
        assert sorted(totals) == [3, 4, 5, 6, 7, 8]
        messages = await ChatHistory(peers[0], "s1").messages()
        assert messages[:2] == [{"n": 1}, {"n": 2}]
        assert sorted(m["n"] for m in messages[2:]) == [10, 11, 12, 13, 14, 15]

    async def test_adds_racing_a_delete_never_bring_the_session_back(
        self,
        peers: list[StorageDriver],
    ) -> None:
        """Whatever the interleaving, once delete returns and the adds are done, nothing of
        the session's messages is left, readable or stored."""
        for round_ in range(5):
            session_id = f"race{round_}"
            await Sessions(peers[0]).create("ada", session_id=session_id)

            async def add(i: int, session_id: str = session_id) -> None:
                with contextlib.suppress(SessionNotFoundError):
                    await ChatHistory(peers[i % len(peers)], session_id).add({"i": i})

            await asyncio.gather(*(add(i) for i in range(8)), Sessions(peers[1]).delete(session_id))
            assert await ChatHistory(peers[0], session_id).messages() == []
            assert await peers[0].list(MEMORY_SHORT, f"{session_id}/") == []
            assert await Sessions(peers[0]).get(session_id) is None

    async def test_concurrent_creates_of_one_id_keep_the_index_whole(
        self,
        peers: list[StorageDriver],
    ) -> None:
        """Of concurrent creates of one id one wins, and its user lists it (every round)."""
        for round_ in range(10):
            session_id = f"s{round_}"
            outcomes = await asyncio.gather(
                *(
                    Sessions(peers[i % len(peers)]).create("ada", session_id=session_id)
                    for i in range(8)
                ),
                return_exceptions=True,
            )
            assert sum(isinstance(outcome, Session) for outcome in outcomes) == 1
            assert all(
                isinstance(outcome, (Session, SessionExistsError)) for outcome in outcomes
            ), outcomes
            assert session_id in [s.id for s in await Sessions(peers[0]).list("ada")]

    async def test_get_or_create_gives_every_caller_the_same_session(
        self,
        peers: list[StorageDriver],
    ) -> None:
        """Concurrent get_or_create of one id: one creates it, all get it."""
        got = await asyncio.gather(
            *(
                Sessions(peers[i % len(peers)]).get_or_create("s1", "ada", {"i": i})
                for i in range(8)
            )
        )
        assert len({(s.id, s.created_at, json.dumps(s.metadata)) for s in got}) == 1
        assert [s.id for s in await Sessions(peers[0]).list("ada")] == ["s1"]

    async def test_pops_from_many_tasks_take_each_message_once(
        self, peers: list[StorageDriver]
    ) -> None:
        """Concurrent pops share the messages out: each once, newest first per pop."""
        history = ChatHistory(peers[0], "s1")
        await history.add(*({"n": n} for n in range(12)))
        taken = await asyncio.gather(
            *(ChatHistory(peers[i % len(peers)], "s1").pop() for i in range(16))
        )
        got = [message["n"] for message in taken if message is not None]
        assert sorted(got) == list(range(12))
        assert await history.messages() == []

    async def test_one_holder_at_a_time_across_instances(self, peers: list[StorageDriver]) -> None:
        """Many tasks on several instances take one lock in turn: never two inside at once,
        and each holder's fence is larger than every earlier holder's."""
        inside = 0
        most_inside = 0
        fences: list[int] = []

        async def work(i: int) -> None:
            nonlocal inside, most_inside
            async with Lock(peers[i % len(peers)], "job", ttl=30) as lock:
                inside += 1
                most_inside = max(most_inside, inside)
                assert lock.fence is not None
                fences.append(lock.fence)
                await asyncio.sleep(0.005)
                inside -= 1

        await asyncio.gather(*(work(i) for i in range(12)))
        assert most_inside == 1
        assert len(fences) == 12
        assert fences == sorted(fences)
        assert len(set(fences)) == 12
        assert await peers[0].get(LOCKS, "job") is None  # released

    async def test_only_the_owner_releases_or_extends(self, storage: StorageDriver) -> None:
        """A holder whose lease expired and was taken cannot release or extend the new
        holder's lease; the new holder's fence is larger."""
        old = Lock(storage, "job", ttl=LEASE_S)
        await old.acquire()
        deadline = time.monotonic() + LEASE_S
        await wait_until_expired(deadline)
        new = Lock(storage, "job", ttl=30)
        await new.acquire(timeout=0)
        assert new.fence is not None
        assert old.fence is not None
        assert new.fence > old.fence
        with pytest.raises(LockNotOwnedError):
            await old.extend()
        with pytest.raises(LockNotOwnedError):
            await old.release()
        assert (await storage.get(LOCKS, "job"))["fence"] == new.fence  # still the new holder's
        await new.release()
        with pytest.raises(LockNotOwnedError):
            await new.release()  # twice
