"""Collection[T]: typed values round trip on every driver and are stored as plain JSON."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic wants it on Python < 3.12

from radaros import Collection, Item, Scoped, SerializationError, StorageDriver


class Role(enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"


class Attachment(BaseModel):
    name: str
    size: int


class Message(BaseModel):
    id: uuid.UUID
    role: Role
    text: str
    at: datetime
    cost: Decimal
    attachments: list[Attachment] = []


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Profile(TypedDict):
    name: str
    born: datetime


def message(text: str = "hi", n: int = 0) -> Message:
    return Message(
        id=uuid.UUID(int=n),
        role=Role.USER,
        text=text,
        at=datetime(2026, 11, 30, 12, 0, n % 60, 123456, tzinfo=timezone.utc),
        cost=Decimal("0.0001"),
        attachments=[Attachment(name="a.txt", size=3)],
    )


async def test_model_round_trips_and_is_stored_as_plain_json(storage: StorageDriver) -> None:
    messages = Collection(storage, "typed", Message)
    sent = message("hello", 7)
    await messages.set("m1", sent)
    got = await messages.get("m1")
    assert got == sent
    assert isinstance(got, Message)
    assert got.at.tzinfo is not None
    assert got.cost == Decimal("0.0001")
    # What another client reads: JSON with strings for the datetime, UUID and Decimal.
    assert await storage.get("typed", "m1") == {
        "id": "00000000-0000-0000-0000-000000000007",
        "role": "user",
        "text": "hello",
        "at": "2026-11-30T12:00:07.123456Z",
        "cost": "0.0001",
        "attachments": [{"name": "a.txt", "size": 3}],
    }


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        (datetime, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        (uuid.UUID, uuid.uuid4()),
        (Decimal, Decimal("12345678901234567890.123456789")),
        (Role, Role.ASSISTANT),
        (Point, Point(1.5, -2.0)),
        (Profile, Profile(name="Ada", born=datetime(1815, 12, 10, tzinfo=timezone.utc))),
        (list[Point], [Point(0, 0), Point(1, 1)]),
        (dict[str, timedelta], {"wait": timedelta(seconds=90)}),
    ],
    ids=lambda case: getattr(case, "__name__", None) or type(case).__name__,
)
async def test_types_round_trip(storage: StorageDriver, type_: Any, value: Any) -> None:
    typed: Collection[Any] = Collection(storage, "types", type_)
    await typed.set("k", value)
    assert await typed.get("k") == value
    assert await typed.get_many(["k", "absent"]) == [value, None]
    assert [(item.key, item.value) for item in await typed.list()] == [("k", value)]


async def test_invalid_stored_value_names_namespace_key_and_error_not_value(
    storage: StorageDriver,
) -> None:
    await storage.set("typed", "bad", {"name": "x", "size": "secret-hunter2"})
    attachments = Collection(storage, "typed", Attachment)
    with pytest.raises(SerializationError) as caught:
        await attachments.get("bad")
    text = str(caught.value)
    assert "'typed'/'bad'" in text
    assert "size" in text
    assert "Attachment" in text
    assert "hunter2" not in text
    with pytest.raises(SerializationError):
        await attachments.list()
    with pytest.raises(SerializationError):
        await attachments.get_many(["bad"])


async def test_a_value_that_is_not_a_t_is_refused_before_any_write(
    storage: StorageDriver,
) -> None:
    attachments = Collection(storage, "typed", Attachment)
    with pytest.raises(SerializationError, match="size"):
        await attachments.set("k", {"name": "x", "size": "big"})  # type: ignore[arg-type]
    with pytest.raises(SerializationError):
        await attachments.set_many({"ok": Attachment(name="a", size=1), "bad": "nope"})  # type: ignore[arg-type]
    assert await storage.count("typed") == 0


async def test_a_stored_null_is_validated_not_taken_for_absent(storage: StorageDriver) -> None:
    await storage.set("typed", "null", None)
    optional = Collection(storage, "typed", int | None)  # type: ignore[arg-type]
    assert await optional.get("null", -1) is None
    assert await optional.get("absent", -1) == -1
    with pytest.raises(SerializationError):
        await Collection(storage, "typed", int).get("null")


async def test_update_add_append_ttl_touch_and_scan(storage: StorageDriver) -> None:
    points = Collection(storage, "points", Point)
    assert await points.add("p", Point(1, 1)) is True
    assert await points.add("p", Point(2, 2)) is False
    moved = await points.update("p", lambda p: Point(p.x + 1, p.y) if p else Point(0, 0))
    assert moved == Point(2, 1)
    assert await points.get("p") == Point(2, 1)
    created = await points.update("q", lambda p: Point(9, 9) if p is None else p)
    assert created == Point(9, 9)

    async def async_change(p: Point | None) -> Point:
        return Point(-1, -1)

    assert await points.update("q", async_change) == Point(-1, -1)
    assert await points.ttl("p") == float("inf")
    assert await points.touch("p", 60) is True
    remaining = await points.ttl("p")
    assert remaining is not None
    assert 0 < remaining <= 60
    assert [item.key async for item in points.scan(page_size=1)] == ["p", "q"]
    assert await points.count() == 2

    tracks = Collection(storage, "tracks", list[Point])
    assert await tracks.append("t", [Point(0, 0)]) == 1
    assert await tracks.append("t", [Point(1, 1), Point(2, 2)], max_items=2) == 2
    assert await tracks.get("t") == [Point(1, 1), Point(2, 2)]
    with pytest.raises(SerializationError):
        await tracks.append("t", ["not a point"])
    with pytest.raises(TypeError, match="list type"):
        await points.append("p", [Point(0, 0)])

    assert await points.delete_many(["p", "q", "absent"]) == 2
    await points.set_many([("a", Point(0, 1)), ("b", Point(1, 0))])
    assert await points.clear() == 2
    assert await points.delete("a") is False


async def test_update_that_meets_an_invalid_value_writes_nothing(storage: StorageDriver) -> None:
    await storage.set("points", "p", {"x": "not a number"})
    points = Collection(storage, "points", Point)
    with pytest.raises(SerializationError):
        await points.update("p", lambda p: Point(0, 0))
    assert await storage.get("points", "p") == {"x": "not a number"}


async def test_items_unpack_and_collections_work_through_a_scope(storage: StorageDriver) -> None:
    points = Collection(Scoped(storage, "tenant:1:"), "points", Point)
    await points.set("p", Point(3, 4))
    [(key, value)] = await points.list()
    assert (key, value) == ("p", Point(3, 4))
    assert Item("p", Point(3, 4)) == (await points.list())[0]
    assert await storage.get("tenant:1:/points", "p") == {"x": 3.0, "y": 4.0}


async def test_items_are_indexable_tuples_like_entries(storage: StorageDriver) -> None:
    """A typed item is a (key, value) tuple: indexable, comparable, unpackable."""
    points = Collection(storage, "points", Point)
    await points.set("p", Point(1, 2))
    [item] = await points.list()
    assert item[0] == "p"
    assert item[1] == Point(1, 2)
    assert item == ("p", Point(1, 2))
    assert isinstance(item, tuple)
    assert item._asdict() == {"key": "p", "value": Point(1, 2)}
    assert [tuple(entry) async for entry in points.scan()] == [("p", Point(1, 2))]


class Tagged(BaseModel):
    kind: Literal["note", "task"]
    body: dict[str, str]


@pytest.mark.parametrize(
    "stored",
    [
        {"kind": "SSN-123-45-6789", "body": {}},
        {"kind": "note", "body": "alice@example.com"},
        {"kind": "note", "body": {"x": ["alice@example.com"]}},
        "alice@example.com",
    ],
)
async def test_read_errors_never_quote_the_stored_data(storage: StorageDriver, stored: Any) -> None:
    """A stored value that does not validate is named by namespace, key, field path and
    error type, never by what it holds."""
    await storage.set("typed", "bad", stored)
    with pytest.raises(SerializationError) as caught:
        await Collection(storage, "typed", Tagged).get("bad")
    text = str(caught.value)
    assert "'typed'/'bad'" in text
    assert "SSN" not in text
    assert "6789" not in text
    assert "alice" not in text
    assert "example.com" not in text


async def test_bytes_that_are_not_utf8_are_a_serialization_error(storage: StorageDriver) -> None:
    """pydantic's JSON mode cannot write non-UTF-8 bytes: SerializationError, nothing written."""
    blobs = Collection(storage, "blobs", bytes)
    with pytest.raises(SerializationError, match="not UTF-8"):
        await blobs.set("b", b"\xff\xfe")
    assert await storage.get("blobs", "b", "absent") == "absent"
    await blobs.set("ok", b"plain text")
    assert await blobs.get("ok") == b"plain text"


