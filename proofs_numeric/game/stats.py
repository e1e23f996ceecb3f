"""Statistics over seeds for the game's convergence measurements (claim C7).

Seeds are independent runs, so every interval is formed across seeds (never across the correlated
steps of one run). Three rules hold for everything here:

* **Every interval contains its estimate by construction** (Student-t intervals are centred on the
  mean; quantile intervals are order statistics that bracket the estimate's rank; bootstrap intervals
  are symmetric about the estimate on the scale they are formed on).
* **Pairs stay pairs.** Methods run with the same seeds see the same random numbers
  (:mod:`.engine`), so a comparison resamples *seed indices*, once, for both methods.
* **Discrete statistics say when they tie.** First-passage times are integers: a comparison counts
  the seeds where one method gets there first, where both get there at the same step, and where
  neither does, instead of dividing two medians.

First passage: the first recorded step at which a seed's error is at or below the target (inf when it
never is). It does not jump when a seed-mean curve hovers near the target, which the "last time above"
statistic did.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["mean_interval", "simultaneous_mean_interval", "mean_band", "first_passage", "quantile_interval",
           "passage_summary", "paired_indices", "ratio_of_means", "compare_passage", "clopper_pearson"]


def _check_level(level: float) -> float:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


def mean_interval(x, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``x`` (1-D, over seeds) with a Student-t interval; (mean, -inf, inf) with fewer than 2 values."""
    x = np.asarray(x, dtype=np.float64)
    _check_level(level)
    mean = float(x.mean())
    if x.size < 2:
        return mean, -math.inf, math.inf
    hw = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - hw, mean + hw


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


def first_passage(err, steps, target: float) -> np.ndarray:
    """Per seed, the first recorded step with ``err`` <= ``target`` (inf when none); ``err`` [S, R] or [R]."""
    err = np.atleast_2d(np.asarray(err, dtype=np.float64))
    steps = np.asarray(steps, dtype=np.float64)
    if err.shape[-1] != steps.size:
        raise ValueError(f"err has {err.shape[-1]} recorded steps but steps has {steps.size}")
    below = err <= target
    first = np.argmax(below, axis=1)
    return np.where(below.any(axis=1), steps[first], np.inf)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion k / n."""
    a = (1 - _check_level(level)) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def quantile_interval(x, q: float = 0.5, level: float = 0.95) -> dict:
    """The q-quantile of ``x`` as an order statistic, with a distribution-free interval of order statistics.

    Estimate: x_(e) with e = ceil(n q) (1-based). Interval: [x_(j), x_(k)] with j, k from the Binomial(n, q)
    quantiles, widened to bracket e, so it contains the estimate; for continuous data it covers the true
    quantile with probability ``coverage`` = P(j <= Bin(n, q) < k) >= level where n allows (reported), and
    at least that with ties. Values may be inf (a seed that never reached a target): the quantile is then
    inf when more than a fraction 1 - q of the seeds are.
    """
    x = np.sort(np.asarray(x, dtype=np.float64).ravel())
    n = x.size
    if n == 0:
        raise ValueError("quantile_interval needs at least one value")
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    level = _check_level(level)
    e = min(max(math.ceil(n * q), 1), n)
    j = int(stats.binom.ppf((1 - level) / 2, n, q))          # P(Bin < j) <= (1 - level) / 2
    k = int(stats.binom.ppf((1 + level) / 2, n, q)) + 1
    j, k = min(max(j, 1), e), max(min(k, n), e)
    coverage = float(stats.binom.cdf(k - 1, n, q) - stats.binom.cdf(j - 1, n, q))
    return {"estimate": float(x[e - 1]), "lo": float(x[j - 1]), "hi": float(x[k - 1]), "ranks": (j, e, k),
            "coverage": coverage, "n": n}


def passage_summary(tau, level: float = 0.95) -> dict:
    """First-passage times of the seeds: how many reach the target (with an exact interval for the fraction)
    and the median time with its order-statistic interval (inf when fewer than half reach it)."""
    tau = np.asarray(tau, dtype=np.float64)
    n = tau.size
    k = int(np.isfinite(tau).sum())
    lo, hi = clopper_pearson(k, n, level)
    med = quantile_interval(tau, 0.5, level)
    return {"seeds": n, "reached": k, "fraction_reached": k / n, "fraction_lo": lo, "fraction_hi": hi,
            "median": med["estimate"], "median_lo": med["lo"], "median_hi": med["hi"],
            "median_coverage": med["coverage"], "level": level}


def paired_indices(n_seeds: int, n_boot: int, rng) -> np.ndarray:
    """[n_boot, n_seeds] resampled seed indices: one draw, applied to every method that shares the seeds."""
    if n_seeds < 2:
        raise ValueError(f"a bootstrap over seeds needs at least 2 seeds, got {n_seeds}")
    return rng.integers(0, n_seeds, size=(n_boot, n_seeds))


def ratio_of_means(a, b, idx: np.ndarray, level: float = 0.95) -> dict:
    """mean(a) / mean(b) for paired per-seed values (a[s], b[s] from the same seed s), with a paired bootstrap
    interval symmetric on the log scale: exp(log r +- q), q the ``level`` quantile of |log r* - log r| over
    the replicates ``idx`` (:func:`paired_indices`). It contains the estimate; ``degenerate`` when every
    replicate equals it to 1e-12 (the interval is then the point itself, e.g. proportional runs)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be per-seed values of the same seeds, got shapes {a.shape} and {b.shape}")
    level = _check_level(level)
    ma, mb = float(a.mean()), float(b.mean())
    if not (ma > 0 and mb > 0 and np.isfinite(ma) and np.isfinite(mb)):
        return {"ratio": (ma / mb) if mb else math.nan, "lo": math.nan, "hi": math.nan, "degenerate": False,
                "level": level, "note": "ratio interval needs positive finite means"}
    r = ma / mb
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = np.log(a[idx].mean(axis=1)) - np.log(b[idx].mean(axis=1))
    dev = np.abs(reps - math.log(r))
    dev = np.where(np.isfinite(dev), dev, np.inf)
    q = float(np.quantile(dev, level, method="higher"))
    return {"ratio": r, "lo": r * math.exp(-q) if math.isfinite(q) else 0.0,
            "hi": r * math.exp(q) if math.isfinite(q) else math.inf,
            "degenerate": bool(q <= 1e-12), "level": level, "n_boot": int(idx.shape[0])}


