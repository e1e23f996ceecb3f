"""C7 -- the alignment game: where each estimator's training dynamics settle, and how fast.

Exact part (no sampling): p* and every table's fixed points (all KKT points; the one the expected
dynamics reach from uniform logits first), with TV and KL distances to p*, for the leave-one-out
baselines (``decoupled``: the fixed point of r - beta B_g = lambda; ``rloo``: the usual baseline,
whose correlation with the scored sample shifts it to the effective table B_g - p B_g'/(K-1)) and
for GRPO's std-normalised advantage (by exact enumeration of group compositions).
Stochastic part: runs with a decaying step size checked against the exact fixed points (plug-in,
the unbiased U-statistic, the shifted rloo point, GRPO, several traces per answer), and the
convergence comparison of every method at equal step size, with intervals over seeds and the
acceleration verdict stated from the numbers. The simulator lives in :mod:`proofs_numeric.game`.
"""
from __future__ import annotations

import time

import numpy as np

from estimators import method_names

from .game.compare import (COMPARED_METHODS, POLYNOMIAL_METHODS, AgreementCase, ComparisonConfig,
                           acceleration_verdict, agreement_check, build_tables, cached_equilibria, plateau_text,
                           run_comparison, verdict_text)
from .game.equilibria import KKT_TOL, PrecisionError, total_variation
from .game.exact import optimum_summary, table_equilibria
from .game.plots import plot_agreement, plot_convergence, plot_fixed_point_errors
from .game.spec import get_game
from .criteria import at_least, at_most, every, verdict
from .regression.spec import exact, interval, relative
from .result import ClaimResult, ClaimSpec, KeyFigure, ReportTable

__all__ = ["CLAIM", "USTAT_TV_MAX", "PLUGIN_TV_MIN", "TRACES_TV_MAX", "TRANSIENT_MAX"]

ADVANTAGES_EXACT = ("decoupled", "rloo")
#: the unbiased U-statistic's fixed point must be p* to this TV (float64 KKT solve)
USTAT_TV_MAX = 1e-12
#: the plug-in's fixed point must be at least this far (TV) from p*: its bias is measurable
PLUGIN_TV_MIN = 1e-6
#: several traces per answer must leave the answer-level fixed point where the one-trace game has it
TRACES_TV_MAX = 1e-9
#: a stochastic run is long enough when the expected dynamics' distance to the fixed point is below this
#: fraction of the interval half-width
TRANSIENT_MAX = 0.5


def _fmt_p(p) -> str:
    return "(" + ", ".join(f"{x:.4f}" for x in p) + ")"


