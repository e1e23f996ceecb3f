"""Every generator family keeps its contract (docs/generators.md): its hooks in every arithmetic agree.

Parametrized over the registered families and the parameter sets each family module declares
(``EXAMPLES``): a new family's module is tested here without editing this file. References are
independent: mpmath at 50 digits (values, and derivatives by mpmath.diff), exact rationals, and the
Arb balls must contain the 50-digit values. Tolerances: float64 hooks within 1e-13 relative of mpmath
(a few roundings and one libm call); torch float64 within 4 ulp of the float64 hook.
"""
from __future__ import annotations

import inspect
import json
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from estimators.generators import FAMILIES, GENERATORS, Generator, WeightedTarget, family, get_generator

CASES = [pytest.param(name, params, id=f"{name}-{json.dumps(params, sort_keys=True)}")
         for name in FAMILIES for params in getattr(family(name), "EXAMPLES", ({},))]
P = [1e-9, 1e-4, 0.013, 0.25, 0.5, 0.77, 1 - 1e-6, 1.0]
DPS = 50


def _mp(x) -> float:
    return float(mpmath.mpf(x))


def test_every_family_declares_examples_and_builds():
    for name in FAMILIES:
        mod = family(name)
        assert callable(mod.build) and getattr(mod, "EXAMPLES", None), f"family {name!r}: build and EXAMPLES"
        assert isinstance(getattr(mod, "GAME", None), bool), f"family {name!r}: GAME (True or False)"
        for params in mod.EXAMPLES:
            gen = mod.build(**params)
            assert isinstance(gen, Generator) and gen.name == name
            assert GENERATORS[name](**params) == gen == get_generator(name, **params)


@pytest.mark.parametrize("name, params", CASES)
def test_float64_hooks_agree_with_mpmath(name, params):
    gen = get_generator(name, **params)
    with mpmath.workdps(DPS):
        for p in P:
            t_ref = gen.target_mp(p)
            assert float(gen.target(p)) == pytest.approx(_mp(t_ref), rel=1e-13, abs=1e-300), p
            assert float(gen.weighted_target(p)) == pytest.approx(_mp(gen.weighted_target_mp(p)), rel=1e-13,
                                                                  abs=1e-300), p
            d_ref = mpmath.diff(gen.weighted_target_mp, mpmath.mpf(p) if p < 1 else mpmath.mpf(1) - mpmath.mpf(10) ** -30)
            assert float(gen.weighted_derivative(min(p, 1.0))) == pytest.approx(_mp(d_ref), rel=1e-12, abs=1e-12), p
    assert float(gen.weighted_target(0.0)) == 0.0                           # f(0) = 0 for every family here
    json.dumps(gen.to_dict())                                               # cache keys and reports
    assert isinstance(gen.label(), str)


@pytest.mark.parametrize("name, params", CASES)
def test_exact_hook_for_polynomial_targets(name, params):
    gen = get_generator(name, **params)
    if not gen.is_polynomial:
        with pytest.raises(ValueError, match="polynomial"):
            gen.target_exact(Fraction(1, 3))
        return
    with mpmath.workdps(DPS):
        for q in (Fraction(0), Fraction(1, 7), Fraction(2, 3), Fraction(1)):
            v = gen.target_exact(q)
            assert isinstance(v, Fraction)
            assert abs(mpmath.mpf(v.numerator) / v.denominator - gen.target_mp(mpmath.mpf(q.numerator) / q.denominator)) \
                < mpmath.mpf(10) ** (5 - DPS)


