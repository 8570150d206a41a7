"""How the package is put together: the interface is one Protocol, every wrapper has all of
it, and imports only point down (no circle; nothing in radaros.storage imports a layer)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import radaros
from radaros import KeyValue, Scoped, StorageDriver
from radaros.storage.protocol import OPERATIONS
from radaros.sync import SyncStorage
from radaros.telemetry import Instrumented
from radaros.view import View

SRC = Path(radaros.__file__).parent
LIFECYCLE = ("initialize", "close")
ASYNC_IMPLEMENTATIONS = [
    StorageDriver,
    radaros.InMemoryStorage,
    radaros.SqliteStorage,
    radaros.PostgresStorage,
    radaros.MongoDBStorage,
    radaros.RedisStorage,
    View,
    Scoped,
    Instrumented,
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every radaros module `path` imports, anywhere in it (lazy and TYPE_CHECKING ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {
                f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known
            }
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in SRC.rglob("*.py")}
    known = set(paths)
    return {name: imported_modules(path, known) - {name} for name, path in paths.items()}


def test_nothing_in_radaros_storage_imports_a_layer_above_it() -> None:
    """radaros.storage (drivers, interface, conformance kit) imports only radaros.storage."""
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith("radaros.storage")
        for target in targets
        if not target.startswith("radaros.storage")
    }
    assert upward == set()


def test_the_import_graph_has_no_circle() -> None:
    """No module imports, directly or through others, a module that imports it."""
    graph = import_graph()
    circles = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in path:
                circles.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert circles == []


def parameters(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("implementation", ASYNC_IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_every_async_implementation_has_every_operation_as_the_protocol_names_it(
    implementation: type,
) -> None:
    """Same names, same parameters (kinds and defaults), coroutines where the Protocol has
    coroutines: a wrapper that misses or misspells an operation fails here."""
    for name in (*LIFECYCLE, *OPERATIONS):
        expected = getattr(KeyValue, name)
        actual = getattr(implementation, name, None)
        assert actual is not None, f"{implementation.__name__} has no {name}"
        assert parameters(actual) == parameters(expected), (implementation.__name__, name)
        assert inspect.iscoroutinefunction(actual) == inspect.iscoroutinefunction(expected), name


def test_the_sync_api_has_every_operation_blocking() -> None:
    """SyncStorage has every operation with the Protocol's parameters, as plain calls."""
    for name in OPERATIONS:
        actual = getattr(SyncStorage, name, None)
        assert actual is not None, f"SyncStorage has no {name}"
        assert parameters(actual) == parameters(getattr(KeyValue, name)), name
        assert not inspect.iscoroutinefunction(actual), name


def test_operations_are_the_protocols_public_methods() -> None:
    """OPERATIONS (what telemetry and the sync API cover) is read from the Protocol."""
    public = {
        name
        for name, value in vars(KeyValue).items()
        if not name.startswith("_") and callable(value)
    }
    assert set(OPERATIONS) == public - set(LIFECYCLE)
    assert {"get", "set", "scan", "update", "append", "namespaces"} <= set(OPERATIONS)


async def test_views_are_key_values_and_compose(tmp_path: Path) -> None:
    """A view of a view of a driver is a KeyValue, and the layers take it."""
    from radaros import Collection, telemetry

    async with Scoped(Scoped(telemetry.instrument(radaros.InMemoryStorage()), "a:"), "b:") as view:
        assert isinstance(view, KeyValue)
        numbers = Collection(view, "n", int)
        await numbers.set("one", 1)
        assert await view.get("n", "one") == 1
        assert await view.storage.get("a:/b:/n", "one") == 1
        assert await view.namespaces() == ["n"]
