"""Generators of the Bregman family (docs/theory.md, section 3) and what their tables estimate.

A generator phi defines the reward phi'(t). A table estimates the *target*
``target(p) = phi'(p) - dropped_constant``: additive constants do not change the game,
so tables may drop them, and each generator says which constant it drops.
The weighted target ``f(p) = p * target(p)`` is what weighted bias is measured against
(it is finite at p = 0 for every generator here).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Sequence

import mpmath
import numpy as np

from ._validate import parse_rational, short_repr

__all__ = ["Generator", "GENERATORS", "get_generator", "kl", "euclidean", "power", "polynomial", "ALPHA_MAX",
           "DEGREE_MAX"]


def _poly_eval(coeffs: Sequence[Fraction], t):
    """Exact Horner evaluation of sum_j coeffs[j] t^j at a Fraction."""
    acc = Fraction(0)
    for c in reversed(coeffs):
        acc = acc * t + c
    return acc


@dataclass(frozen=True)
class Generator:
    """A convex generator phi, its reward phi' and the target a table estimates.

    Attributes
    ----------
    name : str
        Registry name (``kl``, ``euclidean``, ``power``, ``polynomial``).
    params : Mapping
        Parameters as given (e.g. ``{"alpha": 2.5}``), JSON-serialisable.
    dropped_constant : Fraction
        ``phi'(p) - target(p)``; a table's reward is ``g(C) + dropped_constant``.
    target_coeffs : tuple of Fraction or None
        Monomial coefficients (ascending) of the target when it is a polynomial.
    """

    name: str
    params: Mapping
    phi_text: str
    target_text: str
    dropped_constant: Fraction
    _target_np: Callable = field(repr=False, compare=False)
    _weighted_np: Callable = field(repr=False, compare=False)
    _target_mp: Callable = field(repr=False, compare=False)
    target_coeffs: tuple | None = None
    _dweighted_np: Callable | None = field(default=None, repr=False, compare=False)
    _target_exact: Callable | None = field(default=None, repr=False, compare=False)

    # -- evaluation -------------------------------------------------------------
    def target(self, p):
        """Target ``phi'(p) - dropped_constant`` in float64 (may be infinite at p = 0)."""
        with np.errstate(divide="ignore"):
            return self._target_np(np.asarray(p, dtype=np.float64))

    def weighted_target(self, p):
        """``f(p) = p * target(p)`` in float64, with its limit value at p = 0."""
        return self._weighted_np(np.asarray(p, dtype=np.float64))

    def target_mp(self, p):
        """Target at an mpmath number, at the current working precision (+-inf at a pole)."""
        p = mpmath.mpf(p)
        if p == 0 and not self.is_polynomial:
            with np.errstate(divide="ignore"):
                return mpmath.mpf(float(self._target_np(np.float64(0.0))))
        return self._target_mp(p)

    def weighted_target_mp(self, p):
        """``p * target(p)`` at an mpmath number (0 at p = 0)."""
        p = mpmath.mpf(p)
        if p == 0:
            return mpmath.mpf(0)
        return p * self._target_mp(p)

    def target_exact(self, p: Fraction) -> Fraction:
        """Exact target at a rational p; only for polynomial targets."""
        if self.target_coeffs is None:
            raise ValueError(f"generator {self.name!r} has no polynomial target; exact values need a polynomial")
        if self._target_exact is not None:
            return self._target_exact(Fraction(p))
        return _poly_eval(self.target_coeffs, Fraction(p))

    # -- metadata ---------------------------------------------------------------
    @property
    def is_polynomial(self) -> bool:
        return self.target_coeffs is not None

    @property
    def degree(self) -> int | None:
        """Degree of the polynomial target, or None."""
        if self.target_coeffs is None:
            return None
        nz = [j for j, c in enumerate(self.target_coeffs) if c != 0]
        return nz[-1] if nz else 0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "params": dict(self.params),
            "phi": self.phi_text,
            "target": self.target_text,
            "dropped_constant": str(self.dropped_constant),
            "target_coeffs": None if self.target_coeffs is None else [str(c) for c in self.target_coeffs],
        }

    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"


