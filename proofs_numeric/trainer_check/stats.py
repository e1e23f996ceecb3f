"""End points of trained policies over seeds, their simultaneous intervals, and the comparison with predictions.

Per seed, the end point is the mean of the policy's answer distribution over the last ``last`` steps. Over S
seeds (independent runs) the trained point is the mean end point; its interval per answer is Student's t with
S - 1 degrees of freedom at level 1 - alpha/m for each of the m answers (Bonferroni), so the m intervals hold
together with probability >= 1 - alpha for the mean end point of the trainer (the estimand: what the trainer's
run reaches on average, at this run length). TV to a point q then lies within TV(trained, q) +- sum(h)/2 (h the
half-widths): |TV(mu, q) - TV(x, q)| <= TV(mu, x) <= sum(h)/2 when mu is in the box.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["LEVEL", "end_points", "seed_interval", "compare_to", "segment_position", "pair_verdict",
           "total_variation"]

#: simultaneous confidence level of the intervals over seeds
LEVEL = 0.95


def total_variation(p, q) -> float:
    return 0.5 * float(np.abs(np.asarray(p, dtype=np.float64) - np.asarray(q, dtype=np.float64)).sum())


def end_points(histories, last: int) -> np.ndarray:
    """[S, m]: each seed's policy averaged over its last ``last`` readings (``histories``: [S, steps + 1, m])."""
    H = np.asarray(histories, dtype=np.float64)
    if H.ndim != 3:
        raise ValueError(f"histories must be [seeds, steps + 1, answers], got shape {H.shape}")
    if not isinstance(last, (int, np.integer)) or isinstance(last, bool) or not 1 <= last <= H.shape[1] - 1:
        raise ValueError(f"last must be an integer in [1, steps] = [1, {H.shape[1] - 1}], got {last!r}")
    return H[:, -last:, :].mean(axis=1)


def seed_interval(ends, level: float = LEVEL) -> dict:
    """Mean end point over seeds with simultaneous (Bonferroni) Student-t intervals per answer."""
    E = np.asarray(ends, dtype=np.float64)
    S, m = E.shape
    if S < 2:
        raise ValueError(f"an interval over seeds needs seeds >= 2, got {S}")
    mean = E.mean(axis=0)
    se = E.std(axis=0, ddof=1) / np.sqrt(S)
    t = float(stats.t.ppf(1 - (1 - level) / (2 * m), S - 1))
    half = t * se
    return {"mean": mean.tolist(), "lower": (mean - half).tolist(), "upper": (mean + half).tolist(),
            "half_width": half.tolist(), "std_error": se.tolist(), "level": level, "t_quantile": t,
            "per_seed": E.tolist(),
            "interval": f"simultaneous {level:.0%} over the {m} answers (Bonferroni), Student t with {S - 1} "
                        f"degrees of freedom over {S} seeds"}


def compare_to(interval: dict, q) -> dict:
    """TV from the trained mean to ``q`` with its interval, and whether ``q`` lies in the trained box."""
    mean, half = np.asarray(interval["mean"]), np.asarray(interval["half_width"])
    q = np.asarray(q, dtype=np.float64)
    tv = total_variation(mean, q)
    slack = 0.5 * float(half.sum())
    z = np.abs(mean - q) / np.where(half > 0, half, np.inf)
    return {"tv": tv, "tv_lower": max(0.0, tv - slack), "tv_upper": tv + slack,
            "inside": bool(np.all(np.abs(mean - q) <= half)), "max_standardised": float(z.max())}


def segment_position(ends, own, other, level: float = LEVEL) -> dict:
    """Where the seeds' end points lie along the segment from ``own`` (0) to ``other`` (1): the projection
    lambda_s = <e_s - own, other - own> / |other - own|^2 per seed, its mean and two-sided Student-t interval
    (S - 1 degrees of freedom). One number per seed, so noise common to both distances cancels."""
    E = np.asarray(ends, dtype=np.float64)
    a, b = np.asarray(own, dtype=np.float64), np.asarray(other, dtype=np.float64)
    d = b - a
    dd = float(d @ d)
    if dd == 0:
        raise ValueError("the two predicted points coincide: no segment between them")
    lam = (E - a) @ d / dd
    S = lam.size
    mean = float(lam.mean())
    half = float(stats.t.ppf(0.5 + level / 2, S - 1) * lam.std(ddof=1) / np.sqrt(S))
    return {"mean": mean, "lower": mean - half, "upper": mean + half, "per_seed": lam.tolist(), "level": level,
            "what": "0 = own predicted point, 1 = the other side's predicted point"}


def pair_verdict(own: dict, other: dict, position: dict) -> dict:
    """Does a run land on its own prediction and measurably away from the other's?

    ``on_own``: the TV interval to its own predicted point reaches 0 (TV(trained, own) <= sum(h)/2);
    ``away_from_other``: the TV interval to the other's excludes 0; ``closer_to_own``: along the segment between
    the two predictions the interval lies below 1/2. ``inside_box`` (stricter, reported): the own point lies in
    every answer's interval.
    """
    checks = {"on_own": own["tv_lower"] == 0.0, "away_from_other": other["tv_lower"] > 0.0,
              "closer_to_own": position["upper"] < 0.5}
    return {**checks, "agrees": all(checks.values()), "inside_box": own["inside"],
            "segment_contains_own": position["lower"] <= 0.0 <= position["upper"]}
