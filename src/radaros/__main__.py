"""`python -m radaros`: the radaros-storage command line."""

from radaros.cli import main

raise SystemExit(main())
