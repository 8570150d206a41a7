"""No piece of a password ever shows: parsing, errors, repr and the CLI, for every driver URL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from radaros.cli import main
from radaros.storage import PostgresStorage, StorageConnectionError, open_storage
from radaros.storage.secrets import check_url, redact, scrub, url_secrets, wrap_error

# Password characters that appear nowhere else in a URL or in any message radaros or a
# backend writes: if one of them (or its percent-encoding) shows, a piece of the password
# leaked, however short the piece.
SECRET_ALPHABET = "ЖΩΨ"
DELIMITERS = ["/", "#", "?", "@", ":", "%", "[", "]", " ", "&", "=", "+", "\\"]
TEMPLATES = [
    "postgresql://app:{}@db.example/app",
    "postgres://app:{}@127.0.0.1:1/app?sslmode=disable",
    "mongodb://app:{}@db.example/app",
    "redis://app:{}@db.example:6379/0",
    "rediss://:{}@db.example:6380",
    # Secret query parameters: asyncpg and redis-py take `?password=` as the password.
    "postgresql://app@127.0.0.1:1/app?password={}",
    "postgresql://app@127.0.0.1:1/app?sslmode=disable&sslpassword={}",
    "redis://127.0.0.1:1/0?password={}",
    "mongodb://app@db.example/app?tlsCertificateKeyFilePassword={}",
]


def passwords() -> Iterator[str]:
    """Every delimiter at every position of a short secret, pieces of 1 to 3 characters,
    and the percent-encoded form of each."""
    base = SECRET_ALPHABET
    for delimiter in DELIMITERS:
        for position in range(len(base) + 1):
            password = base[:position] + delimiter + base[position:]
            yield password
            yield quote(password, safe="")
        yield delimiter.join(base)  # one-character pieces between delimiters
    yield "Ж"
    yield "Ж@Ω/Ψ#Ж?Ω"


def leaked(text: str) -> list[str]:
    """Password characters, raw or percent-encoded, found in `text`."""
    found = [char for char in SECRET_ALPHABET if char in text]
    for char in SECRET_ALPHABET:
        encoded = quote(char)
        found += [encoded for form in (encoded, encoded.lower()) if form in text]
    return found


CORPUS = sorted(set(passwords()))


@pytest.mark.parametrize("template", TEMPLATES)
def test_no_piece_of_any_password_in_errors_or_repr(template: str) -> None:
    """open_storage either refuses the URL (one line, user info as ***) or builds a driver
    whose repr hides the password: no piece shows, for a corpus of hostile passwords."""
    for password in CORPUS:
        url = template.format(password)
        try:
            storage = open_storage(url)
        except ValueError as exc:
            message = str(exc)
            assert not leaked(message), (password, message)
            assert "***" in message
            assert "percent-encode" in message or "unknown option" in message, message
            assert "\n" not in message
        else:
            assert not leaked(repr(storage)), (password, repr(storage))
            assert not leaked(redact(url)), (password, redact(url))


CLI_URLS = [
    "postgresql://app:{}@127.0.0.1:1/app?connect_timeout=2",
    "postgresql://app@127.0.0.1:1/app?connect_timeout=2&password={}",
]


@pytest.mark.parametrize("template", CLI_URLS)
def test_cli_shows_no_piece_of_the_password(
    template: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's one-line errors hide every piece, refused URL or refused connection."""
    for password in CORPUS:
        url = template.format(password)
        assert main(["--url", url, "get", "ns", "key"]) == 1
        captured = capsys.readouterr()
        output = captured.out + captured.err
        assert not leaked(output), (password, output)
        assert output.count("\n") == 1, output


