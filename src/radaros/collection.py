"""`Collection[T]`: one namespace of typed values, validated by pydantic.

What is stored is the plain JSON pydantic's JSON mode produces (a `datetime` becomes an
ISO 8601 string, a `UUID` or `Decimal` a string, an `Enum` its value), so any other client
reads it as ordinary JSON. Values are validated on the way in and on the way out: writing
something that is not a `T` raises `SerializationError` before any I/O, and reading a stored
value that does not validate raises `SerializationError` naming the namespace, the key and
the first validation error (never the stored value, which may be private).
"""

from __future__ import annotations

import builtins
import datetime as _datetime
import inspect
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, get_origin, overload

from radaros.storage.errors import SerializationError
from radaros.storage.protocol import DEFAULT_PAGE_SIZE, TTL, KeyValue
from radaros.storage.validate import check_key, check_namespace

__all__ = ["Collection", "Item"]

T = TypeVar("T")
D = TypeVar("D")


if TYPE_CHECKING or sys.version_info >= (3, 11):

    class Item(NamedTuple, Generic[T]):
        """One typed entry: `item.key`, `item.value`, `item[1]`, and `for key, value in
        items` works, typed (like the driver's `Entry`, with the value a `T`)."""

        key: str
        value: T

else:  # Python 3.10 has no generic NamedTuple: the same shape, built by hand.

    class Item(tuple, Generic[T]):  # type: ignore[type-arg]
        """One typed entry: `item.key`, `item.value`, `item[1]`, and `for key, value in
        items` works, typed (like the driver's `Entry`, with the value a `T`)."""

        __slots__ = ()
        _fields = ("key", "value")

        def __new__(cls, key: str, value: Any) -> Any:
            return tuple.__new__(cls, (key, value))

        @property
        def key(self) -> str:
            return self[0]  # type: ignore[no-any-return]

        @property
        def value(self) -> Any:
            return self[1]

        def _asdict(self) -> dict[str, Any]:
            return {"key": self[0], "value": self[1]}

        def __repr__(self) -> str:
            return f"Item(key={self[0]!r}, value={self[1]!r})"


