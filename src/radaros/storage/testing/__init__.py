"""The public conformance kit: run the same tests radaros runs against every driver.

```python
from radaros.storage.testing import ConformanceSuite

class TestMyDriver(ConformanceSuite):
    @pytest.fixture
    def storage_factory(self):
        return lambda: MyStorage(...)   # a new, unopened driver on this test's data
```
It needs pytest, pytest-asyncio (asyncio_mode = "auto") and hypothesis.
"""

from radaros.storage.testing.suite import ConformanceSuite

__all__ = ["ConformanceSuite"]