@pytest.mark.parametrize("name, params", CASES)
def test_arb_hooks_contain_the_50_digit_values(name, params):
    flint = pytest.importorskip("flint")
    arb, ctx = flint.arb, flint.ctx
    gen = get_generator(name, **params)
    f = gen.certified_target()
    assert isinstance(f, WeightedTarget) and f.entire == gen.is_polynomial
    with ctx.workprec(200), mpmath.workdps(DPS):
        for p in (0.013, 0.25, 0.5, 0.77):
            x = arb(p)
            fm = gen.weighted_target_mp(p)
            assert _contains(f.f(x), fm), (p, f.f(x), fm)
            assert _contains(f.d1(x), mpmath.diff(gen.weighted_target_mp, p, 1)), p
            assert _contains(f.d2(x), mpmath.diff(gen.weighted_target_mp, p, 2)), p
            assert float(f.f_np(p)) == pytest.approx(float(gen.weighted_target(p)), rel=1e-15, abs=1e-300)
            # Taylor coefficients at m and the tail bound on |t| <= r
            m, r, D = p, (0.4 * p if not f.entire else 0.3), 6
            if not f.radius_ok(m, r):
                continue
            coeffs = f.taylor(arb(m), D)
            ref = mpmath.taylor(gen.weighted_target_mp, m, D + 40)
            for k in range(D + 1):
                assert _contains(coeffs[k], ref[k]), (p, k)
            tail = f.tail(arb(m), arb(r), D)
            true_tail = mpmath.fsum(abs(c) * mpmath.mpf(r) ** k for k, c in enumerate(ref) if k > D)
            assert float(tail.upper()) >= float(true_tail) * (1 - 1e-12), (p, tail, true_tail)
        # the bounds of the interpolation engine (sup |f''| on [a, b], sup |f| near 0) dominate sampled values
        for a, b in ((0.1, 0.2), (0.5, 0.9)):
            bound = float(f.sup_abs_d2(a, b).upper())
            assert all(abs(float(mpmath.diff(gen.weighted_target_mp, x, 2))) <= bound * (1 + 1e-12)
                       for x in np.linspace(a, b, 9))
        for b in (1e-3, 0.1):
            near = f.sup_abs_near_zero(b)
            assert near is not None
            assert all(abs(float(gen.weighted_target_mp(x))) <= float(near.upper()) * (1 + 1e-12)
                       for x in np.linspace(0, b, 17))
        assert f.sup_abs_near_zero(0.5) is None or f.entire


def _contains(ball, value) -> bool:
    """The ball overlaps the 50-digit value widened by its own accuracy (10^-(DPS - 5) relative): a ball that
    misses the true value by more than that fails."""
    from flint import arb
    v = mpmath.mpf(value)
    tol = abs(v) * mpmath.mpf(10) ** (5 - DPS) + mpmath.mpf(10) ** (-2 * DPS)
    return ball.overlaps(arb(mpmath.nstr(v, DPS + 5), mpmath.nstr(tol, 5)))


@pytest.mark.parametrize("name, params", CASES)
def test_torch_hooks_match_float64(name, params):
    torch = pytest.importorskip("torch")
    gen = get_generator(name, **params)
    p = np.array([0.0] + P)
    tp = torch.as_tensor(p, dtype=torch.float64)
    with np.errstate(divide="ignore"):
        for got, ref in ((gen.torch_target(tp), gen.target(p)), (gen.torch_weighted_target(tp), gen.weighted_target(p))):
            got = got.numpy()
            finite = np.isfinite(ref)
            assert np.array_equal(finite, np.isfinite(got))
            assert np.allclose(got[finite], ref[finite], rtol=4 * np.finfo(float).eps, atol=0)


@pytest.mark.parametrize("name, params", CASES)
def test_game_closed_form_is_a_kkt_point(name, params):
    gen = get_generator(name, **params)
    r, beta = np.array([1.0, 0.7, 0.4, 0.2, 0.0]), 0.5
    closed = gen.game_optimum(r, beta)
    if closed is None:
        return
    p, lam, how = closed
    assert isinstance(how, str) and abs(p.sum() - 1) < 1e-14 and (p >= 0).all()
    on = p > 0
    u = gen.target(p[on]) + float(gen.dropped_constant)
    assert np.allclose(r[on] - beta * u, lam, rtol=0, atol=1e-12)
    if (~on).any():   # answers left out have r - beta phi'(0) <= lambda
        assert (r[~on] - beta * (gen.target(np.zeros((~on).sum())) + float(gen.dropped_constant)) <= lam + 1e-12).all()


@pytest.mark.parametrize("name", FAMILIES)
def test_command_line_options_are_build_parameters(name):
    mod = family(name)
    sig = inspect.signature(mod.build)
    for opt in getattr(mod, "CLI_OPTIONS", ()):
        assert opt.param in sig.parameters, (name, opt.flag, opt.param)
        assert opt.flag.startswith("--") and opt.help
        if opt.required:
            assert opt.what, (name, opt.flag)
