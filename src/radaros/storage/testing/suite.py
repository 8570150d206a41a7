"""`ConformanceSuite`: one test per promise of the SPEC, for any driver.

A subclass provides `storage_factory`, a fixture returning a callable that makes a new,
unopened driver on this test's data (every call: the same backing store, so instances see
each other's writes). The in-memory driver cannot share data between instances: its
subclass overrides `peers` to hand out the one instance.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from radaros.storage import (
    Entry,
    InvalidKeyError,
    SerializationError,
    StorageClosedError,
    StorageDriver,
    StorageError,
    StorageNotInitializedError,
    ValueTooLargeError,
)
from radaros.storage.testing.cases import (
    BAD_KEYS,
    BAD_NAMESPACES,
    BAD_PREFIXES,
    BAD_TTLS,
    EDGE_KEYS,
    EDGE_VALUES,
    REFUSED_VALUES,
    same_json,
)

Factory = Callable[[], StorageDriver]
NS = "conformance"
TTL_S = 0.4


async def wait_until_expired(deadline: float) -> None:
    """Sleep until a monotonic deadline has passed (plus a margin for server clocks)."""
    await asyncio.sleep(max(0.0, deadline - time.monotonic()) + 0.05)


class ConformanceSuite:
    """Every SPEC promise as a test. Subclass it and provide `storage_factory`."""

    PEER_COUNT = 4

    @pytest.fixture
    def storage_factory(self) -> Factory:
        raise NotImplementedError("provide a storage_factory fixture")

    @pytest.fixture
    async def storage(self, storage_factory: Factory) -> AsyncIterator[StorageDriver]:
        async with storage_factory() as storage:
            yield storage

    @pytest.fixture
    async def peers(self, storage_factory: Factory) -> AsyncIterator[list[StorageDriver]]:
        """Independent instances on the same data, all opened."""
        instances = [storage_factory() for _ in range(self.PEER_COUNT)]
        for instance in instances:
            await instance.initialize()
        yield instances
        for instance in instances:
            await instance.close()

    # -- the seed interface ------------------------------------------------------------------

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

    # -- keys and namespaces -----------------------------------------------------------------

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
        ]
        for call in calls:
            with pytest.raises(InvalidKeyError):
                await call
        with pytest.raises(InvalidKeyError):
            storage.scan(bad)
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

    # -- values ------------------------------------------------------------------------------

    @pytest.mark.parametrize("value", EDGE_VALUES, ids=range(len(EDGE_VALUES)))
    async def test_value_round_trips_exactly(self, storage: StorageDriver, value: Any) -> None:
        """Same value and same types back, from get, get_many, list, scan and update."""
        await storage.set(NS, "k", value)
        assert same_json(await storage.get(NS, "k"), value)
        assert same_json((await storage.get_many(NS, ["k"]))[0], value)
        assert same_json((await storage.list(NS))[0].value, value)
        assert same_json([e.value async for e in storage.scan(NS)], [value])
        assert same_json(await storage.update(NS, "k", lambda current: current), value)
        await storage.set_many(NS, {"m": value})
        assert same_json(await storage.get(NS, "m"), value)

    async def test_tuple_comes_back_as_list(self, storage: StorageDriver) -> None:
        """A tuple is stored as a JSON array."""
        await storage.set(NS, "t", (1, (2, "x")))
        assert await storage.get(NS, "t") == [1, [2, "x"]]

    async def test_floats_stay_floats_and_ints_stay_ints(self, storage: StorageDriver) -> None:
        """1.0 is a float, 1 an int, True a bool after the round trip."""
        await storage.set(NS, "k", [1.0, 1, True, 1e300, -2.5e-308, 2**63 - 1])
        back = await storage.get(NS, "k")
        assert [type(item) for item in back] == [float, int, bool, float, float, int]
        assert back == [1.0, 1, True, 1e300, -2.5e-308, 2**63 - 1]

    @pytest.mark.parametrize("value", REFUSED_VALUES, ids=range(len(REFUSED_VALUES)))
    async def test_refused_value_raises_and_writes_nothing(
        self, storage: StorageDriver, value: Any
    ) -> None:
        """Values JSON cannot carry exactly raise SerializationError; nothing is written."""
        await storage.set(NS, "keep", "old")
        await storage.set(NS, "list", [0])
        attempts = [
            storage.set(NS, "new", value),
            storage.set(NS, "keep", value),
            storage.set_many(NS, {"a": 1, "b": value}),
            storage.add(NS, "new", value),
            storage.update(NS, "keep", lambda current: value),
            storage.append(NS, "list", [value]),
            storage.update(NS, "new", lambda current: value),
        ]
        for attempt in attempts:
            with pytest.raises(SerializationError):
                await attempt
        assert await storage.list(NS) == [Entry("keep", "old"), Entry("list", [0])]

    async def test_serialization_error_is_a_value_error(self, storage: StorageDriver) -> None:
        """SerializationError is also a ValueError."""
        with pytest.raises(ValueError, match="64-bit"):
            await storage.set(NS, "k", 2**64)

    async def test_values_are_copied_in(self, storage: StorageDriver) -> None:
        """Mutating the object passed to set never changes what is stored."""
        value: dict[str, Any] = {"list": [1, 2], "nested": {"a": 1}}
        await storage.set(NS, "k", value)
        value["list"].append(3)
        value["nested"]["a"] = 2
        assert await storage.get(NS, "k") == {"list": [1, 2], "nested": {"a": 1}}

    async def test_values_are_copied_out(self, storage: StorageDriver) -> None:
        """Mutating what get, list or get_many returned never changes what is stored."""
        await storage.set(NS, "k", {"list": [1]})
        (await storage.get(NS, "k"))["list"].append(2)
        (await storage.list(NS))[0].value["list"].append(3)
        (await storage.get_many(NS, ["k"]))[0]["list"].append(4)
        assert await storage.get(NS, "k") == {"list": [1]}

    async def test_eight_mib_value_round_trips(self, storage: StorageDriver) -> None:
        """Every driver stores a serialized value of at least 8 MiB."""
        value = {"blob": "x" * (8 * 1024 * 1024 - 64), "tail": [1.5, "😀"]}
        await storage.set(NS, "big", value)
        assert await storage.get(NS, "big") == value
        assert await storage.append(NS, "biglist", ["y" * (4 * 1024 * 1024)]) == 1

    async def test_value_over_the_driver_limit_is_refused(self, storage: StorageDriver) -> None:
        """A value larger than the driver stores raises ValueTooLargeError; nothing written."""
        limit = storage.max_value_bytes
        assert limit is None or limit >= 8 * 1024 * 1024
        if limit is None or limit > 64 * 1024 * 1024:
            return  # memory: no limit; SQLite: 512 MiB, too large to build in a test
        await storage.set(NS, "k", "old")
        too_big = "x" * (limit + 1)
        for attempt in [
            storage.set(NS, "k", too_big),
            storage.set_many(NS, {"k": too_big}),
            storage.add(NS, "new", too_big),
            storage.append(NS, "l", [too_big]),
        ]:
            with pytest.raises(ValueTooLargeError):
                await attempt
        assert await storage.list(NS) == [Entry("k", "old")]

    # -- expiry ------------------------------------------------------------------------------

    async def test_expired_entry_is_absent_everywhere(self, storage: StorageDriver) -> None:
        """From expiry on, get, get_many, list, scan, count and namespaces all omit it."""
        deadline = time.monotonic() + TTL_S
        await storage.set("ttl", "short", "v", ttl=TTL_S)
        await storage.set("ttl", "long", "v", ttl=60)
        await storage.set("ttl-only", "short", "v", ttl=timedelta(seconds=TTL_S))
        assert await storage.get("ttl", "short") == "v"
        assert await storage.count("ttl") == 2
        await wait_until_expired(deadline)
        assert await storage.get("ttl", "short", "gone") == "gone"
        assert await storage.get_many("ttl", ["short", "long"]) == [None, "v"]
        assert await storage.list("ttl") == [Entry("long", "v")]
        assert [e.key async for e in storage.scan("ttl")] == ["long"]
        assert await storage.count("ttl") == 1
        assert "ttl-only" not in await storage.namespaces()
        assert await storage.clear("ttl-only") == 0

    async def test_add_append_update_treat_expired_as_absent(self, storage: StorageDriver) -> None:
        """add stores over an expired entry; append and update start from nothing."""
        deadline = time.monotonic() + TTL_S
        await storage.set(NS, "add", "old", ttl=TTL_S)
        await storage.set(NS, "append", [1, 2], ttl=TTL_S)
        await storage.set(NS, "update", 41, ttl=TTL_S)
        assert await storage.add(NS, "add", "new") is False
        await wait_until_expired(deadline)
        assert await storage.add(NS, "add", "new") is True
        assert await storage.append(NS, "append", [3]) == 1
        seen: list[Any] = []

        def record(value: Any) -> int:
            seen.append(value)
            return 1

        assert await storage.update(NS, "update", record) == 1
        assert seen == [None]
        assert await storage.get_many(NS, ["add", "append", "update"]) == ["new", [3], 1]

    async def test_set_without_ttl_clears_expiry(self, storage: StorageDriver) -> None:
        """set replaces value and expiry: no ttl means it never expires."""
        deadline = time.monotonic() + TTL_S
        await storage.set(NS, "k", 1, ttl=TTL_S)
        await storage.set(NS, "k", 2)
        await wait_until_expired(deadline)
        assert await storage.get(NS, "k") == 2

    async def test_update_and_append_keep_expiry_without_ttl(self, storage: StorageDriver) -> None:
        """Without ttl, update and append keep the entry's current expiry."""
        deadline = time.monotonic() + TTL_S
        await storage.set(NS, "counter", 1, ttl=TTL_S)
        await storage.set(NS, "list", [1], ttl=TTL_S)
        await storage.update(NS, "counter", lambda v: v + 1)
        await storage.append(NS, "list", [2])
        assert await storage.get_many(NS, ["counter", "list"]) == [2, [1, 2]]
        await wait_until_expired(deadline)
        assert await storage.get_many(NS, ["counter", "list"]) == [None, None]

    async def test_update_and_append_with_ttl_set_new_expiry(self, storage: StorageDriver) -> None:
        """With ttl, update and append set a new expiry (here: extend a short one)."""
        deadline = time.monotonic() + TTL_S
        await storage.set(NS, "counter", 1, ttl=TTL_S)
        await storage.set(NS, "list", [1], ttl=TTL_S)
        await storage.update(NS, "counter", lambda v: v + 1, ttl=60)
        await storage.append(NS, "list", [2], ttl=timedelta(minutes=1))
        await wait_until_expired(deadline)
        assert await storage.get_many(NS, ["counter", "list"]) == [2, [1, 2]]

    async def test_set_many_and_add_honour_ttl(self, storage: StorageDriver) -> None:
        """set_many and add apply their ttl to what they store."""
        deadline = time.monotonic() + TTL_S
        await storage.set_many(NS, {"a": 1, "b": 2}, ttl=TTL_S)
        assert await storage.add(NS, "c", 3, ttl=TTL_S) is True
        assert await storage.count(NS) == 3
        await wait_until_expired(deadline)
        assert await storage.count(NS) == 0

    @pytest.mark.parametrize("ttl", BAD_TTLS, ids=range(len(BAD_TTLS)))
    async def test_bad_ttl_raises_value_error(self, storage: StorageDriver, ttl: Any) -> None:
        """ttl must be seconds > 0 or a positive timedelta; anything else is a ValueError."""
        for attempt in [
            storage.set(NS, "k", 1, ttl=ttl),
            storage.add(NS, "k", 1, ttl=ttl),
            storage.set_many(NS, {"k": 1}, ttl=ttl),
            storage.append(NS, "k", [1], ttl=ttl),
            storage.update(NS, "k", lambda v: 1, ttl=ttl),
        ]:
            with pytest.raises(ValueError, match="ttl"):
                await attempt
        with pytest.raises(ValueError, match="ttl"):
            await storage.set(NS, "k", 1, ttl=timedelta(seconds=-1))
        assert await storage.count(NS) == 0

    # -- batches -----------------------------------------------------------------------------

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

    # -- scan, count, clear, namespaces -----------------------------------------------------

    async def test_scan_pages_through_in_order(self, storage: StorageDriver) -> None:
        """scan yields every live entry in key order, whatever the page size."""
        items = {f"k{i:03}": i for i in range(23)}
        await storage.set_many(NS, items)
        await storage.set_many(NS, {"other": 0, "j": 1})
        for page_size in (1, 3, 23, 100):
            scanned = [entry async for entry in storage.scan(NS, "k", page_size=page_size)]
            assert scanned == [Entry(key, value) for key, value in items.items()]

    async def test_scan_refuses_bad_page_size(self, storage: StorageDriver) -> None:
        """page_size must be a positive int."""
        for page_size in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="page_size"):
                storage.scan(NS, page_size=page_size)  # type: ignore[arg-type]

    async def test_scan_under_concurrent_writes_sees_stable_keys_once(
        self, storage: StorageDriver
    ) -> None:
        """Keys present for the whole scan are seen exactly once, in order, despite writes."""
        stable = {f"s{i:03}": i for i in range(60)}
        await storage.set_many(NS, stable)
        stop = asyncio.Event()

        async def churn() -> None:
            round_ = 0
            while not stop.is_set():
                await storage.set(NS, f"s{round_ % 60:03}x", round_)  # new keys between pages
                await storage.delete(NS, f"s{(round_ + 30) % 60:03}x")
                round_ += 1

        writer = asyncio.create_task(churn())
        try:
            seen = [entry.key async for entry in storage.scan(NS, page_size=7)]
        finally:
            stop.set()
            await writer
        assert seen == sorted(seen)
        assert len(seen) == len(set(seen))
        assert [key for key in seen if key in stable] == list(stable)

    async def test_count_and_clear_by_prefix(self, storage: StorageDriver) -> None:
        """count counts live keys; clear deletes the prefix's keys and returns how many."""
        await storage.set_many(NS, {"user:1": 1, "user:2": 2, "users": 3, "order:1": 4})
        assert await storage.count(NS) == 4
        assert await storage.count(NS, "user:") == 2
        assert await storage.clear(NS, "user:") == 2
        assert [e.key for e in await storage.list(NS)] == ["order:1", "users"]
        assert await storage.clear(NS) == 2
        assert await storage.count(NS) == 0

    async def test_namespaces_lists_only_live_ones(self, storage: StorageDriver) -> None:
        """namespaces is sorted, filtered by prefix, and forgets emptied namespaces."""
        for name in ["session:b", "memory:short", "session:a", "memory:long", "app"]:
            await storage.set(name, "k", 1)
        assert await storage.namespaces() == [
            "app",
            "memory:long",
            "memory:short",
            "session:a",
            "session:b",
        ]
        assert await storage.namespaces("session:") == ["session:a", "session:b"]
        await storage.delete("session:a", "k")
        await storage.clear("app")
        assert await storage.namespaces() == ["memory:long", "memory:short", "session:b"]
        assert await storage.namespaces("zzz") == []

    # -- atomic operations -------------------------------------------------------------------

    async def test_add_stores_only_when_absent(self, storage: StorageDriver) -> None:
        """add returns True and stores when absent; False and leaves the value otherwise."""
        assert await storage.add(NS, "k", "first") is True
        assert await storage.add(NS, "k", "second") is False
        assert await storage.get(NS, "k") == "first"
        await storage.set(NS, "none", None)
        assert await storage.add(NS, "none", 1) is False

    async def test_concurrent_adds_have_exactly_one_winner(
        self, peers: list[StorageDriver]
    ) -> None:
        """Of many concurrent adds of one key, from several instances, exactly one wins."""
        for round_ in range(5):
            attempts = [peers[i % len(peers)].add(NS, f"race{round_}", i) for i in range(24)]
            results = await asyncio.gather(*attempts)
            assert results.count(True) == 1
            winner = results.index(True)
            assert await peers[0].get(NS, f"race{round_}") == winner

    async def test_concurrent_updates_lose_no_increment(self, peers: list[StorageDriver]) -> None:
        """Concurrent update(+1) from several instances and tasks counts every one."""
        tasks = [
            peers[i % len(peers)].update(NS, "counter", lambda v: (v or 0) + 1) for i in range(120)
        ]
        results = await asyncio.gather(*tasks)
        assert sorted(results) == list(range(1, 121))
        assert await peers[0].get(NS, "counter") == 120

    async def test_concurrent_appends_lose_no_item(self, peers: list[StorageDriver]) -> None:
        """Concurrent appends from several instances keep every item exactly once."""
        tasks = [
            peers[i % len(peers)].append(NS, "log", [f"item{i}", f"item{i}b"]) for i in range(60)
        ]
        lengths = await asyncio.gather(*tasks)
        assert sorted(lengths) == list(range(2, 121, 2))
        stored = await peers[0].get(NS, "log")
        assert sorted(stored) == sorted(
            [f"item{i}" for i in range(60)] + [f"item{i}b" for i in range(60)]
        )
        for i in range(60):  # each call's items stay together, in order
            assert stored.index(f"item{i}") + 1 == stored.index(f"item{i}b")

    async def test_update_calls_sync_and_async_functions(self, storage: StorageDriver) -> None:
        """update accepts sync and async functions and returns the stored value."""

        async def add_two(value: Any) -> Any:
            await asyncio.sleep(0)
            return (value or 0) + 2

        assert await storage.update(NS, "k", lambda v: (v or 0) + 1) == 1
        assert await storage.update(NS, "k", add_two) == 3
        assert await storage.update(NS, "t", lambda v: (1, 2)) == [1, 2]
        assert await storage.get(NS, "k") == 3

    async def test_update_that_raises_writes_nothing(self, storage: StorageDriver) -> None:
        """If fn raises, its exception propagates and nothing is written."""
        await storage.set(NS, "k", 1)

        def fail(value: Any) -> Any:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await storage.update(NS, "k", fail)
        with pytest.raises(RuntimeError, match="boom"):
            await storage.update(NS, "absent", fail)
        with pytest.raises(TypeError):
            await storage.update(NS, "k", "not callable")  # type: ignore[arg-type]
        assert await storage.list(NS) == [Entry("k", 1)]

    async def test_update_sees_a_copy(self, storage: StorageDriver) -> None:
        """Mutating the value passed to fn without returning it writes nothing unexpected."""
        await storage.set(NS, "k", {"a": [1]})

        def mutate(value: Any) -> Any:
            changed = copy.deepcopy(value)
            value["a"].append("leak")
            changed["a"].append(2)
            return changed

        assert await storage.update(NS, "k", mutate) == {"a": [1, 2]}
        assert await storage.get(NS, "k") == {"a": [1, 2]}

    async def test_append_builds_a_list_and_returns_length(self, storage: StorageDriver) -> None:
        """append starts an absent key as [], extends it, and returns the new length."""
        assert await storage.append(NS, "log", [1]) == 1
        assert await storage.append(NS, "log", (2, 3)) == 3
        assert await storage.append(NS, "log", []) == 3
        assert await storage.get(NS, "log") == [1, 2, 3]

    async def test_append_keeps_only_the_newest_max_items(self, storage: StorageDriver) -> None:
        """With max_items, only the newest that many items are kept."""
        await storage.append(NS, "log", list(range(5)))
        assert await storage.append(NS, "log", [5, 6], max_items=3) == 3
        assert await storage.get(NS, "log") == [4, 5, 6]
        assert await storage.append(NS, "new", list(range(10)), max_items=2) == 2
        assert await storage.get(NS, "new") == [8, 9]
        for bad in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="max_items"):
                await storage.append(NS, "log", [1], max_items=bad)  # type: ignore[arg-type]

    async def test_append_to_a_non_list_raises_type_error(self, storage: StorageDriver) -> None:
        """Appending to a stored value that is not a list raises TypeError; nothing written."""
        await storage.set_many(NS, {"dict": {"a": 1}, "str": "abc", "none": None})
        for key in ("dict", "str", "none"):
            with pytest.raises(TypeError, match="not a list"):
                await storage.append(NS, key, [1])
        with pytest.raises(TypeError):
            await storage.append(NS, "new", "abc")
        assert await storage.get_many(NS, ["dict", "str", "none", "new"]) == [
            {"a": 1},
            "abc",
            None,
            None,
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    async def test_async_with_opens_and_closes(self, storage_factory: Factory) -> None:
        """async with initializes on enter and closes on exit; close is idempotent."""
        async with storage_factory() as storage:
            await storage.set(NS, "k", 1)
            assert not storage.is_closed
        assert storage.is_closed
        await storage.close()
        await storage.close()

    async def test_initialize_is_idempotent(self, storage: StorageDriver) -> None:
        """initialize may be called again, concurrently, without harm."""
        await storage.set(NS, "k", 1)
        await asyncio.gather(*(storage.initialize() for _ in range(5)))
        assert await storage.get(NS, "k") == 1

    async def test_every_operation_after_close_raises(self, storage_factory: Factory) -> None:
        """After close, every operation raises StorageClosedError."""
        storage = storage_factory()
        await storage.initialize()
        await storage.close()
        calls = [
            storage.get(NS, "k"),
            storage.set(NS, "k", 1),
            storage.delete(NS, "k"),
            storage.list(NS),
            storage.get_many(NS, ["k"]),
            storage.set_many(NS, {"k": 1}),
            storage.delete_many(NS, ["k"]),
            storage.count(NS),
            storage.clear(NS),
            storage.namespaces(),
            storage.add(NS, "k", 1),
            storage.append(NS, "k", [1]),
            storage.update(NS, "k", lambda v: 1),
            storage.initialize(),
        ]
        for call in calls:
            with pytest.raises(StorageClosedError):
                await call
        with pytest.raises(StorageClosedError):
            [entry async for entry in storage.scan(NS)]

    async def test_server_drivers_require_initialize(self, storage_factory: Factory) -> None:
        """Drivers that need initialize() say so; embedded ones open on first use."""
        storage = storage_factory()
        try:
            if storage.requires_initialize:
                with pytest.raises(StorageNotInitializedError, match="initialize"):
                    await storage.get(NS, "k")
                with pytest.raises(StorageNotInitializedError):
                    await storage.set(NS, "k", 1)
            else:
                await storage.set(NS, "k", 1)
                assert await storage.get(NS, "k") == 1
        finally:
            await storage.close()

    async def test_close_with_operations_in_flight_does_not_hang(
        self, storage_factory: Factory
    ) -> None:
        """Closing while operations run returns promptly; each operation ends or raises."""
        storage = storage_factory()
        await storage.initialize()
        operations = [
            asyncio.ensure_future(storage.update(NS, f"k{i % 5}", lambda v: (v or 0) + 1))
            for i in range(50)
        ] + [asyncio.ensure_future(storage.list(NS)) for _ in range(20)]
        await asyncio.sleep(0.001)
        await asyncio.wait_for(storage.close(), timeout=10)
        done, pending = await asyncio.wait(operations, timeout=10)
        assert not pending
        for operation in done:
            error = operation.exception()
            assert error is None or isinstance(error, StorageError), repr(error)

    async def test_instances_see_each_others_writes(self, peers: list[StorageDriver]) -> None:
        """Once a write returns, every instance on the same data reads the new state."""
        first, second = peers[0], peers[1]
        for i in range(20):
            await first.set(NS, "k", i)
            assert await second.get(NS, "k") == i
            await second.delete(NS, "k")
            assert await first.get(NS, "k") is None

    async def test_repr_names_the_driver(self, storage: StorageDriver) -> None:
        """repr says which driver and where, without any password."""
        assert type(storage).__name__ in repr(storage)
