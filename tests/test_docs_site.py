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

from tests.conftest import unavailable
from tests.support.browser import Browser, chromium_binary

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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
    assert "radaros.storage.StorageDriver.set_many" in (site / "api/index.html").read_text()
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
