"""``lbctl demo`` and what the tests and benchmarks share with it: the recording backend, the
burst load generator, the pacing judge."""
