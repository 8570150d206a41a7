"""`MongoDBStorage`: the document-store driver, on PyMongo's native async client.

Document layout (one collection per store; readable in any MongoDB tool):

```
{ "_id": "<namespace>\\0<key>",                   -- the entry's identity (see below)
  "ns": "<namespace>", "k": "<key>",
  "v": <the value as a BSON document/array/scalar>   -- when that round-trips exactly
  "j": "<the value as JSON text>"                    -- otherwise (one of v or j is set)
  "e": ISODate,                                       -- expiry; 9999-12-31 for "never"
  "r": 3 }                                            -- revision, +1 on every write
```
* `_id` is the namespace, a NUL and the key. Neither may hold a NUL, so no two entries
  share an `_id`, and every point operation (`get`, `set`, `add`, `delete`, the
  compare-and-swaps) is one lookup of the primary index, MongoDB's fastest path, which also
  makes `add` exactly-once. The namespace and key stay fields of their own for ranges.
* Indexes: `(ns, k, e)` for pages, counts and namespaces (the live filter `e > now` is
  answered inside the index and the order by `k` comes from it), and a TTL index on `e`
  (`expireAfterSeconds: 0`) over the entries that expire, which reclaims them in the
  background. Reads never trust the TTL monitor (it runs about once a minute): a point
  read compares `e` with now, every query filters `e > now`.
* `v` holds values whose object keys are plain (no leading `$`, no `.`, not empty, no NUL),
  whose integers fit in 32 bits (PyMongo reads int64 back as `bson.Int64`), that nest at
  most 50 deep and whose JSON text is at most 1 MiB; anything else goes to `j` as JSON
  text, so round trips stay exact (and large values avoid BSON's array overhead).
* Never-expiring entries carry the far-future date instead of no field: one range filter
  (`e > now`) stays index-friendly, where `$or` with `$exists` would not.
* `now` is the server's clock: `hello.localTime` is read at `initialize()` (and every few
  minutes, by one caller at a time while the others use the previous sample), and the
  offset to the local clock applied, so instances with skewed clocks agree.
* An expiry on or after 9999-12-31 is stored as that date: "never" (`ttl()` is `math.inf`).
* `update`/`append` compare-and-swap on `_id` and the revision `r`, never on BSON equality
  (which treats 1 and 1.0 as equal).
* radaros 0.2 gave documents an ObjectId `_id` and a unique `(ns, k)` index: `initialize()`
  rewrites such documents with their new `_id` (1,000 per round trip, several instances
  may do it at once) and drops the indexes this layout does not use.
* Relies on MongoDB 5.0+ (field names with `.`/`$` inside `v` are never written anyway;
  `$in`, TTL indexes and upserts are much older). Standalone or replica set: no transactions
  are used, so `set_many` is one ordered bulk write, not all-or-nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from radaros.storage.base import StorageDriver
from radaros.storage.codec import decode, encode
from radaros.storage.errors import (
    ErrorRule,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
    ValueTooLargeError,
)
from radaros.storage.lifecycle import logger
from radaros.storage.primitives import Keep
from radaros.storage.url import take_options
from radaros.storage.validate import check_durations, prefix_upper_bound

if TYPE_CHECKING:
    from types import ModuleType

    from pymongo import AsyncMongoClient
    from pymongo.asynchronous.collection import AsyncCollection

    Client = AsyncMongoClient[dict[str, Any]]

__all__ = ["MongoDBStorage"]

NEVER = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)
NEVER_S = NEVER.timestamp()
CLOCK_REFRESH_S = 300.0
NATIVE_MAX_BYTES = 1024 * 1024
NATIVE_MAX_DEPTH = 50
DUPLICATE_KEY = 11000
UPSERT_ATTEMPTS = 5
"""Tries of an upsert that meets a concurrent insert of the same new key (E11000)."""
INDEX_NOT_FOUND = 27
CONVERT_BATCH = 1000
"""Documents of radaros 0.2's layout rewritten per round trip by `initialize()`."""
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _import_pymongo() -> ModuleType:
    try:
        import pymongo
    except ImportError:
        raise ImportError("MongoDBStorage needs pymongo: pip install 'radaros[mongodb]'") from None
    return pymongo


