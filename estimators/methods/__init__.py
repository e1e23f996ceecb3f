"""Table constructions (methods) and the uniform entry point :func:`build_table`.

Like ``numpy.polynomial``: one abstraction (:class:`~estimators.table.Table`), thin modules that provide
builders, one entry point. Which methods exist is :mod:`estimators.registry` (data, resolved on first use);
this package imports none of its method modules.
"""
from __future__ import annotations

from typing import Mapping

from .._validate import check_K
from ..certified.advantages import check_advantage, correct_for, refuse_grpo
from ..generators import Generator, get_generator
from ..registry import METHODS, MethodSpec, get_method, method_names, register_method
from ..table import Table

__all__ = ["MethodSpec", "METHODS", "register_method", "build_table", "method_names", "get_method"]


def build_table(generator, method: str, K, *, advantage: str = "decoupled", generator_params: Mapping | None = None,
                **params) -> Table:
    """Build the table of ``method`` for ``generator`` and group size ``K``.

    Parameters
    ----------
    generator : str or Generator
        A registry name (with ``generator_params``) or a :class:`Generator`.
    method : str
        One of :func:`method_names` (``ustat``, ``plugin``, ``jackknife``, ...).
    K : int
        Group size, ``2 <= K``.
    advantage : {"decoupled", "rloo", "grpo"}
        The trainer's advantage (C9, :mod:`estimators.advantages`). ``"decoupled"`` (default): the table is
        the estimator. ``"rloo"`` (leave-one-out or group-mean baseline, TRL ``scale_rewards="none"`` or
        ``"batch"``, verl RLOO / GRPO without std / REINFORCE++-baseline): the table g whose *effective*
        table under that baseline is the method's estimator for the K - 1 samples a stock group carries
        (``K >= 3``). ``"grpo"`` (group std) is refused: no table corrects it.
    **params
        Method parameters.
    """
    gen = generator if isinstance(generator, Generator) else get_generator(generator, **(generator_params or {}))
    K = check_K(K)
    spec = get_method(method)
    unknown = set(params) - set(spec.params)
    if unknown:
        allowed = ", ".join(spec.params) or "none"
        raise TypeError(f"unknown parameter(s) {sorted(unknown)} for method {method!r} (allowed: {allowed})")
    adv = check_advantage(advantage)
    if adv == "decoupled":
        return spec.builder(gen, K, **params)
    if adv == "grpo":
        raise refuse_grpo()
    if K < 3:
        raise ValueError(f"K = {K} under the {adv!r} advantage: the baseline leaves one free value (the effective "
                         f"table of a group of 2 is the constant g(0), so the diversity term cancels). Use K >= 3, "
                         f"or advantage='decoupled' with a baseline that does not see the sample")
    if spec.baseline_aware:
        return spec.builder(gen, K, advantage=adv, **params)
    try:
        inner = spec.builder(gen, K - 1, **params)
    except ValueError as exc:
        raise ValueError(f"under the {adv!r} advantage a group of K = {K} carries what K - 1 = {K - 1} samples "
                         f"carry, and method {method!r} cannot build that estimator: {exc}") from exc
    return correct_for(inner, adv)

