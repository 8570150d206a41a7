"""Two sides of one workload (radaros and a framework's own backend), measured interleaved."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

Workload = dict[str, Callable[[], Awaitable[Any]]]


async def rate(call: Callable[[], Awaitable[Any]], ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        await call()
    return ops / (time.perf_counter() - started)


async def compare(workloads: dict[str, Workload], rounds: int, ops: int) -> dict[str, Any]:
    """Per workload: both rates (medians) and the median per-round ratio."""
    for sides in workloads.values():  # warm-up
        for call in sides.values():
            await rate(call, max(1, ops // 10))
    rates: dict[str, dict[str, list[float]]] = {
        name: {side: [] for side in sides} for name, sides in workloads.items()
    }
    for _ in range(rounds):
        for name, sides in workloads.items():
            for side, call in sides.items():
                rates[name][side].append(await rate(call, ops))
    figures = {}
    for name, by_side in rates.items():
        ours, theirs = by_side["radaros"], by_side["framework"]
        figures[name] = {
            "radaros": statistics.median(ours),
            "framework": statistics.median(theirs),
            "ratio": statistics.median(a / b for a, b in zip(ours, theirs, strict=True)),
        }
    return figures
