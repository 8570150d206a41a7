"""The conformance suite, run against every driver on its real backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from radaros.storage import StorageDriver
from radaros.storage.testing import ConformanceSuite
from radaros.testing import AgentTests
from tests.support.drivers import driver_factory


class TestConformance(ConformanceSuite, AgentTests):
    @pytest.fixture
    def storage_factory(
        self, driver_name: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> Callable[[], StorageDriver]:
        return driver_factory(driver_name, tmp_path, request)

    @pytest.fixture
    async def peers(
        self, driver_name: str, storage_factory: Callable[[], StorageDriver]
    ) -> AsyncIterator[list[StorageDriver]]:
        """Independent instances; the in-memory driver can only offer itself."""
        instances = [storage_factory() for _ in range(self.PEER_COUNT)]
        if driver_name == "memory":
            instances = [instances[0]] * self.PEER_COUNT
        for instance in instances:
            await instance.initialize()
        yield instances
        for instance in instances:
            await instance.close()
