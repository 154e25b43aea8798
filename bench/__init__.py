"""Benchmarks (not part of the test suite): each prints ratios against a baseline measured in the same run."""
