"""OpenTelemetry spans and metrics, and slow-operation logs, for every driver.

When a driver opens, it looks at OpenTelemetry (`pip install 'radaros[otel]'`): if a tracer
provider is configured it makes a CLIENT span per operation, and if a meter provider is
configured it records `db.client.operation.duration` (seconds). Both use the database
semantic conventions: `db.system.name`, `db.operation.name` (the method: `get`, `set`...),
`db.namespace` (the database, where there is one), `error.type` on failure; spans also
carry `radaros.namespace`. Keys are recorded (`radaros.key`) only after
`configure(record_keys=True)`; values never are.

With neither provider configured (or without opentelemetry installed) nothing is wrapped
and an operation costs what it did. So configure OpenTelemetry before opening storages
(as `opentelemetry-instrument` and the usual SDK set-up do).

`configure(slow_operation_s=0.5)` logs a WARNING on the `radaros` logger for every
operation slower than that, with or without OpenTelemetry.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from radaros.storage.base import StorageDriver

__all__ = ["OPERATIONS", "configure"]

logger = logging.getLogger("radaros.storage")

OPERATIONS = (
    "get",
    "set",
    "delete",
    "list",
    "ttl",
    "touch",
    "get_many",
    "set_many",
    "delete_many",
    "count",
    "clear",
    "namespaces",
    "add",
    "update",
    "append",
)
"""The driver methods that get a span each (and `scan`, one span for the whole scan)."""
KEYED = frozenset({"get", "set", "delete", "ttl", "touch", "add", "update", "append"})
INSTRUMENTATION = "radaros"


@dataclass
class Settings:
    record_keys: bool = False
    slow_operation_s: float | None = None
    tracer_provider: Any = None
    meter_provider: Any = None


SETTINGS = Settings()
_UNSET: Any = object()


def configure(
    *,
    record_keys: bool = _UNSET,
    slow_operation_s: float | None = _UNSET,
    tracer_provider: Any = _UNSET,
    meter_provider: Any = _UNSET,
) -> None:
    """Process-wide settings, read by drivers when they open.

    `record_keys=True` adds the key to spans (`radaros.key`): keys can be personal data,
    so it is off by default. `slow_operation_s` logs operations slower than that many
    seconds at WARNING (None: off, the default). `tracer_provider` / `meter_provider`
    are used instead of OpenTelemetry's global ones (None: the global ones again).
    """
    if tracer_provider is not _UNSET:
        SETTINGS.tracer_provider = tracer_provider
    if meter_provider is not _UNSET:
        SETTINGS.meter_provider = meter_provider
    if record_keys is not _UNSET:
        if not isinstance(record_keys, bool):
            raise TypeError(f"record_keys must be a bool, not {type(record_keys).__name__}")
        SETTINGS.record_keys = record_keys
    if slow_operation_s is not _UNSET:
        if slow_operation_s is not None and (
            isinstance(slow_operation_s, bool)
            or not isinstance(slow_operation_s, (int, float))
            or not slow_operation_s > 0
        ):
            raise ValueError(f"slow_operation_s must be > 0 or None, not {slow_operation_s!r}")
        SETTINGS.slow_operation_s = slow_operation_s


def _providers() -> tuple[Any, Any]:
    """(tracer, duration histogram), each None unless its provider is configured."""
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        return None, None
    from radaros import __version__

    tracer = None
    tracer_provider = SETTINGS.tracer_provider or trace.get_tracer_provider()
    if not isinstance(tracer_provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        tracer = tracer_provider.get_tracer(INSTRUMENTATION, __version__)
    histogram = None
    meter_provider = SETTINGS.meter_provider or metrics.get_meter_provider()
    if type(meter_provider).__name__ not in ("_ProxyMeterProvider", "NoOpMeterProvider"):
        histogram = meter_provider.get_meter(INSTRUMENTATION, __version__).create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of database client operations.",
        )
    return tracer, histogram


def instrument(driver: StorageDriver) -> None:
    """Wrap the driver's operations when a provider is configured or slow operations are
    logged; otherwise leave them untouched (no cost)."""
    tracer, histogram = _providers()
    slow_s = SETTINGS.slow_operation_s
    if tracer is None and histogram is None and slow_s is None:
        return
    common: dict[str, Any] = {"db.system.name": driver.db_system}
    database = driver._db_namespace()
    if database:
        common["db.namespace"] = database
    probe = _Probe(driver, tracer, histogram, slow_s, SETTINGS.record_keys, common)
    for operation in OPERATIONS:
        setattr(driver, operation, probe.wrap(operation, getattr(driver, operation)))
    setattr(driver, "scan", probe.wrap_scan(driver.scan))  # noqa: B010 (an instance attribute)


class _Probe:
    def __init__(
        self,
        driver: StorageDriver,
        tracer: Any,
        histogram: Any,
        slow_s: float | None,
        record_keys: bool,
        common: dict[str, Any],
    ) -> None:
        self.driver = driver
        self.tracer = tracer
        self.histogram = histogram
        self.slow_s = slow_s
        self.record_keys = record_keys
        self.common = common
        if tracer is not None:
            from opentelemetry.trace import SpanKind, StatusCode

            self.client = SpanKind.CLIENT
            self.error_status = StatusCode.ERROR

    def span(self, operation: str, args: tuple[Any, ...], *, current: bool = True) -> Any:
        """A context manager for the operation's span (None inside when not tracing).

        `current=False` for a scan: a scan is an async generator, resumed by whichever task
        iterates it (each page of a sync scan is another task). A span made current there
        would be detached in another context than it was attached in, which OpenTelemetry
        reports as an error; so the scan's span is started and ended, never made current.
        """
        if self.tracer is None:
            return contextlib.nullcontext()
        attributes = {**self.common, "db.operation.name": operation}
        if args and operation != "namespaces":
            attributes["radaros.namespace"] = args[0]
        if self.record_keys and operation in KEYED and len(args) > 1:
            attributes["radaros.key"] = args[1]
        # Exceptions are recorded by `failed`: their messages can quote keys.
        options: dict[str, Any] = {
            "kind": self.client,
            "attributes": attributes,
            "record_exception": False,
            "set_status_on_exception": False,
        }
        if current:
            return self.tracer.start_as_current_span(operation, **options)
        return self.tracer.start_span(operation, **options)

    def failed(self, span: Any, error: BaseException) -> None:
        """Mark the span failed: the error's type always, its message only with keys."""
        if span is None:
            return
        name = type(error).__qualname__
        span.set_attribute("error.type", name)
        span.set_status(self.error_status, name)
        if self.record_keys:
            span.record_exception(error)
        else:
            span.add_event("exception", {"exception.type": name})

    def done(
        self, operation: str, args: tuple[Any, ...], started: float, error: BaseException | None
    ) -> None:
        elapsed = time.perf_counter() - started
        if self.histogram is not None:
            attributes = {**self.common, "db.operation.name": operation}
            if error is not None:
                attributes["error.type"] = type(error).__qualname__
            self.histogram.record(elapsed, attributes)
        if self.slow_s is not None and elapsed > self.slow_s:
            namespace = args[0] if args and operation != "namespaces" else None
            logger.warning(
                "%s: %s in namespace %r took %.3f s (slow_operation_s=%s)",
                repr(self.driver),
                operation,
                namespace,
                elapsed,
                self.slow_s,
            )

    def wrap(
        self, operation: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def measured(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            error: BaseException | None = None
            with self.span(operation, args) as span:
                try:
                    return await method(*args, **kwargs)
                except BaseException as exc:
                    error = exc
                    self.failed(span, exc)
                    raise
                finally:
                    self.done(operation, args, started, error)

        measured.__doc__ = method.__doc__
        return measured

    def wrap_scan(self, method: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
        def scan(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            entries = method(*args, **kwargs)  # arguments checked now, as unwrapped
            return self._scanned(entries, args)

        scan.__doc__ = method.__doc__
        return scan

    async def _scanned(
        self, entries: AsyncIterator[Any], args: tuple[Any, ...]
    ) -> AsyncIterator[Any]:
        started = time.perf_counter()
        error: BaseException | None = None
        with self.span("scan", args, current=False) as span:
            try:
                async for entry in entries:
                    yield entry
            except GeneratorExit:  # the caller stopped early: not an error
                raise
            except BaseException as exc:
                error = exc
                self.failed(span, exc)
                raise
            finally:
                self.done("scan", args, started, error)
