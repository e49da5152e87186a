"""SYNTHETIC memecoin market generator for the demo and benchmarks."""
