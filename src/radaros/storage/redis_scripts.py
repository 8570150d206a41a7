"""The Lua scripts of `RedisStorage` (its statements), as objects, and its key layout.

Every script runs on one namespace's keys, with the namespace as `ARGV[1]`:

```
KEYS[1]  <tag>:e   entries while nothing in the namespace expires
KEYS[2]  <tag>:t   the same entries while something does
KEYS[3]  <tag>:x   expiries
KEYS[4]  <tag>:v   a radaros 0.2 values hash (its presence means: convert first)
KEYS[5…] what one script needs besides (INCR's scratch key, the conversion's keys)
last     the namespace index, for writes on a standalone server
```
An entry is one sorted-set member, `key NUL value`, score 0: keys hold no NUL, so members
sort by key, a key's member is the one lexicographic range `[key NUL` .. `(key \\x01`, and a
range of keys is a range of members. Numbers cross into Lua as numbers: a ttl is
milliseconds with 0 for "never", and time left comes back as milliseconds with -1 for
"never".
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

__all__ = ["ALL", "LEGACY_LAYOUT", "Script", "Scripts"]

WRITE_PURGE = 8
"""Expired entries of its namespace that each write reclaims on the way."""
KEYS_REMEMBERED = 1024
"""Namespaces whose Redis key names are kept ready (the hot ones: a few string joins saved
per call); past that many, the memo starts over."""
LEGACY_LAYOUT = "RADAROS_LEGACY_LAYOUT"
"""The error a script answers when the namespace still holds radaros 0.2's layout."""

_PRELUDE = """
local plain, timed, expiries, legacy = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local index = KEYS[INDEX]
local now_ms
local function now()  -- the server's clock in ms, read once, and only by scripts that need it
  if not now_ms then
    local clock = redis.call('TIME')
    now_ms = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
  end
  return now_ms
end
-- The entries live under `timed` while anything in the namespace expires, else under
-- `plain`: whoever finds them under `plain` knows every one is live.
local where = plain
if redis.call('EXISTS', timed) == 1 then where = timed end
local function find(key)  -- the key's member, or nil
  local lower, upper = '[' .. key .. '\\0', '(' .. key .. '\\1'
  return redis.call('ZRANGEBYLEX', where, lower, upper, 'LIMIT', 0, 1)[1]
end
local function remove(key)
  return redis.call('ZREMRANGEBYLEX', where, '[' .. key .. '\\0', '(' .. key .. '\\1')
end
local function put(key, value)
  remove(key)
  redis.call('ZADD', where, 0, key .. '\\0' .. value)
end
local function value_of(member, key)
  return string.sub(member, #key + 2)
end
local function key_of(member)
  return string.sub(member, 1, string.find(member, '\\0', 1, true) - 1)
end
local function expiry_of(key)
  if where == timed then return redis.call('ZSCORE', expiries, key) end
end
local function is_live(expiry)
  return not expiry or tonumber(expiry) > now()
end
local function purge(count)
  if where == plain then return 0 end
  local gone = redis.call('ZRANGEBYSCORE', expiries, '-inf', now(), 'LIMIT', 0, count)
  for i = 1, #gone do remove(gone[i]) end
  if #gone > 0 then redis.call('ZREM', expiries, unpack(gone)) end
  return #gone
end
local function set_expiry(key, ttl)
  ttl = tonumber(ttl)
  if ttl ~= 0 then
    redis.call('ZADD', expiries, now() + ttl, key)
  elseif where == timed then
    redis.call('ZREM', expiries, key)
  end
end
local function remaining(expiry)
  if not expiry then return -1 end
  return tonumber(expiry) - now()
end
local function remember()
  if redis.call('EXISTS', where) == 1 then return 0 end
  if index then redis.call('ZADD', index, 0, ARGV[1]) end
  return 1
end
local function forget_if_empty()
  if index and redis.call('EXISTS', where) == 0 then redis.call('ZREM', index, ARGV[1]) end
end
local function settle()  -- after a write: the entries under the name that tells
  local wanted = plain
  if redis.call('EXISTS', expiries) == 1 then wanted = timed end
  if wanted ~= where and redis.call('EXISTS', where) == 1 then
    redis.call('RENAME', where, wanted)
  end
end
"""
_CHECK_LEGACY = """
if redis.call('EXISTS', legacy) == 1 then return redis.error_reply('LEGACY_LAYOUT') end
"""

