"""asv benchmarks: every quick-tier score (scores.py) and the key kernels' time and memory (kernels.py).

`benchmarks/scripts/` holds stand-alone measurement scripts; it has no `__init__.py`, so asv
does not collect it.
"""
