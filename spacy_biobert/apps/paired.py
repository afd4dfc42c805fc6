"""Paired differences between two start points over the same seeds: the mean,
its confidence interval (Student's t with n - 1 degrees of freedom) and how
many pairs favour each side.

Seeds pair the runs: the same seed gives both start points the same data order,
dropout masks and output-layer initialisation, so the per-seed difference
removes that part of the noise; the interval is the usual paired t interval.
"""

import math
from typing import Dict, Optional, Sequence, Tuple


def _t_pdf(x: float, df: int) -> float:
    c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(c - (df + 1) / 2 * math.log1p(x * x / df))


def _t_cdf_from_zero(x: float, df: int, intervals: int = 2000) -> float:
    """P(0 <= T <= x) for x >= 0 (Simpson's rule; exact to ~1e-10 here)."""
    h = x / intervals
    total = _t_pdf(0.0, df) + _t_pdf(x, df)
    for i in range(1, intervals):
        total += (4 if i % 2 else 2) * _t_pdf(i * h, df)
    return total * h / 3


def t_critical(df: int, confidence: float = 0.95) -> float:
    """Two-sided critical value of Student's t: P(|T| <= t) = confidence."""
    if df < 1 or not 0 < confidence < 1:
        raise ValueError(f"t_critical needs df >= 1 and 0 < confidence < 1, got {df}, {confidence}")
    target = confidence / 2
    lo, hi = 0.0, 1.0
    while _t_cdf_from_zero(hi, df) < target:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if _t_cdf_from_zero(mid, df) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (None for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Dict[str, Optional[float]]:
    """b − a over pairs (same seed): mean, sample std, the confidence interval
    of the mean (None below two pairs), and the pairs where b is better / worse.

    RETURNS (Dict[str, Optional[float]]): n, mean, std, ci_low, ci_high,
        confidence, b_better, b_worse.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_difference needs two equally long, non-empty lists, got {len(a)} and {len(b)}")
    diff = [y - x for x, y in zip(a, b)]
    n = len(diff)
    mean, std = mean_std(diff)
    ci_low = ci_high = None
    if std is not None:
        half = t_critical(n - 1, confidence) * std / math.sqrt(n)
        ci_low, ci_high = mean - half, mean + half
    return {
        "n": n, "mean": mean, "std": std, "ci_low": ci_low, "ci_high": ci_high, "confidence": confidence,
        "b_better": sum(1 for d in diff if d > 0), "b_worse": sum(1 for d in diff if d < 0),
    }
