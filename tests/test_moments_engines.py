"""The three exact engines agree (float64 within its stated bound of mpmath; exact == mpmath)."""
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from estimators import build_table, moments
from estimators.moments import binomial_pmf

TABLES = [("kl", "plugin", {}), ("kl", "jackknife", {}), ("power", "plugin", {"alpha": 2.5}),
          ("power", "ustat", {"alpha": 2}), ("euclidean", "jackknife", {})]


@pytest.mark.parametrize("gen,method,gp", TABLES)
@pytest.mark.parametrize("K", [2, 3, 17, 128, pytest.param(1024, marks=pytest.mark.slow)])
def test_float64_within_its_bound_of_mpmath(gen, method, gp, K):
    t = build_table(gen, method, K, generator_params=gp)
    p = np.array([0.0, 1e-6, 0.5 / K, 1.0 / K, 0.3, 0.77, 1.0])
    f = moments(t, p)
    m = moments(t, p, engine="mpmath", dps=40)
    ref_mean = np.array([float(x) for x in m.mean])
    ref_var = np.array([float(x) for x in m.var])
    # mean_err bounds p * |error of B|; at p = 0 B is exact (only c = 0 contributes)
    bound = np.where(p > 0, f.mean_err / np.where(p > 0, p, 1), 0) + 2 * np.finfo(float).eps * np.abs(ref_mean)
    assert np.all(np.abs(f.mean - ref_mean) <= bound)
    # variance: stated tolerance rel 1e-9 (two-pass sum) plus the mean's bound squared scale
    scale = np.max(np.abs(t.values)) ** 2
    assert np.allclose(f.var, ref_var, rtol=1e-9, atol=1e-12 * scale)


@given(st.integers(2, 30), st.fractions(min_value=0, max_value=1, max_denominator=1000))
def test_exact_equals_mpmath(K, p):
    t = build_table("power", "plugin", K, generator_params={"alpha": 3})
    ex = moments(t, [p], engine="exact")
    mp = moments(t, [p], engine="mpmath", dps=60)
    with mpmath.workdps(60):
        for a, b in zip(ex.mean + ex.var + ex.bias, mp.mean + mp.var + mp.bias):
            assert abs(mpmath.mpf(a.numerator) / a.denominator - b) <= mpmath.mpf(10) ** -50


def test_cross_precision_agreement_mpmath():
    t = build_table("kl", "plugin", 200)
    a = moments(t, ["0.013"], engine="mpmath", dps=30)
    b = moments(t, ["0.013"], engine="mpmath", dps=60)
    with mpmath.workdps(60):
        assert abs(a.mean[0] - b.mean[0]) < mpmath.mpf(10) ** -27


def test_edge_probabilities_are_exact():
    t = build_table("kl", "plugin", 9)
    m = moments(t, [0.0, 1.0])
    assert m.mean[0] == t.values[0] and m.mean[1] == t.values[-1]
    assert m.var[0] == 0 and m.var[1] == 0
    assert m.weighted_bias[0] == 0.0  # 0 * B - 0 log 0
    assert m.bias[0] == np.inf  # B(0) - log 0


def test_binomial_pmf_matches_scipy():
    p = np.array([1e-9, 0.01, 0.5, 0.999])
    pmf, rel = binomial_pmf(1000, p)
    ref = stats.binom.pmf(np.arange(1001)[None, :], 1000, p[:, None])
    big = ref > 1e-290
    assert np.all(np.abs(pmf[big] - ref[big]) <= (rel[big] + 1e-13) * ref[big])


@pytest.mark.parametrize("bad", [[float("nan")], [-0.1], [1.0000001], [], "x"])
def test_bad_probabilities(bad):
    t = build_table("kl", "plugin", 4)
    with pytest.raises((ValueError, TypeError), match="p must"):
        moments(t, bad)


def test_bad_engine_and_rational_p():
    t = build_table("kl", "plugin", 4)
    with pytest.raises(ValueError, match="engine must be one of"):
        moments(t, [0.5], engine="float32")
    with pytest.raises(ValueError, match="p must lie in \\[0, 1\\]"):
        moments(t, [Fraction(3, 2)], engine="exact")
    with pytest.raises(ValueError, match="p must lie in \\[0, 1\\]"):
        moments(t, ["1.5"], engine="mpmath")