_GET = """
local member = find(ARGV[2])
if not member or not is_live(expiry_of(ARGV[2])) then return false end
return member
"""
_GET_MANY = """
local found = {}
for i = 2, #ARGV do
  local member = find(ARGV[i])
  if member and is_live(expiry_of(ARGV[i])) then found[i - 1] = member else found[i - 1] = false end
end
return found
"""
_PUT = """
purge(WRITE_PURGE)
local fresh = remember()
for i = 3, #ARGV, 2 do
  put(ARGV[i], ARGV[i + 1])
  set_expiry(ARGV[i], ARGV[2])
end
settle()
return fresh
"""
_DELETE = """
local live = 0
for i = 2, #ARGV do
  local key = ARGV[i]
  if remove(key) == 1 then
    if where == plain or is_live(redis.call('ZSCORE', expiries, key)) then live = live + 1 end
    if where == timed then redis.call('ZREM', expiries, key) end
  end
end
forget_if_empty()
settle()
return live
"""
# Read by the driver only where reading `plain` directly found nothing: `{1 if the
# entries are plain, members, time left of each (timed only)}`. Expired members are
# skipped, and the walk goes on until `limit` live ones or the end of the range.
_PAGE = """
local start, stop, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
if where == plain then
  return {1, redis.call('ZRANGEBYLEX', plain, start, stop, 'LIMIT', 0, limit), {}}
end
local found, left = {}, {}
while #found < limit do
  local wanted = limit - #found
  local batch = redis.call('ZRANGEBYLEX', timed, start, stop, 'LIMIT', 0, wanted)
  if #batch == 0 then break end
  local keys = {}
  for i = 1, #batch do keys[i] = key_of(batch[i]) end
  local times = redis.call('ZMSCORE', expiries, unpack(keys))
  for i = 1, #batch do
    if is_live(times[i]) then
      found[#found + 1] = batch[i]
      left[#left + 1] = tostring(remaining(times[i]))
    end
  end
  if #batch < wanted then break end
  start = '[' .. keys[#keys] .. '\\1'
end
return {0, found, left}
"""
# The same walk downwards: from `stop`, continuing below the last key returned (the
# conformance kit's reverse scans, with small pages, check both directions).
_PAGE_REVERSE = (
    _PAGE.replace(
        "redis.call('ZRANGEBYLEX', plain, start, stop,",
        "redis.call('ZREVRANGEBYLEX', plain, stop, start,",
    )
    .replace(
        "redis.call('ZRANGEBYLEX', timed, start, stop,",
        "redis.call('ZREVRANGEBYLEX', timed, stop, start,",
    )
    .replace("  start = '[' .. keys[#keys] .. '\\1'", "  stop = '(' .. keys[#keys]")
)
if _PAGE_REVERSE.count("ZREVRANGEBYLEX") != 2 or "stop = '('" not in _PAGE_REVERSE:
    raise AssertionError("the reverse page script was not derived")
