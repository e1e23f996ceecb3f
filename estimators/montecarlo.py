"""Monte Carlo harness: simulate groups, count from the answer arrays, apply a table.

The exact engines (:mod:`estimators.moments`) must agree with what this module measures.
Groups are i.i.d., samples inside a group are not, so statistics are formed per group:
for an answer z with probability p,

    S1 = sum_{i : z_i = z} g(C_i),   S2 = sum_{i : z_i = z} g(C_i)^2,
    E[S1] = K p B_g(p),              E[S2] = K p E[g(C)^2],

and the CLT over groups gives normal confidence intervals for B_g(p) and (by the delta
method) for V_g(p). Intervals are Bonferroni-corrected over all reported quantities so the
*family-wise* false-alarm rate is ``alpha`` (asymptotically).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ._validate import as_real, check_K, check_positive_int, check_real_array, check_unit_interval_open
from .table import Table

__all__ = ["leave_one_out_counts", "sample_groups", "check_answer_distribution", "MonteCarloResult",
           "monte_carlo", "Comparison", "GroupMoments", "check_seed", "check_min_expected", "MAX_BYTES",
           "MAX_SAMPLES", "batch_for_memory", "check_work"]

#: default memory budget of one Monte Carlo batch (bytes)
MAX_BYTES = 1 << 30
#: default work budget of one run: n_groups * K sampled answers (about a minute at the 4-5 million
#: samples/s measured on one core; the full report profile needs 1.3e8). Larger runs pass ``max_samples``.
MAX_SAMPLES = 1 << 28
#: bytes per simulated group: ~70 per sample (ids, counts, sort keys, rewards) and ~48 per answer
#: (the per-group sums), measured with tracemalloc, with margin
_BYTES_PER_SAMPLE = 96
_BYTES_PER_ANSWER = 64


def check_seed(seed, *, name: str = "seed") -> int:
    """Return ``seed`` as an int after checking it is a non-negative integer (numpy's requirement)."""
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be a non-negative integer, got {seed!r}")
    if int(seed) < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed}")
    return int(seed)


def check_min_expected(x, *, name: str = "min_expected") -> float:
    """Return ``x`` as a float after checking it is finite and >= 0."""
    allowed = "a finite number >= 0 (answers with fewer expected observations are not tested)"
    v = as_real(x, name=name, allowed=allowed)
    if v < 0:
        raise ValueError(f"{name} must be {allowed}, got {x!r}")
    return v


def batch_for_memory(K: int, m: int, batch: int, max_bytes: int) -> int:
    """Largest batch <= ``batch`` whose working memory stays within ``max_bytes``; a clear error when
    even one group does not fit."""
    per_group = _BYTES_PER_SAMPLE * K + _BYTES_PER_ANSWER * m
    fit = max_bytes // per_group
    if fit < 1:
        raise ValueError(f"max_bytes = {max_bytes} is too small for one group of K = {K} samples over {m} answers "
                         f"(needs about {per_group} bytes); raise max_bytes or use fewer answers")
    return int(min(batch, fit))


def check_work(n_groups: int, K: int, max_samples) -> int:
    """Refuse a run of more than ``max_samples`` sampled answers (n_groups * K) with a clear error."""
    max_samples = check_positive_int(max_samples, name="max_samples")
    work = n_groups * K
    if work > max_samples:
        raise ValueError(f"n_groups * K = {n_groups} * {K} = {work} sampled answers exceeds max_samples = {max_samples} "
                         f"(the default, {MAX_SAMPLES}, is about a minute on one core); use fewer groups, or pass a "
                         f"larger max_samples (and progress= to follow it) to run it")
    return max_samples


def leave_one_out_counts(answers) -> np.ndarray:
    """C[b, i] = #{j != i : answers[b, j] == answers[b, i]} for a [B, K] array of answers.

    Answers may be integers or strings (anything ``numpy.unique`` can sort); K >= 2.
    """
    a = np.asarray(answers)
    if a.ndim != 2:
        raise ValueError(f"answers must be a 2-D array [groups, K], got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError("answers must contain at least one group (got 0 rows)")
    check_K(a.shape[1], name="answers.shape[1] (K)")
    if a.dtype == object or a.dtype.kind not in "iuUSb":
        raise TypeError(f"answers must be an integer or string array, got dtype {a.dtype}")
    _, inv = np.unique(a, return_inverse=True)
    inv = inv.reshape(a.shape).astype(np.int64)
    n_unique = int(inv.max()) + 1
    key = np.arange(a.shape[0], dtype=np.int64)[:, None] * n_unique + inv
    _, kinv, kcounts = np.unique(key.ravel(), return_inverse=True, return_counts=True)
    return (kcounts[kinv] - 1).reshape(a.shape)


def check_answer_distribution(probs, *, name: str = "probs", tol: float = 1e-9) -> np.ndarray:
    """Return ``probs`` as float64 after checking it is a probability vector (sum within ``tol`` of 1)."""
    q = check_real_array(probs, name=name, allowed="a probability vector of real numbers")
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"{name} entries must be finite and in [0, 1]")
    if abs(q.sum() - 1.0) > tol:
        raise ValueError(f"{name} must sum to 1 (within {tol}), got sum {q.sum()!r}")
    return q


