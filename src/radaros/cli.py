"""`radaros-storage` (also `python -m radaros`): the storage from a shell.

The URL comes from `--url` (before or after the command), else `RADAROS_STORAGE_URL`, else
`sqlite:///radaros.db` in the current folder. Values are read and printed as JSON; `list`
and `export` print JSON Lines. Every error is one line on stderr and a non-zero exit status,
never a traceback. Progress bars (with `radaros[cli]`) appear only on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from radaros.storage.base import StorageDriver
from radaros.storage.schemes import DEFAULT_URL, ENV_VAR, open_storage
from radaros.storage.secrets import holds_secret_parameter, redact, scrub, url_secrets

if TYPE_CHECKING:
    from radaros.transfer import TransferReport

__all__ = ["main"]

PROG = "radaros-storage"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_MISMATCH = 4
EXIT_INTERRUPTED = 130
EXIT_CODES = f"""exit status:
  {EXIT_OK}    done (also when the output pipe was closed early, as by `| head`)
  {EXIT_ERROR}    error (one line on stderr)
  {EXIT_USAGE}    usage error
  {EXIT_NOT_FOUND}    no such key (get, ttl, touch)
  {EXIT_MISMATCH}    copy finished, but live counts differ between source and destination
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)

URL: --url, else ${ENV_VAR}, else {DEFAULT_URL}"""
READS = frozenset({"get", "list", "namespaces", "count", "ttl", "export"})
"""Commands that only read: they never create a database."""
_MISSING = object()


class UsageError(Exception):
    """Bad arguments found after parsing: one line, exit status 1 like any error (2 is
    kept for what argparse itself refuses)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with every URL argument masked in its usage errors.

    argparse quotes arguments it refuses ("invalid choice: 'postgresql://u:pw@h/db'",
    "unrecognized arguments: ..."), and a URL in the wrong place is one of them.
    """

    def __init__(self, *args: Any, masks: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.masks = masks

    def error(self, message: str) -> NoReturn:
        for secret, shown in self.masks:
            message = message.replace(secret, shown)
        super().error(message)


def _url_masks(argv: Sequence[str]) -> list[tuple[str, str]]:
    """`(text, replacement)` for every argument that is, or holds, a URL with a secret:
    the argument as written and as argparse quotes it, then each piece of the secret."""
    masks: list[tuple[str, str]] = []
    pieces: list[str] = []
    for argument in argv:
        url = argument.partition("=")[2] if argument.startswith("--") else argument
        secrets = url_secrets(url)
        if not secrets and "@" not in url:
            continue
        hidden = redact(url)
        if holds_secret_parameter(url):  # its other parameters may be pieces of it
            hidden = f"{url.partition('://')[0]}://***"
        shown = argument.replace(url, hidden) if url else argument
        masks += [(argument, shown), (repr(argument)[1:-1], shown)]
        pieces += secrets
    return masks + [(piece, "***") for piece in sorted(set(pieces), key=len, reverse=True)]


def _parser(masks: Sequence[tuple[str, str]] = ()) -> argparse.ArgumentParser:
    from radaros import __version__

    url = _Parser(add_help=False, masks=masks)
    url.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="storage URL (sqlite:///path.db, postgresql://..., ...)",
    )
    parser = _Parser(
        masks=masks,
        prog=PROG,
        description="Read, write and move radaros storage from the command line.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[url],
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, description=help_text, parents=[url], masks=masks
        )

    get = command("get", "print a value as JSON (exit 3 if absent)")
    get.add_argument("namespace")
    get.add_argument("key")
    get.add_argument("--pretty", action="store_true", help="indented output")

    put = command("set", "store a JSON value")
    put.add_argument("namespace")
    put.add_argument("key")
    put.add_argument("value", help='the value as JSON (\'{"theme": "dark"}\'), or - for stdin')
    put.add_argument("--ttl", type=float, help="expire after this many seconds")

    delete = command("delete", "remove a key")
    delete.add_argument("namespace")
    delete.add_argument("key")

    listing = command("list", "print entries as JSON Lines, in key order")
    listing.add_argument("namespace")
    listing.add_argument("--prefix")

    names = command("namespaces", "print the namespaces holding live keys")
    names.add_argument("--prefix")

    count = command("count", "print the number of live keys")
    count.add_argument("namespace")
    count.add_argument("--prefix")

    ttl = command("ttl", "print the seconds a key has left, or 'never' (exit 3 if absent)")
    ttl.add_argument("namespace")
    ttl.add_argument("key")

    touch = command("touch", "set a key's expiry without rewriting it (exit 3 if absent)")
    touch.add_argument("namespace")
    touch.add_argument("key")
    expiry = touch.add_mutually_exclusive_group(required=True)
    expiry.add_argument("--ttl", type=float, help="expire this many seconds from now")
    expiry.add_argument("--never", action="store_true", help="never expire")

    clear = command("clear", "delete every key of a namespace (or with --prefix); print count")
    clear.add_argument("namespace")
    clear.add_argument("--prefix")

    export = command("export", "write entries as JSON Lines (namespace, key, value, ttl)")
    export.add_argument("--namespace", action="append", help="only this namespace (repeatable)")
    export.add_argument("--prefix", help="only keys starting with this")
    export.add_argument("-o", "--output", help="write to this file (default: stdout)")

    load = command("import", "store the entries of a JSON Lines file (from export)")
    load.add_argument("file", help="the file, or - for stdin")
    load.add_argument("--skip-existing", action="store_true", help="keep keys already there")
    load.add_argument("--dry-run", action="store_true", help="check the file, write nothing")

    copy = command("copy", "copy entries, expiries kept, between two storages")
    copy.add_argument("source", metavar="SRC_URL")
    copy.add_argument("destination", metavar="DST_URL")
    copy.add_argument("--namespace", action="append", help="only this namespace (repeatable)")
    copy.add_argument("--prefix", help="only keys starting with this")
    copy.add_argument("--skip-existing", action="store_true", help="keep keys already there")
    copy.add_argument("--dry-run", action="store_true", help="read and count, write nothing")
    return parser


def _dump(value: Any, pretty: bool = False) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2 if pretty else None)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    word = text.strip()
    if word and word[0] not in '{["-0123456789' and " " not in word:
        raise UsageError(f"value is not JSON; for the string {word}, quote it: '\"{word}\"'")
    raise UsageError("value is not valid JSON")


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Any]:
    """A callback advancing a progress bar on stderr, when it is a terminal and rich is
    installed; a no-op otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    except ImportError:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description} {task.completed:,}"))
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done: bar.advance(task, done)


