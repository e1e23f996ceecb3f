"""``alft recommend``: the table and step size for a group size K and a training horizon T (claim C7).

For a game, K, horizon T and the trainer's advantage, every candidate table (the classical ones and the
certified AQP tables at each shipped budget; under ``rloo`` also each one's baseline-aware version) is scored
with every step-size schedule of the protocol's grid by the predicted error E TV(p_T, p*) of
:mod:`.game.predict` (a linear-noise approximation: exact expected dynamics, Monte Carlo noise covariances),
and the pair with the least predicted error is recommended. No simulation of the training runs: a few
seconds for the 5-answer games.

:func:`validate` checks the recommendation against simulation on held-out games (random games drawn from a
seed that nothing else uses): the tuned protocol (:mod:`.game.protocol`) measures every candidate on fresh
seeds, and the report says how often the recommended table is the measured best (or tied with it), and how
much error the recommended table and step size cost against the measured best.
"""
from __future__ import annotations

import json
import math
import sys
import time

import numpy as np


from .game.protocol import Entry, ProtocolConfig, entries_for, schedule_grid
from .game.protocol import protocol_methods as candidate_methods

__all__ = ["candidate_methods", "predict_all", "recommend", "heldout_games", "validate", "add_parser", "MAX_HORIZON", "MAX_K"]

#: Largest horizon and group size ``alft recommend`` accepts (the prediction iterates every step; the AQP
#: tables are shipped up to K = 128).
MAX_HORIZON = 10_000
MAX_K = 256


def _check(K, horizon, advantage) -> tuple[int, int]:
    from estimators._validate import check_K

    from .game.advantages import check_advantage

    K = check_K(K, maximum=MAX_K)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or not 1 <= horizon <= MAX_HORIZON:
        raise ValueError(f"horizon must be an integer in [1, {MAX_HORIZON}], got {horizon!r}")
    check_advantage(advantage)
    if advantage == "rloo" and K < 3:
        raise ValueError("K = 2 under the rloo advantage: the diversity term cancels (the effective table is the "
                         "constant g(0)); use K >= 3")
    return K, int(horizon)


def _tables(game, K: int, advantage: str, methods, solve: bool = False) -> tuple[list[Entry], list, list[dict]]:
    entries, tables, skipped = [], [], []
    for e in entries_for(methods, advantage, solve=solve):
        try:
            tables.append(e.build(game, K))
            entries.append(e)
        except (ValueError, TypeError) as exc:
            skipped.append({"table": e.label, "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0][:240]}"})
    return entries, tables, skipped


def predict_all(game, K: int, horizon: int, advantage: str, *, groups: int = 2, cfg: ProtocolConfig | None = None,
                methods=None, seed: int = 0, solve: bool = False) -> dict:
    """Predicted error at ``horizon`` of every candidate table with every schedule of the grid (``solve``: solve
    the baseline-aware AQP tables that are not shipped, instead of listing them as skipped)."""
    from .game.equilibria import optimum
    from .game.predict import build_model, predict_errors

    cfg = cfg or ProtocolConfig(horizons=(horizon,), groups=groups)
    entries, tables, skipped = _tables(game, K, advantage, methods or candidate_methods(game), solve)
    if not tables:
        raise ValueError(f"no candidate table can be built for K = {K}: "
                         + "; ".join(f"{s['table']}: {s['reason']}" for s in skipped))
    grid = schedule_grid(cfg)
    ps = optimum(game)[0]
    model = build_model(game, tables, advantage, groups=groups, tau_max=max(cfg.etas) * horizon, seed=seed)
    rows = [(i, s) for i in range(len(tables)) for s in grid]
    pred = predict_errors(model, np.stack([s.etas(horizon) for _, s in rows]), [i for i, _ in rows], [horizon],
                          ps)[:, 0]
    out = []
    for i, e in enumerate(entries):
        k = int(np.argmin(pred[i * len(grid):(i + 1) * len(grid)]))
        out.append({"entry": e, "label": e.label, "schedule": grid[k], "predicted_error": float(pred[i * len(grid) + k]),
                    "at_grid_edge": grid[k].eta in (min(cfg.etas), max(cfg.etas))})
    out.sort(key=lambda c: c["predicted_error"])
    return {"candidates": out, "skipped": skipped, "p_star": ps}


#: Tables whose schedules are confirmed by simulation (the model's best ones), and the seeds used for it.
CONFIRM_TABLES = 3
CONFIRM_SEEDS = 16


