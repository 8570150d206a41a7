"""OpenTelemetry spans and metrics, and slow-operation logs, for any storage.

`instrument(storage)` returns an `Instrumented` view of any `KeyValue` (a driver, a
`Scoped` view, ...) that makes a CLIENT span per operation when a tracer provider is
configured, and records `db.client.operation.duration` (seconds) when a meter provider is.
Both follow the database semantic conventions: `db.system.name`, `db.operation.name` (the
method: `get`, `set`...), `db.namespace` (the database, where there is one), `error.type`
on failure; spans also carry `radaros.namespace`. Keys are recorded (`radaros.key`) only
with `record_keys=True`; values never are.

```python
storage = telemetry.instrument(open_storage(url))          # global providers
storage = telemetry.instrument(driver, tracer_provider=tp, slow_operation_s=0.5)
```

The providers are the ones given, else OpenTelemetry's global ones at the time of the
call. With none configured and no `slow_operation_s`, `instrument` returns the storage
itself: nothing is wrapped and an operation costs what it did. Each view has its own
settings; nothing is process-wide.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from radaros.storage.protocol import OPERATIONS, KeyValue
from radaros.view import View

__all__ = ["OPERATIONS", "Instrumented", "instrument"]

logger = logging.getLogger("radaros.storage")

KEYED = frozenset(
    {"get", "set", "delete", "ttl", "touch", "add", "update", "append", "add_numbered"}
)
INSTRUMENTATION = "radaros"
T = TypeVar("T")


def instrument(
    storage: KeyValue,
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    record_keys: bool = False,
    slow_operation_s: float | None = None,
) -> KeyValue:
    """`storage` with a span and a duration per operation, and slow operations logged.

    `record_keys=True` adds the key to spans (`radaros.key`): keys can be personal data,
    so it is off by default. `slow_operation_s` logs operations slower than that many
    seconds at WARNING on the `radaros` logger (None: off). Without a configured provider
    and without `slow_operation_s`, the storage itself is returned (no cost).
    """
    if not isinstance(record_keys, bool):
        raise TypeError(f"record_keys must be a bool, not {type(record_keys).__name__}")
    if slow_operation_s is not None and (
        isinstance(slow_operation_s, bool)
        or not isinstance(slow_operation_s, (int, float))
        or not slow_operation_s > 0
    ):
        raise ValueError(f"slow_operation_s must be > 0 or None, not {slow_operation_s!r}")
    if not isinstance(storage, KeyValue):
        raise TypeError(f"storage must be a KeyValue, not {type(storage).__name__}")
    tracer, histogram = _providers(tracer_provider, meter_provider)
    if tracer is None and histogram is None and slow_operation_s is None:
        return storage
    return Instrumented(storage, tracer, histogram, slow_operation_s, record_keys)


def _providers(tracer_provider: Any, meter_provider: Any) -> tuple[Any, Any]:
    """(tracer, duration histogram), each None unless its provider is configured."""
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        return None, None
    from radaros import __version__

    tracer = None
    tracer_provider = tracer_provider or trace.get_tracer_provider()
    if not isinstance(tracer_provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        tracer = tracer_provider.get_tracer(INSTRUMENTATION, __version__)
    histogram = None
    meter_provider = meter_provider or metrics.get_meter_provider()
    if type(meter_provider).__name__ not in ("_ProxyMeterProvider", "NoOpMeterProvider"):
        histogram = meter_provider.get_meter(INSTRUMENTATION, __version__).create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of database client operations.",
        )
    return tracer, histogram


def _driver_of(storage: KeyValue) -> Any:
    """The storage under any views."""
    inner: Any = storage
    while isinstance(inner, View):
        inner = inner.storage
    return inner


class Instrumented(View):
    """A `KeyValue` whose every operation is measured (see `instrument`)."""

    def __init__(
        self,
        storage: KeyValue,
        tracer: Any,
        histogram: Any,
        slow_operation_s: float | None,
        record_keys: bool,
    ) -> None:
        super().__init__(storage)
        self.tracer = tracer
        self.histogram = histogram
        self.slow_s = slow_operation_s
        self.record_keys = record_keys
        self._driver = _driver_of(storage)
        self._common: dict[str, Any] = {
            "db.system.name": getattr(self._driver, "db_system", "radaros")
        }
        self._has_database = False
        if tracer is not None:
            from opentelemetry.trace import SpanKind, StatusCode

            self.client = SpanKind.CLIENT
            self.error_status = StatusCode.ERROR

    @property
    def common(self) -> dict[str, Any]:
        """The attributes of every span and measurement. The database is known once the
        driver is open (MongoDB learns it then), so it is looked up until it is."""
        if not self._has_database:
            database = getattr(self._driver, "db_namespace", None)
            if isinstance(database, str) and database:
                self._common["db.namespace"] = database
                self._has_database = True
        return self._common

    def span(
        self, operation: str, namespace: str | None, key: str | None, *, current: bool = True
    ) -> Any:
        """A context manager for the operation's span (None inside when not tracing).

        `current=False` for a scan: a scan is an async generator, resumed by whichever task
        iterates it (each page of a sync scan is another task). A span made current there
        would be detached in another context than it was attached in, which OpenTelemetry
        reports as an error; so the scan's span is started and ended, never made current.
        """
        if self.tracer is None:
            return contextlib.nullcontext()
        attributes = {**self.common, "db.operation.name": operation}
        if namespace is not None:
            attributes["radaros.namespace"] = namespace
        if self.record_keys and operation in KEYED and key is not None:
            attributes["radaros.key"] = key
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
        self, operation: str, namespace: str | None, started: float, error: BaseException | None
    ) -> None:
        elapsed = time.perf_counter() - started
        if self.histogram is not None:
            attributes = {**self.common, "db.operation.name": operation}
            if error is not None:
                attributes["error.type"] = type(error).__qualname__
            self.histogram.record(elapsed, attributes)
        if self.slow_s is not None and elapsed > self.slow_s:
            logger.warning(
                "%s: %s in namespace %r took %.3f s (slow_operation_s=%s)",
                repr(self.storage),
                operation,
                namespace,
                elapsed,
                self.slow_s,
            )

    async def _call(
        self,
        operation: str,
        namespace: str | None,
        key: str | None,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        started = time.perf_counter()
        error: BaseException | None = None
        with self.span(operation, namespace, key) as span:
            try:
                return await call()
            except BaseException as exc:
                error = exc
                self.failed(span, exc)
                raise
            finally:
                self.done(operation, namespace, started, error)

    async def _scanned(self, namespace: str, entries: AsyncIterator[T]) -> AsyncIterator[T]:
        started = time.perf_counter()
        error: BaseException | None = None
        with self.span("scan", namespace, None, current=False) as span:
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
                self.done("scan", namespace, started, error)
