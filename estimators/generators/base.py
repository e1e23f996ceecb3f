"""What every generator family provides: the :class:`Generator` contract, one hook per arithmetic.

A generator phi defines the reward phi'(t). A table estimates the *target*
``target(p) = phi'(p) - dropped_constant``: additive constants do not change the game, so tables may drop
them, and each generator says which constant it drops. The weighted target ``f(p) = p * target(p)`` is what
weighted bias is measured against (finite at p = 0 for every family here).

A family (one module of :mod:`estimators.generators`, docs/generators.md) subclasses :class:`Generator` and
implements its hooks:

* float64: :meth:`Generator.target`, :meth:`~Generator.weighted_target`, :meth:`~Generator.weighted_derivative`;
* mpmath: :meth:`~Generator.target_mp`;
* exact rationals (polynomial targets): :meth:`~Generator.target_exact` (Horner over ``target_coeffs``);
* Arb ball arithmetic (the certificates of minimax, AQP and the sup norms): :meth:`~Generator.certified_target`,
  a :class:`WeightedTarget` (values, derivatives, Taylor coefficients and tail bounds of f);
* torch: :meth:`~Generator.torch_target`, :meth:`~Generator.torch_weighted_target`;
* the game: :meth:`~Generator.game_optimum` (a closed form of the optimum, when there is one);
* the command line: the module's ``CLI_OPTIONS`` (:class:`CliOption`), one per parameter.

Nothing else in the package tests a generator's name: every consumer asks its generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

import mpmath
import numpy as np

__all__ = ["Generator", "WeightedTarget", "UnsupportedTargetError", "CliOption", "poly_eval"]


class UnsupportedTargetError(ValueError):
    """The generator's target is not one the certified solvers can handle (the message names the range)."""


def poly_eval(coeffs, t):
    """Exact Horner evaluation of sum_j coeffs[j] t^j at a Fraction."""
    acc = Fraction(0)
    for c in reversed(coeffs):
        acc = acc * t + c
    return acc


@dataclass(frozen=True)
class CliOption:
    """A command-line option setting one parameter of a family: ``--alpha`` sets ``alpha``.

    ``type`` converts the text as argparse does (e.g. ``float``); ``parse(text, flag)`` reads it instead when
    given (e.g. comma-separated rationals). A ``required`` option must be given with its family (``what`` says
    what it is, in the error); the others fall back to ``default``.
    """

    flag: str
    param: str
    help: str
    what: str = ""
    type: type | None = None
    parse: object = None
    required: bool = True
    default: object = None
    choices: tuple | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Generator:
    """A convex generator phi, its reward phi' and the target a table estimates (a family's instance).

    Attributes
    ----------
    name : str
        Registry name (``kl``, ``euclidean``, ``power``, ``polynomial``): the family's module.
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
    target_coeffs: tuple | None = None

    # -- float64 ------------------------------------------------------------------------------------
    def target(self, p):
        """Target ``phi'(p) - dropped_constant`` in float64 (may be infinite at p = 0)."""
        with np.errstate(divide="ignore"):
            return self._target64(np.asarray(p, dtype=np.float64))

    def weighted_target(self, p):
        """``f(p) = p * target(p)`` in float64, with its limit value at p = 0."""
        return self._weighted64(np.asarray(p, dtype=np.float64))

    def weighted_derivative(self, p):
        """``f'(p)`` in float64 (0 < p <= 1)."""
        return self._dweighted64(np.asarray(p, dtype=np.float64))

    def _target64(self, p: np.ndarray):
        raise NotImplementedError(f"generator family {self.name!r} has no float64 target")

    def _weighted64(self, p: np.ndarray):
        return p * self._target64(p)

    def _dweighted64(self, p: np.ndarray):
        raise NotImplementedError(f"generator family {self.name!r} has no float64 derivative of p * target")

    # -- mpmath -------------------------------------------------------------------------------------
    def target_mp(self, p):
        """Target at an mpmath number, at the current working precision (+-inf at a pole)."""
        p = mpmath.mpf(p)
        if p == 0 and not self.is_polynomial:
            with np.errstate(divide="ignore"):
                return mpmath.mpf(float(self._target64(np.float64(0.0))))
        return self._target_mp(p)

    def weighted_target_mp(self, p):
        """``p * target(p)`` at an mpmath number (0 at p = 0)."""
        p = mpmath.mpf(p)
        if p == 0:
            return mpmath.mpf(0)
        return p * self._target_mp(p)

    def _target_mp(self, p):
        raise NotImplementedError(f"generator family {self.name!r} has no mpmath target")

    # -- exact rationals ----------------------------------------------------------------------------
    def target_exact(self, p: Fraction) -> Fraction:
        """Exact target at a rational p; only for polynomial targets."""
        if self.target_coeffs is None:
            raise ValueError(f"generator {self.name!r} has no polynomial target; exact values need a polynomial")
        return poly_eval(self.target_coeffs, Fraction(p))

    # -- Arb: the certified arithmetic --------------------------------------------------------------
    def certified_target(self) -> "WeightedTarget":
        """f(p) = p * target(p) in Arb ball arithmetic (:class:`WeightedTarget`); a family without it raises
        :class:`UnsupportedTargetError` (the certified solvers cannot take it)."""
        raise UnsupportedTargetError(f"generator {self.label()!r} (target {self.target_text!r}) has no certified "
                                     f"(Arb) evaluation")

    # -- torch --------------------------------------------------------------------------------------
    def torch_target(self, p):
        """The target at a torch tensor ``p`` (same dtype and device)."""
        if self.is_polynomial:
            acc = p.new_zeros(p.shape)
            for coef in reversed(self.target_coeffs):
                acc = acc * p + float(coef)
            return acc
        raise NotImplementedError(f"generator family {self.name!r} has no torch target")

    def torch_weighted_target(self, p):
        """``p * target(p)`` at a torch tensor, with its limit 0 at p = 0."""
        return p * self.torch_target(p)

    # -- the game -----------------------------------------------------------------------------------
    def game_optimum(self, r: np.ndarray, beta: float):
        """``(p*, lambda, how)`` in closed form for rewards ``r`` and strength ``beta``, or None (the game then
        solves its KKT system r - beta phi'(p) = lambda)."""
        return None

    # -- metadata -----------------------------------------------------------------------------------
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


