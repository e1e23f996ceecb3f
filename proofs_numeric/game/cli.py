"""``alft game``: the alignment game from the command line.

``alft game --exact --K 8 --method plugin --format json`` prints p*, every fixed point of the table
(the one reached from uniform first), their TV and KL distances to p* and the answers they lose.
Without ``--exact`` it runs the stochastic comparison of the given methods and K and writes
``game.json`` and PNG plots into ``--out``: a new or empty folder, or one ``alft game`` wrote (it carries
``.alft-game.json``); anything else is refused before any run (the output rule of :mod:`estimators.outputs`).
With ``--tune`` it runs the fair protocol (:mod:`.protocol`: every table's step size tuned on tuning seeds,
errors measured on fresh seeds) and prints its verdict as JSON.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from estimators.outputs import OutputKind, check_output_dir, output_dir

from ..result import jsonable

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    from .advantages import ADVANTAGES
    from .expected import UPDATES
    from .gameargs import add_game_arguments

    from ..helpformat import HelpFormatter
    p = sub.add_parser("game", help="the alignment game (C7): exact fixed points or stochastic runs",
                       formatter_class=HelpFormatter,
                       description="Exact fixed points of a table in the alignment game (--exact), or stochastic "
                                   "GRPO-style runs of several methods with plots and JSON, or the fair protocol "
                                   "(--tune: every table's step size tuned, measured on fresh seeds).",
                       epilog="exit status:\n  0  done (fixed points printed, game.json and plots written, or the "
                              "--tune verdict printed)\n  2  bad arguments (nothing is run)\n\nexamples:\n"
                              "  alft game --exact --K 8 --method plugin --format json\n"
                              "  alft game --exact --K 16 --method aqp --param eps=10 --advantage rloo\n"
                              "  alft game --K 4,8 --methods plugin,jackknife --steps 200 --seeds 16 --out /tmp/game\n"
                              "  alft game --tune --K 8 --advantage rloo --horizons 100,300,1000\n"
                              "  alft game --exact --game longtail --answers 40 --K 16 --method jackknife")
    add_game_arguments(p)
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
                                                         "over seeds; with --tune the measurement seeds (default: 64)")
    p.add_argument("--groups", type=int, default=16, help="groups of K samples per step (default: 16)")
    p.add_argument("--step-size", type=float, default=1.0, help="learning rate of the logit update (default: 1.0)")
    p.add_argument("--targets", default="0.1,0.05,0.02", help="TV targets for first-passage times (default: "
                                                              "0.1,0.05,0.02)")
    p.add_argument("--tune", action="store_true",
                   help="the fair protocol instead of one step size: every table's schedule tuned on tuning seeds "
                        "and measured on fresh seeds at each --horizons; prints JSON, writes nothing (default: off)")
    p.add_argument("--horizons", default="100,300,1000", help="--tune: horizons T, comma-separated (default: "
                                                              "100,300,1000)")
    p.add_argument("--processes", type=int, default=None, help="worker processes (default: the CPUs, at most 2)")
    p.add_argument("--seed", type=int, default=0, help="base seed every random draw of the runs derives from (default: 0)")
    p.add_argument("--format", choices=["json", "text"], default="text",
                   help="--exact output: text (a table) or json (default: text)")
    p.add_argument("--out", default="reports/game", help="output directory of a stochastic run: game.json and PNGs; "
                                                         "new, empty, or written by alft game (default: reports/game)")
    p.set_defaults(func=_cmd_game)


#: the folders ``alft game`` owns (the shared output rule of :mod:`estimators.outputs`)
GAME_DIR = OutputKind(command="alft game", markers=((".alft-game.json", "schema", "alft-verify/game-dir"),))


def _methods(text, default) -> list[str]:
    """Method names from --methods, each checked against the registry (a typo is an error, never skipped)."""
    from estimators import method_names

    if text is None:
        return list(default)
    names = [m.strip() for m in text.split(",")]
    known = method_names()
    bad = [m for m in names if m not in known]
    if not names or bad or any(not m for m in names):
        raise ValueError(f"--methods must be comma-separated names from {known}, got {text!r}"
                         + (f" ({', '.join(map(repr, bad))} unknown)" if bad else ""))
    return names


def _check_buildable(game, methods, Ks, args) -> None:
    """Methods the user named must build at every K (a method that needs parameters, e.g. aqp's eps, is refused
    here with the reason instead of being skipped)."""
    from .compare import build_tables

    if not args.methods:
        return
    _tables, skipped = build_tables(game, methods, Ks)
    if skipped:
        s = skipped[0]
        raise ValueError(f"--methods {s['method']} cannot be built at K = {s['K']}: {s['reason']}"
                         + (" (compare parameter settings with --tune's default list or the report)"
                            if "eps" in s["reason"] else ""))


def _processes(args) -> int:
    from .parallel import default_processes

    if args.processes is None:
        return default_processes()
    if args.processes < 1:
        raise ValueError(f"--processes must be an integer >= 1, got {args.processes}")
    return args.processes


def _cmd_game(args) -> int:
    from .gameargs import game_from_args

    game = game_from_args(args)
    if args.exact:
        return _exact(game, args)
    if args.tune:
        return _tune(game, args)
    return _run(game, args)


def _exact(game, args) -> int:
    from estimators import build_table

    from ..cliargs import parse_params
    from .exact import EXACT_MAX_K, optimum_summary, table_equilibria
    from ..cliargs import ints

    Ks = ints(args.K, "--K") if args.K is not None else [8]
    methods = _methods(args.methods, ["plugin"])
    if len(Ks) != 1 or len(methods) != 1:
        raise ValueError("--exact takes one --K and one --method")
    if not 2 <= Ks[0] <= EXACT_MAX_K:
        raise ValueError(f"--exact: K must be an integer in [2, {EXACT_MAX_K}] (the certified root isolation in "
                         f"rationals grows like K^2: about 2 s at K = 1024), got {Ks[0]}")
    params = parse_params(args.param)
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
        sys.stdout.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
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
    from ..cliargs import floats, ints
    from .plots import plot_convergence

    Ks = tuple(ints(args.K, "--K")) if args.K is not None else (4, 8, 16, 32)
    default = POLYNOMIAL_METHODS if game.generator.is_polynomial else COMPARED_METHODS
    methods = [(m, {}) for m in _methods(args.methods, [])] if args.methods else default
    if args.param:
        raise ValueError("--param applies to --exact; compare parameter settings with the report's method list")
    targets = tuple(floats(args.targets, "--targets"))
    if not targets or any(not 0 < t < 1 for t in targets):
        raise ValueError(f"--targets must be TV values in (0, 1), got {args.targets!r}")
    cfg = ComparisonConfig(Ks=Ks, step_size=args.step_size, steps=args.steps, groups=args.groups, seeds=args.seeds,
                           advantage=args.advantage, update=args.update, targets=targets, seed=args.seed,
                           processes=_processes(args))
    for K in Ks:  # every run's settings are checked before any work
        RunConfig(K=K, step_size=args.step_size, steps=args.steps, groups=args.groups, seeds=args.seeds,
                  advantage=args.advantage, update=args.update, seed=args.seed)
    _check_buildable(game, methods, Ks, args)
    check_output_dir(args.out, GAME_DIR)   # new, empty or written by alft game: refused before any run
    res = run_comparison(game, methods, cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    verdicts = acceleration_verdict(res, targets[len(targets) // 2])
    doc = {k: v for k, v in res.items() if not k.startswith("_")}
    doc["verdict"] = {"pairs": verdicts, "text": verdict_text(verdicts, res["skipped"])}
    with output_dir(args.out, GAME_DIR) as staged:
        plot = plot_convergence(res, staged.tmp / "game_convergence.png", f"{game.describe()}")
        doc["plots"] = [plot]
        atomic_write_text(staged.tmp / "game.json", json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
    out = staged.out
    if args.format == "json":
        sys.stdout.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write("\n".join([game.describe(), *doc["verdict"]["text"], f"wrote {out / 'game.json'}"]) + "\n")
    return 0


def _tune(game, args) -> int:
    """``--tune``: the protocol of :mod:`.protocol` for each K, its verdict as JSON on stdout."""
    from ..cliargs import floats, ints
    from .protocol import ProtocolConfig, protocol_methods, run_cell
    from .verdict import summarise_cell, verdict_paragraph

    Ks = ints(args.K, "--K") if args.K is not None else [8]
    methods = [(m, {}) for m in _methods(args.methods, [])] if args.methods else protocol_methods(game)
    _check_buildable(game, methods, Ks, args)
    horizons = tuple(ints(args.horizons, "--horizons"))
    targets = tuple(floats(args.targets, "--targets"))
    cfg = ProtocolConfig(horizons=horizons, groups=args.groups, measure_seeds=args.seeds, targets=targets,
                         seed=args.seed)
    summary = {"rows": [], "cells": [], "aqp": [], "corrections": [], "passage": [], "skipped": []}
    for K in Ks:
        cell = run_cell(game, methods, K, args.advantage, cfg, processes=_processes(args))
        print(f"[game --tune] K={K}: tuned and measured in {cell.seconds:.1f}s", file=sys.stderr, flush=True)
        for k, v in summarise_cell(cell, cfg).items():
            summary[k] += v
    doc = {"game": game.to_dict(), "advantage": args.advantage, "config": cfg.to_json(), **summary,
           "verdict": verdict_paragraph(summary)}
    sys.stdout.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
    return 0

