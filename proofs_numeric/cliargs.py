"""Reading command-line values, one rule for every ``alft`` subcommand.

``--param NAME=VALUE`` (repeatable; a name given twice or an empty name is an error), comma-separated numbers,
rationals read exactly (``--coeffs``), ranges of K, and the generator's options. Every error names the option
and says what it accepts.
"""
from __future__ import annotations

__all__ = ["parse_value", "parse_params", "parse_coeffs", "floats", "ints", "parse_K_range", "parse_variance_max",
           "generator_params"]

_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def parse_value(text: str):
    """A ``--param`` value: booleans (true/false, yes/no, on/off, any case), None, int, float, else the string."""
    low = text.strip().lower()
    if low in _BOOLS:
        return _BOOLS[low]
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_params(items, *, option: str = "--param") -> dict:
    """``NAME=VALUE`` items as a dict of :func:`parse_value` values; a malformed item, an empty name or a name
    given twice is a ``ValueError`` naming ``option``."""
    params: dict = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ValueError(f"{option} must look like NAME=VALUE, got {item!r}")
        if name in params:
            raise ValueError(f"{option} {name} is given twice")
        params[name] = parse_value(value.strip())
    return params


def parse_coeffs(text: str, *, option: str = "--coeffs") -> list:
    """Comma-separated rationals (integers, decimals, a/b; read exactly by the bounded parser
    :func:`estimators._validate.parse_rational`), with a message naming the entry."""
    from estimators._validate import DECIMAL_DIGITS_MAX, DECIMAL_EXPONENT_MAX, parse_rational
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


def floats(text: str, option: str) -> list[float]:
    """Comma-separated numbers (empty items skipped)."""
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{option} must be comma-separated numbers, got {text!r}") from None


def ints(text: str, option: str) -> list[int]:
    """Comma-separated integers (empty items skipped)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{option} must be comma-separated integers, got {text!r}") from None


def parse_K_range(text: str | None, *, option: str = "--rebuild-K", lo_min: int = 2, hi_max: int = 128) -> range:
    """``LO-HI`` (or one K) within ``[lo_min, hi_max]``; None (the option not given): all of them."""
    if text is None:
        return range(lo_min, hi_max + 1)
    try:
        lo, hi = (int(v) for v in text.split("-", 1)) if "-" in text else (int(text), int(text))
    except ValueError as exc:
        raise ValueError(f"{option} must look like LO-HI (e.g. {lo_min}-{hi_max}), got {text!r}") from exc
    if not lo_min <= lo <= hi <= hi_max:
        raise ValueError(f"{option} must lie within {lo_min}-{hi_max} with LO <= HI, got {text!r}")
    return range(lo, hi + 1)


def parse_variance_max(text):
    """``--variance-max``: a number, or 'plugin' (the plug-in table's variance); None when not given."""
    if text is None or text == "plugin":
        return text
    try:
        return float(text)
    except ValueError as exc:
        raise ValueError(f"--variance-max must be a number >= 0 or 'plugin', got {text!r}") from exc


def generator_params(generator: str, *, alpha=None, coeffs=None, coeffs_of: str = "phi") -> dict:
    """The generator's parameters from its options (``--alpha``, ``--coeffs``, ``--coeffs-of``): each option
    belongs to one generator, and a generator's required option must be given."""
    gp = {}
    if generator == "power":
        if alpha is None:
            raise ValueError("--alpha is required for the power generator (alpha > 0, alpha != 1)")
        gp["alpha"] = alpha
    elif alpha is not None:
        raise ValueError(f"--alpha applies only to --generator power, not {generator!r}")
    if generator == "polynomial":
        if not coeffs:
            raise ValueError("--coeffs is required for the polynomial generator, e.g. --coeffs 0,0,1/2")
        gp["coeffs"] = parse_coeffs(coeffs)
        gp["of"] = coeffs_of
    elif coeffs is not None:
        raise ValueError(f"--coeffs applies only to --generator polynomial, not {generator!r}")
    return gp
