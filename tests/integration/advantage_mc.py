"""Monte Carlo of the advantage a trainer gives each answer (claim C9), shared by the TRL and verl tests.

Groups of K answers are drawn i.i.d. from a known distribution p over M answers; each sample's reward is
``r(z) + scale * g(C)`` (a task reward plus the group reward the adapter computes). For an advantage of the
RLOO family (a leave-one-out or group mean, possibly times one number per batch) the mean advantage of an
answer is, by C9,

    E[A_i | z_i = z] = s * (t(z) - sum_z' p(z') t(z')),   t(z) = r(z) - beta * B_e(p(z)),

where s is the step size ((K - 1)/K for the group mean with the sample, 1 for RLOO), beta = -scale, and
B_e(p) = E g(X), X ~ Bin(K - 2, p), the mean of the *effective* table (the first K - 1 entries of g). The
advantage sums to zero over a group, which fixes the constant. What the user asked for is t with the
target of the table they chose: ``B_claim(p) = E g0(Bin(K - 1, p))`` of the plain table g0.

:func:`per_answer_means` estimates E[A | z] per answer with a ratio estimator over independent groups (the
samples of one group are dependent; groups are not), with delta-method standard errors; :func:`check`
compares with a prediction by the maximum |z| over the M answers against a Bonferroni threshold for a
family-wise false-alarm rate ``ALPHA``, and :func:`power` is the probability of flagging a given true miss.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, norm

#: the answer distribution, task rewards and group size of every Monte Carlo run
P = np.array([0.5, 0.25, 0.15, 0.10])
R = np.array([0.0, 1.0, 0.3, 0.6])
K = 6
BETA = 1.0
#: family-wise false-alarm rate of one check over the M answers (two-sided, Bonferroni)
ALPHA = 1e-3
Z_STAR = float(norm.ppf(1 - ALPHA / (2 * len(P))))
#: groups per run, and the smallest power accepted for detecting the uncorrected table's miss
GROUPS = 4000
POWER_MIN = 0.999


def draw(seed: int, groups: int = GROUPS) -> np.ndarray:
    """Answers [groups, K], i.i.d. from P."""
    return np.random.default_rng(seed).choice(len(P), size=(groups, K), p=P)


def bernstein_mean(values, m: int, p: np.ndarray) -> np.ndarray:
    """E values[X], X ~ Bin(m, p), for each p (values[0..m])."""
    c = np.arange(m + 1)
    return np.array([(np.asarray(values[:m + 1], dtype=np.float64) * binom.pmf(c, m, q)).sum() for q in p])


def predicted(target: np.ndarray, step: float) -> np.ndarray:
    """s * (t - sum p t) with t = R - BETA * target(P)."""
    t = R - BETA * target
    return step * (t - (P * t).sum())


@dataclass(frozen=True)
class Means:
    mean: np.ndarray  # [M]
    se: np.ndarray    # [M]
    samples: np.ndarray  # samples per answer


def per_answer_means(answers: np.ndarray, advantages: np.ndarray) -> Means:
    """Ratio estimator of E[A | z] per answer over groups (rows), with delta-method standard errors."""
    a = np.asarray(advantages, dtype=np.float64).reshape(answers.shape)
    G = answers.shape[0]
    mean, se, count = [], [], []
    for z in range(len(P)):
        hit = answers == z
        S, N = (a * hit).sum(axis=1), hit.sum(axis=1)
        m = S.sum() / N.sum()
        mean.append(m)
        se.append(np.sqrt(((S - m * N) ** 2).sum() / (G - 1) / G) / N.mean())
        count.append(int(N.sum()))
    return Means(np.array(mean), np.array(se), np.array(count))


def zscores(means: Means, prediction: np.ndarray) -> np.ndarray:
    return (means.mean - prediction) / means.se


def check(means: Means, prediction: np.ndarray) -> bool:
    """True when every answer's estimate is within Z_STAR standard errors of the prediction."""
    return bool(np.max(np.abs(zscores(means, prediction))) <= Z_STAR)


def power(means: Means, miss: np.ndarray) -> float:
    """Probability that :func:`check` flags a true miss ``miss`` [M] (normal approximation, the run's se)."""
    d = np.asarray(miss) / means.se
    inside = norm.cdf(Z_STAR - d) - norm.cdf(-Z_STAR - d)
    return float(1 - np.prod(inside))


def report(label: str, means: Means, prediction: np.ndarray, claim: np.ndarray | None = None) -> str:
    z = zscores(means, prediction)
    text = f"{label}: mean advantage per answer {np.round(means.mean, 4)}, se {np.round(means.se, 4)}, z {np.round(z, 2)}"
    if claim is not None:
        text += f"; z against the target {np.round(zscores(means, claim), 2)}"
    return text
