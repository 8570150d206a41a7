"""A pytest plugin that runs the OpenAI Agents SDK's own session tests on `RadarosSession`.

Loaded (`-p radaros_openai_agents`) into a pytest run inside the SDK's sdist, downloaded
from PyPI at test time. Every `SQLiteSession(...)` those tests make becomes a
`RadarosSession` on the storage at `RADAROS_TEST_STORAGE_URL`: one scope of that storage per
database file the test names (so two sessions on one file share it, and tests never see
each other's data), a fresh scope for each in-memory one. The tests of SQLiteSession's own
sqlite3 connections, file locks and SQL rows are deselected: `RadarosSession` has none.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from radaros.integrations.openai_agents import RadarosSession
from radaros.sync import SyncStorage, open_storage

# Tests of SQLiteSession's implementation, not of the Session protocol.
SQLITE_INTERNALS = {
    "test_sqlite_session_close_closes_worker_thread_connections",
    "test_sqlite_session_reaps_connections_from_exited_worker_threads",
    "test_sqlite_session_closes_retired_connections_before_the_next_allocation",
    "test_sqlite_session_keeps_connections_of_live_worker_threads",
    "test_sqlite_session_closed_rejects_empty_add_items",
    "test_sqlite_session_pop_item_skips_corrupt_most_recent",
    "test_sqlite_session_pop_item_returns_none_after_dropping_only_corrupt_rows",
    "test_sqlite_session_get_items_limit_skips_corrupt_newest_rows",
    "test_sqlite_session_get_items_session_settings_limit_skips_corrupt_rows",
    "test_sqlite_session_file_lock_is_shared_across_instances",
    "test_sqlite_session_failed_add_items_releases_write_lock",
    "test_sqlite_session_failed_clear_session_rolls_back",
    "test_sqlite_session_failed_pop_item_releases_write_lock",
    "test_sqlite_session_rollback_failure_evicts_connection",
    "test_sqlite_session_close_retries_quarantined_connection",
    "test_sqlite_session_post_commit_cancellation_propagates_after_known_outcome",
    "test_await_mutation_cancellation_hides_later_failure_without_loop_error",
}

_storage: SyncStorage | None = None
_scopes: dict[str, str] = {}
_numbers = itertools.count()
made = 0


def _shared_storage() -> SyncStorage:
    global _storage
    if _storage is None:
        _storage = open_storage(os.environ["RADAROS_TEST_STORAGE_URL"]).open()
    return _storage


class SessionOnRadaros(RadarosSession):
    """Takes SQLiteSession's arguments; a database file is a scope of the shared storage."""

    def __init__(
        self,
        session_id: str,
        db_path: str | Path = ":memory:",
        *,
        session_settings: Any = None,
        **_: Any,
    ) -> None:
        global made
        if str(db_path) == ":memory:":
            scope = f"db-{next(_numbers)}"
        else:
            scope = _scopes.setdefault(str(db_path), f"db-{next(_numbers)}")
        super().__init__(
            session_id, _shared_storage().scoped(scope), session_settings=session_settings
        )
        made += 1

    def close(self) -> None:
        """SQLiteSession closes its connections; a RadarosSession owns none."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    internal = [item for item in items if item.name.split("[")[0] in SQLITE_INTERNALS]
    if internal:
        config.hook.pytest_deselected(items=internal)
        items[:] = [item for item in items if item not in internal]


@pytest.fixture(autouse=True)
def _sessions_on_radaros(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    import agents

    monkeypatch.setattr(agents, "SQLiteSession", SessionOnRadaros)
    module = request.node.module
    if module is not None and hasattr(module, "SQLiteSession"):
        monkeypatch.setattr(module, "SQLiteSession", SessionOnRadaros)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"radaros sessions made: {made}")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _storage is not None:
        _storage.close()
    sys.stdout.flush()
