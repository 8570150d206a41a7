"""Lock: one holder at a time across tasks and instances, leases that expire, release and
extend only by the owner, fencing tokens that grow, on every driver."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from radaros import Lock, LockNotAcquiredError, StorageDriver
from radaros.lock import LOCKS
from radaros.storage.testing.support import wait_until_expired

LEASE_S = 0.4


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
