"""The power (Tsallis) family: phi = (t^a - t)/(a(a-1)), reward (a t^(a-1) - 1)/(a(a-1)).

Tables estimate ``p^(a-1)/(a-1)``; the constant ``-1/(a(a-1))`` is dropped. The target is a polynomial iff
``a`` is an integer >= 2 (then every exact construction applies and the certified arithmetic treats f as a
polynomial); otherwise f(p) = p^a/(a-1) has a branch point at 0, bounded by its variation there, and its
Taylor tail by a geometric series past the binomial coefficients' peak.
"""
from __future__ import annotations

import math
import numbers
from fractions import Fraction

import mpmath
import numpy as np

from ..._validate import short_repr
from ..base import CliOption, Generator, UnsupportedTargetError, WeightedTarget
from .polynomial import PolynomialWeighted

__all__ = ["build", "Power", "PowerWeighted", "ALPHA_MAX", "ALPHA_MIN_MINIMAX", "ALPHA_MAX_MINIMAX"]

#: largest power exponent accepted: beyond it p^(alpha-1) underflows float64 for every p <= 1 - 1e-4 and
#: integer alpha would make the target a polynomial of degree alpha - 1 (exact work grows with it)
ALPHA_MAX = 10_000
#: power exponents the minimax solver accepts (non-polynomial targets): below 1e-3 p^alpha is nearly a step at
#: 0 and the certificate cannot reach rel_tol; 1e4 is the generators' own limit
ALPHA_MIN_MINIMAX = 1e-3
ALPHA_MAX_MINIMAX = 1e4


def check_alpha(alpha) -> float | int:
    """A real exponent in (0, ALPHA_MAX], alpha != 1 (an int when it is integral), or a clear error."""
    if isinstance(alpha, bool) or not isinstance(alpha, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"alpha must be a real number in (0, {ALPHA_MAX}], alpha != 1, got {short_repr(alpha)}")
    try:
        a = float(alpha)
    except OverflowError:
        a = math.inf
    if not math.isfinite(a) or a <= 0 or a == 1 or a > ALPHA_MAX:
        raise ValueError(f"alpha must be a real number in (0, {ALPHA_MAX}], alpha != 1, got {short_repr(alpha)}")
    return int(a) if a.is_integer() else a


class PowerWeighted(WeightedTarget):
    """f(p) = p^alpha/(alpha - 1) for a non-integer alpha, in float64 and Arb."""

    def __init__(self, alpha: float):
        self.alpha = float(alpha)

    def describe(self) -> str:
        return f"p^{self.alpha}/({self.alpha}-1)"

    def f_np(self, p):
        p = np.asarray(p, dtype=np.float64)
        return np.power(p, self.alpha) / (self.alpha - 1.0)

    def _a(self):
        from flint import arb, fmpq
        x = Fraction(self.alpha)  # alpha is a float: exact binary value
        return arb(fmpq(x.numerator, x.denominator))

    def f(self, x):
        from flint import arb
        a = self._a()
        if x == 0:
            return arb(0)
        return (x.log() * a).exp() / (a - 1)

    def d1(self, x):
        a = self._a()
        return a * (x.log() * (a - 1)).exp() / (a - 1)

    def d2(self, x):
        a = self._a()
        return a * (x.log() * (a - 2)).exp()

    def taylor(self, m, D: int) -> list:
        from flint import arb
        a = self._a()
        ma = (m.log() * a).exp()
        inv = 1 / m
        binom = arb(1)
        out = []
        term = ma / (a - 1)
        for k in range(D + 1):
            out.append(term * binom)
            binom = binom * (a - k) / (k + 1)
            term = term * inv
        return out

    def tail(self, m, r, D: int):
        from flint import arb
        x = r / m
        if not x < 1:
            raise ValueError("Taylor tail needs r < m")
        a = self._a()
        # |binom(a, k)| is non-increasing for k >= (a - 1)/2: sum the terms below k1 = max(D + 1, that)
        # explicitly, then the rest is at most a geometric series
        k1 = max(D + 1, int(math.ceil((float(a.mid()) - 1) / 2)) + 1)
        if k1 - D > 100_000:
            raise UnsupportedTargetError(f"power target with alpha = {self.alpha:g}: the Taylor tail needs "
                                         f"{k1 - D} explicit terms; supported alpha <= {ALPHA_MAX_MINIMAX:g}")
        binom = arb(1)
        for k in range(D + 1):
            binom = binom * (a - k) / (k + 1)
        total = arb(0)
        xk = x ** (D + 1)
        for k in range(D + 1, k1):
            total += abs(binom) * xk
            binom = binom * (a - k) / (k + 1)
            xk = xk * x
        total += abs(binom) * xk / (1 - x)
        ma = (m.log() * a).exp()
        return total * ma / abs(a - 1)

    def zero_variation(self, b):
        from flint import arb
        a = self._a()
        return (b.log() * a).exp() / abs(a - 1) if b > 0 else arb(0)

    def check_minimax(self, K: int) -> None:
        if not ALPHA_MIN_MINIMAX <= self.alpha <= ALPHA_MAX_MINIMAX:
            raise UnsupportedTargetError(
                f"method 'minimax' supports power(alpha) for alpha in [{ALPHA_MIN_MINIMAX:g}, {ALPHA_MAX_MINIMAX:g}] "
                f"(non-integer alpha), got alpha = {self.alpha!r}")


