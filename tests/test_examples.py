"""The examples run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.drivers import PostgresTarget

EXAMPLE = Path(__file__).parent.parent / "examples" / "agent_memory.py"


def run_example(url: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def check_transcript(output: str) -> None:
    lines = output.splitlines()
    assert lines[0] == "[ada] hello -> echo: hello (context: 1 turns, summary: none)"
    assert "ada: session 'hello', 6 turns kept, summary: 2 earlier turns" in lines
    assert "bob: session 'hi there', 4 turns kept, summary: None" in lines


@pytest.mark.parametrize("url", ["memory://", "sqlite:///agent.db"])
def test_agent_memory_example(url: str, tmp_path: Path) -> None:
    check_transcript(run_example(url, tmp_path))
    if url.startswith("sqlite"):
        second = run_example(url, tmp_path)  # a second run adds a second session per user
        assert "ada: session 'hello', 6 turns kept, summary: 2 earlier turns" in second
        assert len([line for line in second.splitlines() if line.startswith("ada: ")]) == 2


@pytest.mark.postgres
def test_agent_memory_example_on_postgres(postgres: PostgresTarget, tmp_path: Path) -> None:
    check_transcript(run_example(postgres.url, tmp_path))