def confirm(game, K: int, horizon: int, advantage: str, candidates: list, *, groups: int, seed: int,
            n_tables: int = CONFIRM_TABLES, seeds: int = CONFIRM_SEEDS, processes: int = 1,
            cfg: ProtocolConfig | None = None) -> list[dict]:
    """Re-score the model's ``n_tables`` best tables by simulation: the protocol's tuning step (every schedule of
    the grid, extended at its ends where needed) on ``seeds`` seeds of a stream of their own; the least seed-mean
    error at ``horizon`` per table; sorted by it."""
    from dataclasses import replace

    from .game.protocol import tune

    cfg = replace(cfg or ProtocolConfig(groups=groups), horizons=(horizon,), tune_seeds=seeds)
    top = candidates[:n_tables]
    tables = {c["label"]: c["entry"].build(game, K) for c in top}
    tuned = tune(game, tables, K, advantage, cfg, seed=10 ** 9 + 7919 * seed + K, p_star=top[0]["p_star"],
                 processes=processes)["choices"]
    out = []
    for c in top:
        ch = tuned[c["label"]][horizon]
        out.append(dict(c, schedule=ch["schedule"], simulated_error=ch["tune_error"], simulated_seeds=seeds,
                        at_grid_edge=ch["at_grid_edge"]))
    out.sort(key=lambda c: c["simulated_error"])
    return out


def recommend(game, K, horizon, advantage: str = "decoupled", *, groups: int = 2, seed: int = 0,
              methods=None, simulate: bool = True, processes: int = 1, solve: bool = False) -> dict:
    """The table and step-size schedule with the least predicted error at ``horizon`` (see the module docstring).

    With ``simulate`` (default) the model's best tables are confirmed by a short simulation (:func:`confirm`),
    which picks the schedule; without it the model alone decides."""
    K, horizon = _check(K, horizon, advantage)
    t0 = time.perf_counter()
    res = predict_all(game, K, horizon, advantage, groups=groups, seed=seed, methods=methods, solve=solve)
    cands = [dict(c, p_star=res["p_star"]) for c in res["candidates"]]
    confirmed = confirm(game, K, horizon, advantage, cands, groups=groups, seed=seed, processes=processes) \
        if simulate else []
    best = confirmed[0] if confirmed else cands[0]
    how = (f"the model's {len(confirmed)} best tables confirmed by simulation ({CONFIRM_SEEDS} seeds, every "
           f"schedule of the grid)" if confirmed else "the model alone (no simulation)")
    return {"K": K, "horizon": horizon, "advantage": advantage, "groups": groups, "game": game.to_dict(),
            "recommendation": _describe(best, advantage), "chosen_by": how,
            "confirmed": [_describe(c, advantage) for c in confirmed],
            "candidates": [_describe(c, advantage) for c in cands],
            "skipped": res["skipped"],
            "model": "linear-noise approximation: exact expected dynamics, Monte Carlo per-group noise covariance "
                     "at 15 anchors along the mean-field path, Gaussian logits pushed through the softmax; "
                     + ("GRPO's normalisation enters as a state-dependent step size around the rloo advantage; "
                        if advantage == "grpo" else "")
                     + "validated against simulation on held-out games in the report (C7)",
            "seconds": round(time.perf_counter() - t0, 3)}


def _describe(c: dict, advantage: str) -> dict:
    e, s = c["entry"], c["schedule"]
    formula = f"eta_t = {s.eta:g}" if s.kind == "constant" else f"eta_t = {s.eta:g} * min(1, {s.tau} / t)"
    return {"method": e.method, "params": dict(e.params), "label": e.label,
            "build_table_advantage": "rloo" if e.corrected else "decoupled",
            "step_size": {**s.to_json(), "formula": formula}, "predicted_error": c["predicted_error"],
            "at_grid_edge": c["at_grid_edge"],
            **({"simulated_error": c["simulated_error"], "simulated_seeds": c["simulated_seeds"]}
               if "simulated_error" in c else {})}


# -- validation on held-out games ----------------------------------------------------------------------

