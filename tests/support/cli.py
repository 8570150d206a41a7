"""The real command line in a fresh process, for the CLI and transfer tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout_s: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`python -m radaros *args`; without `env`, RADAROS_STORAGE_URL is unset."""
    environment = {**os.environ, **(env or {})}
    if env is None:
        environment.pop("RADAROS_STORAGE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "radaros", *args],
        cwd=cwd,
        env=environment,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
