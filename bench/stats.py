"""Percentiles and medians without numpy: the bench must run in the project's own venv."""

from __future__ import annotations

import math
import statistics


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: a p99 of 2,000 samples is a real sample, not an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def summary(values: list[float], pcts=(50, 90, 99)) -> dict[str, float]:
    return {f"p{p}": percentile(values, p) for p in pcts}
