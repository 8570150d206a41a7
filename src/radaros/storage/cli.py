"""`radaros-storage` (also `python -m radaros`): the storage from a shell.

The URL comes from `--url`, else `RADAROS_STORAGE_URL`, else `sqlite:///radaros.db` in the
current folder. Values are read and printed as JSON; `list` prints JSON Lines. Every error
is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from radaros.storage.base import StorageDriver
from radaros.storage.secrets import scrub, url_secrets
from radaros.storage.url import DEFAULT_URL, ENV_VAR, open_storage

__all__ = ["main"]

PROG = "radaros-storage"
EXIT_ERROR = 1
EXIT_NOT_FOUND = 3
_MISSING = object()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read and write radaros storage from the command line.",
        epilog=f"URL: --url, else ${ENV_VAR}, else {DEFAULT_URL}",
    )
    parser.add_argument("--url", help="storage URL (sqlite:///path.db, postgresql://..., ...)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    get = commands.add_parser("get", help="print a value as JSON (exit 3 if absent)")
    get.add_argument("namespace")
    get.add_argument("key")

    put = commands.add_parser("set", help="store a JSON value")
    put.add_argument("namespace")
    put.add_argument("key")
    put.add_argument("value", help='the value as JSON, e.g. \'{"theme": "dark"}\'')
    put.add_argument("--ttl", type=float, help="expire after this many seconds")

    delete = commands.add_parser("delete", help="remove a key")
    delete.add_argument("namespace")
    delete.add_argument("key")

    listing = commands.add_parser("list", help="print entries as JSON Lines, in key order")
    listing.add_argument("namespace")
    listing.add_argument("--prefix")

    names = commands.add_parser("namespaces", help="print the namespaces holding live keys")
    names.add_argument("--prefix")

    count = commands.add_parser("count", help="print the number of live keys")
    count.add_argument("namespace")
    count.add_argument("--prefix")
    return parser


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _execute(storage: StorageDriver, args: argparse.Namespace) -> int:
    async with storage:
        if args.command == "get":
            value = await storage.get(args.namespace, args.key, _MISSING)
            if value is _MISSING:
                print(f"{PROG}: {args.namespace!r} has no key {args.key!r}", file=sys.stderr)
                return EXIT_NOT_FOUND
            print(_dump(value))
        elif args.command == "set":
            await storage.set(args.namespace, args.key, args.parsed_value, ttl=args.ttl)
        elif args.command == "delete":
            await storage.delete(args.namespace, args.key)
        elif args.command == "list":
            for entry in await storage.list(args.namespace, args.prefix):
                print(_dump({"key": entry.key, "value": entry.value}))
        elif args.command == "namespaces":
            for name in await storage.namespaces(args.prefix):
                print(name)
        elif args.command == "count":
            print(await storage.count(args.namespace, args.prefix))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    url = args.url or os.environ.get(ENV_VAR) or DEFAULT_URL
    secrets = url_secrets(url)
    try:
        if args.command == "set":
            try:
                args.parsed_value = json.loads(args.value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"value is not valid JSON: {exc}") from None
        return asyncio.run(_execute(open_storage(url), args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, never a traceback (SPEC "Command line")
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = scrub(message, secrets)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
