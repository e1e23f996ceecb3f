"""AQP: the variance-optimal table under a bias budget, solved and certified (claim C6).

    AQP_K(eps) = argmin_g V(g) = int_0^1 p V_g(p) dp
                 subject to sup_p |p B_g(p) - f(p)| <= tau = (1 + eps) E*_K

with E*_K the certified minimax error (:mod:`estimators.minimax`). The objective and the budget source are
pluggable: ``solve(..., quadratic=Q, E_star=EStarBracket(lo, up, source))`` minimises the exact form g^T Q g
(:class:`.objective.QuadraticObjective`, null space exactly the constants) under (1 + eps) E* with a caller's
certified bracket on E*; the defaults (H_K, minimax E*_K) leave cache keys and certificates unchanged.
:func:`solve` runs

1. the double-precision stage (:mod:`.convex`: cvxpy + Clarabel with exchange), accepted when its
   table certifies with an optimality gap <= ``gap_tol``;
2. otherwise the extended-precision stage (:mod:`.extended`: exchange around an interior-point
   method in Arb, finished by Newton on the active set), whose table is kept in extended precision
   (``reference``) and rounded once to float64;

and certifies the result on both sides (:mod:`.certify`): the stored table's weighted bias <=
(1 + eps) E_lower on all of [0, 1] (Arb Taylor models), V(g) exactly, and a lower bound on the optimum
from the dual of a finite relaxation (Arb, with the budget's upper end (1 + eps) E_upper). The solve is
tightened by a relative margin (1e-8) below the budget so that the float64 rounding and the solver
tolerance fit under it; a table that still fails is re-solved with a budget tightened by twice its
excess (at most 3 times), and refused when float64 cannot hold any table within the budget at the
required optimality (entries so large that their rounding alone costs more than ``gap_tol`` allows).
"""
from __future__ import annotations

import decimal
import math
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Callable, Iterable

import numpy as np
from flint import arb, ctx, fmpq

from .. import cache as _cache
from .._validate import as_real, check_K
from ..minimax.certify import CertificateError, float_down, float_up
from ..minimax.targets import target_for
from .objective import QuadraticObjective, check_objective_for
from .version import AQP_VERSION, CAUSES

__all__ = ["AQPResult", "AQPError", "EStarBracket", "solve", "solve_dual", "budget", "check_eps", "check_objective",
           "AQP_VERSION", "K_MIN", "K_MAX", "DEFAULT_GAP_TOL", "CAUSES", "OBJECTIVES", "SOLVE_MARGIN", "QuadraticObjective",
           "certificate_hints"]

K_MIN, K_MAX = 2, 128
#: required relative width of the optimality bracket V(g) / lower - 1
DEFAULT_GAP_TOL = 1e-3
#: the solver aims at tau_lower * (1 - SOLVE_MARGIN): room for float64 rounding and tolerances
SOLVE_MARGIN = 1e-8
#: "integrated": int_0^1 p V_g(p) dp (exact quadratic form); "sup": sup_p p V_g(p) (double-precision stage only)
OBJECTIVES = ("integrated", "sup")




class AQPError(CertificateError):
    """An AQP table could not be solved or certified within its requirements.

    ``cause`` (one of :data:`CAUSES`) and ``details`` (numbers: K, eps, the budget, the certified bias and
    optimality bracket, entry size and float64 rounding, repairs, ...) say why in structured form; the message
    says it in words. ``warm``: the extended-precision attempt's active set and scales (a warm start for a
    neighbouring solve), or None."""

    def __init__(self, message: str, *, cause: str = "solver_failure", details: dict | None = None,
                 warm: dict | None = None):
        if cause not in CAUSES:
            raise ValueError(f"cause must be one of {list(CAUSES)}, got {cause!r}")
        super().__init__(message)
        self.cause, self.details, self.warm = cause, dict(details or {}), warm

    def __reduce__(self):
        extra = {k: getattr(self, k) for k in ("reason", "remedy") if hasattr(self, k)}   # remedy.with_remedy
        return (_aqp_error, (str(self), self.cause, self.details, self.warm), extra or None)

    def to_dict(self) -> dict:
        """The refusal as JSON: ``{"cause", "message", "details"}``."""
        return {"cause": self.cause, "message": str(self), "details": dict(self.details)}


def _aqp_error(message, cause, details, warm):
    return AQPError(message, cause=cause, details=details, warm=warm)


def check_eps(eps) -> float:
    """eps must be a finite number > 0 (eps = 0 is the minimax table itself: method 'minimax')."""
    allowed = "a finite number > 0 (the bias budget is (1 + eps) E*_K)"
    v = as_real(eps, name="eps", allowed=allowed)
    if v <= 0:
        hint = " (eps = 0 is the minimax table: use method 'minimax')" if v == 0 else ""
        raise ValueError(f"eps must be {allowed}, got {eps!r}{hint}")
    if v > 1e6:
        raise ValueError(f"eps must be <= 1e6 (beyond that the budget admits a constant table), got {eps!r}")
    return v


def check_objective(objective) -> str:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    return objective


def check_aqp_K(K) -> int:
    return check_K(K, name="K", minimum=K_MIN, maximum=K_MAX)


@dataclass(frozen=True)
class EStarBracket:
    """A certified bracket ``lower <= E* <= upper`` on the error that the budget scales, tau = (1 + eps) E*,
    and where it comes from (``source``: a short name, written into the certificate and the cache key).

    The default budget source is the certified minimax error E*_K of :mod:`estimators.minimax` (no bracket
    passed); a caller that solves the same bias constraint against another problem's error (e.g. an effective
    minimax error under a baseline) passes that problem's certified bracket here. Both ends must be finite
    floats with 0 < lower <= upper (a zero error leaves a zero budget: only exactly unbiased tables, see
    method 'ustat')."""

    lower: float
    upper: float
    source: str

    def __post_init__(self):
        lo = as_real(self.lower, name="E_star.lower", allowed="a finite number > 0")
        up = as_real(self.upper, name="E_star.upper", allowed="a finite number >= E_star.lower")
        if not 0 < lo <= up:
            raise ValueError(f"E_star must satisfy 0 < lower <= upper, got lower={self.lower!r}, upper={self.upper!r}")
        if not isinstance(self.source, str) or not self.source or len(self.source) > 200:
            raise ValueError(f"E_star.source must be a non-empty string (at most 200 characters) naming where the "
                             f"bracket comes from, got {self.source!r}")
        object.__setattr__(self, "lower", float(lo))
        object.__setattr__(self, "upper", float(up))

    def identity(self) -> dict:
        return {"lower": float(self.lower).hex(), "upper": float(self.upper).hex(), "source": self.source}


