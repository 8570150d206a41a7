"""`open_storage(url)`: a driver from a URL, and `redact()`, which hides secrets in URLs."""

from __future__ import annotations

import importlib
import os
import re
from typing import Any, cast

from radaros.storage.base import StorageDriver

__all__ = ["DEFAULT_URL", "ENV_VAR", "SCHEMES", "open_storage", "redact"]

ENV_VAR = "RADAROS_STORAGE_URL"
DEFAULT_URL = "sqlite:///radaros.db"

SCHEMES: dict[str, str] = {
    "memory": "radaros.storage.memory:InMemoryStorage",
    "sqlite": "radaros.storage.sqlite:SqliteStorage",
    "postgresql": "radaros.storage.postgres:PostgresStorage",
    "postgres": "radaros.storage.postgres:PostgresStorage",
    "mongodb": "radaros.storage.mongodb:MongoDBStorage",
    "mongodb+srv": "radaros.storage.mongodb:MongoDBStorage",
}

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def redact(url: str) -> str:
    """The URL with any password (and anything that might be one) replaced by `***`.

    Errs on the side of hiding: everything between the first ':' after the scheme and the
    last '@' is masked, so passwords holding '@', '#', '/' or ':' never show, even in URLs
    that no parser accepts.
    """
    match = _SCHEME.match(url)
    if match is None:
        return "***" if "@" in url else url
    rest = url[match.end() :]
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo = rest[:at]
    user, separator, _ = userinfo.partition(":")
    masked = f"{user}:***" if separator else user or "***"
    return f"{match.group(0)}{masked}{rest[at:]}"


def url_secrets(url: str) -> list[str]:
    """Strings that must never be shown: the password as written, percent-decoded, and each
    piece of it between URL delimiters (a parser that stops at `#`, `@`, `/` or `?` shows
    only a piece, and that piece is still secret)."""
    from urllib.parse import unquote

    match = _SCHEME.match(url)
    rest = url[match.end() :] if match else url
    at = rest.rfind("@")
    if at < 0:
        return []
    _, separator, password = rest[:at].partition(":")
    if not separator or not password:
        return []
    secrets = {password, unquote(password)}
    secrets.update(piece for piece in re.split(r"[#@/?:]", password) if len(piece) >= 4)
    return sorted(secrets, key=len, reverse=True)


def open_storage(url: str | None = None, **options: Any) -> StorageDriver:
    """An unopened driver for the URL (`async with open_storage(url) as storage:`).

    Without a URL, `RADAROS_STORAGE_URL` is used. `options` go to the driver's constructor.
    """
    if url is None:
        url = os.environ.get(ENV_VAR)
        if not url:
            raise ValueError(f"no storage URL given and {ENV_VAR} is not set")
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    target = SCHEMES.get(scheme)
    if target is None:
        supported = ", ".join(f"{name}://" for name in SCHEMES)
        shown = f"{scheme}://" if scheme else repr(redact(url))
        raise ValueError(f"unsupported storage URL {shown}; supported: {supported}")
    module_name, class_name = target.split(":")
    driver_class = getattr(importlib.import_module(module_name), class_name)
    if scheme == "memory":
        return cast(StorageDriver, driver_class(**options))
    if scheme == "sqlite":
        path = url[match.end() :] if match else ""
        if not path.startswith("/") or len(path) < 2:
            raise ValueError(
                "SQLite URLs are sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        return cast(StorageDriver, driver_class(path[1:], **options))
    return cast(StorageDriver, driver_class(url, **options))
