"""The benchmark suite (`make bench`): every figure of issue #6 beside its budget."""