@dataclass
class AQPResult:
    """A solved and certified AQP table (JSON-serialisable through :meth:`to_dict`).

    Budget: ``tau_lower = (1+eps) E_lower <= tau <= tau_upper = (1+eps) E_upper``.
    ``values``: the float64 table; ``reference``: the extended-precision entries it was rounded from
    (decimal strings) when the extended stage ran, else None. ``certified`` names what the bias
    certificate covers: ``"stored"`` (the float64 table) or ``"reference"``.
    """

    generator: dict
    K: int
    eps: float
    objective: str
    E_lower: float
    E_upper: float
    tau_lower: float
    tau_upper: float
    values: list
    stage: str
    bias_lower: float
    bias_upper: float
    variance: str                 # V(g) of the certified table, exact, as a decimal with 30 digits
    variance_lower: float         # outward float64 rounding of the exact V
    variance_upper: float
    optimum_lower: float          # certified lower bound on the optimal V
    gap: float                    # variance_upper / optimum_lower - 1 (rigorous upper bound)
    dual_points: list             # points and multipliers of the dual certificate (re-checkable):
    dual_nu: list                 # floats, or decimal strings where float64 would cost the bound
    active_points: list
    active_signs: list
    max_abs_g: float
    certified: str = "stored"
    reference: list | None = None
    reference_dps: int | None = None
    polished: bool = False
    prec_bits: int = 0
    repairs: int = 0
    seconds: dict = field(default_factory=dict)
    version: str = AQP_VERSION
    quadratic: dict | None = None          # identity of a non-default objective (None: the default H_K)
    E_star_source: str | None = None        # where a caller-supplied E* bracket comes from (None: minimax E*_K)
    bias_lower_at: float | None = None      # where the certified table's |bias| reaches bias_lower
    bias_hints: list | None = None          # the bias certificate's interval centres (re-verification repeats it)
    values_bias_lower: float | None = None  # certified="reference": the float64 values' own certified bias bracket
    values_bias_upper: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AQPResult":
        return cls(**d)

    @property
    def V(self) -> float:
        return 0.5 * (self.variance_lower + self.variance_upper)

    def certificate(self) -> dict:
        """The JSON certificate stored in ``Table.certificate`` (bound to the table by the builder)."""
        within = self.bias_upper <= self.tau_lower
        if self.objective == "sup":
            return {
                "quantity": "min_g sup_p p V_g(p) subject to sup_p |p B_g(p) - f(p)| <= (1 + eps) E*_K",
                "eps": self.eps, "objective": "sup", "E_star_lower": self.E_lower, "E_star_upper": self.E_upper,
                "budget_lower": self.tau_lower, "budget_upper": self.tau_upper, "table_certified": self.certified,
                "bias_lower": self.bias_lower, "bias_upper": self.bias_upper, "bias_within_budget": bool(within),
                "sup_variance_lower": self.variance_lower, "sup_variance_upper": self.variance_upper,
                "optimum_lower_bound": self.optimum_lower, "optimality_gap": self.gap,
                "method": ("bias: rigorous sup by Taylor models in Arb; objective: rigorous sup of the polynomial "
                           "p V_g(p) by the same Taylor models; optimum lower bound: max_p p V_g(p) >= sum_j w_j p_j "
                           "V_g(p_j) / sum_j w_j for the solver's weights w >= 0, bounded below by weak duality of "
                           "the finite relaxation (exact rational multipliers, Arb)"),
                "dual_points": list(self.dual_points), "dual_multipliers": list(self.dual_nu),
                "stage": self.stage, "max_abs_entry": self.max_abs_g,
            }
        cert = {
            "quantity": ("AQP_K(eps): min_g V(g) = int_0^1 p V_g(p) dp subject to sup_p |p B_g(p) - f(p)| <= "
                         "(1 + eps) E*_K"),
            "eps": self.eps, "objective": self.objective,
            "E_star_lower": self.E_lower, "E_star_upper": self.E_upper,
            "budget_lower": self.tau_lower, "budget_upper": self.tau_upper,
            "table_certified": self.certified,
            "bias_lower": self.bias_lower, "bias_upper": self.bias_upper,
            "bias_within_budget": bool(within),
            "variance": self.variance, "variance_lower": self.variance_lower, "variance_upper": self.variance_upper,
            "optimum_lower_bound": self.optimum_lower, "optimality_gap": self.gap,
            "method": ("a constant table meets the budget, so the optimum is V = 0 exactly; bias: rigorous sup over "
                       "[0, 1] by Taylor models in Arb" if self.stage == "constant" else "bias: rigorous sup over [0, 1] of the table's weighted bias by Taylor models in Arb, <= "
                       "(1+eps) E*_K's certified lower end; variance: exact rational arithmetic; optimum lower "
                       "bound: weak duality of the finite relaxation at the dual points, multipliers adjusted "
                       "exactly so that sum nu_i x_i = 0, evaluated in Arb with (1+eps) E*_K's upper end"),
            "dual_points": list(self.dual_points), "dual_multipliers": list(self.dual_nu),
            "stage": self.stage, "max_abs_entry": self.max_abs_g,
        }
        if self.certified == "reference" and self.values_bias_upper is not None:
            # the kernels read the float64 values: the certificate states their own certified bias, and
            # bias_within_budget speaks of them (the reference entries are within the budget: bias_upper above)
            cert.update({"reference_within_budget": bool(within), "values_bias_lower": self.values_bias_lower,
                         "values_bias_upper": self.values_bias_upper,
                         "bias_within_budget": bool(within and self.values_bias_upper <= self.tau_lower)})
        return self._other_problem(cert)

    def _other_problem(self, cert: dict) -> dict:
        """Name a non-default objective and budget source in the certificate (the default's is unchanged, so
        the shipped tables' bindings stay valid)."""
        if self.quadratic is None and self.E_star_source is None:
            return cert
        q = self.quadratic["ident"] if self.quadratic else "V(g) = int_0^1 p V_g(p) dp"
        src = f"E* from {self.E_star_source}" if self.E_star_source else "E*_K"
        cert["quantity"] = (f"min_g g^T Q g (Q: {q}) subject to sup_p |p B_g(p) - f(p)| <= (1 + eps) E* ({src}); "
                            f"'variance' fields hold the value g^T Q g")
        if self.quadratic is not None:
            cert["quadratic_objective"] = dict(self.quadratic)
        if self.E_star_source is not None:
            cert["E_star_source"] = self.E_star_source
        return cert


# -- budget --------------------------------------------------------------------------------------