def _exact_rows(game, methods, Ks, ps, log, cache) -> tuple[list, list]:
    tables, skipped = build_tables(game, methods, Ks)
    rows = []
    for (label, K), table in sorted(tables.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        for adv in ADVANTAGES_EXACT:
            try:
                e = cached_equilibria(cache, game, label, table, adv, ps)
            except PrecisionError as exc:
                skipped.append({"method": label, "K": K, "reason": f"exact fixed point ({adv}): {exc}"})
                log(f"[C7] exact fixed points: {game.name} {label} K={K} ({adv}) not solved: {exc}")
                continue
            rows.append({"game": game.name, "method": label, "K": K, "advantage": adv,
                         "n_fixed_points": len(e["fixed_points"]),
                         "fixed_points": [np.asarray(q).tolist() for q in e["fixed_points"]],
                         "tv": e["tv"], "kl": e["kl"], "support_lost": e["support_lost"],
                         "local_max": [q["local_max"] for q in e["points"]],
                         "kkt_residual": e["max_kkt_residual"], "reached_distance": e["reached_distance"],
                         "reached_identified": e["reached_identified"],
                         "monotone": e["monotone"], "pieces": len(e["pieces"])})
        done = [r for r in rows if r["method"] == label and r["K"] == K]
        log(f"[C7] exact fixed points: {game.name} {label} K={K}: TV to p* "
            + ", ".join(f"{r['tv'][0]:.4g} ({r['advantage']})" for r in done))
    return rows, skipped


def _grpo_rows(game, methods, Ks, ps, exact_rows, log) -> list:
    tables, _ = build_tables(game, methods, Ks)
    out = []
    for (label, K), table in sorted(tables.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        e = table_equilibria(game, table, "grpo", p_star=ps)
        dec = next((r for r in exact_rows if r["method"] == label and r["K"] == K
                    and r["advantage"] == "decoupled"), None)
        p = np.asarray(e["fixed_points"][0])
        out.append({"game": game.name, "method": label, "K": K, "p": p.tolist(), "tv": e["tv"][0], "kl": e["kl"][0],
                    "tv_to_decoupled": None if dec is None else float(total_variation(p, dec["fixed_points"][0])),
                    "support_lost": e["support_lost"][0], "residual": e["details"]["residual"],
                    "boundary_gap": e["details"]["boundary_gap"], "pg_endpoint_tv": e["details"]["pg_endpoint_tv"],
                    "compositions": e["details"]["compositions"]})
        log(f"[C7] GRPO fixed point {label} K={K}: TV to p* {e['tv'][0]:.4g}; "
            f"{e['details']['compositions']} compositions enumerated")
    return out


def _traces_rows(game, base_rows, Ks, ps, log, cache) -> list:
    """Several traces per answer: same answer-level fixed points, reached from uniform-over-traces."""
    tables, _ = build_tables(game, [("plugin", {}), ("jackknife", {})], Ks)
    out = []
    for (label, K), table in sorted(tables.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        e = cached_equilibria(cache, game, label, table, "decoupled", ps)
        single = next((r for r in base_rows if r["method"] == label and r["K"] == K
                       and r["advantage"] == "decoupled"), None)
        if single is None:
            continue
        split = np.asarray(e["reached_trace_split"])
        within = []
        for z in range(game.m):
            cols = split[game.answer_of == z]
            if cols.size > 1 and cols.sum() > 0:
                within.append(float(cols.max() / cols.min()) if cols.min() > 0 else float("inf"))
        out.append({"method": label, "K": K, "fixed_point": np.asarray(e["fixed_points"][0]).tolist(),
                    "tv_to_single_trace_fixed_point": float(total_variation(e["fixed_points"][0],
                                                                            single["fixed_points"][0])),
                    "reached_distance": e["reached_distance"], "tv": e["tv"][0],
                    "ode_within_answer_max_over_min": max(within) if within else 1.0})
        log(f"[C7] traces game {label} K={K}: answer-level fixed point TV {out[-1]['tv_to_single_trace_fixed_point']:.1e} "
            f"from the one-trace game's")
    return out


def _comparison_table(res: dict, title: str) -> ReportTable:
    targets = res["config"]["targets"]
    rows = []
    for r in res["per_method_K"]:
        cells = [r["K"], r["method"], f"{r['max_abs_g']:.3g}", f"{r['exact_fixed_point_tv']:.4f}",
                 f"{r['expected_dynamics_final_tv']:.4f}",
                 f"{r['final_tv_mean']:.4f} [{r['final_tv_lo']:.4f}, {r['final_tv_hi']:.4f}]",
                 f"{r['collapsed_fraction']:.2f}"]
        for t in r["to_target"]:
            cells.append("not reached" if not np.isfinite(t["steps"]) else
                         f"{t['steps']:g} [{t['lo']:g}, {t['hi']:g}]".replace("inf", "∞"))
        rows.append(cells)
    cols = ["K", "method", "max|g|", "exact fixed-point TV", "expected dynamics TV (last step)",
            "final TV, seed mean [95% CI]", "collapsed to a vertex"] + [f"steps to TV ≤ {t:g} [95% CI]" for t in targets]
    return ReportTable(title, cols, rows)


def run(params, ctx) -> ClaimResult:
    log = ctx.log
    t_start = time.perf_counter()
    notes = []
    games = {name: get_game(name) for name in ("default", "traces", "euclidean")}
    pstar = {name: optimum_summary(g) for name, g in games.items()}
    ps_kl, ps_eu = pstar["default"]["p_star"], pstar["euclidean"]["p_star"]
    kl, eu = games["default"], games["euclidean"]
    methods_kl = [m for m in COMPARED_METHODS]
    registered = set(method_names())

    # (a) exact fixed points
    cache: dict = {}
    exact_kl, skipped_kl = _exact_rows(kl, methods_kl, params["exact_K"], ps_kl, log, cache)
    exact_eu, skipped_eu = _exact_rows(eu, POLYNOMIAL_METHODS, params["exact_K"], ps_eu, log, cache)
    exact_rows = exact_kl + exact_eu
    worst_res = max(r["kkt_residual"] for r in exact_rows)
    ustat_tv = {r["K"]: r["tv"][0] for r in exact_eu if r["method"] == "ustat" and r["advantage"] == "decoupled"}
    plugin_tv = {(r["K"], r["advantage"]): r["tv"][0] for r in exact_kl if r["method"] == "plugin"}
    multi = [r for r in exact_rows if r["n_fixed_points"] > 1]
    for r in exact_rows:
        if not r["reached_identified"]:
            notes.append(f"{r['game']} {r['method']} K={r['K']} ({r['advantage']}): the ODE end point is not clearly "
                         f"nearer one fixed point (distance {r['reached_distance']:.1e}); the first listed is a guess")
    lost = [r for r in exact_rows if r["support_lost"][0]]
    grpo = _grpo_rows(kl, [m for m in methods_kl if m[0] != "aqp" or m[1].get("eps") == 10],
                      params["grpo_K"], ps_kl, exact_kl, log)
    for r in grpo:
        if not r["residual"] < 1e-9:
            notes.append(f"GRPO fixed point of {r['method']} at K={r['K']}: residual {r['residual']:.1e} (root solve "
                         f"did not converge to 1e-9)")
    traces = _traces_rows(games["traces"], exact_kl, params["traces_K"], ps_kl, log, cache)

    log(f"[C7] exact part done in {time.perf_counter() - t_start:.1f}s")
    # (b) stochastic runs against the exact fixed points
    agreement = []
    for spec in params["agreement"]:
        spec = dict(spec)
        alt = spec.pop("alternative", None)
        case = AgreementCase(seed=ctx.seed % (2 ** 31) + len(agreement), **spec)
        if case.method not in registered:
            notes.append(f"agreement case {case.label} skipped: method {case.method!r} not registered")
            continue
        g = games[case.game]
        chk = agreement_check(g, case, alpha=params["alpha"], p_star=pstar[case.game]["p_star"], alternative=alt,
                              exact_cache=cache)
        agreement.append(chk)
        log(f"[C7] agreement {chk['case']}: exact TV {chk['exact_tv']:.4f}, stochastic interval "
            f"[{chk['tv_interval'][0]:.4f}, {chk['tv_interval'][1]:.4f}], all answers within: {chk['all_within']}")
    log(f"[C7] agreement checks done at {time.perf_counter() - t_start:.1f}s")
    # (c) the comparison at equal step size
    cmp_cfg = ComparisonConfig(**params["comparison_kl"], seed=ctx.seed % (2 ** 31))
    cmp_eu = ComparisonConfig(**params["comparison_euclidean"], seed=ctx.seed % (2 ** 31) + 1)
    comp_kl = run_comparison(kl, methods_kl, cmp_cfg, log=log, p_star=ps_kl, exact_cache=cache)
    comp_eu = run_comparison(eu, POLYNOMIAL_METHODS, cmp_eu, log=log, p_star=ps_eu, exact_cache=cache)
    target = params["verdict_target"]
    verdicts = acceleration_verdict(comp_kl, target) + acceleration_verdict(comp_eu, target)
    vtext = verdict_text(verdicts, comp_kl["skipped"])
    plateaus = plateau_text(comp_kl) + plateau_text(comp_eu)
    log(f"[C7] comparisons done at {time.perf_counter() - t_start:.1f}s")

    plots = [
        plot_convergence(comp_kl, ctx.plot_path("c7_convergence_kl.png"),
                         f"C7: KL game, equal step size {cmp_cfg.step_size:g}, {cmp_cfg.seeds} seeds"),
        plot_convergence(comp_eu, ctx.plot_path("c7_convergence_euclidean.png"),
                         f"C7: Euclidean game (ustat unbiased), step size {cmp_eu.step_size:g}, {cmp_eu.seeds} seeds"),
        plot_fixed_point_errors([dict(r, tv=r["tv"][0]) for r in exact_kl]
                                + [dict(r, advantage="grpo") for r in grpo],
                                ctx.plot_path("c7_fixed_points.png"), "C7: exact fixed-point error, KL game"),
        plot_agreement(agreement, ctx.plot_path("c7_agreement.png")),
    ]

    exact_table = ReportTable(
        "Exact fixed points (the one reached from uniform; all KKT points counted)",
        ["game", "method", "K", "advantage", "fixed points", "reached fixed point p", "TV to p*", "KL(p||p*)",
         "answers lost", "max KKT residual"],
        [[r["game"], r["method"], r["K"], r["advantage"], r["n_fixed_points"], _fmt_p(r["fixed_points"][0]),
          f"{r['tv'][0]:.4g}", f"{r['kl'][0]:.4g}", str(r["support_lost"][0]) if r["support_lost"][0] else "-",
          f"{r['kkt_residual']:.1e}"] for r in exact_rows])
    grpo_table = ReportTable(
        "GRPO std-normalised advantage: fixed point reached from uniform (exact enumeration)",
        ["method", "K", "p", "TV to p*", "TV to the decoupled-baseline fixed point", "answers lost",
         "residual max|F - F̄|", "compositions"],
        [[r["method"], r["K"], _fmt_p(r["p"]), f"{r['tv']:.4g}",
          "-" if r["tv_to_decoupled"] is None else f"{r['tv_to_decoupled']:.4g}",
          str(r["support_lost"]) if r["support_lost"] else "-", f"{r['residual']:.1e}", r["compositions"]]
         for r in grpo])
    agree_table = ReportTable(
        "Stochastic runs against exact fixed points (decaying step size, tail average per seed)",
        ["case", "seeds x steps x groups", "exact TV to p*", "TV interval (stochastic)", "every answer within",
         "expected-dynamics residual / half-width", "other advantage's fixed point excluded"],
        [[c["case"], f"{c['config']['seeds']} x {c['config']['steps']} x {c['config']['groups']}",
          f"{c['exact_tv']:.4f}", f"[{c['tv_interval'][0]:.4f}, {c['tv_interval'][1]:.4f}]", str(c["all_within"]),
          f"{c['transient_over_half_width']:.2f}",
          "-" if "alternative" not in c else f"{c['alternative']['excluded']} ({c['alternative']['advantage']}, "
                                              f"TV {c['alternative']['tv_to_checked']:.4f} away)"] for c in agreement])
    verdict_table = ReportTable(
        f"Acceleration verdict at TV ≤ {target:g}: steps(candidate) / steps(reference), 95% bootstrap CI",
        ["game", "K", "candidate", "reference", "outcome", "steps candidate", "steps reference", "ratio [95% CI]"],
        [[v["game"], v["K"], v["candidate"], v["reference"], v["outcome"], f"{v['steps_candidate']:g}".replace("inf", "∞"),
          f"{v['steps_reference']:g}".replace("inf", "∞"),
          "-" if v["ratio"] is None else f"{v['ratio']:.2f} [{v['ratio_lo']:.2f}, {v['ratio_hi']:.2f}]"]
         for v in verdicts])
    traces_table = ReportTable(
        "Several traces per answer (traces per answer 1, 2, 3, 4, 5; uniform over traces at the start)",
        ["method", "K", "answer-level fixed point", "TV to the one-trace fixed point",
         "ODE end point: distance to it", "within-answer max/min trace mass"],
        [[t["method"], t["K"], _fmt_p(t["fixed_point"]), f"{t['tv_to_single_trace_fixed_point']:.1e}",
          f"{t['reached_distance']:.1e}", f"{t['ode_within_answer_max_over_min']:.3g}"] for t in traces])

    notes.extend(plateaus)
    for c in agreement:
        if "trace_split_median_max_over_min" in c:
            notes.append(f"{c['case']}: after {c['config']['steps']} stochastic steps the median (over seeds) of the "
                         f"largest max/min trace-mass ratio within an answer is "
                         f"{c['trace_split_median_max_over_min']:.3g} (1 at the uniform start and along the exact "
                         f"expected dynamics): noise breaks the symmetry and policy gradient amplifies it")
    skipped = skipped_kl + skipped_eu
    for s in skipped:
        notes.append(f"skipped {s['method']}" + (f" at K={s['K']}" if s["K"] is not None else "")
                     + f": {s['reason']}")
    pl = {r["K"]: r for r in exact_kl if r["method"] == "plugin" and r["advantage"] == "decoupled"}
    lost_txt = ", ".join(f"K={K}: answers {r['support_lost'][0]}" for K, r in sorted(pl.items()) if r["support_lost"][0])
    agree_ok = [c["case"] for c in agreement if c["all_within"]]
    summary = (f"p* = {_fmt_p(ps_kl)} (KL game). The plug-in's fixed point is TV "
               + ", ".join(f"{r['tv'][0]:.3f}" for _K, r in sorted(pl.items()))
               + f" from p* at K = {', '.join(str(K) for K in sorted(pl))}"
               + (f" and loses support ({lost_txt})" if lost_txt else "")
               + f"; the unbiased U-statistic's fixed point is p* exactly (Euclidean game). "
               f"{len(agree_ok)} of {len(agreement)} stochastic checks agree with the exact fixed points. The "
               f"convergence comparison at equal step size {cmp_cfg.step_size:g} is in the tables and notes below.")
    criteria = _criteria(pstar, worst_res, ustat_tv, plugin_tv, traces, agreement, params)
    notes += [f"Convergence at equal step size {cmp_cfg.step_size:g} (KL game): " + " ".join(plateau_text(comp_kl)),
              "Acceleration verdict: " + " ".join(vtext)]
    notes += [
        "Baselines: with the usual leave-one-out baseline (rloo) the others' rewards depend on the scored sample "
        "through their counts, so the expected dynamics equalise r - beta*B_h with h(c) = ((n-c)g(c) + c g(c-1))/n, "
        "i.e. B_g - p B_g'/n: even the unbiased U-statistic then settles away from p* (at K = 2 the diversity term "
        "cancels entirely). The decoupled baseline (others recounted without the scored sample) removes this; "
        "the comparison uses it. Both points are exact; the agreement checks confirm each in simulation.",
        "GRPO normalisation divides each group's advantages by the group's reward std; the scale depends on the "
        "group's composition, so the fixed point moves (table above); with the minimax table's huge entries the "
        "std is dominated by the diversity term.",
        "Several traces per answer: the answer-level fixed points are those of the one-trace game (the expected "
        "advantage depends on p only); the split of an answer's mass over its traces is not determined by the game "
        "(every split is stationary) and under policy gradient drifts rich-get-richer once noise breaks the "
        "symmetry of the uniform start (the stochastic check reports the median max/min trace ratio).",
        "What is exact and what is Monte Carlo: p*, fixed points, their TV/KL, the expected-dynamics curves and the "
        "GRPO fixed points are exact (KKT residual evaluated in rational arithmetic or at 50 digits); curves, final "
        "errors and steps to target are Monte Carlo over seeds with the intervals shown.",
        "The acceleration verdict (C7(c)) is reported, not enforced: it is an empirical statement for this game, "
        "step size and budget; PASS/FAIL covers (a) the exact fixed points and (b) the agreement checks.",
    ]
    figures = {
        "games": {n: g.to_dict() for n, g in games.items()},
        "p_star": {n: {"p": s["p_star"].tolist(), "method": s["method"], "kkt_residual": s["kkt_residual"]}
                   for n, s in pstar.items()},
        "exact": exact_rows,
        "exact_multiple_fixed_points": [{"game": r["game"], "method": r["method"], "K": r["K"],
                                         "advantage": r["advantage"], "n": r["n_fixed_points"]} for r in multi],
        "exact_support_lost": [{"game": r["game"], "method": r["method"], "K": r["K"], "advantage": r["advantage"],
                                "answers": r["support_lost"][0]} for r in lost],
        "grpo": grpo,
        "traces": traces,
        "agreement": agreement,
        "comparison_kl": {k: v for k, v in comp_kl.items() if not k.startswith("_")},
        "comparison_euclidean": {k: v for k, v in comp_eu.items() if not k.startswith("_")},
        "verdict": {"target": target, "pairs": verdicts, "text": vtext, "plateaus": plateaus},
        "skipped": skipped,
        "figure_kinds": {
            "p_star": "exact (closed form)", "exact": "exact (KKT points, residual evaluated exactly)",
            "grpo": "exact (enumeration; residual max|F - Fbar|)", "traces": "exact (KKT points, mean-field ODE)",
            "agreement": "Monte Carlo: tv_interval and half_width (family-wise alpha per check)",
            "comparison_kl": "Monte Carlo: final_tv_interval (95%), to_target lo/hi (95% bootstrap), curve lo/hi "
                             "(pointwise 95%); exact_fixed_point_tv and curve.expected exact",
            "comparison_euclidean": "as comparison_kl",
            "verdict": "Monte Carlo: ratio_lo/ratio_hi (95% bootstrap)",
        },
    }
    accuracy = {
        "p*": "closed form (KL softmax, Euclidean simplex projection); KKT residual evaluated at 50 digits / exactly",
        "exact fixed points": (f"every KKT point found (monotone pieces of B_h from a certified root isolation of its derivative in "
                  f"rational arithmetic); the KKT residual is evaluated exactly at the reported float64 point and is "
                  f"<= {worst_res:.1e}; the reached point is the one nearest the mean-field ODE end point "
                  f"(LSODA, rtol = atol = 1e-8, mean-field time 1e4), its distance recorded in results.json"),
        "GRPO fixed points": "expected advantage by exact enumeration of group compositions; fixed point residual max|F - Fbar| "
                "as listed; only the point reached from uniform is reported (not all fixed points)",
        "stochastic agreement": (f"Monte Carlo: seed-level tail averages, Student-t intervals Bonferroni over the answers, "
                      f"family-wise false-alarm rate {params['alpha']:g} per check; TV interval = TV of the mean "
                      f"+- half the sum of half-widths (TV is 1-Lipschitz in that sense). The decaying step size "
                      f"keeps the O(eta_T) noise-induced shift of the iterates below the interval width "
                      f"(eta_T * seeds ~ 30); the expected-dynamics residual column bounds the transient"),
        "convergence comparison": "Monte Carlo: pointwise 95% Student-t bands over seeds; steps to target = first step after "
                      "which the seed-mean error stays below the target, with a 95% percentile bootstrap over seeds "
                      "(unstable when the plateau is near the target: the interval may then not contain the "
                      "estimate); ratios from independent bootstrap replicates",
    }
    return ClaimResult(id="C7", title=CLAIM.title, status=verdict(criteria), summary=summary, criteria=criteria,
                       figures=figures, accuracy=accuracy, captions=_captions(pl, grpo, agreement, comp_kl),
                       tables=[exact_table, grpo_table, agree_table, _comparison_table(
                           comp_kl, "Convergence comparison, KL game (equal step size)"),
                               _comparison_table(comp_eu, "Convergence comparison, Euclidean game"),
                               verdict_table, traces_table],
                       plots=[p for p in plots if p], notes=notes)


REGRESSION = (
    relative("p_star/*/p", 1e-12, "p* in closed form"),
    relative("exact[*]/tv", 1e-8, "exact fixed-point errors (float64 KKT solve, residual checked exactly)"),
    exact("exact[*]/support_lost", "answers that lose all mass at each fixed point: integers"),
    exact("exact[*]/n_fixed_points", "number of KKT points: an integer"),
    relative("grpo[*]/tv", 1e-6, "GRPO fixed points: exact enumeration, root solve to 1e-12"),
    exact("agreement[*]/all_within", "stochastic intervals contain the exact fixed point: a verdict"),
    interval("agreement[*]/tv_interval", "Monte Carlo interval for TV(E p, p*): must overlap the baseline's"),
    interval("comparison_kl/per_method_K[*]/final_tv_interval", "Monte Carlo final error: intervals must overlap"),
    interval("comparison_euclidean/per_method_K[*]/final_tv_interval", "Monte Carlo final error: intervals overlap"),
)


def _criteria(pstar, worst_res, ustat_tv, plugin_tv, traces, agreement, params) -> list:
    """What the C7 verdict requires: (a) exact fixed points, (b) agreement of the stochastic runs with them."""
    out = [at_most("p* exact", "KKT residual of p* in each game", {n: s["kkt_residual"] for n, s in pstar.items()},
                   KKT_TOL, fmt=".1e"),
           at_most("fixed points exact", "largest KKT residual of any fixed point (evaluated exactly)", worst_res,
                   KKT_TOL, fmt=".1e")]
    if ustat_tv:
        out.append(at_most("unbiased table reaches p*", "largest TV over K from the U-statistic table's fixed point "
                           "to p* (Euclidean game, decoupled baseline)", max(ustat_tv.values()),
                           USTAT_TV_MAX, fmt=".1e"))
    if plugin_tv:
        out.append(at_least("plug-in misses p*", "smallest TV over K and baselines from the plug-in's fixed point to "
                            "p* (KL game)",
                            min(plugin_tv.values()), PLUGIN_TV_MIN, strict=True, fmt=".3g"))
    if traces:
        out.append(at_most("several traces per answer", "largest TV between the answer-level fixed point with "
                           "several traces per answer and the one-trace game's", max(
                               t["tv_to_single_trace_fixed_point"] for t in traces), TRACES_TV_MAX, fmt=".1e"))
    out.append(every("stochastic agreement", f"each stochastic check's simultaneous intervals (family-wise "
                     f"false-alarm rate {params['alpha']:g}) contain the exact fixed point",
                     sum(bool(c["all_within"]) for c in agreement), len(agreement),
                     failures=[c["case"] for c in agreement if not c["all_within"]]))
    if agreement:
        out.append(at_most("runs long enough", "largest distance of the expected dynamics to the fixed point at "
                           "the run's end, in interval half-widths", max(
                               c["transient_over_half_width"] for c in agreement), TRANSIENT_MAX, fmt=".2f"))
    return out


def _captions(pl, grpo, agreement, comp_kl) -> dict:
    tv = [r["tv"][0] for _K, r in sorted(pl.items())]
    ok = sum(bool(c["all_within"]) for c in agreement)
    alts = [c["alternative"] for c in agreement if "alternative" in c]
    n_alt, excl = len(alts), sum(bool(a["excluded"]) for a in alts)
    return {
        "c7_convergence_kl.png": ("KL game: seed-mean error against steps for each method and K; the dashed line "
                                  "is where the method's expected dynamics settle (its exact fixed-point error), the "
                                  "dotted line the expected dynamics themselves."),
        "c7_convergence_euclidean.png": ("Euclidean game: the unbiased U-statistic's exact fixed point is p* itself, "
                                         "while the plug-in's expected dynamics settle at a nonzero error (dashed)."),
        "c7_fixed_points.png": ((f"The plug-in's fixed point misses p* by TV {tv[0]:.3f} at K = {min(pl)} down to "
                                 f"{tv[-1]:.3f} at K = {max(pl)}; " if tv else "")
                                + "the baseline moves the fixed points (exact, no sampling)."),
        "c7_agreement.png": (f"{ok} of {len(agreement)} stochastic runs land within their simultaneous intervals of "
                             f"the exact fixed point (grey band); {excl} of {n_alt} exclude the other baseline's "
                             "fixed point."),
    }


def _key(f) -> str:
    pl = [r for r in f["exact"] if r["game"] == "default" and r["method"] == "plugin"
          and r["advantage"] == "decoupled"]
    ok = sum(c["all_within"] for c in f["agreement"])
    return (f"plug-in fixed point TV to p*: " + ", ".join(f"{r['tv'][0]:.3f} (K={r['K']})" for r in pl)
            + f"; {ok} of {len(f['agreement'])} stochastic checks agree with the exact fixed points")


_AGREEMENT_DEFAULT = [
    {"game": "default", "method": "plugin", "K": 32, "alternative": "rloo"},
    {"game": "euclidean", "method": "ustat", "K": 8, "alternative": "rloo"},
    {"game": "euclidean", "method": "ustat", "K": 4, "advantage": "rloo", "alternative": "decoupled"},
    {"game": "default", "method": "plugin", "K": 16, "advantage": "grpo", "alternative": "decoupled"},
    {"game": "traces", "method": "plugin", "K": 32},
]
# twice the seeds need twice the schedule (eta_T * seeds constant, see AgreementCase)
_FULL_RUN = {"seeds": 256, "steps": 4000, "tail": 1000}
_AGREEMENT_FULL = [dict(c, **_FULL_RUN) for c in _AGREEMENT_DEFAULT] + [
    {"game": "default", "method": "jackknife", "K": 16, "alternative": "rloo", **_FULL_RUN},
    {"game": "euclidean", "method": "plugin", "K": 8, "alternative": "rloo", **_FULL_RUN},
]

CLAIM = ClaimSpec(
    id="C7", title="The alignment game: exact fixed points of every estimator, stochastic dynamics, convergence",
    run=run, regression=REGRESSION,
    statement=("In the alignment game the expected dynamics of every table settle at an exactly computable fixed "
               "point: p* for unbiased tables, a measurably wrong point for the plug-in; stochastic runs land where "
               "the exact fixed points say."),
    key_figure=KeyFigure("fixed points", _key, accuracy=("TV to p* exact (KKT points, residual evaluated exactly); "
                                                         "agreement from Monte Carlo intervals")),
    profiles={
        "quick": {"exact_K": [4, 8], "grpo_K": [4], "traces_K": [8], "alpha": 1e-3, "verdict_target": 0.05,
                  "agreement": [{"game": "euclidean", "method": "ustat", "K": 4, "steps": 400, "seeds": 32,
                                 "tail": 100, "alternative": "rloo"},
                                {"game": "default", "method": "plugin", "K": 32, "steps": 500, "seeds": 32,
                                 "tail": 120, "alternative": "rloo"}],
                  "comparison_kl": {"Ks": [4, 8], "steps": 100, "seeds": 12, "groups": 8, "n_boot": 100,
                                    "curve_points": 25},
                  "comparison_euclidean": {"Ks": [4, 8], "steps": 60, "seeds": 12, "groups": 8, "n_boot": 100,
                                           "curve_points": 25}},
        "default": {"exact_K": [2, 4, 8, 16, 32], "grpo_K": [4, 8, 16], "traces_K": [8, 32], "alpha": 1e-3,
                    "verdict_target": 0.05, "agreement": _AGREEMENT_DEFAULT,
                    "comparison_kl": {"Ks": [4, 8, 16, 32], "steps": 400, "seeds": 48, "groups": 16, "n_boot": 400,
                                      "curve_points": 81},
                    "comparison_euclidean": {"Ks": [4, 8, 16, 32], "steps": 150, "seeds": 48, "groups": 16,
                                             "n_boot": 400, "curve_points": 76}},
        "full": {"exact_K": [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64], "grpo_K": [4, 8, 16, 32], "traces_K": [8, 16, 32],
                 "alpha": 1e-3, "verdict_target": 0.05, "agreement": _AGREEMENT_FULL,
                 "comparison_kl": {"Ks": [4, 8, 16, 32], "steps": 1000, "seeds": 256, "groups": 16, "n_boot": 1000,
                                   "curve_points": 101},
                 "comparison_euclidean": {"Ks": [4, 8, 16, 32], "steps": 300, "seeds": 256, "groups": 16,
                                          "n_boot": 1000, "curve_points": 101}},
    },
)
