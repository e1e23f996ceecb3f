"""Minimax solver, tables and certified brackets (claims C1, C3, C4)."""
from __future__ import annotations

import json
from fractions import Fraction
from math import comb

import mpmath
import numpy as np
import pytest
from scipy.optimize import linprog

from estimators import build_table, get_generator, moments
from estimators.generators import Generator, kl, power
from estimators.minimax import (CertificateError, ConvergenceError, UnsupportedTargetError,
                                best_weighted_bias, remez, solve)
from estimators.table import Table


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ALFT_CACHE_DISABLE", raising=False)


def _mp_weighted_error(entries, p, f):
    """p * sum_c g_c C(n,c) p^c (1-p)^(n-c) - f(p), independently of the package (current mp precision)."""
    n = len(entries) - 1
    p = mpmath.mpf(p)
    s = mpmath.fsum(mpmath.mpf(g) * comb(n, c) * p ** c * (1 - p) ** (n - c) for c, g in enumerate(entries))
    return p * s - f(p)


def _plogp(p):
    return p * mpmath.log(p) if p > 0 else mpmath.mpf(0)


# -- C3: the bracket and the table -------------------------------------------------------------

@pytest.mark.parametrize("K", [2, 5, 16, 33, 64])
def test_C3_bracket_is_tight(K):
    r = solve(kl(), K)
    assert 0 < r.lower <= r.upper
    assert r.upper / r.lower - 1 <= 1e-9
    assert r.rel_gap <= 1e-9
    assert Fraction(r.lower_str) <= Fraction(r.upper_str)


@pytest.mark.parametrize("K", [6, 16])
def test_C3_mpmath_weighted_bias_of_table_reproduces_E_star(K):
    """The foundation mpmath engine on the stored table gives +-E* at the alternation points."""
    t = build_table("kl", "minimax", K)
    cert = t.certificate
    lo, hi = cert["E_star_lower"], cert["E_star_upper"]
    pts = cert["alternation_points"]
    assert len(pts) == K + 1
    m = moments(t, pts, engine="mpmath", dps=50)
    wb = [float(w) for w in m.weighted_bias]
    assert all(np.sign(wb[i]) == -np.sign(wb[i + 1]) for i in range(K))
    # stored float64 table: within its own certified bracket; at these K rounding is < 1e-12 relative
    assert max(abs(w) for w in wb) <= cert["stored_table_weighted_bias_upper"]
    for w in wb:
        assert abs(abs(w) / lo - 1) < 1e-10
    # the reference (extended-precision) entries reproduce E* to far below the bracket width
    with mpmath.workdps(60):
        ref = [_mp_weighted_error(t.reference, mpmath.mpf(x), _plogp) for x in pts]
        for e in ref:
            assert lo * (1 - 1e-15) <= abs(e) <= hi * (1 + 1e-15)


def test_C3_stored_table_sup_is_bounded_at_random_points():
    """Independent mpmath evaluation at random and clustered p never exceeds the certified sup."""
    rng = np.random.default_rng(7)
    for K in (12, 40):  # below and beyond the K where float64 rounding dominates
        t = build_table("kl", "minimax", K)
        up = t.certificate["stored_table_weighted_bias_upper"]
        lo = t.certificate["stored_table_weighted_bias_lower"]
        ps = np.concatenate([rng.random(60), np.geomspace(1e-9, 1e-2, 30)])
        with mpmath.workdps(80):
            vals = [abs(_mp_weighted_error([float(v) for v in t.values], mpmath.mpf(float(p)), _plogp)) for p in ps]
        assert max(vals) <= up
        assert lo <= up


def test_C3_equioscillation():
    r = solve(kl(), 24)
    with mpmath.workdps(40):
        errs = [mpmath.mpf(e) for e in r.errors]
        assert len(errs) == 25
        assert all((errs[i] > 0) != (errs[i + 1] > 0) for i in range(24))
        mags = [abs(e) for e in errs]
        assert max(mags) / min(mags) - 1 < 1e-20
    pts = [Fraction(x) for x in r.points]
    assert all(0 < a < b for a, b in zip(pts, pts[1:]))
    assert pts[-1] == 1  # the error is extremal at p = 1
    assert pts[0] < Fraction(1, 24 ** 2) * 10  # and clusters at 0


