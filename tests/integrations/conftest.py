"""Framework tests: each module needs its framework, installed by the integrations CI job.

Locally a missing framework skips its module; with RADAROS_REQUIRE_INTEGRATIONS=1 (CI)
it fails instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def require(module: str) -> ModuleType:
    """Import a framework module, or skip (fail in CI) when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get("RADAROS_REQUIRE_INTEGRATIONS") == "1":
            raise
        pytest.skip(f"{module} is not installed: {error}", allow_module_level=True)
