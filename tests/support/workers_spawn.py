"""Start `tests.support.workers` in several OS processes that begin their work at one instant."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any


def spawn_workers(command: str, url: str, processes: int, **options: Any) -> list[dict[str, Any]]:
    """Run `python -m tests.support.workers COMMAND URL` in `processes` processes; return
    their JSON results."""
    start_at = time.time() + 1.5
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.workers",
                command,
                url,
                "--worker",
                str(worker),
                "--start-at",
                str(start_at),
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(processes)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    return results
