"""Moving data: export to JSON Lines, import from it, copy between any two storages.

One line per entry: `{"namespace": ..., "key": ..., "value": ..., "ttl": seconds or null}`
(`ttl` is what was left when the entry was read; null = never expires). Everything goes
page by page (`scan(with_ttl=True)` in, `set_many` out), so memory stays bounded by the
page size whatever the size of the store.

Re-running an interrupted `copy` or `import` is safe: writes are `set`s of the same values
(an entry copied twice is stored once), and what the first run did not reach is copied by
the second. Expiries are kept as the time left when the entry was read, so an entry may
outlive its source by the moments between reading and writing its page; entries are written
in batches of similar time left, so one may expire up to `TTL_TOLERANCE_S` (1 s) earlier.

An import applies lines in order, as a replay would: when a key appears on several lines,
the last one wins, and the report counts it once per batch of `batch_size` lines (a key
repeated further apart than that is counted again, since only one batch is held in memory).
A line that cannot be imported stops the import with an error naming the line; every line
before it has been written, and the error says how many entries that was.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from radaros.storage.codec import encode
from radaros.storage.errors import InvalidKeyError, SerializationError
from radaros.storage.validate import check_key, check_namespace, check_prefix, check_ttl

if TYPE_CHECKING:
    from radaros.storage.protocol import KeyValue

__all__ = ["TransferReport", "copy", "export", "import_lines", "records"]

PAGE_SIZE = 1000
TTL_TOLERANCE_S = 1.0
"""Entries whose time left differs by at most this go in one `set_many` with the shortest:
an entry may expire up to this much earlier on the destination."""
Progress = Callable[[int], None]
"""Called with the number of entries just handled (for a progress bar)."""


@dataclass
class TransferReport:
    """What a transfer did: entries written (or that would be, with `dry_run`), entries
    skipped because the key existed, and per namespace the live counts compared at the end
    (`(source, destination)`; only for `copy`)."""

    written: int = 0
    skipped: int = 0
    namespaces: list[str] = field(default_factory=list)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def mismatched(self) -> dict[str, tuple[int, int]]:
        return {ns: pair for ns, pair in self.counts.items() if pair[0] != pair[1]}


def _check_size(name: str, size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{name} must be a positive int, not {size!r}")
    return size


async def _chosen(storage: KeyValue, namespaces: Sequence[str] | None) -> list[str]:
    if namespaces is None:
        return await storage.namespaces()
    return sorted({check_namespace(name) for name in namespaces})


async def records(
    storage: KeyValue,
    *,
    namespaces: Sequence[str] | None = None,
    prefix: str | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[dict[str, Any]]:
    """Every live entry as an export record, namespace by namespace, in key order."""
    prefix = check_prefix(prefix)
    _check_size("page_size", page_size)
    for namespace in await _chosen(storage, namespaces):
        async for key, value, ttl in storage.scan(
            namespace, prefix, page_size=page_size, with_ttl=True
        ):
            yield {
                "namespace": namespace,
                "key": key,
                "value": value,
                "ttl": None if ttl == float("inf") else ttl,
            }


async def export(
    storage: KeyValue,
    out: TextIO,
    *,
    namespaces: Sequence[str] | None = None,
    prefix: str | None = None,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> int:
    """Write every live entry (of `namespaces`, keys starting with `prefix`) to `out` as
    JSON Lines; return how many."""
    written = 0
    async for record in records(storage, namespaces=namespaces, prefix=prefix, page_size=page_size):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        written += 1
        if progress is not None:
            progress(1)
    return written


def parse_record(line: str, number: int) -> dict[str, Any]:
    """One JSON Lines record, checked like the storage would check it; SerializationError
    (or InvalidKeyError for a bad namespace or key) naming the line otherwise."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SerializationError(f"line {number}: not JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not {"namespace", "key", "value"} <= record.keys():
        raise SerializationError(f"line {number}: needs namespace, key and value")
    try:
        check_namespace(record["namespace"])
        check_key(record["key"])
    except InvalidKeyError as exc:
        raise InvalidKeyError(f"line {number}: {exc}") from None
    ttl = record.get("ttl")
    try:
        if ttl is not None and (isinstance(ttl, bool) or check_ttl(ttl) == math.inf):
            raise ValueError
    except ValueError:
        raise SerializationError(f"line {number}: ttl must be finite seconds > 0 or null") from None
    try:
        encode(record["value"])  # strict JSON, checked before anything is written
    except SerializationError as exc:
        raise SerializationError(f"line {number}: {exc}") from None
    return record


async def _write(
    storage: KeyValue,
    batch: list[dict[str, Any]],
    skip_existing: bool,
    report: TransferReport,
    dry_run: bool,
    progress: Progress | None,
) -> None:
    """Write one batch: entries without expiry (and those sharing one) in one `set_many`
    per namespace; with `skip_existing`, one `add` each (atomic: an existing key wins).

    A key on several lines of the batch is written once, with its last line. A dry run
    reads which keys exist (with `skip_existing`) and writes nothing.
    """
    batch = list({(record["namespace"], record["key"]): record for record in batch}.values())
    if dry_run and skip_existing:
        for namespace, keys in _keys_by_namespace(batch).items():
            found = await storage.get_many(namespace, keys, _ABSENT)
            existing = sum(value is not _ABSENT for value in found)
            report.skipped += existing
            report.written += len(keys) - existing
    elif dry_run:
        report.written += len(batch)
    elif skip_existing:
        for record in batch:
            stored = await storage.add(
                record["namespace"], record["key"], record["value"], ttl=record["ttl"]
            )
            report.written += stored
            report.skipped += not stored
    else:
        for (namespace, ttl), items in _by_expiry(batch):
            await storage.set_many(namespace, items, ttl=ttl)
            report.written += len(items)
    if progress is not None:
        progress(len(batch))