# -- the family -----------------------------------------------------------------

def _xlogx(p):
    from scipy import special  # imported on first use (``import estimators`` stays light)
    return special.xlogy(p, p)


def kl() -> Generator:
    """KL / entropy: phi = t log t, reward log t + 1; tables estimate log p (the +1 is dropped)."""
    return Generator(
        name="kl", params={}, phi_text="t log t", target_text="log p",
        dropped_constant=Fraction(1),
        _target_np=np.log,
        _weighted_np=_xlogx,
        _target_mp=mpmath.log,
        _dweighted_np=lambda p: np.log(p) + 1.0,
    )


def euclidean() -> Generator:
    """Euclidean (Brier): phi = t^2/2, reward t; nothing dropped."""
    coeffs = (Fraction(0), Fraction(1))
    return Generator(
        name="euclidean", params={}, phi_text="t^2/2", target_text="p",
        dropped_constant=Fraction(0),
        _target_np=lambda p: p.copy(), _weighted_np=lambda p: p * p, _target_mp=lambda p: p,
        target_coeffs=coeffs,
    )


#: largest power exponent accepted: beyond it p^(alpha-1) underflows float64 for every p <= 1 - 1e-4 and
#: integer alpha would make the target a polynomial of degree alpha - 1 (exact work grows with it)
ALPHA_MAX = 10_000


def _check_alpha(alpha) -> float | int:
    if isinstance(alpha, bool) or not isinstance(alpha, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"alpha must be a real number in (0, {ALPHA_MAX}], alpha != 1, got {short_repr(alpha)}")
    try:
        a = float(alpha)
    except OverflowError:
        a = math.inf
    if not math.isfinite(a) or a <= 0 or a == 1 or a > ALPHA_MAX:
        raise ValueError(f"alpha must be a real number in (0, {ALPHA_MAX}], alpha != 1, got {short_repr(alpha)}")
    return int(a) if a.is_integer() else a


def power(alpha) -> Generator:
    """Power / Tsallis: phi = (t^a - t)/(a(a-1)), reward (a t^(a-1) - 1)/(a(a-1)).

    Tables estimate ``p^(a-1)/(a-1)``; the constant ``-1/(a(a-1))`` is dropped.
    The target is a polynomial iff ``a`` is an integer >= 2.
    """
    a = _check_alpha(alpha)
    dropped = -Fraction(1) / (Fraction(a) * (Fraction(a) - 1))
    coeffs = None
    if isinstance(a, int):
        coeffs = tuple([Fraction(0)] * (a - 1) + [Fraction(1, a - 1)])
    am1 = a - 1

    def target_np(p):
        return np.power(p, am1) / am1

    def weighted_np(p):
        # p^a/(a-1): finite at 0 for every a > 0
        return np.power(p, a) / am1

    def target_mp(p):
        return mpmath.power(p, mpmath.mpf(am1)) / mpmath.mpf(am1)

    exact = None
    if coeffs is not None:  # one monomial: evaluate it directly, not by Horner over alpha zeros
        def exact(p: Fraction) -> Fraction:
            return p ** am1 / am1

    return Generator(
        name="power", params={"alpha": a}, phi_text=f"(t^{a} - t)/({a}({a}-1))",
        target_text=f"p^{am1}/{am1}", dropped_constant=dropped,
        _target_np=target_np, _weighted_np=weighted_np, _target_mp=target_mp,
        target_coeffs=coeffs, _dweighted_np=lambda p: a * np.power(p, am1) / am1, _target_exact=exact,
    )


