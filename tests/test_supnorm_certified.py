"""C2's plug-in bracket is rigorous end to end (estimators.certified.supnorm): both ends against mpmath.

issue 11, item 1: the float64 grid value used as the lower end was *above* the true sup at every K
from 2 to 64 (K = 64: 0.008927687818913607 > 0.00892768781891357768...). The true sup is computed
here independently at 50 digits (a root of W' by mpmath, then W there).
"""
from __future__ import annotations

from math import comb

import mpmath
import numpy as np
import pytest

from estimators import build_table, moments
from estimators.certified.supnorm import weighted_bias_bracket


def _W(table, f):
    n = table.n
    g = [mpmath.mpf(float(v)) for v in table.values]

    def W(p):
        p = mpmath.mpf(p)
        B = mpmath.fsum(g[c] * comb(n, c) * p ** c * (1 - p) ** (n - c) for c in range(n + 1))
        return p * B - f(p)
    return W


def _true_sup(table, f, near):
    with mpmath.workdps(50):
        W = _W(table, f)
        x = mpmath.findroot(lambda p: mpmath.diff(W, p), mpmath.mpf(near))
        return abs(W(x)), x


def _plogp(p):
    return p * mpmath.log(p)


@pytest.mark.parametrize("K", [2, 3, 8, 16, 64])
def test_C2_plugin_bracket_contains_the_50_digit_sup(K):
    t = build_table("kl", "plugin", K)
    br = weighted_bias_bracket(t, rel_tol=1e-3)
    sup, x = _true_sup(t, _plogp, br.argmax)
    with mpmath.workdps(50):
        assert mpmath.mpf(br.lower) <= sup <= mpmath.mpf(br.upper)
        assert mpmath.mpf(br.lower) >= sup * (1 - mpmath.mpf(10) ** -12)   # and the lower end is sharp
    assert br.upper / br.lower - 1 <= 1e-3 and br.converged
    if K == 64:  # the counterexample: the old lower end 0.008927687818913607 was above the sup
        assert br.lower < 0.008927687818913607 and float(sup) < 0.008927687818913607


@pytest.mark.parametrize("gen,method,gp", [("power", "jackknife", {"alpha": 0.3}), ("kl", "jackknife", {}),
                                           ("polynomial", "plugin", {"coeffs": [0, 0, 0, 1]})])
def test_C2_bracket_for_other_tables_contains_a_dense_grid_and_the_local_sup(gen, method, gp):
    """Tables whose |Delta g| is not monotone take the global-coefficient fallback; still rigorous."""
    t = build_table(gen, method, 12, generator_params=gp)
    br = weighted_bias_bracket(t, rel_tol=1e-3)
    p = np.linspace(0, 1, 20001)
    grid = float(np.max(np.abs(moments(t, p).weighted_bias)))
    assert br.lower * (1 - 1e-12) <= br.upper and grid <= br.upper
    f = {"kl": _plogp, "power": lambda q: q ** mpmath.mpf(0.3) / (mpmath.mpf(0.3) - 1),
         "polynomial": lambda q: 3 * q ** 3}[gen]
    sup, _ = _true_sup(t, f, br.argmax)
    with mpmath.workdps(50):
        assert mpmath.mpf(br.lower) <= sup <= mpmath.mpf(br.upper)


def test_an_unbiased_table_gets_a_bracket_from_zero():
    t = build_table("power", "ustat", 6, generator_params={"alpha": 3})
    br = weighted_bias_bracket(t, rel_tol=1e-2, abs_tol=1e-6)
    assert br.lower <= 1e-15 and 0 <= br.upper <= 1e-6 * (1 + 1e-9)


def _exact(x):
    """The exact rational value of an Arb number with zero radius."""
    from fractions import Fraction
    assert x.rad() == 0
    man, exp = x.mid().man_exp()
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def test_minimax_cover_radii_are_never_rounded_down():
    """issue 11, item 2: float64 radii m - a, b - m rounded to nearest can leave a sliver uncovered."""
    from fractions import Fraction

    from flint import ctx

    from estimators.minimax.certify import cover_radii
    rng = np.random.default_rng(11)
    shrunk = 0
    with ctx.workprec(128):
        for _ in range(400):
            a, m, b = np.sort(rng.random(3) ** rng.integers(1, 30))
            a, m, b = float(a), float(m), float(b)
            r1, r2 = cover_radii(a, m, b)
            exact1, exact2 = Fraction(m) - Fraction(a), Fraction(b) - Fraction(m)
            assert _exact(r1) >= exact1 and _exact(r2) >= exact2
            shrunk += Fraction(m - a) < exact1 or Fraction(b - m) < exact2
    assert shrunk > 0  # the float64 radii really do round down on some of these inputs
