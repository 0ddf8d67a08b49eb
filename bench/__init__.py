"""Benchmarks (`python bench/<name>.py`); a package only so that scripts share `bench.common` and the tests import a few of them."""