def budget(generator, K: int, eps: float, *, use_cache: bool = True, E_star: EStarBracket | None = None) -> dict:
    """Certified budget bracket: E* (by default E*_K from the minimax solver; ``E_star``: a caller's certified
    bracket), (1+eps) E_lower (rounded down) and (1+eps) E_upper (rounded up).

    Raises AQPError when E* = 0 (a polynomial target of degree <= K - 1: the budget is 0, and the only table
    within it is the exactly unbiased U-statistic table, method 'ustat')."""
    r = None
    if E_star is not None:
        if not isinstance(E_star, EStarBracket):
            raise TypeError(f"E_star must be an EStarBracket(lower, upper, source) or None, got {type(E_star).__name__}")
        E_lo, E_up = E_star.lower, E_star.upper
    else:
        from ..minimax import solve as minimax_solve
        r = minimax_solve(generator, K, use_cache=use_cache)
        E_lo, E_up = r.lower, r.upper
        if r.exact_zero or E_lo <= 0:
            raise AQPError(
                f"K={K}: the target is a polynomial of degree <= K - 1, so E*_K = 0 exactly and the budget "
                f"(1 + eps) E*_K is 0 for every eps: the only table within it is the exactly unbiased U-statistic "
                f"table (build_table(..., 'ustat', {K})); AQP needs a target with E*_K > 0 (or a smaller K)",
                cause="zero_budget", details={"K": K, "E_lower": 0.0, "E_upper": 0.0})
    with ctx.workprec(128):
        e = arb(1) + arb(eps)
        lo = float_down(e * arb(E_lo))
        up = float_up(e * arb(E_up))
    return {"E_lower": E_lo, "E_upper": E_up, "tau_lower": lo, "tau_upper": up, "minimax": r, "eps": eps,
            "source": E_star.source if E_star is not None else None}


# -- solve ----------------------------------------------------------------------------------------

def solve(generator, K, eps, *, objective: str = "integrated", gap_tol: float = DEFAULT_GAP_TOL,
          stored: bool = True, warm: AQPResult | None = None, use_cache: bool = True,
          log: Callable[[str], None] | None = None, quadratic: QuadraticObjective | None = None,
          E_star: EStarBracket | None = None) -> AQPResult:
    """Solve and certify AQP_K(eps) for ``generator`` (kl, power(alpha); see the module docstring).

    Parameters
    ----------
    generator : str or Generator
    K : int                 group size in [2, 128]
    eps : float             budget excess over E*_K, > 0
    objective : str         "integrated" (the default weighted variance int_0^1 p V_g(p) dp)
    gap_tol : float         required optimality bracket V / lower - 1
    stored : bool           certify the float64 table as stored (default) or, with False, the
                            extended-precision reference table (used for the frontier at tiny eps,
                            where no float64 table can hold the optimum)
    warm : AQPResult        a neighbouring solution (points, objective scale): speed only
    use_cache : bool        results are cached on disk (see :mod:`estimators.cache`)
    quadratic : QuadraticObjective
                            the exact quadratic form g^T Q g minimised (default None: the integrated
                            weighted variance H_K); its identity goes into the cache key and certificate
    E_star : EStarBracket   the certified bracket that the budget scales, tau = (1 + eps) E* (default None:
                            E*_K of the minimax solver); named in the cache key and certificate

    Raises
    ------
    TypeError / ValueError  bad K, eps, objective or generator
    AQPError                the table cannot be certified as required (the message gives the numbers)
    """
    from ..generators import Generator, get_generator
    gen = generator if isinstance(generator, Generator) else get_generator(generator)
    K = check_aqp_K(K)
    eps = check_eps(eps)
    objective = check_objective(objective)
    if not isinstance(stored, bool):
        raise TypeError(f"stored must be True or False, got {stored!r}")
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
    gap_tol = float(gap_tol)
    if not 0 < gap_tol < 1:
        raise ValueError(f"gap_tol must be in (0, 1), got {gap_tol!r}")
    Q = check_objective_for(quadratic, K)
    if E_star is not None and not isinstance(E_star, EStarBracket):
        raise TypeError(f"E_star must be an EStarBracket(lower, upper, source) or None, got {type(E_star).__name__}")
    if objective == "sup" and (not Q.is_default or E_star is not None):
        raise ValueError("objective 'sup' (sup_p p V_g(p)) takes neither quadratic nor E_star: use the integrated "
                         "objective with them")
    target = target_for(gen)
    ident = {"generator": gen.to_dict(), "K": K, "eps": eps, "objective": objective, "gap_tol": gap_tol,
             "stored": stored, "version": AQP_VERSION}
    if not stored:      # the reference-table path aims at the budget without room for rounding (since aqp-2)
        ident["margin"] = "solve-margin-only"
    if not Q.is_default:                    # the default's key is unchanged
        ident["quadratic"] = {"ident": Q.ident, "sha256": Q.sha256}
    if E_star is not None:
        ident["E_star"] = E_star.identity()

    def compute():
        if objective == "sup":
            return _solve_sup_uncached(gen, target, K, eps, gap_tol, log or (lambda m: None)).to_dict()
        return _solve_uncached(gen, target, K, eps, gap_tol, stored, warm, log or (lambda m: None), Q,
                               E_star).to_dict()

    if objective == "sup":          # its certificate needs the solver's variance weights: solved every time
        return AQPResult.from_dict(compute())

    def validate(val):
        _reverify_cached(val, gen, target, K, eps, gap_tol, stored, Q, E_star)

    val, hit = _cache.cached("aqp", ident, compute, use_cache=use_cache, validate=validate, validate_computed=False)
    return AQPResult.from_dict(val)


#: digests of cached results re-verified in this process (a result is re-verified once per process)
_REVERIFIED: set = set()


def _reverify_cached(val, gen, target, K, eps, gap_tol, stored, Q, E_star) -> None:
    """Raise ValueError unless the cached result ``val`` answers this request and its certificate re-verifies
    from its own table (see :func:`reverify_result`); memoised per process by the digest of the entry."""
    import hashlib
    import json
    key = hashlib.sha256(json.dumps([val, K, eps, gap_tol, stored, Q.sha256,
                                     E_star.identity() if E_star else None], sort_keys=True,
                                    default=str).encode()).hexdigest()
    if key in _REVERIFIED:
        return
    if not isinstance(val, dict):
        raise ValueError("a cached AQP result must be a dict")
    r = AQPResult.from_dict(val)
    want = (K, eps, "integrated", gen.to_dict(), AQP_VERSION, None if Q.is_default else Q.identity(),
            E_star.source if E_star is not None else None)
    got = (r.K, r.eps, r.objective, r.generator, r.version, r.quadratic, r.E_star_source)
    if got != want:
        raise ValueError(f"cached AQP result is for {got[:3]} (version {r.version!r}), requested {want[:3]}")
    if stored and r.certified != "stored":
        raise ValueError("cached AQP result certifies its reference table, the request is for the stored one")
    reverify_result(r, gen, target, gap_tol, Q, E_star)
    _REVERIFIED.add(key)


