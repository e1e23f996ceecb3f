"""The weighted target f(p) = p * target(p) the minimax solver works with (claims C1, C3, C4).

The solver asks the generator: :meth:`~estimators.generators.Generator.certified_target` gives f in float64
(the fast first pass) and in Arb ball arithmetic (values, derivatives, Taylor coefficients and tail bounds;
:class:`~estimators.generators.WeightedTarget`), and :meth:`~estimators.generators.WeightedTarget.check_minimax`
the range it supports. Supported: the families with certified hooks (:data:`SUPPORTED`).
"""
from __future__ import annotations

from ..generators import FAMILIES, Generator, UnsupportedTargetError, WeightedTarget

__all__ = ["Target", "target_for", "UnsupportedTargetError", "SUPPORTED", "check_supported"]

#: the type of a weighted target (a family's Arb hooks)
Target = WeightedTarget

#: the generators whose targets the solver supports (every family with certified hooks)
SUPPORTED = ", ".join(FAMILIES)


def check_supported(target: WeightedTarget, K: int) -> None:
    """Raise :class:`UnsupportedTargetError` (at once) for a target and K the solver cannot handle in
    reasonable time or to its precision; the message names the parameter and the supported range."""
    target.check_minimax(K)


def target_for(generator) -> WeightedTarget:
    """The weighted target of a :class:`~estimators.generators.Generator`, or a clear error."""
    if not isinstance(generator, Generator):
        raise UnsupportedTargetError(f"generator must be an estimators Generator ({SUPPORTED}), got {generator!r}")
    try:
        return generator.certified_target()
    except UnsupportedTargetError as exc:
        raise UnsupportedTargetError(f"method 'minimax' supports the generators {SUPPORTED}; {exc}") from None
