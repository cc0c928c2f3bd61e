"""Benchmarks: not collected by the normal test run (see tests/benchmarks/README.md)."""