def sample_groups(probs, K, n_groups, rng) -> np.ndarray:
    """Draw ``n_groups`` groups of K i.i.d. answers (ids 0..m-1) from ``probs``; shape [n_groups, K]."""
    q = check_answer_distribution(probs)
    K = check_K(K)
    n_groups = check_positive_int(n_groups, name="n_groups")
    return rng.choice(q.size, size=(n_groups, K), p=q)


@dataclass
class Comparison:
    """Exact moments against Monte Carlo intervals, per answer.

    ``within`` is True for untested answers (too few expected observations); ``n_tested`` counts the
    tested ones, and ``all_within`` is False when nothing was tested (no evidence is not agreement).
    """

    z_mean: np.ndarray
    z_var: np.ndarray
    within: np.ndarray  # bool per answer: both quantities inside their intervals
    alpha: float
    n_tested: int = -1

    @property
    def all_within(self) -> bool:
        return bool(self.n_tested != 0 and np.all(self.within))


@dataclass
class MonteCarloResult:
    """Per-answer Monte Carlo estimates with simultaneous (1 - alpha) confidence intervals.

    Attributes
    ----------
    probs : answer probabilities; ``mean``, ``var`` : estimates of B_g(p), V_g(p);
    ``mean_se``, ``var_se`` : standard errors; ``z_crit`` : Bonferroni normal quantile;
    ``n_groups`` : sample size (groups); ``alpha`` : family-wise false-alarm rate;
    ``reported`` : answers with enough expected observations (``min_expected``) to be tested.
    """

    probs: np.ndarray
    K: int
    n_groups: int
    alpha: float
    z_crit: float
    mean: np.ndarray
    mean_se: np.ndarray
    var: np.ndarray
    var_se: np.ndarray
    reported: np.ndarray
    seed: int | None = None
    notes: list = field(default_factory=list)

    def interval(self, which: str = "mean") -> tuple[np.ndarray, np.ndarray]:
        est, se = (self.mean, self.mean_se) if which == "mean" else (self.var, self.var_se)
        return est - self.z_crit * se, est + self.z_crit * se

    def compare(self, exact_mean, exact_var) -> Comparison:
        """z-scores of exact values against the estimates; within = |z| <= z_crit for both.

        ``exact_mean`` and ``exact_var`` need one finite value per answer (``len(probs)``).
        """
        em = self._check_exact(exact_mean, "exact_mean")
        ev = self._check_exact(exact_var, "exact_var")
        with np.errstate(divide="ignore", invalid="ignore"):
            zm = np.where(self.mean_se > 0, (self.mean - em) / self.mean_se, np.where(np.isclose(self.mean, em, rtol=1e-12, atol=1e-12), 0.0, np.inf))
            zv = np.where(self.var_se > 0, (self.var - ev) / self.var_se, np.where(np.isclose(self.var, ev, rtol=1e-12, atol=1e-12), 0.0, np.inf))
        within = (np.abs(zm) <= self.z_crit) & (np.abs(zv) <= self.z_crit)
        within = np.where(self.reported, within, True)
        return Comparison(zm, zv, within, self.alpha, int(np.sum(self.reported)))

    def _check_exact(self, x, name: str) -> np.ndarray:
        a = check_real_array(x, name=name, allowed=f"{self.probs.size} real numbers (one per answer)")
        if a.shape != self.probs.shape:
            raise ValueError(f"{name} must have one value per answer, shape {self.probs.shape}; got shape {a.shape}")
        if not np.all(np.isfinite(a[self.reported])):
            raise ValueError(f"{name} must be finite for every tested answer")
        return a


