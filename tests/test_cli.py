"""radaros-storage: every command, and errors as one line without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from radaros.storage.cli import main
from tests.conftest import MongoTarget, PostgresTarget, RedisTarget, mongodb_url


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh process (python -m radaros)."""
    environment = {**os.environ, **(env or {})}
    if env is None:
        environment.pop("RADAROS_STORAGE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "radaros", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_commands_work_on_the_default_sqlite_file(tmp_path: Path) -> None:
    """set, get, list, count, namespaces and delete on sqlite:///radaros.db in the cwd."""
    assert run_cli("set", "myapp", "config", '{"theme": "dark"}', cwd=tmp_path).returncode == 0
    assert run_cli("set", "myapp", "user:1", '[1, 2.0, "é"]', cwd=tmp_path).returncode == 0
    assert (tmp_path / "radaros.db").exists()
    got = run_cli("get", "myapp", "config", cwd=tmp_path)
    assert json.loads(got.stdout) == {"theme": "dark"}
    listed = run_cli("list", "myapp", "--prefix", "user:", cwd=tmp_path)
    assert [json.loads(line) for line in listed.stdout.splitlines()] == [
        {"key": "user:1", "value": [1, 2.0, "é"]}
    ]
    assert run_cli("count", "myapp", cwd=tmp_path).stdout.strip() == "2"
    assert run_cli("namespaces", cwd=tmp_path).stdout.splitlines() == ["myapp"]
    assert run_cli("delete", "myapp", "config", cwd=tmp_path).returncode == 0
    missing = run_cli("get", "myapp", "config", cwd=tmp_path)
    assert missing.returncode == 3
    assert missing.stdout == ""


def test_url_option_and_environment(tmp_path: Path) -> None:
    """--url wins over RADAROS_STORAGE_URL, which wins over the default file."""
    env = {"RADAROS_STORAGE_URL": f"sqlite:///{tmp_path}/env.db"}
    assert run_cli("set", "ns", "k", "1", cwd=tmp_path, env=env).returncode == 0
    assert (tmp_path / "env.db").exists()
    assert (
        run_cli(
            "--url", f"sqlite:///{tmp_path}/opt.db", "set", "ns", "k", "2", cwd=tmp_path, env=env
        ).returncode
        == 0
    )
    assert (tmp_path / "opt.db").exists()
    assert not (tmp_path / "radaros.db").exists()


def test_ttl_option(tmp_path: Path) -> None:
    """set --ttl stores an expiring value."""
    assert run_cli("set", "ns", "k", '"v"', "--ttl", "0.2", cwd=tmp_path).returncode == 0
    import time

    time.sleep(0.4)
    assert run_cli("get", "ns", "k", cwd=tmp_path).returncode == 3


@pytest.mark.parametrize(
    "args",
    [
        ["set", "ns", "k", "{not json"],
        ["set", "ns", "k", "NaN"],
        ["set", "", "k", "1"],
        ["set", "ns", "k", "1", "--ttl", "-1"],
        ["--url", "redis://x", "get", "ns", "k"],
        ["--url", "sqlite:////nonexistent-dir/sub/x.db", "get", "ns", "k"],
        ["--url", "postgresql://u:canary-pass@127.0.0.1:1/db", "get", "ns", "k"],
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path: Path, args: list[str]) -> None:
    """Bad JSON, bad names, bad URLs and unreachable servers: one line, non-zero exit."""
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("radaros-storage: error: ")
    assert "canary-pass" not in result.stderr + result.stdout


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    """argparse rejects an unknown command with exit status 2."""
    result = run_cli("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_main_returns_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """main(argv) is callable in-process and returns the status instead of exiting."""
    url = f"sqlite:///{tmp_path}/m.db"
    assert main(["--url", url, "set", "ns", "k", '{"a": 1}']) == 0
    assert main(["--url", url, "get", "ns", "k"]) == 0
    assert json.loads(capsys.readouterr().out) == {"a": 1}


@pytest.mark.postgres
def test_commands_work_on_postgresql(postgres: PostgresTarget, tmp_path: Path) -> None:
    """The CLI initializes and uses a PostgreSQL URL."""
    url = postgres.url
    assert run_cli("--url", url, "set", "cli", "k", '{"a": [1, 2.5]}', cwd=tmp_path).returncode == 0
    assert json.loads(run_cli("--url", url, "get", "cli", "k", cwd=tmp_path).stdout) == {
        "a": [1, 2.5]
    }
    assert run_cli("--url", url, "count", "cli", cwd=tmp_path).stdout.strip() == "1"
    assert run_cli("--url", url, "delete", "cli", "k", cwd=tmp_path).returncode == 0


@pytest.mark.mongodb
def test_commands_work_on_mongodb(mongodb: MongoTarget, tmp_path: Path) -> None:
    """The CLI initializes and uses a MongoDB URL."""
    url = mongodb_url(mongodb.url, "radaros_cli")
    assert run_cli("--url", url, "set", "cli", "k", '["x", 1e300]', cwd=tmp_path).returncode == 0
    assert json.loads(run_cli("--url", url, "get", "cli", "k", cwd=tmp_path).stdout) == ["x", 1e300]
    assert run_cli("--url", url, "namespaces", cwd=tmp_path).stdout.splitlines() == ["cli"]


@pytest.mark.redis
def test_commands_work_on_redis(redis: RedisTarget, tmp_path: Path) -> None:
    """The CLI initializes and uses a Redis URL with options in its query string."""
    url = f"{redis.url}?prefix=radaros_cli"
    assert run_cli("--url", url, "set", "cli", "k", '{"n": 1}', cwd=tmp_path).returncode == 0
    assert json.loads(run_cli("--url", url, "get", "cli", "k", cwd=tmp_path).stdout) == {"n": 1}
    assert "cli" in run_cli("--url", url, "namespaces", cwd=tmp_path).stdout.splitlines()
    assert run_cli("--url", url, "delete", "cli", "k", cwd=tmp_path).returncode == 0
    assert run_cli("--url", url, "get", "cli", "k", cwd=tmp_path).returncode == 3
