"""Reliability: Network faults through a TCP proxy end in time and heal.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import pytest

from radaros.storage import (
    MongoDBStorage,
    PostgresStorage,
    RedisStorage,
    StorageConnectionError,
    StorageDriver,
)
from tests.support.drivers import (
    MongoTarget,
    PostgresTarget,
    RedisTarget,
    report,
    unique_name,
)
from tests.support.proxy import FaultProxy

pytestmark = pytest.mark.slow


# -- 8: network faults through a proxy -------------------------------------------------------


FAULT_DRIVERS = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mongodb", marks=pytest.mark.mongodb),
    # A cluster's nodes announce their own addresses, which a single proxy cannot stand in
    # for: the fault test runs on the standalone server.
    pytest.param("redis", marks=pytest.mark.redis),
]


@pytest.mark.parametrize("driver", FAULT_DRIVERS)
@pytest.mark.parametrize("fault", ["blackhole", "reset", "delay", "close_mid_response"])
async def test_network_fault_ends_in_time_and_recovers(
    driver: str, fault: str, request: pytest.FixtureRequest
) -> None:
    """Through a faulty proxy every call ends within its timeout + 0.5 s (StorageConnectionError
    when it fails); once the fault is gone, service is back within 1 s."""
    timeout = 1.0
    if driver == "postgres":
        target: PostgresTarget = request.getfixturevalue("postgres")
        port = int(target.url.rsplit(":", 1)[1].split("/")[0])
        make: Callable[[int], StorageDriver] = lambda proxy_port: PostgresStorage(  # noqa: E731
            target.url.replace(f":{port}/", f":{proxy_port}/"),
            table=unique_name(),
            command_timeout_s=timeout,
            acquire_timeout_s=timeout,
            connect_timeout_s=timeout,
        )
    elif driver == "redis":
        redis_target: RedisTarget = request.getfixturevalue("redis")
        port = int(redis_target.url.rsplit(":", 1)[1].split("/")[0])
        make = lambda proxy_port: RedisStorage(  # noqa: E731
            f"redis://127.0.0.1:{proxy_port}/0",
            prefix=unique_name("radaros"),
            connect_timeout_s=timeout,
            timeout_s=timeout,
        )
    else:
        mongo: MongoTarget = request.getfixturevalue("mongodb")
        port = int(mongo.url.rstrip("/").rsplit(":", 1)[1])
        make = lambda proxy_port: MongoDBStorage(  # noqa: E731
            f"mongodb://127.0.0.1:{proxy_port}/radaros_faults?directConnection=true",
            collection=unique_name(),
            server_selection_timeout_s=timeout,
            timeout_s=timeout,
        )
    proxy = FaultProxy(port)
    await proxy.start()
    storage = make(proxy.port)
    try:
        await storage.initialize()
        await storage.set("ns", "k", {"payload": "x" * 20_000})
        proxy.set_mode(fault)
        outcomes: Counter[str] = Counter()
        slowest = 0.0
        for _ in range(4):
            begin = time.monotonic()
            try:
                await storage.get("ns", "k")
                outcomes["ok"] += 1
            except StorageConnectionError:
                outcomes["StorageConnectionError"] += 1
            except Exception as exc:
                outcomes[type(exc).__name__] += 1
            slowest = max(slowest, time.monotonic() - begin)
        proxy.set_mode("pass")
        healed = time.monotonic()
        while True:
            try:
                await storage.get("ns", "k")
                break
            except StorageConnectionError:
                assert time.monotonic() - healed < 10, "no recovery within 10 s"
                await asyncio.sleep(0.02)
        recovery = time.monotonic() - healed
    finally:
        await storage.close()
        await proxy.close()
    report(
        f"8 {driver} {fault}: outcomes {dict(outcomes)}, slowest call {slowest:.2f} s "
        f"(timeout {timeout} s), recovery {recovery:.2f} s"
    )
    assert set(outcomes) <= {"ok", "StorageConnectionError"}
    if fault != "delay":
        assert outcomes["ok"] == 0
    # PyMongo re-selects the server after a network error: that wait has its own timeout.
    bound = 2 * timeout + 0.5 if driver == "mongodb" else timeout + 0.5
    assert slowest <= bound
    assert recovery <= 1.0
