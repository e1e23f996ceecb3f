"""Weighted targets f(p) = p * target(p) the minimax solver supports (claims C1, C3, C4).

Each target gives what the Remez solver and the certificate need, in float64 (fast first
pass) and in Arb ball arithmetic (``flint.arb``, rigorous):

* values f(p), f'(p), f''(p);
* Taylor coefficients f_k(m) of f(m + t), k = 0..D, and a rigorous bound on the tail
  sum_{k > D} |f_k(m)| r^k for |t| <= r (needs r < m when f is singular at 0);
* sup_{[0, b]} |f(p) - f(0)| near the singular point p = 0.

Supported: ``kl`` (f = p log p), ``power(alpha)`` for any alpha > 0, alpha != 1
(f = p^alpha/(alpha - 1); integer alpha is a polynomial), and every polynomial target
(``euclidean``, ``polynomial``), for which f is an exact polynomial.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from flint import arb, arb_poly, fmpq
from scipy import special

__all__ = ["Target", "target_for", "UnsupportedTargetError", "SUPPORTED", "check_supported", "ALPHA_MIN_MINIMAX",
           "ALPHA_MAX_MINIMAX", "POLY_WORK_MAX"]

SUPPORTED = "kl, power(alpha) (alpha > 0, alpha != 1), euclidean, polynomial"
#: power exponents the minimax solver accepts (non-polynomial targets; see check_supported): below
#: 1e-3 p^alpha is nearly a step at 0 and the certificate cannot reach rel_tol; 1e4 is the generators'
#: own limit
ALPHA_MIN_MINIMAX = 1e-3
ALPHA_MAX_MINIMAX = 1e4
#: polynomial targets of degree d > K: the exchange and its Taylor-model certificate cost grows like
#: d * K; supported d * K <= POLY_WORK_MAX (about ten seconds)
POLY_WORK_MAX = 1 << 16


class UnsupportedTargetError(ValueError):
    """The generator's target is not one the minimax solver can handle."""


def _fmpq(x: Fraction) -> fmpq:
    x = Fraction(x)
    return fmpq(x.numerator, x.denominator)