def test_C3_cross_precision_agreement():
    t = kl().certified_target()
    a = remez(t, 19, constrained=True, prec=140)
    b = remez(t, 19, constrained=True, prec=320)
    assert abs(float((a.levelled - b.levelled).mid())) < 1e-30
    for x, y in zip(a.coeffs, b.coeffs):
        assert abs(float((x - y).mid())) < 1e-28


def test_C3_unconstrained_is_smaller_and_alternates_at_K_plus_2_points():
    for K in (4, 20):
        c = solve(kl(), K)
        u = solve(kl(), K, constrained=False)
        assert u.rel_gap <= 1e-9
        assert len(u.points) == K + 2
        assert Fraction(u.points[0]) == 0 and Fraction(u.points[-1]) == 1
        # more freedom (one more basis function) can only lower the error
        assert u.upper < c.lower
        assert u.values is None  # no table corresponds to P(0) != 0


def _lp_grid_minimax(K, grid):
    """min_a max_grid |sum_j a_j p^j - p log p| (j = 1..K) by scipy's HiGHS LP (monomial basis)."""
    p = grid
    V = np.stack([p ** j for j in range(1, K + 1)], axis=1)
    f = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)
    # variables (a_1..a_K, t): minimise t s.t. +-(V a - f) <= t
    c = np.zeros(K + 1)
    c[-1] = 1
    A = np.vstack([np.hstack([V, -np.ones((len(p), 1))]), np.hstack([-V, -np.ones((len(p), 1))])])
    b = np.concatenate([f, -f])
    res = linprog(c, A_ub=A, b_ub=b, bounds=[(None, None)] * (K + 1), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    assert res.status == 0
    return res.x[-1], res.x[:-1]


@pytest.mark.parametrize("K", [2, 3, 4])
def test_C3_independent_LP_in_monomial_basis(K):
    """A different algorithm (LP on a grid, monomial basis): its optimum is <= E*, and close."""
    th = np.linspace(0, np.pi, 4001)
    grid = np.unique(np.concatenate([0.5 * (1 - np.cos(th)), np.geomspace(1e-8, 1e-2, 400)]))
    t_lp, a = _lp_grid_minimax(K, grid)
    r = solve(kl(), K)
    assert t_lp <= r.upper * (1 + 1e-7)         # the grid problem is a relaxation
    assert t_lp >= r.lower * (1 - 1e-5)          # and the grid is fine enough to be close
    # the LP polynomial's error, evaluated densely, is >= E* (no polynomial beats the certificate)
    pd = np.linspace(0, 1, 200001)
    err = np.abs(sum(a[j] * pd ** (j + 1) for j in range(K)) - np.where(pd > 0, pd * np.log(np.where(pd > 0, pd, 1)), 0))
    assert err.max() >= r.lower * (1 - 1e-9)


def test_C3_table_api_and_json_roundtrip():
    t = build_table("kl", "minimax", 10)
    assert isinstance(t, Table) and t.K == 10 and t.method == "minimax"
    d = json.loads(t.to_json())
    cert = d["certificate"]
    for key in ("E_star_lower", "E_star_upper", "rel_gap", "alternation_points",
                "stored_table_weighted_bias_upper"):
        assert key in cert
    assert cert["E_star_lower"] <= cert["E_star_upper"]
    t2 = Table.from_dict(d)
    assert np.array_equal(t2.values, t.values)
    # float64 entries are the reference rounded once
    assert all(float(r) == v for r, v in zip(t.reference, t.values))
    assert t.reference_dps >= 35


# -- power family and polynomial targets (C4, C1) ------------------------------------------------

@pytest.mark.parametrize("alpha", [0.5, 1.5, 2.5])
def test_C4_power_family_certified(alpha):
    r = solve(power(alpha), 12)
    assert r.rel_gap <= 1e-9 and r.lower > 0
    t = build_table("power", "minimax", 12, generator_params={"alpha": alpha})
    pts = t.certificate["alternation_points"]
    with mpmath.workdps(60):
        for x in pts:
            e = _mp_weighted_error(t.reference, mpmath.mpf(x), lambda p: mpmath.power(p, alpha) / (alpha - 1))
            assert abs(abs(float(e)) / r.lower - 1) < 1e-12


def test_C1_best_weighted_bias_polynomial_targets():
    # reward 4p^3 (phi = p^4) has degree 3: unbiased for K >= 4, strictly biased for K <= 3
    gen = get_generator("polynomial", coeffs=[0, 0, 0, 0, 1])
    assert best_weighted_bias(gen, 4)["upper"] == 0.0
    assert best_weighted_bias(gen, 4)["exact_zero"]
    for K in (2, 3):
        b = best_weighted_bias(gen, K)
        assert b["lower"] > 0 and not b["exact_zero"]
        assert b["upper"] / b["lower"] - 1 <= 1e-9
    assert best_weighted_bias(gen, 2)["lower"] > best_weighted_bias(gen, 3)["upper"]
    # minimax table for an in-space polynomial target is the U-statistic table
    t = build_table(gen, "minimax", 5)
    u = build_table(gen, "ustat", 5)
    assert np.array_equal(t.values, u.values)
    assert t.certificate["E_star_upper"] == 0.0


def test_C1_best_weighted_bias_euclidean_K2_by_hand():
    """phi = t^3/3 -> reward p^2, f = p^3; best by a p + b p^2 on [0,1]: an independent LP bound."""
    gen = get_generator("polynomial", coeffs=[0, 0, 0, Fraction(1, 3)])
    b = best_weighted_bias(gen, 2)
    grid = np.linspace(0, 1, 20001)
    V = np.stack([grid, grid ** 2], axis=1)
    c = np.array([0, 0, 1.0])
    A = np.vstack([np.hstack([V, -np.ones((grid.size, 1))]), np.hstack([-V, -np.ones((grid.size, 1))])])
    res = linprog(c, A_ub=A, b_ub=np.concatenate([grid ** 3, -grid ** 3]), bounds=[(None, None)] * 3, method="highs")
    assert res.x[-1] <= b["upper"] * (1 + 1e-7)
    assert res.x[-1] >= b["lower"] * (1 - 1e-6)


# -- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("K, exc", [(1, ValueError), (0, ValueError), (257, ValueError), (2.0, TypeError),
                                    ("8", TypeError), (True, TypeError), (None, TypeError)])
