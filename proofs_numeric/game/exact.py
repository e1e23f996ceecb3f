"""Exact analysis of one game and one table: p*, every fixed point, which one the dynamics reach.

No sampling: p* from :func:`.equilibria.optimum`, the fixed points from the KKT enumeration of
:mod:`.equilibria`, the one reached from uniform logits by integrating the mean-field ODE of
:mod:`.expected` (the small-step limit of the expected updates) and taking the nearest listed
point; its distance is reported, so an unconverged integration is visible.
"""
from __future__ import annotations

import numpy as np

from estimators import Table

from .advantages import check_advantage
from .equilibria import kkt_tolerance, kl_divergence, optimum, solve_kkt, table_marginal, total_variation
from .expected import closed_form_advantage, grpo_fixed_point, integrate_from_uniform
from .spec import GameSpec, check_table_for_game

__all__ = ["optimum_summary", "table_equilibria", "ODE_TAU", "ODE_TOL", "EXACT_MAX_K"]

#: Exact fixed points are computed up to this K: the certified root isolation in rationals grows like K^2
#: (about 2 s for the plug-in at K = 1024, 35 s at 4096).
EXACT_MAX_K = 1024

#: Mean-field time the ODE is integrated to (tau = sum of step sizes), and its tolerances. Answers that
#: lose their mass decay like 1/tau under policy gradient, so the end point is ~1e-3 from such a point.
ODE_TAU = 1e4
ODE_TOL = 1e-8


def optimum_summary(game: GameSpec) -> dict:
    """p*, how it was obtained and its KKT residual."""
    p, how, res = optimum(game)
    return {"p_star": p, "method": how, "kkt_residual": res,
            "support_lost": [int(z) for z in np.flatnonzero(p == 0)]}


def table_equilibria(game: GameSpec, table: Table, advantage: str = "decoupled", *, update: str = "pg",
                     p_star=None, tau: float = ODE_TAU) -> dict:
    """Every fixed point of ``table`` in ``game`` under ``advantage``, the reached one first.

    Returns ``fixed_points`` (:class:`.equilibria.KKTPoint` list), ``tv`` and ``kl`` (KL(p || p*)) per
    point, ``reached_distance`` (TV between the ODE end point at mean-field time ``tau`` and the
    reached point), ``pieces`` (monotone pieces of u), ``marginal_notes``. For ``grpo`` (no per-answer
    marginal) the single fixed point reached from uniform (:func:`.expected.grpo_fixed_point`).
    """
    check_table_for_game(game, table)
    check_advantage(advantage)
    if table.K > EXACT_MAX_K:
        raise ValueError(f"exact fixed points are computed for K <= {EXACT_MAX_K} (the certified root isolation "
                         f"grows like K^2), got a table with K = {table.K}")
    ps = optimum(game)[0] if p_star is None else np.asarray(p_star)
    if advantage == "grpo":
        res = grpo_fixed_point(game, table)
        p = res["p"]
        return {"advantage": advantage, "points": [{"p": p.tolist(), "support_lost": res["support_lost"],
                                                    "kkt_residual": res["residual"], "local_max": None}],
                "fixed_points": [p], "tv": [float(total_variation(p, ps))], "kl": [kl_divergence(p, ps)],
                "support_lost": [res["support_lost"]], "reached_distance": res["pg_endpoint_tv"],
                "all_listed": False, "details": {k: v for k, v in res.items() if k != "p"}}
    marg = table_marginal(table, advantage)
    points = solve_kkt(game.r, game.beta, marg)
    end = integrate_from_uniform(game, lambda q: closed_form_advantage(game, marg, q), update, tau_max=tau,
                                 rtol=ODE_TOL, atol=ODE_TOL)
    d = [float(total_variation(end["p"], q.p)) for q in points]
    order = np.argsort(d, kind="stable")
    points = [points[i] for i in order]
    d = sorted(d)
    return {
        "advantage": advantage, "update": update,
        "points": [q.to_json() for q in points],
        "fixed_points": [q.p for q in points],
        "tv": [float(total_variation(q.p, ps)) for q in points],
        "kl": [kl_divergence(q.p, ps) for q in points],
        "support_lost": [q.support_lost for q in points],
        "reached_distance": float(d[0]),
        # the end point is clearly nearer one listed point than any other
        "reached_identified": bool(len(d) == 1 or d[0] < 0.25 * d[1]),
        "reached_trace_split": end["pi"].tolist(),
        "all_listed": True,
        "pieces": [list(pc) for pc in marg.pieces],
        "monotone": marg.monotone_increasing,
        "marginal_notes": list(marg.notes),
        "max_kkt_residual": max(q.residual for q in points),
        "kkt_tol": kkt_tolerance(game.r, game.beta),
        "ode": {"tau": end["tau"], "rtol": end["rtol"], "atol": end["atol"], "nfev": end["nfev"]},
    }
