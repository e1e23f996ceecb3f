"""The alignment-game simulator (claim C7): exact equilibria, stochastic GRPO dynamics, comparison.

- :mod:`.spec`        the game (answers, traces, rewards, beta, generator) and its checks;
- :mod:`.advantages`  the per-sample advantages (decoupled / usual leave-one-out, GRPO) and their effective tables;
- :mod:`.equilibria`  p* and every KKT point of a table (certified monotone pieces, exact residuals);
- :mod:`.expected`    exact expected advantages (enumeration), the mean-field ODE, the expected update map;
- :mod:`.exact`       one game and one table: every fixed point, the one reached from uniform;
- :mod:`.dynamics`    vectorised stochastic runs over seeds and groups;
- :mod:`.compare`     the convergence comparison, the acceleration verdict, agreement checks;
- :mod:`.cli`         ``alft game``.

It uses the estimators' tables; ``estimators`` never imports it.
"""
from .advantages import ADVANTAGES, effective_table
from .dynamics import RunConfig, Trajectory, simulate
from .equilibria import KKTPoint, generator_marginal, optimum, solve_kkt, table_marginal
from .exact import optimum_summary, table_equilibria
from .spec import GAMES, GameSpec, get_game, make_game

__all__ = ["GameSpec", "make_game", "get_game", "GAMES", "ADVANTAGES", "effective_table", "optimum", "solve_kkt",
           "table_marginal", "generator_marginal", "KKTPoint", "table_equilibria", "optimum_summary",
           "RunConfig", "Trajectory", "simulate"]
