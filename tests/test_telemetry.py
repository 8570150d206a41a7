"""OpenTelemetry spans and metrics on every driver, and the logs an operator relies on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from radaros import (
    InMemoryStorage,
    InvalidKeyError,
    KeyValue,
    SqliteStorage,
    StorageConnectionError,
    telemetry,
)
from tests.support.drivers import DRIVERS, driver_factory
from tests.support.proxy import FaultProxy

SYSTEMS = {
    "memory": "radaros.memory",
    "sqlite": "sqlite",
    "postgres": "postgresql",
    "mongodb": "mongodb",
    "redis": "redis",
    "redis_cluster": "redis",
}


class Exported:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])

    def durations(self) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "db.client.operation.duration"
            for point in metric.data.data_points
        ]


@pytest.fixture
def exported() -> Iterator[Exported]:
    providers = Exported()
    try:
        yield providers
    finally:
        providers.tracer_provider.shutdown()
        providers.meter_provider.shutdown()


def instrumented(storage: KeyValue, exported: Exported, **options: Any) -> KeyValue:
    return telemetry.instrument(
        storage,
        tracer_provider=exported.tracer_provider,
        meter_provider=exported.meter_provider,
        **options,
    )


@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_a_span_and_a_duration_per_operation(
    driver_name: str, tmp_path: Path, request: pytest.FixtureRequest, exported: Exported
) -> None:
    async with instrumented(driver_factory(driver_name, tmp_path, request)(), exported) as storage:
        await storage.initialize()
        exported.spans.clear()
        await storage.set("ns", "secret-key", {"card": "4111 1111 1111 1111"})
        assert await storage.get("ns", "secret-key") == {"card": "4111 1111 1111 1111"}
        assert [entry.key async for entry in storage.scan("ns")] == ["secret-key"]
        await storage.update("ns", "n", lambda v: (v or 0) + 1)
        with pytest.raises(TypeError):
            await storage.append("ns", "secret-key", ["x"])  # not a list: fails, recorded
    spans = exported.spans.get_finished_spans()
    assert [span.name for span in spans] == ["set", "get", "scan", "update", "append"]
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        attributes = dict(span.attributes or {})
        assert attributes["db.system.name"] == SYSTEMS[driver_name]
        assert attributes["db.operation.name"] == span.name
        assert attributes["radaros.namespace"] == "ns"
        text = repr(attributes) + repr([dict(e.attributes or {}) for e in span.events])
        assert "secret-key" not in text
        assert "4111" not in text
    if driver_name in ("sqlite", "postgres", "mongodb", "redis"):
        assert spans[0].attributes is not None
        assert spans[0].attributes["db.namespace"]
    failed = spans[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "TypeError"
    assert [(event.name, dict(event.attributes or {})) for event in failed.events] == [
        ("exception", {"exception.type": "TypeError"})
    ]
    points = exported.durations()
    by_operation = {dict(p.attributes)["db.operation.name"]: p for p in points}
    assert set(by_operation) >= {"set", "get", "scan", "update", "append"}
    assert by_operation["get"].count == 1
    assert by_operation["get"].sum > 0
    assert dict(by_operation["append"].attributes)["error.type"] == "TypeError"
    assert all("radaros.namespace" not in dict(p.attributes) for p in points)  # cardinality


async def test_keys_only_when_asked(tmp_path: Path, exported: Exported) -> None:
    async with instrumented(
        SqliteStorage(tmp_path / "x.db"), exported, record_keys=True
    ) as storage:
        await storage.initialize()
        await storage.set("ns", "k1", "value-text")
    [span] = exported.spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["radaros.key"] == "k1"
    assert "value-text" not in repr(span.attributes)


async def test_without_providers_nothing_is_wrapped(tmp_path: Path) -> None:
    """With no provider configured (the global ones are no-ops here) and no slow log,
    instrument() hands back the storage itself: there is no cost to measure."""
    driver = SqliteStorage(tmp_path / "x.db")
    assert telemetry.instrument(driver) is driver
    memory = InMemoryStorage()
    assert telemetry.instrument(memory) is memory
    assert "get" not in vars(memory)  # nothing is ever patched onto an instance


async def test_settings_belong_to_one_view(tmp_path: Path, exported: Exported) -> None:
    """Two views of one driver keep their own settings: nothing is process-wide."""
    async with InMemoryStorage() as driver:
        with_keys = instrumented(driver, exported, record_keys=True)
        without = instrumented(driver, exported)
        await with_keys.set("ns", "k1", 1)
        await without.set("ns", "k2", 2)
    first, second = exported.spans.get_finished_spans()
    assert dict(first.attributes or {})["radaros.key"] == "k1"
    assert "radaros.key" not in dict(second.attributes or {})
    assert "radaros.key" not in repr(telemetry.instrument(driver, tracer_provider=None))


async def test_bad_input_is_refused_before_any_span(exported: Exported) -> None:
    async with instrumented(InMemoryStorage(), exported) as storage:
        await storage.initialize()
        exported.spans.clear()
        with pytest.raises(InvalidKeyError):
            await storage.get("", "k")
    [span] = exported.spans.get_finished_spans()  # the call is traced, and fails at once
    assert span.attributes is not None
    assert span.attributes["error.type"] == "InvalidKeyError"
    with pytest.raises(ValueError, match="slow_operation_s"):
        telemetry.instrument(storage, slow_operation_s=0)
    with pytest.raises(TypeError, match="record_keys"):
        telemetry.instrument(storage, record_keys="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="KeyValue"):
        telemetry.instrument("sqlite:///x.db")  # type: ignore[arg-type]


# -- logs --------------------------------------------------------------------------------------


async def test_slow_operations_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with telemetry.instrument(InMemoryStorage(), slow_operation_s=0.05) as storage:
        await storage.initialize()

        async def slowly(value: Any) -> int:
            await asyncio.sleep(0.2)
            return 1

        with caplog.at_level(logging.WARNING, logger="radaros"):
            await storage.get("ns", "fast")
            await storage.update("ns", "k", slowly)
    slow = [r for r in caplog.records if "slow_operation_s" in r.getMessage()]
    assert len(slow) == 1
    assert "update in namespace 'ns'" in slow[0].getMessage()
    assert slow[0].levelno == logging.WARNING


@pytest.mark.redis
async def test_connection_loss_and_recovery_are_logged(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    from radaros import RedisStorage

    redis_target = request.getfixturevalue("redis")
    port = int(redis_target.url.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultProxy(port)
    await proxy.start()
    try:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        async with RedisStorage(url, prefix="logs", timeout_s=1) as storage:
            with caplog.at_level(logging.INFO, logger="radaros"):
                await storage.set("ns", "k", 1)
                proxy.set_mode("reset")
                for _ in range(3):
                    with pytest.raises(StorageConnectionError):
                        await storage.get("ns", "k")
                proxy.set_mode("pass")
                assert await storage.get("ns", "k") == 1
    finally:
        await proxy.close()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    lost = [m for level, m in messages if level == logging.WARNING and "unreachable" in m]
    back = [m for level, m in messages if level == logging.INFO and "reachable again" in m]
    assert len(lost) == 1  # once per outage, not per failed call
    assert len(back) == 1


def test_a_sync_scan_over_many_pages_logs_no_context_error(
    tmp_path: Path, exported: Exported, caplog: pytest.LogCaptureFixture
) -> None:
    """Each page of a sync scan runs in another task: the scan's span is still one span,
    ended once, and OpenTelemetry reports no "Failed to detach context"."""
    from radaros.sync import SyncStorage

    view = instrumented(SqliteStorage(tmp_path / "x.db"), exported)
    with caplog.at_level(logging.ERROR), SyncStorage(view) as storage:
        storage.set_many("ns", {f"k{i:02}": i for i in range(25)})
        assert len(list(storage.scan("ns", page_size=10))) == 25
        entries = storage.scan("ns", page_size=10)
        assert next(entries).key == "k00"
        del entries
    assert [record.getMessage() for record in caplog.records] == []
    scans = [span for span in exported.spans.get_finished_spans() if span.name == "scan"]
    assert len(scans) >= 1
    assert all(span.end_time is not None for span in scans)


async def test_an_async_scan_left_early_logs_no_context_error(
    tmp_path: Path, exported: Exported, caplog: pytest.LogCaptureFixture
) -> None:
    """A scan the caller leaves early ends its span without an OpenTelemetry error."""
    async with instrumented(SqliteStorage(tmp_path / "x.db"), exported) as storage:
        await storage.set_many("ns", {f"k{i:02}": i for i in range(25)})
        with caplog.at_level(logging.ERROR):
            entries = storage.scan("ns", page_size=10)
            async for _ in entries:
                break
            await entries.aclose()  # type: ignore[attr-defined]
            scanned = storage.scan("ns", page_size=5)
            assert (await anext(scanned)).key == "k00"
            del scanned
            await asyncio.sleep(0)
    assert [record.getMessage() for record in caplog.records] == []
    assert [span.name for span in exported.spans.get_finished_spans()].count("scan") >= 1
