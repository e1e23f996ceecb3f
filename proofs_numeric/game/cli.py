"""``alft game``: the alignment game from the command line.

``alft game --exact --K 8 --method plugin --format json`` prints p*, every fixed point of the table
(the one reached from uniform first), their TV and KL distances to p* and the answers they lose.
Without ``--exact`` it runs the stochastic comparison of the given methods and K and writes
``game.json`` and PNG plots into ``--out``: a new or empty folder, or one ``alft game`` wrote (it carries
``.alft-game.json``); anything else is refused before any run (the output rule of :mod:`estimators.outputs`).
"""
from __future__ import annotations

import json
import sys

import numpy as np

from estimators.outputs import OutputKind, check_output_dir, output_dir

__all__ = ["add_parser"]


def _jsonable(doc):
    """JSON-safe copy (non-finite floats as strings, numpy scalars as numbers), as in results.json."""
    from ..report.builder import _jsonable as report_jsonable
    return report_jsonable(doc)


def _floats(text: str, name: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    return vals


def _ints(text: str, name: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers, got {text!r}") from None


def add_parser(sub) -> None:
    from .advantages import ADVANTAGES
    from .expected import UPDATES
    from .spec import GAMES

    from ..helpformat import HelpFormatter
    p = sub.add_parser("game", help="the alignment game (C7): exact fixed points or stochastic runs",
                       formatter_class=HelpFormatter,
                       description="Exact fixed points of a table in the alignment game (--exact), or stochastic "
                                   "GRPO-style runs of several methods with plots and JSON.",
                       epilog="exit status:\n  0  done (fixed points printed, or game.json and plots written)\n"
                              "  2  bad arguments (nothing is run)\n\nexamples:\n"
                              "  alft game --exact --K 8 --method plugin --format json\n"
                              "  alft game --exact --K 16 --method aqp --param eps=10 --advantage rloo\n"
                              "  alft game --K 4,8 --methods plugin,jackknife --steps 200 --seeds 16 --out /tmp/game")
    p.add_argument("--game", choices=sorted(GAMES), default="default",
                   help="a named configuration (default: 5 answers, r = 1,0.7,0.4,0.2,0, beta 0.5, KL); "
                        "--rewards/--beta/--generator override it")
    p.add_argument("--rewards", help="comma-separated answer rewards, e.g. 1,0.7,0.4,0.2,0 (default: the game's)")
    p.add_argument("--beta", type=float, help="diversity strength beta > 0 (default: the game's)")
    p.add_argument("--generator", choices=["kl", "euclidean", "power"], help="phi (default: the game's)")
    p.add_argument("--alpha", type=float, help="power generator exponent (alpha > 0, alpha != 1; required with "
                                               "--generator power)")
    p.add_argument("--traces-per-answer", help="comma-separated trace counts per answer, each >= 1 (default: one "
                                               "trace per answer)")
    p.add_argument("--trace-answer", help="comma-separated answer index of every trace, an explicit map (default: "
                                          "none)")
    p.add_argument("--exact", action="store_true", help="exact fixed points only, no sampling (default: stochastic "
                                                        "runs)")
    p.add_argument("--K", default=None, help="group size(s): one integer >= 2 with --exact (default 8), "
                                             "comma-separated otherwise (default 4,8,16,32)")
    p.add_argument("--method", "--methods", dest="methods", default=None,
                   help="method(s), comma-separated (default: plugin with --exact; every compared method otherwise)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="method parameter for --exact (repeatable), e.g. --param eps=10 (default: none)")
    p.add_argument("--advantage", choices=sorted(ADVANTAGES), default="decoupled",
                   help="advantage / baseline (default decoupled: the fixed point of r - beta B_g = lambda)")
    p.add_argument("--update", choices=sorted(UPDATES), default="pg", help="logit update (default: pg)")
    p.add_argument("--steps", type=int, default=400, help="training steps per stochastic run (default: 400)")
    p.add_argument("--seeds", type=int, default=64, help="independent runs (seeds) per method and K; intervals are "
                                                         "over seeds (default: 64)")
    p.add_argument("--groups", type=int, default=16, help="groups of K samples per step (default: 16)")
    p.add_argument("--step-size", type=float, default=1.0, help="learning rate of the logit update (default: 1.0)")
    p.add_argument("--targets", default="0.1,0.05,0.02", help="TV targets for steps-to-target (default: "
                                                              "0.1,0.05,0.02)")
    p.add_argument("--seed", type=int, default=0, help="base seed every random draw of the runs derives from (default: 0)")
    p.add_argument("--format", choices=["json", "text"], default="text",
                   help="--exact output: text (a table) or json (default: text)")
    p.add_argument("--out", default="reports/game", help="output directory of a stochastic run: game.json and PNGs; "
                                                         "new, empty, or written by alft game (default: reports/game)")
    p.set_defaults(func=_cmd_game)


def _game_from_args(args):
    from .spec import GAMES, make_game

    base = dict(GAMES[args.game])
    if args.rewards is not None:
        base["rewards"] = _floats(args.rewards, "--rewards")
        base.pop("traces_per_answer", None)
    if args.beta is not None:
        base["beta"] = args.beta
    if args.generator is not None:
        base["generator"] = args.generator
    gp = {}
    if base["generator"] == "power":
        if args.alpha is None:
            raise ValueError("--alpha is required for the power generator (alpha > 0, alpha != 1)")
        gp["alpha"] = args.alpha
    elif args.alpha is not None:
        raise ValueError(f"--alpha applies only to --generator power, not {base['generator']!r}")
    if args.traces_per_answer is not None:
        base["traces_per_answer"] = _ints(args.traces_per_answer, "--traces-per-answer")
    if args.trace_answer is not None:
        base.pop("traces_per_answer", None)
        base["trace_answer"] = _ints(args.trace_answer, "--trace-answer")
    name = args.game if all(getattr(args, k) is None for k in ("rewards", "beta", "generator", "traces_per_answer",
                                                               "trace_answer")) else "custom"
    return make_game(generator_params=gp, name=name, **base)


#: the folders ``alft game`` owns (the shared output rule of :mod:`estimators.outputs`)
GAME_DIR = OutputKind(command="alft game", markers=((".alft-game.json", "schema", "alft-verify/game-dir"),))


def _cmd_game(args) -> int:
    game = _game_from_args(args)
    if args.exact:
        return _exact(game, args)
    return _run(game, args)


def _exact(game, args) -> int:
    from estimators import build_table

    from ..cli import _parse_value as parse_value
    from .exact import optimum_summary, table_equilibria

    Ks = _ints(args.K, "--K") if args.K is not None else [8]
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else ["plugin"]
    if len(Ks) != 1 or len(methods) != 1:
        raise ValueError("--exact takes one --K and one --method")
    params = {}
    for item in args.param:
        if "=" not in item:
            raise ValueError(f"--param must look like NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        params[k.strip()] = parse_value(v.strip())
    table = build_table(game.generator, methods[0], Ks[0], **params)
    opt = optimum_summary(game)
    e = table_equilibria(game, table, args.advantage, p_star=opt["p_star"])
    doc = {
        "game": game.to_dict(), "K": table.K, "method": table.method, "params": dict(params),
        "advantage": args.advantage,
        "p_star": opt["p_star"].tolist(), "p_star_method": opt["method"], "p_star_kkt_residual": opt["kkt_residual"],
        "fixed_points": [np.asarray(fp).tolist() for fp in e["fixed_points"]], "tv": e["tv"], "kl": e["kl"], "support_lost": e["support_lost"],
        "details": e["points"], "all_fixed_points_listed": e["all_listed"],
        "reached_from_uniform": {"index": 0, "ode_end_distance_tv": e["reached_distance"]},
        "kl_direction": "KL(fixed point || p*)",
    }
    if args.format == "json":
        sys.stdout.write(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
        return 0
    lines = [game.describe(), f"p* = {np.round(opt['p_star'], 6).tolist()} ({opt['method']})",
             f"table: {table!r}, advantage {args.advantage}"]
    for i, (fp, tv, kl, lost) in enumerate(zip(e["fixed_points"], e["tv"], e["kl"], e["support_lost"])):
        tag = "reached from uniform" if i == 0 else "other fixed point"
        lines.append(f"  {tag}: p = {np.round(fp, 6).tolist()}  TV = {tv:.6g}  KL(p||p*) = {kl:.6g}"
                     + (f"  answers lost: {lost}" if lost else ""))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _run(game, args) -> int:
    from estimators._io import atomic_write_text

    from .compare import COMPARED_METHODS, POLYNOMIAL_METHODS, ComparisonConfig, acceleration_verdict, \
        run_comparison, verdict_text
    from .dynamics import RunConfig
    from .plots import plot_convergence

    Ks = tuple(_ints(args.K, "--K")) if args.K is not None else (4, 8, 16, 32)
    if args.methods:
        methods = [(m.strip(), {}) for m in args.methods.split(",")]
    else:
        methods = POLYNOMIAL_METHODS if game.generator.is_polynomial else COMPARED_METHODS
    if args.param:
        raise ValueError("--param applies to --exact; compare parameter settings with the report's method list")
    targets = tuple(_floats(args.targets, "--targets"))
    if not targets or any(not 0 < t < 1 for t in targets):
        raise ValueError(f"--targets must be TV values in (0, 1), got {args.targets!r}")
    cfg = ComparisonConfig(Ks=Ks, step_size=args.step_size, steps=args.steps, groups=args.groups, seeds=args.seeds,
                           advantage=args.advantage, update=args.update, targets=targets, seed=args.seed)
    for K in Ks:  # every run's settings are checked before any work
        RunConfig(K=K, step_size=args.step_size, steps=args.steps, groups=args.groups, seeds=args.seeds,
                  advantage=args.advantage, update=args.update, seed=args.seed)
    check_output_dir(args.out, GAME_DIR)   # new, empty or written by alft game: refused before any run
    res = run_comparison(game, methods, cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    verdicts = acceleration_verdict(res, targets[len(targets) // 2])
    doc = {k: v for k, v in res.items() if not k.startswith("_")}
    doc["verdict"] = {"pairs": verdicts, "text": verdict_text(verdicts, res["skipped"])}
    with output_dir(args.out, GAME_DIR) as staged:
        plot = plot_convergence(res, staged.tmp / "game_convergence.png", f"{game.describe()}")
        doc["plots"] = [plot]
        atomic_write_text(staged.tmp / "game.json", json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    out = staged.out
    if args.format == "json":
        sys.stdout.write(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write("\n".join([game.describe(), *doc["verdict"]["text"], f"wrote {out / 'game.json'}"]) + "\n")
    return 0