def test_bad_K_is_rejected_with_range(K, exc):
    with pytest.raises(exc, match=r"K must be an integer in \[2, 256\]"):
        solve(kl(), K)


def test_bad_K_through_build_table():
    with pytest.raises(ValueError, match=r"\[2, 256\]"):
        build_table("kl", "minimax", 300)


class _Exotic(Generator):
    """A generator family with float64 and mpmath hooks only: nothing the certified solvers can take."""

    def _target64(self, p):
        return np.exp(p)

    def _target_mp(self, p):
        return mpmath.exp(p)


def test_unsupported_target_is_rejected():
    fake = _Exotic(name="exotic", params={}, phi_text="e^t", target_text="exp p", dropped_constant=Fraction(0))
    with pytest.raises(UnsupportedTargetError, match="supports the generators .*kl.*power"):
        solve(fake, 8)
    with pytest.raises(ValueError, match="minimax"):
        build_table(fake, "minimax", 8)
    assert float(build_table(fake, "plugin", 4).values[0]) == pytest.approx(np.exp(0.25))  # other methods work


def test_bad_rel_tol_and_constrained():
    with pytest.raises(ValueError, match="rel_tol"):
        solve(kl(), 4, rel_tol=0)
    with pytest.raises(TypeError, match="constrained"):
        solve(kl(), 4, constrained="yes")


def test_failed_certificate_is_an_error_not_a_table():
    with pytest.raises(CertificateError, match=r"K=8.*rel_tol"):
        build_table("kl", "minimax", 8, rel_tol=1e-40, use_cache=False)


def test_non_convergence_is_an_error():
    with pytest.raises(ConvergenceError, match="N=10"):
        remez(kl().certified_target(), 10, constrained=True, max_polish=0)


# -- the CLI (lead's `alft tables`) exports the minimax table with its certificate ---------------------

