"""Input validation shared by every public entry point.

Each check raises a ``ValueError`` (or ``TypeError``) that names the parameter and
the allowed range. Nothing is clipped or coerced silently.

Numbers are numbers: a string, a bool or a complex value is refused (``TypeError`` naming the
parameter) wherever a number is expected, in scalars and inside arrays. Strings are read only where
a parser is documented for exact input -- :func:`parse_rational`, used by polynomial ``coeffs``, by
the ``p`` of the exact and mpmath moment engines, by a table's ``reference`` entries and by the
command line -- because a float cannot hold 3/10 and a decimal string can. That parser refuses
exponents beyond ``10^+-``:data:`DECIMAL_EXPONENT_MAX` and more than :data:`DECIMAL_DIGITS_MAX` digits
(exact arithmetic on ``1e20000000`` would run for minutes).
"""
from __future__ import annotations

import decimal
import math
import numbers
import re
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


#: largest |decimal exponent| :func:`parse_rational` accepts (float64 spans 1e-324 .. 1.8e308)
DECIMAL_EXPONENT_MAX = 1000
#: most digits (of a numerator, a denominator, or a decimal's mantissa) :func:`parse_rational` accepts
DECIMAL_DIGITS_MAX = 1000
#: values that are never numbers, however Python or numpy would convert them
NOT_NUMBERS = (str, bytes, bytearray, bool, np.bool_, complex, np.complexfloating)
_DECIMAL_RE = re.compile(r"\s*[+-]?(?:(?P<int>\d*)(?:\.(?P<frac>\d*))?)(?:[eE](?P<exp>[+-]?\d+))?\s*")
_RATIO_RE = re.compile(r"\s*[+-]?(?P<num>\d+)\s*/\s*(?P<den>\d+)\s*")


def _what(x) -> str:
    if isinstance(x, (str, bytes, bytearray)):
        return f"the string {short_repr(x)}"
    if isinstance(x, (bool, np.bool_)):
        return f"the bool {x!r}"
    if isinstance(x, (complex, np.complexfloating)):
        return f"the complex number {x!r}"
    return short_repr(x)


def not_a_number(x, *, name: str, allowed: str, hint: str = "") -> TypeError:
    """The TypeError for a value that is not a number: names the parameter, the range and the value
    (``hint`` is added when the value is a string: where strings *are* read)."""
    return TypeError(f"{name} must be {allowed}, got {_what(x)}"
                     + (hint if isinstance(x, (str, bytes, bytearray, np.str_)) else ""))


def parse_rational(x, *, name: str, allowed: str = "a finite rational number") -> Fraction:
    """``x`` as an exact ``Fraction``: an int, a Fraction, a finite float or Decimal (exact binary/decimal
    value), or a string ``"3/10"``, ``"0.3"``, ``"-1.5e-7"`` (the documented exact input format).

    Refuses bools and complex values (``TypeError``), NaN and infinities, malformed strings, and decimal
    exponents beyond 10^+-:data:`DECIMAL_EXPONENT_MAX` or more than :data:`DECIMAL_DIGITS_MAX` digits
    (``ValueError``), so that no input makes the exact arithmetic run for minutes.
    """
    if isinstance(x, (bool, np.bool_, complex, np.complexfloating, bytes, bytearray)):
        raise not_a_number(x, name=name, allowed=allowed)
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (numbers.Integral, np.integer)):
        return Fraction(int(x))
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(x):
            raise ValueError(f"{name} must be {allowed}, got {x!r}")
        return Fraction(float(x))
    if isinstance(x, decimal.Decimal):
        if not x.is_finite():
            raise ValueError(f"{name} must be {allowed}, got Decimal({str(x)!r})")
        t = x.as_tuple()
        if len(t.digits) > DECIMAL_DIGITS_MAX or abs(t.exponent + len(t.digits)) > DECIMAL_EXPONENT_MAX + \
                DECIMAL_DIGITS_MAX or abs(t.exponent) > DECIMAL_EXPONENT_MAX + DECIMAL_DIGITS_MAX:
            raise ValueError(f"{name} must be {allowed} with at most {DECIMAL_DIGITS_MAX} digits and a decimal "
                             f"exponent within +-{DECIMAL_EXPONENT_MAX}, got Decimal({short_repr(str(x))})")
        return Fraction(x)
    if isinstance(x, str):
        return _parse_rational_text(x, name=name, allowed=allowed)
    if isinstance(x, numbers.Rational):
        return Fraction(x.numerator, x.denominator)
    raise not_a_number(x, name=name, allowed=allowed)


