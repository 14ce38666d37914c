"""Keep pytest out of the benchmark: ``make test`` must not run it (it takes minutes and its own stack)."""

collect_ignore_glob = ["*.py"]
