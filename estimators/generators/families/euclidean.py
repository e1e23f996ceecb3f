"""The Euclidean (Brier) family: phi = t^2/2, reward t; nothing dropped.

A polynomial target of degree 1 (everything of :mod:`.polynomial` applies), with its own closed forms: the
reward is p itself, and the game's optimum is the Euclidean projection of r / beta onto the simplex.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .polynomial import Polynomial

#: none: the Euclidean generator has no parameters
#: the alignment game (C7) is played with this family (phi = t^2/2 is convex)
GAME = True
#: parameter sets the family conformance tests run every hook on (tests/test_generator_families.py)
EXAMPLES = ({},)
CLI_OPTIONS = ()

__all__ = ["build", "Euclidean", "simplex_projection"]


def simplex_projection(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Euclidean projection of ``v`` onto the probability simplex (sort-based) and its threshold tau."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, v.size + 1)
    rho = np.flatnonzero(u - (css - 1) / k > 0)[-1]
    tau = (css[rho] - 1) / (rho + 1)
    return np.maximum(v - tau, 0.0), float(tau)


class Euclidean(Polynomial):
    """phi = t^2/2."""

    def _target64(self, p):
        return p.copy()

    def _weighted64(self, p):
        return p * p

    def _dweighted64(self, p):
        return 2.0 * p

    def _target_mp(self, p):
        return p

    def torch_target(self, p):
        return p.clone()

    def game_optimum(self, r: np.ndarray, beta: float):
        p, tau = simplex_projection(r / beta)
        return p, beta * tau, "closed form: Euclidean projection of r / beta onto the simplex"


def build() -> Euclidean:
    """Euclidean (Brier): phi = t^2/2, reward t; nothing dropped."""
    return Euclidean(name="euclidean", params={}, phi_text="t^2/2", target_text="p", dropped_constant=Fraction(0),
                     target_coeffs=(Fraction(0), Fraction(1)))
