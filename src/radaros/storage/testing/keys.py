"""Conformance: the seed interface, keys and namespaces."""

from __future__ import annotations

from typing import Any

import pytest

from radaros.storage import (
    Entry,
    InvalidKeyError,
    StorageDriver,
    StorageError,
)
from radaros.storage.testing.cases import (
    BAD_KEYS,
    BAD_NAMESPACES,
    BAD_PREFIXES,
    EDGE_KEYS,
)
from radaros.storage.testing.support import NS, SuiteBase

__all__ = ["KeyTests"]


class KeyTests(SuiteBase):
    """get/set/delete/list, and what a key, prefix or namespace may be."""

    async def test_quick_example_round_trips(self, storage: StorageDriver) -> None:
        """The seed's quick example: set a dict, get it back."""
        await storage.set("myapp", "config", {"theme": "dark"})
        assert await storage.get("myapp", "config") == {"theme": "dark"}

    async def test_get_returns_default_only_when_absent(self, storage: StorageDriver) -> None:
        """A stored None and an absent key can be told apart with `default`."""
        marker = object()
        await storage.set(NS, "none", None)
        assert await storage.get(NS, "none", marker) is None
        assert await storage.get(NS, "absent", marker) is marker
        assert await storage.get(NS, "absent") is None

    async def test_set_replaces_value(self, storage: StorageDriver) -> None:
        """A second set replaces the first."""
        await storage.set(NS, "k", 1)
        await storage.set(NS, "k", {"v": 2})
        assert await storage.get(NS, "k") == {"v": 2}
        assert await storage.count(NS) == 1

    async def test_delete_removes_and_ignores_absent(self, storage: StorageDriver) -> None:
        """delete removes the key; deleting an absent key is not an error."""
        await storage.set(NS, "k", 1)
        await storage.delete(NS, "k")
        await storage.delete(NS, "k")
        await storage.delete(NS, "never")
        assert await storage.get(NS, "k") is None

    async def test_list_returns_entries_in_key_order(self, storage: StorageDriver) -> None:
        """list returns Entry tuples ascending by key, unpackable as (key, value)."""
        for key in ["b", "a", "c"]:
            await storage.set(NS, key, key.upper())
        entries = await storage.list(NS)
        assert entries == [Entry("a", "A"), Entry("b", "B"), Entry("c", "C")]
        assert next(iter(entries)) == ("a", "A")
        key, value = entries[0]
        assert (key, value) == ("a", "A")
        assert entries[0].key == "a"
        assert entries[0].value == "A"

    async def test_list_of_empty_namespace_is_empty(self, storage: StorageDriver) -> None:
        """An unknown namespace lists, counts and clears as empty."""
        assert await storage.list("nothing-here") == []
        assert await storage.count("nothing-here") == 0
        assert await storage.clear("nothing-here") == 0

    @pytest.mark.parametrize("key", EDGE_KEYS, ids=range(len(EDGE_KEYS)))
    async def test_edge_key_is_data(self, storage: StorageDriver, key: str) -> None:
        """Any allowed character in a key or namespace is data, never syntax."""
        await storage.set(NS, "decoy", 0)
        await storage.set(NS, key, key)
        assert await storage.get(NS, key) == key
        expected = sorted(
            [Entry(key, key)] + ([Entry("decoy", 0)] if "decoy".startswith(key) else [])
        )
        assert await storage.list(NS, key) == expected
        assert await storage.count(NS, key) == len(expected)
        if len(key.encode()) <= 256:  # also as a namespace
            await storage.set(key, key, "as namespace")
            assert await storage.get(key, key) == "as namespace"
            assert key in await storage.namespaces()
            assert await storage.list(key) == [Entry(key, "as namespace")]
            assert await storage.get(NS, key) == key

    async def test_prefix_matches_sql_and_regex_characters_literally(
        self, storage: StorageDriver
    ) -> None:
        """`%`, `_`, `\\`, `*`, `.`, `[` in a prefix match only themselves."""
        keys = ["a%b", "a_b", "ab", "axb", "a\\b", "a\\\\b", "a*b", "a.b", "a[b", "a]b", "A%b"]
        await storage.set_many(NS, {key: key for key in keys})
        for prefix in ["a%", "a_", "a\\", "a*", "a.", "a[", "a]", "A"]:
            expected = sorted(key for key in keys if key.startswith(prefix))
            assert [e.key for e in await storage.list(NS, prefix)] == expected, prefix
            assert await storage.count(NS, prefix) == len(expected), prefix

    async def test_prefix_is_case_sensitive(self, storage: StorageDriver) -> None:
        """Prefix matching never folds case or accents."""
        await storage.set_many(NS, {"Apple": 1, "apple": 2, "APPLE": 3, "äpple": 4})
        assert [e.key for e in await storage.list(NS, "app")] == ["apple"]
        assert [e.key for e in await storage.list(NS, "A")] == ["APPLE", "Apple"]

    async def test_order_is_unicode_code_point_order(self, storage: StorageDriver) -> None:
        """Keys and namespaces sort by code point on every driver, not by a locale."""
        keys = [
            "b",
            "B",
            "a",
            "A",
            "_",
            "-",
            "é",
            "e",
            "z",
            "~",
            "😀",
            "\uffff",
            "中",
            "a b",
            "ab",
            "a",
            "Z",
            "0",
            "10",
            "9",
            "\u00a0",
            "ﬁ",
            "\U0010ffff",
        ]
        await storage.set_many(NS, dict.fromkeys(keys, 1))
        assert [e.key for e in await storage.list(NS)] == sorted(set(keys))
        assert [e.key async for e in storage.scan(NS, page_size=4)] == sorted(set(keys))
        for key in keys:
            await storage.set(f"ns{key}", "k", 1)
        names = await storage.namespaces("ns")
        assert names == sorted({f"ns{key}" for key in keys})

    async def test_prefix_bound_at_surrogate_gap_and_last_code_point(
        self, storage: StorageDriver
    ) -> None:
        """Prefixes ending in U+D7FF or U+10FFFF still match exactly their keys."""
        keys = ["x\ud7ff", "x\ud7ffa", "x\ue000", "x\U0010ffff", "x\U0010ffffz", "y"]
        await storage.set_many(NS, dict.fromkeys(keys, 1))
        for prefix in ["x\ud7ff", "x\U0010ffff", "x", "\U0010ffff"]:
            expected = sorted(key for key in keys if key.startswith(prefix))
            assert [e.key for e in await storage.list(NS, prefix)] == expected

    async def test_namespaces_that_prefix_each_other_are_isolated(
        self, storage: StorageDriver
    ) -> None:
        """Nothing done in `a` shows in `a:b` or `ab`, and the reverse."""
        await storage.set("a", "k", "in a")
        await storage.set("a:b", "k", "in a:b")
        await storage.set("a:b", "a:b:k", "long")
        await storage.set("ab", "k", "in ab")
        assert await storage.get("a", "k") == "in a"
        assert await storage.get("a", "b:k") is None
        assert await storage.list("a") == [Entry("k", "in a")]
        assert await storage.count("a") == 1
        assert await storage.clear("a") == 1
        assert await storage.get("a:b", "k") == "in a:b"
        assert await storage.get("ab", "k") == "in ab"
        assert await storage.namespaces("a") == ["a:b", "ab"]

    async def test_longest_allowed_names_work(self, storage: StorageDriver) -> None:
        """A 256-byte namespace and a 1024-byte key (multi-byte characters) are accepted."""
        namespace, key = "é" * 128, "😀" * 256
        await storage.set(namespace, key, 1)
        assert await storage.get(namespace, key) == 1
        assert await storage.list(namespace, key) == [Entry(key, 1)]

    @pytest.mark.parametrize("bad", BAD_NAMESPACES, ids=range(len(BAD_NAMESPACES)))
    async def test_bad_namespace_raises_before_io(self, storage: StorageDriver, bad: Any) -> None:
        """Every method refuses a bad namespace with InvalidKeyError and writes nothing."""
        calls = [
            storage.get(bad, "k"),
            storage.set(bad, "k", 1),
            storage.delete(bad, "k"),
            storage.list(bad),
            storage.get_many(bad, ["k"]),
            storage.set_many(bad, {"k": 1}),
            storage.delete_many(bad, ["k"]),
            storage.count(bad),
            storage.clear(bad),
            storage.add(bad, "k", 1),
            storage.append(bad, "k", [1]),
            storage.update(bad, "k", lambda v: 1),
            storage.ttl(bad, "k"),
            storage.touch(bad, "k", 60),
        ]
        for call in calls:
            with pytest.raises(InvalidKeyError):
                await call
        with pytest.raises(InvalidKeyError):
            storage.scan(bad)
        with pytest.raises(InvalidKeyError):
            storage.scan(bad, with_ttl=True)
        assert await storage.namespaces() == []

    @pytest.mark.parametrize("bad", BAD_KEYS, ids=range(len(BAD_KEYS)))
    async def test_bad_key_raises_before_io(self, storage: StorageDriver, bad: Any) -> None:
        """Every method refuses a bad key with InvalidKeyError and writes nothing."""
        calls = [
            storage.get(NS, bad),
            storage.set(NS, bad, 1),
            storage.delete(NS, bad),
            storage.get_many(NS, ["ok", bad]),
            storage.set_many(NS, {"ok": 1, bad: 1}),
            storage.set_many(NS, [("ok", 1), (bad, 1)]),
            storage.delete_many(NS, ["ok", bad]),
            storage.add(NS, bad, 1),
            storage.append(NS, bad, [1]),
            storage.update(NS, bad, lambda v: 1),
            storage.ttl(NS, bad),
            storage.touch(NS, bad, 60),
        ]
        for call in calls:
            with pytest.raises(InvalidKeyError):
                await call
        assert await storage.count(NS) == 0

    @pytest.mark.parametrize("bad", BAD_PREFIXES, ids=range(len(BAD_PREFIXES)))
    async def test_bad_prefix_raises_before_io(self, storage: StorageDriver, bad: Any) -> None:
        """list, scan, count, clear and namespaces refuse a bad prefix with InvalidKeyError."""
        for call in [
            storage.list(NS, bad),
            storage.count(NS, bad),
            storage.clear(NS, bad),
            storage.namespaces(bad),
        ]:
            with pytest.raises(InvalidKeyError):
                await call
        with pytest.raises(InvalidKeyError):
            storage.scan(NS, bad)

    async def test_invalid_key_error_is_a_value_error(self, storage: StorageDriver) -> None:
        """InvalidKeyError is both a StorageError and a ValueError."""
        with pytest.raises(ValueError, match="empty"):
            await storage.get(NS, "")
        with pytest.raises(StorageError):
            await storage.get("", "k")