def _not_found(args: argparse.Namespace) -> int:
    print(f"{PROG}: {args.namespace!r} has no key {args.key!r}", file=sys.stderr)
    return EXIT_NOT_FOUND


def _missing_file(storage: StorageDriver) -> str | None:
    """The path of an embedded database file that does not exist yet (opening it would
    create it), else None."""
    path = getattr(storage, "path", None)
    if isinstance(path, str) and path not in ("", ":memory:") and not os.path.exists(path):
        return path
    return None


def _check_exists(storage: StorageDriver) -> None:
    """A read never creates a database: a missing SQLite file is an error that names it."""
    path = _missing_file(storage)
    if path is not None:
        raise FileNotFoundError(f"no SQLite database at {path}")


def _dry_run_target(storage: StorageDriver, skip_existing: bool) -> StorageDriver:
    """What a dry run checks against: nothing is written, so the destination is opened
    only to see which keys exist (`--skip-existing`), and a database file that does not
    exist yet is not created (an empty stand-in answers instead: nothing exists there)."""
    if not skip_existing or _missing_file(storage) is not None:
        return open_storage("memory://")
    return storage


def _same_storage(source: StorageDriver, destination: StorageDriver, urls: tuple[str, str]) -> bool:
    if urls[0] == urls[1]:
        return True
    paths = [getattr(storage, "path", None) for storage in (source, destination)]
    return all(isinstance(path, str) and path not in ("", ":memory:") for path in paths) and (
        os.path.realpath(str(paths[0])) == os.path.realpath(str(paths[1]))
    )


async def _get(args: argparse.Namespace, storage: StorageDriver) -> int:
    value = await storage.get(args.namespace, args.key, _MISSING)
    if value is _MISSING:
        return _not_found(args)
    print(_dump(value, args.pretty))
    return EXIT_OK


async def _set(args: argparse.Namespace, storage: StorageDriver) -> int:
    await storage.set(args.namespace, args.key, args.parsed_value, ttl=args.ttl)
    return EXIT_OK


async def _delete(args: argparse.Namespace, storage: StorageDriver) -> int:
    removed = await storage.delete(args.namespace, args.key)
    print("deleted" if removed else "not found (nothing deleted)")
    return EXIT_OK


async def _list(args: argparse.Namespace, storage: StorageDriver) -> int:
    async for key, value in storage.scan(args.namespace, args.prefix):
        print(_dump({"key": key, "value": value}))
    return EXIT_OK


async def _namespaces(args: argparse.Namespace, storage: StorageDriver) -> int:
    for name in await storage.namespaces(args.prefix):
        print(name)
    return EXIT_OK


async def _count(args: argparse.Namespace, storage: StorageDriver) -> int:
    print(await storage.count(args.namespace, args.prefix))
    return EXIT_OK


async def _ttl(args: argparse.Namespace, storage: StorageDriver) -> int:
    left = await storage.ttl(args.namespace, args.key)
    if left is None:
        return _not_found(args)
    print("never" if left == float("inf") else f"{left:.3f}")
    return EXIT_OK


