"""`ConformanceSuite`: one test per promise of the SPEC, for any driver.

It is the sum of the sections below; while building a driver, subclass one section
(`KeyTests`, `ValueTests`, ...) to run only its tests.
"""

from __future__ import annotations

from radaros.storage.testing.atomic import AtomicTests
from radaros.storage.testing.batches import BatchTests
from radaros.storage.testing.core import CoreTests
from radaros.storage.testing.errors import ErrorTests
from radaros.storage.testing.expiry import ExpiryTests
from radaros.storage.testing.keys import KeyTests
from radaros.storage.testing.lifecycle import LifecycleTests
from radaros.storage.testing.listing import ListingTests
from radaros.storage.testing.values import ValueTests

__all__ = ["ConformanceSuite"]


class ConformanceSuite(
    KeyTests,
    ValueTests,
    ExpiryTests,
    BatchTests,
    ListingTests,
    CoreTests,
    AtomicTests,
    LifecycleTests,
    ErrorTests,
):
    """Every SPEC promise as a test. Subclass it and provide `storage_factory`."""
