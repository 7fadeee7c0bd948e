"""`make bench`: the performance harness. Figures go to docs/BENCHMARKS.md, never into
assertions: pytest does not collect this package (no `test_` modules or functions).

Entry point: `python -m bench.run [--quick]`.
"""
