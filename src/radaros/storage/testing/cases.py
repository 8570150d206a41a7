"""Edge-case data for the conformance suite: keys, prefixes and values that break naive drivers."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BAD_NAMESPACES",
    "BAD_TTLS",
    "EDGE_KEYS",
    "EDGE_VALUES",
    "REFUSED_VALUES",
    "same_json",
]

EDGE_KEYS: list[str] = [
    "%",
    "_",
    "a%b",
    "a_b",
    "*",
    "?",
    ".",
    "$",
    "[",
    "]",
    "\\",
    "'",
    '"',
    ";",
    ":",
    "/",
    " ",
    "  two  spaces ",
    "tab\tkey",
    "line\nbreak",
    "--",
    "/*",
    "*/",
    "'; DROP TABLE x; --",
    "$where",
    "{$gt: ''}",
    "^a.*$",
    "(a|b)",
    "é",
    "É",
    "ß",
    "ﬁ",
    "e\u0301",
    "😀",
    "👩‍👩‍👧",
    "שלום",
    "مرحبا",
    "\u202eRTL",
    "\uffff",
    "\U0010ffff",
    "\u00a0",
    "\ufeffbom",
    "null",
    "true",
    "0",
    "-1",
    "1e3",
    "key" * 341 + "k",  # 1024 bytes exactly
    "é" * 512,  # 1024 UTF-8 bytes in 512 characters
]

BAD_NAMESPACES: list[Any] = ["", "\x00", "a\x00b", "\ud800", "x" * 257, "é" * 129, 1, None, b"ns"]
BAD_KEYS: list[Any] = ["", "\x00", "k\x00", "\udfff", "x" * 1025, "😀" * 257, 1, None, b"k"]
BAD_PREFIXES: list[Any] = ["\x00", "\ud800", "x" * 1025, 1, b"p"]
BAD_TTLS: list[Any] = [0, -1, -0.5, float("nan"), float("inf"), "1", True, [1]]

EDGE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**63 - 1,
    -(2**63),
    0.0,
    -0.0,
    1.0,
    0.1,
    1e300,
    -1e300,
    -2.5e-308,
    5e-324,
    1.7976931348623157e308,
    123456789.123456789,
    "",
    "\x00",
    "a\x00b",
    "😀",
    "\U0010ffff",
    "\u202e",
    "\\",
    '"',
    "\n\r\t",
    "é" * 1000,
    [],
    {},
    [None, 1, "x", 2.0],
    {"": 1, ".": 2, "$": 3, "a.b": 4, "$set": 5, "\x00": 6, "😀": 7},
    {"nested": {"deep": [1, {"x": [1.5, True, None]}]}},
    [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]],
    {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {}}}}}}}}}}},
    {"b": 1, "a": 2, "c": 3},  # key order is kept
    {"int": 1, "float": 1.0, "big": 9007199254740993, "list": [1, 1.0, True]},
]

REFUSED_VALUES: list[Any] = [
    2**63,
    -(2**63) - 1,
    10**30,
    float("nan"),
    float("inf"),
    float("-inf"),
    {1: "a"},
    {None: 1},
    {(1, 2): 3},
    "\ud800",
    ["ok", "\udfff"],
    {"\ud800": 1},
    object(),
    b"bytes",
    {1, 2},
    bytearray(b"x"),
    complex(1, 2),
    [1, object()],
    {"a": {"b": float("nan")}},
]


def same_json(left: Any, right: Any) -> bool:
    """Equal and of the same JSON types all the way down (1 != 1.0 != True here)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same_json, left, right))
    if isinstance(left, float) and left == 0.0:
        return str(left) == str(right)  # keeps the sign of zero
    return bool(left == right)
