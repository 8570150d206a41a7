"""radaros benchmarks: `python -m benchmarks.run`, `python -m benchmarks.report`."""