@pytest.mark.parametrize(
    "argv",
    [
        ["{url}", "get", "ns", "key"],
        ["get", "ns", "key", "{url}"],
        ["get", "ns", "{url}", "key", "extra"],
        ["--url={url}", "get", "ns", "key", "extra"],
        ["get", "--url={url}", "ns"],
        ["copy", "{url}"],
        ["nonsense", "--url", "{url}"],
    ],
)
@pytest.mark.parametrize("template", CLI_URLS)
def test_cli_usage_errors_mask_url_arguments(
    argv: list[str], template: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL in the wrong place is never echoed by argparse's usage errors."""
    for password in CORPUS:
        url = template.format(password)
        with pytest.raises(SystemExit) as info:
            main([argument.replace("{url}", url) for argument in argv])
        assert info.value.code == 2
        captured = capsys.readouterr()
        output = captured.out + captured.err
        assert not leaked(output), (password, output)


def test_query_secrets_are_redacted_and_known() -> None:
    """`?password=` and the other secret parameters are masked and scrubbed like user info."""
    url = "postgresql://app@h/db?sslmode=require&password=S3cr3t&PassWord=Two2&sslpassword=k3y"
    # What follows a secret value may be more of it (an unencoded '&'): all of it is masked.
    assert redact(url) == "postgresql://app@h/db?sslmode=require&password=***"
    assert {"S3cr3t", "Two2", "k3y"} <= set(url_secrets(url))
    storage = PostgresStorage("postgresql://app@127.0.0.1:1/db?password=S3cr3t")
    assert "S3cr3t" not in repr(storage)
    assert "password=***" in repr(storage)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:S3cr3t@db.example:5x4/app",
        "redis://:S3cr3t@db.example:5x4/0",
        "mongodb://app:S3cr3t@a.example:27017,b.example:port/app",
        "postgresql://app:S3cr3t/app",  # no host: what looks like a port is a password
        "redis://db.example:70000/0",
    ],
)
def test_unparsable_url_says_so_and_suggests_percent_encoding(url: str) -> None:
    """An unparsable server URL is refused before any connection, in one line that shows
    the user info as *** and suggests percent-encoding."""
    with pytest.raises(ValueError, match="cannot parse the storage URL") as info:
        open_storage(url)
    message = str(info.value)
    assert "S3cr3t" not in message
    assert "percent-encode" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://user:s3cr3t@host/db", "s3cr3t"),
        ("postgresql://user:p@ss#word@host:5432/db", "p@ss#word"),
        ("mongodb+srv://user:a%40b@cluster.example/db?x=1", "a%40b"),
        ("postgres://:onlypass@host", "onlypass"),
        ("mongodb://u:pa/ss@h/db", "pa/ss"),
        ("postgresql://user:pa:ss@host", "pa:ss"),
    ],
)
def test_redact_hides_the_password(url: str, secret: str) -> None:
    """redact() masks passwords, including ones holding @, #, / or :."""
    shown = redact(url)
    assert secret not in shown
    assert "***" in shown
    assert secret in url_secrets(url)


def test_secrets_include_pieces_a_parser_may_show() -> None:
    """A password cut at '#' or '@' by some URL parser is still recognised as secret."""
    secrets = url_secrets("postgresql://u:Canary-Pw#@xyzw@host/db")
    assert {"Canary-Pw#@xyzw", "Canary-Pw", "xyzw"} <= set(secrets)
    assert scrub("saw Canary-Pw and xyzw", secrets) == "saw *** and ***"


def test_redact_leaves_urls_without_password_alone() -> None:
    """A URL without a password is shown unchanged."""
    assert redact("postgresql://localhost/db") == "postgresql://localhost/db"
    assert redact("sqlite:///x.db") == "sqlite:///x.db"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_well_formed_user_info_is_accepted() -> None:
    """Percent-encoded, sub-delimiter and non-ASCII passwords pass the check."""
    for password in ["s3cr3t", "a%2Fb%23c", "!$&'()*+,;=:", "pässwörd", ""]:
        check_url(f"postgresql://user:{password}@host/db")
    check_url("postgresql://host/db?x=1#y")


def test_wrap_error_keeps_the_cause_unless_it_holds_a_secret() -> None:
    """The backend exception stays as __cause__; one that echoes a secret is dropped."""
    plain = wrap_error(StorageConnectionError, "cannot connect", OSError("refused"), ["s3cr3t"])
    assert isinstance(plain.__cause__, OSError)
    assert "OSError: refused" in str(plain)
    echoed = wrap_error(StorageConnectionError, "cannot connect", OSError("bad s3cr3t"), ["s3cr3t"])
    assert echoed.__cause__ is None
    assert "s3cr3t" not in str(echoed)


@pytest.mark.postgres
async def test_refused_connection_keeps_its_cause() -> None:
    """A refused PostgreSQL connection raises StorageConnectionError with the OS error as
    its cause (it holds no secret)."""
    storage = PostgresStorage("postgresql://u:pw-secret@127.0.0.1:1/db", connect_timeout_s=5)
    with pytest.raises(StorageConnectionError) as info:
        await asyncio.wait_for(storage.initialize(), timeout=30)
    assert isinstance(info.value.__cause__, OSError)
    assert "pw-secret" not in str(info.value)
    assert "pw-secret" not in repr(storage)
    await storage.close()
