"""Certified best approximations E*_K and the minimax tables (claims C1, C3, C4, C5).

:func:`solve` computes, for a generator and group size K, the best uniform approximation of
f(p) = p * target(p) on [0, 1]

* ``constrained=True`` (the table problem, C3): by P(p) = p Q(p), Q of degree n = K - 1,
  so that Q = B_g is the mean of a table g and P(p) - f(p) = p * b_g(p) is its weighted bias;
* ``constrained=False`` (the classical entropy-estimation problem): by all polynomials of
  degree <= K (no table corresponds),

and returns a :class:`MinimaxResult` with a certified bracket [lower, upper] on the
best-approximation error E*_K (see :mod:`estimators.minimax.certify`). For the table problem
it also returns the table: the Bernstein coefficients of Q in extended precision (decimal
strings, the *reference* table, which is the polynomial certified) and rounded once to
float64 (the *stored* table), with its own certified sup weighted-bias bracket.
"""
from __future__ import annotations

import decimal
import math
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Callable, Iterable

from flint import arb, ctx

from .. import cache as _cache
from .._validate import check_K, check_unit_interval_open
from ..certificates import CertificateMismatchError, bind, check_binding
from .certify import (CertificateError, bernstein_from_cheb, dvp_lower, float_down, float_up,
                      poly_u_from_bernstein, sup_upper)
from .remez import ConvergenceError, remez
from .reverify import exact_str, reverify
from .targets import Target, UnsupportedTargetError, check_supported, target_for

__all__ = ["MinimaxResult", "solve", "sweep", "best_weighted_bias", "K_MIN", "K_MAX", "DEFAULT_REL_TOL",
           "ConvergenceError", "CertificateError", "UnsupportedTargetError", "check_minimax_K"]

K_MIN = 2
#: Largest K the solver accepts (precision and run time grow with K).
K_MAX = 256
#: Required relative width upper/lower - 1 of the certified bracket on E*_K.
DEFAULT_REL_TOL = 1e-9
#: Bump when the numerics change (invalidates cached results); also the certifier name bound into
#: every minimax certificate (3: certificates bound to the table, Arb cover radii).
SOLVER_VERSION = "minimax-3"


def check_minimax_K(K) -> int:
    return check_K(K, name="K", minimum=K_MIN, maximum=K_MAX)


