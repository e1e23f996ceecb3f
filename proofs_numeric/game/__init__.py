"""The alignment-game simulator (claim C7): exact equilibria, stochastic GRPO dynamics, comparison.

- :mod:`.spec`        the game (answers, traces, rewards, beta, generator) and its checks;
- :mod:`.advantages`  the per-sample advantages (decoupled / usual leave-one-out, GRPO) and their effective tables;
- :mod:`.equilibria`  p* and every KKT point of a table (certified monotone pieces, exact residuals);
- :mod:`.expected`    exact expected advantages (enumeration), the mean-field ODE, the expected update map;
- :mod:`.exact`       one game and one table: every fixed point, the one reached from the start;
- :mod:`.engine`      the batch simulator (many tables, schedules and seeds at once; worker processes via
                      :mod:`.parallel`), :mod:`.dynamics` its one-table front end;
- :mod:`.stats`       intervals over seeds: first passage, order statistics, paired bootstrap;
- :mod:`.compare`     runs at one step size (``alft game``) and the agreement checks with exact fixed points;
- :mod:`.protocol`    the fair protocol (step sizes tuned per table, measured on fresh seeds), :mod:`.verdict`
                      its summaries;
- :mod:`.predict`     the predicted error at a horizon (``alft recommend``, :mod:`proofs_numeric.recommend`);
- :mod:`.cli`         ``alft game`` (game options in :mod:`.gameargs`).

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
