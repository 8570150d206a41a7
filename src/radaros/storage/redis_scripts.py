"""The Lua scripts of `RedisStorage` (its statements), as objects, and its key layout.

Every script runs on one namespace's keys (`KEYS`: values hash, keys sorted set, expiries
sorted set, and the namespace index for standalone writes), with the namespace as
`ARGV[1]`. Numbers cross into Lua as numbers: a ttl is milliseconds with 0 for "never",
and time left comes back as milliseconds with -1 for "never".
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

__all__ = ["ALL", "Script", "Scripts"]

WRITE_PURGE = 8
"""Expired entries of its namespace that each write reclaims on the way."""
KEYS_REMEMBERED = 1024
"""Namespaces whose Redis key names are kept ready (the hot ones: a few string joins saved
per call); past that many, the memo starts over."""

_PRELUDE = """
local values, keys, expiries = KEYS[1], KEYS[2], KEYS[3]
local now_ms
local function now()  -- the server's clock in ms, read once, and only by scripts that need it
  if not now_ms then
    local clock = redis.call('TIME')
    now_ms = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
  end
  return now_ms
end
local function is_live(expiry)
  return not expiry or tonumber(expiry) > now()
end
local function purge(count)
  local gone = redis.call('ZRANGEBYSCORE', expiries, '-inf', now(), 'LIMIT', 0, count)
  if #gone > 0 then
    redis.call('HDEL', values, unpack(gone))
    redis.call('ZREM', keys, unpack(gone))
    redis.call('ZREM', expiries, unpack(gone))
  end
  return #gone
end
local function set_expiry(key, ttl)
  ttl = tonumber(ttl)
  if ttl == 0 then
    redis.call('ZREM', expiries, key)
  else
    redis.call('ZADD', expiries, now() + ttl, key)
  end
end
local function remaining(expiry)
  if not expiry then return -1 end
  return tonumber(expiry) - now()
end
local function remember()
  if redis.call('EXISTS', keys) == 1 then return 0 end
  if KEYS[4] then redis.call('ZADD', KEYS[4], 0, ARGV[1]) end
  return 1
end
local function forget_if_empty()
  if KEYS[4] and redis.call('EXISTS', keys) == 0 then redis.call('ZREM', KEYS[4], ARGV[1]) end
end
"""
# KEYS: values, keys, expiries[, namespace index (standalone only)]; ARGV[1] = namespace.

_GET = """
local value = redis.call('HGET', values, ARGV[2])
if not value or not is_live(redis.call('ZSCORE', expiries, ARGV[2])) then return false end
return value
"""
_GET_MANY = """
local wanted = {unpack(ARGV, 2)}
local found = redis.call('HMGET', values, unpack(wanted))
local times = redis.call('ZMSCORE', expiries, unpack(wanted))
for i = 1, #wanted do
  if found[i] and not is_live(times[i]) then found[i] = false end
end
return found
"""
_PUT = """
purge(WRITE_PURGE)
local fresh = remember()
for i = 3, #ARGV, 2 do
  redis.call('HSET', values, ARGV[i], ARGV[i + 1])
  redis.call('ZADD', keys, 0, ARGV[i])
  set_expiry(ARGV[i], ARGV[2])
end
return fresh
"""
_DELETE = """
local live = 0
for i = 2, #ARGV do
  local key = ARGV[i]
  if redis.call('HDEL', values, key) == 1 then
    if is_live(redis.call('ZSCORE', expiries, key)) then live = live + 1 end
    redis.call('ZREM', keys, key)
    redis.call('ZREM', expiries, key)
  end
end
forget_if_empty()
return live
"""
# Keys, their values and, when anything in the namespace expires, each one's time left:
# three lists rather than rows, so that the common case (nothing expires) is two
# commands whose replies pass through as they are.
_PAGE = """
local start, stop, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', expiries) == 0 then
  -- Nothing in the namespace expires: every key listed is live.
  local batch = redis.call('ZRANGEBYLEX', keys, start, stop, 'LIMIT', 0, limit)
  if #batch == 0 then return {} end
  return {batch, redis.call('HMGET', values, unpack(batch))}