class GroupMoments:
    """Running per-answer mean and centred (co)moments of the group statistics (S1, S2).

    Batches are merged with the pairwise update of Chan, Golub and LeVeque, so no raw sums of
    squares are subtracted (tables with large entries would cancel catastrophically). The torch
    harness feeds the same accumulator with batch statistics computed on the device.
    """

    def __init__(self, m: int):
        self.n = 0
        self.mean = np.zeros((2, m))
        self.C = np.zeros((3, m))  # centred sums: S1S1, S2S2, S1S2

    def merge(self, n_b: int, mean_b: np.ndarray, C_b: np.ndarray) -> None:
        """Merge a batch of ``n_b`` groups with means ``mean_b`` [2, m] and centred sums ``C_b`` [3, m]."""
        tot = self.n + n_b
        d = mean_b - self.mean
        w = self.n * n_b / tot
        self.C += C_b + w * np.stack([d[0] * d[0], d[1] * d[1], d[0] * d[1]])
        self.mean += d * (n_b / tot)
        self.n = tot

    def update(self, s1: np.ndarray, s2: np.ndarray) -> None:
        """Merge per-group statistics ``s1``, ``s2`` of shape [b, m]."""
        mu = np.stack([s1.mean(0), s2.mean(0)])
        d1, d2 = s1 - mu[0], s2 - mu[1]
        self.merge(s1.shape[0], mu, np.stack([(d1 * d1).sum(0), (d2 * d2).sum(0), (d1 * d2).sum(0)]))

    def finish(self, q: np.ndarray, K: int, *, alpha: float, min_expected: float, seed=None,
               note: str = "") -> "MonteCarloResult":
        """Estimates of B_g(p), V_g(p) per answer, with Bonferroni normal intervals (see module docstring)."""
        N = self.n
        if N < 2:
            raise ValueError(f"n_groups must be >= 2 to form intervals, got {N}")
        m1, m2 = self.mean
        c11, c22, c12 = self.C / (N - 1)
        scale = np.where(q > 0, K * q, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            B = m1 / scale
            V = m2 / scale - B ** 2
            se_B = np.sqrt(np.maximum(c11, 0) / N) / scale
            # delta method: V = M2 - B^2, gradient (-2B, 1) w.r.t. (B, M2)
            varV = (4 * B ** 2 * c11 - 4 * B * c12 + c22) / (N * scale ** 2)
            se_V = np.sqrt(np.maximum(varV, 0))
        reported = (q > 0) & (N * K * q >= min_expected)
        n_tests = max(1, 2 * int(reported.sum()))
        z = float(stats.norm.isf(alpha / (2 * n_tests)))
        notes = [f"{note}{N} groups of K={K}; normal intervals over groups, Bonferroni over {n_tests} "
                 f"quantities, family-wise false-alarm rate {alpha:g}"]
        return MonteCarloResult(q, K, N, alpha, z, B, se_B, V, se_V, reported, seed, notes)


def monte_carlo(table: Table, probs, n_groups: int, *, seed: int, alpha: float = 1e-3,
                batch: int = 65536, min_expected: float = 200.0, max_bytes: int = MAX_BYTES,
                max_samples: int = MAX_SAMPLES, progress=None) -> MonteCarloResult:
    """Estimate B_g(p) and V_g(p) for every answer by simulating ``n_groups`` groups.

    Parameters
    ----------
    table : Table           the estimator (K = table.K samples per group)
    probs : array [m]       answer distribution
    n_groups : int          number of simulated groups (the Monte Carlo sample size)
    seed : int              seed of ``numpy.random.default_rng`` (required: runs are reproducible)
    alpha : float           family-wise false-alarm rate over the 2*m intervals (Bonferroni)
    batch : int             groups simulated at once (at most; reduced to fit ``max_bytes``)
    min_expected : float    answers with fewer expected observations n_groups*K*p are not tested
                            (the normal approximation is not trusted there); see ``reported``.
                            Finite, >= 0.
    max_bytes : int         memory budget of one batch (default 1 GiB): the batch is reduced to
                            max_bytes / (96 K + 64 m) groups
    max_samples : int       work budget: n_groups * K sampled answers (default :data:`MAX_SAMPLES`, about a
                            minute); a larger run is refused with a clear error unless this is raised
    progress : callable     ``progress(done, n_groups)``, called after each batch (or None)
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators.Table, got {type(table).__name__}")
    q = check_answer_distribution(probs)
    n_groups = check_positive_int(n_groups, name="n_groups", minimum=2)
    alpha = check_unit_interval_open(alpha, name="alpha")
    batch = check_positive_int(batch, name="batch")
    seed = check_seed(seed)
    min_expected = check_min_expected(min_expected)
    max_bytes = check_positive_int(max_bytes, name="max_bytes")
    K, m = table.K, q.size
    check_work(n_groups, K, max_samples)
    batch = batch_for_memory(K, m, batch, max_bytes)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(done, n_groups) or None, got {type(progress).__name__}")
    rng = np.random.default_rng(seed)
    g = table.values
    acc = GroupMoments(m)
    done = 0
    while done < n_groups:
        b = min(batch, n_groups - done)
        ids = sample_groups(q, K, b, rng)
        r = g[leave_one_out_counts(ids)]
        rows = np.repeat(np.arange(b), K)
        s1 = np.zeros((b, m))
        s2 = np.zeros((b, m))
        np.add.at(s1, (rows, ids.ravel()), r.ravel())
        np.add.at(s2, (rows, ids.ravel()), (r * r).ravel())
        acc.update(s1, s2)
        done += b
        if progress is not None:
            progress(done, n_groups)
    return acc.finish(q, K, alpha=alpha, min_expected=min_expected, seed=seed)
