"""Input validation shared by every public entry point.

Each check raises a ``ValueError`` (or ``TypeError``) that names the parameter and
the allowed range. Nothing is clipped or coerced silently.
"""
from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

#: Largest group size the reference engines accept.
K_MAX = 1 << 16
#: Largest K * (degree + 1) for exact rational constructions with a polynomial target (ustat,
#: plug-in, jackknife): beyond it the rational arithmetic takes more than about ten seconds.
EXACT_WORK_MAX = 1 << 18


def short_repr(x, limit: int = 40) -> str:
    """``repr(x)`` cut to ``limit`` characters (error messages never print a 400-digit number)."""
    r = repr(x)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def check_exact_work(generator, K: int, *, method: str) -> None:
    """Refuse exact constructions whose rational arithmetic would take minutes (see EXACT_WORK_MAX)."""
    deg = getattr(generator, "degree", None)
    if deg is None:
        return
    work = int(K) * (int(deg) + 1)
    if work > EXACT_WORK_MAX:
        raise ValueError(
            f"K = {K} with a polynomial target of degree {deg}: method {method!r} builds the table in exact "
            f"rational arithmetic and supports K * (degree + 1) <= {EXACT_WORK_MAX} (here {work}); use "
            f"K <= {EXACT_WORK_MAX // (int(deg) + 1)} or a lower degree")


def check_K(K, *, name: str = "K", minimum: int = 2, maximum: int = K_MAX) -> int:
    """Return ``K`` as an ``int`` after checking it is an integer in [minimum, maximum]."""
    if isinstance(K, bool) or not isinstance(K, (numbers.Integral, np.integer)):
        if isinstance(K, (float, np.floating)) and float(K).is_integer():
            raise TypeError(f"{name} must be an integer in [{minimum}, {maximum}], got the float {K!r}")
        raise TypeError(f"{name} must be an integer in [{minimum}, {maximum}], got {K!r}")
    K = int(K)
    if not minimum <= K <= maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {K}")
    return K


def check_probabilities(p, *, name: str = "p") -> np.ndarray:
    """Return ``p`` as a float64 array after checking every entry is finite and in [0, 1]."""
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real numbers in [0, 1], got {p!r}") from exc
    if arr.size == 0:
        raise ValueError(f"{name} must contain at least one probability in [0, 1]")
    bad = ~np.isfinite(arr) | (arr < 0.0) | (arr > 1.0)
    if bad.any():
        first = arr[bad].flat[0]
        raise ValueError(f"{name} must lie in [0, 1] and not be NaN; got {first!r}")
    return arr


def check_rational_probability(p, *, name: str = "p") -> Fraction:
    """Return ``p`` as an exact ``Fraction`` in [0, 1] (floats are taken at their exact binary value)."""
    if isinstance(p, bool):
        raise TypeError(f"{name} must be a rational number in [0, 1], got {p!r}")
    try:
        if isinstance(p, (float, np.floating)):
            if not np.isfinite(p):
                raise ValueError
            q = Fraction(float(p))
        else:
            q = Fraction(p)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"{name} must be a rational number in [0, 1], got {p!r}") from exc
    if not 0 <= q <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {q}")
    return q


def check_positive_int(x, *, name: str, minimum: int = 1) -> int:
    """Return ``x`` as an ``int`` after checking it is an integer >= minimum."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {x!r}")
    if int(x) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x}")
    return int(x)


def as_real(x, *, name: str, allowed: str) -> float:
    """``x`` as a float, or TypeError (a bool, or not a number) / ValueError (NaN or inf) saying
    "``name`` must be ``allowed``"; the caller checks the range with the same wording."""
    if isinstance(x, bool):
        raise TypeError(f"{name} must be {allowed}, got {x!r}")
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be {allowed}, got {short_repr(x)}") from exc
    if not math.isfinite(v):
        raise ValueError(f"{name} must be {allowed}, got {x!r}")
    return v


def check_finite_real(x, *, name: str) -> float:
    """Return ``x`` as a float after checking it is a finite real number (not NaN or inf, not a bool)."""
    return as_real(x, name=name, allowed="a finite real number")


def check_unit_interval_open(x, *, name: str) -> float:
    """Return ``x`` as a float after checking 0 < x < 1 (e.g. a false-alarm rate)."""
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number in (0, 1), got {x!r}") from exc
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be a number in (0, 1), got {x!r}")
    return v


def to_float64(x) -> float:
    """float64 value of an entry; an entry beyond float64's range is a clear error, not an OverflowError."""
    try:
        v = float(x)
    except OverflowError:
        v = float("inf")
    if v in (float("inf"), float("-inf")):
        raise ValueError(f"a table entry ({_entry_text(x)}) "
                         f"exceeds the float64 range; scale the generator's coefficients down")
    return v


def _entry_text(x) -> str:
    import mpmath
    if isinstance(x, Fraction):
        return mpmath.nstr(mpmath.mpf(x.numerator) / x.denominator, 8)
    return mpmath.nstr(mpmath.mpf(x), 8)
