"""Scoped: a driver-shaped view that can reach nothing outside its scope."""

from __future__ import annotations

import pytest

from radaros import InMemoryStorage, InvalidKeyError, Scoped, StorageDriver
from tests.reliability.test_isolation import hostile_corpus


async def test_every_method_stays_in_the_scope(storage: StorageDriver) -> None:
    await storage.set("notes", "k", "outside")
    await storage.set("tenant:acmeX:notes", "k", "sibling")
    view = Scoped(storage, "tenant:acme:")
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
    assert await view.ttl("notes", "k") == float("inf")
    assert await view.touch("notes", "k", 30) is True
    assert await view.namespaces() == ["notes"]
    assert await view.namespaces("no") == ["notes"]
    assert await view.namespaces("x") == []
    assert await view.delete("notes", "log") is True
    assert await view.delete_many("notes", ["a", "b"]) == 2
    assert await view.clear("notes") == 1
    # Outside the scope nothing changed, and the stored names carry the scope.
    assert await storage.get("notes", "k") == "outside"
    assert await storage.get("tenant:acmeX:notes", "k") == "sibling"
    assert await storage.namespaces("tenant:") == ["tenant:acmeX:notes"]


@pytest.mark.slow
async def test_hostile_namespaces_and_prefixes_cannot_leave_the_scope(
    storage: StorageDriver,
) -> None:
    corpus = [text for text in hostile_corpus() if len(text.encode()) <= 200]
    inside, outside = Scoped(storage, "tenant:a:"), Scoped(storage, "tenant:b:")
    await storage.set("tenant:a", "k", "parent")  # the scope without its last character
    for text in corpus:
        await outside.set(text, "k", "b")
    for text in corpus:
        assert await inside.get(text, "k") is None
        assert await inside.list(text) == []
        assert await inside.count(text) == 0
        assert await inside.namespaces(text) == []
        assert await inside.clear(text) == 0
    assert await inside.namespaces() == []
    assert len(await outside.namespaces()) == len(corpus)
    assert await storage.get("tenant:a", "k") == "parent"


async def test_scopes_nest_and_bad_input_raises_before_io() -> None:
    async with InMemoryStorage() as storage:
        user = Scoped(Scoped(storage, "tenant:acme:"), "user:42:")
        await user.set("prefs", "theme", "dark")
        assert await storage.namespaces() == ["tenant:acme:user:42:prefs"]
        assert "user:42:" in repr(user)
        with pytest.raises(InvalidKeyError):
            Scoped(storage, "")
        with pytest.raises(InvalidKeyError):
            await user.set("", "k", 1)
        with pytest.raises(InvalidKeyError):
            await user.set("x" * 300, "k", 1)  # too long once the scope is in front
        with pytest.raises(TypeError):
            Scoped("not a storage", "s:")  # type: ignore[arg-type]
        assert await storage.namespaces() == ["tenant:acme:user:42:prefs"]