# KEYS[5]: a scratch key. INCRBY there does the arithmetic: exact in 64 bits, refusing a
# value that is no integer and an overflow, where Lua's numbers are doubles.
_INCR = """
local key, scratch = ARGV[2], KEYS[5]
local member = find(key)
local current, existed = '0', false
if member then
  if is_live(expiry_of(key)) then
    current, existed = value_of(member, key), true
  else
    remove(key)
    redis.call('ZREM', expiries, key)
  end
end
redis.call('SET', scratch, current)
local result = redis.pcall('INCRBY', scratch, ARGV[3])
local text = redis.call('GET', scratch)
redis.call('DEL', scratch)
if type(result) == 'table' and result.err then return {0, result.err, 0} end
local fresh = 0
if not existed then
  purge(WRITE_PURGE)
  fresh = remember()
end
put(key, text)
if ARGV[4] then set_expiry(key, ARGV[4]) end
settle()
return {1, text, fresh}
"""
_DELETE_IF = """
local key = ARGV[2]
local member = find(key)
if not member or value_of(member, key) ~= ARGV[3] or not is_live(expiry_of(key)) then
  return 0
end
remove(key)
if where == timed then redis.call('ZREM', expiries, key) end
forget_if_empty()
settle()
return 1
"""
_TTL = """
if not find(ARGV[2]) then return false end
local expiry = expiry_of(ARGV[2])
if not is_live(expiry) then return false end
return tostring(remaining(expiry))
"""
_TOUCH = """
if not find(ARGV[2]) or not is_live(expiry_of(ARGV[2])) then return 0 end
set_expiry(ARGV[2], ARGV[3])
settle()
return 1
"""
_COUNT = """
while purge(1000) == 1000 do end
forget_if_empty()
local count = redis.call('ZLEXCOUNT', where, ARGV[2], ARGV[3])
settle()
return count
"""
_CLEAR = """
local batch = redis.call('ZRANGEBYLEX', where, ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local live = #batch
if #batch > 0 then
  if where == timed then
    local keys = {}
    for i = 1, #batch do keys[i] = key_of(batch[i]) end
    local times = redis.call('ZMSCORE', expiries, unpack(keys))
    live = 0
    for i = 1, #batch do
      if is_live(times[i]) then live = live + 1 end
    end
    redis.call('ZREM', expiries, unpack(keys))
  end
  redis.call('ZREM', where, unpack(batch))
end
forget_if_empty()
settle()
return {live, #batch}
"""
_ADD = """
local key = ARGV[2]
local member = find(key)
if member then
  if is_live(expiry_of(key)) then return -1 end
  remove(key)
end
purge(WRITE_PURGE)
local fresh = remember()
redis.call('ZADD', where, 0, key .. '\\0' .. ARGV[3])
set_expiry(key, ARGV[4])
settle()
return fresh
"""
_REPLACE_IF = """
local key = ARGV[2]
local member = find(key)
if not member or value_of(member, key) ~= ARGV[3] or not is_live(expiry_of(key)) then
  return 0
end
put(key, ARGV[4])
if ARGV[5] then set_expiry(key, ARGV[5]) end
settle()
return 1
"""
_LIVE_COUNT = """
if where == plain then return redis.call('ZCARD', plain) end
return redis.call('ZCARD', timed) - redis.call('ZCOUNT', expiries, '-inf', now())
"""
_PURGE = """
local removed = purge(tonumber(ARGV[2]))
forget_if_empty()
local has_keys = redis.call('EXISTS', where)
settle()
return {removed, has_keys}
"""
# Converts up to ARGV[2] entries of radaros 0.2's layout (a values hash and a keys sorted
# set) to members; 1 while more remain. Where the namespace holds no entries yet, they
# gather under KEYS[6] and take their place at the end, so a reader of `plain` sees the
# whole namespace or none of it.
_MIGRATE = """
local old_keys, building = KEYS[5], KEYS[6]
if redis.call('EXISTS', legacy) == 0 then return 0 end
local into = where
if redis.call('EXISTS', where) == 0 then into = building end
local batch = redis.call('ZRANGEBYLEX', old_keys, '-', '+', 'LIMIT', 0, tonumber(ARGV[2]))
if #batch > 0 then
  local values = redis.call('HMGET', legacy, unpack(batch))
  for i = 1, #batch do
    local key = batch[i]
    redis.call('ZREMRANGEBYLEX', into, '[' .. key .. '\\0', '(' .. key .. '\\1')
    if values[i] then
      redis.call('ZADD', into, 0, key .. '\\0' .. values[i])
    else
      redis.call('ZREM', expiries, key)
    end
  end
  redis.call('HDEL', legacy, unpack(batch))
  redis.call('ZREM', old_keys, unpack(batch))
end
if redis.call('EXISTS', old_keys) == 1 then return 1 end
redis.call('DEL', legacy)
if into == building then
  if redis.call('EXISTS', building) == 1 then
    where = building
    settle()
  end
else
  settle()
end
return 0
"""


