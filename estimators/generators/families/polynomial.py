"""The polynomial family: phi given by its coefficients, or the reward given directly; nothing is dropped.

A polynomial target of degree d <= K-1 has exactly one unbiased table (C1), built in exact rationals; above
that the minimax and AQP tables approximate it, and the certified arithmetic treats f(p) = p * target(p) as
the polynomial it is (exact Taylor series, no singular point).
"""
from __future__ import annotations

import decimal
import math
from fractions import Fraction
from typing import Sequence

import mpmath
import numpy as np

from ..._validate import (DECIMAL_DIGITS_MAX, DECIMAL_EXPONENT_MAX, parse_rational, short_repr)
from ..base import CliOption, Generator, UnsupportedTargetError, WeightedTarget

__all__ = ["build", "Polynomial", "PolynomialWeighted", "DEGREE_MAX", "POLY_WORK_MAX", "parse_coeffs_text"]

#: highest polynomial degree accepted (as for the power family's integer alpha)
DEGREE_MAX = 10_000
#: polynomial targets of degree d > K: the exchange and its Taylor-model certificate cost grows like
#: d * K; supported d * K <= POLY_WORK_MAX (about ten seconds)
POLY_WORK_MAX = 1 << 16
_FLOAT_MAX = Fraction(np.finfo(np.float64).max)


def _arb(c: Fraction):
    from flint import arb, fmpq
    c = Fraction(c)
    return arb(fmpq(c.numerator, c.denominator))


class PolynomialWeighted(WeightedTarget):
    """f(p) = sum_j coeffs[j] p^j, an exact polynomial, in float64 and Arb."""

    entire = True

    def __init__(self, coeffs):
        self.coeffs = tuple(Fraction(c) for c in coeffs)

    def describe(self) -> str:
        return " + ".join(f"({c})p^{j}" for j, c in enumerate(self.coeffs) if c != 0) or "0"

    def f_np(self, p):
        p = np.asarray(p, dtype=np.float64)
        return np.polynomial.polynomial.polyval(p, [float(c) for c in self.coeffs])

    def _poly_arb(self):
        from flint import arb_poly
        return arb_poly([_arb(c) for c in self.coeffs])

    def f(self, x):
        return self._poly_arb()(x)

    def d1(self, x):
        return self._poly_arb().derivative()(x)

    def d2(self, x):
        return self._poly_arb().derivative().derivative()(x)

    def taylor(self, m, D: int) -> list:
        from flint import arb, arb_poly
        sh = self._poly_arb()(arb_poly([m, 1]))  # exact composition
        cs = list(sh.coeffs())
        cs += [arb(0)] * (D + 1 - len(cs))
        return cs[: D + 1]

    def tail(self, m, r, D: int):
        from flint import arb
        if self.degree <= D:
            return arb(0)
        cs = self.taylor(m, self.degree)
        return sum((abs(c) * r ** k for k, c in enumerate(cs) if k > D), arb(0))

    def sup_abs_d2(self, a: float, b: float):
        """sum_j |c_j| j (j-1) b^(j-2) bounds |f''| on [0, b]."""
        from flint import arb
        bb = arb(b)
        return sum((abs(arb(c.numerator) / c.denominator) * j * (j - 1) * bb ** (j - 2)
                    for j, c in enumerate(self.coeffs) if j >= 2 and c != 0), arb(0))

    def sup_abs_near_zero(self, b: float):
        """sum_j |c_j| b^j bounds |f| on [0, b]."""
        from flint import arb
        bb = arb(b)
        return sum((abs(arb(c.numerator) / c.denominator) * bb ** j for j, c in enumerate(self.coeffs)), arb(0))

    def check_minimax(self, K: int) -> None:
        if self.degree > K and self.degree * K > POLY_WORK_MAX:
            raise UnsupportedTargetError(
                f"method 'minimax' supports polynomial targets of degree d > K only for d * K <= {POLY_WORK_MAX}; "
                f"got degree {self.degree} (f = p * target) with K = {K}: use K <= {POLY_WORK_MAX // self.degree}")


def parse_coeffs_text(text: str, option: str = "--coeffs") -> list:
    """Comma-separated rationals (integers, decimals, a/b; read exactly by the bounded parser
    :func:`estimators._validate.parse_rational`), with a message naming the entry and ``option``."""
    out = []
    for i, item in enumerate(text.split(",")):
        item = item.strip()
        try:
            out.append(parse_rational(item, name=f"{option} entry {i + 1}"))
        except ValueError as exc:
            msg = str(exc)
            why = ("division by zero" if "division by zero" in msg else
                   f"too long (at most {DECIMAL_DIGITS_MAX} digits, decimal exponent within +-{DECIMAL_EXPONENT_MAX})"
                   if "digits" in msg else "not a rational number")
            raise ValueError(f"{option} entry {i + 1} ({item[:40]!r}) is {why}; give comma-separated rationals such "
                             f"as 0,0,1/2 or 0,1.5,-2") from exc
    return out