def reverify_result(r: AQPResult, gen, target, gap_tol: float, Q: QuadraticObjective | None = None,
                    E_star: EStarBracket | None = None) -> None:
    """Re-verify every certified figure of ``r`` from its own table in this run; ValueError naming the first that
    fails. The budget bracket is recomputed (E* from its source) and must equal r's; the certified entries
    (``values``, or ``reference`` when ``certified == "reference"``, whose float64 rounding ``values`` must be)
    give: the exact V bracket (equal), the dual lower bound from r's dual points and multipliers at r's precision
    (equal), the bias sup <= r's ``bias_upper`` <= the budget (Taylor models accepting intervals below the claim),
    |bias| at ``bias_lower_at`` >= ``bias_lower``, and the optimality gap (<= ``gap_tol``)."""
    from .certify import bias_at
    Q = check_objective_for(Q, r.K)
    vals = r.values
    if not isinstance(vals, list) or len(vals) != r.K or \
            not all(isinstance(v, float) and math.isfinite(v) for v in vals):
        raise ValueError(f"cached AQP values must be {r.K} finite floats")
    if r.reference is not None:
        if len(r.reference) != r.K or any(not _one_ulp(v, x) for v, x in zip(vals, r.reference)):
            raise ValueError("cached AQP values are not float64 neighbours of its reference entries")
    bud = budget(gen, r.K, r.eps, E_star=E_star)
    if (bud["E_lower"], bud["E_upper"], bud["tau_lower"], bud["tau_upper"]) != \
            (r.E_lower, r.E_upper, r.tau_lower, r.tau_upper):
        raise ValueError("the cached budget bracket is not the one recomputed from E*")
    if r.certified not in ("stored", "reference") or (r.certified == "reference" and r.reference is None):
        raise ValueError(f"cached AQP result certifies {r.certified!r}")
    entries = vals if r.certified == "stored" else list(r.reference)
    if r.stage == "constant" and not (len(set(vals)) == 1 and r.variance_upper == 0.0):
        raise ValueError("a cached constant-stage result must hold a constant table with V = 0")
    if not isinstance(r.bias_hints, list) or not all(isinstance(h, float) for h in r.bias_hints):
        raise ValueError("cached AQP result has no bias-certificate hints to repeat it from")
    if r.stage == "constant":       # V = 0 exactly: only the bias certificate to repeat
        from .certify import certify_bias
        c = {"bias": certify_bias(entries, target, r.bias_hints), "V": Fraction(0), "V_lo": 0.0, "V_up": 0.0,
             "lb": 0.0}
    else:
        c = _certify(gen, target, r.K, r.eps, bud, entries, r.bias_hints, r.dual_points, r.dual_nu, r.prec_bits,
                     r.certified, Q)
    checks = [(c["bias"].upper <= r.bias_upper <= r.tau_lower, "the bias sup is not below the claimed bias_upper "
                                                             "and the budget"),
              ((c["V_lo"], c["V_up"]) == (r.variance_lower, r.variance_upper), "the exact V bracket differs"),
              (_decimal(c["V"]) == r.variance, "the exact V differs"),
              (c["lb"] >= r.optimum_lower, "the dual lower bound is below the claimed one"),
              (r.gap <= gap_tol and (r.optimum_lower <= 0 and r.variance_upper == 0 or
                                     r.optimum_lower > 0 and r.gap >= float_up(arb(r.variance_upper) /
                                                                              arb(r.optimum_lower) - 1)),
               "the optimality gap does not re-verify"),
              (r.bias_lower <= 0 or (r.bias_lower_at is not None and
                                     bias_at(entries, target, r.bias_lower_at) >= r.bias_lower),
               "the bias lower bound does not re-verify at its point")]
    if r.certified == "reference" and r.values_bias_upper is not None:
        from .certify import certify_bias
        checks.append((certify_bias(vals, target, r.bias_hints).upper <= r.values_bias_upper,
                       "the float64 values' bias does not re-verify"))
    bad = [why for ok, why in checks if not ok]
    if bad:
        raise ValueError("cached AQP certificate does not re-verify: " + "; ".join(bad))


def _one_ulp(v: float, ref: str) -> bool:
    """Whether the float ``v`` is one of the two float64 neighbours of the exact decimal ``ref``."""
    from .rounding import neighbours
    lo, hi, _, _ = neighbours([Fraction(ref)])
    return v in (float(lo[0]), float(hi[0]))


def _dps_for(max_abs_g: float, tau: float) -> int:
    return int(math.ceil(math.log10(max(max_abs_g, 1.0) / tau))) + 25


def _decimal(x: Fraction, digits: int = 30) -> str:
    with decimal.localcontext() as c:
        c.prec = digits
        return str(decimal.Decimal(x.numerator) / decimal.Decimal(x.denominator))


def certificate_hints(target, K: int, g, tau: float) -> list:
    """Local extrema of the error (interval centres for the sup certificate), located from B_g evaluated in Arb
    (:func:`.extended.error_extrema`: accurate however large the entries)."""
    from .extended import error_extrema
    xs, _ = error_extrema(list(g), target, tau)
    return [float(x) for x in xs if 0 < x <= 1]


def _certify(gen, target, K, eps, bud, entries, hints, dual_points, dual_nu, prec, certified_kind, Q):
    from .certify import certify_bias, dual_lower_bound, variance_bracket
    t0 = time.perf_counter()
    hints = sorted(set(float(h) for h in hints if 0.0 < float(h) <= 1.0))
    bb = certify_bias(entries, target, hints)
    t1 = time.perf_counter()
    V, V_lo, V_up = variance_bracket(entries, Q)
    # multipliers below 1e-12 of the largest (an interior-point solver's inactive constraints) are left out:
    # any multipliers give a valid bound, and the certificate stays small
    big = max((abs(float(v)) for v in dual_nu), default=0.0)
    sel = [i for i, v in enumerate(dual_nu) if abs(float(v)) > 1e-12 * big and 0.0 < float(dual_points[i]) <= 1.0]
    lb = dual_lower_bound(K, target, bud["tau_upper"], [dual_points[i] for i in sel], [dual_nu[i] for i in sel],
                          prec=max(prec, 192), objective=Q)["lower"]
    t2 = time.perf_counter()
    if lb > 0:
        gap = float_up(arb(V_up) / arb(lb) - 1)
    else:
        gap = 0.0 if V_up == 0 else math.inf
    return {"bias": bb, "V": V, "V_lo": V_lo, "V_up": V_up, "lb": max(lb, 0.0), "gap": gap,
            "seconds": {"certify_bias": round(t1 - t0, 4), "certify_dual": round(t2 - t1, 4)},
            "dual": ([float(dual_points[i]) for i in sel],
                     [dual_nu[i] if isinstance(dual_nu[i], str) else float(dual_nu[i]) for i in sel]),
            "kind": certified_kind, "hints": hints}