@dataclass(frozen=True)
class Script:
    """One operation's Lua body: `extra` names the keys it needs besides the namespace's
    own (suffixes of its tag), `writes` scripts also get the namespace index (standalone),
    and every script but the conversion refuses a namespace still in the 0.2 layout."""

    name: str
    body: str = field(repr=False)
    writes: bool = False
    extra: tuple[str, ...] = ()
    checks_legacy: bool = True

    @functools.cached_property
    def source(self) -> str:
        """The whole script: the shared prelude, then the body."""
        check = _CHECK_LEGACY.replace("LEGACY_LAYOUT", LEGACY_LAYOUT) if self.checks_legacy else ""
        prelude = _PRELUDE.replace("KEYS[INDEX]", f"KEYS[{5 + len(self.extra)}]")
        return prelude + check + self.body.replace("WRITE_PURGE", str(WRITE_PURGE))

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
INCR = Script("incr", _INCR, writes=True, extra=("n",))
TTL = Script("ttl", _TTL)
TOUCH = Script("touch", _TOUCH)
COUNT = Script("count", _COUNT, writes=True)
CLEAR = Script("clear", _CLEAR, writes=True)
ADD = Script("add", _ADD, writes=True)
REPLACE_IF = Script("replace_if", _REPLACE_IF)
LIVE_COUNT = Script("live_count", _LIVE_COUNT)
PURGE = Script("purge", _PURGE, writes=True)
MIGRATE = Script("migrate", _MIGRATE, extra=("k", "m"), checks_legacy=False)
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
    MIGRATE,
)


def escape(namespace: str) -> str:
    """The namespace inside a hash tag: `%`, `{` and `}` percent-encoded (injective)."""
    return namespace.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


class Scripts:
    """The scripts and the Redis keys each runs on (`keys(namespace, script)`), for one key
    prefix and topology; `source` maps each script's name to its whole source."""

    def __init__(self, prefix: str, cluster: bool) -> None:
        self.prefix = prefix
        self.cluster = cluster
        self.index = f"{prefix}:namespaces"
        self.source = {script.name: script.source for script in ALL}
        self._keys: dict[tuple[str, str], tuple[str, ...]] = {}

    def tag(self, namespace: str) -> str:
        """The first part of every key of the namespace: the prefix and its hash tag."""
        return f"{self.prefix}:{{{escape(namespace)}}}"

    def plain(self, namespace: str) -> str:
        """The namespace's entries while nothing in it expires (read directly by pages)."""
        return self.keys(namespace)[0]

    def keys(self, namespace: str, script: Script = GET) -> tuple[str, ...]:
        """The KEYS of `script` on the namespace (all in one slot; standalone writes also
        get the namespace index)."""
        known = self._keys.get((namespace, script.name))
        if known is None:
            tag = self.tag(namespace)
            suffixes = ("e", "t", "x", "v", *script.extra)
            known = tuple(f"{tag}:{suffix}" for suffix in suffixes)
            if script.writes and not self.cluster:
                known = (*known, self.index)
            if len(self._keys) >= KEYS_REMEMBERED:
                self._keys.clear()
            self._keys[namespace, script.name] = known
        return known