#: the command-line options of this family's parameters (``alft tables``, ``alft game``)
#: the alignment game (C7) is played with this family (a polynomial phi need not be convex on [0, 1])
GAME = False
#: parameter sets the family conformance tests run every hook on (tests/test_generator_families.py)
EXAMPLES = ({"coeffs": [0, 1, "-1/2", "1/3"]}, {"coeffs": ["1/2", 0, 3], "of": "reward"})
CLI_OPTIONS = (
    CliOption("--coeffs", "coeffs", "polynomial generator: comma-separated rational coefficients, ascending "
                                    "(e.g. 0,0,1/2 for phi = t^2/2)", what="e.g. --coeffs 0,0,1/2",
              parse=parse_coeffs_text),
    CliOption("--coeffs-of", "of", "whether --coeffs are phi's coefficients (default) or the reward's (default: "
                                   "phi)",
              required=False, default="phi", choices=("phi", "reward")),
)


class Polynomial(Generator):
    """A polynomial reward (``of="phi"``: phi's coefficients; ``of="reward"``: the reward's)."""

    def _floats(self) -> list:
        return [float(c) for c in self.target_coeffs]

    def _target64(self, p):
        return np.polynomial.polynomial.polyval(p, self._floats())

    def _weighted64(self, p):
        return p * np.polynomial.polynomial.polyval(p, self._floats())

    def _dweighted64(self, p):
        d = [(j + 1) * float(c) for j, c in enumerate(self.target_coeffs)]
        return np.polynomial.polynomial.polyval(p, d)

    def _target_mp(self, p):
        return mpmath.polyval([mpmath.mpf(c.numerator) / c.denominator for c in reversed(self.target_coeffs)], p)

    def certified_target(self) -> PolynomialWeighted:
        # f(p) = p * target(p): shift the reward's coefficients by one degree
        return PolynomialWeighted((Fraction(0),) + tuple(Fraction(c) for c in self.target_coeffs))


def _parse_coeff(c) -> Fraction:
    """One coefficient, exactly: a float with a short repr is read as the decimal it prints as (0.1 is 1/10);
    strings, ints, Fractions and Decimals through the bounded exact parser (:func:`parse_rational`)."""
    if isinstance(c, (float, np.floating)) and not isinstance(c, bool):
        if not math.isfinite(c):
            raise ValueError(f"coeffs entries must be finite rational numbers, got {short_repr(c)}")
        return Fraction(str(c)) if len(repr(float(c))) < 18 else Fraction(float(c))
    return parse_rational(c, name="coeffs entries", allowed="finite rational numbers")


def _reward_coeffs(coeffs: Sequence, of: str) -> tuple:
    """The reward's coefficients (trailing zeros dropped), checked finite in float64."""
    if of not in ("phi", "reward"):
        raise ValueError(f"of must be 'phi' or 'reward', got {of!r}")
    if isinstance(coeffs, (str, bytes)) or not hasattr(coeffs, "__len__"):
        raise TypeError(f"coeffs must be a non-empty sequence of rationals, got {coeffs!r}")
    if len(coeffs) == 0:
        raise ValueError("coeffs must be a non-empty sequence of rationals")
    if len(coeffs) > DEGREE_MAX + 1:
        raise ValueError(f"coeffs: at most {DEGREE_MAX + 1} coefficients (degree <= {DEGREE_MAX}), got {len(coeffs)}")
    cs = [_parse_coeff(c) for c in coeffs]
    reward = ([j * cs[j] for j in range(1, len(cs))] or [Fraction(0)]) if of == "phi" else cs
    while len(reward) > 1 and reward[-1] == 0:
        reward.pop()
    big = [c for c in reward if abs(c) > _FLOAT_MAX]
    if big:
        with decimal.localcontext() as dc:
            dc.prec = 6
            shown = decimal.Decimal(big[0].numerator) / decimal.Decimal(big[0].denominator)
        raise ValueError(f"coeffs: the reward's coefficients must be finite in float64 (|c| <= "
                         f"{float(_FLOAT_MAX):.4g}), got {shown:.4e}")
    return cs, tuple(reward)


def build(coeffs: Sequence, *, of: str = "phi") -> Polynomial:
    """Arbitrary polynomial generator.

    Parameters
    ----------
    coeffs : sequence of rationals (int, Fraction, Decimal, str like ``"1/3"`` or ``"0.3"``, or decimal floats)
        Strings and Decimals are read exactly by :func:`estimators._validate.parse_rational` (at most 1000
        digits, decimal exponent within +-1000); bools, complex values and NaN are refused.
        Ascending monomial coefficients. With ``of="phi"`` (default) they are phi's
        coefficients a_0..a_d and the reward is ``sum_j j a_j t^(j-1)``; with ``of="reward"``
        they are the reward's coefficients directly. Nothing is dropped.
    """
    cs, reward = _reward_coeffs(coeffs, of)
    terms = " + ".join(f"({c})p^{j}" for j, c in enumerate(reward) if c != 0) or "0"
    return Polynomial(name="polynomial", params={"coeffs": [str(c) for c in cs], "of": of},
                      phi_text="sum_j a_j t^j" if of == "phi" else "antiderivative of the reward",
                      target_text=terms, dropped_constant=Fraction(0), target_coeffs=reward)
