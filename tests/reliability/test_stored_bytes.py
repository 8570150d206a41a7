"""Reliability: Hostile stored bytes raise SerializationError.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from radaros.storage import (
    MongoDBStorage,
    PostgresStorage,
    RedisStorage,
    SerializationError,
    SqliteStorage,
    StorageDriver,
)
from tests.support.drivers import (
    SERVER_DRIVERS,
    driver_factory,
    report,
)

pytestmark = pytest.mark.slow


# -- 15: hostile stored bytes -------------------------------------------------------------------


@pytest.mark.parametrize("driver_name", ["sqlite", *SERVER_DRIVERS])
async def test_hostile_stored_bytes_raise_serialization_error(
    driver_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A row or document holding invalid JSON or 10,000-deep nesting raises SerializationError."""
    hostile = ["{not json", "[" * 10_000 + "]" * 10_000, "NaN", '{"a": 1', '"unterminated']
    async with driver_factory(driver_name, tmp_path, request)() as storage:
        await storage.set_many("ns", {f"k{i}": "placeholder" for i in range(len(hostile))})
        await plant(storage, hostile)
        refused = 0
        for i in range(len(hostile)):
            with pytest.raises(SerializationError):
                await storage.get("ns", f"k{i}")
            refused += 1
        with pytest.raises(SerializationError):
            await storage.list("ns")
    report(
        f"15 {driver_name} hostile stored bytes: {refused}/{len(hostile)} refused "
        "with SerializationError"
    )


async def plant(storage: StorageDriver, hostile: list[str]) -> None:
    """Write raw text behind the driver's back, as a bug or an attacker with DB access would."""
    if isinstance(storage, SqliteStorage):
        with contextlib.closing(sqlite3.connect(storage.path, isolation_level=None)) as connection:
            for i, text in enumerate(hostile):
                connection.execute("UPDATE radaros_kv SET value = ? WHERE key = ?", (text, f"k{i}"))
    elif isinstance(storage, PostgresStorage):
        for i, text in enumerate(hostile):
            await storage._execute(
                f"UPDATE {storage._table} SET value = $1 WHERE key = $2", text, f"k{i}"
            )
    elif isinstance(storage, MongoDBStorage):
        for i, text in enumerate(hostile):
            await storage._live_collection().update_one(
                {"k": f"k{i}"}, {"$set": {"j": text}, "$unset": {"v": ""}}
            )
    elif isinstance(storage, RedisStorage):
        entries = storage.scripts.plain("ns")
        for i, text in enumerate(hostile):
            key = f"k{i}"
            await storage._command("ZREMRANGEBYLEX", entries, f"[{key}\x00", f"({key}\x01")
            await storage._command("ZADD", entries, 0, f"{key}\x00{text}")
    else:
        raise TypeError(f"cannot plant values in {storage!r}")


def test_no_unsafe_deserialization_in_src() -> None:
    """Nothing in src/ can execute stored data: no pickle, eval, exec or yaml.load (also ruff S)."""
    source = Path(__file__).parent.parent / "src"
    banned = ["import pickle", "pickle.loads", "eval(", "exec(", "yaml.load", "marshal.loads"]
    hits = [
        f"{path}: {word}"
        for path in source.rglob("*.py")
        for word in banned
        if word in path.read_text()
    ]
    report(f"15 source scan: {len(hits)} uses of pickle/eval/exec/yaml.load in src/")
    assert hits == []
