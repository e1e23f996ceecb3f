"""The AQP estimator (claim C6): variance-optimal tables under a bias budget, solved and certified.

Public API (the solver modules are imported lazily, so loading a shipped table needs no solver)::

    build_table("kl", "aqp", K, eps=10)                        # a shipped, certified table (K = 2..128)
    build_table("kl", "aqp", K, eps=0.5, solve=True)           # any eps: solve and certify (cached)
    build_table("kl", "aqp", K, variance_max="plugin")         # the dual: least bias at the plug-in's V
    estimators.aqp.core.solve(generator, K, eps)               -> AQPResult (both certificates)
    estimators.aqp.core.solve_dual(generator, K, variance_max) -> certified bracket on the least bias
    estimators.aqp.shipped.load(K, eps) / SHIPPED_EPS          the shipped set
    estimators.aqp.core.solve(gen, K, eps, quadratic=Q, E_star=EStarBracket(lo, up, "source"))
        another exact quadratic objective (estimators.aqp.objective.QuadraticObjective; default H_K) and a
        caller's certified bracket on the error the budget scales (default: the minimax E*_K)

Refusals name their cause: ``AQPError.cause`` / ``ShippedTableError.cause``, one of
``estimators.aqp.version.CAUSES``, with the numbers in ``.details``.
"""
from .shipped import SHIPPED_EPS, SHIPPED_K, ShippedTableError, load  # noqa: F401  (no solver import)

__all__ = ["SHIPPED_EPS", "SHIPPED_K", "ShippedTableError", "load"]
