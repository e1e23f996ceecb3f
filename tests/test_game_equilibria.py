"""C7(a): p* and every table's exact fixed points (KKT points), against closed forms and brute force."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize

from estimators import build_table
from estimators.bernstein import monomial_to_bernstein
from proofs_numeric.game import bernstein_roots as br
from estimators.generators.families.euclidean import simplex_projection
from proofs_numeric.game.equilibria import (KKT_TOL, _exact_residual, bernstein_marginal,
                                            generator_marginal, optimum, solve_kkt, table_marginal)
from proofs_numeric.game.exact import table_equilibria
from proofs_numeric.game.spec import get_game, make_game


def _poly_from_roots(roots):
    coeffs = [Fraction(1)]
    for r in roots:
        coeffs = [Fraction(0)] + coeffs  # multiply by x
        coeffs = [a - r * b for a, b in zip(coeffs, coeffs[1:] + [Fraction(0)])]
    return coeffs


def test_root_isolation_finds_known_roots():
    roots = [Fraction(1, 3), Fraction(1, 2), Fraction(3, 4)]
    b = monomial_to_bernstein(_poly_from_roots(roots), 3)
    iso = br.isolate_roots(b)
    found = sorted(iso.exact + [lo for lo, hi in iso.brackets if hi - lo < Fraction(1, 1 << 40)])
    assert len(iso.exact) + len(iso.brackets) == 3 and not iso.clusters
    assert Fraction(1, 2) in iso.exact and Fraction(3, 4) in iso.exact          # hit by dyadic splits
    lo, hi = iso.brackets[0]
    assert lo <= Fraction(1, 3) <= hi and hi - lo <= Fraction(1, 1 << 52)
    assert len(found) == 3
    assert br.isolate_roots(monomial_to_bernstein([1, 1], 1)).points() == []     # x + 1: no root in (0, 1)
    assert br.isolate_roots([0, 0, 0]).identically_zero


@given(st.lists(st.integers(1, 999), min_size=1, max_size=6, unique=True))
def test_root_isolation_counts_every_simple_root(numerators):
    roots = sorted(Fraction(k, 1000) for k in numerators)
    b = monomial_to_bernstein(_poly_from_roots(roots), len(roots))
    iso = br.isolate_roots(b)
    pts = iso.points()
    assert len(pts) == len(roots) and not iso.clusters
    assert np.allclose(pts, [float(r) for r in roots], atol=1e-12)


@pytest.mark.parametrize("game_name", ["default", "euclidean"])
def test_closed_form_optimum_matches_the_generic_kkt_solver(game_name):
    g = get_game(game_name)
    p, how, res = optimum(g)
    assert "closed form" in how and res <= 1e-14 and abs(p.sum() - 1) < 1e-15
    generic = solve_kkt(g.r, g.beta, generator_marginal(g.generator))
    assert len(generic) == 1
    assert np.max(np.abs(generic[0].p - p)) < 1e-12


@pytest.mark.parametrize("alpha", [0.5, 2, 3, 2.5])
def test_power_generator_optimum_by_kkt(alpha):
    g = make_game([1.0, 0.7, 0.4, 0.2, 0.0], 0.5, "power", generator_params={"alpha": alpha})
    p, how, res = optimum(g)
    assert "KKT" in how and res <= KKT_TOL and abs(p.sum() - 1) < 1e-12
    # alpha < 1: phi'(0) = -inf keeps every answer; alpha > 1 may drop some, but only if r - beta phi'(0) <= lambda
    if alpha < 1:
        assert np.all(p > 0)


def _proj(r, beta):
    return simplex_projection(np.asarray(r) / beta)[0]


#: Euclidean game (phi = t^2/2, beta = 4): closed-form fixed points as simplex projections of r / beta_eff.
#: (method, advantage, beta_eff / beta as a function of K) -- derived from B_h for h = g or the rloo effective table.
EUCLIDEAN_REFERENCE = [
    ("ustat", "decoupled", lambda K: 1.0),                 # unbiased: p* itself (C7(b))
    ("ustat", "rloo", lambda K: (K - 2) / (K - 1)),             # B_h = p (n-1)/n
    ("plugin", "decoupled", lambda K: 1 - 1 / K),          # B_g = p (1 - 1/K) + 1/K
    ("plugin", "rloo", lambda K: (K - 2) / K),                  # B_h = (1 + (n-1) p)/K
]


@pytest.mark.parametrize("method,advantage,factor", EUCLIDEAN_REFERENCE)
@pytest.mark.parametrize("K", [3, 4, 8, 32])
def test_euclidean_fixed_points_match_closed_forms(method, advantage, factor, K):
    g = get_game("euclidean")
    e = table_equilibria(g, build_table("euclidean", method, K), advantage)
    assert len(e["fixed_points"]) == 1 and e["max_kkt_residual"] <= 1e-14
    ref = _proj(g.r, g.beta * factor(K))
    assert np.max(np.abs(e["fixed_points"][0] - ref)) < 1e-12
    if method == "ustat" and advantage == "decoupled":
        assert e["tv"][0] < 1e-12
    assert e["reached_distance"] < 5e-3   # lost answers decay like 1/tau under policy gradient (tau = 1e4)


def test_rloo_at_K2_cancels_the_diversity_term():
    for method in ("plugin", "minimax"):
        e = table_equilibria(get_game("default"), build_table("kl", method, 2), "rloo")
        assert e["fixed_points"][0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("method", ["plugin", "jackknife", "minimax"])
@pytest.mark.parametrize("K", [2, 4, 8, 16, 32])
def test_kl_fixed_points_are_exact_kkt_points(method, K):
    g = get_game("default")
    t = build_table("kl", method, K)
    for adv in ("decoupled", "rloo"):
        m = table_marginal(t, adv)
        pts = solve_kkt(g.r, g.beta, m)
        for q in pts:
            assert q.residual <= KKT_TOL and abs(q.p.sum() - 1) < 1e-12 and np.all(q.p >= 0)
            for z in q.support_lost:  # lost answers satisfy the support condition
                assert g.r[z] - g.beta * m.at_zero <= q.lam + KKT_TOL
            # the check can fail: a perturbed point is not a KKT point
            bumped = q.p.copy()
            i = int(np.argmax(bumped))
            bumped[i] -= 1e-6
            bumped[(i + 1) % 5] += 1e-6
            assert _exact_residual(g.r, g.beta, m, bumped, q.lam) > 1e-8
    if method == "plugin":
        assert table_equilibria(g, t)["tv"][0] > 0.03      # measurably wrong (C7(b))


def test_plugin_loses_support_at_small_K_and_the_exact_objective_never_does():
    g = get_game("default")
    assert np.all(optimum(g)[0] > 0)
    e = table_equilibria(g, build_table("kl", "plugin", 4))
    assert e["support_lost"][0] == [2, 3, 4]


# -- a non-monotone marginal: every KKT point, against a brute-force scan -------------------------

WIGGLE = [Fraction(0), Fraction(3), Fraction(-2), Fraction(1)]   # B(p) rises, falls and rises on [0, 1]


def _brute_force_two_answers(r, beta, m):
    """All KKT points of a 2-answer game: sign changes of the gap on a fine grid, plus both vertices."""
    x = np.linspace(0.0, 1.0, 200001)
    gap = (r[0] - beta * m.evaluate(x)) - (r[1] - beta * m.evaluate(1 - x))
    pts = [float(t) for t in x[1:-1][gap[1:-1] == 0]]  # grid points that are exact roots
    for i in np.flatnonzero(np.sign(gap[:-1]) * np.sign(gap[1:]) < 0):
        f = lambda t: (r[0] - beta * m.evaluate(np.array([t]))[0]) - (r[1] - beta * m.evaluate(np.array([1 - t]))[0])
        pts.append(optimize.brentq(f, x[i], x[i + 1], xtol=1e-15))
    u0, u1 = m.at_zero, float(m.evaluate(np.array([1.0]))[0])
    if r[0] - beta * u0 <= r[1] - beta * u1:       # answer 0 lost
        pts.append(0.0)
    if r[1] - beta * u0 <= r[0] - beta * u1:       # answer 1 lost
        pts.append(1.0)
    return sorted(pts)


@pytest.mark.parametrize("r0,beta", [(0.3, 1.0), (0.0, 1.0), (0.05, 0.5), (1.0, 0.5), (-0.2, 2.0)])
def test_non_monotone_marginal_lists_every_fixed_point(r0, beta):
    m = bernstein_marginal(WIGGLE, Fraction(0), "wiggle")
    assert len(m.pieces) == 3 and [d for _a, _b, d in m.pieces] == [1, -1, 1]
    r = np.array([r0, 0.0])
    pts = sorted(q.p[0] for q in solve_kkt(r, beta, m))
    brute = _brute_force_two_answers(r, beta, m)
    assert len(pts) == len(brute), (pts, brute)
    assert np.allclose(pts, brute, atol=1e-9)


def test_non_monotone_marginal_stability_and_ordering():
    m = bernstein_marginal(WIGGLE, Fraction(0), "wiggle")
    pts = solve_kkt(np.array([0.0, 0.0]), 1.0, m)
    assert len(pts) >= 3
    psi = [q.psi for q in pts]
    assert psi == sorted(psi, reverse=True)          # best potential first
    assert pts[0].local_max and any(q.local_max is False for q in pts)