@pytest.mark.parametrize("argv, K", [(["--generator", "kl"], 64), (["--generator", "power", "--alpha", "2.5"], 12)])
def test_C3_cli_tables_json_has_certified_bracket(capsys, argv, K):
    from proofs_numeric.cli import main
    rc = main(["tables", *argv, "--method", "minimax", "--K", str(K), "--format", "json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["method"] == "minimax" and d["K"] == K and len(d["values"]) == K
    c = d["certificate"]
    assert 0 < c["E_star_lower"] <= c["E_star_upper"] and c["rel_gap"] <= 1e-9
    assert len(d["reference"]) == K and d["reference_dps"] >= 35


def test_C3_cli_tables_bad_K_is_a_clear_error(capsys):
    from proofs_numeric.cli import main
    rc = main(["tables", "--generator", "kl", "--method", "minimax", "--K", "1000"])
    assert rc != 0
    assert "[2, 256]" in capsys.readouterr().err


def test_C3_reference_table_error_never_exceeds_certified_upper_K64():
    """Independent mpmath evaluation (100 digits) of the reference table's weighted bias at random and
    clustered points: never above the certified upper bound, and reaching the lower bound somewhere."""
    t = build_table("kl", "minimax", 64)
    lo, hi = t.certificate["E_star_lower"], t.certificate["E_star_upper"]
    rng = np.random.default_rng(11)
    ps = np.concatenate([rng.random(40), np.geomspace(1e-12, 1e-3, 20), 1 - np.geomspace(1e-12, 1e-3, 10)])
    with mpmath.workdps(100):
        errs = [abs(_mp_weighted_error(t.reference, mpmath.mpf(float(p)), _plogp)) for p in ps]
        errs += [abs(_mp_weighted_error(t.reference, mpmath.mpf(x), _plogp))
                 for x in t.certificate["alternation_points"][::8]]
        assert max(errs) <= hi
        assert max(errs) >= lo * (1 - 1e-20)


@pytest.mark.slow
def test_C3_every_K_from_2_to_40_is_certified_and_monotone():
    rs = [solve(kl(), K) for K in range(2, 41)]
    assert all(r.rel_gap <= 1e-9 for r in rs)
    # E*_K decreases strictly (the spaces are nested and p log p is not a polynomial)
    assert all(b.upper < a.lower for a, b in zip(rs, rs[1:]))
    # and K^2 E*_K increases towards its limit (observed; C3 extrapolates it)
    k2 = [K * K * r.E for K, r in zip(range(2, 41), rs)]
    assert all(x < y for x, y in zip(k2, k2[1:]))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_C1_best_weighted_bias_random_polynomials_against_LP(seed):
    """Random rewards of degree >= K: the certified smallest weighted bias is > 0 and agrees with an
    independent grid LP (HiGHS, monomial basis) -- LP value <= E* and close to it."""
    rng = np.random.default_rng(100 + seed)
    K = int(rng.integers(2, 5))
    deg = K + int(rng.integers(0, 3))                      # reward degree >= K: no unbiased table (C1)
    coeffs = [Fraction(int(c), 7) for c in rng.integers(-9, 10, size=deg + 1)]
    coeffs[-1] = Fraction(int(rng.integers(1, 10)), 3)      # exact degree
    gen = get_generator("polynomial", coeffs=coeffs, of="reward")
    b = best_weighted_bias(gen, K)
    assert b["lower"] > 0 and b["upper"] / b["lower"] - 1 <= 1e-9
    grid = np.unique(np.concatenate([np.linspace(0, 1, 20001), 0.5 * (1 - np.cos(np.linspace(0, np.pi, 4001)))]))
    f = grid * np.polynomial.polynomial.polyval(grid, [float(c) for c in coeffs])
    V = np.stack([grid ** j for j in range(1, K + 1)], axis=1)
    A = np.vstack([np.hstack([V, -np.ones((grid.size, 1))]), np.hstack([-V, -np.ones((grid.size, 1))])])
    c = np.zeros(K + 1)
    c[-1] = 1
    res = linprog(c, A_ub=A, b_ub=np.concatenate([f, -f]), bounds=[(None, None)] * (K + 1), method="highs")
    assert res.status == 0
    assert res.x[-1] <= b["upper"] * (1 + 1e-7)
    assert res.x[-1] >= b["lower"] * (1 - 1e-5)
