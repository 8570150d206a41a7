"""radaros-storage: every command, and errors as one line without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from radaros.cli import main
from tests.support.cli import run_cli
from tests.support.drivers import MongoTarget, PostgresTarget, RedisTarget, mongodb_url


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


# -- 0.2: the rest of the command line ---------------------------------------------------------


def test_version_and_exit_codes_in_help(tmp_path: Path) -> None:
    from radaros import __version__

    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.strip() == f"radaros-storage {__version__}"
    help_text = run_cli("--help", cwd=tmp_path).stdout
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\n  {code} " in help_text
    assert "exit status" in help_text


def test_url_before_or_after_the_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/u.db"
    assert run_cli("set", "ns", "k", "1", "--url", url, cwd=tmp_path).returncode == 0
    assert run_cli("--url", url, "get", "ns", "k", cwd=tmp_path).stdout.strip() == "1"
    assert not (tmp_path / "radaros.db").exists()


def test_value_from_stdin_and_pretty_get(tmp_path: Path) -> None:
    done = run_cli("set", "ns", "k", "-", cwd=tmp_path, input='{"nested": {"list": [1, 2]}}')
    assert done.returncode == 0, done.stderr
    pretty = run_cli("get", "ns", "k", "--pretty", cwd=tmp_path).stdout
    assert pretty == '{\n  "nested": {\n    "list": [\n      1,\n      2\n    ]\n  }\n}\n'


def test_a_bare_word_value_gets_a_hint(tmp_path: Path) -> None:
    result = run_cli("set", "ns", "k", "hello", cwd=tmp_path)
    assert result.returncode == 1
    assert "quote it: '\"hello\"'" in result.stderr
    assert not (tmp_path / "radaros.db").exists()  # refused before opening anything


def test_ttl_touch_and_clear(tmp_path: Path) -> None:
    assert run_cli("set", "ns", "a", "1", cwd=tmp_path).returncode == 0
    assert run_cli("set", "ns", "b", "2", "--ttl", "100", cwd=tmp_path).returncode == 0
    assert run_cli("ttl", "ns", "a", cwd=tmp_path).stdout.strip() == "never"
    left = float(run_cli("ttl", "ns", "b", cwd=tmp_path).stdout)
    assert 0 < left <= 100
    assert run_cli("touch", "ns", "a", "--ttl", "50", cwd=tmp_path).returncode == 0
    assert 0 < float(run_cli("ttl", "ns", "a", cwd=tmp_path).stdout) <= 50
    assert run_cli("touch", "ns", "b", "--never", cwd=tmp_path).returncode == 0
    assert run_cli("ttl", "ns", "b", cwd=tmp_path).stdout.strip() == "never"
    assert run_cli("ttl", "ns", "zz", cwd=tmp_path).returncode == 3
    assert run_cli("touch", "ns", "zz", "--ttl", "5", cwd=tmp_path).returncode == 3
    assert run_cli("touch", "ns", "a", cwd=tmp_path).returncode == 2  # --ttl or --never
    assert run_cli("clear", "ns", "--prefix", "a", cwd=tmp_path).stdout.strip() == "1"
    assert run_cli("clear", "ns", cwd=tmp_path).stdout.strip() == "1"
    assert run_cli("count", "ns", cwd=tmp_path).stdout.strip() == "0"


@pytest.mark.parametrize(
    "args",
    [
        ["get", "ns", "k"],
        ["list", "ns"],
        ["count", "ns"],
        ["namespaces"],
        ["ttl", "ns", "k"],
        ["export"],
    ],
)
def test_reads_never_create_a_database(tmp_path: Path, args: list[str]) -> None:
    url = f"sqlite:///{tmp_path}/typo.db"
    result = run_cli("--url", url, *args, cwd=tmp_path)
    assert result.returncode == 1
    assert f"no SQLite database at {tmp_path}/typo.db" in result.stderr
    assert not (tmp_path / "typo.db").exists()


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/big.db"
    values = "".join(
        f'{{"namespace": "ns", "key": "k{i:05}", "value": {i}, "ttl": null}}\n'
        for i in range(20_000)
    )
    (tmp_path / "in.jsonl").write_text(values)
    assert run_cli("--url", url, "import", str(tmp_path / "in.jsonl"), cwd=tmp_path).returncode == 0
    environment = {k: v for k, v in os.environ.items() if k != "RADAROS_STORAGE_URL"}
    listing = subprocess.Popen(
        [sys.executable, "-m", "radaros", "--url", url, "list", "ns"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert listing.stdout is not None
    first = listing.stdout.readline()
    listing.stdout.close()  # what `| head -1` does
    _, stderr = listing.communicate(timeout=60)
    assert json.loads(first) == {"key": "k00000", "value": 0}
    assert listing.returncode == 0
    assert stderr == b""


def test_export_import_round_trip_keeps_expiries(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path}/src.db"
    target = f"sqlite:///{tmp_path}/dst.db"
    assert run_cli("--url", source, "set", "a", "k1", '{"x": 1}', cwd=tmp_path).returncode == 0
    assert (
        run_cli("--url", source, "set", "a", "k2", "2", "--ttl", "300", cwd=tmp_path).returncode
        == 0
    )
    assert run_cli("--url", source, "set", "b", "k", '"é"', cwd=tmp_path).returncode == 0
    exported = run_cli("--url", source, "export", cwd=tmp_path)
    assert exported.returncode == 0
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(r["namespace"], r["key"], r["value"]) for r in records] == [
        ("a", "k1", {"x": 1}),
        ("a", "k2", 2),
        ("b", "k", "é"),
    ]
    assert records[0]["ttl"] is None
    assert 0 < records[1]["ttl"] <= 300
    only_a = run_cli(
        "--url",
        source,
        "export",
        "--namespace",
        "a",
        "--prefix",
        "k2",
        "-o",
        str(tmp_path / "a.jsonl"),
        cwd=tmp_path,
    )
    assert only_a.returncode == 0
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 1
    (tmp_path / "all.jsonl").write_text(exported.stdout)
    dry = run_cli("--url", target, "import", str(tmp_path / "all.jsonl"), "--dry-run", cwd=tmp_path)
    assert "would import 3 entries" in dry.stderr
    assert not Path(target.removeprefix("sqlite:///")).exists()  # nothing written, not even a file
    assert (
        run_cli("--url", target, "import", str(tmp_path / "all.jsonl"), cwd=tmp_path).returncode
        == 0
    )
    assert run_cli("--url", target, "get", "a", "k1", cwd=tmp_path).stdout.strip() == '{"x": 1}'
    assert 0 < float(run_cli("--url", target, "ttl", "a", "k2", cwd=tmp_path).stdout) <= 300
    assert run_cli("--url", target, "ttl", "a", "k1", cwd=tmp_path).stdout.strip() == "never"
    assert run_cli("--url", target, "set", "b", "k", '"changed"', cwd=tmp_path).returncode == 0
    again = run_cli(
        "--url", target, "import", str(tmp_path / "all.jsonl"), "--skip-existing", cwd=tmp_path
    )
    assert "3 skipped" in again.stderr
    assert run_cli("--url", target, "get", "b", "k", cwd=tmp_path).stdout.strip() == '"changed"'


def test_import_refuses_a_malformed_line_by_number(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text(
        '{"namespace": "a", "key": "k", "value": 1, "ttl": null}\n{"namespace": "a"}\n'
    )
    result = run_cli("import", str(tmp_path / "bad.jsonl"), cwd=tmp_path)
    assert result.returncode == 1
    assert "line 2" in result.stderr


def test_copy_with_dry_run_and_verified_counts(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path}/src.db"
    target = f"sqlite:///{tmp_path}/dst.db"
    lines = "".join(
        json.dumps(
            {"namespace": f"n{i % 3}", "key": f"k{i}", "value": i, "ttl": 300 if i % 2 else None}
        )
        + "\n"
        for i in range(2500)
    )
    (tmp_path / "in.jsonl").write_text(lines)
    assert (
        run_cli("--url", source, "import", str(tmp_path / "in.jsonl"), cwd=tmp_path).returncode == 0
    )
    dry = run_cli("copy", source, target, "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0
    assert "would copy 2500 entries in 3 namespaces" in dry.stderr
    assert not (tmp_path / "dst.db").exists()  # a dry run writes nothing anywhere
    done = run_cli("copy", source, target, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "copied 2500 entries in 3 namespaces" in done.stderr
    for namespace in ("n0", "n1", "n2"):
        ours = run_cli("--url", source, "count", namespace, cwd=tmp_path).stdout
        assert run_cli("--url", target, "count", namespace, cwd=tmp_path).stdout == ours
    assert 0 < float(run_cli("--url", target, "ttl", "n1", "k1", cwd=tmp_path).stdout) <= 300
    assert run_cli("--url", target, "ttl", "n0", "k0", cwd=tmp_path).stdout.strip() == "never"
    missing = run_cli("copy", f"sqlite:///{tmp_path}/nope.db", target, cwd=tmp_path)
    assert missing.returncode == 1
    assert "no SQLite database" in missing.stderr


def _jsonl(*records: Mapping[str, object]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def test_import_applies_lines_in_order_and_counts_keys(tmp_path: Path) -> None:
    """A key on several lines ends with its last line's value (and expiry), as a replay."""
    (tmp_path / "in.jsonl").write_text(
        _jsonl(
            {"namespace": "a", "key": "k", "value": "first", "ttl": 100},
            {"namespace": "a", "key": "other", "value": 1, "ttl": None},
            {"namespace": "a", "key": "k", "value": "last", "ttl": None},
        )
    )
    result = run_cli("import", str(tmp_path / "in.jsonl"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported 2 entries" in result.stderr
    assert run_cli("get", "a", "k", cwd=tmp_path).stdout.strip() == '"last"'
    assert run_cli("ttl", "a", "k", cwd=tmp_path).stdout.strip() == "never"


def test_a_dry_run_reports_what_the_real_run_does_and_writes_nothing(tmp_path: Path) -> None:
    """`import --skip-existing --dry-run` counts the keys that exist; no dry run and no
    import of a missing file creates the database."""
    lines = _jsonl(*({"namespace": "a", "key": f"k{i}", "value": i, "ttl": None} for i in range(3)))
    (tmp_path / "in.jsonl").write_text(lines)
    dry = run_cli("import", str(tmp_path / "in.jsonl"), "--dry-run", cwd=tmp_path)
    assert "would import 3 entries" in dry.stderr
    skipping = run_cli(
        "import", str(tmp_path / "in.jsonl"), "--dry-run", "--skip-existing", cwd=tmp_path
    )
    assert "would import 3 entries" in skipping.stderr
    missing = run_cli("import", str(tmp_path / "nope.jsonl"), cwd=tmp_path)
    assert missing.returncode == 1
    assert "nope.jsonl" in missing.stderr
    assert not (tmp_path / "radaros.db").exists()
    assert run_cli("import", str(tmp_path / "in.jsonl"), cwd=tmp_path).returncode == 0
    again = run_cli(
        "import", str(tmp_path / "in.jsonl"), "--dry-run", "--skip-existing", cwd=tmp_path
    )
    assert "would import 0 entries, 3 skipped" in again.stderr
    real = run_cli("import", str(tmp_path / "in.jsonl"), "--skip-existing", cwd=tmp_path)
    assert "imported 0 entries, 3 skipped" in real.stderr


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"namespace": "a", "key": ["k"], "value": 1}', "key must be a str"),
        ('{"namespace": {"n": 1}, "key": "k", "value": 1}', "namespace must be a str"),
        ('{"namespace": "a", "key": "k", "value": 1, "ttl": 1e999}', "ttl must be finite"),
        ('{"namespace": "a", "key": "k", "value": 1, "ttl": true}', "ttl must be finite"),
        ('{"namespace": "a", "key": "", "value": 1}', "key must not be empty"),
    ],
)
def test_an_import_error_names_its_line_and_what_was_written(
    tmp_path: Path, line: str, problem: str
) -> None:
    """A bad line stops the import with one line naming it; the lines before it are
    written, and the message says how many."""
    good = _jsonl(*({"namespace": "a", "key": f"g{i}", "value": i, "ttl": None} for i in range(4)))
    (tmp_path / "in.jsonl").write_text(good + line + "\n")
    result = run_cli("import", str(tmp_path / "in.jsonl"), cwd=tmp_path)
    assert result.returncode == 1
    assert "line 5" in result.stderr
    assert problem in result.stderr
    assert "4 entries before it were written" in result.stderr
    assert "Traceback" not in result.stderr
    assert run_cli("count", "a", cwd=tmp_path).stdout.strip() == "4"


