"""Conformance: every failure is a StorageError, whatever raised it and wherever."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from radaros.storage import (
    StorageDriver,
    StorageError,
)
from radaros.storage.testing.support import NS, SuiteBase

__all__ = ["ErrorTests"]


class ErrorTests(SuiteBase):
    """Backend failures are wrapped; use from a foreign event loop is refused clearly."""

    async def test_foreign_exception_from_a_primitive_becomes_storage_error(
        self, storage: StorageDriver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Whatever a driver's primitive raises reaches the caller as a StorageError, with
        the original as its cause: a backend exception never escapes unwrapped.

        The failure is injected by replacing primitives: a real backend cannot be made to
        raise an arbitrary foreign exception on demand.
        """

        class ForeignError(Exception):
            pass

        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise ForeignError("backend exploded")

        for primitive in ("_get", "_put_many", "_page", "_delete_many", "_namespaces"):
            monkeypatch.setattr(storage, primitive, fail)
        for call in [
            storage.get(NS, "k"),
            storage.set(NS, "k", 1),
            storage.list(NS),
            storage.delete(NS, "k"),
            storage.namespaces(),
        ]:
            with pytest.raises(StorageError) as info:
                await call
            assert isinstance(info.value.__cause__, ForeignError)
            assert "ForeignError" in str(info.value)

    async def test_other_event_loop_gets_a_storage_error_that_says_what_to_do(
        self, storage: StorageDriver
    ) -> None:
        """A driver bound to its loop refuses another loop with a StorageError naming the
        fix; others serve it."""
        await storage.set(NS, "k", "v")

        def elsewhere() -> Any:
            return asyncio.run(storage.get(NS, "k"))

        if storage.binds_event_loop:
            with pytest.raises(StorageError, match="event loop"):
                await asyncio.to_thread(elsewhere)
        else:
            assert await asyncio.to_thread(elsewhere) == "v"
        assert await storage.get(NS, "k") == "v"