@dataclass
class MinimaxResult:
    """A certified best approximation (all bounds rounded outward to float64; decimals exact-ish).

    Attributes
    ----------
    K, constrained, generator (dict), target (text)
    lower, upper : float         certified bracket on E*_K (outward-rounded)
    lower_str, upper_str : str   the same bounds with 25 significant digits (inward-safe:
                                 lower_str <= true lower end, upper_str >= true upper end)
    rel_gap : float              upper/lower - 1 (rigorous upper bound)
    levelled : str               levelled error of the last Remez solve
    points : list[str]           alternation points: exact decimal expansions of the float64 numbers at
                                 which the de la Vallee Poussin bound was evaluated
    errors : list[str]           e(points), alternating in sign
    reference : list[str] | None table entries (Bernstein coefficients of Q), ``reference_dps`` digits
    values : list[float] | None  the same rounded once to float64 (the stored table)
    stored_lower, stored_upper : certified bracket on the *stored* table's sup weighted bias
    """

    K: int
    constrained: bool
    generator: dict
    target: str
    lower: float
    upper: float
    lower_str: str
    upper_str: str
    rel_gap: float
    levelled: str
    points: list
    errors: list
    reference: list | None = None
    reference_dps: int | None = None
    values: list | None = None
    stored_lower: float | None = None
    stored_upper: float | None = None
    stored_rel_gap: float | None = None
    stored_rounding_bound: float | None = None
    max_abs_g: float | None = None
    intervals: int = 0
    prec_bits: int = 0
    remez_iterations: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    exact_zero: bool = False
    version: str = SOLVER_VERSION
    binding: dict | None = None
    coeffs: list | None = None              # unconstrained: the certified polynomial's Chebyshev coefficients
    stored_lower_at: float | None = None    # where the stored table's |error| reaches stored_lower

    @property
    def E(self) -> float:
        """Midpoint of the certified bracket."""
        return 0.5 * (self.lower + self.upper)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MinimaxResult":
        return cls(**d)

    def table_fields(self, rel_tol: float) -> dict:
        """The fields of the minimax table this result defines (what its certificate is bound to)."""
        if self.values is None:
            raise ValueError("an unconstrained result defines no table")
        return {"values": self.values, "reference": self.reference, "reference_dps": self.reference_dps,
                "generator": self.generator, "method": "minimax", "K": self.K, "params": {"rel_tol": rel_tol}}

    def certificate(self, rel_tol: float = DEFAULT_REL_TOL) -> dict:
        """The JSON certificate stored in ``Table.certificate`` (with its binding, when bound)."""
        cert = self._certificate_body(rel_tol)
        if self.binding is not None:
            cert["binding"] = dict(self.binding)
        return cert

    def _certificate_body(self, rel_tol: float) -> dict:
        cert = {
            "quantity": ("E*_K = min_g sup_p |p B_g(p) - f(p)| (best weighted bias)" if self.constrained
                         else "best uniform error of f by all polynomials of degree <= K"),
            "E_star_lower": self.lower, "E_star_upper": self.upper,
            "E_star_lower_str": self.lower_str, "E_star_upper_str": self.upper_str,
            "rel_gap": self.rel_gap, "rel_tol": rel_tol,
            "method": ("lower: de la Vallee Poussin (Arb balls at the alternation points); upper: "
                       "rigorous sup of the reference polynomial's error by Taylor models in Arb"),
            "alternation_points": self.points,
            "reference_table_certified": True,
        }
        if self.exact_zero:
            cert["method"] = ("exact: f lies in the approximation space (polynomial target of degree <= K-1), so "
                              "E*_K = 0 and the best table is the unbiased U-statistic table (C1)")
        if self.values is not None and self.exact_zero:
            cert.update({
                "stored_table_weighted_bias_lower": 0.0,
                "stored_table_weighted_bias_upper": self.stored_upper,
                "stored_table_rel_gap": None,
                "stored_table_within_rel_tol": self.stored_upper == 0.0,
                "max_abs_entry": max(abs(v) for v in self.values),
            })
        elif self.values is not None:
            cert.update({
                "stored_table_weighted_bias_lower": self.stored_lower,
                "stored_table_weighted_bias_upper": self.stored_upper,
                "stored_table_rel_gap": self.stored_rel_gap,
                "stored_table_within_rel_tol": bool(self.stored_rel_gap is not None and self.stored_rel_gap <= rel_tol),
                "max_abs_entry": self.max_abs_g,
            })
            if not cert["stored_table_within_rel_tol"]:
                cert["note"] = (
                    f"float64 rounding of entries as large as {self.max_abs_g:.3g} costs more than rel_tol: the stored "
                    f"table's weighted bias is certified <= {self.stored_upper:.9g}, {self.stored_rel_gap:.2g} relatively "
                    f"above E*_K <= {self.upper:.9g}; the extended-precision entries (reference, {self.reference_dps} "
                    f"digits) attain E*_K")
        return cert


# -- helpers ---------------------------------------------------------------------------------

def _dec(x: arb, digits: int = 25, direction: str = "down") -> str:
    """Decimal string s (about ``digits`` significant digits) with s <= lower end of x
    (``direction="down"``) or s >= upper end of x (``"up"``)."""
    import decimal
    end = x.lower() if direction == "down" else x.upper()
    man, exp = end.mid().man_exp()
    e = Fraction(int(man)) * (Fraction(2) ** int(exp))
    if e == 0:
        return "0"
    v = Fraction(end.mid().str(digits, radius=False, more=True))
    step = Fraction(10) ** (math.floor(math.log10(abs(float(e)))) - digits + 1)
    while direction == "down" and v > e:
        v -= step
    while direction == "up" and v < e:
        v += step
    with decimal.localcontext() as dc:
        dc.prec = digits + 20
        out = decimal.Decimal(v.numerator) / decimal.Decimal(v.denominator)
    assert Fraction(out) == v
    return str(out.normalize())


def _arb_str(x: arb, digits: int) -> str:
    return x.mid().str(digits, radius=False, more=True)


def _prec_for(N: int) -> int:
    return int(128 + 1.4 * N)


def _poly_degree_in_space(target: Target, K: int, constrained: bool) -> bool:
    """True when f lies in the approximation space (E* = 0, nothing to solve)."""
    if not target.entire:
        return False
    d = target.degree
    return d <= K  # constrained space p*Q, deg Q <= K-1, and f(0) = 0: deg f <= K; unconstrained deg <= K


# -- the solver ----------------------------------------------------------------------------------

