"""Command-line options that define a game, shared by ``alft game`` and ``alft recommend``.

A named configuration (``--game``) with overrides: rewards, beta, generator, traces per answer or an explicit
trace map, the initial answer distribution; for the long-tailed game also its size and shape.
"""
from __future__ import annotations

from ..cliargs import add_generator_options, floats, generator_params, ints

__all__ = ["add_game_arguments", "game_from_args", "game_generators"]


def game_generators() -> tuple:
    """The generator families the game is played with: those whose module says ``GAME = True`` (phi convex for
    every parameter, so the optimum and the fixed points are what the game's solvers assume)."""
    from estimators.generators import FAMILIES, family
    return tuple(n for n in FAMILIES if getattr(family(n), "GAME", False))


def add_game_arguments(p, *, default: str = "default") -> None:
    from .spec import GAMES

    p.add_argument("--game", choices=sorted(GAMES), default=default,
                   help="a named configuration: default (5 answers, r = 1,0.7,0.4,0.2,0, beta 0.5, KL), traces (the "
                        "same with 1-5 traces per answer), euclidean (beta 4), longtail (24 answers, p* ~ (z+1)^-1.1, "
                        "the 4 best answers start at probability 1e-3); the options below override it (default: "
                        f"{default})")
    p.add_argument("--rewards", help="comma-separated answer rewards, e.g. 1,0.7,0.4,0.2,0 (default: the game's)")
    p.add_argument("--beta", type=float, help="diversity strength beta > 0 (default: the game's)")
    p.add_argument("--generator", choices=list(game_generators()), help="phi (default: the game's)")
    add_generator_options(p, game_generators())   # each family's parameters (--alpha for power)
    p.add_argument("--traces-per-answer", help="comma-separated trace counts per answer, each >= 1 (default: one "
                                               "trace per answer)")
    p.add_argument("--trace-answer", help="comma-separated answer index of every trace, an explicit map (default: "
                                          "none)")
    p.add_argument("--initial-probabilities", help="comma-separated answer probabilities at step 0 (each > 0, "
                                                   "sum 1; default: uniform over traces)")
    p.add_argument("--answers", type=int, help="longtail: number of answers (default 24)")
    p.add_argument("--zipf", type=float, help="longtail: p*(z) ~ (z + 1)^-zipf (default 1.1)")
    p.add_argument("--tiny", type=int, help="longtail: how many of the best answers start tiny (default 4)")
    p.add_argument("--tiny-probability", type=float, help="longtail: their starting probability (default 1e-3)")


_SHAPE = {"answers": "m", "zipf": "exponent", "tiny": "tiny", "tiny_probability": "tiny_probability"}


def _base(args) -> dict:
    from .spec import GAMES, zipf_game_params

    shape = {key: getattr(args, opt) for opt, key in _SHAPE.items() if getattr(args, opt, None) is not None}
    if shape and args.game != "longtail":
        raise ValueError("--answers, --zipf, --tiny and --tiny-probability shape the longtail game: use --game longtail")
    if args.game == "longtail" and (shape or args.beta is not None):
        beta = args.beta if args.beta is not None else 0.5
        return zipf_game_params(beta=beta, **shape)
    return dict(GAMES[args.game])


def game_from_args(args):
    """The :class:`.spec.GameSpec` the options describe (named configuration, then overrides)."""
    from .spec import make_game

    base = _base(args)
    if args.rewards is not None:
        base["rewards"] = floats(args.rewards, "--rewards")
        base.pop("traces_per_answer", None)
        base.pop("initial_probabilities", None)
    if args.beta is not None:
        base["beta"] = args.beta
    if args.generator is not None:
        base["generator"] = args.generator
    gp = generator_params(base["generator"], args, game_generators())
    if args.traces_per_answer is not None:
        base["traces_per_answer"] = ints(args.traces_per_answer, "--traces-per-answer")
    if args.trace_answer is not None:
        base.pop("traces_per_answer", None)
        base["trace_answer"] = ints(args.trace_answer, "--trace-answer")
    if args.initial_probabilities is not None:
        base["initial_probabilities"] = floats(args.initial_probabilities, "--initial-probabilities")
    keys = ("rewards", "beta", "generator", "traces_per_answer", "trace_answer", "initial_probabilities",
            *_SHAPE)
    name = args.game if all(getattr(args, k, None) is None for k in keys) else "custom"
    return make_game(generator_params=gp, name=name, **base)