@dataclass(frozen=True)
class Target:
    """f(p) = p * target(p) on [0, 1] with what the solver and certificate need."""

    kind: str                  # "kl", "power", "poly"
    alpha: float | None = None
    coeffs: tuple | None = None  # monomial coefficients of f (Fractions), for kind "poly"

    # -- metadata ---------------------------------------------------------------
    @property
    def entire(self) -> bool:
        """True when f is a polynomial (Taylor series exact, no singularity at 0)."""
        return self.kind == "poly"

    @property
    def degree(self) -> int | None:
        if self.coeffs is None:
            return None
        nz = [j for j, c in enumerate(self.coeffs) if c != 0]
        return nz[-1] if nz else 0

    def describe(self) -> str:
        if self.kind == "kl":
            return "p log p"
        if self.kind == "power":
            return f"p^{self.alpha}/({self.alpha}-1)"
        return " + ".join(f"({c})p^{j}" for j, c in enumerate(self.coeffs) if c != 0) or "0"

    # -- float64 ------------------------------------------------------------------
    def f_np(self, p):
        p = np.asarray(p, dtype=np.float64)
        if self.kind == "kl":
            return special.xlogy(p, p)
        if self.kind == "power":
            return np.power(p, self.alpha) / (self.alpha - 1.0)
        return np.polynomial.polynomial.polyval(p, [float(c) for c in self.coeffs])

    # -- arb ----------------------------------------------------------------------
    def _alpha_arb(self) -> arb:
        return arb(_fmpq(Fraction(self.alpha)))  # alpha is a float: exact binary value

    def f(self, x: arb) -> arb:
        if self.kind == "kl":
            return x * x.log() if x > 0 else (arb(0) if x == 0 else x * x.log())
        if self.kind == "power":
            a = self._alpha_arb()
            if x == 0:
                return arb(0)
            return (x.log() * a).exp() / (a - 1)
        return self._poly_arb()(x)

    def d1(self, x: arb) -> arb:
        if self.kind == "kl":
            return x.log() + 1
        if self.kind == "power":
            a = self._alpha_arb()
            return a * (x.log() * (a - 1)).exp() / (a - 1)
        return self._poly_arb().derivative()(x)

    def d2(self, x: arb) -> arb:
        if self.kind == "kl":
            return 1 / x
        if self.kind == "power":
            a = self._alpha_arb()
            return a * (x.log() * (a - 2)).exp()
        return self._poly_arb().derivative().derivative()(x)

    def _poly_arb(self) -> arb_poly:
        return arb_poly([arb(_fmpq(c)) for c in self.coeffs])

    def taylor(self, m: arb, D: int) -> list:
        """[f_0(m), ..., f_D(m)]: Taylor coefficients of f(m + t) (m > 0 unless entire)."""
        if self.kind == "kl":
            lm = m.log()
            out = [m * lm, lm + 1]
            inv = 1 / m
            pw = arb(1)
            for k in range(2, D + 1):
                # f^(k)(m)/k! = (-1)^k (k-2)! / (k! m^(k-1)) = (-1)^k / (k (k-1) m^(k-1))
                pw = pw * inv
                out.append(pw / (k * (k - 1)) if k % 2 == 0 else -pw / (k * (k - 1)))
            return out[: D + 1]
        if self.kind == "power":
            a = self._alpha_arb()
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
        # polynomial: exact composition
        P = self._poly_arb()
        sh = P(arb_poly([m, 1]))
        cs = list(sh.coeffs())
        cs += [arb(0)] * (D + 1 - len(cs))
        return cs[: D + 1]

    def tail(self, m: arb, r: arb, D: int) -> arb:
        """Rigorous upper bound of sum_{k > D} |f_k(m)| r^k (requires ``radius_ok``)."""
        if self.kind == "poly":
            if self.degree <= D:
                return arb(0)
            cs = self.taylor(m, self.degree)
            return sum((abs(c) * r ** k for k, c in enumerate(cs) if k > D), arb(0))
        x = r / m
        if not x < 1:
            raise ValueError("Taylor tail needs r < m")
        if self.kind == "kl":
            return m * x ** (D + 1) / ((D + 1) * D * (1 - x))
        a = self._alpha_arb()
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

    def radius_ok(self, m: float, r: float) -> bool:
        """Whether the Taylor expansion at m may be used on |t| <= r."""
        return self.entire or (m > 0 and r <= 0.5 * m)

    def zero_variation(self, b: arb) -> arb:
        """Rigorous bound of sup_{0 <= p <= b} |f(p) - f(0)| (non-entire targets, b <= 1/e)."""
        if self.kind == "kl":
            if not b < arb(1) / arb(1).exp():
                raise ValueError("zero_variation for kl needs b < 1/e")
            return -(b * b.log()) if b > 0 else arb(0)
        if self.kind == "power":
            a = self._alpha_arb()
            return (b.log() * a).exp() / abs(a - 1) if b > 0 else arb(0)
        raise ValueError("entire targets use their Taylor series at 0")


def check_supported(target: Target, K: int) -> None:
    """Raise :class:`UnsupportedTargetError` (at once) for a target and K the solver cannot handle in
    reasonable time or to its precision; the message names the parameter and the supported range."""
    if target.kind == "power" and not ALPHA_MIN_MINIMAX <= target.alpha <= ALPHA_MAX_MINIMAX:
        raise UnsupportedTargetError(
            f"method 'minimax' supports power(alpha) for alpha in [{ALPHA_MIN_MINIMAX:g}, {ALPHA_MAX_MINIMAX:g}] "
            f"(non-integer alpha), got alpha = {target.alpha!r}")
    if target.kind == "poly" and target.degree > K and target.degree * K > POLY_WORK_MAX:
        raise UnsupportedTargetError(
            f"method 'minimax' supports polynomial targets of degree d > K only for d * K <= {POLY_WORK_MAX}; "
            f"got degree {target.degree} (f = p * target) with K = {K}: use K <= {POLY_WORK_MAX // target.degree}")


def target_for(generator) -> Target:
    """The weighted target of a :class:`~estimators.generators.Generator`, or a clear error."""
    name = getattr(generator, "name", None)
    if generator is None or name is None:
        raise UnsupportedTargetError(f"generator must be an estimators Generator ({SUPPORTED}), got {generator!r}")
    if getattr(generator, "target_coeffs", None) is not None:
        # f(p) = p * target(p): shift the reward's coefficients by one degree
        coeffs = (Fraction(0),) + tuple(Fraction(c) for c in generator.target_coeffs)
        return Target(kind="poly", coeffs=coeffs)
    if name == "kl":
        return Target(kind="kl")
    if name == "power":
        alpha = float(generator.params["alpha"])
        return Target(kind="power", alpha=alpha)
    raise UnsupportedTargetError(
        f"method 'minimax' supports the generators {SUPPORTED}; got {generator.label() if hasattr(generator, 'label') else name!r} "
        f"with target {getattr(generator, 'target_text', '?')!r}")