async def test_a_utc_offset_with_seconds_is_refused_not_shifted(storage: StorageDriver) -> None:
    """ISO 8601 offsets are whole minutes: an offset with seconds would come back another
    instant, so it is refused before any write; whole-minute offsets keep the instant."""
    odd = timezone(timedelta(hours=1, seconds=30))
    profiles = Collection(storage, "profiles", Profile)
    with pytest.raises(SerializationError, match="whole minutes"):
        await profiles.set("p", {"name": "a", "born": datetime(2000, 1, 1, tzinfo=odd)})
    assert await storage.get("profiles", "p") is None
    stamps = Collection(storage, "stamps", list[datetime])
    with pytest.raises(SerializationError, match="whole minutes"):
        await stamps.set("s", [datetime(2000, 1, 1, tzinfo=odd)])
    india = datetime(2000, 1, 1, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    await profiles.set("q", {"name": "b", "born": india})
    back = await profiles.get("q")
    assert back is not None
    assert back["born"] == india
    assert back["born"].utcoffset() == india.utcoffset()


async def test_bad_arguments_raise_before_io() -> None:
    from radaros import InMemoryStorage, InvalidKeyError

    async with InMemoryStorage() as storage:
        with pytest.raises(InvalidKeyError):
            Collection(storage, "", Point)
        points = Collection(storage, "points", Point)
        with pytest.raises(InvalidKeyError):
            await points.get("")
        with pytest.raises(TypeError):
            await points.update("p", "not callable")  # type: ignore[arg-type]
        assert "Point" in repr(points)

        class Opaque:  # no schema pydantic could build
            pass

        with pytest.raises(TypeError, match="pydantic cannot validate"):
            Collection(storage, "opaque", Opaque)
