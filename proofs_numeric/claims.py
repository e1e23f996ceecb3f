"""The claim checks in report order. A new claim module adds one line here."""
from __future__ import annotations

from .result import ClaimSpec

__all__ = ["CLAIMS", "claim_ids"]


def _load() -> list[ClaimSpec]:
    from . import c1_ustat_exact, c2_plugin_bias, c3_minimax_rate, c4_ditzian_totik, c5_variance, c8_torch_engines
    from . import c6_aqp, c7_game, c9_baselines
    return [c1_ustat_exact.CLAIM, c2_plugin_bias.CLAIM, c3_minimax_rate.CLAIM, c4_ditzian_totik.CLAIM,
            c5_variance.CLAIM, c6_aqp.CLAIM, c7_game.CLAIM, c8_torch_engines.CLAIM, c9_baselines.CLAIM]


CLAIMS: list[ClaimSpec] = _load()


def claim_ids() -> list[str]:
    return [c.id for c in CLAIMS]