end
local found, found_values, left = {}, {}, {}
while #found < limit do
  local wanted = limit - #found
  local batch = redis.call('ZRANGEBYLEX', keys, start, stop, 'LIMIT', 0, wanted)
  if #batch == 0 then break end
  local batch_values = redis.call('HMGET', values, unpack(batch))
  local times = redis.call('ZMSCORE', expiries, unpack(batch))
  for i = 1, #batch do
    if batch_values[i] and is_live(times[i]) then
      found[#found + 1] = batch[i]
      found_values[#found_values + 1] = batch_values[i]
      left[#left + 1] = tostring(remaining(times[i]))
    end
  end
  if #batch < wanted then break end
  start = '(' .. batch[#batch]
end
if #found == 0 then return {} end
return {found, found_values, left}
"""
# The same walk downwards: from `stop`, continuing below the last key returned (the
# conformance kit's reverse scans, with small pages, check both directions).
_PAGE_REVERSE = _PAGE.replace(
    "redis.call('ZRANGEBYLEX', keys, start, stop,",
    "redis.call('ZREVRANGEBYLEX', keys, stop, start,",
).replace("  start = '(' .. batch[#batch]", "  stop = '(' .. batch[#batch]")
_INCR = """
local key = ARGV[2]
if redis.call('HEXISTS', values, key) == 1
   and not is_live(redis.call('ZSCORE', expiries, key)) then
  redis.call('HDEL', values, key)
  redis.call('ZREM', expiries, key)
end
local existed = redis.call('HEXISTS', values, key) == 1
-- HINCRBY: 64-bit exact, and refuses a field that is no integer, or an overflow.
local result = redis.pcall('HINCRBY', values, key, ARGV[3])
if type(result) == 'table' and result.err then return {0, result.err, 0} end
local fresh = 0
if not existed then
  purge(WRITE_PURGE)
  fresh = remember()
  redis.call('ZADD', keys, 0, key)
end
if ARGV[4] then set_expiry(key, ARGV[4]) end
-- The stored text, not tostring(result): a Lua number is a double (14 digits shown).
return {1, redis.call('HGET', values, key), fresh}
"""
_DELETE_IF = """
local key = ARGV[2]
if redis.call('HGET', values, key) ~= ARGV[3]
   or not is_live(redis.call('ZSCORE', expiries, key)) then
  return 0
end
redis.call('HDEL', values, key)
redis.call('ZREM', keys, key)
redis.call('ZREM', expiries, key)
forget_if_empty()
return 1
"""
_TTL = """
if redis.call('HEXISTS', values, ARGV[2]) == 0 then return false end
local expiry = redis.call('ZSCORE', expiries, ARGV[2])
if expiry and tonumber(expiry) <= now() then return false end
return tostring(remaining(expiry))
"""
_TOUCH = """
if redis.call('HEXISTS', values, ARGV[2]) == 0 then return 0 end
if not is_live(redis.call('ZSCORE', expiries, ARGV[2])) then return 0 end
set_expiry(ARGV[2], ARGV[3])
return 1
"""
_COUNT = """
while purge(1000) == 1000 do end
forget_if_empty()
return redis.call('ZLEXCOUNT', keys, ARGV[2], ARGV[3])
"""
_CLEAR = """
local batch = redis.call('ZRANGEBYLEX', keys, ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local live = 0
if #batch > 0 then
  local times = redis.call('ZMSCORE', expiries, unpack(batch))
  for i = 1, #batch do
    if is_live(times[i]) then live = live + 1 end
  end
  redis.call('HDEL', values, unpack(batch))
  redis.call('ZREM', keys, unpack(batch))
  redis.call('ZREM', expiries, unpack(batch))
end
forget_if_empty()
return {live, #batch}
"""
_ADD = """
local key = ARGV[2]
if redis.call('HEXISTS', values, key) == 1
   and is_live(redis.call('ZSCORE', expiries, key)) then
  return -1
end
purge(WRITE_PURGE)
local fresh = remember()
redis.call('HSET', values, key, ARGV[3])
redis.call('ZADD', keys, 0, key)
set_expiry(key, ARGV[4])
return fresh
"""
_REPLACE_IF = """
local key = ARGV[2]
if redis.call('HGET', values, key) ~= ARGV[3]
   or not is_live(redis.call('ZSCORE', expiries, key)) then
  return 0
end
redis.call('HSET', values, key, ARGV[4])
if ARGV[5] then set_expiry(key, ARGV[5]) end
return 1
"""
_LIVE_COUNT = """
return redis.call('ZCARD', keys) - redis.call('ZCOUNT', expiries, '-inf', now())
"""
_PURGE = """
local removed = purge(tonumber(ARGV[2]))
forget_if_empty()
return {removed, redis.call('EXISTS', keys)}
"""


@dataclass(frozen=True)
class Script:
    """One operation's Lua body; `writes` scripts also get the namespace index (standalone)."""

    name: str
    body: str = field(repr=False)
    writes: bool = False

    @functools.cached_property
    def source(self) -> str:
        """The whole script: the shared prelude, then the body."""
        return _PRELUDE + self.body.replace("WRITE_PURGE", str(WRITE_PURGE))

    @functools.cached_property
    def sha(self) -> str:
        """The name EVALSHA runs it by: the SHA-1 of its source."""
        return hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()


GET = Script("get", _GET)
GET_MANY = Script("get_many", _GET_MANY)
PUT = Script("put", _PUT, writes=True)
DELETE = Script("delete", _DELETE, writes=True)
PAGE = Script("page", _PAGE)
PAGE_REVERSE = Script("page_reverse", _PAGE_REVERSE)
DELETE_IF = Script("delete_if", _DELETE_IF, writes=True)
INCR = Script("incr", _INCR, writes=True)
TTL = Script("ttl", _TTL)
TOUCH = Script("touch", _TOUCH)
COUNT = Script("count", _COUNT, writes=True)
CLEAR = Script("clear", _CLEAR, writes=True)
ADD = Script("add", _ADD, writes=True)
REPLACE_IF = Script("replace_if", _REPLACE_IF)
LIVE_COUNT = Script("live_count", _LIVE_COUNT)
PURGE = Script("purge", _PURGE, writes=True)
ALL = (
    GET,
    GET_MANY,
    PUT,
    DELETE,
    DELETE_IF,
    INCR,
    PAGE,
    PAGE_REVERSE,
    TTL,
    TOUCH,
    COUNT,
    CLEAR,
    ADD,
    REPLACE_IF,
    LIVE_COUNT,
    PURGE,
)


def escape(namespace: str) -> str:
    """The namespace inside a hash tag: `%`, `{` and `}` percent-encoded (injective)."""
    return namespace.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


class Scripts:
    """The scripts and the Redis keys each runs on (`keys(namespace, writes=...)`), for
    one key prefix and topology; `source` maps each script's name to its whole source."""

    def __init__(self, prefix: str, cluster: bool) -> None:
        self.prefix = prefix
        self.cluster = cluster
        self.index = f"{prefix}:namespaces"
        self.source = {script.name: script.source for script in ALL}
        self._keys: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def keys(self, namespace: str, *, writes: bool = False) -> tuple[str, ...]:
        """The namespace's keys (one slot); standalone writes also get the namespace index."""
        known = self._keys.get(namespace)
        if known is None:
            tag = f"{self.prefix}:{{{escape(namespace)}}}"
            reads = (f"{tag}:v", f"{tag}:k", f"{tag}:x")
            known = (reads, reads if self.cluster else (*reads, self.index))
            if len(self._keys) >= KEYS_REMEMBERED:
                self._keys.clear()
            self._keys[namespace] = known
        return known[1] if writes else known[0]