def solve(generator, K, *, constrained: bool = True, rel_tol: float = DEFAULT_REL_TOL,
          use_cache: bool = True, log: Callable[[str], None] | None = None) -> MinimaxResult:
    """Certified best approximation for ``generator`` (a Generator, or a registry name) and K.

    Raises
    ------
    TypeError / ValueError      K not an integer in [2, 256]; unsupported generator (names the allowed ones)
    ConvergenceError            the exchange algorithm did not converge
    CertificateError            the certified bracket is wider than ``rel_tol`` (or cannot be established)
    """
    from ..generators import Generator, get_generator
    gen = generator if isinstance(generator, Generator) else get_generator(generator)
    K = check_minimax_K(K)
    if not isinstance(constrained, bool):
        raise TypeError(f"constrained must be True or False, got {constrained!r}")
    rel_tol = check_unit_interval_open(rel_tol, name="rel_tol")
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
    target = target_for(gen)
    check_supported(target, K)
    ident = {"generator": gen.to_dict(), "K": K, "constrained": constrained, "rel_tol": rel_tol,
             "version": SOLVER_VERSION}

    def compute():
        return _bound(_solve_uncached(gen, target, K, constrained, rel_tol), rel_tol).to_dict()

    def validate(val):
        key = _cache.cache_key("minimax_verified", [val, rel_tol])
        if key in _REVERIFIED:
            return
        _check_cached_result(val, gen, K, constrained, rel_tol)
        reverify(MinimaxResult.from_dict(val), gen, target, rel_tol)
        _REVERIFIED.add(key)

    val, hit = _cache.cached("minimax", ident, compute, use_cache=use_cache, validate=validate,
                             validate_computed=False)
    if log is not None:
        log(f"minimax {gen.label()} K={K} constrained={constrained}: {'cache hit' if hit else 'computed'}")
    return MinimaxResult.from_dict(val)


#: cache entries re-verified in this process (by digest: each is re-verified once per process)
_REVERIFIED: set = set()


def _check_cached_result(val, gen, K: int, constrained: bool, rel_tol: float) -> None:
    """Raise ValueError unless ``val`` (a MinimaxResult dict) answers exactly this request.

    Checks K, the generator, the constraint, the solver version, the table length and, for tables,
    the certificate binding over values, reference, generator, method, K, parameters and the
    certificate itself (:mod:`estimators.certificates`).
    """
    if not isinstance(val, dict):
        raise ValueError("a cached minimax result must be a dict")
    r = MinimaxResult.from_dict(val)
    if r.K != K or r.constrained != constrained or r.version != SOLVER_VERSION:
        raise ValueError(f"cached result is for K={r.K}, constrained={r.constrained}, version {r.version!r}, "
                         f"requested K={K}, constrained={constrained}, version {SOLVER_VERSION!r}")
    if r.generator != gen.to_dict():
        raise ValueError(f"cached result is for generator {r.generator.get('name')!r} {r.generator.get('params')}, "
                         f"requested {gen.label()!r}")
    if not (0.0 <= r.lower <= r.upper):
        raise ValueError("cached bracket is not ordered")
    if constrained:
        if r.values is None or len(r.values) != K or r.reference is None or len(r.reference) != K:
            raise ValueError(f"cached table does not have K = {K} entries")
        if r.binding is None:
            raise CertificateMismatchError("cached minimax certificate has no binding")
        check_binding(r.table_fields(rel_tol), r.certificate(rel_tol))


def _bound(res: MinimaxResult, rel_tol: float) -> MinimaxResult:
    """``res`` with its certificate bound to its table (constrained results)."""
    if res.constrained and res.values is not None:
        res.binding = bind(res.table_fields(rel_tol), res.certificate(rel_tol), certifier=SOLVER_VERSION)["binding"]
    return res


def _exact_zero_result(gen, target: Target, K: int, constrained: bool) -> MinimaxResult:
    """f is in the approximation space: E* = 0 exactly (C1: the U-statistic table)."""
    values = reference = None
    if constrained:
        from ..bernstein import monomial_to_bernstein
        exact = monomial_to_bernstein(list(gen.target_coeffs), K - 1)
        reference = [str(v) for v in exact]
        values = [float(v) for v in exact]
    return MinimaxResult(
        K=K, constrained=constrained, generator=gen.to_dict(), target=target.describe(), lower=0.0, upper=0.0,
        lower_str="0", upper_str="0", rel_gap=0.0, levelled="0", points=[], errors=[], reference=reference,
        reference_dps=None, values=values, stored_lower=0.0 if values else None,
        stored_upper=(0.0 if values is not None and all(Fraction(v) == Fraction(r) for v, r in zip(values, reference))
                      else None), exact_zero=True)


