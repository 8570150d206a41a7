"""Test drivers on real backends.

SQLite uses a file in a temp dir. PostgreSQL and MongoDB come from `tests/servers.py`:
a real server started here, or the one named by RADAROS_TEST_POSTGRES_URL /
RADAROS_TEST_MONGODB_URL. A missing server skips locally and fails when
RADAROS_REQUIRE_ALL_DRIVERS=1 (CI).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from radaros.storage import InMemoryStorage, SqliteStorage, StorageDriver

DRIVERS = [
    "memory",
    "sqlite",
]

_unique = itertools.count()


def require_all_drivers() -> bool:
    return os.environ.get("RADAROS_REQUIRE_ALL_DRIVERS") == "1"


def unique_name(prefix: str = "t") -> str:
    """A table/collection name no other test uses (so tests never see each other's data)."""
    return f"{prefix}_{os.getpid()}_{next(_unique)}"


def driver_factory(name: str, tmp_path: Path) -> Callable[[], StorageDriver]:
    """A callable making new, unopened instances of `name` on one fresh backing store."""
    if name == "memory":
        return InMemoryStorage
    if name == "sqlite":
        path = tmp_path / "radaros.db"
        return lambda: SqliteStorage(path)
    raise ValueError(f"unknown driver {name}")


@pytest.fixture(params=DRIVERS)
def driver_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