def _parse_rational_text(x: str, *, name: str, allowed: str) -> Fraction:
    limits = (f"{name} must be {allowed} with at most {DECIMAL_DIGITS_MAX} digits and a decimal exponent within "
              f"+-{DECIMAL_EXPONENT_MAX}, got {short_repr(x)}")
    m = _RATIO_RE.fullmatch(x)
    if m:
        if max(len(m["num"]), len(m["den"])) > DECIMAL_DIGITS_MAX:
            raise ValueError(limits)
        if int(m["den"]) == 0:
            raise ValueError(f"{name} must be {allowed}, got {short_repr(x)} (division by zero)")
        return Fraction(x.replace(" ", "").strip())
    m = _DECIMAL_RE.fullmatch(x)
    if not m or not (m["int"] or m["frac"]):
        raise ValueError(f"{name} must be {allowed} (an integer, a decimal such as 0.3 or 1.5e-7, or a ratio such "
                         f"as 3/10), got {short_repr(x)}")
    digits = len(m["int"] or "") + len(m["frac"] or "")
    exp = m["exp"] or "0"
    if digits > DECIMAL_DIGITS_MAX or len(exp.lstrip("+-")) > 6 or abs(int(exp)) > DECIMAL_EXPONENT_MAX:
        raise ValueError(limits)
    return Fraction(x.strip())


def check_real_array(x, *, name: str, allowed: str = "real numbers", hint: str = "") -> np.ndarray:
    """``x`` (a number or a nested sequence/array of them) as a float64 array; a string, bool or complex value
    anywhere in it is a ``TypeError`` naming ``name`` (numpy would silently read "0.5" as 0.5 and True as 1)."""
    if isinstance(x, NOT_NUMBERS):
        raise not_a_number(x, name=name, allowed=allowed, hint=hint)
    if isinstance(x, np.ndarray) and x.dtype.kind in "fiu":
        return x.astype(np.float64, copy=False)
    try:
        arr = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=object)
    except (TypeError, ValueError) as exc:  # ragged nesting numpy cannot shape
        raise TypeError(f"{name} must be {allowed}, got {short_repr(x)}") from exc
    if arr.dtype.kind in "bUSc":
        raise not_a_number(arr.flat[0] if arr.size else x, name=name, allowed=allowed, hint=hint)
    if arr.dtype.kind == "O":
        for t in set(map(type, arr.flat)):
            if issubclass(t, NOT_NUMBERS) or not issubclass(t, (numbers.Number, np.number)):
                bad = next(v for v in arr.flat if type(v) is t)
                raise not_a_number(bad, name=name, allowed=allowed, hint=hint)
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be {allowed}, got {short_repr(x)}") from exc


def check_probabilities(p, *, name: str = "p", hint: str = "") -> np.ndarray:
    """Return ``p`` as a float64 array after checking every entry is a finite number in [0, 1]."""
    arr = check_real_array(p, name=name, allowed="real numbers in [0, 1]", hint=hint)
    if arr.size == 0:
        raise ValueError(f"{name} must contain at least one probability in [0, 1]")
    bad = ~np.isfinite(arr) | (arr < 0.0) | (arr > 1.0)
    if bad.any():
        first = arr[bad].flat[0]
        raise ValueError(f"{name} must lie in [0, 1] and not be NaN; got {first!r}")
    return arr


def check_rational_probability(p, *, name: str = "p") -> Fraction:
    """Return ``p`` as an exact ``Fraction`` in [0, 1] (floats are taken at their exact binary value, strings
    are read by :func:`parse_rational`)."""
    q = parse_rational(p, name=name, allowed="a rational number in [0, 1]")
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
    "``name`` must be ``allowed``"; the caller checks the range with the same wording. Strings and
    complex values are refused too (numbers are numbers)."""
    if isinstance(x, NOT_NUMBERS) or (isinstance(x, np.ndarray) and x.dtype.kind in "bUSOc"):
        raise not_a_number(x, name=name, allowed=allowed)
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
        v = as_real(x, name=name, allowed="a number in (0, 1)")
    except ValueError as exc:  # NaN or inf: the same wording
        raise ValueError(f"{name} must be a number in (0, 1), got {x!r}") from exc
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
