"""`Lock`: a lease on a name, shared by every task, instance and process of one storage.

```python
async with Lock(storage, "invoice:42", ttl=30) as lock:
    ...                       # one holder at a time; lock.fence grows with every holder
    await lock.extend()       # still the owner: another `ttl` from now
```

The lease is one entry, `radaros:lock/<name>` = `{"owner", "fence"}`, written with `add`
(exactly one of concurrent acquirers wins) and expiring after `ttl`, so a holder that dies
frees it. Release and extend are compare-and-swap on the owner: a holder whose lease
expired and was taken by another can neither release nor extend the new holder's.
`fence` comes from an `incr` of `radaros:lock:fence/<name>`, drawn once the lease is won and
written into it while still the owner: it is larger for every new holder, so a resource
that remembers the largest fence it saw can refuse a late write from a holder that lost
the lease (Kleppmann, "How to do distributed locking").
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any

from radaros.storage.errors import StorageError
from radaros.storage.protocol import DELETE, KEEP, TTL, KeyValue
from radaros.storage.validate import check_key, check_ttl

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["LOCKS", "Lock", "LockNotAcquiredError", "LockNotOwnedError"]

LOCKS = "radaros:lock"
FENCES = "radaros:lock:fence"
POLL_MIN_S = 0.005
POLL_MAX_S = 0.2
OWN_TIMEOUT: Any = object()
"""`acquire`'s default: the timeout the lock was made with."""


class LockNotAcquiredError(StorageError, TimeoutError):
    """The lock stayed held by another owner for the whole `timeout`."""


class LockNotOwnedError(StorageError):
    """`release` or `extend` of a lock this holder does not own (never acquired, released,
    or its lease expired and may belong to another holder now)."""


class Lock:
    """A named lease of `ttl` seconds on any `KeyValue`. `async with` acquires (waiting up
    to `timeout`, None: for ever) and releases."""

    def __init__(
        self, storage: KeyValue, name: str, *, ttl: TTL, timeout: float | None = None
    ) -> None:
        self.storage = storage
        self.name = check_key(name)
        seconds = check_ttl(ttl)
        if seconds is None:
            raise ValueError("a lock needs a ttl: a holder that dies must free it")
        self.ttl = seconds
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
        ):
            raise ValueError(f"timeout must be seconds >= 0 or None, not {timeout!r}")
        self.timeout = timeout
        self.fence: int | None = None
        """This holder's fencing token (None until acquired)."""
        self._owner: str | None = None

    def __repr__(self) -> str:
        state = "held" if self._owner is not None else "free"
        return f"Lock({self.storage!r}, {self.name!r}, {state}, fence={self.fence})"

    @property
    def is_owned(self) -> bool:
        """Whether this holder acquired the lock and has not released it (its lease may
        still have expired: `extend` says for sure)."""
        return self._owner is not None

    async def acquire(self, timeout: float | None = OWN_TIMEOUT) -> None:
        """Take the lock, waiting while another holds it: up to `timeout` seconds (default:
        the lock's own; None: for ever), then LockNotAcquiredError.

        The fence is drawn once the lease is won, and written into it while still the
        owner: every later holder wins the lease after that, so draws a larger fence."""
        if self._owner is not None:
            raise StorageError(f"{self!r} is already held by this holder")
        wait_s = self.timeout if timeout is OWN_TIMEOUT else timeout
        deadline = None if wait_s is None else time.monotonic() + wait_s
        owner = uuid.uuid4().hex
        delay = POLL_MIN_S
        while True:
            lease = {"owner": owner, "fence": None}
            if await self.storage.add(LOCKS, self.name, lease, ttl=self.ttl):
                fence = await self.storage.incr(FENCES, self.name)
                if await self._change(owner, {"owner": owner, "fence": fence}):
                    self._owner, self.fence = owner, fence
                    return
                continue  # the lease expired before the fence was in it: try again
            if deadline is not None and time.monotonic() >= deadline:
                raise LockNotAcquiredError(f"lock {self.name!r} is held by another owner")
            pause = random.uniform(delay / 2, delay)  # noqa: S311 (jitter, not crypto)
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(pause)
            delay = min(POLL_MAX_S, delay * 2)

    async def release(self) -> None:
        """Free the lock, only if this holder still owns it (else LockNotOwnedError)."""
        owner, self._owner = self._owner, None
        if owner is None or not await self._change(owner, DELETE):
            raise LockNotOwnedError(f"lock {self.name!r} is not owned by this holder")

    async def extend(self, ttl: TTL | None = None) -> None:
        """Restart the lease: `ttl` (default: the lock's) from now, only while this holder
        owns it (else LockNotOwnedError)."""
        seconds = self.ttl if ttl is None else check_ttl(ttl)
        if self._owner is None or not await self._change(self._owner, "extend", seconds):
            self._owner = None
            raise LockNotOwnedError(f"lock {self.name!r} is not owned by this holder")

    async def _change(self, owner: str, change: Any, ttl: float | None = None) -> bool:
        """If `owner` holds the lease: delete it (`DELETE`), re-write it ("extend"), or
        replace it by the lease `change`; True if it did."""
        owned: list[bool] = []

        def if_owner(current: Any) -> Any:
            owned.append(isinstance(current, dict) and current.get("owner") == owner)
            if not owned[-1]:
                return KEEP
            if change is DELETE or isinstance(change, dict):
                return change
            return current

        await self.storage.update(LOCKS, self.name, if_owner, ttl=ttl)
        return owned[-1]

    async def __aenter__(self) -> Self:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.release()
