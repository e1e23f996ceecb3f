"""Reading command-line values, one rule for every ``alft`` subcommand.

``--param NAME=VALUE`` (repeatable; a name given twice or an empty name is an error), comma-separated numbers,
rationals read exactly (``--coeffs``), ranges of K, and the generator's options. Every error names the option
and says what it accepts.
"""
from __future__ import annotations

__all__ = ["parse_value", "parse_params", "parse_coeffs", "floats", "ints", "parse_K_range", "parse_variance_max",
           "generator_options", "add_generator_options", "generator_params"]

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
    """Comma-separated rationals read exactly (the polynomial family's reader), the entry named in errors."""
    from estimators.generators.families.polynomial import parse_coeffs_text
    return parse_coeffs_text(text, option)


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


def generator_options(names=None) -> list:
    """``(option, families)`` for the options of the generator families ``names`` (default: all), each flag once
    with the families it belongs to: what the command line asks of the generators."""
    from estimators.generators import FAMILIES, family
    out: dict = {}
    for name in (names or FAMILIES):
        for opt in getattr(family(name), "CLI_OPTIONS", ()):
            out.setdefault(opt.flag, (opt, []))[1].append(name)
    return list(out.values())


def add_generator_options(parser, names=None) -> None:
    """Add the options of the generator families ``names`` (default: all) to an argparse parser."""
    for opt, fams in generator_options(names):
        kw = {"type": opt.type} if opt.type is not None else {}
        if opt.choices:
            kw["choices"] = list(opt.choices)
        parser.add_argument(opt.flag, dest=opt.dest, default=None if opt.required else opt.default, help=opt.help,
                            **kw)


def generator_params(name: str, args, names=None) -> dict:
    """The parameters of generator ``name`` from its options in ``args`` (argparse namespace): each option
    belongs to its families, and a family's required option must be given."""
    params = {}
    for opt, fams in generator_options(names):
        value = getattr(args, opt.dest, None)
        if name in fams:
            if value is None and opt.required:
                raise ValueError(f"{opt.flag} is required for the {name} generator ({opt.what})")
            if value is not None:
                params[opt.param] = opt.parse(value, opt.flag) if opt.parse is not None else value
        elif value is not None and value != (None if opt.required else opt.default):
            raise ValueError(f"{opt.flag} applies only to --generator {' or '.join(fams)}, not {name!r}")
    return params
