"""The documentation site: built with --strict, every page rendered in headless Chromium,
no broken internal link, and search finds pages."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from tests.support.browser import Browser, chromium_binary
from tests.support.drivers import unavailable

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr
    return folder


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if chromium_binary() is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    opened = Browser()
    try:
        yield opened
    finally:
        opened.close()


def pages(site: Path) -> list[str]:
    return sorted(
        str(path.relative_to(site)) for path in site.rglob("*.html") if path.name != "404.html"
    )


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.table_rows = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.table_rows += 1
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if value and ((tag == "a" and name == "href") or name == "src"):
                self.links.append(value)


@functools.cache
def parsed(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def test_the_site_has_every_page(site: Path) -> None:
    expected = {
        "index.html",
        "drivers/index.html",
        "semantics/index.html",
        "typed-values/index.html",
        "sessions/index.html",
        "sync/index.html",
        "cli/index.html",
        "operations/index.html",
        "observability/index.html",
        "performance/index.html",
        "reliability/index.html",
        "writing-a-driver/index.html",
        "api/index.html",
    }
    assert expected <= set(pages(site))
    assert "radaros.StorageDriver.set_many" in (site / "api/index.html").read_text()
    assert (site / "performance.png").exists()


def test_no_broken_internal_link(site: Path) -> None:
    broken = []
    for page in pages(site):
        base = f"http://site/{page}"
        for link in parsed(site / page).links:
            url = urlsplit(urljoin(base, link))
            if url.netloc != "site":
                continue  # external: not fetched, the site is read offline
            target = site / unquote(url.path).lstrip("/")
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page}: {link}")
            elif (
                url.fragment
                and target.suffix == ".html"
                and unquote(url.fragment) not in parsed(target).ids
            ):
                broken.append(f"{page}: {link} (no such anchor)")
    assert broken == []


def test_every_page_renders_in_chromium(site: Path, served: str, browser: Browser) -> None:
    blank = []
    for page in pages(site):
        browser.open(served + page)
        title = browser.wait_for("document.querySelector('article h1')?.textContent || ''")
        rendered = browser.evaluate("document.querySelector('.md-nav') !== null")
        if not title or not rendered:
            blank.append(page)
    assert blank == []


def test_search_finds_pages(served: str, browser: Browser) -> None:
    browser.open(served + "?q=conformance")
    found = browser.wait_for("document.querySelectorAll('.md-search-result__item').length")
    assert found
    first = browser.evaluate("document.querySelector('.md-search-result__link').href")
    browser.open(first)
    assert browser.wait_for("document.querySelector('article h1')?.textContent || ''")


def markdown_table_rows(text: str) -> int:
    """Rows of the Markdown tables of a page (header and body, outside code blocks)."""
    rows, in_code = 0, False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("|") and not set(line) <= set("|-: "):
            rows += 1
    return rows


def test_every_table_row_renders_as_a_row(site: Path) -> None:
    """A table broken by a blank line renders its rest as a paragraph: every Markdown
    table row of every page is a row of the built page."""
    wrong = {}
    for source in sorted((ROOT / "docs").glob("*.md")):
        built = site / ("index.html" if source.stem == "index" else f"{source.stem}/index.html")
        expected = markdown_table_rows(source.read_text(encoding="utf-8"))
        if parsed(built).table_rows != expected:
            wrong[source.name] = (expected, parsed(built).table_rows)
    assert wrong == {}


def documented_objects() -> dict[str, object]:
    """Every public object, by the path the API reference documents it under."""
    import radaros
    import radaros.storage.testing
    import radaros.sync
    import radaros.telemetry
    import radaros.testing
    import radaros.transfer

    found: dict[str, object] = {
        f"radaros.{name}": getattr(radaros, name) for name in radaros.__all__
    }
    for module in (radaros.sync, radaros.telemetry, radaros.transfer):
        found |= {f"{module.__name__}.{name}": getattr(module, name) for name in module.__all__}
    found["radaros.storage.testing.ConformanceSuite"] = radaros.storage.testing.ConformanceSuite
    found["radaros.testing.AgentTests"] = radaros.testing.AgentTests
    return found


def test_the_api_reference_has_every_public_class_and_method(site: Path) -> None:
    """Each public name has its heading, and each public method or attribute appears under
    the class that defines it (inherited ones under the documented base)."""
    anchors = parsed(site / "api/index.html").ids
    objects = documented_objects()
    path_of = {id(value): path for path, value in objects.items() if isinstance(value, type)}
    missing = [path for path in objects if path not in anchors]
    for path, value in objects.items():
        if not isinstance(value, type) or path.endswith(("ConformanceSuite", "AgentTests")):
            continue  # the kit's members are its tests, listed by pytest
        for name in dir(value):
            if name.startswith("_"):
                continue
            owner = next(klass for klass in value.__mro__ if name in vars(klass))
            owner_path = path if owner is value else path_of.get(id(owner))
            if owner_path is not None and f"{owner_path}.{name}" not in anchors:
                missing.append(f"{owner_path}.{name}")
    assert sorted(set(missing)) == []
