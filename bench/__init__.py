"""Benchmarks of jaga against the tools people use today (lsyncd, rsync, cp + sync).

Run with ``python -m bench`` (or ``make bench``); see docs/performance.md for what each workload
measures and why.
"""
