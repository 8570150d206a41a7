"""Scoped: a driver-shaped view that can reach nothing outside its scope."""

from __future__ import annotations

import itertools

import pytest

from radaros import InMemoryStorage, InvalidKeyError, Scoped, StorageDriver
from radaros.scoped import migrate_scope
from tests.reliability.test_isolation import hostile_corpus

# Tenant ids a user controls: each is a prefix of, or contains the separators of, another.
TENANT_IDS = ["a", "ab", "a:", "a:b", "a/b", "a%2Fb", "a%", "a/", "/", "%", "b", "a b", "ä"]


async def test_every_method_stays_in_the_scope(storage: StorageDriver) -> None:
    await storage.set("notes", "k", "outside")
    await storage.set("tenant:acmeX/notes", "k", "sibling")
    view = Scoped(storage, "tenant:acme")
    await view.set("notes", "k", 1)
    await view.set_many("notes", {"a": 2, "b": 3}, ttl=60)
    assert await view.get("notes", "k") == 1
    assert await view.get_many("notes", ["a", "b", "zz"], 0) == [2, 3, 0]
    assert [e.key for e in await view.list("notes")] == ["a", "b", "k"]
    assert [e.key async for e in view.scan("notes", page_size=2)] == ["a", "b", "k"]
    ttls = [e.ttl async for e in view.scan("notes", with_ttl=True)]
    assert ttls[2] == float("inf")
    assert 0 < ttls[0] <= 60
    assert await view.count("notes") == 3
    assert await view.add("notes", "k", 9) is False
    assert await view.update("notes", "k", lambda v: v + 1) == 2
    assert await view.append("notes", "log", ["x"]) == 1
    assert await view.add_numbered("notes", "n", "n/", ["first", "second"]) == 2
    assert await view.get("notes", "n/0000000000000000002") == "second"
    assert (
        await view.delete_many("notes", ["n", "n/0000000000000000001", "n/0000000000000000002"])
        == 3
    )
    assert await view.ttl("notes", "k") == float("inf")
    assert await view.touch("notes", "k", 30) is True
    assert await view.namespaces() == ["notes"]
    assert await view.namespaces("no") == ["notes"]
    assert await view.namespaces("x") == []
    assert await storage.namespaces("tenant:") == ["tenant:acme/notes", "tenant:acmeX/notes"]
    assert await view.delete("notes", "log") is True
    assert await view.delete_many("notes", ["a", "b"]) == 2
    assert await view.clear("notes") == 1
    # Outside the scope nothing changed, and the stored names carry the scope.
    assert await storage.get("notes", "k") == "outside"
    assert await storage.get("tenant:acmeX/notes", "k") == "sibling"
    assert await storage.namespaces("tenant:") == ["tenant:acmeX/notes"]


async def test_no_tenant_reaches_another_whatever_its_id(storage: StorageDriver) -> None:
    """Tenant ids that are prefixes of each other or hold `:`, `/`, `%`: every namespace
    and prefix a tenant can give stays its own; its namespaces() lists only its own."""
    views = {tenant: Scoped(storage, tenant) for tenant in TENANT_IDS}
    names = ["b", "bn", "/b", "%2Fb", "b/", ":b", "%", ""]
    for tenant, view in views.items():
        for name in filter(None, names):
            await view.set(name, "owner", tenant)
    stored = await storage.namespaces()
    assert len(stored) == len(set(stored)) == len(TENANT_IDS) * (len(names) - 1)
    for tenant, view in views.items():
        assert await view.namespaces() == sorted(filter(None, names))
        for name in filter(None, names):
            assert [entry.value for entry in await view.list(name)] == [tenant]
            assert await view.count(name) == 1
        for prefix in names:
            assert all(name.startswith(prefix) for name in await view.namespaces(prefix))
    for first, second in itertools.permutations(TENANT_IDS, 2):
        assert await views[first].clear("b") in (0, 1)
        assert await views[second].get("bn", "owner") == second


async def test_nested_scopes_are_apart_from_their_parent(storage: StorageDriver) -> None:
    """A nested scope is neither a namespace of its parent nor another nesting."""
    parent = Scoped(storage, "tenant")
    child = Scoped(parent, "user")
    await child.set("notes", "k", "child")
    await parent.set("user/notes", "k", "parent")  # what the child's data looks like, plain
    await Scoped(storage, "tenant/user").set("notes", "k", "lookalike")
    assert await child.get("notes", "k") == "child"
    assert await parent.get("user/notes", "k") == "parent"
    assert await parent.namespaces() == ["user/notes"]  # not the nested scope's
    assert await child.namespaces() == ["notes"]
    assert len(await storage.namespaces()) == 3
    assert child.scopes == ("tenant", "user")


async def test_0_2_scoped_data_moves_to_the_new_layout(storage: StorageDriver) -> None:
    """migrate_scope moves what 0.2 stored as scope + namespace, expiries kept, and leaves
    other tenants and the new layout alone; running it again moves nothing."""
    await storage.set("tenant:acme:notes", "k", 1)
    await storage.set("tenant:acme:notes", "t", 2, ttl=600)
    await storage.set("tenant:acme:prefs", "theme", "dark")
    await storage.set("tenant:acmeX:notes", "k", "other tenant")
    moved = await migrate_scope(storage, "tenant:acme:")
    assert moved == 3
    view = Scoped(storage, "tenant:acme:")
    assert await view.namespaces() == ["notes", "prefs"]
    assert await view.get("notes", "k") == 1
    left = await view.ttl("notes", "t")
    assert left is not None
    assert 0 < left <= 600
    assert await storage.get("tenant:acmeX:notes", "k") == "other tenant"
    assert await storage.namespaces("tenant:acme:n") == []
    assert await migrate_scope(storage, "tenant:acme:") == 0


@pytest.mark.slow
async def test_hostile_namespaces_and_prefixes_cannot_leave_the_scope(
    storage: StorageDriver,
) -> None:
    corpus = [text for text in hostile_corpus() if len(text.encode()) <= 60]
    inside, outside = Scoped(storage, "tenant:a"), Scoped(storage, "tenant:ab")
    await storage.set("tenant:a", "k", "parent")  # the scope itself, as a plain namespace
    for text in corpus:
        await outside.set(text, "k", "b")
    for text in corpus:
        assert await inside.get(text, "k") is None
        assert await inside.list(text) == []
        assert await inside.count(text) == 0
        assert await inside.namespaces(text) == []
        assert await inside.clear(text) == 0
    assert await inside.namespaces() == []
    assert len(await outside.namespaces()) == len(set(corpus))
    assert await storage.get("tenant:a", "k") == "parent"


async def test_scopes_nest_and_bad_input_raises_before_io() -> None:
    async with InMemoryStorage() as storage:
        user = Scoped(Scoped(storage, "tenant:acme"), "user:42")
        await user.set("prefs", "theme", "dark")
        assert await storage.namespaces() == ["tenant:acme/user:42/prefs"]
        assert "user:42" in repr(user)
        with pytest.raises(InvalidKeyError):
            Scoped(storage, "")
        with pytest.raises(InvalidKeyError):
            await user.set("", "k", 1)
        with pytest.raises(InvalidKeyError):
            await user.set("x" * 300, "k", 1)  # too long once the scope is in front
        with pytest.raises(InvalidKeyError):
            await user.set("/" * 80, "k", 1)  # each / becomes %2F: 240 bytes and more
        with pytest.raises(TypeError):
            Scoped("not a storage", "s:")  # type: ignore[arg-type]
        assert await storage.namespaces() == ["tenant:acme/user:42/prefs"]
