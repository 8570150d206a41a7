"""Argument checks shared by every driver: pure functions, no I/O.

Each raises the SPEC's error before a driver touches its backend, so bad input is
refused identically everywhere and nothing is written.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta, timezone

from radaros.storage.errors import InvalidKeyError
from radaros.storage.protocol import TTL

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_NAMESPACE_BYTES",
    "NEVER_EXPIRES_AT",
    "TTL",
    "check_durations",
    "check_identifier",
    "check_key",
    "check_namespace",
    "check_prefix",
    "check_ttl",
    "prefix_upper_bound",
    "quote_part",
    "unquote_part",
]


NEVER_EXPIRES_AT = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()
"""An expiry after this instant (Unix seconds) means "never": every backend can store it."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

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
    """Seconds as a positive float, or None for no expiry.

    Any finite number or timedelta > 0 is accepted; one whose expiry would fall after
    9999-12-31T23:59:59Z becomes `math.inf` ("never"), so no backend ever sees an overflow.
    """
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
    if seconds >= NEVER_EXPIRES_AT - time.time():
        return math.inf
    return seconds


def check_identifier(name: object, what: str = "table") -> str:
    """A SQL identifier radaros may interpolate: letters, digits, underscore; ValueError else."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{what} name must match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters), not {name!r}"
        )
    return name


def check_durations(**seconds: float) -> None:
    """ValueError naming the first option that is not a number of seconds > 0."""
    for name, value in seconds.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number of seconds > 0, not {value!r}")


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


def quote_part(text: str) -> str:
    """`text` with `%` and `/` percent-encoded, for one part of a `/`-separated name.

    A prefix code: equality and prefixes survive, and the encoded part holds no `/`, so the
    first `/` of a name ends its first part (what keeps scopes, users' index entries and
    sessions' messages apart whatever their ids)."""
    return text.replace("%", "%25").replace("/", "%2F")


def unquote_part(text: str) -> str:
    return text.replace("%2F", "/").replace("%25", "%")