#: the command-line options of this family's parameters (``alft tables``, ``alft game``)
#: the alignment game (C7) is played with this family (phi is convex for every alpha > 0)
GAME = True
#: parameter sets the family conformance tests run every hook on (tests/test_generator_families.py): a
#: non-integer exponent below and above 1, and an integer one (a polynomial target)
EXAMPLES = ({"alpha": 0.5}, {"alpha": 2.5}, {"alpha": 3})
CLI_OPTIONS = (CliOption("--alpha", "alpha", "power/Tsallis exponent (alpha > 0, alpha != 1)",
                         what="alpha > 0, alpha != 1", type=float),)


class Power(Generator):
    """phi = (t^a - t)/(a(a-1))."""

    @property
    def alpha(self):
        return self.params["alpha"]

    def _target64(self, p):
        am1 = self.alpha - 1
        return np.power(p, am1) / am1

    def _weighted64(self, p):
        # p^a/(a-1): finite at 0 for every a > 0
        return np.power(p, self.alpha) / (self.alpha - 1)

    def _dweighted64(self, p):
        a = self.alpha
        return a * np.power(p, a - 1) / (a - 1)

    def _target_mp(self, p):
        am1 = self.alpha - 1
        return mpmath.power(p, mpmath.mpf(am1)) / mpmath.mpf(am1)

    def target_exact(self, p: Fraction) -> Fraction:
        """One monomial: evaluated directly, not by Horner over alpha zeros."""
        if self.target_coeffs is None:
            return super().target_exact(p)
        am1 = self.alpha - 1
        return Fraction(p) ** am1 / am1

    def certified_target(self) -> WeightedTarget:
        if self.target_coeffs is not None:
            return PolynomialWeighted((Fraction(0),) + tuple(Fraction(c) for c in self.target_coeffs))
        return PowerWeighted(float(self.alpha))

    def torch_target(self, p):
        import torch
        a = float(self.alpha)
        return torch.pow(p, a - 1) / (a - 1)

    def torch_weighted_target(self, p):
        import torch
        a = float(self.alpha)
        return torch.pow(p, a) / (a - 1)


def build(alpha) -> Power:
    """Power / Tsallis: phi = (t^a - t)/(a(a-1)), reward (a t^(a-1) - 1)/(a(a-1)).

    Tables estimate ``p^(a-1)/(a-1)``; the constant ``-1/(a(a-1))`` is dropped.
    The target is a polynomial iff ``a`` is an integer >= 2.
    """
    a = check_alpha(alpha)
    dropped = -Fraction(1) / (Fraction(a) * (Fraction(a) - 1))
    coeffs = tuple([Fraction(0)] * (a - 1) + [Fraction(1, a - 1)]) if isinstance(a, int) else None
    am1 = a - 1
    return Power(name="power", params={"alpha": a}, phi_text=f"(t^{a} - t)/({a}({a}-1))",
                 target_text=f"p^{am1}/{am1}", dropped_constant=dropped, target_coeffs=coeffs)
