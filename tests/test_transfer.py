"""radaros.transfer: copy, export and import on every driver; an interrupted copy re-run."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radaros import (
    InMemoryStorage,
    SerializationError,
    SqliteStorage,
    ValueTooLargeError,
    transfer,
)
from tests.support.cli import run_cli
from tests.support.drivers import DRIVERS, driver_factory


async def fill(storage: InMemoryStorage) -> None:
    await storage.set_many("a", {f"k{i:04}": {"n": i} for i in range(1500)})
    await storage.set_many("b", {f"k{i}": i for i in range(10)}, ttl=300)
    await storage.set("b", "forever", "é")


@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_copy_to_every_driver_keeps_values_and_expiries(
    driver_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with (
        InMemoryStorage() as source,
        driver_factory(driver_name, tmp_path, request)() as target,
    ):
        await fill(source)
        report = await transfer.copy(source, target, page_size=400)
        assert report.written == 1511
        assert report.counts == {"a": (1500, 1500), "b": (11, 11)}
        assert report.mismatched == {}
        assert await target.get("a", "k0042") == {"n": 42}
        assert await target.get("b", "forever") == "é"
        assert await target.ttl("b", "forever") == float("inf")
        left = await target.ttl("b", "k3")
        assert left is not None
        assert 0 < left <= 300
        again = await transfer.copy(source, target, namespaces=["b"], skip_existing=True)
        assert (again.written, again.skipped) == (0, 11)


async def test_export_and_import_through_a_file() -> None:
    async with InMemoryStorage() as source, InMemoryStorage() as target:
        await fill(source)
        out = io.StringIO()
        assert await transfer.export(source, out, namespaces=["b"], prefix="k") == 10
        lines = out.getvalue().splitlines()
        first = json.loads(lines[0])
        assert first["namespace"] == "b"
        assert first["key"] == "k0"
        assert 0 < first["ttl"] <= 300
        report = await transfer.import_lines(target, lines, batch_size=3)
        assert report.written == 10
        assert await target.count("b") == 10
        with pytest.raises(SerializationError, match="line 2"):
            await transfer.import_lines(target, [lines[0], '{"namespace": "b", "key": "x"}'])
        with pytest.raises(SerializationError, match="ttl"):
            await transfer.import_lines(
                target, ['{"namespace": "b", "key": "x", "value": 1, "ttl": -5}']
            )
        with pytest.raises(SerializationError):
            await transfer.import_lines(
                target, ['{"namespace": "b", "key": "x", "value": NaN, "ttl": null}']
            )


def test_a_copy_killed_midway_and_run_again_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    source, target = tmp_path / "src.db", tmp_path / "dst.db"
    lines = "".join(
        json.dumps({"namespace": f"n{i % 4}", "key": f"k{i:06}", "value": {"i": i}, "ttl": None})
        + "\n"
        for i in range(120_000)
    )
    (tmp_path / "in.jsonl").write_text(lines)
    url = f"sqlite:///{source}"
    loaded = run_cli(
        "--url", url, "import", str(tmp_path / "in.jsonl"), cwd=tmp_path, timeout_s=300
    )
    assert loaded.returncode == 0, loaded.stderr
    environment = {k: v for k, v in os.environ.items() if k != "RADAROS_STORAGE_URL"}
    copying = subprocess.Popen(
        [sys.executable, "-m", "radaros", "copy", url, f"sqlite:///{target}"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    copied = 0
    while copied < 10_000 and time.monotonic() < deadline and copying.poll() is None:
        time.sleep(0.05)
        copied = count_rows(target)
    copying.send_signal(signal.SIGKILL)
    copying.wait(timeout=60)
    assert 0 < count_rows(target) < 120_000, "the copy was not interrupted midway"
    again = run_cli("copy", url, f"sqlite:///{target}", cwd=tmp_path, timeout_s=300)
    assert again.returncode == 0, again.stderr
    assert "copied 120000 entries in 4 namespaces" in again.stderr
    assert count_rows(target) == 120_000
    exported = run_cli("--url", f"sqlite:///{target}", "export", cwd=tmp_path, timeout_s=300)
    assert sorted(exported.stdout.splitlines()) == sorted(lines.splitlines())


def count_rows(path: Path) -> int:
    """Rows in the destination, read with plain sqlite3 (the copy may hold the write lock)."""
    import sqlite3

    if not path.exists():
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(connection.execute("SELECT count(*) FROM radaros_kv").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not there yet
        return 0
    finally:
        connection.close()


async def test_bad_arguments_raise_before_io(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "x.db") as source, InMemoryStorage() as target:
        with pytest.raises(ValueError, match="namespace"):
            await transfer.copy(source, target, namespaces=[""])
        with pytest.raises(ValueError, match="page_size"):
            await transfer.copy(source, target, page_size=0)


async def test_expiries_are_batched_and_never_extended_beyond_the_copy() -> None:
    async with InMemoryStorage() as source, InMemoryStorage() as target:
        for i, ttl in enumerate([100.0, 100.4, 100.9, 150.0, 150.5, 300.0]):
            await source.set("t", f"k{i}", i, ttl=ttl)
        await source.set("t", "forever", "x")
        await transfer.copy(source, target)
        for i in range(6):
            ours, theirs = await source.ttl("t", f"k{i}"), await target.ttl("t", f"k{i}")
            assert ours is not None
            assert theirs is not None
            # Up to TTL_TOLERANCE_S earlier; later only by the moment between read and write.
            assert ours - transfer.TTL_TOLERANCE_S - 0.5 <= theirs <= ours + 0.5
        assert await target.ttl("t", "forever") == float("inf")


class SmallValues(InMemoryStorage):
    """A destination that stores values of at most 64 bytes (a real limit, set low)."""

    max_value_bytes = 64


async def test_a_write_that_fails_stops_the_copy_with_nothing_left_running() -> None:
    async with InMemoryStorage() as source, SmallValues() as target:
        await source.set_many("a", {f"k{i:04}": {"n": i} for i in range(1500)})
        await source.set("a", "k0900", {"text": "x" * 100})  # in the third page of 400
        with pytest.raises(ValueTooLargeError):
            await transfer.copy(source, target, page_size=400)
        assert await target.count("a") == 800  # the pages before it, nothing after
        assert await target.get("a", "k0799") == {"n": 799}
        assert await target.get("a", "k0800") is None  # its page is all-or-nothing
        assert asyncio.all_tasks() == {asyncio.current_task()}