def _solve_uncached(gen, target: Target, K: int, constrained: bool, rel_tol: float) -> MinimaxResult:
    if _poly_degree_in_space(target, K, constrained):
        return _exact_zero_rounded(gen, target, K, constrained)
    N = K - 1 if constrained else K
    t0 = time.perf_counter()
    sol = _remez(gen, target, K, N, constrained)
    t1 = time.perf_counter()
    E_est = float(sol.levelled)
    if not E_est > 0:
        raise ConvergenceError(f"Remez returned a zero levelled error for K={K}: degenerate problem")
    extrema = [float(x.mid()) for x in sol.points]
    out = dict(K=K, constrained=constrained, generator=gen.to_dict(), target=target.describe(),
               levelled=_arb_str(sol.levelled, 30), points=[str(decimal.Decimal(x)) for x in extrema],
               remez_iterations=[sol.iterations_f64, sol.iterations_arb])
    secs = {"remez": round(t1 - t0, 4)}

    if constrained:
        max_g, dps, reference, values = _reference_table(sol, K, E_est)
        coef_src = reference
    else:
        max_g = None
        dps = None
        reference = values = None
    t2 = time.perf_counter()

    prec = int(N + 3 * math.log2(max(max_g or 1.0, 1.0) + 2) + math.log2(1.0 / E_est) + 160)
    for attempt in range(4):
        with ctx.workprec(prec):
            if constrained:
                Pu = poly_u_from_bernstein(coef_src, constrained=True)
            else:
                from .remez import cheb_to_monomial_u
                # the mid-points of the coefficients, kept exactly: a polynomial inside the certified balls, so the
                # cached result can be re-verified from them (:mod:`.reverify`)
                out["coeffs"] = [exact_str(arb(c.mid())) for c in sol.coeffs]
                Pu = cheb_to_monomial_u(sol.coeffs, prec)
            lower, vals = dvp_lower(Pu, target, [arb(x) for x in extrema], degree=N + 1 if constrained else N,
                                    constrained=constrained)
            radius_ok = all(float(v.rad()) <= 1e-20 * E_est for v in vals)
            if lower is None or not radius_ok:
                if not radius_ok and attempt < 3:
                    prec *= 2
                    continue
                raise CertificateError(
                    f"K={K}: the computed error does not alternate in sign at the {len(extrema)} points "
                    f"(de la Vallee Poussin bound unavailable); the Remez solution is not trustworthy")
            upper, L, nint, depth, limited = sup_upper(Pu, target, extrema, rel_acc=min(1e-11, rel_tol / 100))
            res_lower, res_upper = lower, upper
            out.update(errors=[_arb_str(v, 30) for v in vals], intervals=nint, prec_bits=prec)
            t3 = time.perf_counter()
            secs["certify"] = round(t3 - t2, 4)
            if constrained:
                res_lower, res_upper = _certify_stored(target, K, extrema, values, reference, dps, max_g, prec,
                                                       upper, res_lower, res_upper, out)
                secs["certify_stored"] = round(time.perf_counter() - t3, 4)
            rel = float((res_upper / res_lower - 1).upper())
            out.update(lower=float_down(res_lower), upper=float_up(res_upper),
                       lower_str=_dec(res_lower, 25, "down"), upper_str=_dec(res_upper, 25, "up"), rel_gap=rel)
        break
    if rel > rel_tol:
        raise CertificateError(
            f"K={K}: certified bracket [{out['lower']:.17g}, {out['upper']:.17g}] on E*_K has relative width "
            f"{rel:.3g} > rel_tol={rel_tol:g} (intervals={nint}, depth={depth}, subdivision limit hit={limited})")
    secs["total"] = round(time.perf_counter() - t0, 4)
    out["seconds"] = secs
    return MinimaxResult(**out)


def _exact_zero_rounded(gen, target: Target, K: int, constrained: bool) -> MinimaxResult:
    """:func:`_exact_zero_result`, with a certified bound on the stored table's bias where float64 cannot hold
    the exact entries."""
    res = _exact_zero_result(gen, target, K, constrained)
    if constrained and res.stored_upper is None:
        # float64 rounding of the exact entries: bound p*|sum dg_c b_c| <= max |dg_c|
        exact = [Fraction(r) for r in res.reference]
        dg = max(abs(Fraction(v) - r) for v, r in zip(res.values, exact))
        res.stored_upper = float_up(arb(float(dg)) * (1 + arb(2) ** -50))
        res.stored_rounding_bound = res.stored_upper
    return res


def _remez(gen, target: Target, K: int, N: int, constrained: bool):
    """The Remez solution of degree ``N`` (a ConvergenceError names the generator, K and the tested range)."""
    try:
        return remez(target, N, constrained=constrained, prec=_prec_for(N))
    except ConvergenceError as exc:
        raise ConvergenceError(
            f"minimax {gen.label()} K={K} (constrained={constrained}): {exc}. The solver is exercised in the tests "
            f"for kl with K in [2, {K_MAX}] and power(alpha) with alpha in [0.001, 2.5] up to K = 256; large alpha "
            f"(p^alpha nearly zero on most of [0, 1]) converges only for smaller K") from exc


