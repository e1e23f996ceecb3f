"""What the game predicts for one trainer case: the exact fixed point of the table the trainer applies, under the
trainer's advantage (claims C7, C9).

A case is a game, an estimator table (method, K, the advantage it was built for, parameters) and the trainer's
advantage (TRL ``scale_rewards``: 'none' and 'batch' are the ``rloo`` advantage, 'group' is ``grpo``). The
prediction is :func:`proofs_numeric.game.exact.table_equilibria` for that table and advantage: the KKT fixed
point reached from the model's starting distribution for ``rloo`` (exact per-answer marginal), the enumerated
group-std fixed point for ``grpo``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..game.equilibria import total_variation
from ..game.exact import optimum_summary, table_equilibria
from ..game.spec import GAMES, get_game

__all__ = ["Case", "predict", "case_table", "case_game", "TABLE_ADVANTAGES"]

#: advantages a table can be built for (``grpo`` has no table correction: build_table refuses it)
TABLE_ADVANTAGES = ("decoupled", "rloo")


@dataclass(frozen=True)
class Case:
    """One trainer run's game and table: ``game`` (a name of :data:`proofs_numeric.game.spec.GAMES`), ``method``,
    ``K`` (the trainer's ``num_generations``), ``table_advantage`` (the advantage the table is built for:
    'decoupled' is the plain table, 'rloo' the one corrected for a mean baseline) and method ``params``."""

    game: str
    method: str
    K: int
    table_advantage: str = "rloo"
    params: tuple = field(default=())

    def __post_init__(self):
        if self.game not in GAMES:
            raise ValueError(f"game must be one of {sorted(GAMES)}, got {self.game!r}")
        if isinstance(self.K, bool) or not isinstance(self.K, int) or self.K < 2:
            raise ValueError(f"K must be an integer >= 2, got {self.K!r}")
        if self.table_advantage not in TABLE_ADVANTAGES:
            raise ValueError(f"the table's advantage must be one of {list(TABLE_ADVANTAGES)} ('grpo' has no table "
                             f"correction: build the plain table, advantage 'decoupled', and train with "
                             f"scale_rewards='group'), got {self.table_advantage!r}")

    @property
    def label(self) -> str:
        extra = "".join(f", {k}={v:g}" if isinstance(v, float) else f", {k}={v}" for k, v in self.params)
        kind = "plain" if self.table_advantage == "decoupled" else f"corrected for {self.table_advantage}"
        return f"{self.game} K={self.K} {self.method}{extra} ({kind})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = dict(self.params)
        return d


def case_game(case: Case):
    return get_game(case.game)


def case_table(case: Case):
    """The table the trainer is given (``build_table`` with the case's advantage)."""
    from estimators import build_table
    game = case_game(case)
    return build_table(game.generator, case.method, case.K, advantage=case.table_advantage, **dict(case.params))


def initial_distribution(game) -> np.ndarray:
    """Where the game's dynamics start: the answer distribution of its initial trace logits (uniform logits when it
    has none, so answers with more traces start with more mass)."""
    logits = getattr(game, "initial_logits", None)
    theta = np.zeros(game.T) if logits is None else np.asarray(logits, dtype=np.float64)
    pi = np.exp(theta - theta.max())
    return game.answer_probabilities(pi / pi.sum())


def predict(game, table, advantage: str) -> dict:
    """The predicted fixed point of ``table`` in ``game`` under the trainer's ``advantage``, and p*."""
    opt = optimum_summary(game)
    eq = table_equilibria(game, table, advantage, p_star=opt["p_star"])
    p = np.asarray(eq["fixed_points"][0], dtype=np.float64)
    return {"predicted": p.tolist(), "p_star": np.asarray(opt["p_star"]).tolist(),
            "tv_predicted_to_p_star": float(total_variation(p, opt["p_star"])),
            "advantage": advantage, "support_lost": list(eq["support_lost"][0]),
            "other_fixed_points": [np.asarray(q).tolist() for q in eq["fixed_points"][1:]],
            "reached_distance": float(eq["reached_distance"]),
            "fixed_points_listed": 1 + len(eq["fixed_points"][1:]),
            "how": ("the group-std fixed point by exact enumeration of group compositions" if advantage == "grpo"
                    else "the KKT fixed point of the effective table's exact marginal reached from uniform")}