def _parse_coeff(c) -> Fraction:
    """One coefficient, exactly: a float with a short repr is read as the decimal it prints as (0.1 is 1/10);
    strings, ints, Fractions and Decimals through the bounded exact parser (:func:`parse_rational`)."""
    if isinstance(c, (float, np.floating)) and not isinstance(c, bool):
        if not math.isfinite(c):
            raise ValueError(f"coeffs entries must be finite rational numbers, got {short_repr(c)}")
        return Fraction(str(c)) if len(repr(float(c))) < 18 else Fraction(float(c))
    return parse_rational(c, name="coeffs entries", allowed="finite rational numbers")


#: highest polynomial degree accepted (as for the power family's integer alpha)
DEGREE_MAX = ALPHA_MAX
_FLOAT_MAX = Fraction(np.finfo(np.float64).max)


def polynomial(coeffs: Sequence, *, of: str = "phi") -> Generator:
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
    if of not in ("phi", "reward"):
        raise ValueError(f"of must be 'phi' or 'reward', got {of!r}")
    if isinstance(coeffs, (str, bytes)) or not hasattr(coeffs, "__len__"):
        raise TypeError(f"coeffs must be a non-empty sequence of rationals, got {coeffs!r}")
    if len(coeffs) == 0:
        raise ValueError("coeffs must be a non-empty sequence of rationals")
    if len(coeffs) > DEGREE_MAX + 1:
        raise ValueError(f"coeffs: at most {DEGREE_MAX + 1} coefficients (degree <= {DEGREE_MAX}), got {len(coeffs)}")
    cs = [_parse_coeff(c) for c in coeffs]
    if of == "phi":
        reward = [j * cs[j] for j in range(1, len(cs))] or [Fraction(0)]
    else:
        reward = cs
    while len(reward) > 1 and reward[-1] == 0:
        reward.pop()
    reward_t = tuple(reward)
    big = [c for c in reward_t if abs(c) > _FLOAT_MAX]
    if big:
        import decimal
        with decimal.localcontext() as dc:
            dc.prec = 6
            shown = decimal.Decimal(big[0].numerator) / decimal.Decimal(big[0].denominator)
        raise ValueError(f"coeffs: the reward's coefficients must be finite in float64 (|c| <= "
                         f"{float(_FLOAT_MAX):.4g}), got {shown:.4e}")
    fl = [float(c) for c in reward_t]

    def target_np(p):
        return np.polynomial.polynomial.polyval(p, fl)

    def weighted_np(p):
        return p * np.polynomial.polynomial.polyval(p, fl)

    def target_mp(p):
        return mpmath.polyval([mpmath.mpf(c.numerator) / c.denominator for c in reversed(reward_t)], p)

    terms = " + ".join(f"({c})p^{j}" for j, c in enumerate(reward_t) if c != 0) or "0"
    return Generator(
        name="polynomial", params={"coeffs": [str(c) for c in cs], "of": of},
        phi_text="sum_j a_j t^j" if of == "phi" else "antiderivative of the reward",
        target_text=terms, dropped_constant=Fraction(0),
        _target_np=target_np, _weighted_np=weighted_np, _target_mp=target_mp,
        target_coeffs=reward_t,
    )


GENERATORS: dict[str, Callable[..., Generator]] = {
    "kl": kl,
    "euclidean": euclidean,
    "power": power,
    "polynomial": polynomial,
}


def get_generator(name, **params) -> Generator:
    """Build a generator by registry name; unknown names and parameters raise a clear error."""
    if isinstance(name, Generator):
        if params:
            raise TypeError("parameters cannot be given together with a Generator instance")
        return name
    if name not in GENERATORS:
        raise ValueError(f"generator must be one of {sorted(GENERATORS)}, got {name!r}")
    try:
        return GENERATORS[name](**params)
    except TypeError as exc:
        if "argument" in str(exc):
            raise TypeError(f"bad parameters {sorted(params)} for generator {name!r}: {exc}") from exc
        raise
