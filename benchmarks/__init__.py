"""Benchmarks: gradtx against optax, measured in one process."""