def _solve_uncached(gen, target, K, eps, gap_tol, stored, warm, log, Q, E_star) -> AQPResult:
    t_start = time.perf_counter()
    bud = budget(gen, K, eps, E_star=E_star)
    # the solver aims a relative 1e-8 inside the budget (its tolerances); the float64 rounding of large entries is
    # directed inwards at the error's extrema (:mod:`.rounding`) and repaired by tightening only if that fails
    tau_s = bud["tau_lower"] * (1.0 - SOLVE_MARGIN)
    secs: dict = {}
    const = _constant_table(gen, target, K, bud)
    if const is not None:
        return _named(const, Q, bud)
    w = _warm_info(warm)
    sol = None
    # double precision first, unless a neighbouring solution shows a variance far beyond its reach
    if w is None or w["stage"] in ("clarabel", "constant") or w["V"] < 1e3:
        sol, res = _double_stage(gen, target, K, eps, bud, tau_s, w, Q, gap_tol, secs, log, t_start)
        if res is not None:
            return res
    return _extended_stage(gen, target, K, eps, bud, tau_s, w, sol, Q, gap_tol, stored, secs, log, t_start)


def _warm_info(warm) -> dict | None:
    """What a warm start uses (active points and signs, objective scale, entry size, stage) from a neighbouring
    AQPResult, or from a refusal that carries its extended-precision attempt (``AQPError.warm``)."""
    if isinstance(warm, AQPResult):
        return {"active_points": list(warm.active_points), "active_signs": list(warm.active_signs), "V": warm.V,
                "max_abs_g": warm.max_abs_g, "stage": warm.stage}
    if isinstance(warm, AQPError) and warm.warm is not None:
        return dict(warm.warm)
    return None


def _double_stage(gen, target, K, eps, bud, tau_s, w, Q, gap_tol, secs, log, t_start):
    """Clarabel with exchange; ``(solution, certified result or None)``."""
    from .convex import solve_exchange
    from .extended import dense_grid
    t0 = time.perf_counter()
    sol = solve_exchange(target, K, tau_s, grid=dense_grid(K, tau_s),
                         v_scale=w["V"] if w is not None and w["V"] > 0 else None, objective=Q)
    secs["clarabel"] = round(time.perf_counter() - t0, 4)
    log(f"  [aqp] K={K} eps={eps:g}: Clarabel {sol.status} in {secs['clarabel']:.2f}s "
        f"({sol.exchanges} exchanges, violation {sol.max_violation:.1e})")
    if not (sol.ok and sol.max_violation <= 1e-7):
        return sol, None
    g64 = [float(v) for v in sol.g]
    c = _certify(gen, target, K, eps, bud, g64, certificate_hints(target, K, g64, tau_s) + list(sol.points),
                 list(sol.points), list(sol.nu), 192, "stored", Q)
    secs.update(c["seconds"])
    if c["bias"].upper <= bud["tau_lower"] and c["gap"] <= gap_tol:
        pts, sg = sol.active()
        return sol, _named(_result(gen, K, eps, bud, g64, None, None, "clarabel", c, pts, sg, False, 0, 0, secs,
                                   t_start), Q, bud)
    log(f"  [aqp] K={K} eps={eps:g}: double precision does not certify (bias "
        f"{c['bias'].upper / bud['tau_lower'] - 1:+.1e} relative to the budget, gap {c['gap']:.1e}); extended precision")
    return sol, None


#: most budget tightenings that repair a stored table whose certified bias exceeds the budget
MAX_REPAIRS = 3
#: largest relative move along the budget made to first order (:func:`.extended.shift_along_budget`); larger
#: ones are solved again (the error's bumps are narrow at small budgets: at K = 61, eps = 0.3 a 1e-4 move lands
#: within 10% of where it aims, a 1e-2 move overshoots the budget by 6%)
SHIFT_MAX = 1e-4


def _tightening_cost(excess: float, tau: float, dual_nu, V: float) -> float:
    """Relative increase of the optimum when the budget tightens by 1.25 excess tau, to first order and from
    below: V* is convex and decreasing in tau with slope -sum_i |nu_i| (the multipliers), so V*(tau - d) >=
    V*(tau) + d sum_i |nu_i|."""
    if V <= 0:
        return math.inf
    return 1.25 * max(excess, 0.0) * tau * sum(abs(float(v)) for v in dual_nu) / V


def _extended_stage(gen, target, K, eps, bud, tau_s, w, sol, Q, gap_tol, stored, secs, log, t_start):
    """Arb interior point + polish, the reference table rounded to float64 (directed), certified. A stored table
    whose certified bias exceeds the budget is repaired: the polished optimum is moved to a tighter budget to
    first order (:func:`.extended.shift_along_budget`), or, unpolished, solved again there. Refusals carry their
    cause (:class:`AQPError`)."""
    from .extended import ExtendedError, solve_extended, working_precision
    tau_lo = bud["tau_lower"]
    pts0 = list(w["active_points"]) if w else (sol.active()[0] if sol is not None else [])
    vs = (w["V"] if w and w["V"] > 0 else (Q.value_float64(sol.g) if sol is not None and sol.g is not None else None))
    maxg = max(w["max_abs_g"] if w else 1.0, float(np.abs(sol.g).max()) if sol is not None else 1.0, 1e4)
    repairs, resolves, last, base = 0, 0, None, {"K": K, "eps": eps, "tau_lower": tau_lo, "stored": stored}
    for attempt in range(MAX_REPAIRS + 3):
        prec = working_precision(K, maxg, tau_s)
        t0 = time.perf_counter()
        try:
            a = solve_extended(target, K, tau_s, points=pts0, v_scale=vs, prec=prec, log=log, objective=Q)
        except (ExtendedError, ArithmeticError) as exc:
            raise AQPError(f"K={K}, eps={eps:g}: the extended-precision solver failed: {exc}", cause="solver_failure",
                           details=dict(base, repairs=repairs, error=type(exc).__name__), warm=last) from exc
        secs[f"extended_{attempt}"] = round(time.perf_counter() - t0, 4)
        gabs = max(abs(float(x.mid())) for x in a.g)
        if working_precision(K, gabs, tau_s) > prec + 32:
            maxg = gabs
            continue
        last = {"active_points": list(a.points), "active_signs": list(a.signs), "V": a.variance_estimate(),
                "max_abs_g": gabs, "stage": "extended"}
        att, att0, moves, shift = _certify_with_shifts(gen, target, K, eps, bud, a, tau_s, prec, gabs, stored, Q, secs,
                                                       log, gap_tol)
        repairs += moves
        c = att["c"]
        if c["bias"].upper <= tau_lo and c["gap"] <= gap_tol:
            res = _result(gen, K, eps, bud, att["g64"], att["reference"], att["dps"], "extended", c, a.points,
                          a.signs, a.polished, prec, repairs, secs, t_start)
            if not stored:          # the float64 values' own bias, certified (the kernels read them)
                from .certify import certify_bias
                vb = certify_bias(att["g64"], target, c["hints"])
                res.values_bias_lower, res.values_bias_upper = vb.lower, vb.upper
            return _named(res, Q, bud)
        excess = c["bias"].upper / tau_lo - 1
        cost = _tightening_cost(excess, tau_lo, a.dual_nu, c["V_up"])
        d = dict(base, max_abs_g=gabs, rounding=att["rounding"], rounding_rel=att["rounding"] / tau_lo,
                 bias_upper=c["bias"].upper, bias_excess_rel=excess, gap=c["gap"], optimum_lower=c["lb"],
                 variance_upper=c["V_up"], repairs=repairs, polished=bool(a.polished), solve_budget=tau_s - shift,
                 tightening_cost=cost)
        if c["bias"].upper > tau_lo:
            if resolves < MAX_REPAIRS and 1.25 * excess < 0.5 and cost <= gap_tol:
                tau_s = (tau_s - shift) * (1 - 1.25 * excess - 1e-10)      # solve again at a tighter budget
                repairs, resolves = repairs + 1, resolves + 1
                pts0, vs, maxg = a.points, a.variance_estimate(), max(maxg, gabs)
                continue
            raise _bias_refusal(att0, d, target, tau_lo, gap_tol, last)
        raise _gap_refusal(d, gap_tol, stored, last)
    raise AQPError(f"K={K}, eps={eps:g}: the working precision kept growing with the entries (max|g| {maxg:.3g})",
                   cause="solver_failure", details=dict(base, repairs=repairs), warm=last)


