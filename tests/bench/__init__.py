"""``make bench``: figures for docs/performance.md. A benchmark, not a test: pytest never collects it."""