async def _touch(args: argparse.Namespace, storage: StorageDriver) -> int:
    ttl = None if args.never else args.ttl
    if not await storage.touch(args.namespace, args.key, ttl):
        return _not_found(args)
    return EXIT_OK


async def _clear(args: argparse.Namespace, storage: StorageDriver) -> int:
    print(await storage.clear(args.namespace, args.prefix))
    return EXIT_OK


async def _export(args: argparse.Namespace, storage: StorageDriver) -> int:
    from radaros import transfer

    out: TextIO = sys.stdout
    with contextlib.ExitStack() as stack:
        if args.output:
            out = stack.enter_context(open(args.output, "w", encoding="utf-8"))  # noqa: ASYNC230
        progress = stack.enter_context(_progress("exported"))
        written = await transfer.export(
            storage, out, namespaces=args.namespace, prefix=args.prefix, progress=progress
        )
    if args.output:
        print(f"exported {written} entries to {args.output}", file=sys.stderr)
    return EXIT_OK


Command = Callable[[argparse.Namespace, StorageDriver], Awaitable[int]]
ON_OPEN_STORAGE: dict[str, Command] = {
    "get": _get,
    "set": _set,
    "delete": _delete,
    "list": _list,
    "namespaces": _namespaces,
    "count": _count,
    "ttl": _ttl,
    "touch": _touch,
    "clear": _clear,
    "export": _export,
}
"""Commands that run on the storage of `--url`, opened for them."""


async def _execute(args: argparse.Namespace, url: str) -> int:
    if args.command == "copy":
        return await _copy(args)
    storage = open_storage(url)
    if args.command in READS:
        _check_exists(storage)
    if args.command == "import":
        return await _import(args, storage)
    async with storage:
        return await ON_OPEN_STORAGE[args.command](args, storage)


async def _copy(args: argparse.Namespace) -> int:
    """`copy SRC DST`: both opened here (a dry run opens the destination only to read)."""
    from radaros import transfer

    source, destination = open_storage(args.source), open_storage(args.destination)
    if _same_storage(source, destination, (args.source, args.destination)):
        raise UsageError("source and destination are the same storage: nothing to copy")
    _check_exists(source)
    if args.dry_run:
        destination = _dry_run_target(destination, args.skip_existing)
    async with source, destination:
        with _progress("copied") as progress:
            report = await transfer.copy(
                source,
                destination,
                namespaces=args.namespace,
                prefix=args.prefix,
                skip_existing=args.skip_existing,
                dry_run=args.dry_run,
                progress=progress,
            )
    _summary("would copy" if args.dry_run else "copied", report, with_namespaces=True)
    for namespace, (ours, theirs) in report.mismatched.items():
        print(
            f"{PROG}: {namespace!r}: {ours} live keys in source, {theirs} in destination",
            file=sys.stderr,
        )
    return EXIT_MISMATCH if report.mismatched else EXIT_OK


def _summary(verb: str, report: TransferReport, *, with_namespaces: bool = False) -> None:
    """One line on stderr: what a copy or import wrote, and skipped."""
    summary = f"{verb} {report.written} entries"
    if with_namespaces:
        summary += f" in {len(report.namespaces)} namespaces"
    if report.skipped:
        summary += f", {report.skipped} skipped (already there)"
    print(summary, file=sys.stderr)


async def _import(args: argparse.Namespace, storage: StorageDriver) -> int:
    """`import FILE`: the file is opened before the storage, so a missing file creates no
    database; a dry run writes nothing (see `_dry_run_target`)."""
    from radaros import transfer

    with contextlib.ExitStack() as files:
        lines = (
            sys.stdin
            if args.file == "-"
            else files.enter_context(open(args.file, encoding="utf-8"))  # noqa: ASYNC230
        )
        if args.dry_run:
            storage = _dry_run_target(storage, args.skip_existing)
        async with storage:
            with _progress("imported") as progress:
                report = await transfer.import_lines(
                    storage,
                    lines,
                    skip_existing=args.skip_existing,
                    dry_run=args.dry_run,
                    progress=progress,
                )
    _summary("would import" if args.dry_run else "imported", report)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = _parser(_url_masks(arguments)).parse_args(arguments)
    url = getattr(args, "url", None) or os.environ.get(ENV_VAR) or DEFAULT_URL
    secrets = url_secrets(url)
    for other in (getattr(args, "source", None), getattr(args, "destination", None)):
        if other:
            secrets = [*secrets, *url_secrets(other)]
    try:
        if args.command == "set":
            args.parsed_value = _parse_value(sys.stdin.read() if args.value == "-" else args.value)
        return asyncio.run(_execute(args, url))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining
        # about the unflushed stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # one line, never a traceback (SPEC "Command line")
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = scrub(message, secrets)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
