"""Reliability: Hostile namespaces, keys and prefixes: no injection, no leak between namespaces.

Each test prints one line of figures in the "reliability figures" section.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from radaros.storage import (
    MongoDBStorage,
    PostgresStorage,
    SqliteStorage,
)
from tests.support.drivers import (
    DRIVERS,
    driver_factory,
    report,
)

pytestmark = pytest.mark.slow


# -- 11: injection and isolation corpus --------------------------------------------------------


PER_NS = 12  # keys written into every corpus namespace (the first 12 corpus strings)


def hostile_corpus() -> list[str]:
    """About 300 strings that are syntax somewhere: SQL, LIKE, regex, glob, JSON, Mongo, paths."""
    pieces = [
        "%",
        "_",
        "\\",
        "'",
        '"',
        ";",
        "--",
        "/*",
        "*/",
        "*",
        "?",
        "[",
        "]",
        "^",
        "$",
        ".",
        ":",
        "/",
        "{",
        "}",
        "(",
        ")",
        "|",
        "+",
        "\x01",
        " ",
        "\t",
        "é",
        "😀",
        "\u202e",
        "\u0301",
        "\uffff",
        "\U0010ffff",
        "ß",
        "İ",
        "ﬁ",
        "\u00a0",
        "0",
        "a",
        "A",
    ]
    corpus = list(pieces)
    corpus += [f"a{piece}" for piece in pieces] + [f"{piece}b" for piece in pieces]
    corpus += [f"ns{piece}x{piece}" for piece in pieces]
    corpus += [f"{piece}{piece}" for piece in pieces] + [f"x{piece}:{piece}y" for piece in pieces]
    corpus += [
        "'; DROP TABLE radaros_kv; --",
        '"; DROP TABLE x; --',
        "1' OR '1'='1",
        "$where",
        "$gt",
        "{$ne: null}",
        ".*",
        "^.*$",
        "a|b",
        "../etc/passwd",
        "%00",
        "\\x00",
        "session:",
        "session:1",
        "memory:short",
        "a:b",
        "a:b:c",
        "e\u0301",
        "é",
        "k" * 1024,
        "é" * 128,
        "😀" * 64,
    ]
    corpus += [f"{a}{b}" for a in ["a", "a:", "%", "_"] for b in ["", ":", ":b", "%", "_", "\\"]]
    return list(dict.fromkeys(corpus))


@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_injection_and_isolation_corpus(
    driver_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Hostile strings as namespaces, keys and prefixes: 0 cross-namespace reads or writes;
    prefix results equal Python's startswith in code point order."""
    corpus = hostile_corpus()
    namespaces = [text for text in corpus if len(text.encode()) <= 256]
    async with driver_factory(driver_name, tmp_path, request)() as storage:
        for namespace in namespaces:
            await storage.set_many(namespace, {key: [namespace, key] for key in corpus[:PER_NS]})
        await storage.set_many("corpus", {key: key for key in corpus})
        cross = 0
        for namespace in namespaces:
            for entry in await storage.list(namespace):
                cross += entry.value != [namespace, entry.key]
            cross += await storage.count(namespace) != PER_NS
        wrong_prefix = 0
        for prefix in corpus:
            expected = sorted(key for key in corpus if key.startswith(prefix))
            got = [entry.key for entry in await storage.list("corpus", prefix)]
            wrong_prefix += got != expected
        names = await storage.namespaces()
        cross += names != sorted({*namespaces, "corpus"})
    report(
        f"11 {driver_name} injection corpus: {len(corpus)} strings, {len(namespaces)} namespaces, "
        f"{cross} cross-namespace leaks, {wrong_prefix} wrong prefix results"
    )
    assert cross == 0
    assert wrong_prefix == 0


def test_hostile_table_and_collection_names_raise_before_io(tmp_path: Path) -> None:
    """Names that are not identifiers raise ValueError before any I/O, on every driver."""
    bad_names = ["kv; DROP TABLE x", "kv--", 'kv"', "kv'", "1kv", "", "k v", "kv\x00", "kv.x"]
    refused = 0
    for name in bad_names:
        for make in (
            lambda n: SqliteStorage(tmp_path / "never.db", table=n),
            lambda n: PostgresStorage("postgresql://127.0.0.1:9/db", table=n),
            lambda n: PostgresStorage("postgresql://127.0.0.1:9/db", schema=n),
        ):
            with pytest.raises(ValueError, match="name"):
                make(name)
            refused += 1
    for name in ["", "a$b", "system.x", "a\x00b"]:
        with pytest.raises(ValueError, match="collection"):
            MongoDBStorage("mongodb://127.0.0.1:9/", collection=name)
        refused += 1
    assert not (tmp_path / "never.db").exists()
    report(
        f"11 identifier names: {refused} hostile table/schema/collection names refused before I/O"
    )
