"""LangGraph on radaros: `RadarosSaver` (a checkpointer) and `RadarosStore` (a `BaseStore`).

Both take any `KeyValue` (async graphs) or a `SyncStorage` (blocking graphs) and keep plain
JSON entries:

```
namespace          key                                            value
langgraph          <thread>/<checkpoint ns>/<checkpoint id>       {"checkpoint", "metadata",
                                                                   "parent", "run"}
langgraph:writes   <thread>/<checkpoint ns>/<checkpoint id>/      {"task", "path", "idx",
                     <task id>/<index>                             "channel", "value"}
langgraph:store/<label>/.../<label>/   <item key>                 {"value", "created_at",
                                                                   "updated_at", "ttl"}
```
Thread ids, checkpoint namespaces, task ids and namespace labels have `%` and `/`
percent-encoded, so no id can reach into another's keys. Checkpoints, metadata and writes
are LangGraph's own serializer output (msgpack, base64 in the JSON); a serializer with the
pickle fallback is refused, and a stored pickle is never loaded.

Each checkpoint entry holds the whole checkpoint, channel values included: one `set` writes
it, so it is atomic on every driver, a TTL never leaves a checkpoint without its values, and
copying or pruning a thread is moving entries.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from radaros.integrations.bridge import Bridge
from radaros.storage.codec import encode
from radaros.storage.errors import SerializationError
from radaros.storage.protocol import DEFAULT_PAGE_SIZE, TTL, UNREAD, KeyValue
from radaros.storage.validate import (
    MAX_NAMESPACE_BYTES,
    check_namespace,
    check_ttl,
    prefix_upper_bound,
    quote_part,
    unquote_part,
)
from radaros.sync import SyncStorage

__all__ = ["RadarosSaver", "RadarosStore"]

PICKLE = "pickle"


class RadarosSaver(BaseCheckpointSaver[int]):
    """A LangGraph checkpointer on any radaros storage.

    `ttl` (seconds or a timedelta) is given to every entry written: a checkpoint and its
    pending writes expire `ttl` after they were written, so a thread's history thins from
    its oldest end and a thread idle for `ttl` is gone. `namespace` names the storage
    namespaces used (`<namespace>` and `<namespace>:writes`).
    """

    def __init__(
        self,
        storage: KeyValue | SyncStorage,
        *,
        namespace: str = "langgraph",
        ttl: TTL | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        _refuse_pickle(self.serde)
        self._bridge = Bridge(storage)
        self._storage = self._bridge.storage
        self._checkpoints = check_namespace(namespace)
        self._writes = check_namespace(f"{namespace}:writes")
        self._ttl = check_ttl(ttl)

    # -- keys and values ---------------------------------------------------------------------

    def _dump(self, value: Any) -> builtins.list[str]:
        kind, data = self.serde.dumps_typed(value)
        if kind == PICKLE:
            raise SerializationError("RadarosSaver never stores pickles")
        return [kind, base64.b64encode(data).decode("ascii")]

    def _load(self, typed: Sequence[str]) -> Any:
        kind, text = typed
        if kind == PICKLE:
            raise SerializationError("refusing to load a pickled value")
        return self.serde.loads_typed((kind, base64.b64decode(text)))

    def _tuple(
        self, thread: str, ns: str, key: str, entry: Mapping[str, Any], writes: builtins.list[Any]
    ) -> CheckpointTuple:
        checkpoint_id = unquote_part(key.rsplit("/", 1)[1])
        parent = entry["parent"]
        return CheckpointTuple(
            config=_config(thread, ns, checkpoint_id),
            checkpoint=self._load(entry["checkpoint"]),
            metadata=self._load(entry["metadata"]),
            parent_config=None if parent is None else _config(thread, ns, parent),
            pending_writes=self._pending(writes),
        )

    def _pending(self, writes: builtins.list[Any]) -> builtins.list[tuple[str, str, Any]]:
        # In `writes_sort_key` order (task path, task id, index), as LangGraph replays them.
        ordered = sorted(writes, key=lambda w: (w["path"], w["task"], w["idx"]))
        return [(w["task"], w["channel"], self._load(w["value"])) for w in ordered]

    async def _writes_of(self, key: str) -> builtins.list[Any]:
        return [value for _, value in await self._storage.list(self._writes, key + "/")]

    # -- the checkpointer's operations, on the storage's loop -------------------------------

    async def _get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread, ns = _thread_and_ns(config)
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id is not None:
            key = _checkpoint_key(thread, ns, checkpoint_id)
            entry = await self._storage.get(self._checkpoints, key)
            if entry is None:
                return None
        else:
            latest = await self._storage.list(
                self._checkpoints, _ns_prefix(thread, ns), reverse=True, limit=1
            )
            if not latest:
                return None
            key, entry = latest[0]
        return self._tuple(thread, ns, key, entry, await self._writes_of(key))

    async def _iter(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> AsyncIterator[CheckpointTuple]:
        if limit is not None and limit <= 0:
            return
        before_id = None if before is None else get_checkpoint_id(before)
        wanted = None if config is None else get_checkpoint_id(config)
        entries = self._newest_first(config, before_id)
        found = 0
        async for key, entry in entries:
            thread, ns, checkpoint_id = (unquote_part(part) for part in key.split("/"))
            if before_id is not None and checkpoint_id >= before_id:
                continue
            if wanted is not None and checkpoint_id != wanted:
                continue
            if filter:
                metadata = self._load(entry["metadata"])
                if not all(metadata.get(name) == value for name, value in filter.items()):
                    continue
            yield self._tuple(thread, ns, key, entry, await self._writes_of(key))
            found += 1
            if found == limit:
                return

    def _newest_first(
        self, config: RunnableConfig | None, before_id: str | None
    ) -> AsyncIterator[tuple[str, Any]]:
        """Checkpoint entries newest first: of one checkpoint namespace, of a whole thread
        (its namespaces' scans merged by checkpoint id), or of every thread."""
        if config is None:
            return _pairs(self._storage.scan(self._checkpoints, reverse=True))
        thread, ns = _thread_and_ns(config)
        if "checkpoint_ns" in config["configurable"]:
            prefix = _ns_prefix(thread, ns)
            stop = None if before_id is None else prefix + quote_part(before_id)
            return _pairs(self._storage.scan(self._checkpoints, prefix, stop=stop, reverse=True))
        return self._thread_newest_first(thread)

    async def _thread_newest_first(self, thread: str) -> AsyncIterator[tuple[str, Any]]:
        scans = [
            _pairs(self._storage.scan(self._checkpoints, _ns_prefix(thread, ns), reverse=True))
            for ns in await self._namespaces_of(thread)
        ]
        heads: builtins.list[tuple[str, Any] | None] = [await anext(scan, None) for scan in scans]
        while live := [(head, index) for index, head in enumerate(heads) if head is not None]:
            head, newest = max(live, key=lambda pair: _checkpoint_part(pair[0]))
            yield head
            heads[newest] = await anext(scans[newest], None)

    async def _namespaces_of(self, thread: str) -> builtins.list[str]:
        """The thread's checkpoint namespaces, one short read each (skipping the rest)."""
        prefix = quote_part(thread) + "/"
        found: builtins.list[str] = []
        start: str | None = None
        while True:
            first = await self._storage.list(self._checkpoints, prefix, start=start, limit=1)
            if not first:
                return found
            ns = unquote_part(first[0].key[len(prefix) :].split("/", 1)[0])
            found.append(ns)
            start = prefix_upper_bound(_ns_prefix(thread, ns))
            if start is None:
                return found

    async def _put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
    ) -> RunnableConfig:
        thread, ns = _thread_and_ns(config)
        metadata = get_serializable_checkpoint_metadata(config, metadata)
        run_id = metadata.get("run_id")
        entry = {
            "checkpoint": self._dump(checkpoint),
            "metadata": self._dump(metadata),
            "parent": get_checkpoint_id(config),
            "run": run_id if isinstance(run_id, str) else None,
        }
        key = _checkpoint_key(thread, ns, checkpoint["id"])
        await self._storage.set(self._checkpoints, key, entry, ttl=self._ttl)
        return _config(thread, ns, checkpoint["id"])

    async def _put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        thread, ns = _thread_and_ns(config)
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id is None:
            raise ValueError("put_writes needs a config with a checkpoint_id")
        base = f"{_checkpoint_key(thread, ns, checkpoint_id)}/{quote_part(task_id)}/"
        items = []
        for index, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, index)
            write = {
                "task": task_id,
                "path": task_path,
                "idx": idx,
                "channel": channel,
                "value": self._dump(value),
            }
            items.append((f"{base}{idx}", write))
        if all(channel in WRITES_IDX_MAP for channel, _ in writes):
            # Errors, interrupts, resumes: the latest replaces the earlier one.
            await self._storage.set_many(self._writes, items, ttl=self._ttl)
        else:
            # A task's writes are final: a retry that writes them again changes nothing.
            await asyncio.gather(
                *(self._storage.add(self._writes, k, w, ttl=self._ttl) for k, w in items)
            )

    async def _delete_thread(self, thread_id: str) -> None:
        prefix = quote_part(str(thread_id)) + "/"
        await self._storage.clear(self._checkpoints, prefix)
        await self._storage.clear(self._writes, prefix)

    async def _delete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = set(run_ids)
        if not runs:
            return
        doomed = [
            key
            async for key, entry in self._storage.scan(self._checkpoints)
            if entry["run"] in runs
        ]
        await self._storage.delete_many(self._checkpoints, doomed)
        for key in doomed:
            await self._storage.clear(self._writes, key + "/")

    async def _copy_thread(self, source: str, target: str) -> None:
        source_prefix, target_prefix = quote_part(source) + "/", quote_part(target) + "/"
        # Writes before checkpoints: a copied checkpoint is never seen without its writes.
        for namespace in (self._writes, self._checkpoints):
            batch: builtins.list[tuple[str, Any]] = []
            async for key, value in self._storage.scan(namespace, source_prefix):
                batch.append((target_prefix + key[len(source_prefix) :], value))
                if len(batch) == 500:
                    await self._storage.set_many(namespace, batch, ttl=self._ttl)
                    batch = []
            if batch:
                await self._storage.set_many(namespace, batch, ttl=self._ttl)

    async def _prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"strategy must be 'keep_latest' or 'delete', not {strategy!r}")
        for thread in thread_ids:
            if strategy == "delete":
                await self._delete_thread(thread)
                continue
            for ns in await self._namespaces_of(thread):
                prefix = _ns_prefix(thread, ns)
                latest = await self._storage.list(self._checkpoints, prefix, reverse=True, limit=1)
                if not latest:
                    continue
                keep = latest[0].key
                older = [
                    k async for k, _ in self._storage.scan(self._checkpoints, prefix, stop=keep)
                ]
                await self._storage.delete_many(self._checkpoints, older)
                stale = [
                    k
                    async for k, _ in self._storage.scan(self._writes, prefix)
                    if not k.startswith(keep + "/")
                ]
                await self._storage.delete_many(self._writes, stale)

    # -- BaseCheckpointSaver: async ----------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._bridge.call(self._get_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        if self._bridge.sync is None:
            async for found in self._iter(config, filter, before, limit):
                yield found
        else:
            for found in await self._bridge.call(
                _collect(self._iter(config, filter, before, limit))
            ):
                yield found

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._bridge.call(self._put(config, checkpoint, metadata))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._bridge.call(self._put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._bridge.call(self._delete_thread(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._bridge.call(self._delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._bridge.call(self._copy_thread(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._bridge.call(self._prune(thread_ids, strategy))

    # -- BaseCheckpointSaver: blocking -------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._bridge.run(self._get_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        yield from self._bridge.run(_collect(self._iter(config, filter, before, limit)))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._bridge.run(self._put(config, checkpoint, metadata))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._bridge.run(self._put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._bridge.run(self._delete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._bridge.run(self._delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._bridge.run(self._copy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._bridge.run(self._prune(thread_ids, strategy))


def _refuse_pickle(serde: SerializerProtocol) -> None:
    inner = getattr(serde, "serde", serde)  # an EncryptedSerializer wraps another
    if getattr(serde, "pickle_fallback", False) or getattr(inner, "pickle_fallback", False):
        raise ValueError("RadarosSaver never pickles: use a serializer without pickle_fallback")


def _thread_and_ns(config: RunnableConfig) -> tuple[str, str]:
    configurable = config.get("configurable") or {}
    thread = configurable.get("thread_id")
    if thread is None:
        raise ValueError('a checkpointer config needs configurable["thread_id"]')
    return str(thread), str(configurable.get("checkpoint_ns", ""))


def _config(thread: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}
    }


def _ns_prefix(thread: str, ns: str) -> str:
    return f"{quote_part(thread)}/{quote_part(ns)}/"


def _checkpoint_key(thread: str, ns: str, checkpoint_id: str) -> str:
    return _ns_prefix(thread, ns) + quote_part(str(checkpoint_id))


def _checkpoint_part(pair: tuple[str, Any]) -> str:
    return pair[0].rsplit("/", 1)[1]


async def _pairs(entries: AsyncIterator[Any]) -> AsyncIterator[tuple[str, Any]]:
    async for key, value in entries:
        yield key, value


async def _collect(items: AsyncIterator[Any]) -> builtins.list[Any]:
    return [item async for item in items]


# -- the store -------------------------------------------------------------------------------

STORE_NAMESPACE = "langgraph:store"
NEVER = timedelta.max
"""A ttl whose expiry falls after 9999-12-31: the storage's "never expires"."""
SEEN_ITEMS = 10_000
"""Items a store remembers having seen, so their next put updates at once."""
KNOWN_BYTES = 4 * 1024 * 1024
"""JSON bytes of the entries a store last wrote that it keeps, so that their next put is
one conditional write (no read first)."""
ORDERING = {"$gt", "$gte", "$lt", "$lte"}
OPERATORS = ORDERING | {"$eq", "$ne"}


class RadarosStore(BaseStore):
    """LangGraph's long-term memory store on any radaros storage.

    Each LangGraph namespace is a storage namespace (`langgraph:store/<label>/.../`), so
    `list_namespaces` is the storage's own namespace listing and a search reads only the
    namespaces under its prefix. Search results come in (namespace, key) order, which pages
    stably with `limit`/`offset` while items change. `ttl` is LangGraph's `TTLConfig`
    (minutes); with `refresh_on_read` (the default) a get or search restarts an item's TTL.
    There is no vector index: a search with a `query` is refused.
    """

    supports_ttl = True

    def __init__(
        self,
        storage: KeyValue | SyncStorage,
        *,
        namespace: str = STORE_NAMESPACE,
        ttl: TTLConfig | None = None,
    ) -> None:
        self._bridge = Bridge(storage)
        self._storage = self._bridge.storage
        self._base = check_namespace(namespace) + "/"
        self.ttl_config = ttl
        # Items seen to exist, newest last, with the entry this store last wrote for each
        # (and its JSON size) while it fits in KNOWN_BYTES, else None.
        self._seen: OrderedDict[tuple[str, str], tuple[dict[str, Any], int] | None] = OrderedDict()
        self._known_bytes = 0

    def batch(self, ops: Iterable[Op]) -> builtins.list[Result]:
        return self._bridge.run(self._batch(builtins.list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> builtins.list[Result]:
        return await self._bridge.call(self._batch(builtins.list(ops)))

    async def _batch(self, ops: builtins.list[Op]) -> builtins.list[Result]:
        # Everything is checked before anything is read or written.
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, (GetOp, PutOp)):
                self._storage_namespace(op.namespace)
            elif isinstance(op, SearchOp):
                _check_labels(op.namespace_prefix)
                if op.query:
                    raise ValueError(
                        "RadarosStore has no vector index: search with a filter, not a query"
                    )
                _check_filter(op.filter)
            elif isinstance(op, ListNamespacesOp):
                for condition in op.match_conditions or ():
                    _check_labels(condition.path)
            else:
                raise TypeError(f"unknown store operation {type(op).__name__}")
            if isinstance(op, PutOp):
                if op.value is not None and not isinstance(op.value, Mapping):
                    raise ValueError(f"a store value must be a dict, not {type(op.value).__name__}")
                puts[(op.namespace, op.key)] = op  # the last put of an item wins
        # Reads see the store as it was before this batch's puts (as LangGraph's own stores),
        # concurrently when there are several.
        results: builtins.list[Result] = [None] * len(ops)
        reads = [i for i, op in enumerate(ops) if not isinstance(op, PutOp)]
        if len(reads) == 1:
            results[reads[0]] = await self._read(ops[reads[0]])
        elif reads:
            found = await asyncio.gather(*(self._read(ops[i]) for i in reads))
            for i, result in zip(reads, found, strict=True):
                results[i] = result
        for op in puts.values():
            await self._write(op)
        return results

    async def _read(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            return await self._get(op)
        if isinstance(op, SearchOp):
            return await self._search(op)
        if isinstance(op, ListNamespacesOp):
            return await self._list_namespaces(op)
        return None

    def _storage_namespace(self, namespace: tuple[str, ...]) -> str:
        _check_labels(namespace)
        if not namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        name = self._base + "".join(quote_part(label) + "/" for label in namespace)
        if len(name.encode()) > MAX_NAMESPACE_BYTES:
            raise InvalidNamespaceError(
                f"namespace {namespace} is longer than this store's {MAX_NAMESPACE_BYTES} bytes"
            )
        return name

    def _labels(self, storage_namespace: str) -> tuple[str, ...]:
        inner = storage_namespace[len(self._base) : -1]
        return tuple(unquote_part(label) for label in inner.split("/"))

    def _refresh(self, refresh_ttl: bool | None) -> bool:
        if refresh_ttl is not None:
            return refresh_ttl
        return (self.ttl_config or {}).get("refresh_on_read", True)

    async def _get(self, op: GetOp) -> Item | None:
        name = self._storage_namespace(op.namespace)
        entry = await self._storage.get(name, op.key)
        if entry is None:
            return None
        self._remember((name, op.key), entry)
        if entry["ttl"] is not None and self._refresh(op.refresh_ttl):
            await self._storage.touch(name, op.key, entry["ttl"] * 60)
        found: Item = _item(Item, op.namespace, op.key, entry)
        return found

    async def _search(self, op: SearchOp) -> builtins.list[SearchItem]:
        prefix = self._base + "".join(quote_part(label) + "/" for label in op.namespace_prefix)
        skip, found = op.offset, builtins.list[SearchItem]()
        refresh = self._refresh(op.refresh_ttl)

        async def take(name: str) -> None:
            nonlocal skip
            labels = self._labels(name)
            # Pages sized to the answer: without a filter exactly what is wanted; with one, a
            # few times that (a filter that matches often stops in the first page).
            wanted = skip + op.limit - len(found)
            page = min(DEFAULT_PAGE_SIZE, wanted * (16 if op.filter else 1))
            async for key, entry in self._storage.scan(name, page_size=max(page, 1)):
                if op.filter and not _matches(entry["value"], op.filter):
                    continue
                if skip:
                    skip -= 1
                    continue
                found.append(_item(SearchItem, labels, key, entry))
                self._remember((name, key), entry)
                if refresh and entry["ttl"] is not None:
                    await self._storage.touch(name, key, entry["ttl"] * 60)
                if len(found) >= op.limit:
                    return

        # The namespace itself sorts before the ones under it: when it holds the whole
        # answer, the others are never listed.
        exact = op.namespace_prefix and len(prefix.encode()) <= MAX_NAMESPACE_BYTES
        if exact:
            await take(prefix)
            if len(found) >= op.limit:
                return found
        for name in sorted(await self._storage.namespaces(prefix), key=self._labels):
            if len(found) >= op.limit:
                break
            if not (exact and name == prefix):
                await take(name)
        return found

    async def _list_namespaces(self, op: ListNamespacesOp) -> builtins.list[tuple[str, ...]]:
        conditions = op.match_conditions or ()
        literal: builtins.list[str] = []
        for condition in conditions:
            if condition.match_type == "prefix":
                for label in condition.path:
                    if label == "*":
                        break
                    literal.append(label)
                break
        prefix = self._base + "".join(quote_part(label) + "/" for label in literal)
        names = [self._labels(name) for name in await self._storage.namespaces(prefix)]
        names = [ns for ns in names if all(_namespace_matches(c, ns) for c in conditions)]
        if op.max_depth is not None:
            names = [ns[: op.max_depth] for ns in names]
        names = sorted(set(names))  # tuple order (the encoded names sort differently)
        return names[op.offset : op.offset + op.limit]

    async def _write(self, op: PutOp) -> None:
        name = self._storage_namespace(op.namespace)
        if op.value is None:
            self._forget((name, op.key))
            await self._storage.delete(name, op.key)
            return
        now = datetime.now(timezone.utc).isoformat()
        ttl_minutes = op.ttl
        if ttl_minutes is not None and (
            isinstance(ttl_minutes, bool) or not isinstance(ttl_minutes, (int, float))
        ):
            raise ValueError(f"ttl must be minutes (a number), not {ttl_minutes!r}")
        value = dict(op.value)
        # No ttl: the item never expires, whatever expiry it had (`update` without a ttl
        # would keep it; a ttl past 9999-12-31 means "never").
        ttl = NEVER if ttl_minutes is None else timedelta(minutes=ttl_minutes)
        item = (name, op.key)
        # Most puts create: believing the item absent makes them one insert-if-absent.
        # An item this store wrote last is believed to hold that entry: one conditional
        # write. A wrong belief costs the read it skipped, never a lost write.
        if item not in self._seen:
            believed: Any = None
        else:
            known = self._seen[item]
            believed = UNREAD if known is None else known[0]

        def replace(current: Any) -> Any:
            created = now if current is None else current["created_at"]
            return {"value": value, "created_at": created, "updated_at": now, "ttl": ttl_minutes}

        written = await self._storage.update(name, op.key, replace, ttl=ttl, current=believed)
        size = len(encode(written))
        self._remember(item, written=(written, size) if size <= KNOWN_BYTES // 64 else None)

    def _remember(
        self,
        item: tuple[str, str],
        read: Mapping[str, Any] | None = None,
        written: tuple[dict[str, Any], int] | None = None,
    ) -> None:
        """Note an item seen to exist, within SEEN_ITEMS and KNOWN_BYTES: `read` is its
        entry as just read (a different entry this store wrote is stale then), `written`
        an entry this store just wrote, with its JSON size."""
        known = self._seen.get(item)
        if written is not None:
            known = written
        elif known is not None and (read is None or read != known[0]):
            known = None
        self._forget(item)
        self._seen[item] = known
        if known is not None:
            self._known_bytes += known[1]
        while len(self._seen) > SEEN_ITEMS or self._known_bytes > KNOWN_BYTES:
            self._forget(next(iter(self._seen)))

    def _forget(self, item: tuple[str, str]) -> None:
        known = self._seen.pop(item, None)
        if known is not None:
            self._known_bytes -= known[1]


def _item(kind: type[Any], namespace: tuple[str, ...], key: str, entry: Mapping[str, Any]) -> Any:
    return kind(
        namespace=tuple(namespace),
        key=key,
        value=entry["value"],
        created_at=datetime.fromisoformat(entry["created_at"]),
        updated_at=datetime.fromisoformat(entry["updated_at"]),
    )


def _check_labels(namespace: tuple[str, ...]) -> None:
    if not isinstance(namespace, tuple):
        raise InvalidNamespaceError(f"a namespace is a tuple of strings, not {namespace!r}")
    for label in namespace:
        if not isinstance(label, str) or not label:
            raise InvalidNamespaceError(f"namespace labels must be non-empty strings: {namespace}")
        if "." in label or "\x00" in label:
            raise InvalidNamespaceError(
                f"namespace labels cannot contain periods or NUL: {namespace}"
            )
    if namespace and namespace[0] == "langgraph":
        raise InvalidNamespaceError(f'Root label for namespace cannot be "langgraph": {namespace}')


def _check_filter(filter: dict[str, Any] | None) -> None:
    """Refuse what no item could be meant to match: bad paths and unknown operators."""
    if filter is None:
        return
    if not isinstance(filter, dict):
        raise ValueError(f"a filter is a dict, not {type(filter).__name__}")
    for path, wanted in filter.items():
        if not isinstance(path, str) or not path or path.startswith("$"):
            raise ValueError(f"invalid filter key {path!r}")
        if any(not part for part in path.split(".")):
            raise ValueError(f"invalid filter key {path!r}: empty path segment")
        _check_condition(path, wanted)


def _check_condition(path: str, wanted: Any) -> None:
    if isinstance(wanted, dict) and any(isinstance(k, str) and k.startswith("$") for k in wanted):
        for operator, operand in wanted.items():
            if operator not in OPERATORS:
                raise ValueError(f"unsupported filter operator {operator!r} for {path!r}")
            if operator in ORDERING and not _orderable(operand):
                raise ValueError(
                    f"filter operator {operator} needs a number or a string, not {operand!r}"
                )
    elif isinstance(wanted, dict):
        for name, inner in wanted.items():
            if not isinstance(name, str):
                raise ValueError(f"invalid filter key {name!r} under {path!r}")
            _check_condition(f"{path}.{name}", inner)


def _orderable(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    )


_MISSING = object()


def _matches(value: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    for path, wanted in filter.items():
        current: Any = value
        for part in path.split("."):
            current = current.get(part, _MISSING) if isinstance(current, dict) else _MISSING
        if not _satisfies(current, wanted):
            return False
    return True


def _satisfies(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in wanted):
            return all(_compare(actual, op, operand) for op, operand in wanted.items())
        return isinstance(actual, dict) and all(
            _satisfies(actual.get(name, _MISSING), inner) for name, inner in wanted.items()
        )
    return actual is not _MISSING and _same(actual, wanted)


def _same(actual: Any, wanted: Any) -> bool:
    # JSON equality: true is not 1, as in PostgreSQL's jsonb.
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return type(actual) is type(wanted) and actual == wanted
    if isinstance(wanted, (list, tuple)):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(_same(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    return bool(actual == wanted)


def _compare(actual: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return actual is not _MISSING and _same(actual, operand)
    if operator == "$ne":
        return actual is _MISSING or not _same(actual, operand)
    # Ordering compares numbers with numbers and strings with strings; anything else
    # (a missing field, a bool, another type) does not match.
    if not _orderable(actual) or isinstance(actual, str) != isinstance(operand, str):
        return False
    if operator == "$gt":
        return bool(actual > operand)
    if operator == "$gte":
        return bool(actual >= operand)
    if operator == "$lt":
        return bool(actual < operand)
    return bool(actual <= operand)


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    if condition.match_type not in ("prefix", "suffix"):
        raise ValueError(f"unsupported match type {condition.match_type!r}")
    return all(p in ("*", n) for p, n in zip(path, part, strict=True)) if path else True
