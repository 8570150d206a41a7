"""Secrets in URLs: how radaros hides them, checks them, and keeps them out of errors.

A URL's password must never appear in a message, a log line, a `repr` or CLI output, not
even a piece of it. Two defences work together:

* `check_userinfo` reads the user info ourselves, before any backend parser sees the URL,
  and refuses characters that must be percent-encoded there. A backend parser that
  misreads a password (`hun/ter2` ends the host at `/`) would echo a piece of it in its
  own words (`invalid literal for int(): 'hun'`); with this check it never gets the chance.
* `wrap_error` and `scrub` drop or mask backend text that contains a secret anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from radaros.storage.errors import StorageError

__all__ = ["check_userinfo", "redact", "scrub", "split_userinfo", "url_secrets", "wrap_error"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# RFC 3986 userinfo (unreserved / pct-encoded / sub-delims / ":"), plus non-ASCII characters,
# which every parser keeps whole. Anything else (`/ # ? @ [ ]`, space, a `%` not followed by
# two hex digits) makes parsers disagree about where the user info ends.
_USERINFO_OK = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:\u0080-\U0010ffff]|%[0-9A-Fa-f]{2})*")
MIN_SCRUB_LENGTH = 4
"""Pieces shorter than this are not masked in free text (they would mask ordinary words);
`check_userinfo` guarantees a parser never sees, and so never echoes, such a piece."""


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """`(head, userinfo, tail)`: the URL around its user info (None when it has none).

    The user info runs from after `scheme://` to the *last* `@`: a password holding `@`,
    `/` or `#` is then still treated as secret, never as host or path.
    """
    match = _SCHEME.match(url)
    start = match.end() if match else 0
    at = url.rfind("@", start)
    if at < 0:
        return url, None, ""
    return url[:start], url[start:at], url[at:]


def redact(url: str) -> str:
    """The URL with any password (and anything that might be one) replaced by `***`."""
    head, userinfo, tail = split_userinfo(url)
    if userinfo is None:
        return url
    user, separator, _ = userinfo.partition(":")
    if not separator and (not head or not _USERINFO_OK.fullmatch(user)):
        user = "***"  # no scheme, or a user that is no user name: it may be a secret
    return f"{head}{user}:***{tail}" if separator else f"{head}{user}{tail}"


def url_secrets(url: str) -> list[str]:
    """Strings that must never be shown: the password as written, percent-decoded, and
    each piece of it between URL delimiters that is long enough to mask in free text."""
    _, userinfo, _ = split_userinfo(url)
    if userinfo is None:
        return []
    _, separator, password = userinfo.partition(":")
    if not separator or not password:
        return []
    secrets = {password, unquote(password)}
    for text in (password, unquote(password)):
        secrets.update(
            piece for piece in re.split(r"[#@/?:%\[\] ]", text) if len(piece) >= MIN_SCRUB_LENGTH
        )
    return sorted((s for s in secrets if s), key=len, reverse=True)


def check_userinfo(url: str) -> None:
    """Raise ValueError unless the URL's user info is well formed (percent-encoded).

    The message shows the URL with the user info as `***` and says how to fix it.
    """
    head, userinfo, tail = split_userinfo(url)
    if userinfo is None or _USERINFO_OK.fullmatch(userinfo):
        return
    shown = f"{head}***{tail}"
    raise ValueError(
        f"cannot parse the storage URL {shown}: the user name or password holds a character "
        "that must be percent-encoded (/ # ? @ [ ] % space ...); encode them with "
        "urllib.parse.quote(password, safe='')"
    )


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***` (longest first)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def wrap_error(
    error_class: type[StorageError],
    message: str,
    exc: BaseException,
    secrets: Iterable[str] = (),
    detail: str | None = None,
) -> StorageError:
    """A StorageError for `exc`, with `exc` as its cause unless that would leak a secret.

    The message ends with the exception's type and `detail` (default: the first line of
    its text). Backend messages sometimes echo a DSN; when any secret appears anywhere in
    the chain, the cause is dropped and only the exception type is named.
    """
    secrets = [secret for secret in secrets if secret]
    chain_text: list[str] = []
    node: BaseException | None = exc
    while node is not None and len(chain_text) < 20:
        chain_text.append(f"{node!r} {node}")
        node = node.__cause__ or node.__context__
    text = "\n".join(chain_text)
    leaked = any(secret in text for secret in secrets) or any(
        secret in (detail or "") for secret in secrets
    )
    shown = detail if detail is not None else _first_line(exc)
    named = type(exc).__name__ if leaked or not shown else f"{type(exc).__name__}: {shown}"
    error = error_class(f"{message} ({named})")
    error.__cause__ = None if leaked else exc
    error.__suppress_context__ = True
    return error


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 300 else f"{line[:297]}..."
