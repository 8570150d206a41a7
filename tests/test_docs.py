"""Every Python example in the README and the docs runs as written, and prints what its
comments say it prints."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Names an example leaves to the reader, given here so that the example runs as written.
PRELUDE = """
from opentelemetry.sdk.metrics import MeterProvider as _MeterProvider
from opentelemetry.sdk.trace import TracerProvider as _TracerProvider
from radaros import SqliteStorage as MyStorage

my_tracer_provider = _TracerProvider()
my_meter_provider = _MeterProvider()


def __expect(value, expected):
    print(value)
    if isinstance(expected, float) and isinstance(value, (int, float)):
        assert abs(value - expected) <= 0.01 * abs(expected), (value, expected)
    else:
        assert value == expected, f"printed {value!r}, the comment says {expected!r}"
"""

# Top-level `await` and `async with` run as they do in `python -m asyncio` or Jupyter.
RUNNER = """
import ast, asyncio, sys
source = sys.stdin.read()
code = compile(source, "<example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
result = eval(code, {"__name__": "__main__"})
if asyncio.iscoroutine(result):
    asyncio.run(result)
"""

# An integration's example needs its framework: skipped where it is not installed, except in
# CI (RADAROS_REQUIRE_INTEGRATIONS=1), where that is a failure.
FRAMEWORK_IMPORT = re.compile(r"^(?:from|import) (?!radaros)(\w+)", re.MULTILINE)
INTEGRATION_IMPORT = re.compile(r"^from radaros\.integrations\.", re.MULTILINE)

PRINTED = re.compile(r"^(?P<indent>\s*)print\((?P<argument>.+)\)\s+# (?P<comment>[^;]+)(;.*)?$")


def examples() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
        found += [(page.name, number, block) for number, block in enumerate(blocks, 1)]
    return found


def checked(block: str) -> str:
    """The example with each `print(x)  # literal` turned into a check that x is that."""
    lines = []
    for line in block.splitlines():
        match = PRINTED.match(line)
        if match:
            try:
                expected = ast.literal_eval(match["comment"].strip())
                call = ast.parse(f"print({match['argument']})").body[0]
            except (ValueError, SyntaxError):
                pass
            else:
                assert isinstance(call, ast.Expr)
                assert isinstance(call.value, ast.Call)
                if len(call.value.args) == 1:
                    line = f"{match['indent']}__expect({match['argument']}, {expected!r})"
        lines.append(line)
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("page", "number", "block"),
    examples(),
    ids=[f"{page}-{number}" for page, number, _ in examples()],
)
def test_example_runs_and_prints_what_it_says(
    page: str, number: int, block: str, tmp_path: Path
) -> None:
    """The example runs in a fresh interpreter, in an empty folder."""
    if INTEGRATION_IMPORT.search(block):
        missing = sorted(
            {name for name in FRAMEWORK_IMPORT.findall(block) if not importlib.util.find_spec(name)}
        )
        from tests.integrations.conftest import supported

        if not all(supported(name) for name in missing):
            pytest.skip(f"{page} example {number}: {', '.join(missing)} needs a newer Python")
        if missing and os.environ.get("RADAROS_REQUIRE_INTEGRATIONS") != "1":
            pytest.skip(f"{page} example {number} needs {', '.join(missing)}")
    if "ConformanceSuite" in block:  # a test class: pytest runs (a few of) its tests
        (tmp_path / "test_example.py").write_text(PRELUDE + block)
        (tmp_path / "pytest.ini").write_text(  # what the page says the suite needs
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        )
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "prefix"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 0, f"{page} example {number}:\n{block}\n{done.stdout}"
        assert " passed" in done.stdout
        return
    done = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=PRELUDE + checked(block),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, f"{page} example {number}:\n{block}\n{done.stderr}"


def test_every_page_with_code_has_a_runnable_example() -> None:
    """The README and the pages that teach the API all carry examples this file runs."""
    pages = {page for page, _, _ in examples()}
    assert {"README.md", "index.md", "sessions.md", "sync.md", "typed-values.md"} <= pages