def _reference_table(sol, K: int, E_est: float) -> tuple:
    """The table of the Remez solution (its Bernstein coefficients): ``(max |g|, digits, reference decimal
    strings, float64 values)``, with digits enough for the bias at E_est."""
    conv_prec = int(3.5 * K + 220)
    g = bernstein_from_cheb(sol.coeffs, conv_prec)
    max_g = max(abs(float(x.mid())) for x in g)
    dps = int(math.ceil(math.log10(max(max_g, 1.0) / E_est))) + 35
    reference = [_arb_str(x, dps) for x in g]
    values = [float(s) for s in reference]  # correctly rounded decimal -> float64
    return max_g, dps, reference, values


def _certify_stored(target: Target, K: int, extrema: list, values: list, reference: list, dps: int, max_g: float,
                    prec: int, upper, res_lower, res_upper, out: dict) -> tuple:
    """The stored float64 table's certified bias bracket (written into ``out``), which may tighten the bracket
    on E*: returns ``(res_lower, res_upper)``. Runs at the caller's working precision ``prec``."""
    P64 = poly_u_from_bernstein([arb(v) for v in values], constrained=True)
    lo64, vals64 = dvp_lower(P64, target, [arb(x) for x in extrema], degree=K, constrained=True)
    if lo64 is not None and lo64 > res_lower:
        res_lower = lo64     # any element of the space gives a dVP bound on E*
    k_lo = max(range(len(vals64)), key=lambda i: abs(vals64[i]).lower())
    stored_lo, lo_at = abs(vals64[k_lo]).lower(), extrema[k_lo]
    dg = max(abs(Fraction(v) - Fraction(r)) for v, r in zip(values, reference))
    with ctx.workprec(prec):
        rnd = arb(dg.numerator) / dg.denominator
    round_bound = (upper + rnd).upper()
    at64: list = []
    up64, L64, n64, _, _ = sup_upper(P64, target, extrema, rel_acc=1e-6, where=at64)
    if L64 > stored_lo:
        stored_lo, lo_at = L64, at64[0]
    stored_up = up64 if up64 < round_bound else round_bound
    if stored_up < res_upper:
        res_upper = stored_up
    out.update(reference=reference, reference_dps=dps, values=values, stored_lower_at=float(lo_at),
               # one float below the bound: re-verifying it from the stored point in a ball that
               # contains the exact value (p = 1, exact entries) must find it strictly below
               stored_lower=math.nextafter(float_down(stored_lo), 0.0), stored_upper=float_up(stored_up),
               stored_rel_gap=float((stored_up / res_lower - 1).upper()),
               stored_rounding_bound=float_up(rnd), max_abs_g=max_g)
    return res_lower, res_upper


def sweep(generator, Ks: Iterable[int], *, constrained: bool = True, rel_tol: float = DEFAULT_REL_TOL,
          use_cache: bool = True, log: Callable[[str], None] | None = None) -> list[MinimaxResult]:
    """:func:`solve` for every K in ``Ks`` (each cached on disk)."""
    out = []
    for K in Ks:
        r = solve(generator, K, constrained=constrained, rel_tol=rel_tol, use_cache=use_cache)
        if log is not None:
            log(f"  K={K}: E* in [{r.lower:.12e}, {r.upper:.12e}] (gap {r.rel_gap:.1e}), "
                f"K^2 E* = {K * K * r.E:.10f}")
        out.append(r)
    return out


def best_weighted_bias(generator, K, *, rel_tol: float = DEFAULT_REL_TOL, use_cache: bool = True) -> dict:
    """Smallest achievable weighted bias min_g sup_p p |B_g(p) - target(p)| of any K-table (C1, C3).

    Zero exactly when the target is a polynomial of degree <= K - 1 (the U-statistic table);
    otherwise (non-polynomial target, or polynomial of degree >= K) the certified bracket
    ``{"lower", "upper"}`` with ``lower > 0``.
    """
    r = solve(generator, K, constrained=True, rel_tol=rel_tol, use_cache=use_cache)
    return {"K": r.K, "lower": r.lower, "upper": r.upper, "lower_str": r.lower_str, "upper_str": r.upper_str,
            "rel_gap": r.rel_gap, "exact_zero": r.exact_zero, "target": r.target,
            "alternation_points": r.points}
