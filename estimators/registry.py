"""The method registry: which table constructions exist, resolved on first use.

The built-in methods are data, :data:`BUILTIN` (name -> ``"module:builder"``), like the command line's
subcommands: nothing is imported until a method is used, so ``import estimators`` loads no solver. A third
party adds a method with :func:`register_method`. This module imports nothing from the package, so no method
module ever imports it back in a circle.

A builder is ``builder(generator, K, *, <parameters>)``; its keyword-only parameters are the method's
parameters, except ``advantage``: a builder that takes ``advantage=`` handles the trainer's baseline itself
(C9, :mod:`estimators.advantages`; it certifies or optimises the effective table), otherwise
:func:`estimators.build_table` corrects the method's table for K - 1. The first line of the builder's
docstring is the method's summary.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

__all__ = ["BUILTIN", "MethodSpec", "METHODS", "register_method", "method_names", "get_method"]

#: the built-in methods, resolved lazily (claims: ustat C1, plugin C2, minimax C3, aqp C6)
BUILTIN: Mapping[str, str] = {
    "ustat": "estimators.methods.ustat:ustat_table",
    "plugin": "estimators.methods.plugin:plugin_table",
    "jackknife": "estimators.methods.jackknife:jackknife_table",
    "minimax": "estimators.minimax.table:minimax_table",
    "aqp": "estimators.aqp.table:aqp_table",
}

_ADDED: dict[str, Callable] = {}
_RESOLVED: dict[str, "MethodSpec"] = {}


@dataclass(frozen=True)
class MethodSpec:
    """A table construction: ``builder(generator, K, **params) -> Table``.

    ``params`` (the builder's keyword-only parameters) and ``baseline_aware`` (it takes ``advantage=``) are read
    from the builder's signature; ``summary`` is the first line of its docstring.
    """

    name: str
    builder: Callable
    summary: str
    params: tuple
    baseline_aware: bool


def _spec(name: str, builder: Callable) -> MethodSpec:
    if not callable(builder):
        raise TypeError(f"method {name!r}: the builder must be callable, got {builder!r}")
    sig = inspect.signature(builder)
    kinds = [p.kind for p in sig.parameters.values()]
    positional = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 or inspect.Parameter.VAR_KEYWORD in kinds:
        raise TypeError(f"method {name!r}: the builder must be builder(generator, K, *, <named parameters>) with its "
                        f"parameters keyword-only and named (no **kwargs), got {builder.__name__}{sig}")
    named = [p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY]
    doc = inspect.getdoc(builder) or ""
    return MethodSpec(name=name, builder=builder, summary=doc.split("\n", 1)[0].strip(),
                      params=tuple(n for n in named if n != "advantage"), baseline_aware="advantage" in named)


def register_method(name: str, builder: Callable | None = None):
    """Add a method: ``register_method("mine", builder)`` or the decorator ``@register_method("mine")``.

    The builder is ``builder(generator, K, *, <parameters>)`` (see the module docstring); a name already taken
    (built-in or added) is refused.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")

    def add(fn: Callable) -> Callable:
        if name in BUILTIN or name in _ADDED:
            raise ValueError(f"method {name!r} is already registered")
        spec = _spec(name, fn)
        _ADDED[name] = fn
        _RESOLVED[name] = spec
        return fn
    return add if builder is None else add(builder)


def method_names() -> list[str]:
    """Every method's name, sorted (built-in and added; nothing is imported)."""
    return sorted({*BUILTIN, *_ADDED})


def get_method(name: str) -> MethodSpec:
    """The method's :class:`MethodSpec` (its module is imported on first use); an unknown name is a clear error."""
    if not isinstance(name, str) or (name not in BUILTIN and name not in _RESOLVED):
        raise ValueError(f"method must be one of {method_names()}, got {name!r}")
    spec = _RESOLVED.get(name)
    if spec is not None:
        return spec
    if name not in BUILTIN:
        raise ValueError(f"method must be one of {method_names()}, got {name!r}")
    module, attr = BUILTIN[name].split(":")
    spec = _RESOLVED[name] = _spec(name, getattr(importlib.import_module(module), attr))
    return spec


class _Methods(Mapping):
    """Read-only view name -> :class:`MethodSpec`; a method's module is imported when its entry is read."""

    def __getitem__(self, name: str) -> MethodSpec:
        if name not in self:
            raise KeyError(name)
        return get_method(name)

    def __iter__(self) -> Iterator[str]:
        return iter(method_names())

    def __len__(self) -> int:
        return len(method_names())

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and (name in BUILTIN or name in _ADDED)

    def __repr__(self) -> str:
        return f"METHODS({', '.join(method_names())})"


#: every method by name (a read-only mapping; entries resolved on first read)
METHODS: Mapping[str, MethodSpec] = _Methods()
