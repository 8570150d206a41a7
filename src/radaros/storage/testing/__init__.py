"""The public conformance kit: run the same tests radaros runs against every driver.

```python
from radaros.storage.testing import ConformanceSuite

class TestMyDriver(ConformanceSuite):
    @pytest.fixture
    def storage_factory(self):
        return lambda: MyStorage(...)   # a new, unopened driver on this test's data
```
Each section of promises is a class of its own (`KeyTests`, `ValueTests`, `ExpiryTests`,
`BatchTests`, `ListingTests`, `CoreTests`, `AtomicTests`, `LifecycleTests`,
`ErrorTests`): subclass one to run only its tests while you build. The kit needs pytest
and pytest-asyncio (`asyncio_mode = "auto"`).
"""

from radaros.storage.testing.atomic import AtomicTests
from radaros.storage.testing.batches import BatchTests
from radaros.storage.testing.core import CoreTests
from radaros.storage.testing.errors import ErrorTests
from radaros.storage.testing.expiry import ExpiryTests
from radaros.storage.testing.keys import KeyTests
from radaros.storage.testing.lifecycle import LifecycleTests
from radaros.storage.testing.listing import ListingTests
from radaros.storage.testing.suite import ConformanceSuite
from radaros.storage.testing.support import SuiteBase
from radaros.storage.testing.values import ValueTests

__all__ = [
    "AtomicTests",
    "BatchTests",
    "ConformanceSuite",
    "CoreTests",
    "ErrorTests",
    "ExpiryTests",
    "KeyTests",
    "LifecycleTests",
    "ListingTests",
    "SuiteBase",
    "ValueTests",
]
