"""Reliability: Per-key linearizability across processes.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from radaros.storage import (
    open_storage,
)
from tests.support.drivers import (
    report,
)
from tests.support.reliability import SCALE, URL_DRIVERS, shared_url
from tests.support.workers_spawn import spawn_workers

pytestmark = pytest.mark.slow


# -- 10: linearizability per key -------------------------------------------------------------


def check_history(history: list[list[Any]], final_lists: dict[str, list[str]]) -> dict[str, int]:
    """Register reads never stale or from the future; list items exactly once, in an order
    consistent with acknowledgements. Returns violation counts."""
    violations = {"stale_or_future_reads": 0, "lost_or_duplicated_items": 0, "misordered": 0}
    writes: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    reads: dict[str, list[tuple[float, float, Any]]] = defaultdict(list)
    appends: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for op, key, value, start, end, ok in history:
        if not ok:
            continue
        {"write": writes, "read": reads, "append": appends}[op][key].append((start, end, value))
    for key, key_reads in reads.items():
        key_writes = sorted(writes[key])
        by_value = {value: (start, end) for start, end, value in key_writes}
        starts = [start for start, _, _ in key_writes]
        suffix_min_end = [float("inf")] * (len(key_writes) + 1)
        for index in range(len(key_writes) - 1, -1, -1):
            suffix_min_end[index] = min(suffix_min_end[index + 1], key_writes[index][1])
        first_end = min((end for _, end, _ in key_writes), default=float("inf"))
        for start, end, value in key_reads:
            if value is None:
                violations["stale_or_future_reads"] += first_end < start
                continue
            written = by_value.get(value)
            if written is None or written[0] > end:
                violations["stale_or_future_reads"] += 1
                continue
            import bisect

            later = bisect.bisect_right(starts, written[1])  # writes begun after ours ended
            violations["stale_or_future_reads"] += suffix_min_end[later] < start
    for key, key_appends in appends.items():
        final = final_lists.get(f"list-{key}") or []
        position = {item: index for index, item in enumerate(final)}
        counts = Counter(final)
        for _, _, item in key_appends:
            violations["lost_or_duplicated_items"] += counts[item] != 1
        ordered = sorted(
            (position[item], start, end) for start, end, item in key_appends if item in position
        )
        latest_start = float("-inf")
        for _, start, end in ordered:
            violations["misordered"] += end < latest_start
            latest_start = max(latest_start, start)
    return violations


@pytest.mark.parametrize("driver", URL_DRIVERS)
async def test_linearizable_per_key(
    driver: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """2 processes x 4 tasks on 4 keys for 10 s: every read/write/append recorded and checked."""
    url, options = shared_url(driver, tmp_path, request)
    seconds = 10 * SCALE
    results = await asyncio.to_thread(
        spawn_workers, "history", url, 2, tasks=4, seconds=seconds, options=json.dumps(options)
    )
    history = [entry for result in results for entry in result["history"]]
    async with open_storage(url, **options) as storage:
        final_lists = {entry.key: entry.value for entry in await storage.list("lin", "list-")}
    failed = [entry for entry in history if not entry[5]]
    violations = check_history(history, final_lists)
    report(
        f"10 {driver} linearizability: {len(history)} operations in {seconds} s, "
        f"{len(failed)} failed, violations {violations}"
    )
    assert failed == []
    assert violations == {
        "stale_or_future_reads": 0,
        "lost_or_duplicated_items": 0,
        "misordered": 0,
    }


def test_history_checker_catches_stale_reads_and_lost_items() -> None:
    """The checker itself: a stale read, a lost item and a misordered pair are all reported."""
    history = [
        ["write", "k", "a", 0.0, 1.0, True],
        ["write", "k", "b", 2.0, 3.0, True],
        ["read", "k", "a", 4.0, 5.0, True],  # stale: b finished before this read began
        ["append", "k", "x", 0.0, 1.0, True],
        ["append", "k", "y", 2.0, 3.0, True],
        ["append", "k", "z", 2.0, 3.0, True],
    ]
    violations = check_history(history, {"list-k": ["y", "x"]})
    assert violations == {
        "stale_or_future_reads": 1,
        "lost_or_duplicated_items": 1,
        "misordered": 1,
    }