class Collection(Generic[T]):
    """The driver's methods for one namespace, with values of type `T`.

    `type_` is anything pydantic validates: a `BaseModel`, a dataclass, a `TypedDict`,
    `list[Message]`, `datetime`, ... `append` needs a list type. Needs `radaros[pydantic]`.
    """

    def __init__(self, storage: KeyValue, namespace: str, type_: type[T]) -> None:
        try:
            import pydantic
            import pydantic_core
        except ImportError:
            message = "Collection needs pydantic: pip install 'radaros[pydantic]'"
            raise ImportError(message) from None
        self._invalid: type[Exception] = pydantic.ValidationError
        self._unserializable: type[Exception] = pydantic_core.PydanticSerializationError
        self.storage = storage
        self.namespace = check_namespace(namespace)
        self.type = type_
        try:
            self._adapter: pydantic.TypeAdapter[T] = pydantic.TypeAdapter(type_)
        except pydantic.PydanticUserError as exc:  # an unsupported type: say so now
            raise TypeError(f"pydantic cannot validate {type_!r}: {exc}") from None
        self._is_list = get_origin(type_) is list or type_ is list
        self._holds_times = _has_time_schema(self._adapter.core_schema)

    def __repr__(self) -> str:
        name = getattr(self.type, "__name__", repr(self.type))
        return f"Collection({self.storage!r}, {self.namespace!r}, {name})"

    # -- conversion --------------------------------------------------------------------------

    def _dump(self, value: Any, key: str | None = None) -> Any:
        """`value` as a `T`, in pydantic's JSON form; SerializationError if it is not a T."""
        at = self._where(key)
        try:
            checked = self._adapter.validate_python(value)
            if self._holds_times:
                _check_offsets(self._adapter.dump_python(checked), at)
            return self._adapter.dump_python(checked, mode="json")
        except self._invalid as exc:
            raise SerializationError(self._explain("value to store", key, exc)) from None
        except self._unserializable as exc:
            raise SerializationError(f"cannot store a value at {at}: {exc}") from None
        except UnicodeError:
            # pydantic writes bytes as UTF-8 text in JSON mode (`ser_json_bytes="base64"`
            # in the model's config stores any bytes).
            raise SerializationError(
                f"cannot store a value at {at}: it holds bytes that are not UTF-8 text "
                "(set ser_json_bytes='base64' in the model config to store any bytes)"
            ) from None

    def _load(self, key: str, stored: Any) -> T:
        try:
            return self._adapter.validate_python(stored)
        except self._invalid as exc:
            raise SerializationError(self._explain("stored value", key, exc)) from None

    def _where(self, key: str | None) -> str:
        return f"{self.namespace!r}/{key!r}" if key is not None else repr(self.namespace)

    def _explain(self, what: str, key: str | None, exc: Any) -> str:
        """Namespace, key, field path and the error's type; never pydantic's message,
        which can quote the input ("Input tag 'SSN-...' found"), and so private data."""
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(value)"
        name = getattr(self.type, "__name__", repr(self.type))
        count = exc.error_count()
        more = f" (and {count - 1} more)" if count > 1 else ""
        return f"{what} at {self._where(key)} is not a valid {name}: {field}: {first['type']}{more}"

    # -- single keys -------------------------------------------------------------------------

    @overload
    async def get(self, key: str) -> T | None: ...
    @overload
    async def get(self, key: str, default: D) -> T | D: ...

    async def get(self, key: str, default: Any = None) -> Any:
        """The stored value as a `T`, or `default` when absent or expired."""
        stored = await self.storage.get(self.namespace, key, _MISSING)
        return default if stored is _MISSING else self._load(key, stored)

    async def set(self, key: str, value: T, *, ttl: TTL | None = None) -> None:
        await self.storage.set(self.namespace, key, self._dump(value, key), ttl=ttl)

    async def add(self, key: str, value: T, *, ttl: TTL | None = None) -> bool:
        """Store only if absent or expired; True if it stored (one winner among many)."""
        return await self.storage.add(self.namespace, key, self._dump(value, key), ttl=ttl)

    async def delete(self, key: str) -> bool:
        return await self.storage.delete(self.namespace, key)

    async def ttl(self, key: str) -> float | None:
        return await self.storage.ttl(self.namespace, key)

    async def touch(self, key: str, ttl: TTL | None) -> bool:
        return await self.storage.touch(self.namespace, key, ttl)

    async def update(
        self,
        key: str,
        fn: Callable[[T | None], T] | Callable[[T | None], Awaitable[T]],
        *,
        ttl: TTL | None = None,
    ) -> T:
        """Atomically store `fn(current or None)` and return it; `fn` may run more than once.
        A stored value that does not validate raises SerializationError, nothing written."""
        check_key(key)
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")

        async def change(current: Any) -> Any:
            typed = None if current is None else self._load(key, current)
            result = fn(typed)
            if inspect.isawaitable(result):
                result = await result
            return self._dump(result, key)

        stored = await self.storage.update(self.namespace, key, change, ttl=ttl)
        return self._load(key, stored)

    async def append(
        self,
        key: str,
        items: builtins.list[Any] | tuple[Any, ...],
        *,
        max_items: int | None = None,
        ttl: TTL | None = None,
    ) -> int:
        """Atomically append to the list at `key` (for a list type `T`); the new length."""
        if not self._is_list:
            raise TypeError(f"append needs a list type, and {self!r} holds single values")
        check_key(key)
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"items must be a list or tuple, not {type(items).__name__}")
        dumped = self._dump(list(items), key)
        return await self.storage.append(self.namespace, key, dumped, max_items=max_items, ttl=ttl)

    # -- batches -----------------------------------------------------------------------------

    @overload
    async def get_many(self, keys: Iterable[str]) -> builtins.list[T | None]: ...
    @overload
    async def get_many(self, keys: Iterable[str], default: D) -> builtins.list[T | D]: ...

    async def get_many(self, keys: Iterable[str], default: Any = None) -> builtins.list[Any]:
        keys = builtins.list(keys) if not isinstance(keys, builtins.list) else keys
        found = await self.storage.get_many(self.namespace, keys, _MISSING)
        return [
            default if stored is _MISSING else self._load(key, stored)
            for key, stored in zip(keys, found, strict=True)
        ]

    async def set_many(
        self, items: Mapping[str, T] | Iterable[tuple[str, T]], *, ttl: TTL | None = None
    ) -> None:
        """Every value is validated before anything is written."""
        pairs = items.items() if isinstance(items, Mapping) else items
        dumped: builtins.list[tuple[str, Any]] = []
        for pair in pairs:
            if isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise TypeError("set_many items must be a mapping or (key, value) pairs")
            dumped.append((pair[0], self._dump(pair[1], pair[0])))
        await self.storage.set_many(self.namespace, dumped, ttl=ttl)

    async def delete_many(self, keys: Iterable[str]) -> int:
        return await self.storage.delete_many(self.namespace, keys)

    # -- listing -----------------------------------------------------------------------------

    async def list(self, prefix: str | None = None) -> builtins.list[Item[T]]:
        """Every live entry whose key starts with `prefix`, ascending by key."""
        entries = await self.storage.list(self.namespace, prefix)
        return [Item(key, self._load(key, value)) for key, value in entries]

    def scan(
        self, prefix: str | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Item[T]]:
        """Entries in key order, `page_size` at a time (arguments checked here)."""
        entries = self.storage.scan(self.namespace, prefix, page_size=page_size)
        return self._typed(entries)

    async def _typed(self, entries: AsyncIterator[Any]) -> AsyncIterator[Item[T]]:
        async for key, value in entries:
            yield Item(key, self._load(key, value))

    async def count(self, prefix: str | None = None) -> int:
        return await self.storage.count(self.namespace, prefix)

    async def clear(self, prefix: str | None = None) -> int:
        return await self.storage.clear(self.namespace, prefix)


def _has_time_schema(schema: Any) -> bool:
    """Whether a pydantic core schema can hold a `datetime` or `time` anywhere."""
    if isinstance(schema, dict):
        if schema.get("type") in ("datetime", "time"):
            return True
        return any(_has_time_schema(value) for value in schema.values())
    if isinstance(schema, (list, tuple)):
        return any(_has_time_schema(value) for value in schema)
    return False


def _check_offsets(value: Any, at: str) -> None:
    """Refuse a datetime or time whose UTC offset has seconds: ISO 8601 (and so pydantic's
    JSON) writes whole minutes, and it would come back a different instant."""
    if isinstance(value, (_datetime.datetime, _datetime.time)):
        offset = value.utcoffset()
        if offset is not None and offset % _datetime.timedelta(minutes=1):
            raise SerializationError(
                f"cannot store a value at {at}: a UTC offset of {offset} is not whole minutes "
                "and would not round trip; convert it with .astimezone(timezone.utc)"
            )
    elif isinstance(value, dict):
        for item in value.values():
            _check_offsets(item, at)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_offsets(item, at)


class _Missing:
    """Told apart from a stored null: `get` must validate a stored `None` too."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