def heldout_games(seed: int, n: int) -> list:
    """``n`` random KL games: 3-8 answers, rewards uniform in [0, 1], beta log-uniform in [0.2, 1], one or two
    traces per answer, and in half of them the best answer starting at probability 1e-3..1e-2."""
    from .game.spec import make_game

    rng = np.random.default_rng([seed, 104729])
    games = []
    for i in range(n):
        m = int(rng.integers(3, 9))
        r = np.sort(rng.uniform(0, 1, m))[::-1].round(3).tolist()
        beta = float(np.exp(rng.uniform(np.log(0.2), np.log(1.0))).round(3))
        tpa = rng.integers(1, 3, m).tolist() if rng.random() < 0.3 else None
        p0 = None
        if rng.random() < 0.5:
            tiny = float(np.exp(rng.uniform(np.log(1e-3), np.log(1e-2))))
            p0 = [tiny] + [(1 - tiny) / (m - 1)] * (m - 1)
            p0[-1] = 1.0 - math.fsum(p0[:-1])
        games.append(make_game(r, beta, traces_per_answer=tpa, initial_probabilities=p0, name=f"heldout-{i}"))
    return games


def _validate_case(game, K: int, T: int, advantage: str, cfg: ProtocolConfig, seed: int, processes: int) -> dict:
    """One held-out case: the model's pick and the confirmed pick against the tuned protocol on fresh seeds."""
    from .game.engine import run_batch
    from .game.protocol import make_batch, run_cell
    from .game.stats import paired_indices, ratio_of_means
    from .game.verdict import summarise_cell

    methods = candidate_methods(game)
    pred = predict_all(game, K, T, advantage, groups=cfg.groups, cfg=cfg, methods=methods, seed=seed)
    cands = [dict(c, p_star=pred["p_star"]) for c in pred["candidates"]]
    picks = {"model": cands[0], "confirmed": confirm(game, K, T, advantage, cands, groups=cfg.groups, seed=seed,
                                                     processes=processes, cfg=cfg)[0]}
    cell = run_cell(game, methods, K, advantage, cfg, processes=processes, seed_offset=seed)
    win = next(c for c in summarise_cell(cell, cfg)["cells"] if c["horizon"] == T)
    errs = {lab: cell.measured["errors"][(lab, T)]["errors"] for lab in cell.entries}
    # the picks (table and step size) on the measurement seeds: the same stream, so paired with every table
    bt = make_batch(game, K, advantage, [c["entry"].build(game, K) for c in picks.values()],
                    [c["schedule"] for c in picks.values()], T, cfg.measure_seeds, cfg.groups, cell.measured["seed"],
                    pred["p_star"])
    measured = run_batch(bt, processes=1).values[:, :, -1]
    idx = paired_indices(cfg.measure_seeds, cfg.n_boot, np.random.default_rng([seed, K, T]))
    out = {"game": game.name, "m": game.m, "K": K, "horizon": T, "advantage": advantage,
           "measured_best": win["winner"], "measured_best_error": win["winner_error"],
           "tied_with_best": win["tied_with"], "tables": len(errs)}
    for j, (kind, c) in enumerate(picks.items()):
        full = ratio_of_means(measured[j], errs[win["winner"]], idx, cfg.level)
        out[kind] = {"table": c["label"], "schedule": c["schedule"].label, "predicted_error": c["predicted_error"],
                     "measured_error": float(measured[j].mean()),
                     "hit": c["label"] == win["winner"],
                     "hit_or_tied": c["label"] == win["winner"] or c["label"] in win["tied_with"],
                     "regret": full["ratio"], "regret_lo": full["lo"], "regret_hi": full["hi"]}
    labs = [c["label"] for c in cands if c["label"] in errs]
    out["rank_correlation"] = _spearman([c["predicted_error"] for c in cands if c["label"] in errs],
                                        [float(errs[lab].mean()) for lab in labs])
    return out


def _spearman(a, b) -> float:
    from scipy import stats

    if len(a) < 3:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def validate(cases, cfg: ProtocolConfig, *, seed: int, processes: int = 1, log=None) -> dict:
    """Recommendations against the tuned protocol on held-out games; ``cases``: (game, K, T, advantage) tuples.
    Each case runs the protocol at its own horizon (``cfg`` with ``horizons=(T,)``)."""
    from dataclasses import replace

    log = log or (lambda msg: None)
    rows = []
    for i, (game, K, T, adv) in enumerate(cases):
        t0 = time.perf_counter()
        rows.append(_validate_case(game, K, T, adv, replace(cfg, horizons=(T,)), seed + 1000 * i, processes))
        r = rows[-1]
        log(f"[C7] recommend check {game.name} (m={game.m}) K={K} T={T} {adv}: measured best {r['measured_best']}; "
            + "; ".join(f"{k} pick {r[k]['table']} at {r[k]['schedule']}: error / best {r[k]['regret']:.2f} "
                        f"[{r[k]['regret_lo']:.2f}, {r[k]['regret_hi']:.2f}]" for k in ("model", "confirmed"))
            + f" ({time.perf_counter() - t0:.1f}s)")
    out = {"cases": rows, "n": len(rows),
           "median_rank_correlation": float(np.nanmedian([r["rank_correlation"] for r in rows])) if rows else
           float("nan")}
    for kind in ("model", "confirmed"):
        reg = [r[kind]["regret"] for r in rows]
        out[kind] = {"hits": sum(r[kind]["hit"] for r in rows), "hits_or_tied": sum(r[kind]["hit_or_tied"] for r in rows),
                     "median_regret": float(np.median(reg)) if rows else float("nan"),
                     "max_regret": float(max(reg)) if rows else float("nan"),
                     "within_10_percent": sum(x <= 1.1 for x in reg)}
    return out


