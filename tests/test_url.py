"""open_storage(), redact() and the public surface."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import radaros
import radaros.storage
from radaros.storage import InMemoryStorage, SqliteStorage, open_storage
from radaros.storage.secrets import redact, url_secrets


def test_public_names_are_sorted_and_complete() -> None:
    """__all__ is sorted, every name exists, and radaros re-exports radaros.storage."""
    names = radaros.storage.__all__
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert names == sorted(names, key=lambda name: (not name.isupper(), name[0].islower(), name))
    assert set(names) >= {
        "StorageDriver",
        "Entry",
        "InMemoryStorage",
        "SqliteStorage",
        "PostgresStorage",
        "MongoDBStorage",
        "open_storage",
        "StorageError",
        "InvalidKeyError",
        "SerializationError",
        "ValueTooLargeError",
        "StorageClosedError",
        "StorageNotInitializedError",
        "StorageConnectionError",
        "MEMORY_SHORT",
        "MEMORY_LONG",
        "SESSION_PREFIX",
    }
    assert radaros.__all__ == names
    for name in names:
        assert getattr(radaros, name) is getattr(radaros.storage, name)
    assert radaros.MEMORY_SHORT == "memory:short"
    assert radaros.MEMORY_LONG == "memory:long"
    assert radaros.SESSION_PREFIX == "session:"


def test_error_hierarchy() -> None:
    """The SPEC's error tree, with the ValueError and ConnectionError mix-ins."""
    from radaros import storage as s

    for error in (s.InvalidKeyError, s.SerializationError, s.ValueTooLargeError):
        assert issubclass(error, s.StorageError)
        assert issubclass(error, ValueError)
    assert issubclass(s.StorageConnectionError, ConnectionError)
    for other in (s.StorageClosedError, s.StorageNotInitializedError, s.StorageConnectionError):
        assert issubclass(other, s.StorageError)


def test_memory_and_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """memory://, relative and absolute sqlite URLs map to the right drivers and paths."""
    assert isinstance(open_storage("memory://"), InMemoryStorage)
    absolute = open_storage(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(absolute, SqliteStorage)
    assert absolute.path == f"{tmp_path}/a.db"
    monkeypatch.chdir(tmp_path)
    relative = open_storage("sqlite:///data/b.db")
    assert isinstance(relative, SqliteStorage)
    assert relative.path == "data/b.db"


def test_unknown_scheme_lists_the_supported_ones() -> None:
    """An unknown scheme raises ValueError naming every supported scheme."""
    with pytest.raises(ValueError, match="supported") as info:
        open_storage("redis://localhost")
    for scheme in ("memory://", "sqlite://", "postgresql://", "mongodb://", "mongodb+srv://"):
        assert scheme in str(info.value)
    with pytest.raises(ValueError, match="sqlite"):
        open_storage("sqlite://relative.db")


def test_default_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL, RADAROS_STORAGE_URL is used; without either, a clear ValueError."""
    monkeypatch.setenv("RADAROS_STORAGE_URL", "memory://")
    assert isinstance(open_storage(), InMemoryStorage)
    monkeypatch.delenv("RADAROS_STORAGE_URL")
    with pytest.raises(ValueError, match="RADAROS_STORAGE_URL"):
        open_storage()


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://user:s3cr3t@host/db", "s3cr3t"),
        ("postgresql://user:p@ss#word@host:5432/db", "p@ss#word"),
        ("mongodb+srv://user:a%40b@cluster.example/db?x=1", "a%40b"),
        ("postgres://:onlypass@host", "onlypass"),
        ("mongodb://u:pa/ss@h/db", "pa/ss"),
        ("postgresql://user:pa:ss@host", "pa:ss"),
    ],
)
def test_redact_hides_the_password(url: str, secret: str) -> None:
    """redact() masks passwords, including ones holding @, #, / or :."""
    shown = redact(url)
    assert secret not in shown
    assert "***" in shown
    assert secret in url_secrets(url)


def test_secrets_include_pieces_a_parser_may_show() -> None:
    """A password cut at '#' or '@' by some URL parser is still recognised as secret."""
    secrets = url_secrets("postgresql://u:Canary-Pw#@xyzw@host/db")
    assert {"Canary-Pw#@xyzw", "Canary-Pw", "xyzw"} <= set(secrets)


def test_redact_leaves_urls_without_password_alone() -> None:
    """A URL without a password is shown unchanged."""
    assert redact("postgresql://localhost/db") == "postgresql://localhost/db"
    assert redact("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("module", "make", "extra"),
    [
        ("asyncpg", lambda: radaros.PostgresStorage("postgresql://localhost/db"), "postgres"),
        ("pymongo", lambda: radaros.MongoDBStorage("mongodb://localhost/db"), "mongodb"),
    ],
)
def test_missing_extra_names_the_pip_install(
    monkeypatch: pytest.MonkeyPatch, module: str, make: Any, extra: str
) -> None:
    """Without its client library a driver raises ImportError naming the extra to install.

    The library is installed here, so its absence is simulated by hiding the module
    (sys.modules[name] = None makes `import name` fail), the only way to test this path.
    """
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"pip install 'radaros\[{extra}\]'"):
        make()


def test_importing_radaros_imports_no_backend() -> None:
    """`import radaros` loads neither asyncpg nor pymongo (a fresh interpreter checks)."""
    import subprocess

    code = "import sys, radaros; print('asyncpg' in sys.modules, 'pymongo' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
