"""Minimax (best uniform approximation) estimators with certified errors (claims C1, C3, C4, C5).

Public API
----------
solve(generator, K, constrained=True)  -> MinimaxResult   certified bracket on E*_K (+ table)
sweep(generator, Ks, ...)              -> list[MinimaxResult]
best_weighted_bias(generator, K)       -> dict            smallest weighted bias of any K-table
minimax_table(generator, K)            -> Table           also ``build_table(gen, "minimax", K)``
remez(target, N, constrained=...)                          the uncertified exchange solver
Errors: ConvergenceError, CertificateError, UnsupportedTargetError (a ValueError).
"""
from .certify import CertificateError
from .core import (DEFAULT_REL_TOL, K_MAX, K_MIN, MinimaxResult, best_weighted_bias, check_minimax_K, solve,
                   sweep)
from .remez import ConvergenceError, RemezSolution, remez
from .targets import SUPPORTED, Target, UnsupportedTargetError, target_for
from .table import minimax_table

__all__ = ["solve", "sweep", "best_weighted_bias", "minimax_table", "remez", "MinimaxResult", "RemezSolution",
           "Target", "target_for", "ConvergenceError", "CertificateError", "UnsupportedTargetError",
           "DEFAULT_REL_TOL", "K_MIN", "K_MAX", "SUPPORTED", "check_minimax_K"]
