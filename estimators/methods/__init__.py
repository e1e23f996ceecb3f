"""Registry of table constructions (methods); each module adds one with :func:`register_method`.

Like ``numpy.polynomial``: one abstraction (:class:`~estimators.table.Table`), thin modules
that plug into it, a uniform entry point :func:`build_table`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from .._validate import check_K
from ..generators import Generator, get_generator
from ..table import Table

__all__ = ["MethodSpec", "METHODS", "register_method", "build_table", "method_names"]


@dataclass(frozen=True)
class MethodSpec:
    """A table construction: ``builder(generator, K, **params) -> Table``."""

    name: str
    builder: Callable[..., Table]
    summary: str
    params: tuple = ()


METHODS: dict[str, MethodSpec] = {}


def register_method(name: str, summary: str, params: tuple = ()) -> Callable:
    """Decorator registering ``builder(generator, K, **params)`` under ``name``."""
    def deco(builder):
        if name in METHODS:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = MethodSpec(name, builder, summary, tuple(params))
        return builder
    return deco


def method_names() -> list[str]:
    return sorted(METHODS)


def build_table(generator, method: str, K, *, generator_params: Mapping | None = None, **params) -> Table:
    """Build the table of ``method`` for ``generator`` and group size ``K``.

    Parameters
    ----------
    generator : str or Generator
        A registry name (with ``generator_params``) or a :class:`Generator`.
    method : str
        One of :func:`method_names` (``ustat``, ``plugin``, ``jackknife``, ...).
    K : int
        Group size, ``2 <= K``.
    **params
        Method parameters.
    """
    gen = generator if isinstance(generator, Generator) else get_generator(generator, **(generator_params or {}))
    K = check_K(K)
    if method not in METHODS:
        raise ValueError(f"method must be one of {method_names()}, got {method!r}")
    spec = METHODS[method]
    unknown = set(params) - set(spec.params)
    if unknown:
        allowed = ", ".join(spec.params) or "none"
        raise TypeError(f"unknown parameter(s) {sorted(unknown)} for method {method!r} (allowed: {allowed})")
    return spec.builder(gen, K, **params)


# the built-in methods register themselves on import
from . import jackknife, plugin, ustat  # noqa: E402,F401
from .. import minimax  # noqa: E402,F401  (registers "minimax", C3)
from .. import aqp  # noqa: E402,F401  (registers "aqp", C6)
