"""The convergence comparison (docs/claims.md, C7(b, c)) and the agreement of stochastic runs with exact fixed points.

``run_comparison``: for every method of a data list and every K, ``seeds`` stochastic runs at the
*same* step size; the error TV(p_t, p*) against steps with a pointwise 95% band over seeds, the
final error (mean over the last window and seeds) beside the exact fixed-point error, and the steps
until the seed-mean error stays below each target, with a percentile bootstrap interval over seeds.
``acceleration_verdict`` turns those into statements (faster / slower / no significant difference /
only one reaches the target), pair by pair.

``agreement_check``: a run with a decaying step size (so the iterates settle instead of fluctuating
with a fixed step), tail-averaged per seed; simultaneous intervals over seeds for every answer
probability, and from them an interval for TV(E p, p*) that must contain the exact fixed-point error.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from estimators import build_table, method_names

from .dynamics import RunConfig, simulate, step_sizes
from .equilibria import PrecisionError, optimum, table_marginal, total_variation
from .exact import table_equilibria
from .expected import EnumeratedAdvantage, closed_form_advantage, expected_iteration
from .spec import GameSpec
from .stats import bootstrap_steps_to_target, mean_band, ratio_interval, simultaneous_mean_interval

__all__ = ["COMPARED_METHODS", "POLYNOMIAL_METHODS", "ComparisonConfig", "AgreementCase", "method_label", "build_tables",
           "run_comparison", "acceleration_verdict", "verdict_text", "plateau_text", "agreement_check", "VERDICT_PAIRS"]

#: Methods compared on the KL game, as data: (registry name, parameters). Unregistered methods
#: (AQP until it lands) are skipped with a note.
COMPARED_METHODS = [("plugin", {}), ("jackknife", {}), ("minimax", {}),
                    ("aqp", {"eps": 1}), ("aqp", {"eps": 10}), ("aqp", {"eps": 100})]
#: Methods compared on a polynomial (e.g. Euclidean) game, where the U-statistic is unbiased (C1).
POLYNOMIAL_METHODS = [("plugin", {}), ("jackknife", {}), ("ustat", {})]
#: (candidate, reference) pairs of the verdict; a name matches every parameter setting of a method.
VERDICT_PAIRS = [("aqp", "minimax"), ("aqp", "plugin"), ("minimax", "plugin"), ("jackknife", "plugin"),
                 ("ustat", "plugin")]


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
    n_boot: int = 400
    curve_points: int = 81
    seed: int = 0

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


def run_comparison(game: GameSpec, methods, cfg: ComparisonConfig, *, log=None, p_star=None,
                   exact_cache: dict | None = None) -> dict:
    """Stochastic runs of every (method, K) at equal step size, with exact fixed points beside them."""
    log = log or (lambda msg: None)
    ps = optimum(game)[0] if p_star is None else np.asarray(p_star)
    tables, skipped = build_tables(game, methods, cfg.Ks)
    rng = np.random.default_rng(cfg.seed + 7919)
    per, curves = [], {}
    for K in cfg.Ks:
        for name, params in methods:
            label = method_label(name, params)
            table = tables.get((label, K))
            if table is None:
                continue
            try:
                ex = cached_equilibria(exact_cache, game, label, table, cfg.advantage, ps)
            except PrecisionError as exc:
                skipped.append({"method": label, "K": K, "reason": f"exact fixed point: {exc}"})
                continue
            run_cfg = RunConfig(K=K, step_size=cfg.step_size, steps=cfg.steps, groups=cfg.groups, seeds=cfg.seeds,
                                advantage=cfg.advantage, update=cfg.update, seed=cfg.seed + 1000 * K)
            tr = simulate(game, table, run_cfg)
            err = total_variation(tr.p, ps)                                   # [S, R]
            finite = np.isfinite(err).all(axis=1)
            err = err[finite]
            mean, lo, hi = mean_band(err)
            fin = err[:, -cfg.final_window:].mean(axis=1)                     # per-seed final error
            fmean, flo, fhi = mean_band(fin[:, None])
            marg = table_marginal(table, cfg.advantage) if cfg.advantage != "grpo" else None
            F = (lambda q, mg=marg: closed_form_advantage(game, mg, q)) if marg is not None else \
                EnumeratedAdvantage(game, table, cfg.advantage)
            det = expected_iteration(game, F, step_sizes(run_cfg), cfg.steps, cfg.update, record=tr.steps)
            det_err = total_variation(det, ps)
            to_target = []
            for tgt in cfg.targets:
                b = bootstrap_steps_to_target(err, tr.steps, tgt, n_boot=cfg.n_boot, rng=rng)
                to_target.append(b)
            row = {
                "method": label, "name": name, "params": dict(params), "K": K,
                "max_abs_g": float(np.max(np.abs(table.values))),
                "exact_fixed_point_tv": ex["tv"][0], "exact_fixed_point_kl": ex["kl"][0],
                "exact_support_lost": ex["support_lost"][0], "n_fixed_points": len(ex["fixed_points"]),
                "expected_dynamics_final_tv": float(det_err[-1]),
                "final_tv_mean": float(fmean[0]), "final_tv_lo": float(flo[0]), "final_tv_hi": float(fhi[0]),
                "to_target": [{k: v for k, v in b.items() if k != "replicates"} for b in to_target],
                "final_tv_interval": [float(flo[0]), float(fhi[0])],
                "collapsed_fraction": float(np.mean(tr.p[:, -1].max(axis=1) > 0.99)),
                "nonfinite_seeds": int((~finite).sum()), "seeds": int(finite.sum()),
                "curve": dict(_curve_json(tr.steps, mean, lo, hi, cfg.curve_points),
                              expected=[float(det_err[i]) for i in _curve_index(tr.steps.size, cfg.curve_points)]),
            }
            per.append(row)
            curves[(label, K)] = {"steps": tr.steps, "mean": mean, "lo": lo, "hi": hi, "det": det_err,
                                  "replicates": {b["target"]: b["replicates"] for b in to_target}}
            t0 = to_target[len(to_target) // 2]
            log(f"[C7] K={K} {label}: final TV {fmean[0]:.4f} [{flo[0]:.4f}, {fhi[0]:.4f}] (exact fixed point "
                f"{ex['tv'][0]:.4f}); steps to TV<={t0['target']:g}: {t0['steps']:g} [{t0['lo']:g}, {t0['hi']:g}]; "
                f"{tr.samples_per_second:.2e} samples/s")
    return {"config": cfg.to_json(), "game": game.to_dict(), "p_star": ps.tolist(), "per_method_K": per,
            "skipped": skipped, "_curves": curves}


def _outcome(a_steps, a_reps, b_steps, b_reps) -> tuple[str, float | None, float | None, float | None]:
    a_ok, b_ok = math.isfinite(a_steps), math.isfinite(b_steps)
    if a_ok and b_ok:
        ratio = a_steps / b_steps if b_steps > 0 else float("inf")
        lo, hi = ratio_interval(a_reps, b_reps)
        if hi < 1:
            return "faster", ratio, lo, hi
        if lo > 1:
            return "slower", ratio, lo, hi
        return "no significant difference", ratio, lo, hi
    if a_ok:
        return "only the candidate reaches the target", None, None, None
    if b_ok:
        return "only the reference reaches the target", None, None, None
    return "neither reaches the target", None, None, None


def acceleration_verdict(result: dict, target: float, pairs=VERDICT_PAIRS) -> list[dict]:
    """Pairwise statements at one target error: steps(candidate) / steps(reference) with a bootstrap
    interval (< 1: the candidate is faster), or which one never reaches the target within the run."""
    rows = {(r["method"], r["K"]): r for r in result["per_method_K"]}
    curves = result["_curves"]
    out = []
    for cand_name, ref_name in pairs:
        for (label, K), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if r["name"] != cand_name:
                continue
            for (rlabel, rK), rr in rows.items():
                if rK != K or rr["name"] != ref_name:
                    continue
                a = next(t for t in r["to_target"] if t["target"] == target)
                b = next(t for t in rr["to_target"] if t["target"] == target)
                outcome, ratio, lo, hi = _outcome(a["steps"], curves[(label, K)]["replicates"][target],
                                                  b["steps"], curves[(rlabel, K)]["replicates"][target])
                out.append({"game": result["game"]["name"], "K": K, "candidate": label, "reference": rlabel, "target": target, "outcome": outcome,
                            "steps_candidate": a["steps"], "steps_reference": b["steps"],
                            "ratio": ratio, "ratio_lo": lo, "ratio_hi": hi,
                            "final_tv_candidate": r["final_tv_mean"], "final_tv_reference": rr["final_tv_mean"]})
    return out


def verdict_text(verdicts: list[dict], skipped: list[dict]) -> list[str]:
    """One sentence per (candidate, reference) pair, from the numbers."""
    lines = []
    pairs = list(dict.fromkeys((v["game"], v["candidate"], v["reference"]) for v in verdicts))
    for game, cand, ref in pairs:
        vs = [v for v in verdicts if (v["game"], v["candidate"], v["reference"]) == (game, cand, ref)]
        parts = []
        for v in vs:
            if v["ratio"] is not None:
                parts.append(f"K={v['K']}: {v['outcome']} (steps ratio {v['ratio']:.2f} [{v['ratio_lo']:.2f}, "
                             f"{v['ratio_hi']:.2f}])")
            else:
                parts.append(f"K={v['K']}: {v['outcome']} (final TV {v['final_tv_candidate']:.3f} vs "
                             f"{v['final_tv_reference']:.3f})")
        lines.append(f"{game} game, {cand} vs {ref} at TV <= {vs[0]['target']:g}: " + "; ".join(parts) + ".")
    for name, _ref in VERDICT_PAIRS:
        if any(s["method"].startswith(name) and s["K"] is None for s in skipped):
            lines.append(f"{name}: not evaluated -- {next(s['reason'] for s in skipped if s['method'].startswith(name))}.")
    return list(dict.fromkeys(lines))


def plateau_text(result: dict) -> list[str]:
    """Per method: at which K the final error is set by the bias (within 25% of the exact fixed-point
    error), by the noise (more than twice it), or the runs collapse onto a vertex -- from the numbers."""
    lines = []
    for label in dict.fromkeys(r["method"] for r in result["per_method_K"]):
        rows = [r for r in result["per_method_K"] if r["method"] == label]
        collapsed = [r["K"] for r in rows if r["collapsed_fraction"] > 0.5]
        noise = [r["K"] for r in rows if r["K"] not in collapsed and r["final_tv_lo"] > 2 * r["exact_fixed_point_tv"]]
        bias = [r["K"] for r in rows if abs(r["final_tv_mean"] - r["exact_fixed_point_tv"])
                <= 0.25 * r["exact_fixed_point_tv"]]
        parts = []
        if bias:
            parts.append(f"bias-limited (final error within 25% of the exact fixed-point error) at K = {bias}")
        if noise:
            parts.append(f"noise-limited (final error above twice the fixed-point error) at K = {noise}")
        if collapsed:
            parts.append(f"collapsed onto a vertex in most seeds at K = {collapsed}")
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
