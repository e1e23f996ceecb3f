"""The KL (entropy) family: phi = t log t, reward log t + 1; tables estimate log p (the +1 is dropped).

f(p) = p log p is no polynomial, so no table is unbiased (C2), and it is singular at p = 0, where the
certified arithmetic bounds it by its variation instead of a Taylor series. The game's optimum is the
softmax of r / beta.
"""
from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np

from ..base import Generator, WeightedTarget

__all__ = ["build", "KL", "KLWeighted"]

#: none: the KL generator has no parameters
#: the alignment game (C7) is played with this family (phi = t log t is convex)
GAME = True
#: parameter sets the family conformance tests run every hook on (tests/test_generator_families.py)
EXAMPLES = ({},)
CLI_OPTIONS = ()


def _xlogx(p):
    from scipy import special  # imported on first use (``import estimators`` stays light)
    return special.xlogy(p, p)


class KLWeighted(WeightedTarget):
    """f(p) = p log p in float64 and Arb."""

    def describe(self) -> str:
        return "p log p"

    def f_np(self, p):
        p = np.asarray(p, dtype=np.float64)
        return _xlogx(p)

    def f(self, x):
        from flint import arb
        return x * x.log() if x > 0 else (arb(0) if x == 0 else x * x.log())

    def d1(self, x):
        return x.log() + 1

    def d2(self, x):
        return 1 / x

    def taylor(self, m, D: int) -> list:
        from flint import arb
        lm = m.log()
        out = [m * lm, lm + 1]
        inv = 1 / m
        pw = arb(1)
        for k in range(2, D + 1):
            # f^(k)(m)/k! = (-1)^k (k-2)! / (k! m^(k-1)) = (-1)^k / (k (k-1) m^(k-1))
            pw = pw * inv
            out.append(pw / (k * (k - 1)) if k % 2 == 0 else -pw / (k * (k - 1)))
        return out[: D + 1]

    def tail(self, m, r, D: int):
        x = r / m
        if not x < 1:
            raise ValueError("Taylor tail needs r < m")
        return m * x ** (D + 1) / ((D + 1) * D * (1 - x))

    def zero_variation(self, b):
        from flint import arb
        if not b < arb(1) / arb(1).exp():
            raise ValueError("zero_variation for kl needs b < 1/e")
        return -(b * b.log()) if b > 0 else arb(0)


class KL(Generator):
    """phi = t log t."""

    def _target64(self, p):
        return np.log(p)

    def _weighted64(self, p):
        return _xlogx(p)

    def _dweighted64(self, p):
        return np.log(p) + 1.0

    def _target_mp(self, p):
        return mpmath.log(p)

    def certified_target(self) -> KLWeighted:
        return KLWeighted()

    def torch_target(self, p):
        import torch
        return torch.log(p)

    def torch_weighted_target(self, p):
        import torch
        return torch.xlogy(p, p)

    def game_optimum(self, r: np.ndarray, beta: float):
        w = np.exp((r - r.max()) / beta)
        p = w / w.sum()
        lam = float(r[0] - beta * (np.log(p[0]) + 1.0))
        return p, lam, "closed form p* = softmax(r / beta)"


def build() -> KL:
    """KL / entropy: phi = t log t, reward log t + 1; tables estimate log p (the +1 is dropped)."""
    return KL(name="kl", params={}, phi_text="t log t", target_text="log p", dropped_constant=Fraction(1))
