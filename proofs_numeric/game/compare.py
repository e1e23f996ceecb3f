"""Convergence at one given step size (``alft game``), and the agreement of stochastic runs with exact fixed points.

``run_comparison``: for every K, every method of a data list runs ``seeds`` stochastic runs at the *same*
step size, in one batch with common random numbers (:mod:`.engine`), so the methods are paired seed by
seed. Per method: TV(p_t, p*) against steps with a pointwise 95% band over seeds, the final error (mean
over the last window, per seed) beside the exact fixed-point error, and the first-passage times to each
target (the fraction of seeds that get there, the median with an order-statistic interval).
``acceleration_verdict`` compares pairs of methods by their paired first-passage times (:func:`.stats.compare_passage`:
who gets there first on how many seeds, ties counted as ties). The fair comparison, with a step size tuned
per method, is :mod:`.protocol`.

``agreement_check``: a run with a decaying step size (so the iterates settle instead of fluctuating
with a fixed step), tail-averaged per seed; simultaneous intervals over seeds for every answer
probability, and from them an interval for TV(E p, p*) that must contain the exact fixed-point error.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from estimators import build_table, method_names

from .dynamics import RunConfig, simulate, step_sizes
from .engine import Batch, run_batch
from .equilibria import PrecisionError, optimum, table_marginal, total_variation
from .exact import EXACT_MAX_K, table_equilibria
from .expected import EnumeratedAdvantage, closed_form_advantage, expected_iteration
from .spec import GameSpec
from .stats import compare_passage, first_passage, mean_band, mean_interval, passage_summary, \
    simultaneous_mean_interval

__all__ = ["COMPARED_METHODS", "POLYNOMIAL_METHODS", "ComparisonConfig", "AgreementCase", "method_label", "build_tables",
           "run_comparison", "acceleration_verdict", "verdict_text", "plateau_text", "agreement_check", "VERDICT_PAIRS",
           "EXACT_MAX_K"]

#: Methods compared on the KL game, as data: (registry name, parameters). Unregistered methods are
#: skipped with a note.
COMPARED_METHODS = [("plugin", {}), ("jackknife", {}), ("minimax", {}),
                    ("aqp", {"eps": 1}), ("aqp", {"eps": 10}), ("aqp", {"eps": 100})]
#: Methods compared on a polynomial (e.g. Euclidean) game, where the U-statistic is unbiased (C1).
POLYNOMIAL_METHODS = [("plugin", {}), ("jackknife", {}), ("ustat", {})]
#: (candidate, reference) pairs of the verdict; a name matches every parameter setting of a method.
VERDICT_PAIRS = [("aqp", "minimax"), ("aqp", "plugin"), ("aqp", "jackknife"), ("minimax", "plugin"),
                 ("jackknife", "plugin"), ("ustat", "plugin")]


def method_label(name: str, params: dict) -> str:
    if not params:
        return name
    return f"{name}(" + ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                  for k, v in sorted(params.items())) + ")"


def build_tables(game: GameSpec, methods, Ks) -> tuple[dict, list]:
    """Tables for every (method, K) that can be built; the rest listed with the reason."""
    tables, skipped = {}, []
    registered = set(method_names())
    for name, params in methods:
        label = method_label(name, params)
        if name not in registered:
            skipped.append({"method": label, "K": None, "reason": f"method {name!r} is not registered in this "
                                                                    f"installation (estimators.method_names())"})
            continue
        for K in Ks:
            try:
                tables[(label, K)] = build_table(game.generator, name, K, **params)
            except (ValueError, TypeError) as exc:
                skipped.append({"method": label, "K": K, "reason": f"{type(exc).__name__}: {exc}"})
    return tables, skipped


@dataclass(frozen=True)
class ComparisonConfig:
    """Settings shared by every run of a comparison (equal step size for all methods)."""

    Ks: tuple = (4, 8, 16, 32)
    step_size: float = 1.0
    steps: int = 400
    groups: int = 16
    seeds: int = 64
    advantage: str = "decoupled"
    update: str = "pg"
    targets: tuple = (0.1, 0.05, 0.02)
    final_window: int = 50
    curve_points: int = 81
    seed: int = 0
    level: float = 0.95
    processes: int = 1

    def to_json(self) -> dict:
        return asdict(self)


def _curve_index(n: int, n_points: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n_points, n)).round().astype(int))


def _curve_json(steps, mean, lo, hi, n_points: int) -> dict:
    """Seed-mean error with its pointwise band at ``n_points`` recorded steps (for results.json)."""
    idx = _curve_index(steps.size, n_points)
    return {"steps": steps[idx].tolist(), "mean": mean[idx].tolist(), "lo": lo[idx].tolist(), "hi": hi[idx].tolist()}


def cached_equilibria(cache: dict | None, game: GameSpec, label: str, table, advantage: str, ps) -> dict:
    """:func:`.exact.table_equilibria`, memoised in ``cache`` by (game, method label, K, advantage)."""
    key = (game.name, label, table.K, advantage)
    if cache is not None and key in cache:
        return cache[key]
    out = table_equilibria(game, table, advantage, p_star=ps)
    if cache is not None:
        cache[key] = out
    return out


def _exact_figures(game, label, table, cfg, ps, cache, record) -> tuple[dict, np.ndarray | None, str | None]:
    """Exact fixed point and expected-dynamics curve of one table, or the reason they are not computed."""
    if table.K > EXACT_MAX_K:
        return {}, None, f"exact fixed points are computed up to K = {EXACT_MAX_K}"
    try:
        ex = cached_equilibria(cache, game, label, table, cfg.advantage, ps)
    except (PrecisionError, ValueError) as exc:
        return {}, None, f"exact fixed point: {exc}"
    marg = table_marginal(table, cfg.advantage) if cfg.advantage != "grpo" else None
    F = (lambda q, mg=marg: closed_form_advantage(game, mg, q)) if marg is not None else \
        EnumeratedAdvantage(game, table, cfg.advantage)
    etas = np.full(cfg.steps, float(cfg.step_size))
    det = total_variation(expected_iteration(game, F, etas, cfg.steps, cfg.update, record=record), ps)
    return {"exact_fixed_point_tv": ex["tv"][0], "exact_fixed_point_kl": ex["kl"][0],
            "exact_support_lost": ex["support_lost"][0], "n_fixed_points": len(ex["fixed_points"]),
            "expected_dynamics_final_tv": float(det[-1])}, det, None


def _method_row(label, name, params, K, table, err, finite, steps, cfg, exact) -> dict:
    """Figures of one method at one K from its per-seed error curves ``err`` [S, R]."""
    fin = err[:, -min(cfg.final_window, err.shape[1]):].mean(axis=1)
    fm, flo, fhi = mean_interval(fin, cfg.level)
    passages = [dict(passage_summary(first_passage(err, steps, tgt), cfg.level), target=tgt) for tgt in cfg.targets]
    return {"method": label, "name": name, "params": dict(params), "K": K,
            "max_abs_g": float(np.max(np.abs(table.values))), **exact,
            "final_tv_mean": fm, "final_tv_lo": flo, "final_tv_hi": fhi, "final_tv_interval": [flo, fhi],
            "to_target": passages, "nonfinite_seeds": int((~finite).sum()), "seeds": int(err.shape[0])}


def run_comparison(game: GameSpec, methods, cfg: ComparisonConfig, *, log=None, p_star=None,
                   exact_cache: dict | None = None) -> dict:
    """Stochastic runs of every (method, K) at equal step size (paired by seed), exact fixed points beside them."""
    log = log or (lambda msg: None)
    ps = optimum(game)[0] if p_star is None else np.asarray(p_star)
    tables, skipped = build_tables(game, methods, cfg.Ks)
    per, curves = [], {}
    for K in cfg.Ks:
        labs = [(method_label(n, p), n, p) for n, p in methods if (method_label(n, p), K) in tables]
        if not labs:
            continue
        run_cfg = RunConfig(K=K, step_size=cfg.step_size, steps=cfg.steps, groups=cfg.groups, seeds=cfg.seeds,
                            advantage=cfg.advantage, update=cfg.update, seed=cfg.seed + 1000 * K)
        bt = Batch(r=game.r, beta=game.beta, answer_of=game.answer_of, K=K,
                   tables=np.stack([tables[(lab, K)].values for lab, _, _ in labs]),
                   etas=np.tile(step_sizes(run_cfg), (len(labs), 1)), seeds=cfg.seeds, groups=cfg.groups,
                   advantage=cfg.advantage, update=cfg.update, record=np.arange(cfg.steps + 1), seed=run_cfg.seed,
                   p_ref=ps, theta0=game.theta0)
        res = run_batch(bt, processes=cfg.processes)
        for i, (label, name, params) in enumerate(labs):
            table = tables[(label, K)]
            exact, det, why = _exact_figures(game, label, table, cfg, ps, exact_cache, bt.record)
            if why:
                skipped.append({"method": label, "K": K, "reason": why})
            err = np.where(res.finite[i][:, None], res.values[i], 1.0)
            row = _method_row(label, name, params, K, table, err, res.finite[i], bt.record, cfg, exact)
            mean, lo, hi = mean_band(err, cfg.level)
            idx = _curve_index(bt.record.size, cfg.curve_points)
            row["curve"] = dict(_curve_json(bt.record, mean, lo, hi, cfg.curve_points),
                                expected=None if det is None else [float(det[j]) for j in idx])
            per.append(row)
            curves[(label, K)] = {"steps": bt.record, "mean": mean, "lo": lo, "hi": hi, "det": det,
                                  "passage": {t: first_passage(err, bt.record, t) for t in cfg.targets},
                                  "final": err[:, -min(cfg.final_window, err.shape[1]):].mean(axis=1)}
            mid = row["to_target"][len(cfg.targets) // 2]
            log(f"[C7] K={K} {label}: final TV {row['final_tv_mean']:.4f} [{row['final_tv_lo']:.4f}, "
                f"{row['final_tv_hi']:.4f}]; TV<={mid['target']:g} reached by {mid['reached']}/{mid['seeds']} seeds, "
                f"median step {mid['median']:g} [{mid['median_lo']:g}, {mid['median_hi']:g}]")
        log(f"[C7] K={K}: {res.samples:.2e} sampled answers in {res.seconds:.1f}s ({res.samples_per_second:.2e}/s)")
    return {"config": cfg.to_json(), "game": game.to_dict(), "p_star": ps.tolist(), "per_method_K": per,
            "skipped": skipped, "_curves": curves}


def acceleration_verdict(result: dict, target: float, pairs=VERDICT_PAIRS) -> list[dict]:
    """Pairwise statements at one target error, from paired first-passage times (same seeds): on how many seeds
    the candidate gets there first, both at the same step, or the reference first; a sign test decides."""
    rows = {(r["method"], r["K"]): r for r in result["per_method_K"]}
    curves = result["_curves"]
    level = result["config"]["level"]
    out = []
    for cand_name, ref_name in pairs:
        for (label, K), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if r["name"] != cand_name:
                continue
            for (rlabel, rK), rr in rows.items():
                if rK != K or rr["name"] != ref_name:
                    continue
                c = compare_passage(curves[(label, K)]["passage"][target], curves[(rlabel, K)]["passage"][target], level)
                outcome = {"a first": "candidate first", "b first": "reference first"}.get(c["outcome"], c["outcome"])
                out.append({"game": result["game"]["name"], "K": K, "candidate": label, "reference": rlabel,
                            "target": target, "outcome": outcome, **{k: v for k, v in c.items() if k != "outcome"},
                            "final_tv_candidate": r["final_tv_mean"], "final_tv_reference": rr["final_tv_mean"]})
    return out


def verdict_text(verdicts: list[dict], skipped: list[dict]) -> list[str]:
    """One sentence per (candidate, reference) pair, from the numbers."""
    lines = []
    pairs = list(dict.fromkeys((v["game"], v["candidate"], v["reference"]) for v in verdicts))
    for game, cand, ref in pairs:
        vs = [v for v in verdicts if (v["game"], v["candidate"], v["reference"]) == (game, cand, ref)]
        parts = [f"K={v['K']}: {v['outcome']} (first on {v['a_first']} vs {v['b_first']} seeds, {v['ties']} tied, "
                 f"{v['neither']} neither)" for v in vs]
        lines.append(f"{game} game, {cand} vs {ref} at TV <= {vs[0]['target']:g}: " + "; ".join(parts) + ".")
    for name, _ref in VERDICT_PAIRS:
        if any(s["method"].startswith(name) and s["K"] is None for s in skipped):
            lines.append(f"{name}: not evaluated -- {next(s['reason'] for s in skipped if s['method'].startswith(name))}.")
    return list(dict.fromkeys(lines))


def plateau_text(result: dict) -> list[str]:
    """Per method: at which K the final error is set by the bias (within 25% of the exact fixed-point
    error) or by the noise (more than twice it) -- from the numbers."""
    lines = []
    for label in dict.fromkeys(r["method"] for r in result["per_method_K"]):
        rows = [r for r in result["per_method_K"] if r["method"] == label and "exact_fixed_point_tv" in r]
        noise = [r["K"] for r in rows if r["final_tv_lo"] > 2 * r["exact_fixed_point_tv"]]
        bias = [r["K"] for r in rows if abs(r["final_tv_mean"] - r["exact_fixed_point_tv"])
                <= 0.25 * r["exact_fixed_point_tv"]]
        parts = []
        if bias:
            parts.append(f"bias-limited (final error within 25% of the exact fixed-point error) at K = {bias}")
        if noise:
            parts.append(f"noise-limited (final error above twice the fixed-point error) at K = {noise}")
        if parts:
            lines.append(f"{result['game']['name']} game, {label}: " + "; ".join(parts) + ".")
    return lines


@dataclass
class AgreementCase:
    """A stochastic run checked against an exact fixed point.

    With step sizes eta_t = eta * decay_after / t the iterates fluctuate by O(sqrt(eta_T)) around a point
    that the noise itself shifts by O(eta_T) from the exact fixed point; the interval over S seeds has
    width ~ sqrt(eta_T / S), so the shift stays hidden only while eta_T * S is moderate (about 30 here:
    eta_T = 5 * 100 / 2000 = 0.25 with 128 seeds). More seeds need a longer schedule, or the check
    (rightly) detects the shift.
    """

    game: str
    method: str
    K: int
    advantage: str = "decoupled"
    params: dict = field(default_factory=dict)
    step_size: float = 5.0
    decay_after: int = 100
    steps: int = 2000
    groups: int = 8
    seeds: int = 128
    tail: int = 500
    seed: int = 0

    @property
    def label(self) -> str:
        return f"{self.game}/{method_label(self.method, self.params)}/K={self.K}/{self.advantage}"


def agreement_check(game: GameSpec, case: AgreementCase, *, alpha: float, p_star, alternative: str | None = None,
                    exact_cache: dict | None = None) -> dict:
    """Do the stochastic runs settle on the exact fixed point? (module docstring)

    ``alternative``: another advantage whose fixed point is also tested against the same intervals
    (e.g. ``rloo`` when the run uses ``decoupled``): the check has power when that one is excluded.
    """
    ps = np.asarray(p_star)
    table = build_table(game.generator, case.method, case.K, **case.params)
    label = method_label(case.method, case.params)
    ex = cached_equilibria(exact_cache, game, label, table, case.advantage, ps)
    fp = np.asarray(ex["fixed_points"][0])
    cfg = RunConfig(K=case.K, step_size=case.step_size, steps=case.steps, groups=case.groups, seeds=case.seeds,
                    advantage=case.advantage, decay_after=case.decay_after, seed=case.seed)
    tr = simulate(game, table, cfg)
    tail = tr.p[:, -case.tail:]                                   # [S, tail, m]
    per_seed = tail.mean(axis=1)
    pbar, hw, q = simultaneous_mean_interval(per_seed, alpha)
    within = np.abs(pbar - fp) <= hw
    tv_hat = float(total_variation(pbar, ps))
    slack = 0.5 * float(hw.sum())
    tv_lo, tv_hi = max(0.0, tv_hat - slack), tv_hat + slack
    marg = table_marginal(table, case.advantage) if case.advantage != "grpo" else None
    F = (lambda x: closed_form_advantage(game, marg, x)) if marg is not None else \
        EnumeratedAdvantage(game, table, case.advantage)
    det = expected_iteration(game, F, step_sizes(cfg), cfg.steps, cfg.update, record=tr.steps[-case.tail:])
    transient = float(total_variation(det.mean(axis=0), fp))
    out = {
        "case": case.label, "game": case.game, "method": method_label(case.method, case.params), "K": case.K,
        "advantage": case.advantage, "config": cfg.to_json(), "tail_steps": case.tail, "alpha": alpha,
        "exact_fixed_point": fp.tolist(), "exact_tv": ex["tv"][0], "exact_support_lost": ex["support_lost"][0],
        "mean_p": pbar.tolist(), "half_width": hw.tolist(), "t_quantile": q,
        "within": within.tolist(), "all_within": bool(within.all()),
        "tv_estimate": tv_hat, "tv_interval": [tv_lo, tv_hi],
        "tv_interval_contains_exact": bool(tv_lo <= ex["tv"][0] <= tv_hi),
        "transient_tv": transient, "transient_over_half_width": transient / float(hw.min()),
        "samples": tr.samples,
    }
    if not game.one_trace_per_answer:
        split = tr.pi_final
        ratios = []
        for z in range(game.m):
            cols = split[:, game.answer_of == z]
            if cols.shape[1] > 1:
                ratios.append(np.median(cols.max(axis=1) / np.maximum(cols.min(axis=1), 1e-300)))
        out["trace_split_median_max_over_min"] = float(max(ratios)) if ratios else 1.0
    if alternative is not None and alternative != case.advantage:
        alt = cached_equilibria(exact_cache, game, label, table, alternative, ps)
        afp = np.asarray(alt["fixed_points"][0])
        out["alternative"] = {"advantage": alternative, "fixed_point": afp.tolist(),
                              "tv_to_checked": float(total_variation(afp, fp)),
                              "excluded": bool(np.any(np.abs(pbar - afp) > hw))}
    return out
