"""Conformance: get_many, set_many, delete_many and the bool/count results of deletes."""

from __future__ import annotations

import pytest

from radaros.storage import (
    Entry,
    SerializationError,
    StorageDriver,
)
from radaros.storage.testing.support import NS, SuiteBase

__all__ = ["BatchTests"]


class BatchTests(SuiteBase):
    """Batches are aligned, all-or-nothing where promised, and count what they removed."""

    async def test_get_many_is_aligned_with_keys(self, storage: StorageDriver) -> None:
        """get_many returns values in the order asked, None where absent, repeats repeated."""
        await storage.set_many(NS, {"a": 1, "b": None, "c": [3]})
        assert await storage.get_many(NS, ["c", "x", "a", "b", "a"]) == [[3], None, 1, None, 1]
        assert await storage.get_many(NS, []) == []
        assert await storage.get_many(NS, iter(["a"])) == [1]

    async def test_get_many_of_many_keys(self, storage: StorageDriver) -> None:
        """get_many handles thousands of keys in one call."""
        await storage.set_many(NS, {f"k{i:05}": i for i in range(2500)})
        keys = [f"k{i:05}" for i in range(2600)]
        assert await storage.get_many(NS, keys) == [*range(2500), *([None] * 100)]

    async def test_set_many_accepts_mapping_and_pairs(self, storage: StorageDriver) -> None:
        """set_many takes a mapping or (key, value) pairs; a repeated key keeps its last value."""
        await storage.set_many(NS, {"a": 1, "b": 2})
        await storage.set_many(NS, [("c", 3), ("a", 10), ("a", 11)])
        await storage.set_many(NS, (pair for pair in [("d", 4)]))
        await storage.set_many(NS, {})
        assert await storage.list(NS) == [
            Entry("a", 11),
            Entry("b", 2),
            Entry("c", 3),
            Entry("d", 4),
        ]

    async def test_set_many_checks_every_item_before_writing(self, storage: StorageDriver) -> None:
        """One bad item in set_many means nothing of the batch is written."""
        items = {f"k{i}": i for i in range(50)}
        with pytest.raises(SerializationError):
            await storage.set_many(NS, {**items, "k25": float("nan")})
        with pytest.raises(TypeError):
            await storage.set_many(NS, [("k1", 1), "bad"])  # type: ignore[list-item]
        assert await storage.count(NS) == 0

    async def test_delete_many_removes_all(self, storage: StorageDriver) -> None:
        """delete_many removes every key given and ignores absent and repeated ones."""
        await storage.set_many(NS, {f"k{i}": i for i in range(10)})
        await storage.delete_many(NS, ["k1", "k3", "k3", "absent", "k9"])
        await storage.delete_many(NS, [])
        assert [e.key for e in await storage.list(NS)] == ["k0", "k2", "k4", "k5", "k6", "k7", "k8"]

    async def test_batch_methods_refuse_a_single_string(self, storage: StorageDriver) -> None:
        """get_many("abc") is a bug, not three keys: TypeError."""
        with pytest.raises(TypeError):
            await storage.get_many(NS, "abc")
        with pytest.raises(TypeError):
            await storage.delete_many(NS, "abc")

    async def test_get_many_default_marks_absent_values(self, storage: StorageDriver) -> None:
        """get_many(default=...) puts the default where a value is absent, like get."""
        marker = object()
        await storage.set_many(NS, {"a": 1, "none": None})
        found = await storage.get_many(NS, ["a", "x", "none"], default=marker)
        assert found == [1, marker, None]
        assert await storage.get_many(NS, ["x"], "d") == ["d"]

    async def test_delete_reports_whether_it_removed(self, storage: StorageDriver) -> None:
        """delete is True for a live entry, False when absent (also on the second call)."""
        await storage.set(NS, "k", None)
        assert await storage.delete(NS, "k") is True
        assert await storage.delete(NS, "k") is False
        assert await storage.delete(NS, "never") is False
        assert await storage.delete("no-such-namespace", "k") is False

    async def test_delete_many_counts_live_entries_once(self, storage: StorageDriver) -> None:
        """delete_many returns how many live entries it removed; a repeated key counts once."""
        await storage.set_many(NS, {f"k{i}": i for i in range(5)})
        assert await storage.delete_many(NS, ["k1", "k1", "k3", "absent"]) == 2
        assert await storage.delete_many(NS, ["k1", "k3"]) == 0
        assert await storage.delete_many(NS, []) == 0
        many = {f"m{i:04}": i for i in range(1200)}
        await storage.set_many(NS, many)
        assert await storage.delete_many(NS, [*many, *many]) == 1200
        assert [e.key for e in await storage.list(NS)] == ["k0", "k2", "k4"]
