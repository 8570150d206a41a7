"""Framework tests: each module needs its framework, installed by the integrations CI job.

Locally a missing framework skips its module; with RADAROS_REQUIRE_INTEGRATIONS=1 (CI)
it fails instead. A framework that does not run on this Python skips everywhere.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from radaros.sync import SyncStorage
from tests.support.drivers import DRIVERS, driver_factory

OLDEST_PYTHON = {"google": (3, 11)}
"""Frameworks that need a newer Python than radaros (by top-level package): skipped on older."""


def supported(module: str) -> bool:
    """Whether the framework of `module` runs on this Python."""
    return sys.version_info >= OLDEST_PYTHON.get(module.split(".")[0], (3, 0))


def require(module: str) -> ModuleType:
    """Import a framework module, or skip (fail in CI) when it is not installed."""
    if not supported(module):
        pytest.skip(f"{module} needs a newer Python", allow_module_level=True)
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get("RADAROS_REQUIRE_INTEGRATIONS") == "1":
            raise
        pytest.skip(f"{module} is not installed: {error}", allow_module_level=True)


@pytest.fixture(params=DRIVERS)
def sync_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncStorage]:
    """Each driver behind a SyncStorage, on fresh data."""
    with SyncStorage(driver_factory(request.param, tmp_path, request)()) as storage:
        yield storage