def _document_id(namespace: str, key: str) -> str:
    """An entry's `_id`: injective, since neither namespace nor key holds a NUL."""
    return f"{namespace}\x00{key}"


def _expiry(now: dt.datetime, ttl: float | None) -> dt.datetime:
    """now + ttl, or NEVER for None, `math.inf`, or anything on or after it (no overflow)."""
    if ttl is None or now.timestamp() + ttl >= NEVER_S:
        return NEVER
    return now + dt.timedelta(seconds=ttl)


def _remaining(expires_at: dt.datetime, now: dt.datetime) -> float:
    return math.inf if expires_at >= NEVER else (expires_at - now).total_seconds()


_SELECTION_NOISE = re.compile(r"( \(configured timeouts[^)]*\))?(, Timeout: .*)?$", re.DOTALL)


def _selection_detail(exc: Exception) -> str:
    """PyMongo's server-selection error without its topology dump: host and cause only."""
    return _SELECTION_NOISE.sub("", str(exc).strip().splitlines()[0] if str(exc) else "")


class _Stored(NamedTuple):
    """A value as kept in a document: (`v` native or None, `j` JSON text or None), and the
    document and revision it was read from (None when about to be written)."""

    native: Any
    text: str | None
    revision: int | None = None
    document_id: Any = None


