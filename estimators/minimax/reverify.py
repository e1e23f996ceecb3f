"""Re-verification of a cached minimax result against its claims (claims C1, C3; issue: no certificate taken
from a cache on trust).

A cached :class:`~.core.MinimaxResult` carries everything its certificate was computed from: the alternation
points, the reference table (decimal strings) and its float64 rounding, or (unconstrained) the certified
polynomial's Chebyshev coefficients (exact). :func:`reverify` recomputes, in Arb at the result's precision:

* the de la Vallee Poussin lower bound at the stored points (the same computation as the solver's: the
  claimed ``lower`` must not exceed it);
* the rigorous sup of the certified polynomial's error by the same Taylor-model branch and bound, accepting
  intervals as soon as their bound is below the *claimed* upper end (``upper`` must hold; far fewer
  subdivisions than locating the sup to 1e-11);
* for the stored table: its sup below ``stored_upper`` (directly, or through the reference's bound plus the
  exact rounding), its error at ``stored_lower_at`` at least ``stored_lower``, and the claimed relative gaps
  from the claimed floats (rounded outward).

Any claim not re-established raises ValueError (the cache then recomputes the result); the claimed figures
are kept as they are when all hold, so a cache hit returns the same certificate as a fresh solve.
"""
from __future__ import annotations

from fractions import Fraction

from flint import arb, ctx

from .certify import dvp_lower, error_at, float_up, poly_u_from_bernstein, sup_upper

__all__ = ["reverify", "exact_str"]


def exact_str(x: arb) -> str:
    """The exact value of an exact Arb number (a dyadic rational) as ``str(Fraction)``."""
    man, exp = x.mid().man_exp()
    return str(Fraction(int(man)) * (Fraction(2) ** int(exp)))


def _arb_q(s) -> arb:
    q = Fraction(s)
    return arb(q.numerator) / q.denominator


def _sup_below(Pu, target, points, claim: float) -> bool:
    """Whether the rigorous sup of |Pu(2p-1) - f(p)| on [0, 1] is certainly <= ``claim``."""
    up, _, _, _, _ = sup_upper(Pu, target, points, rel_acc=1e-11, tau=arb(claim))
    return bool(up <= arb(claim))


#: relative slack for gaps recomputed from the claimed floats instead of the solver's Arb balls (each float is
#: within an ulp of its ball's end, so the ratios differ by a few 1e-16 relatively)
_FLOAT_SLACK = 1e-15


def reverify(r, gen, target, rel_tol: float) -> None:
    """Raise ValueError unless every figure of the cached result ``r`` re-verifies (see the module docstring)."""
    if r.exact_zero:
        _reverify_exact_zero(r, gen)
        return
    if not r.points or not r.prec_bits:
        raise ValueError("cached minimax result has no alternation points or precision to re-verify from")
    pts = [float(Fraction(x)) for x in r.points]
    if any(Fraction(x) != Fraction(s) for x, s in zip(pts, r.points)):
        raise ValueError("cached alternation points are not exact float64 numbers")
    with ctx.workprec(int(r.prec_bits)):
        if r.constrained:
            _reverify_table(r, target, pts, rel_tol)
        else:
            _reverify_unconstrained(r, target, pts)
        width = float_up(arb(r.upper) / arb(r.lower) - 1)
        if not (r.lower > 0 and r.rel_gap <= rel_tol and r.rel_gap >= width - _FLOAT_SLACK * (1 + width)):
            raise ValueError(f"cached bracket [{r.lower!r}, {r.upper!r}] and its width {r.rel_gap!r} do not re-verify "
                             f"(rel_tol {rel_tol:g})")


def _reverify_unconstrained(r, target, pts) -> None:
    from .remez import cheb_to_monomial_u
    if not r.coeffs or len(r.coeffs) != r.K + 1:
        raise ValueError("cached unconstrained result has no certified coefficients to re-verify from")
    Pu = cheb_to_monomial_u([_arb_q(c) for c in r.coeffs], ctx.prec)
    lo, _ = dvp_lower(Pu, target, [arb(x) for x in pts], degree=r.K, constrained=False)
    if lo is None or not lo >= arb(r.lower):
        raise ValueError("the cached lower bound does not re-verify (de la Vallee Poussin at the stored points)")
    if not _sup_below(Pu, target, pts, r.upper):
        raise ValueError("the cached upper bound does not re-verify (rigorous sup of the certified polynomial)")


def _reverify_table(r, target, pts, rel_tol: float) -> None:
    K = r.K
    if r.reference is None or r.values is None or len(r.reference) != K or len(r.values) != K:
        raise ValueError(f"cached table does not have K = {K} reference and float64 entries")
    if any(float(Fraction(v)) != float(x) for v, x in zip(r.reference, r.values)):
        raise ValueError("the cached float64 table is not the rounding of its reference entries")
    P_ref = poly_u_from_bernstein([_arb_q(v) for v in r.reference], constrained=True)
    P64 = poly_u_from_bernstein([arb(float(v)) for v in r.values], constrained=True)
    xs = [arb(x) for x in pts]
    lows = [dvp_lower(P, target, xs, degree=K, constrained=True)[0] for P in (P_ref, P64)]
    if not any(lo is not None and lo >= arb(r.lower) for lo in lows):
        raise ValueError("the cached lower bound does not re-verify (de la Vallee Poussin at the stored points)")
    ref_below = _sup_below(P_ref, target, pts, r.upper)
    if not (ref_below or _sup_below(P64, target, pts, r.upper)):
        raise ValueError("the cached upper bound does not re-verify (rigorous sup of the reference or stored table)")
    rnd = max(abs(Fraction(v) - Fraction(x)) for v, x in zip(r.reference, r.values))
    via_ref = ref_below and arb(r.upper) + arb(rnd.numerator) / rnd.denominator <= arb(r.stored_upper)
    if not (via_ref or _sup_below(P64, target, pts, r.stored_upper)):
        raise ValueError("the cached stored-table upper bound does not re-verify")
    if r.stored_lower_at is None or not 0.0 < r.stored_lower_at <= 1.0 or \
            not abs(error_at(P64, target, arb(r.stored_lower_at))).lower() >= arb(r.stored_lower):
        raise ValueError("the cached stored-table lower bound does not re-verify at its point")
    gap = float_up(arb(r.stored_upper) / arb(r.lower) - 1)
    if r.stored_rel_gap is None or r.stored_rel_gap < gap - _FLOAT_SLACK * (1 + gap):
        raise ValueError("the cached stored-table gap does not re-verify")


def _reverify_exact_zero(r, gen) -> None:
    """E* = 0 exactly: the table must be the exact U-statistic table (rational arithmetic)."""
    if r.lower != 0.0 or r.upper != 0.0:
        raise ValueError("an exact-zero result must have the bracket [0, 0]")
    if not r.constrained:
        return
    from ..bernstein import monomial_to_bernstein
    exact = monomial_to_bernstein(list(gen.target_coeffs), r.K - 1)
    if r.reference != [str(v) for v in exact] or r.values != [float(v) for v in exact]:
        raise ValueError("the cached exact-zero table is not the U-statistic table")