_ABSENT: Any = object()


def _keys_by_namespace(batch: list[dict[str, Any]]) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for record in batch:
        keys.setdefault(record["namespace"], []).append(record["key"])
    return keys


def _by_expiry(batch: list[dict[str, Any]]) -> list[tuple[tuple[str, float | None], Any]]:
    """`set_many` calls for a batch: per namespace, the entries that never expire together,
    and those that do in runs whose time left differs by at most TTL_TOLERANCE_S, written
    with the run's shortest."""
    groups: list[tuple[tuple[str, float | None], Any]] = []
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for record in batch:
        by_namespace.setdefault(record["namespace"], []).append(record)
    for namespace, records in by_namespace.items():
        forever = {r["key"]: r["value"] for r in records if r["ttl"] is None}
        if forever:
            groups.append(((namespace, None), forever))
        timed = sorted((r for r in records if r["ttl"] is not None), key=lambda r: r["ttl"])
        run: dict[str, Any] = {}
        shortest = 0.0
        for record in timed:
            if run and record["ttl"] - shortest > TTL_TOLERANCE_S:
                groups.append(((namespace, shortest), run))
                run = {}
            if not run:
                shortest = record["ttl"]
            run[record["key"]] = record["value"]
        if run:
            groups.append(((namespace, shortest), run))
    return groups


async def import_lines(
    storage: KeyValue,
    lines: Iterable[str],
    *,
    skip_existing: bool = False,
    batch_size: int = PAGE_SIZE,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> TransferReport:
    """Store every record of `lines` (JSON Lines as `export` writes them), in batches.

    Lines apply in order: the last line for a key wins. A line that cannot be read or
    imported raises SerializationError (InvalidKeyError for a bad namespace or key) naming
    it, after every line before it was written; the message says how many entries that
    was, and re-running after fixing the file is safe. With `skip_existing`, keys already
    present are left as they are.
    """
    _check_size("batch_size", batch_size)
    report = TransferReport()
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()
    numbered = enumerate(lines, 1)
    number = 0
    while True:
        try:
            number, line = next(numbered)
            if not line.strip():
                continue
            record = parse_record(line, number)
        except StopIteration:
            break
        except (SerializationError, InvalidKeyError, UnicodeError) as exc:
            if batch:
                await _write(storage, batch, skip_existing, report, dry_run, progress)
            raise _stopped_at(exc, number + isinstance(exc, UnicodeError), report) from None
        batch.append(record)
        seen.add(record["namespace"])
        if len(batch) >= batch_size:
            await _write(storage, batch, skip_existing, report, dry_run, progress)
            batch = []
    if batch:
        await _write(storage, batch, skip_existing, report, dry_run, progress)
    report.namespaces = sorted(seen)
    return report


def _stopped_at(exc: Exception, number: int, report: TransferReport) -> Exception:
    """The error that ends an import at line `number`, saying what was written before."""
    if isinstance(exc, UnicodeError):
        problem: str = f"line {number}: not UTF-8 text (a binary file?)"
        error_class: type[Exception] = SerializationError
    else:
        problem, error_class = str(exc), type(exc)
    done = f"{report.written} entries before it were written"
    if report.skipped:
        done += f", {report.skipped} skipped"
    return error_class(f"{problem}; {done}")


async def copy(
    source: KeyValue,
    destination: KeyValue,
    *,
    namespaces: Sequence[str] | None = None,
    prefix: str | None = None,
    page_size: int = PAGE_SIZE,
    skip_existing: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> TransferReport:
    """Copy every live entry, expiries kept, page by page; then compare live counts per
    namespace (`report.mismatched` lists the differences: an entry that expired, or was
    written, on either side during the copy makes one; run the copy again).

    The next page is read while the previous one is written (one write in flight, so at
    most two pages are held): the copy takes about as long as the slower side, not both.
    """
    report = TransferReport()
    prefix = check_prefix(prefix)
    _check_size("page_size", page_size)
    chosen = await _chosen(source, namespaces)
    report.namespaces = chosen
    writing: asyncio.Task[None] | None = None
    try:
        for namespace in chosen:
            batch: list[dict[str, Any]] = []
            async for record in records(
                source, namespaces=[namespace], prefix=prefix, page_size=page_size
            ):
                batch.append(record)
                if len(batch) >= page_size:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(
                        _write(destination, batch, skip_existing, report, dry_run, progress)
                    )
                    batch = []
            if writing is not None:
                await writing
                writing = None
            if batch:
                await _write(destination, batch, skip_existing, report, dry_run, progress)
            if not dry_run:
                report.counts[namespace] = (
                    await source.count(namespace, prefix),
                    await destination.count(namespace, prefix),
                )
    finally:
        if writing is not None:
            if not writing.done():  # reading failed or was cancelled: stop the write too
                writing.cancel()
                await asyncio.wait([writing])
            elif not writing.cancelled():
                writing.exception()  # seen: the error already on its way wins
    return report