def compare_passage(tau_a, tau_b, level: float = 0.95) -> dict:
    """Paired first-passage times of two methods over the same seeds.

    Counts the seeds where a gets there first, where both get there at the same step (a tie), where b does,
    and where neither does within the run; a two-sided sign test on the untied pairs; the median paired
    difference tau_a - tau_b with its order-statistic interval (over the seeds where at least one reaches;
    inf - finite = inf). ``outcome``: "a first" / "b first" (sign test at 1 - level), "tie" (every seed
    tied or neither reached), otherwise "no significant difference".
    """
    a = np.asarray(tau_a, dtype=np.float64)
    b = np.asarray(tau_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"tau_a and tau_b must cover the same seeds, got shapes {a.shape} and {b.shape}")
    level = _check_level(level)
    neither = ~np.isfinite(a) & ~np.isfinite(b)
    a_first = int(((a < b) & ~neither).sum())
    b_first = int(((b < a) & ~neither).sum())
    ties = int(((a == b) & ~neither).sum())
    n = a.size
    untied = a_first + b_first
    p = float(stats.binomtest(a_first, untied, 0.5).pvalue) if untied else 1.0
    if untied == 0:
        outcome = "tie"
    elif p < 1 - level:
        outcome = "a first" if a_first > b_first else "b first"
    else:
        outcome = "no significant difference"
    some = ~neither
    med = quantile_interval(a[some] - b[some], 0.5, level) if some.any() else None
    return {"seeds": n, "a_first": a_first, "ties": ties, "b_first": b_first, "neither": int(neither.sum()),
            "sign_test_p": p, "outcome": outcome, "level": level,
            "median_difference": None if med is None else med["estimate"],
            "median_difference_lo": None if med is None else med["lo"],
            "median_difference_hi": None if med is None else med["hi"]}