# -- the command ---------------------------------------------------------------------------------------

def add_parser(sub) -> None:
    from .game.advantages import ADVANTAGES
    from .game.gameargs import add_game_arguments

    from .helpformat import HelpFormatter

    p = sub.add_parser("recommend", help="the table and step size for your K and training horizon (C7)",
                       formatter_class=HelpFormatter,
                       description="Predicts, for every candidate table and step-size schedule, the error "
                                   "TV(p_T, p*) after T steps (linear-noise approximation of the game's dynamics), "
                                   "confirms the best tables by a short simulation, and recommends the table and "
                                   "the step size. Validated against simulation on held-out games in the report "
                                   "(C7).",
                       epilog="exit status:\n  0  recommendation printed\n  2  bad arguments (nothing is run)\n\n"
                              "examples:\n  alft recommend --K 16 --horizon 1000 --advantage rloo --format json\n"
                              "  alft recommend --K 8 --horizon 300 --game longtail --format text\n"
                              "  alft recommend --K 32 --horizon 3000 --rewards 1,0.5,0.2 --beta 0.3 --model-only")
    p.add_argument("--K", type=int, required=True, help=f"group size (2..{MAX_K})")
    p.add_argument("--horizon", type=int, required=True, help=f"training steps T (1..{MAX_HORIZON})")
    p.add_argument("--advantage", choices=sorted(ADVANTAGES), default="decoupled",
                   help="the trainer's advantage: decoupled (no baseline, or one that does not see the sample), rloo "
                        "(leave-one-out or group-mean baseline), grpo (also divided by the group std) (default: "
                        "decoupled)")
    p.add_argument("--groups", type=int, default=2, help="groups of K samples per step (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo noise estimates and of the confirming "
                                                       "simulation (default: 0)")
    p.add_argument("--solve", action="store_true",
                   help="--advantage rloo: solve the baseline-aware AQP tables (not shipped; seconds each the first "
                        "time, then cached) instead of leaving them out (default: off)")
    p.add_argument("--model-only", action="store_true",
                   help="skip the confirming simulation of the model's best tables: the model alone decides "
                        "(default: off)")
    p.add_argument("--format", choices=["json", "text"], default="json", help="output (default: json)")
    add_game_arguments(p)
    p.set_defaults(func=_cmd)


def _plain(x):
    """numpy scalars and arrays as plain JSON numbers and lists."""
    return x.tolist() if hasattr(x, "tolist") else str(x)


def _cmd(args) -> int:
    from .game.gameargs import game_from_args

    if args.groups < 1 or args.groups > 4096:
        raise ValueError(f"--groups must be an integer in [1, 4096], got {args.groups}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    game = game_from_args(args)
    from .game.parallel import default_processes

    doc = recommend(game, args.K, args.horizon, args.advantage, groups=args.groups, seed=args.seed,
                    simulate=not args.model_only, processes=default_processes(), solve=args.solve)
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False, default=_plain) + "\n")
        return 0
    r = doc["recommendation"]
    lines = [game.describe(), f"K = {doc['K']}, horizon T = {doc['horizon']}, advantage {doc['advantage']}, "
                              f"{doc['groups']} groups per step",
             f"recommended: {r['label']} (build_table(..., advantage={r['build_table_advantage']!r})), step size "
             f"{r['step_size']['formula']}, predicted TV(p_T, p*) = {r['predicted_error']:.4f}"
             + (f", simulated {r['simulated_error']:.4f} ({r['simulated_seeds']} seeds)" if "simulated_error" in r else ""),
             f"chosen by {doc['chosen_by']}", "candidates (model):"]
    lines += [f"  {c['label']:<32} {c['step_size']['formula']:<28} predicted {c['predicted_error']:.4f}"
              for c in doc["candidates"]]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
