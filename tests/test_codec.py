"""The strict JSON codec and the argument checks: pure functions, no driver."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from radaros.storage import codec
from radaros.storage.errors import SerializationError, ValueTooLargeError
from radaros.storage.testing.cases import EDGE_VALUES, REFUSED_VALUES, same_json
from radaros.storage.validate import check_key, check_prefix, check_ttl, prefix_upper_bound

DECODERS = [
    pytest.param(codec.decode, id="default"),
    pytest.param(codec.stdlib_decode, id="stdlib"),
    # A page's decoder, given the value between two others: the same result and refusal.
    pytest.param(lambda raw: codec.decode_many(["1", raw, "2"])[1], id="default-many"),
    pytest.param(lambda raw: codec.stdlib_decode_many(["1", raw, "2"])[1], id="stdlib-many"),
]


ENCODERS = [
    pytest.param(codec.encode, id="default"),
    pytest.param(codec.stdlib_encode, id="stdlib"),
]


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize("value", EDGE_VALUES, ids=range(len(EDGE_VALUES)))
def test_round_trip_is_exact_with_every_encoder_and_decoder(
    value: Any, decode: Any, encode: Any
) -> None:
    """orjson (when installed) and the stdlib write and read back the same value."""
    assert same_json(decode(encode(value)), value)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("value", REFUSED_VALUES, ids=range(len(REFUSED_VALUES)))
def test_refused_values_raise_serialization_error(value: Any, encode: Any) -> None:
    """Everything JSON cannot carry exactly is refused, by either encoder."""
    with pytest.raises(SerializationError):
        encode(value)


@pytest.mark.parametrize("encode", ENCODERS)
def test_size_limit_counts_utf8_bytes_with_either_encoder(encode: Any) -> None:
    assert encode("é" * 5, 12) == '"' + "é" * 5 + '"'
    with pytest.raises(ValueTooLargeError, match="13 bytes"):
        encode("é" * 5 + "x", 12)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    """Deep values are refused with SerializationError, not a RecursionError."""
    deep: Any = 1
    for _ in range(codec.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(SerializationError, match="nested"):
        codec.encode(deep)
    shallow: Any = 1
    for _ in range(codec.MAX_DEPTH - 1):
        shallow = {"k": shallow}
    assert codec.decode(codec.encode(shallow)) == shallow


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize(
    "stored",
    ["", "{", "NaN", "Infinity", "[1,]", "{'a': 1}", "[" * 10_000 + "]" * 10_000, "\x00", b"\xff"],
)
def test_hostile_stored_text_raises_serialization_error(decode: Any, stored: str) -> None:
    """Invalid JSON or absurd nesting in storage is a SerializationError; nothing is run."""
    with pytest.raises(SerializationError):
        decode(stored)


def test_size_limit_counts_utf8_bytes() -> None:
    """max_bytes applies to the UTF-8 encoding, quotes included."""
    assert codec.encode("é" * 4, max_bytes=10) == '"éééé"'
    with pytest.raises(ValueTooLargeError):
        codec.encode("é" * 5, max_bytes=11)


def test_encoding_is_compact_and_keeps_unicode() -> None:
    """Stored text is compact JSON; non-ASCII stays readable, NUL is escaped."""
    assert codec.encode({"a": [1, 2.0], "é": "\x00😀"}) == '{"a":[1,2.0],"é":"\\u0000😀"}'


def test_subclasses_of_json_types_are_accepted() -> None:
    """A str or int subclass (e.g. an Enum mixin) is stored as its JSON base type."""
    import enum

    class Colour(str, enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    assert codec.decode(codec.encode({"c": Colour.RED, "l": Level.HIGH})) == {"c": "red", "l": 3}


def test_key_checks_reduce_subclasses_and_count_bytes() -> None:
    """check_key returns a plain str and measures UTF-8 bytes, not characters."""

    class Name(str):
        pass

    assert type(check_key(Name("k"))) is str
    check_key("😀" * 256)
    with pytest.raises(ValueError, match="1024"):
        check_key("😀" * 256 + "x")
    assert check_prefix(None) == ""


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [(1, 1.0), (0.25, 0.25), (timedelta(minutes=2), 120.0), (None, None)],
)
def test_ttl_is_normalised_to_seconds(ttl: Any, seconds: float | None) -> None:
    """ttl accepts int, float and timedelta."""
    assert check_ttl(ttl) == seconds


@pytest.mark.parametrize(
    ("prefix", "upper"),
    [
        ("", None),
        ("a", "b"),
        ("ab", "ac"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff", None),
        ("\ud7ff", "\ue000"),
        ("%", "&"),
    ],
)
def test_prefix_upper_bound(prefix: str, upper: str | None) -> None:
    """The bound is the next string after every extension of the prefix, skipping surrogates."""
    assert prefix_upper_bound(prefix) == upper