def _certify_with_shifts(gen, target, K, eps, bud, a, tau_s, prec, gabs, stored, Q, secs, log, gap_tol):
    """Certify the extended solution; while its stored table exceeds the budget (and the polish gave an active
    set), move it inwards along the budget by 1.25 times the excess and certify again (at most
    :data:`MAX_REPAIRS` moves). Returns ``(last attempt, the unshifted attempt, moves, total shift)``."""
    from .extended import shift_along_budget
    tau_lo = bud["tau_lower"]
    g, shift, moves, first = list(a.g), 0.0, 0, None
    while True:
        att = _attempt(gen, target, K, eps, bud, a, g, prec, gabs, stored, Q)
        first = first or att
        c = att["c"]
        secs.update(c["seconds"])
        excess = c["bias"].upper / tau_lo - 1
        log(f"  [aqp] K={K} eps={eps:g}: extended stage ({a.rounds} rounds, {a.iterations} interior-point "
            f"iterations, polished={a.polished}, shift {shift / tau_lo:.2g}) in {a.seconds:.1f}s; bias {excess:+.1e} "
            f"relative to the budget, gap {c['gap']:.1e}, max|g| {gabs:.2e}")
        if excess <= 0 or not a.polished or moves >= MAX_REPAIRS or 1.25 * excess > SHIFT_MAX or \
                _tightening_cost(excess, tau_lo, a.dual_nu, c["V_up"]) > gap_tol:
            return att, first, moves, shift
        shift += (1.25 * excess + 1e-9) * tau_lo
        g = shift_along_budget(target, K, tau_s, a.points, a.signs, a.g, shift, prec=prec, objective=Q)
        moves += 1


def _attempt(gen, target, K, eps, bud, a, g, prec, gabs, stored, Q) -> dict:
    """The reference table ``g`` (Arb) of an extended solve ``a``, its directed float64 rounding, and the
    certificate of the one certified (stored: the float64 table; else the reference)."""
    from .extended import error_extrema
    from .rounding import directed_rounding
    tau_lo = bud["tau_lower"]
    dps = _dps_for(gabs, tau_lo)
    with ctx.workprec(prec):
        reference = [x.mid().str(dps, radius=False) for x in g]
    xs, e = error_extrema(reference, target, tau_lo, prec=prec)
    g64 = directed_rounding(reference, xs, e, tau_lo)
    hints = list(a.points) + [float(x) for x in xs if 0.0 < x <= 1.0]
    c = _certify(gen, target, K, eps, bud, g64 if stored else reference, hints, a.dual_points, a.dual_nu, prec,
                 "stored" if stored else "reference", Q)
    rounding = float(max(abs(Fraction(v) - Fraction(r)) for v, r in zip(g64, reference)))
    return {"reference": reference, "g64": g64, "dps": dps, "c": c, "rounding": rounding, "hints": hints}


def _bias_refusal(att, d, target, tau_lo, gap_tol, warm) -> "AQPError":
    """The stored table still exceeds the budget after the repairs: float64 rounding when the solver's own
    (unmoved) reference table ``att`` is certified within the budget, else the solver's tolerance."""
    from .certify import certify_bias
    K, eps = d["K"], d["eps"]
    ref_up = certify_bias(att["reference"], target, att["hints"]).upper
    d = dict(d, reference_bias_upper=ref_up, reference_within_budget=bool(ref_up <= tau_lo))
    if d["stored"] and ref_up <= tau_lo:
        return _with_reference_remedy(AQPError(
            f"K={K}, eps={eps:g}: no float64 table certified: the extended-precision optimum is within the budget "
            f"(bias <= {ref_up:.9g} <= {tau_lo:.9g}), but its float64 rounding (entries up to {d['max_abs_g']:.3g}, "
            f"rounding up to {d['rounding']:.3g} = {d['rounding_rel']:.2g} of the budget, directed inwards at the "
            f"error's extrema) still exceeds it by {d['bias_excess_rel']:.2g} relative after {d['repairs']} "
            f"tightenings, and tightening the budget by that much raises the optimum by at least "
            f"{d['tightening_cost']:.2g} (first order, from the multipliers; the tolerance is {gap_tol:g}). The "
            f"extended-precision table is certified: build_table(..., solve=True, certified='reference')",
            cause="float64_rounding", details=d, warm=warm))
    return AQPError(
        f"K={K}, eps={eps:g}: the table's certified bias {d['bias_upper']:.9g} exceeds the budget {tau_lo:.9g} by "
        f"{d['bias_excess_rel']:.2g} relative after {d['repairs']} tightenings (the extended-precision table's own "
        f"bias is <= {ref_up:.9g}: the solver's tolerance, not float64)", cause="bias_repairs", details=d, warm=warm)


def _with_reference_remedy(exc: "AQPError") -> "AQPError":
    """A float64 refusal carries its fix (the certified extended-precision table) for the command line:
    ``exc.reason`` is the message without the Python call, ``exc.remedy`` the keyword arguments."""
    from ..remedy import with_remedy
    reason = str(exc).split(". The extended-precision table is certified")[0]
    return with_remedy(exc, reason, solve=True, certified="reference")