def _is_native_safe(value: Any, depth: int = 0) -> bool:
    if isinstance(value, dict):
        if depth >= NATIVE_MAX_DEPTH:
            return False
        return all(
            key
            and key[0] != "$"
            and "." not in key
            and "\x00" not in key
            and _is_native_safe(item, depth + 1)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return depth < NATIVE_MAX_DEPTH and all(_is_native_safe(item, depth + 1) for item in value)
    if type(value) is int:  # PyMongo reads int64 back as bson.Int64, not int
        return INT32_MIN <= value <= INT32_MAX
    return True


class MongoDBStorage(StorageDriver):
    """MongoDB through `pymongo.AsyncMongoClient`: its own (from a URL) or a borrowed one.

    The database comes from the URL's path, else `database=`, else "radaros". Options:
    `collection`, `server_selection_timeout_s` (how long an unreachable server is waited
    for), `timeout_s` (bound on every socket read, so a half-open server cannot hang a call).
    """

    requires_initialize = True
    db_system = "mongodb"
    # BSON documents are at most 16 MiB; keep room for ns, k and the other fields.
    max_value_bytes = 16 * 1024 * 1024 - 4096

    binds_event_loop = True
    # Compare-and-swap is on the revision a read returns: `update` always reads first.
    swaps_on_value = False

    def __init__(
        self,
        url_or_client: str | Client,
        *,
        database: str | None = None,
        collection: str = "radaros_kv",
        server_selection_timeout_s: float = 10.0,
        timeout_s: float = 30.0,
    ) -> None:
        super().__init__()
        self._pymongo = _import_pymongo()
        if (
            not isinstance(collection, str)
            or not collection
            or "$" in collection
            or "\x00" in collection
            or collection.startswith("system.")
        ):
            raise ValueError(f"collection name {collection!r} is not a valid MongoDB collection")
        if database is not None and (not database or any(c in database for c in '/\\. "$\x00')):
            raise ValueError(f"database name {database!r} is not a valid MongoDB database")
        check_durations(server_selection_timeout_s=server_selection_timeout_s, timeout_s=timeout_s)
        self._collection_name = collection
        self._database_name = database
        self._options = {
            "serverSelectionTimeoutMS": int(server_selection_timeout_s * 1000),
            "connectTimeoutMS": int(server_selection_timeout_s * 1000),
            # socketTimeoutMS, not timeoutMS: with timeoutMS set, PyMongo 4.x waited the whole
            # timeoutMS for an unreachable server instead of serverSelectionTimeoutMS.
            "socketTimeoutMS": int(timeout_s * 1000),
            "tz_aware": True,
        }
        self._client: Client | None = self._adopt(url_or_client)
        self._collection: AsyncCollection[dict[str, Any]] | None = None
        self._clock_offset_s = 0.0
        self._clock_read_at = float("-inf")
        self._is_reading_clock = False

    @classmethod
    def _split_url(cls, url: str) -> tuple[tuple[Any, ...], dict[str, str]]:
        """radaros's options leave the URL; every other one is PyMongo's, checked by PyMongo."""
        rest, ours = take_options(cls, url, "MongoDB", None)
        return (rest,), ours

    def _db_namespace(self) -> str | None:
        return None if self._collection is None else str(self._collection.database.name)

    def _describe(self) -> str:
        return f"{self._source()} collection={self._collection_name}"

    def _holds_resources(self) -> bool:
        return self._client is not None and self._owns_client

    # -- stored form -------------------------------------------------------------------------

    def _dump(self, value: Any) -> _Stored:
        text = encode(value, self.max_value_bytes)
        if len(text) <= NATIVE_MAX_BYTES:
            native = decode(text)  # exactly the value every driver returns (tuples as lists)
            if _is_native_safe(native):
                return _Stored(native, None)
        return _Stored(None, text)

    def _load(self, stored: _Stored) -> Any:
        return decode(stored.text) if stored.text is not None else stored.native

    def _load_many(self, stored: Sequence[_Stored]) -> list[Any]:
        return [self._load(one) for one in stored]

    @staticmethod
    def _from_document(document: dict[str, Any]) -> _Stored:
        return _Stored(document.get("v"), document.get("j"), document.get("r"), document["_id"])

    @staticmethod
    def _change(
        stored: _Stored, expires_at: dt.datetime | None, entry: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """The update that writes a stored value (exactly one of v and j) and a new
        revision; the expiry unless None (kept); and with `entry`, the `ns` and `k` of a
        document an upsert inserts."""
        if stored.text is not None:
            assigned: dict[str, Any] = {"j": stored.text}
            removed = "v"
        else:
            assigned, removed = {"v": stored.native}, "j"
        if expires_at is not None:
            assigned["e"] = expires_at
        change: dict[str, Any] = {"$set": assigned, "$unset": {removed: ""}, "$inc": {"r": 1}}
        if entry is not None:
            change["$setOnInsert"] = {"ns": entry[0], "k": entry[1]}
        return change

    # -- plumbing ----------------------------------------------------------------------------

    def _error_rules(self) -> list[ErrorRule]:
        errors = self._pymongo.errors

        def is_too_large(exc: Exception) -> bool:
            return isinstance(exc, errors.OperationFailure) and exc.code in (10334, 17419, 17420)

        return [
            ErrorRule(
                errors.DocumentTooLarge, ValueTooLargeError, "document too large for {where}"
            ),
            ErrorRule(is_too_large, ValueTooLargeError, "document too large for {where}"),
            ErrorRule(
                errors.ServerSelectionTimeoutError,
                StorageConnectionError,
                "MongoDB unreachable at {where}",
                _selection_detail,
            ),
            ErrorRule(
                (
                    errors.ConnectionFailure,
                    errors.NetworkTimeout,
                    errors.ExecutionTimeout,
                    errors.WTimeoutError,
                    errors.WaitQueueTimeoutError,
                    OSError,
                    asyncio.TimeoutError,
                    TimeoutError,
                ),
                StorageConnectionError,
                "MongoDB unavailable at {where}",
            ),
            ErrorRule(errors.PyMongoError, StorageError, "MongoDB error at {where}"),
        ]

    async def _initialize(self) -> None:
        pymongo = self._pymongo
        if self._client is None:
            # An invalid URI may be echoed by PyMongo: the error table's wrap_error drops it.
            self._client = pymongo.AsyncMongoClient(self._url, **self._options)
        database = (
            self._client.get_default_database(self._database_name or "radaros")
            if self._url and self._database_name is None
            else self._client[self._database_name or "radaros"]
        )
        # Aware datetimes and plain dicts whatever a borrowed client decodes to (PyMongo's
        # default is naive datetimes): expiries are compared with the server's `now`.
        codec = database.codec_options.with_options(
            tz_aware=True, tzinfo=dt.timezone.utc, document_class=dict
        )
        self._collection = database.get_collection(self._collection_name, codec_options=codec)
        await self._read_server_clock()
        collection = self._collection
        indexes = await collection.index_information()
        if "ns_k" in indexes:  # radaros 0.2's; `_id` keeps entries unique now
            await self._drop_index("ns_k")
        await self._convert_old_documents()
        # create_index is idempotent, and concurrent identical requests are safe on MongoDB.
        await collection.create_index([("ns", 1), ("k", 1), ("e", 1)], name="ns_k_e")
        if "expiry" in indexes:  # radaros 0.2's TTL index, over every entry
            await self._drop_index("expiry")
        await collection.create_index(
            "e",
            expireAfterSeconds=0,
            name="expiring",
            partialFilterExpression={"e": {"$lt": NEVER}},
        )

    async def _drop_index(self, name: str) -> None:
        """Drop an index; one that another instance dropped meanwhile is no error."""
        try:
            await self._live_collection().drop_index(name)
        except self._pymongo.errors.OperationFailure as exc:
            if exc.code != INDEX_NOT_FOUND:
                raise

    async def _convert_old_documents(self) -> None:
        """Rewrite radaros 0.2's documents (ObjectId `_id`) with the entry's `_id`, a batch
        at a time: the copy first (never over a document already there), then the
        original. Safe when several instances convert at once, and again after a crash."""
        from bson import ObjectId

        collection = self._live_collection()
        old_ids = {"_id": {"$gte": ObjectId(b"\x00" * 12), "$lte": ObjectId(b"\xff" * 12)}}
        converted = 0
        while batch := await collection.find(old_ids, limit=CONVERT_BATCH).to_list():
            copies = [
                self._pymongo.UpdateOne(
                    {"_id": _document_id(old["ns"], old["k"])},
                    {"$setOnInsert": {name: old[name] for name in old if name != "_id"}},
                    upsert=True,
                )
                for old in batch
            ]
            try:
                await collection.bulk_write(copies, ordered=False)
            except self._pymongo.errors.BulkWriteError as exc:
                codes = {error.get("code") for error in exc.details.get("writeErrors", [])}
                if codes != {DUPLICATE_KEY}:  # a copy another instance made meanwhile
                    raise
            await collection.delete_many({"_id": {"$in": [old["_id"] for old in batch]}})
            converted += len(batch)
        if converted:
            logger.info(
                "%s converted %d documents from the radaros 0.2 layout", repr(self), converted
            )

    async def _read_server_clock(self) -> None:
        client = self._client
        if client is None:
            raise StorageClosedError(f"{self!r} is closed")
        sent = time.time()
        reply = await client.admin.command("hello")
        received = time.time()
        server_time: dt.datetime = reply["localTime"]
        if server_time.tzinfo is None:
            server_time = server_time.replace(tzinfo=dt.timezone.utc)
        self._clock_offset_s = server_time.timestamp() - (sent + received) / 2
        self._clock_read_at = time.monotonic()

    async def _now(self) -> dt.datetime:
        """The server's time: the local clock corrected by the offset read from `hello`.

        When the sample is stale, one caller refreshes it; the others go on with the
        previous offset (a few minutes old) instead of each sending its own `hello`.
        """
        if time.monotonic() - self._clock_read_at > CLOCK_REFRESH_S and not self._is_reading_clock:
            self._is_reading_clock = True
            try:
                await self._read_server_clock()
            finally:
                self._is_reading_clock = False
        return dt.datetime.fromtimestamp(time.time() + self._clock_offset_s, dt.timezone.utc)

    async def _close(self) -> None:
        client, self._client = self._client, None
        self._collection = None
        # close() of a client whose server died can block for a long time: bounded.
        await self._release(client, lambda: client.close(), lambda: None)  # type: ignore[union-attr]

    def _live_collection(self) -> AsyncCollection[dict[str, Any]]:
        if self._collection is None:
            raise StorageClosedError(f"{self!r} is closed")
        return self._collection

    @staticmethod
    def _key_range(
        low: str, high: str | None, after: str | None = None, reverse: bool = False
    ) -> dict[str, str]:
        """The `k` condition for `low <= k < high`, past `after` in the direction."""
        condition: dict[str, str] = {}
        if low:
            condition["$gte"] = low
        if high is not None:
            condition["$lt"] = high
        if after is not None and not reverse and after >= low:
            condition.pop("$gte", None)
            condition["$gt"] = after
        if after is not None and reverse and (high is None or after <= high):
            condition["$lt"] = after
        return condition

    @classmethod
    def _prefix_range(cls, prefix: str) -> dict[str, str]:
        return cls._key_range(prefix, prefix_upper_bound(prefix))

    # -- primitives --------------------------------------------------------------------------

    async def _get(self, namespace: str, key: str) -> _Stored | None:
        # By `_id` alone (the primary index's fast path), then the expiry compared here
        # with the same `now` a query would have sent. Whole documents, here and in every
        # read of values: a projection costs the server more than the bytes of `ns` it
        # would leave out.
        now = await self._now()
        document = await self._live_collection().find_one({"_id": _document_id(namespace, key)})
        if document is None or document["e"] <= now:
            return None
        return self._from_document(document)

    async def _get_many(self, namespace: str, keys: Sequence[str]) -> list[_Stored | None]:
        now = await self._now()
        ids = list({_document_id(namespace, key) for key in keys})
        cursor = self._live_collection().find({"_id": {"$in": ids}})
        found = {
            document["k"]: self._from_document(document)
            async for document in cursor
            if document["e"] > now
        }
        return [found.get(key) for key in keys]

    async def _put_many(
        self, namespace: str, items: Sequence[tuple[str, _Stored]], ttl: float | None
    ) -> None:
        expires_at = _expiry(await self._now(), ttl)
        updates = [
            (
                {"_id": _document_id(namespace, key)},
                self._change(stored, expires_at, (namespace, key)),
            )
            for key, stored in items
        ]
        collection = self._live_collection()
        if len(updates) == 1:  # one document: a plain update, not a one-item bulk write
            query, change = updates[0]
            await self._retry_duplicate_upsert(
                lambda: collection.update_one(query, change, upsert=True)
            )
            return
        requests = [
            self._pymongo.UpdateOne(query, change, upsert=True) for query, change in updates
        ]
        await self._retry_duplicate_upsert(lambda: collection.bulk_write(requests, ordered=True))

    async def _retry_duplicate_upsert(self, write: Callable[[], Awaitable[Any]]) -> Any:
        """Concurrent upserts of one new key can fail with E11000 on MongoDB; the retry
        finds the document the winner inserted and updates it (MongoDB docs: upsert).
        After UPSERT_ATTEMPTS duplicate-key failures the last one is raised."""
        errors = self._pymongo.errors
        attempts_left = UPSERT_ATTEMPTS
        while True:
            try:
                return await write()
            except (errors.DuplicateKeyError, errors.BulkWriteError) as exc:
                details = getattr(exc, "details", None) or {}
                codes = [error.get("code") for error in details.get("writeErrors", [])]
                duplicate = isinstance(exc, errors.DuplicateKeyError) or codes == [DUPLICATE_KEY]
                attempts_left -= 1
                if not duplicate or not attempts_left:
                    raise

    async def _delete_many(self, namespace: str, keys: Sequence[str]) -> int:
        # Only live documents are deleted (and counted, each by exactly one deleter);
        # expired ones are invisible already and left to the TTL index.
        collection = self._live_collection()
        live = {"$gt": await self._now()}
        if len(keys) == 1:
            result = await collection.delete_one(
                {"_id": _document_id(namespace, keys[0]), "e": live}
            )
        else:
            ids = [_document_id(namespace, key) for key in keys]
            result = await collection.delete_many({"_id": {"$in": ids}, "e": live})
        return int(result.deleted_count)

    async def _page(
        self,
        namespace: str,
        low: str,
        high: str | None,
        after: str | None,
        limit: int | None,
        reverse: bool,
    ) -> list[tuple[str, _Stored, float]]:
        now = await self._now()
        query: dict[str, Any] = {"ns": namespace, "e": {"$gt": now}}
        key_range = self._key_range(low, high, after, reverse)
        if key_range:
            query["k"] = key_range
        order = [("k", -1 if reverse else 1)]
        cursor = self._live_collection().find(query, sort=order, hint="ns_k_e")
        if limit is not None:
            cursor = cursor.limit(limit)
        return [
            (document["k"], self._from_document(document), _remaining(document["e"], now))
            async for document in cursor
        ]

    async def _ttl(self, namespace: str, key: str) -> float | None:
        now = await self._now()
        document = await self._live_collection().find_one(
            {"_id": _document_id(namespace, key)}, {"e": 1}
        )
        if document is None or document["e"] <= now:
            return None
        return _remaining(document["e"], now)

    async def _touch(self, namespace: str, key: str, ttl: float | None) -> bool:
        # The value is untouched, so the revision `r` stays: a concurrent update's
        # compare-and-swap still succeeds.
        now = await self._now()
        result = await self._live_collection().update_one(
            {"_id": _document_id(namespace, key), "e": {"$gt": now}},
            {"$set": {"e": _expiry(now, ttl)}},
        )
        return bool(result.matched_count == 1)

    async def _count(self, namespace: str, prefix: str) -> int:
        query: dict[str, Any] = {"ns": namespace, "e": {"$gt": await self._now()}}
        key_range = self._prefix_range(prefix)
        if key_range:
            query["k"] = key_range
        return int(await self._live_collection().count_documents(query, hint="ns_k_e"))

    async def _clear(self, namespace: str, prefix: str) -> int:
        query: dict[str, Any] = {"ns": namespace, "e": {"$gt": await self._now()}}
        key_range = self._prefix_range(prefix)
        if key_range:
            query["k"] = key_range
        # Expired documents are left to the TTL index; only live ones are counted.
        result = await self._live_collection().delete_many(query)
        return int(result.deleted_count)

    async def _namespaces(self, prefix: str) -> list[str]:
        # `ns` first: the (ns, k, e) index bounds the scan to the prefix's namespaces.
        query: dict[str, Any] = {"ns": self._prefix_range(prefix)} if prefix else {}
        query["e"] = {"$gt": await self._now()}
        names = await self._live_collection().distinct("ns", query)
        return sorted(names)

    async def _delete_if(self, namespace: str, key: str, expected: _Stored) -> bool:
        # The revision `r` changes with every write of the value: deleting the document
        # at the revision read is compare-and-delete.
        result = await self._live_collection().delete_one(
            {"_id": expected.document_id, "r": expected.revision, "e": {"$gt": await self._now()}}
        )
        return bool(result.deleted_count == 1)

    async def _add(self, namespace: str, key: str, stored: _Stored, ttl: float | None) -> bool:
        now = await self._now()
        try:
            # Matches only an expired document; a live one makes the upsert insert, and the
            # unique `_id` refuses it: exactly one concurrent add wins.
            await self._live_collection().update_one(
                {"_id": _document_id(namespace, key), "e": {"$lte": now}},
                self._change(stored, _expiry(now, ttl), (namespace, key)),
                upsert=True,
            )
        except self._pymongo.errors.DuplicateKeyError:
            return False
        return True

    async def _replace_if(
        self, namespace: str, key: str, expected: _Stored, stored: _Stored, ttl: float | Keep | None
    ) -> bool:
        now = await self._now()
        expires_at = None if isinstance(ttl, Keep) else _expiry(now, ttl)
        result = await self._live_collection().update_one(
            {"_id": expected.document_id, "r": expected.revision, "e": {"$gt": now}},
            self._change(stored, expires_at),
        )
        return bool(result.modified_count == 1)
