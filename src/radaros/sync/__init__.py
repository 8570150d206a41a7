"""The blocking API: every storage method, for scripts, notebooks, WSGI apps and Django.

```python
from radaros.sync import open_storage

with open_storage("sqlite:///app.db") as storage:
    storage.set("prefs", "theme", "dark")
    print(storage.get("prefs", "theme"))
```

See `radaros.sync.storage` for how it runs (one loop thread per storage).
"""

from radaros.sync.layers import (
    SyncChatHistory,
    SyncCollection,
    SyncLock,
    SyncSessions,
    SyncSummaries,
)
from radaros.sync.storage import SyncStorage, open_storage

__all__ = [
    "SyncChatHistory",
    "SyncCollection",
    "SyncLock",
    "SyncSessions",
    "SyncStorage",
    "SyncSummaries",
    "open_storage",
]