def _gap_refusal(d, gap_tol, stored, warm) -> "AQPError":
    """The table is within the budget but the optimality bracket is wider than ``gap_tol``."""
    K, eps = d["K"], d["eps"]
    bracket = f"[{d['optimum_lower']:.9g}, {d['variance_upper']:.9g}] of relative width {d['gap']:.3g} > {gap_tol:g}"
    if d["repairs"] and stored:
        return _with_reference_remedy(AQPError(
            f"K={K}, eps={eps:g}: no float64 table certified at the required optimality: the budget was tightened "
            f"{d['repairs']} times (to {d['solve_budget']:.9g}) to fit the float64 rounding of entries up to "
            f"{d['max_abs_g']:.3g}, which leaves the optimality bracket {bracket}. The extended-precision table is "
            f"certified: build_table(..., solve=True, certified='reference')", cause="float64_rounding", details=d,
            warm=warm))
    return AQPError(f"K={K}, eps={eps:g}: optimality bracket {bracket} (polished: {d['polished']})",
                    cause="optimality_gap", details=d, warm=warm)


def _solve_sup_uncached(gen, target, K, eps, gap_tol, log) -> AQPResult:
    """The sup variant: min sup_p p V_g(p) under the same budget, solved in double precision (an SOCP with
    exchange on both constraint families) and certified: bias and objective by rigorous sups in Arb,
    optimum from below through the sampled-variance relaxation's dual (see :meth:`AQPResult.certificate`)."""
    from .certify import certify_bias, dual_lower_bound, sampled_variance_hessian11, sup_variance_upper
    from .convex import solve_exchange_sup
    from .extended import dense_grid
    t0 = time.perf_counter()
    bud = budget(gen, K, eps)
    tau_lo = bud["tau_lower"]
    tau_s = tau_lo * (1 - SOLVE_MARGIN)
    sol = solve_exchange_sup(target, K, tau_s, grid=dense_grid(K, tau_s))
    log(f"  [aqp sup] K={K} eps={eps:g}: Clarabel {sol.status}, {sol.exchanges} exchanges, violation "
        f"{sol.max_violation:.1e} ({sol.seconds:.1f}s)")
    if not sol.ok or sol.max_violation > 1e-6:
        raise AQPError(f"K={K}, eps={eps:g}: the sup objective is solved in double precision only, and Clarabel did "
                       f"not resolve it here (status {sol.status!r}, violation {sol.max_violation:.2g}); use the "
                       f"integrated objective at this budget, or a larger eps")
    g64 = [float(v) for v in sol.g]
    hints = certificate_hints(target, K, g64, tau_s) + list(sol.points)
    bb = certify_bias(g64, target, hints)
    U = sup_variance_upper(g64, list(sol.vpoints) + [float(x) for x in np.linspace(0, 1, 65)[1:]])
    w = np.maximum(sol.weights, 0.0)
    keep = w > 1e-12 * w.max()
    wv, pv = w[keep], sol.vpoints[keep]
    sel = [i for i, v in enumerate(sol.nu) if v != 0.0]
    with ctx.workprec(256):
        lb = dual_lower_bound(K, target, bud["tau_upper"], [sol.points[i] for i in sel], [sol.nu[i] for i in sel],
                              hessian11=lambda: sampled_variance_hessian11(K, pv, wv))["lower"]
        wsum = float_up(sum((arb(float(x)) for x in wv), arb(0)))
    lb = max(lb, 0.0) / wsum
    lb = float_down(arb(lb) * (1 - arb(2) ** -50))
    gap = float_up(arb(U) / arb(lb) - 1) if lb > 0 else math.inf
    if bb.upper > tau_lo or gap > gap_tol:
        raise AQPError(f"K={K}, eps={eps:g}: the sup-objective table does not certify (bias {bb.upper:.9g} vs budget "
                       f"{tau_lo:.9g}, optimality bracket [{lb:.6g}, {U:.6g}])")
    from ..moments import moments as _mom
    from ..table import Table
    tmp = Table(values=g64, generator=gen, method="aqp")
    grid = dense_grid(K, tau_s)
    p_star = float(grid[int(np.argmax(_mom(tmp, grid).weighted_var))])
    # a rigorous lower bound of the table's sup: p V_g(p) at the grid's maximiser, in exact rationals
    m = _mom(tmp, [Fraction(p_star)], engine="exact")
    with ctx.workprec(128):
        wv = m.weighted_var[0]
        v_lo = float_down(arb(fmpq(wv.numerator, wv.denominator)))
    c = {"bias": bb, "V": Fraction(0), "V_lo": v_lo, "V_up": U, "lb": lb, "gap": gap,
         "seconds": {}, "dual": ([float(sol.points[i]) for i in sel], [float(sol.nu[i]) for i in sel]),
         "kind": "stored"}
    res = _result(gen, K, eps, bud, g64, None, None, "clarabel", c, [], [], False, 0, 0,
                  {"clarabel": sol.seconds}, t0)
    res.objective = "sup"
    res.variance = f"{U!r} (rigorous upper bound of sup_p p V_g(p))"
    return res


def _constant_table(gen, target, K, bud):
    """When some constant table meets the budget, the optimum is exactly V = 0 (a constant reward has no
    variance): return the constant c minimising sup_p |p c - f(p)|, certified, or None."""
    from scipy import optimize

    from .certify import certify_bias
    p = np.unique(np.concatenate([np.linspace(0.0, 1.0, 4001), np.geomspace(1e-12, 1.0, 2000)]))
    fp = target.f_np(p)

    def worst(c):
        return float(np.max(np.abs(p * c - fp)))
    lo = float(np.min(fp[1:] / p[1:])) if p.size > 1 else -1.0
    r = optimize.minimize_scalar(worst, bounds=(min(lo, -1.0), 1.0), method="bounded", options={"xatol": 1e-14})
    if worst(r.x) > bud["tau_lower"] * (1 - 1e-6):
        return None
    g = [float(r.x)] * K
    hints = sorted(set(float(v) for v in p[::200] if v > 0) | {1.0})
    c = {"bias": certify_bias(g, target, hints), "V": Fraction(0), "V_lo": 0.0, "V_up": 0.0, "lb": 0.0, "gap": 0.0,
         "seconds": {}, "dual": ([], []), "kind": "stored", "hints": hints}
    if c["bias"].upper > bud["tau_lower"]:
        return None
    return _result(gen, K, bud["eps"], bud, g, None, None, "constant", c, [], [], True, 0, 0, {}, time.perf_counter())


def _named(res: AQPResult, Q: QuadraticObjective, bud: dict) -> AQPResult:
    """Record a non-default objective and budget source on the result (the default leaves both None)."""
    res.quadratic = None if Q.is_default else Q.identity()
    res.E_star_source = bud.get("source")
    return res


