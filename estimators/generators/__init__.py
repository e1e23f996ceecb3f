"""Generators of the Bregman family (docs/theory.md, section 3) and what their tables estimate.

Each family is one module of :mod:`estimators.generators.families` holding everything about it
(docs/generators.md): its :class:`Generator` subclass with a hook per arithmetic (float64, mpmath, exact
rationals, Arb, torch, the game's closed form), its command-line options, and ``build(**params)``. The
registry is data: the family modules found there, by name (``families/kl.py`` is the generator ``"kl"``),
imported on first use.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Iterator, Mapping

from . import families as _families
from .base import CliOption, Generator, UnsupportedTargetError, WeightedTarget

__all__ = ["Generator", "GENERATORS", "get_generator", "family", "kl", "euclidean", "power", "polynomial",
           "ALPHA_MAX", "DEGREE_MAX", "WeightedTarget", "UnsupportedTargetError", "CliOption"]

#: the family modules, by generator name (the modules of ``families/``, listed once, nothing imported)
FAMILIES: tuple[str, ...] = tuple(sorted(m.name for m in pkgutil.iter_modules(_families.__path__)
                                         if not m.name.startswith("_")))


def family(name: str):
    """The family module of the generator ``name`` (imported on first use), or a clear error."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise ValueError(f"generator must be one of {list(FAMILIES)}, got {name!r}")
    return importlib.import_module(f"{_families.__name__}.{name}")


class _Generators(Mapping):
    """Read-only view name -> ``build`` of each family (the module is imported when its entry is read)."""

    def __getitem__(self, name: str) -> Callable[..., Generator]:
        if name not in self:
            raise KeyError(name)
        return family(name).build

    def __iter__(self) -> Iterator[str]:
        return iter(FAMILIES)

    def __len__(self) -> int:
        return len(FAMILIES)

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in FAMILIES

    def __repr__(self) -> str:
        return f"GENERATORS({', '.join(FAMILIES)})"


#: every generator family by name: ``GENERATORS[name](**params)`` builds one
GENERATORS: Mapping[str, Callable[..., Generator]] = _Generators()


def get_generator(name, **params) -> Generator:
    """Build a generator by registry name; unknown names and parameters raise a clear error."""
    if isinstance(name, Generator):
        if params:
            raise TypeError("parameters cannot be given together with a Generator instance")
        return name
    build = family(name).build
    try:
        return build(**params)
    except TypeError as exc:
        if "argument" in str(exc):
            raise TypeError(f"bad parameters {sorted(params)} for generator {name!r}: {exc}") from exc
        raise


def kl() -> Generator:
    """KL / entropy: phi = t log t, reward log t + 1; tables estimate log p (the +1 is dropped)."""
    return family("kl").build()


def euclidean() -> Generator:
    """Euclidean (Brier): phi = t^2/2, reward t; nothing dropped."""
    return family("euclidean").build()


def power(alpha) -> Generator:
    """Power / Tsallis with exponent ``alpha`` (:mod:`.power`)."""
    return family("power").build(alpha)


def polynomial(coeffs, *, of: str = "phi") -> Generator:
    """A polynomial generator (:mod:`.polynomial`)."""
    return family("polynomial").build(coeffs, of=of)


def __getattr__(name: str):
    # the families' limits, read from their modules on first use
    if name == "ALPHA_MAX":
        return family("power").ALPHA_MAX
    if name == "DEGREE_MAX":
        return family("polynomial").DEGREE_MAX
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
