"""`Scoped`: a view of a storage confined to the namespaces under one scope.

For multi-tenant apps (the TypeScript original's `ScopedStorage`): give each tenant or user
`Scoped(storage, "tenant:acme:user:42:")` and every namespace it uses is stored as
scope + namespace. The namespace and prefix given are checked as the driver checks them,
then the scope is put in front, so no namespace, prefix or key can reach outside the scope:
the stored namespace always starts with it. `namespaces()` lists only the scope's, with the
scope stripped.

`Scoped` is a `KeyValue` over any `KeyValue` (a driver, another scope, an instrumented
view). It does not own the storage: `close()` and `async with` act on what it wraps.
"""

from __future__ import annotations

import builtins

from radaros.storage.protocol import KeyValue
from radaros.storage.validate import check_namespace, check_prefix
from radaros.view import View

__all__ = ["Scoped"]


class Scoped(View):
    """Every storage method, on the namespaces under `scope` only."""

    def __init__(self, storage: KeyValue, scope: str) -> None:
        super().__init__(storage)
        self.scope = check_namespace(scope)

    def __repr__(self) -> str:
        return f"Scoped({self.storage!r}, {self.scope!r})"

    def _namespace(self, namespace: str) -> str:
        return check_namespace(self.scope + check_namespace(namespace))

    async def _namespaces(self, prefix: str | None) -> builtins.list[str]:
        """The scope's namespaces holding a live key, scope stripped, sorted."""
        names = await self.storage.namespaces(self.scope + check_prefix(prefix))
        return [name[len(self.scope) :] for name in names]
