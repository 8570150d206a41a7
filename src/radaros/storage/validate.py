"""Argument checks shared by every driver: pure functions, no I/O.

Each raises the SPEC's error before a driver touches its backend, so bad input is
refused identically everywhere and nothing is written.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Union

from radaros.storage.errors import InvalidKeyError

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_NAMESPACE_BYTES",
    "TTL",
    "check_key",
    "check_namespace",
    "check_prefix",
    "check_ttl",
    "prefix_upper_bound",
]

TTL = Union[int, float, timedelta]  # noqa: UP007 (a runtime alias must work on Python 3.10)

MAX_NAMESPACE_BYTES = 256
MAX_KEY_BYTES = 1024

_LAST_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def _check_text(value: object, what: str, max_bytes: int, *, allow_empty: bool) -> str:
    # The common case first: short ASCII without NUL needs no encode.
    if (
        type(value) is str
        and value.isascii()
        and 0 < len(value) <= max_bytes
        and "\x00" not in value
    ):
        return value
    if type(value) is not str:
        if not isinstance(value, str):
            raise InvalidKeyError(f"{what} must be a str, not {type(value).__name__}")
        value = str.__str__(value)  # a str subclass is reduced to a plain str
    if not value and not allow_empty:
        raise InvalidKeyError(f"{what} must not be empty")
    if "\x00" in value:
        raise InvalidKeyError(f"{what} must not contain the NUL character")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidKeyError(f"{what} must not contain lone surrogates") from None
    if size > max_bytes:
        raise InvalidKeyError(f"{what} is {size} UTF-8 bytes; the limit is {max_bytes}")
    return value


def check_namespace(namespace: object) -> str:
    """A non-empty namespace of at most 256 UTF-8 bytes, without NUL or lone surrogates."""
    return _check_text(namespace, "namespace", MAX_NAMESPACE_BYTES, allow_empty=False)


def check_key(key: object) -> str:
    """A non-empty key of at most 1024 UTF-8 bytes, without NUL or lone surrogates."""
    return _check_text(key, "key", MAX_KEY_BYTES, allow_empty=False)


def check_prefix(prefix: object) -> str:
    """A prefix: None and "" both mean everything, so both become ""."""
    if prefix is None:
        return ""
    return _check_text(prefix, "prefix", MAX_KEY_BYTES, allow_empty=True)


def check_ttl(ttl: object) -> float | None:
    """Seconds as a positive finite float, or None for no expiry."""
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        seconds = float(ttl)
    else:
        raise ValueError(f"ttl must be seconds (int or float) or a timedelta, not {ttl!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"ttl must be greater than 0 and finite, not {ttl!r}")
    return seconds


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix`.

    Prefix queries become `prefix <= key < upper` so that every backend answers them
    from its (namespace, key) index and no character is ever syntax (no LIKE, no regex).
    Code point order equals UTF-8 byte order, so this bound is right for SQLite's BINARY,
    PostgreSQL's "C" collation and MongoDB's simple binary comparison. None means no bound
    (an empty prefix, or one made only of U+10FFFF).
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code in _SURROGATES:  # surrogates cannot be stored; the next valid one follows them
            code = _SURROGATES.stop
        if code <= _LAST_CODE_POINT:
            return "".join(chars) + chr(code)
    return None
