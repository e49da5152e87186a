"""Benchmarks: each prints JSON and writes it under benchmarks/results/."""