class WeightedTarget:
    """f(p) = p * target(p) on [0, 1] with what the certified solvers need (a family's Arb hooks).

    In float64 (the solvers' fast first pass) and in Arb ball arithmetic (``flint.arb``, rigorous):

    * values f(p), f'(p), f''(p);
    * Taylor coefficients f_k(m) of f(m + t), k = 0..D, and a rigorous bound on the tail
      sum_{k > D} |f_k(m)| r^k for |t| <= r (``radius_ok`` says where the expansion may be used);
    * sup_{[0, b]} |f(p) - f(0)| near a singular point p = 0;
    * the bounds the interpolation sup-norm engine needs (sup |f''| on [a, b], sup |f| on [0, b]);
    * the range the minimax solver supports (:meth:`check_minimax`).
    """

    #: True when f is a polynomial (Taylor series exact, no singularity at 0)
    entire: bool = False
    #: monomial coefficients of f (Fractions) when entire, else None
    coeffs: tuple | None = None

    @property
    def degree(self) -> int | None:
        if self.coeffs is None:
            return None
        nz = [j for j, c in enumerate(self.coeffs) if c != 0]
        return nz[-1] if nz else 0

    def describe(self) -> str:
        raise NotImplementedError

    def f_np(self, p):
        raise NotImplementedError

    def f(self, x):
        raise NotImplementedError

    def d1(self, x):
        raise NotImplementedError

    def d2(self, x):
        raise NotImplementedError

    def taylor(self, m, D: int) -> list:
        """[f_0(m), ..., f_D(m)]: Taylor coefficients of f(m + t) (m > 0 unless entire)."""
        raise NotImplementedError

    def tail(self, m, r, D: int):
        """Rigorous upper bound of sum_{k > D} |f_k(m)| r^k (requires ``radius_ok``)."""
        raise NotImplementedError

    def radius_ok(self, m: float, r: float) -> bool:
        """Whether the Taylor expansion at m may be used on |t| <= r."""
        return self.entire or (m > 0 and r <= 0.5 * m)

    def zero_variation(self, b):
        """Rigorous bound of sup_{0 <= p <= b} |f(p) - f(0)| (non-entire targets, b <= 1/e)."""
        raise ValueError("entire targets use their Taylor series at 0")

    def sup_abs_d2(self, a: float, b: float):
        """Rigorous upper bound of |f''| on [a, b] (0 < a < b <= 1): |f''| is monotone for the families here,
        so the end points bound it."""
        from flint import arb
        u, v = abs(self.d2(arb(a))).upper(), abs(self.d2(arb(b))).upper()
        return u if u > v else v

    def sup_abs_near_zero(self, b: float):
        """Rigorous upper bound of |f - f(0)| on [0, b], or None when b is too large for the bound (b >= 0.3)."""
        from flint import arb
        if b >= 0.3:
            return None
        return self.zero_variation(arb(b))

    def check_minimax(self, K: int) -> None:
        """Raise :class:`UnsupportedTargetError` (at once) for a K the minimax solver cannot handle in reasonable
        time or to its precision; the message names the parameter and the supported range."""
