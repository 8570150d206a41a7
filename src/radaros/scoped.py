"""`Scoped`: a view of a storage confined to the namespaces under one scope.

For multi-tenant apps (the TypeScript original's `ScopedStorage`): give each tenant or user
`Scoped(storage, "tenant:acme")` and every namespace it uses is stored under the scope.
The stored namespace is the scope, `/`, then the namespace, each with `%` and `/`
percent-encoded:

```
Scoped(storage, "tenant:acme").set("notes", ...)          -> "tenant:acme/notes"
Scoped(storage, "a/b").set("x%y", ...)                    -> "a%2Fb/x%25y"
Scoped(Scoped(storage, "tenant:acme"), "user:42")...      -> "tenant:acme/user:42/notes"
```

So a scope is everything before the first unescaped `/`: no two different scopes, nested
or not, whatever their characters (tenant ids with `:`, `%`, `/`), can produce the same
stored namespace, and no namespace or prefix given to a view can reach another scope, a
parent's own namespaces, or a nested scope's (`namespaces()` lists the view's own only).
A scope nested directly in another (`Scoped(Scoped(s, a), b)`) is one view with both
scopes. The encoding makes names longer: the stored namespace must stay within 256 UTF-8
bytes, else `InvalidKeyError`.

`Scoped` is a `KeyValue` over any `KeyValue` (a driver, an instrumented view). It does not
own the storage: `close()` and `async with` act on what it wraps. Data that 0.2 stored
as scope + namespace moves to this layout with `migrate_scope`.
"""

from __future__ import annotations

import builtins
import math

from radaros.storage.protocol import KeyValue
from radaros.storage.validate import check_namespace, check_prefix, quote_part, unquote_part
from radaros.view import View

__all__ = ["Scoped", "migrate_scope"]

SEPARATOR = "/"


class Scoped(View):
    """Every storage method, on the namespaces under `scope` only."""

    def __init__(self, storage: KeyValue, scope: str) -> None:
        scope = check_namespace(scope)
        if type(storage) is Scoped:  # nested directly: one view, both scopes
            self.scopes: tuple[str, ...] = (*storage.scopes, scope)
            storage = storage.storage
        else:
            self.scopes = (scope,)
        super().__init__(storage)
        self.scope = scope
        self._prefix = "".join(quote_part(part) + SEPARATOR for part in self.scopes)

    def __repr__(self) -> str:
        return f"Scoped({self.storage!r}, {SEPARATOR.join(self.scopes)!r})"

    def _namespace(self, namespace: str) -> str:
        return check_namespace(self._prefix + quote_part(check_namespace(namespace)))

    async def _namespaces(self, prefix: str | None) -> builtins.list[str]:
        """The view's own namespaces holding a live key, sorted (not nested scopes')."""
        names = await self.storage.namespaces(self._prefix + quote_part(check_prefix(prefix)))
        own = (name[len(self._prefix) :] for name in names)
        return sorted(unquote_part(name) for name in own if SEPARATOR not in name)


async def migrate_scope(storage: KeyValue, scope: str, *, page_size: int = 1000) -> int:
    """Move what radaros 0.2's `Scoped(storage, scope)` stored (namespace `scope +
    namespace`) to this version's layout; return how many entries moved.

    Values and expiries are kept. Each old namespace is cleared once its entries are
    copied, so an interrupted run can be run again. Run it before writing through the new
    view: an old namespace that looks like a new one (it starts with the encoded scope and
    `/`) is left alone.
    """
    target = Scoped(storage, scope)
    moved = 0
    for name in await storage.namespaces(check_namespace(scope)):
        if name.startswith(target._prefix):
            continue
        namespace = name[len(scope) :]
        if not namespace:
            continue
        async for key, value, ttl in storage.scan(name, page_size=page_size, with_ttl=True):
            await target.set(namespace, key, value, ttl=None if ttl == math.inf else ttl)
            moved += 1
        await storage.clear(name)
    return moved
