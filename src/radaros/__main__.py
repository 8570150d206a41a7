"""`python -m radaros`: the radaros-storage command line."""

from radaros.storage.cli import main

raise SystemExit(main())
