"""What mypy sees through a Collection, ChatHistory and Scoped view (checked, never run).

`mypy --strict` (CI) fails if any `assert_type` below does not hold: the types a user's
editor and type checker get are part of the interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from typing_extensions import assert_type

from radaros import (
    ChatHistory,
    Collection,
    Entry,
    Item,
    Scoped,
    Session,
    Sessions,
    StorageDriver,
    TTLEntry,
)


class Message(BaseModel):
    role: str
    text: str
    at: datetime


async def typed_usage(storage: StorageDriver) -> None:
    messages = Collection(storage, "messages", Message)
    assert_type(messages, Collection[Message])
    assert_type(await messages.get("m1"), Message | None)
    assert_type(await messages.get("m1", Message(role="a", text="b", at=datetime.now())), Message)
    assert_type(await messages.get("m1", 0), Message | int)
    assert_type(await messages.get_many(["a", "b"]), list[Message | None])
    assert_type(await messages.list(), list[Item[Message]])
    assert_type(
        await messages.update("m1", lambda m: m or Message(role="", text="", at=datetime.now())),
        Message,
    )
    assert_type(await messages.add("m1", Message(role="a", text="b", at=datetime.now())), bool)
    async for item in messages.scan():
        assert_type(item, Item[Message])
        assert_type(item.value, Message)
        assert_type(item[1], Message)
    for key, value in await messages.list():
        assert_type(key, str)
        assert_type(value, Message)

    logs = Collection(storage, "logs", list[Message])
    assert_type(logs, Collection[list[Message]])
    assert_type(await logs.get("l"), list[Message] | None)
    assert_type(await logs.append("l", []), int)

    stamps = Collection(Scoped(storage, "tenant:1:"), "stamps", datetime)
    assert_type(await stamps.get("s"), datetime | None)

    sessions = Sessions(storage)
    assert_type(await sessions.create("ada"), Session)
    assert_type(await sessions.get("s"), Session | None)
    assert_type(await sessions.list("ada"), list[Session])

    plain = ChatHistory(storage, "s")
    assert_type(await plain.messages(), list[dict[str, Any]])
    typed = ChatHistory(storage, "s", message_type=Message)
    assert_type(await typed.messages(last=5), list[Message])
    assert_type(await typed.add(Message(role="a", text="b", at=datetime.now())), int)


def every_storage_is_a_key_value(driver: StorageDriver) -> None:
    """mypy checks each against the Protocol: a missing or mistyped operation fails here."""
    from radaros import InMemoryStorage, KeyValue, SqliteStorage, telemetry
    from radaros.telemetry import Instrumented
    from radaros.view import View

    storages: list[KeyValue] = [
        driver,
        InMemoryStorage(),
        SqliteStorage(":memory:"),
        Scoped(driver, "tenant:1:"),
        View(driver),
        Instrumented(driver, None, None, None, False),
        telemetry.instrument(Scoped(driver, "t:")),
    ]
    assert_type(storages[0].scan("ns"), AsyncIterator[Entry])
    assert_type(storages[3].scan("ns", with_ttl=True), AsyncIterator[TTLEntry])
