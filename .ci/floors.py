"""Print `name==version` for every `name>=version` dependency of the chosen extras.

CI installs the package with these as constraints, so the floors it declares are proven
to work, not just hoped for. Test tools (the test and dev extras) are not pinned.

    python3 .ci/floors.py                 # the runtime extras (drivers, codecs, CLI)
    python3 .ci/floors.py --integrations  # the framework integrations' extras

The two sets are proven in separate jobs: a framework's floor may need a newer release of
a runtime dependency (langchain-core needs a newer pydantic than radaros does).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

RUNTIME_EXTRAS = ("fast", "postgres", "mongodb", "redis", "pydantic", "otel", "cli")
INTEGRATION_EXTRAS = ("langgraph", "openai-agents", "google-adk", "langchain", "llama-index")

extras = tomllib.loads(Path("pyproject.toml").read_text())["project"]["optional-dependencies"]
for extra in INTEGRATION_EXTRAS if "--integrations" in sys.argv else RUNTIME_EXTRAS:
    for requirement in extras[extra]:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)>=([0-9][^,;\s]*)", requirement.strip())
        if match:
            print(f"{match.group(1)}=={match.group(2)}")
