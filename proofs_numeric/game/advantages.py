"""Advantages of the sampled traces of a group, and what each does to the expected dynamics.

Sample i of a group of K has answer z_i, leave-one-out count C_i and reward
R_i = r(z_i) - beta * g(C_i) (the table's dropped constant is the same for every sample, so
it cancels in every advantage below and is left out). Three advantages:

``decoupled``
    R_i - b_i with b_i the mean over the others j != i of r(z_j) - beta * g(C_j^(-i)), where
    C_j^(-i) counts z_j among the group *without sample i*. b_i depends on the other K - 1
    samples only, so it adds no bias: E[A_i | z_i = z] = r(z) - beta * B_g(p(z)) + const and the
    expected dynamics stop where r - beta * B_g(p) = lambda (docs/claims.md, C7(a)).
``rloo``
    R_i - mean_{j != i} R_j, the usual leave-one-out baseline. The others' rewards depend on
    z_i through their counts (C_j counts sample i when z_j = z_i), so the baseline is correlated
    with the sample it is subtracted from: E[A_i | z_i = z] = r(z) - beta * B_h(p(z)) + const with
    the *effective table* h(c) = ((n - c) g(c) + c g(c - 1)) / n, i.e. B_h = B_g - p B_g' / n
    (n = K - 1), the polynomial E g(X) with X ~ Bin(K - 2, p): the trainer applies g(0..K-2) as a table
    for K - 1 samples (C9). The fixed point moves by O(1/K) even for an unbiased table; at K = 2 the
    diversity term cancels entirely (h is constant).
``grpo``
    (R_i - mean_j R_j) / (std_j R_j + eps), GRPO's group-normalised advantage (unbiased sample
    std over the K samples, eps = 1e-4 as in TRL). The per-group scale 1/std depends on the
    composition of the group, so the expected advantage is not of the form r - beta * u(p(z)):
    its fixed point is found by exact enumeration of group compositions (:mod:`.expected`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from estimators import Table
from estimators.advantages import effective_coefficients

__all__ = ["ADVANTAGES", "GRPO_EPS", "GroupSums", "advantage", "effective_table", "check_advantage"]

ADVANTAGES = {
    "decoupled": "leave-one-out baseline from the others' rewards recounted without sample i (no bias)",
    "rloo": "leave-one-out baseline: mean of the others' rewards (correlated with sample i through the counts)",
    "grpo": "GRPO: (R_i - group mean) / (group std + 1e-4), std with K - 1 degrees of freedom",
}
GRPO_EPS = 1e-4


def check_advantage(kind) -> str:
    if kind not in ADVANTAGES:
        raise ValueError(f"advantage must be one of {sorted(ADVANTAGES)}, got {kind!r}")
    return kind


@dataclass
class GroupSums:
    """Per-group sums over the K samples that the advantages need (broadcast against samples).

    ``R`` = sum_j R_j, ``r`` = sum_j r(z_j), ``g`` = sum_j g(C_j), ``css`` = sum_j (R_j - mean R)^2.
    """

    R: np.ndarray
    r: np.ndarray
    g: np.ndarray
    css: np.ndarray


def advantage(kind: str, *, R, r_i, g_i, g_minus_i, C_i, sums: GroupSums, beta: float, K: int) -> np.ndarray:
    """Advantage of sample i (arrays broadcast together; ``sums`` per group).

    ``g_minus_i`` is g(C_i - 1) (any finite value where C_i = 0: it is multiplied by C_i).
    """
    n = K - 1
    if kind == "rloo":
        return (K * R - sums.R) / n
    if kind == "decoupled":
        # sum over j != i of g(C_j^(-i)): the C_i others with z_j = z_i lose one count, the rest keep theirs
        others_g = sums.g - (C_i + 1) * g_i + C_i * g_minus_i
        baseline = ((sums.r - r_i) - beta * others_g) / n
        return R - baseline
    if kind == "grpo":
        std = np.sqrt(sums.css / n)
        return (R - sums.R / K) / (std + GRPO_EPS)
    raise ValueError(f"advantage must be one of {sorted(ADVANTAGES)}, got {kind!r}")


def effective_table(table: Table, kind: str) -> list[Fraction] | None:
    """Bernstein coefficients h (degree K - 1, exact rationals, from the stored float64 entries) of the mean
    u = B_h that the expected dynamics with this advantage equalise across the support; None for ``grpo``.

    ``decoupled``: h = g. ``rloo``: h(c) = ((n - c) g(c) + c g(c - 1)) / n, the polynomial E g(X),
    X ~ Bin(K - 2, p) (:func:`estimators.advantages.effective_coefficients`, C9).
    """
    check_advantage(kind)
    if kind == "grpo":
        return None
    return effective_coefficients([Fraction(float(v)) for v in table.values], kind)
