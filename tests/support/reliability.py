"""What the reliability tests share: scale, the drivers several processes can open, URLs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.drivers import (
    SERVER_DRIVERS,
    MongoTarget,
    PostgresTarget,
    RedisTarget,
    mongodb_url,
    unique_name,
)

SCALE = 10 if os.environ.get("RADAROS_LONG") == "1" else 1
URL_DRIVERS = ["sqlite", *SERVER_DRIVERS]


def shared_url(
    driver: str, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[str, dict[str, Any]]:
    """A URL several processes can open, and the options that isolate this test's data."""
    if driver == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db", {}
    if driver == "postgres":
        target: PostgresTarget = request.getfixturevalue("postgres")
        return target.url, {"table": unique_name()}
    if driver in ("redis", "redis_cluster"):
        redis_target: RedisTarget = request.getfixturevalue(driver)
        cluster = "?cluster=true" if driver == "redis_cluster" else ""
        return redis_target.url + cluster, {"prefix": unique_name("radaros")}
    mongo: MongoTarget = request.getfixturevalue("mongodb")
    return mongodb_url(mongo.url, "radaros_reliability"), {"collection": unique_name()}
