"""Confidence intervals over seeds: means, simultaneous intervals, steps to a target error.

Seeds are independent runs, so every interval here is formed across seeds (never across the
correlated steps of one run).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["mean_band", "simultaneous_mean_interval", "steps_to_target", "bootstrap_steps_to_target",
           "ratio_interval"]


def mean_band(x: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over axis 0 and a pointwise Student-t interval (level ``level``) per remaining entry."""
    x = np.asarray(x, dtype=np.float64)
    S = x.shape[0]
    mean = x.mean(axis=0)
    if S < 2:
        return mean, np.full_like(mean, -np.inf), np.full_like(mean, np.inf)
    hw = stats.t.ppf(0.5 + level / 2, S - 1) * x.std(axis=0, ddof=1) / np.sqrt(S)
    return mean, mean - hw, mean + hw


def simultaneous_mean_interval(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean over seeds (axis 0) of ``x`` [S, m] with Student-t half-widths, Bonferroni over the m
    columns: all m intervals hold together with probability >= 1 - alpha (asymptotically)."""
    x = np.asarray(x, dtype=np.float64)
    S, m = x.shape
    if S < 2:
        raise ValueError(f"need at least 2 seeds for an interval, got {S}")
    q = float(stats.t.ppf(1 - alpha / (2 * m), S - 1))
    return x.mean(axis=0), q * x.std(axis=0, ddof=1) / np.sqrt(S), q


def steps_to_target(curve: np.ndarray, steps: np.ndarray, target: float) -> float:
    """First recorded step from which ``curve`` stays <= ``target`` to the end; inf when it ends above."""
    curve = np.asarray(curve)
    above = np.flatnonzero(curve > target)
    if above.size == 0:
        return float(steps[0])
    last = above[-1]
    return float("inf") if last == curve.size - 1 else float(steps[last + 1])


def bootstrap_steps_to_target(err: np.ndarray, steps: np.ndarray, target: float, *, n_boot: int, rng,
                              level: float = 0.95) -> dict:
    """Steps until the *mean* error over seeds stays below ``target``, with a percentile bootstrap
    interval over seeds (``err`` [S, R]); replicates are kept for ratios between methods."""
    err = np.asarray(err, dtype=np.float64)
    S = err.shape[0]
    est = steps_to_target(err.mean(axis=0), steps, target)
    w = rng.multinomial(S, np.full(S, 1.0 / S), size=n_boot) / S     # resampled seed weights
    curves = w @ err
    reps = np.array([steps_to_target(c, steps, target) for c in curves])
    q = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], method="lower")
    lo, hi = float(q[0]), float(q[1])
    return {"target": target, "steps": est, "lo": lo, "hi": hi, "level": level, "n_boot": n_boot,
            "reached_fraction_of_replicates": float(np.mean(np.isfinite(reps))), "replicates": reps}


def ratio_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of a / b from independent bootstrap replicates (inf / inf counts as undefined
    and widens the interval to [0, inf])."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = a / b
    if np.isnan(r).any():
        return 0.0, float("inf")
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2], method="lower")
    return float(lo), float(hi)
