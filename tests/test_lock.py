"""Lock: one holder at a time across tasks and instances, leases that expire, release and
extend only by the owner, fencing tokens that grow, on every driver."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from radaros import Lock, LockNotAcquiredError, LockNotOwnedError, StorageDriver
from radaros.lock import LOCKS
from radaros.storage.testing.support import wait_until_expired

LEASE_S = 0.4


async def test_one_holder_at_a_time_across_instances(peers: list[StorageDriver]) -> None:
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


async def test_a_held_lock_makes_others_wait_then_time_out(storage: StorageDriver) -> None:
    """A second holder waits up to its timeout and then gets LockNotAcquiredError; once
    the first releases, it acquires."""
    first = Lock(storage, "job", ttl=30)
    await first.acquire()
    with pytest.raises(LockNotAcquiredError):
        await Lock(storage, "job", ttl=30, timeout=0.05).acquire()
    with pytest.raises(TimeoutError):  # also a TimeoutError, for code that catches those
        await Lock(storage, "job", ttl=30).acquire(timeout=0)
    waiter = asyncio.ensure_future(Lock(storage, "job", ttl=30, timeout=30).acquire())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await first.release()
    await asyncio.wait_for(waiter, 30)


async def test_only_the_owner_releases_or_extends(storage: StorageDriver) -> None:
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


async def test_extend_restarts_the_lease(storage: StorageDriver) -> None:
    """extend gives the owner another ttl from now."""
    lock = Lock(storage, "job", ttl=LEASE_S)
    await lock.acquire()
    await lock.extend(600)
    left = await storage.ttl(LOCKS, "job")
    assert left is not None
    assert LEASE_S < left <= 600
    deadline = time.monotonic() + LEASE_S
    await wait_until_expired(deadline)
    with pytest.raises(LockNotAcquiredError):
        await Lock(storage, "job", ttl=30).acquire(timeout=0)  # still held: extended
    await lock.release()


async def test_bad_lock_arguments_raise_before_io(storage: StorageDriver) -> None:
    """A lock needs a name and a positive ttl; the timeout is seconds >= 0 or None."""
    with pytest.raises(ValueError, match="needs a ttl"):
        Lock(storage, "job", ttl=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        Lock(storage, "job", ttl=0)
    with pytest.raises(ValueError, match="timeout"):
        Lock(storage, "job", ttl=1, timeout=-1)
    with pytest.raises(ValueError, match="key"):
        Lock(storage, "", ttl=1)
    assert await storage.namespaces() == []


def test_the_sync_form(tmp_path: Path) -> None:
    """SyncStorage.lock: the same lock, blocking, with `with`."""
    from radaros.sync import open_storage

    with open_storage(f"sqlite:///{tmp_path}/x.db") as storage:
        with storage.lock("job", ttl=30) as lock:
            assert lock.is_owned
            assert lock.fence == 1
            with pytest.raises(LockNotAcquiredError):
                storage.lock("job", ttl=30, timeout=0).acquire()
            lock.extend()
        assert not lock.is_owned
        with storage.lock("job", ttl=30) as again:
            assert again.fence is not None
            assert lock.fence is not None
            assert again.fence == lock.fence + 1  # a refused try draws no number