def test_a_binary_file_is_refused_in_one_line(tmp_path: Path) -> None:
    """A file that is not UTF-8 text is a one-line error naming where it stopped."""
    (tmp_path / "in.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    result = run_cli("import", str(tmp_path / "in.bin"), cwd=tmp_path)
    assert result.returncode == 1
    assert "not UTF-8" in result.stderr
    assert result.stderr.count("\n") == 1


def test_copy_to_the_same_storage_is_refused(tmp_path: Path) -> None:
    """`copy X X` (the same URL, or the same SQLite file by another path) is refused."""
    url = f"sqlite:///{tmp_path}/x.db"
    assert run_cli("--url", url, "set", "a", "k", "1", cwd=tmp_path).returncode == 0
    same = run_cli("copy", url, url, cwd=tmp_path)
    assert same.returncode == 1
    assert "same storage" in same.stderr
    other_path = run_cli("copy", url, "sqlite:///x.db", cwd=tmp_path)
    assert other_path.returncode == 1
    assert "same storage" in other_path.stderr


def test_delete_says_whether_it_removed_a_key(tmp_path: Path) -> None:
    """`delete` prints whether a key was removed; the exit status is 0 either way."""
    assert run_cli("set", "a", "k", "1", cwd=tmp_path).returncode == 0
    first = run_cli("delete", "a", "k", cwd=tmp_path)
    assert (first.returncode, first.stdout.strip()) == (0, "deleted")
    second = run_cli("delete", "a", "k", cwd=tmp_path)
    assert second.returncode == 0
    assert second.stdout.strip().startswith("not found")
