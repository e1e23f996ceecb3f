"""The minimax table as a registered method: ``build_table(gen, "minimax", K)`` (claims C3, C5).

g = Bernstein coefficients (degree n = K - 1) of Q = P/p, P the best approximation of
f(p) = p * target(p) by span{p, ..., p^K}. The entries are computed in extended precision,
kept as ``Table.reference`` (decimal strings, ``reference_dps`` digits: the polynomial the
certificate is about) and rounded once to float64. ``Table.certificate`` holds the certified
bracket on E*_K and, separately, the certified sup weighted bias of the *stored* float64
table, which is far larger than E*_K once K is beyond ~28 for KL (entries up to 1e15 at
K = 64: float64 rounding dominates, docs/theory.md, section 5). The certificate is bound to the values,
reference entries, generator, K and parameters when it is computed (before it is cached;
:mod:`estimators.certificates`), so an edited table or cache entry never carries it.
"""
from __future__ import annotations

from fractions import Fraction

from .._validate import check_unit_interval_open
from ..generators import get_generator
from ..table import Table
from .core import DEFAULT_REL_TOL, check_minimax_K, solve

__all__ = ["minimax_table"]


def minimax_table(generator, K, *, rel_tol: float = DEFAULT_REL_TOL, use_cache: bool = True) -> Table:
    """C3: certified best weighted-bias table, E*_K = Theta(1/K^2) for KL (K <= 256).

    For ``generator`` kl, power(alpha) and polynomial targets, K in [2, :data:`~.core.K_MAX`].
    """
    K = check_minimax_K(K)
    rel_tol = check_unit_interval_open(rel_tol, name="rel_tol")
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
    r = solve(generator, K, constrained=True, rel_tol=rel_tol, use_cache=use_cache)
    if r.exact_zero:
        ref = tuple(Fraction(x) for x in r.reference)
        prov = ("the target is a polynomial of degree <= K-1: the best table is the unbiased U-statistic "
                "table (E*_K = 0), exact rationals rounded once to float64")
        dps = None
    else:
        ref = tuple(r.reference)
        dps = r.reference_dps
        prov = (f"Remez exchange in the Chebyshev basis (float64, then Arb at {int(128 + 1.4 * (K - 1))} bits); "
                f"Bernstein coefficients of P(p)/p in Arb, kept to {dps} significant digits (reference) and "
                f"rounded once to float64; certified with Arb at {r.prec_bits} bits "
                f"(de la Vallee Poussin lower bound, Taylor-model sup upper bound)")
    return Table(values=r.values, generator=get_generator(generator), method="minimax",
                 params={"rel_tol": rel_tol}, provenance=prov, reference=ref, reference_dps=dps,
                 certificate=r.certificate(rel_tol))
