"""Two sides of one workload (radaros and a framework's own backend), measured interleaved.

    python -m benchmarks.sides benchmarks/results/frameworks.json --plot docs/frameworks.png

`benchmarks.langgraph` and `benchmarks.agent_sessions` record their figures with `--json`
(one file for both: each run replaces its own rows); this draws them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
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


def record(path: Path, benchmark: str, backend: str, figures: dict[str, Any]) -> None:
    """Put one backend's figures into the JSON file, replacing that backend's earlier rows."""
    earlier = json.loads(path.read_text()) if path.exists() else {}
    rows = [
        row
        for row in earlier.get("rows", [])
        if (row["benchmark"], row["backend"]) != (benchmark, backend)
    ]
    rows += [
        {"benchmark": benchmark, "backend": backend, "workload": workload, **values}
        for workload, values in figures.items()
    ]
    command = f"python -m benchmarks.{benchmark} " + " ".join(sys.argv[1:])
    document = {"rows": rows, "commands": {**earlier.get("commands", {}), benchmark: command}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1))


def _framework(row: dict[str, Any]) -> str:
    """LangGraph's rows name only the backend; the agent sessions' name the framework."""
    return "" if "-" in row["backend"] else row["benchmark"]


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """One bar per (backend, workload): radaros / the framework's own backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    labels = [f"{_framework(row)} {row['backend']} {row['workload']}".strip() for row in rows]
    values = [row["ratio"] for row in rows]
    colours = ["#2a9d8f" if value >= 1 else "#e76f51" for value in values]
    figure, axes = plt.subplots(figsize=(9, 0.3 * len(rows) + 1.4))
    axes.barh(labels[::-1], values[::-1], color=colours[::-1])
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%gx"))
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xticks([0.5, 1, 2, 4, 8])
    axes.set_xlabel("radaros throughput / the framework's own backend (log scale)")
    axes.set_title("radaros beside each framework's own backend, same server or disk", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("results", type=Path)
    parser.add_argument("--plot", type=Path, required=True)
    args = parser.parse_args()
    plot(json.loads(args.results.read_text())["rows"], args.plot)


if __name__ == "__main__":
    main()
