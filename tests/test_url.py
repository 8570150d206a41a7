"""open_storage(), options in URLs, and the public surface."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import radaros
import radaros.storage
from radaros.storage import (
    InMemoryStorage,
    MongoDBStorage,
    PostgresStorage,
    RedisStorage,
    SqliteStorage,
    open_storage,
)


def test_public_names_are_sorted_and_complete() -> None:
    """__all__ is sorted, every name exists, and radaros re-exports radaros.storage (and
    the layers above it, which radaros.storage never imports)."""
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
    top = radaros.__all__
    assert top == sorted(top, key=lambda name: (not name.isupper(), name[0].islower(), name))
    assert set(top) >= set(names)  # radaros re-exports the storage level and adds the layers
    for name in names:
        assert getattr(radaros, name) is getattr(radaros.storage, name)
    for name in top:
        assert hasattr(radaros, name)
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
        open_storage("cassandra://localhost")
    for scheme in (
        "memory://",
        "sqlite://",
        "postgresql://",
        "mongodb://",
        "mongodb+srv://",
        "redis://",
        "rediss://",
    ):
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
    ("module", "make", "extra"),
    [
        ("asyncpg", lambda: radaros.PostgresStorage("postgresql://localhost/db"), "postgres"),
        ("pymongo", lambda: radaros.MongoDBStorage("mongodb://localhost/db"), "mongodb"),
        ("redis", lambda: radaros.RedisStorage("redis://localhost"), "redis"),
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

    code = (
        "import sys, radaros; "
        "print(*(name in sys.modules for name in ('asyncpg', 'pymongo', 'redis')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "False"]


def test_sqlite_options_come_from_the_query_string(tmp_path: Path) -> None:
    """sqlite:///agent.db?synchronous=NORMAL&lock_timeout=5 sets those options."""
    storage = open_storage(f"sqlite:///{tmp_path}/a.db?synchronous=normal&lock_timeout=5&table=t1")
    assert isinstance(storage, SqliteStorage)
    assert storage.path == f"{tmp_path}/a.db"
    assert storage._worker.synchronous == "NORMAL"
    assert storage._worker.lock_timeout_s == 5.0
    assert storage._table == "t1"


def test_postgres_options_in_url_and_keywords_win() -> None:
    """Pool sizes, timeouts and schema from the URL; libpq parameters stay for asyncpg;
    keywords given to open_storage win over the URL."""
    url = (
        "postgresql://app:pw@db.example/app?max_size=20&command_timeout=5&schema=agents"
        "&connect_timeout=2&sslmode=disable&application_name=worker"
    )
    storage = open_storage(url, max_size=3)
    assert isinstance(storage, PostgresStorage)
    assert storage._max_size == 3
    assert storage._connect_options["command_timeout"] == 5.0
    assert storage._connect_options["timeout"] == 2.0
    settings: Any = storage._connect_options["server_settings"]
    assert settings["application_name"] == "worker"
    assert storage._schema_name == "agents"
    assert storage._url == "postgresql://app:pw@db.example/app?sslmode=disable"


def test_postgresql_asyncpg_scheme_is_accepted() -> None:
    """SQLAlchemy-style postgresql+asyncpg:// URLs work as they are."""
    storage = open_storage("postgresql+asyncpg://app@db.example/app?max_size=4")
    assert isinstance(storage, PostgresStorage)
    assert storage._url == "postgresql://app@db.example/app"
    assert storage._max_size == 4


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://db.example/app?max_sise=3",
        "sqlite:///x.db?journal=wal",
        "memory://?size=3",
        "redis://127.0.0.1/0?clustr=true",
    ],
)
def test_unknown_option_is_named_with_the_known_ones(url: str) -> None:
    """An unknown URL option raises ValueError naming it and listing the known options."""
    with pytest.raises(ValueError, match="unknown option") as info:
        open_storage(url)
    name = url.rpartition("?")[2].partition("=")[0]
    assert repr(name) in str(info.value)
    assert "known options" in str(info.value)


def test_bad_option_value_is_a_clear_value_error() -> None:
    """A value of the wrong type names the option and the type."""
    with pytest.raises(ValueError, match="'max_size' must be a int"):
        open_storage("postgresql://db.example/app?max_size=many")
    with pytest.raises(ValueError, match="'pgbouncer' must be a bool"):
        open_storage("postgresql://db.example/app?pgbouncer=maybe")


def test_constructors_take_options_from_their_url_and_keywords_win() -> None:
    """Every driver constructor reads radaros options from its URL; a keyword wins."""
    postgres = PostgresStorage("postgresql://db.example/app?max_size=3&command_timeout=5")
    assert postgres._max_size == 3
    assert postgres._connect_options["command_timeout"] == 5.0
    assert postgres._url == "postgresql://db.example/app"
    assert PostgresStorage("postgresql://db.example/app?max_size=3", max_size=7)._max_size == 7
    assert "sslmode=require" in str(PostgresStorage("postgresql://h/app?sslmode=require")._url)
    redis = RedisStorage("redis://127.0.0.1/0?cluster=true", prefix="p")
    assert redis._is_cluster is True
    assert redis._prefix == "p"
    assert RedisStorage("redis://127.0.0.1/0?prefix=a", prefix="b")._prefix == "b"
    mongodb = MongoDBStorage("mongodb://db.example/app?collection=agents&timeout=3")
    assert mongodb._collection_name == "agents"
    assert mongodb._options["socketTimeoutMS"] == 3000
    sqlite = SqliteStorage("sqlite:///agent.db?table=agents")
    assert sqlite.path == "agent.db"
    assert sqlite._table == "agents"
    with pytest.raises(ValueError, match="unknown option 'max_sise'"):
        PostgresStorage("postgresql://db.example/app?max_sise=3")


def test_mongodb_keeps_pymongo_options() -> None:
    """radaros options leave a MongoDB URL; PyMongo's stay in it."""
    storage = open_storage(
        "mongodb://db.example/app?collection=agents&serverSelectionTimeoutMS=100&timeout=3"
    )
    assert isinstance(storage, MongoDBStorage)
    assert storage._collection_name == "agents"
    assert storage._options["socketTimeoutMS"] == 3000
    assert storage._url == "mongodb://db.example/app?serverSelectionTimeoutMS=100"


def test_redis_cluster_and_prefix_from_url() -> None:
    """?cluster=true selects Redis Cluster; prefix keeps radaros's keys apart."""
    storage = open_storage("redis://127.0.0.1:7000/0?cluster=true&prefix=agents")
    assert isinstance(storage, RedisStorage)
    assert storage._is_cluster is True
    assert storage._prefix == "agents"
    assert "cluster" in repr(storage)
    assert isinstance(open_storage("rediss://127.0.0.1:6380"), RedisStorage)
    with pytest.raises(ValueError, match="prefix"):
        RedisStorage("redis://127.0.0.1", prefix="a{b}")


def test_importing_radaros_imports_no_framework() -> None:
    """`import radaros` (and its integrations package) loads no agent framework."""
    import subprocess

    code = (
        "import sys, radaros, radaros.storage, radaros.sync, radaros.integrations\n"
        "frameworks = ('langgraph', 'langchain_core', 'agents', 'google.adk', 'llama_index')\n"
        "print(sorted(name for name in frameworks if name in sys.modules))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
