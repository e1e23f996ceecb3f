"""The Arb certificate itself (claim C3): rigorous, tight, and honest about failures."""
from __future__ import annotations

import random
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from flint import arb, arb_poly, ctx

from estimators.generators import kl, power
from estimators.minimax import remez
from estimators.minimax.certify import (bernstein_from_cheb, dvp_lower, error_at, float_down, float_up,
                                        poly_u_from_bernstein, sup_upper)


def _dense_max(Pu, target, n=20001):
    """Grid maximum of |e| (a lower bound of the sup), evaluated in Arb midpoints."""
    th = np.linspace(0, np.pi, n)
    ps = np.unique(np.concatenate([0.5 * (1 - np.cos(th)), np.geomspace(1e-12, 1e-1, 1500)]))
    return max(abs(float(error_at(Pu, target, arb(float(p))).mid())) for p in ps)


@pytest.mark.slow
@pytest.mark.parametrize("kind, alpha", [("kl", None), ("power", 0.5), ("power", 2.5)])
def test_C3_sup_bound_is_an_upper_bound_for_perturbed_polynomials(kind, alpha):
    """Perturb the best approximation so its extrema move away from the solver's hints: the
    certified bound must still dominate a dense grid maximum, and cover [0, 1] without gaps."""
    target = (kl() if kind == "kl" else power(alpha)).certified_target()
    K = 14
    sol = remez(target, K - 1, constrained=True)
    hints = [float(x.mid()) for x in sol.points]
    E = float(sol.levelled)
    with ctx.workprec(300):
        g = bernstein_from_cheb(sol.coeffs, 300)
        P0 = poly_u_from_bernstein(g)
        for seed in range(2):
            rng = random.Random(seed)
            bump = arb_poly([arb(rng.uniform(-1, 1)) for _ in range(K)]) * arb_poly([arb(0.5), arb(0.5)])
            Pu = P0 + bump * arb(0.4 * E / K)
            leaves = []
            up, L, count, depth, limited = sup_upper(Pu, target, hints, leaves=leaves)
            grid = _dense_max(Pu, target)
            assert float(up) >= grid
            assert float(L) <= float(up)
            assert float(up) / grid - 1 < 1e-4   # tight, too
            leaves.sort()
            assert leaves[0][0] == 0.0 and leaves[-1][1] == 1.0
            assert all(a[1] == b[0] for a, b in zip(leaves, leaves[1:])), "the partition has a gap"
            assert not limited


def test_C3_sup_bound_detects_a_spike_between_hints():
    """A narrow spike the hints know nothing about is still found (branch and bound)."""
    target = kl().certified_target()
    sol = remez(target, 9, constrained=True)
    hints = [float(x.mid()) for x in sol.points]
    E = float(sol.levelled)
    with ctx.workprec(300):
        P0 = poly_u_from_bernstein(bernstein_from_cheb(sol.coeffs, 300))
        # + 3E * ((1+u)/2)^40 : a steep bump near p = 1 of height 3E (constrained form keeps P(0) = 0)
        spike = arb_poly([arb(0.5), arb(0.5)]) ** 40 * arb(3 * E)
        up, *_ = sup_upper(P0 + spike, target, hints)
        assert float(up) >= _dense_max(P0 + spike, target) >= 3.5 * E


def test_C3_dvp_lower_requires_alternation():
    target = kl().certified_target()
    sol = remez(target, 5, constrained=True)
    with ctx.workprec(200):
        P0 = poly_u_from_bernstein(bernstein_from_cheb(sol.coeffs, 200))
        lo, vals = dvp_lower(P0, target, sol.points, degree=6, constrained=True)
        assert lo is not None and lo > 0
        assert abs(float(lo) / float(sol.levelled) - 1) < 1e-20
        # adding 4E p (still in the space) destroys alternation where p > 1/2: no bound is claimed
        shifted = P0 + arb_poly([arb(1), arb(1)]) * arb(2 * float(sol.levelled))
        lo2, _ = dvp_lower(shifted, target, sol.points, degree=6, constrained=True)
        assert lo2 is None


def test_C3_lower_bound_is_below_any_polynomial_error():
    """de la Vallee Poussin against brute force: random members of the space (near the optimum)
    never have a smaller dense-grid error than the certified lower bound."""
    target = kl().certified_target()
    sol = remez(target, 6, constrained=True)
    with ctx.workprec(200):
        P0 = poly_u_from_bernstein(bernstein_from_cheb(sol.coeffs, 200))
        lo, _ = dvp_lower(P0, target, sol.points, degree=7, constrained=True)
        rng = random.Random(3)
        for _ in range(5):
            d = arb_poly([arb(rng.uniform(-1, 1) * 1e-4) for _ in range(7)]) * arb_poly([arb(0.5), arb(0.5)])
            assert _dense_max(P0 + d, target, n=4001) >= float(lo) * (1 - 1e-12)


def test_directed_float_rounding():
    with ctx.workprec(200):
        x = arb(1) / 3
        assert Fraction(float_down(x)) <= Fraction(1, 3) <= Fraction(float_up(x))
        assert float_up(x) == np.nextafter(float_down(x), 1)
        y = arb(0.25)
        assert float_down(y) == float_up(y) == 0.25


def test_flint_precision_is_restored():
    before = ctx.prec
    remez(kl().certified_target(), 7, constrained=True)
    assert ctx.prec == before


def test_bernstein_conversion_matches_mpmath():
    """Chebyshev -> Bernstein conversion against a direct mpmath evaluation of Q at random p."""
    target = kl().certified_target()
    sol = remez(target, 11, constrained=True)
    with ctx.workprec(300):
        g = bernstein_from_cheb(sol.coeffs, 300)
        cs = [c.mid().str(60, radius=False, more=True) for c in sol.coeffs]
        gs = [x.mid().str(60, radius=False, more=True) for x in g]
    n = 11
    with mpmath.workdps(60):
        coeffs = [mpmath.mpf(c) for c in cs]
        gm = [mpmath.mpf(x) for x in gs]
        for p in (mpmath.mpf("0.013"), mpmath.mpf("0.5"), mpmath.mpf("0.97")):
            q_cheb = mpmath.fsum(c * mpmath.chebyt(j, 2 * p - 1) for j, c in enumerate(coeffs))
            q_bern = mpmath.fsum(gm[c] * mpmath.binomial(n, c) * p ** c * (1 - p) ** (n - c) for c in range(n + 1))
            assert abs(q_cheb - q_bern) < mpmath.mpf(10) ** -40
