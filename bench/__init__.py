"""Benchmarks (`python bench/<name>.py`); a package only so that scripts, docs and tests share `bench.common`."""
