"""Print `name==version` for every `name>=version` runtime dependency in pyproject.toml.

CI installs the package with these as constraints, so the floors it declares are proven
to work, not just hoped for. Test tools (the dev extra) are not pinned.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

RUNTIME_EXTRAS = ("fast", "postgres", "mongodb", "redis", "pydantic", "otel", "cli")

project = tomllib.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml").read_text())
extras = project["project"]["optional-dependencies"]
for extra in RUNTIME_EXTRAS:
    for requirement in extras.get(extra, []):
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)>=([0-9][^,;\s]*)", requirement.strip())
        if match:
            print(f"{match.group(1)}=={match.group(2)}")
