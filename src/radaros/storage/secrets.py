"""Secrets in URLs: how radaros hides them, checks them, and keeps them out of errors.

A URL's password must never appear in a message, a log line, a `repr` or CLI output, not
even a piece of it. Two defences work together:

* `check_url` reads the user info, the hosts and ports, and the secret query parameters
  ourselves, before any backend parser sees the URL, and refuses what a parser could
  misread. A parser that misreads a password (`hun/ter2` ends the host at `/`) would echo a
  piece of it in its own words (`invalid literal for int(): 'hun'`); with this check it
  never gets the chance.
* `wrap_error` and `scrub` drop or mask backend text that contains a secret anyway.

A secret is the password of the user info and the value of every query parameter in
`SECRET_PARAMETERS` (`?password=` is asyncpg's and redis-py's password too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from radaros.storage.errors import StorageError

__all__ = [
    "SECRET_PARAMETERS",
    "check_url",
    "holds_secret_parameter",
    "option_shown",
    "redact",
    "scrub",
    "split_userinfo",
    "url_secrets",
    "wrap_error",
]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# RFC 3986 userinfo (unreserved / pct-encoded / sub-delims / ":"), plus non-ASCII characters,
# which every parser keeps whole. Anything else (`/ # ? @ [ ]`, space, a `%` not followed by
# two hex digits) makes parsers disagree about where the user info ends.
_USERINFO_OK = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:\u0080-\U0010ffff]|%[0-9A-Fa-f]{2})*")
_SECRET_VALUE_OK = _USERINFO_OK
SECRET_PARAMETERS = frozenset(
    {"password", "sslpassword", "tlscertificatekeyfilepassword", "authmechanismproperties"}
)
"""Query parameters whose value is a secret (compared case-insensitively): libpq's and
redis-py's `password`, libpq's `sslpassword`, PyMongo's key-file password and its
`authMechanismProperties` (which may carry an AWS session token)."""
HOST_SCHEMES = frozenset(
    {"postgresql", "postgres", "postgresql+asyncpg", "redis", "rediss", "mongodb"}
)
"""Schemes whose authority is `host[:port][,host[:port]...]`, checked before any parser."""
_ENCODE_HINT = (
    "percent-encode any / # ? @ [ ] % or space in a user name or password with "
    "urllib.parse.quote(password, safe='')"
)
_SECRET_NAME = re.compile("[?&](?:" + "|".join(sorted(SECRET_PARAMETERS)) + ")=", re.IGNORECASE)
MIN_SCRUB_LENGTH = 4
"""Pieces shorter than this are not masked in free text (they would mask ordinary words);
`check_url` guarantees a parser never sees, and so never echoes, such a piece."""


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
    """The URL with any password, secret query parameter (and anything that might be
    one) replaced by `***`."""
    head, userinfo, tail = split_userinfo(url)
    if userinfo is None:
        return _redact_query(url)
    user, separator, _ = userinfo.partition(":")
    if not separator and (not head or not _USERINFO_OK.fullmatch(user)):
        user = "***"  # no scheme, or a user that is no user name: it may be a secret
    tail = _redact_query(tail)
    return f"{head}{user}:***{tail}" if separator else f"{head}{user}{tail}"


def _secret_segments(url: str) -> list[tuple[int, int]]:
    """`(start, end)` of each secret query value. A value runs to the next `&` (a `#`
    in it is not taken as the fragment: it may be part of the secret)."""
    _, userinfo, tail = split_userinfo(url)
    offset = len(url) - len(tail) if userinfo is not None else 0
    question = url.find("?", offset)
    if question < 0:
        return []
    spans: list[tuple[int, int]] = []
    position = question + 1
    for segment in url[question + 1 :].split("&"):
        name, equals, _ = segment.partition("=")
        if equals and unquote(name.replace("+", " ")).lower() in SECRET_PARAMETERS:
            start = position + len(name) + 1
            spans.append((start, position + len(segment)))
        position += len(segment) + 1
    return spans


def holds_secret_parameter(url: str) -> bool:
    """Whether the query string names a secret parameter. Then any other parameter may be
    a piece of the secret (a password holding an unencoded `&`), so messages name none."""
    return _SECRET_NAME.search(url) is not None


def option_shown(url: str, name: str) -> str:
    """`repr(name)` for a message about the URL's option `name`, unless it may be a piece
    of a secret (see `holds_secret_parameter`)."""
    if holds_secret_parameter(url):
        return "*** (named beside a secret parameter: percent-encode any & in a password)"
    return repr(name)


def _redact_query(url: str) -> str:
    """Everything from the first secret value to the end of the query becomes `***`: a
    password holding an unencoded `&` continues into what looks like other parameters."""
    spans = _secret_segments(url)
    if not spans:
        return url
    return f"{url[: spans[0][0]]}***"


def url_secrets(url: str) -> list[str]:
    """Strings that must never be shown: the password as written, percent-decoded, and
    each piece of it between URL delimiters that is long enough to mask in free text."""
    raw_secrets = [url[start:end] for start, end in _secret_segments(url)]
    _, userinfo, _ = split_userinfo(url)
    if userinfo is not None:
        _, separator, password = userinfo.partition(":")
        if separator:
            raw_secrets.append(password)
    secrets: set[str] = set()
    for raw in raw_secrets:
        forms = {raw, unquote(raw), unquote(raw.replace("+", " "))}
        secrets.update(forms)
        for text in forms:
            secrets.update(
                piece
                for piece in re.split(r"[#@/?:%\[\]&=+ ]", text)
                if len(piece) >= MIN_SCRUB_LENGTH
            )
    return sorted((s for s in secrets if s), key=len, reverse=True)


def check_url(url: str) -> None:
    """Raise ValueError unless the URL is one every parser reads the same way: user info
    and secret query values percent-encoded, and (for server URLs) numeric ports.

    The message is one line: it says the URL cannot be parsed, shows it with the user
    info and secret values as `***`, and suggests percent-encoding.
    """
    head, userinfo, tail = split_userinfo(url)
    if userinfo is not None and not _USERINFO_OK.fullmatch(userinfo):
        raise _unparsable(
            url,
            f"{head}***{_redact_query(tail)}",
            "the user name or password holds a character that must be percent-encoded",
        )
    spans = _secret_segments(url)
    if spans and any("=" not in part for part in url[url.index("?") + 1 :].split("&")):
        raise _unparsable(url, "", "a query parameter has no '=' (a password holding '&'?)")
    for start, end in spans:
        if not _SECRET_VALUE_OK.fullmatch(url[start:end]):
            raise _unparsable(
                url, redact(url), "a secret query parameter holds a character that must be encoded"
            )
    match = _SCHEME.match(url)
    if match and match.group(1).lower() in HOST_SCHEMES:
        _check_hosts(url, match.group(0), userinfo, tail)


def _check_hosts(url: str, head: str, userinfo: str | None, tail: str) -> None:
    rest = tail[1:] if userinfo is not None else url[len(head) :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    for host in authority.split(","):
        if host.startswith("["):
            _, bracket, port = host.partition("]")
            port = port.removeprefix(":") if bracket else "x"
        else:
            port = host.rpartition(":")[2] if ":" in host else ""
        if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
            # Without user info, what looks like host:port may be user:password: hide it.
            shown = f"{head}***{rest[len(authority) :]}" if userinfo is None else redact(url)
            raise _unparsable(url, _redact_query(shown), "a port is not a number from 0 to 65535")


def _unparsable(url: str, shown: str, reason: str) -> ValueError:
    # A refused URL that names a secret parameter cannot be trusted to split where we
    # think (`?password=a@b` moves the user info's end): show nothing past the scheme.
    if _SECRET_NAME.search(url):
        match = _SCHEME.match(url)
        shown = f"{match.group(0) if match else ''}***"
    return ValueError(f"cannot parse the storage URL {shown}: {reason}; {_ENCODE_HINT}")


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