def _result(gen, K, eps, bud, g64, reference, dps, stage, c, pts, sg, polished, prec, repairs, secs, t_start):
    secs = dict(secs)
    secs["total"] = round(time.perf_counter() - t_start, 4)
    return AQPResult(
        generator=gen.to_dict(), K=K, eps=eps, objective="integrated", E_lower=bud["E_lower"], E_upper=bud["E_upper"],
        tau_lower=bud["tau_lower"], tau_upper=bud["tau_upper"], values=list(g64), stage=stage,
        bias_lower=c["bias"].lower, bias_upper=c["bias"].upper, variance=_decimal(c["V"]),
        variance_lower=c["V_lo"], variance_upper=c["V_up"], optimum_lower=c["lb"], gap=c["gap"],
        dual_points=c["dual"][0], dual_nu=c["dual"][1], active_points=[float(x) for x in pts],
        active_signs=[int(s) for s in sg], max_abs_g=max(abs(v) for v in g64), certified=c["kind"],
        reference=reference, reference_dps=dps, polished=bool(polished), prec_bits=int(prec), repairs=repairs,
        seconds=secs, bias_lower_at=c["bias"].lower_at, bias_hints=c.get("hints"))


# -- the dual question ------------------------------------------------------------------------------

def solve_dual(generator, K, variance_max, *, gap_tol: float = DEFAULT_GAP_TOL, use_cache: bool = True,
               log: Callable[[str], None] | None = None) -> dict:
    """The smallest weighted bias reachable with V(g) <= variance_max (a number, or "plugin": the plug-in
    table's V), with a certified bracket: ``upper`` is the certified bias of an AQP table whose exact V is
    <= variance_max; ``lower`` is a budget tau whose AQP optimum is certified > variance_max (so no table
    with V <= variance_max has a smaller bias). Bisection on log(1 + eps) between the two, until the
    relative bracket width is <= ``gap_tol``."""
    from ..generators import Generator, get_generator
    from .hessian import variance_exact
    gen = generator if isinstance(generator, Generator) else get_generator(generator)
    K = check_aqp_K(K)
    V0, V0_label = _check_variance_max(gen, K, variance_max)
    log = log or (lambda m: None)
    bud1 = budget(gen, K, 1.0)
    E = 0.5 * (bud1["E_lower"] + bud1["E_upper"])
    cache_ok = use_cache

    def at(eps):
        return solve(gen, K, eps, gap_tol=min(gap_tol, 1e-3), use_cache=cache_ok, log=log)

    # bracket: feasible (V <= V0) above, infeasible (lower bound > V0) below
    hi_eps, lo_eps = 10.0, None
    feasible = None
    for _ in range(40):
        r = at(hi_eps)
        if r.variance_upper <= V0:
            feasible = r
            break
        lo_eps = hi_eps if r.optimum_lower > V0 else lo_eps
        hi_eps *= 4.0
    if feasible is None:
        raise AQPError(f"no AQP table with V <= {V0:.6g} found up to eps = {hi_eps:g}")
    if lo_eps is None:
        lo_eps = hi_eps
        for _ in range(40):
            lo_eps /= 4.0
            if lo_eps < 1e-3:
                raise AQPError(f"V <= {V0:.6g} is reachable at every budget down to eps = 1e-3: the minimax region")
            r = at(lo_eps)
            if r.optimum_lower > V0:
                break
            if r.variance_upper <= V0:
                feasible, hi_eps = r, lo_eps
    infeasible_eps = lo_eps
    steps = 0
    while (1 + hi_eps) / (1 + infeasible_eps) - 1 > gap_tol and steps < 60:
        mid = math.sqrt((1 + hi_eps) * (1 + infeasible_eps)) - 1
        r = at(mid)
        steps += 1
        if r.variance_upper <= V0:
            feasible, hi_eps = r, mid
        elif r.optimum_lower > V0:
            infeasible_eps = mid
        else:
            raise AQPError(f"eps = {mid:g}: V <= {V0:.6g} is inside the optimality bracket "
                           f"[{r.optimum_lower:.9g}, {r.variance_upper:.9g}]; tighten gap_tol")
    b_lo = budget(gen, K, infeasible_eps)["tau_lower"]
    return {"K": K, "variance_max": V0, "variance_max_from": V0_label, "eps_upper": hi_eps,
            "eps_lower": infeasible_eps, "bias_upper": feasible.bias_upper, "bias_lower": b_lo,
            "rel_width": feasible.bias_upper / b_lo - 1, "table": feasible, "E_star": E, "bisection_steps": steps,
            "variance_of_table": float(variance_exact(feasible.values))}


def _check_variance_max(gen, K, variance_max):
    from .hessian import variance_exact
    if isinstance(variance_max, str):
        if variance_max != "plugin":
            raise ValueError(f"variance_max must be a number >= 0 or 'plugin', got {variance_max!r}")
        from ..methods import build_table
        return float(variance_exact(build_table(gen, "plugin", K).values)), "plugin"
    v = as_real(variance_max, name="variance_max", allowed="a finite number >= 0 or 'plugin'")
    if v < 0:
        raise ValueError(f"variance_max must be a finite number >= 0 or 'plugin', got {variance_max!r}")
    return v, "number"


def solve_path(generator, K, eps_values: Iterable[float], *, stored: bool = True, gap_tol: float = DEFAULT_GAP_TOL,
               use_cache: bool = True, neighbour: dict | None = None,
               log: Callable[[str], None] | None = None, quadratic: QuadraticObjective | None = None) -> list:
    """:func:`solve` for each eps in decreasing order, each warm-started from the same eps at a neighbouring
    K (``neighbour``: eps -> AQPResult or AQPError, e.g. the previous K's path; a refusal warm-starts from its
    extended-precision attempt when it has one), else from the previous eps. Every eps is attempted (no
    refusal is inherited). Returns ``[(eps, AQPResult or AQPError)]`` in the order given (a refusal is an entry,
    not an exception, with its cause in ``AQPError.cause``). ``quadratic``: the objective, as for :func:`solve`."""
    out = {}
    warm = None
    neighbour = neighbour or {}
    for eps in sorted({check_eps(e) for e in eps_values}, reverse=True):
        nb = neighbour.get(eps)
        w = nb if _warm_info(nb) is not None else warm
        try:
            r = solve(generator, K, eps, stored=stored, gap_tol=gap_tol, warm=w, use_cache=use_cache, log=log,
                      quadratic=quadratic)
            warm = r
            out[eps] = r
        except AQPError as exc:
            out[eps] = exc
            warm = exc if exc.warm is not None else warm
        except (ArithmeticError, RuntimeError, ValueError) as exc:   # a solver fault is a refusal with its reason
            out[eps] = AQPError(f"K={K}, eps={eps:g}: the solver failed ({type(exc).__name__}: {exc})",
                                cause="solver_failure", details={"K": K, "eps": eps, "error": type(exc).__name__})
    return [(float(e), out[check_eps(e)]) for e in eps_values]
