"""C9 -- what stock trainers optimise: a baseline that sees the sample turns a table g into another estimator.

Under a leave-one-out or group-mean baseline (advantage ``rloo``), E[A_i | z] = r(z) - beta E g(X) + const with
X ~ Bin(K - 2, p_z): the trainer applies g(0..K-2) as a table for K - 1 samples (docs/advantages.md,
:mod:`estimators.advantages`). The section checks, with each check's accuracy:

* the theorem itself, exactly: E[A_i | z] summed over every composition of the group in rational arithmetic,
  for tables with no structure (leave-one-out mean, group mean with the sample, decoupled baseline);
* what it does to the classical tables: certified effective weighted bias of each table as it is, under the
  baseline, and of its corrected version (``build_table(..., advantage="rloo")``);
* the corrected U-statistic's exactness after the baseline (C1's identity on the effective table), and the
  (1 - j/n) shrinkage of the uncorrected one;
* the certified least effective weighted bias per K (E*_{K-1}) and the corrected minimax certificate;
* the game's exact fixed points under the stock advantages, plain and corrected (the corrected unbiased
  table reaches p* under ``rloo``), and the group-std advantage (``grpo``: no correction, measured);
* a seeded Monte Carlo of the trainer's advantages per answer against the theorem's prediction.
"""
from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np

from estimators import build_table, get_generator
from estimators.advantages import effective_coefficients, effective_table, lower_degree
from estimators.aqp.certify import certify_bias
from estimators.bernstein import bernstein_to_monomial
from estimators.certificates import verify
from estimators.minimax import solve as minimax_solve
from estimators.minimax.targets import target_for
from estimators.moments import moments

from .game.equilibria import total_variation
from .game.exact import optimum_summary, table_equilibria
from .game.expected import compositions
from .game.spec import get_game
from .plotting import log_K_axis, plt, save_figure
from .regression.spec import exact, relative, table
from .c9_aqp_rloo import aqp_rloo_criteria, aqp_rloo_tables, section_aqp_rloo
from .criteria import at_least, at_most, every, holds, num, verdict
from .result import ClaimResult, ClaimSpec, KeyFigure, ReportTable
from .vocabulary import advantage_label, method_label

__all__ = ["CLAIM", "expected_advantages_exact", "identity_holds", "weighted_bias_up_to_constant"]

F = Fraction
BASELINES = ("rloo", "group_mean", "decoupled")


# -- the theorem, exactly --------------------------------------------------------------------------------------

def expected_advantages_exact(g, r, beta, probs, kind: str) -> list[Fraction]:
    """E[A_0 | z_0 = z] for every answer z, exactly: a sum over the compositions of the other K - 1 samples.

    ``kind``: ``rloo`` (mean of the others' rewards), ``group_mean`` (mean of all K) or ``decoupled`` (the
    others' rewards recounted without sample 0). All inputs are Fractions; so is the result."""
    K, m = len(g), len(probs)
    out = []
    for z in range(m):
        num = F(0)
        for comp in compositions(K - 1, m):
            k = [int(x) for x in comp]
            w = F(math.factorial(K - 1))
            for a in range(m):
                w = w * probs[a] ** k[a] / math.factorial(k[a])
            num += w * _advantage_of_sample0(g, r, beta, k, z, kind)
        out.append(num)
    return out


def _advantage_of_sample0(g, r, beta, k, z, kind):
    K = len(g)
    R0 = r[z] - beta * g[k[z]]
    if kind == "decoupled":
        others = sum(k[a] * (r[a] - beta * g[k[a] - 1]) for a in range(len(k)) if k[a])
        return R0 - others / (K - 1)
    others = sum(k[a] * (r[a] - beta * g[k[a] + (a == z) - 1]) for a in range(len(k)) if k[a])
    if kind == "rloo":
        return R0 - others / (K - 1)
    return R0 - (R0 + others) / K


def _binomial_mean(h, p):
    n = len(h) - 1
    return sum(h[c] * math.comb(n, c) * p ** c * (1 - p) ** (n - c) for c in range(n + 1))


def identity_holds(g, r, beta, probs, kind: str) -> bool:
    """Theorem 1 (docs/advantages.md) at one instance: E[A | z] - scale (r(z) - beta u(p_z)) is the same for
    every z, exactly; u = E g(X), X ~ Bin(K - 2, p) (the constant g(0) at K = 2) for the leave-one-out and
    group-mean baselines, u = B_g for the decoupled one."""
    K = len(g)
    A = expected_advantages_exact(g, r, beta, probs, kind)
    if kind == "decoupled":
        u = [_binomial_mean(g, p) for p in probs]
    else:
        u = [_binomial_mean(g[:-1], p) for p in probs]
    scale = F(K - 1, K) if kind == "group_mean" else 1
    return len({A[z] - scale * (r[z] - beta * u[z]) for z in range(len(probs))}) == 1


def section_theorem(params, rng: random.Random) -> dict:
    rows, ok = [], True
    for K in params["enum_K"]:
        for m in params["enum_m"]:
            for kind in BASELINES:
                g = [F(rng.randint(-60, 60), rng.randint(1, 12)) for _ in range(K)]
                r = [F(rng.randint(-9, 9), rng.randint(1, 5)) for _ in range(m)]
                w = [rng.randint(1, 9) for _ in range(m)]
                probs = [F(x, sum(w)) for x in w]
                holds = identity_holds(g, r, F(rng.randint(1, 9), 4), probs, kind)
                ok &= holds
                rows.append([K, m, kind, len(compositions(K - 1, m)), "exact" if holds else "FAILS"])
    return {"ok": ok, "rows": rows, "cases": len(rows)}


# -- effective weighted bias of the classical tables ----------------------------------------------------------

def weighted_bias_up_to_constant(table) -> tuple[float, float, float]:
    """``(lower, upper, c)`` for min_c sup_p p |B_g(p) + c - target(p)|: the weighted bias that matters to a
    trainer (an added constant changes neither the advantage nor the game, docs/advantages.md).

    ``upper``: the certified sup (Taylor models in Arb, :func:`estimators.aqp.certify.certify_bias`) of the
    table shifted by c, entries taken exactly. ``lower``: on a grid, phi(c) = max_i p_i |b_i + c| is the max of
    an increasing and a decreasing function of c; bisection brackets their crossing [c_lo, c_hi], and
    min_c phi >= max(U(c_lo), D(c_hi)), less the float64 engine's a-priori error bound at the points."""
    p = np.unique(np.concatenate([np.geomspace(1e-12, 1.0, 3000), np.linspace(0.0, 1.0, 2001)[1:]]))
    m = moments(table, p)
    b = np.asarray(m.bias)
    up_fn = lambda c: float(np.max(p * (b + c)))       # noqa: E731  increasing in c
    dn_fn = lambda c: float(np.max(-p * (b + c)))      # noqa: E731  decreasing in c
    lo, hi = float(-np.max(b)), float(-np.min(b))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if up_fn(mid) < dn_fn(mid) else (lo, mid)
    err = float(np.max(np.asarray(m.mean_err))) if np.size(m.mean_err) else 0.0
    lower = max(up_fn(lo), dn_fn(hi)) - err
    best = None
    for c in (0.5 * (lo + hi), 0.0):     # the grid's best constant, and none (a minimax table has its own)
        hints = list(p[::60]) + [float(p[int(np.argmax(np.abs(p * (b + c))))])]
        entries = [Fraction(float(v)) + Fraction(c) for v in table.values]
        ub = certify_bias(entries, target_for(table.generator), hints).upper
        if best is None or ub < best[0]:
            best = (ub, c)
    return lower, best[0], best[1]


def section_effective_bias(params, log) -> dict:
    """For each KL method and K: the table as used (decoupled), the same table under the baseline, the
    corrected table under the baseline, and the least any table reaches under it (E*_{K-1})."""
    rows, per = [], []
    for K in params["bias_K"]:
        best = minimax_solve("kl", K - 1)
        for method in params["bias_methods"]:
            if method == "minimax" and K > params["bias_minimax_K_max"]:
                continue        # the stored float64 minimax table is unusable there (C5)
            plain = build_table("kl", method, K)
            corrected = build_table("kl", method, K, advantage="rloo")
            as_used = weighted_bias_up_to_constant(plain)[:2]
            under = weighted_bias_up_to_constant(effective_table(plain, "rloo"))[:2]
            fixed = weighted_bias_up_to_constant(effective_table(corrected))[:2]
            per.append({"K": K, "method": method, "as_used": list(as_used), "plain_under_rloo": list(under),
                        "corrected_under_rloo": list(fixed), "E_star_K_minus_1": [best.lower, best.upper]})
            rows.append([K, method, f"{as_used[1]:.5g}", f"{under[1]:.5g}", f"{fixed[1]:.5g}",
                         f"{best.upper:.5g}"])
        log(f"  [C9] K={K}: effective weighted bias certified for {', '.join(params['bias_methods'])}")
    # nothing beats the optimum, and the corrected minimax table attains it
    good = [r["corrected_under_rloo"][1] >= r["E_star_K_minus_1"][0] * (1 - BELOW_OPTIMUM_SLACK)
            and (r["method"] != "minimax" or r["corrected_under_rloo"][1] <= r["E_star_K_minus_1"][1]
                 * (1 + MINIMAX_ATTAINS_TOL)) for r in per]
    return {"ok": all(good), "n_ok": sum(good), "per": per, "rows": rows}


# -- exactness of the corrected U-statistic ---------------------------------------------------------------------

def _polynomial_generators(rng: random.Random, n_random: int):
    gens = [get_generator("euclidean")] + [get_generator("power", alpha=a) for a in (2, 3, 4, 5)]
    for _ in range(n_random):
        d = rng.randint(1, 5)
        gens.append(get_generator("polynomial", coeffs=[F(rng.randint(-20, 20), rng.randint(1, 9))
                                                        for _ in range(d)] + [F(rng.randint(1, 9), 7)], of="reward"))
    return gens


def _shrunk(gen, n):
    """Monomial coefficients of the uncorrected U-statistic's effective mean: t_j (1 - j/n)."""
    return [c * (1 - F(j, n)) for j, c in enumerate(gen.target_coeffs)]


def section_exactness(params, rng: random.Random) -> dict:
    rows, ok, n_checks, n_ok = [], True, 0, 0
    for gen in _polynomial_generators(rng, params["exact_random"]):
        d = gen.degree
        Ks = [K for K in params["exact_K"] if K >= d + 2]
        good = bad = 0
        for K in Ks:
            eff = effective_table(build_table(gen, "ustat", K, advantage="rloo"))
            B = bernstein_to_monomial(list(eff.reference))
            want = list(gen.target_coeffs) + [F(0)] * (len(B) - len(gen.target_coeffs))
            plain = build_table(gen, "ustat", K)
            Bp = bernstein_to_monomial(lower_degree(effective_coefficients(list(plain.reference), "rloo")))
            shr = _shrunk(gen, K - 1)
            good += B == want
            bad += Bp == shr + [F(0)] * (len(Bp) - len(shr)) and (d == 0 or Bp != want)
            n_checks += 2
        ok &= good == len(Ks) and bad == len(Ks)
        n_ok += good + bad
        rows.append([gen.label() if gen.name != "polynomial" else f"polynomial, degree {d}",
                     f"{Ks[0]}–{Ks[-1]}" if Ks else "—", f"{good}/{len(Ks)}", f"{bad}/{len(Ks)}"])
    return {"ok": ok, "rows": rows, "checks": n_checks, "n_ok": n_ok}


# -- the least effective weighted bias, certified ---------------------------------------------------------------

def section_best_bias(params, log) -> dict:
    per, ok, n_ok = [], True, 0
    for K in params["best_K"]:
        r = minimax_solve("kl", K - 1)
        per.append({"K": K, "lower": r.lower, "upper": r.upper, "rel_gap": r.rel_gap})
        good = 0 < r.lower <= r.upper and r.rel_gap <= params["best_rel_gap"]
        ok &= good
        n_ok += good
    certs = []
    for K in params["minimax_cert_K"]:
        t = build_table("kl", "minimax", K, advantage="rloo")
        c = dict(t.certificate or {})
        inner = build_table("kl", "minimax", K - 1)
        same = list(effective_table(t).values) == list(inner.values)
        good = bool(c) and verify(t) and same and c.get("advantage") == "rloo" and c.get("effective_K") == K - 1
        ok &= good
        n_ok += good
        certs.append([K, f"{c['E_star_lower']:.10g}" if c else "none",
                      f"{c['stored_table_weighted_bias_upper']:.10g}" if c else "none", "yes" if good else "NO"])
    log(f"  [C9] E*_(K-1) certified for K = {params['best_K'][0]}..{params['best_K'][-1]}")
    return {"ok": ok, "per": per, "certs": certs, "n_ok": n_ok, "n": len(per) + len(certs)}


# -- the game under stock advantages ----------------------------------------------------------------------------

def _fixed_point_row(game, ps, gen, method, K, built_for, advantage):
    t = build_table(gen, method, K, advantage=built_for)
    e = table_equilibria(game, t, advantage, p_star=ps)
    return {"game": game.name, "method": method, "K": K, "built_for": built_for, "advantage": advantage,
            "tv": e["tv"][0], "p": np.asarray(e["fixed_points"][0]).tolist()}


def section_fixed_points(params, log) -> dict:
    rows = []
    for gname, gen, methods in (("euclidean", "euclidean", ("ustat",)), ("default", "kl", params["game_methods"])):
        game = get_game(gname)
        ps = optimum_summary(game)["p_star"]
        for K in params["game_K"]:
            for method in methods:
                for built_for in ("decoupled", "rloo"):
                    for adv in ("decoupled", "rloo"):
                        rows.append(_fixed_point_row(game, ps, gen, method, K, built_for, adv))
            for method in methods[:1]:
                if K in params["grpo_K"]:
                    rows.append(_fixed_point_row(game, ps, gen, method, K, "decoupled", "grpo"))
        log(f"  [C9] {gname} game: fixed points for K = {params['game_K']}")
    unbiased = [r for r in rows if r["game"] == "euclidean" and r["advantage"] == r["built_for"]]
    stock_plain = [r for r in rows if r["game"] == "euclidean" and r["built_for"] == "decoupled"
                   and r["advantage"] == "rloo"]
    # the corrected table under rloo is the K - 1 table as used: same marginal, same fixed point
    consistency = _corrected_equals_smaller_K(rows)
    ok = (all(r["tv"] <= params["pstar_tv"] for r in unbiased) and all(r["tv"] >= params["biased_tv"]
                                                                       for r in stock_plain) and consistency)
    return {"ok": ok, "rows": rows, "consistent": consistency, "unbiased_tv": [r["tv"] for r in unbiased],
            "stock_tv": [r["tv"] for r in stock_plain]}


def _corrected_equals_smaller_K(rows) -> bool:
    """The corrected table under ``rloo`` has the fixed point of the method's (K - 1)-table used as it is."""
    for r in rows:
        if r["built_for"] == "rloo" and r["advantage"] == "rloo":
            game = get_game(r["game"])
            other = _fixed_point_row(game, None, game.generator, r["method"], r["K"] - 1, "decoupled", "decoupled")
            if total_variation(r["p"], other["p"]) > SMALLER_K_TV:
                return False
    return True


# -- Monte Carlo: the trainer's advantages per answer --------------------------------------------------------------

def simulate_advantages(table, r, beta, probs, n_groups, seed, kind="rloo", batch=1 << 16):
    """Mean advantage per answer and its standard error over ``n_groups`` sampled groups (numpy, seeded)."""
    rng = np.random.default_rng(seed)
    K, m = table.K, len(probs)
    g = np.asarray(table.values)
    s1, s2, cnt = np.zeros(m), np.zeros(m), np.zeros(m)
    done = 0
    while done < n_groups:
        b = min(batch, n_groups - done)
        z = rng.choice(m, size=(b, K), p=probs)
        C = (z[:, :, None] == z[:, None, :]).sum(-1) - 1
        R = np.asarray(r)[z] - beta * g[C]
        A = R - (R.sum(1, keepdims=True) - R) / (K - 1) if kind == "rloo" else R - R.mean(1, keepdims=True)
        for a in range(m):
            sel = z == a
            s1[a] += A[sel].sum()
            s2[a] += (A[sel] ** 2).sum()
            cnt[a] += sel.sum()
        done += b
    mean = s1 / cnt
    se = np.sqrt((s2 / cnt - mean ** 2) / cnt)
    return mean, se


def section_monte_carlo(params, seed: int) -> dict:
    """Differences of the mean advantage between answers against the theorem's prediction (so the unknown
    constant cancels); a normal interval per difference, Bonferroni over all differences of the run."""
    from scipy import stats
    probs, r, beta = np.array(params["mc_probs"]), np.array(params["mc_rewards"]), params["mc_beta"]
    cases = [(K, bf) for K in params["mc_K"] for bf in ("decoupled", "rloo")]
    n_tests = len(cases) * (len(probs) - 1)
    zc = float(stats.norm.isf(params["mc_alpha"] / (2 * n_tests)))
    rows, out = [], []
    for i, (K, bf) in enumerate(cases):
        t = build_table("euclidean", "ustat", K, advantage=bf)
        mean, se = simulate_advantages(t, r, beta, probs, params["mc_groups"], seed + i)
        pred = r - beta * probs                      # what an unbiased effective estimate gives (target p)
        d_obs, d_pred = mean - mean[-1], pred - pred[-1]
        z = (d_obs[:-1] - d_pred[:-1]) / np.sqrt(se[:-1] ** 2 + se[-1] ** 2)
        within = bool(np.all(np.abs(z) <= zc))
        out.append({"K": K, "built_for": bf, "max_abs_z": float(np.max(np.abs(z))), "within": within})
        rows.append([K, bf, params["mc_groups"], f"{d_obs[0]:.4f}", f"{d_pred[0]:.4f}", f"{np.max(np.abs(z)):.1f}",
                     f"{zc:.2f}", "yes" if within else "no"])
    good = [o["within"] == (o["built_for"] == "rloo") for o in out]
    return {"ok": all(good), "n_ok": sum(good), "rows": rows, "per": out, "z_crit": zc}


# -- the game predicts a real trainer (alft trainer-check) ------------------------------------------------------

def section_trainer(params, log) -> dict | None:
    """TRL / verl training runs of :mod:`proofs_numeric.trainer_check` for ``params["trainer_pairs"]``: each side
    lands on its own predicted fixed point and away from the other's. None when the profile lists no pair; a
    ``skipped`` reason when the trainers are not installed (``pip install -e ".[integration]"``)."""
    names = params.get("trainer_pairs") or []
    if not names:
        return None
    try:
        import trl  # noqa: F401
        import verl  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"the trainers are not installed ({exc.name}); pip install -e '.[integration]'"}
    from .trainer_check.cases import get_pair
    from .trainer_check.suite import run_pair
    per, rows = [], []
    for name in names:
        r = run_pair(get_pair(name), seeds=params["trainer_seeds"], steps=params["trainer_steps"], log=log)
        per.append({"pair": name, "agrees": bool(r["agrees"]), "tv_between_predictions": r["tv_between_predictions"],
                    "sides": [{"label": sd["label"], "tv_to_own": sd["tv_trained_to_predicted"],
                               "tv_to_other": sd["tv_trained_to_other"]} for sd in r["sides"]]})
        for sd in r["sides"]:
            own, oth = sd["tv_trained_to_predicted"], sd["tv_trained_to_other"]
            rows.append([name, sd["label"], f"{r['tv_between_predictions']:.4f}", _tv_text(own), _tv_text(oth),
                         "yes" if sd["verdict"]["agrees"] else "no"])
        log(f"  [C9] trainer-check {name}: agrees = {r['agrees']}")
    return {"per": per, "rows": rows, "n_ok": sum(p["agrees"] for p in per)}


def _tv_text(d) -> str:
    return f"{d['tv']:.4f} [{d['tv_lower']:.4f}, {d['tv_upper']:.4f}]"


# -- plots ---------------------------------------------------------------------------------------------------

def _plot_effective_bias(per, ctx):
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    styles = {"plugin": ("C0", "o"), "jackknife": ("C1", "s"), "minimax": ("C2", "^")}
    for method, (col, mk) in styles.items():
        sel = [r for r in per if r["method"] == method]
        if not sel:
            continue
        Ks = [r["K"] for r in sel]
        ax.loglog(Ks, [r["plain_under_rloo"][1] for r in sel], color=col, marker=mk, ls="--", mfc="none",
                  label=f"{method_label(method)}: as is, under the baseline")
        ax.loglog(Ks, [r["corrected_under_rloo"][1] for r in sel], color=col, marker=mk, ls="-",
                  label=f"{method_label(method)}: corrected, under the baseline")
    sel = [r for r in per if r["method"] == per[0]["method"]]
    ax.loglog([r["K"] for r in sel], [r["E_star_K_minus_1"][1] for r in sel], "k:", lw=2,
              label=r"least reachable, $E^*_{K-1}$", zorder=5)
    log_K_axis(ax, sorted({r["K"] for r in per}))
    ax.set_xlabel("group size K")
    ax.set_ylabel("effective weighted bias (certified)")
    ax.set_title("C9: weighted bias of what the trainer applies (leave-one-out baseline)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save_figure(fig, ctx.plot_path("c9_effective_bias.png"))


def _plot_fixed_points(rows, ctx):
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    sel = [r for r in rows if r["game"] == "euclidean"]
    combos = [("decoupled", "decoupled", "C0", "o", "-"), ("decoupled", "rloo", "C3", "s", "--"),
              ("rloo", "rloo", "C2", "^", "-"), ("rloo", "decoupled", "C1", "v", ":"),
              ("decoupled", "grpo", "C4", "D", "-.")]
    for bf, adv, col, mk, ls in combos:
        pts = [(r["K"], max(r["tv"], 1e-17)) for r in sel if r["built_for"] == bf and r["advantage"] == adv]
        if pts:
            ax.loglog(*zip(*pts), color=col, marker=mk, ls=ls,
                      label=f"table for {advantage_label(bf)}, trainer {advantage_label(adv)}")
    ax.axhline(1e-12, color="grey", lw=0.8)
    ax.text(sel[0]["K"], 2e-12, "reaches p* (TV at rounding level)", fontsize=7, color="grey")
    log_K_axis(ax, sorted({r["K"] for r in sel}))
    ax.set_xlabel("group size K")
    ax.set_ylabel("TV(fixed point, p*)")
    ax.set_title("C9: Euclidean game, U-statistic: the corrected table reaches p* under the baseline")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save_figure(fig, ctx.plot_path("c9_fixed_points.png"))


# -- the claim ------------------------------------------------------------------------------------------------------

def run(params, ctx) -> ClaimResult:
    rng = random.Random(ctx.seed + 9)
    sec = {"thm": section_theorem(params, rng), "exactness": section_exactness(params, rng),
           "bias": section_effective_bias(params, ctx.log), "best": section_best_bias(params, ctx.log),
           "fps": section_fixed_points(params, ctx.log), "mc": section_monte_carlo(params, ctx.seed + 90),
           "aqp": section_aqp_rloo(params, ctx.log), "trainer": section_trainer(params, ctx.log)}
    criteria = (_criteria(params, sec["thm"], sec["exactness"], sec["bias"], sec["best"], sec["fps"], sec["mc"])
                + aqp_rloo_criteria(sec["aqp"]) + _trainer_criteria(sec["trainer"]))
    plots = [p for p in (_plot_effective_bias(sec["bias"]["per"], ctx), _plot_fixed_points(sec["fps"]["rows"], ctx))
             if p]
    fps = sec["fps"]
    return ClaimResult(
        id="C9", title=CLAIM.title, status=verdict(criteria), criteria=criteria, summary=_summary(params, sec),
        figures=_figures(sec, aqp_rloo_criteria(sec["aqp"])), accuracy=_accuracy(params), tables=_tables(sec),
        plots=plots,
        captions={
            "c9_effective_bias.png": _bias_caption(sec["bias"]["per"]),
            "c9_fixed_points.png": (f"Euclidean game: the U-statistic built for the trainer's baseline reaches p* "
                                    f"(TV <= {max(fps['unbiased_tv']):.1e}); used under the other baseline it "
                                    f"settles at least {min(fps['stock_tv']):.2g} away (TV)."),
        },
        notes=[
            "Theorem 1 is proved in docs/advantages.md; the enumeration checks instances exactly.",
            "The group std (grpo) has no table-only correction; its fixed points are measured by exact enumeration.",
            "Monte Carlo: the uncorrected table must be rejected and the corrected one accepted (a test with power).",
        ] + _trainer_notes(sec["trainer"]),
    )


def _summary(params, sec) -> str:
    thm, aqp = sec["thm"], sec["aqp"]
    eu = {(r["K"], r["built_for"], r["advantage"]): r["tv"] for r in sec["fps"]["rows"] if r["game"] == "euclidean"}
    K0 = params["game_K"][1]
    return (f"A leave-one-out or group-mean baseline makes the trainer apply g(0..K−2) as a table for K − 1 "
            f"samples: exact in all {thm['cases']} enumerated cases. C1's U-statistic is then biased (Euclidean "
            f"game, K = {K0}: fixed point TV {eu[(K0, 'decoupled', 'rloo')]:.4f} from p*); the corrected table "
            f"reaches p* (TV {eu[(K0, 'rloo', 'rloo')]:.1e}). The least reachable effective weighted bias is "
            f"E* of K − 1 samples, certified for K = {params['best_K'][0]}–{params['best_K'][-1]}. AQP under the "
            f"baseline: {aqp['loaded']} shipped tables loaded (K = {aqp['Ks'][0]}–{aqp['Ks'][1]}, "
            f"{aqp['refused']} refused), {len(aqp['verified'])} certificates recomputed from their values.")


def _figures(sec, aqp_criteria) -> dict:
    thm, exactness, bias, best, fps, mc, aqp, trainer = (sec[k] for k in ("thm", "exactness", "bias", "best", "fps",
                                                                           "mc", "aqp", "trainer"))
    checks = {"theorem_by_enumeration": thm["ok"], "corrected_ustat_exact": exactness["ok"],
              "effective_bias_above_optimum": bias["ok"], "best_bias_certified": best["ok"],
              "fixed_points": fps["ok"], "monte_carlo": mc["ok"],
              "aqp_rloo_certified": all(c.met for c in aqp_criteria)}
    return {"checks": checks, "theorem_cases": thm["cases"], "exactness_checks": exactness["checks"],
            "effective_bias": bias["per"], "best_effective_bias": best["per"],
            "fixed_points": [{k: v for k, v in r.items() if k != "p"} for r in fps["rows"]],
            "monte_carlo": mc["per"],
            "aqp_rloo": {"loaded": aqp["loaded"], "refused": aqp["refused"], "n_files": aqp["n_files"],
                         "refused_by_cause": aqp["refused_by_cause"],
                         "verified": [{k: v for k, v in r.items() if k != "problems"} | {"ok": not r["problems"]}
                                      for r in aqp["verified"]]},
            "trainer_check": None if trainer is None else trainer.get("per", trainer)}


def _accuracy(params) -> dict:
    return {
        "theorem": "exact rational arithmetic over every composition of the group (no rounding)",
        "effective bias": ("min over constants c of sup_p p|B + c − target|: upper end certified (Taylor models in Arb, "
                           "the stored table shifted by c exactly); lower end a grid bound less the float64 engine's "
                           "a-priori error"),
        "least effective bias": "certified bracket of E* for K − 1 samples (de la Vallée Poussin below, Taylor models above)",
        "fixed points": "KKT points checked exactly (rationals) or at 50 digits; GRPO by exact enumeration",
        "Monte Carlo": (f"{params['mc_groups']} groups per case, normal intervals, Bonferroni, family-wise "
                        f"false-alarm rate {params['mc_alpha']}"),
        "AQP under the baseline": ("advantage variance exact (rationals, rounded outward); optimum bounded below "
                                   "by weak duality in Arb from the stored multipliers; effective bias sup by "
                                   "Taylor models in Arb; all recomputed from the values in this run"),
    }


def _tables(sec) -> list:
    thm, exactness, bias, best, fps, mc, trainer = (sec[k] for k in ("thm", "exactness", "bias", "best", "fps", "mc",
                                                                      "trainer"))
    aqp_per_eps, aqp_rows = aqp_rloo_tables(sec["aqp"])
    return [
        ReportTable("Theorem 1 by exact enumeration", ["K", "answers", "baseline", "compositions", "identity"],
                    thm["rows"]),
        ReportTable("Corrected U-statistic after the baseline (exact rationals)",
                    ["reward", "K", "corrected: unbiased", "uncorrected: shrunk by (1 − j/n)"], exactness["rows"]),
        ReportTable("Effective weighted bias of KL tables, up to the best constant (certified upper ends)",
                    ["K", "method", "as used (no baseline)", "as is, under the baseline",
                     "corrected, under the baseline", "least reachable: E* for K − 1"], bias["rows"]),
        ReportTable("Corrected minimax tables: certificate restated for the effective table",
                    ["K", "E* for K − 1: lower end", "stored effective bias: upper end", "bound and verified"],
                    best["certs"]),
        ReportTable("AQP under the baseline: the shipped set (KL), certified and refused K per budget",
                    ["eps", "K certified", "K refused (cause)"], aqp_per_eps),
        ReportTable("AQP under the baseline: certificates recomputed from the values",
                    ["K", "eps", "advantage variance (upper end)", "optimum: lower bound", "gap",
                     "effective bias: upper end", "budget", "agrees"], aqp_rows),
        ReportTable("AQP under the baseline: every shipped table, its advantage variance exact and its budget "
                    "recomputed in this run (the sample above has every figure of its certificate recomputed)",
                    ["K", "eps", "advantage variance (exact)", "budget (1 + ε) E* for K − 1, lower end",
                     "in its certificate"], sec["aqp"]["brackets"]),
        ReportTable("Least effective weighted bias under the baseline: E* for K − 1 samples (certified bracket)",
                    ["K", "E* for K − 1: lower end", "relative width to the upper end"],
                    [[r["K"], f"{r['lower']:.9g}", f"{r['rel_gap']:.2g}"] for r in best["per"]]),
        ReportTable("Fixed points under the stock advantages (exact)",
                    ["game", "method", "K", "table built for", "trainer's advantage", "TV to p*"],
                    [[r["game"], r["method"], r["K"], r["built_for"], r["advantage"], f"{r['tv']:.4g}"]
                     for r in fps["rows"]]),
        ReportTable("Monte Carlo: mean advantage gap between the first and last answer (leave-one-out)",
                    ["K", "table built for", "groups", "gap observed", "gap if unbiased", "max |z|", "z crit",
                     "consistent"], mc["rows"]),
    ] + ([ReportTable("The game predicts the trainer: TRL / verl runs against the exact fixed points",
                      ["pair", "side", "TV between predictions", "TV to own prediction [95%]",
                       "TV to the other's [95%]", "agrees"], trainer["rows"])]
         if trainer and "rows" in trainer else [])


def _bias_caption(per) -> str:
    r = max(per, key=lambda x: (x["method"] == "plugin", x["K"]))
    return (f"Under the leave-one-out baseline (certified upper ends; K = {r['K']}, {method_label(r['method'])}): "
            f"effective weighted bias {r['plain_under_rloo'][1]:.4g} as is, {r['corrected_under_rloo'][1]:.4g} "
            f"corrected; no table goes below E* for K - 1 samples, {r['E_star_K_minus_1'][1]:.4g}.")


def _trainer_notes(trainer) -> list:
    if trainer is None:
        return ["Real trainers (TRL, verl) are checked against these fixed points by `alft trainer-check` "
                "(its guide is in the docs folder) and in the full profile."]
    if "skipped" in trainer:
        return [f"The trainer check of this profile did not run: {trainer['skipped']}."]
    return []


def _trainer_criteria(trainer) -> list:
    if not trainer or "skipped" in trainer:
        return []
    return [every("the game predicts the trainer", "in each pair trained with TRL or verl, each side's end point is "
                  "within its interval of its own predicted fixed point and measurably away from the other side's",
                  trainer["n_ok"], len(trainer["per"]))]


def _criteria(params, thm, exactness, bias, best, fps, mc) -> list:
    """What the C9 verdict requires, with the profile's numbers."""
    ks = lambda key: ", ".join(map(str, params[key]))   # noqa: E731
    return [
        every("theorem by enumeration", f"for each K = {ks('enum_K')}, each number of answers ({ks('enum_m')}) and "
              "each baseline (leave-one-out, group mean) the expected advantage is r - beta B_h plus a constant, "
              "exactly over every group composition", sum(r[-1] == "exact" for r in thm["rows"]), thm["cases"]),
        every("corrected U-statistic", f"for each polynomial reward and K = {ks('exact_K')} the corrected table is "
              "unbiased under the baseline and the uncorrected one is shrunk by (1 - j/n), in exact rationals",
              exactness["n_ok"], exactness["checks"]),
        every("nothing beats the optimum", f"each corrected KL table's certified effective bias (K = {ks('bias_K')}) "
              f"is at least E* for K - 1 samples (to {num(BELOW_OPTIMUM_SLACK)}), the corrected minimax table's at most "
              f"it (to {num(MINIMAX_ATTAINS_TOL)})", bias["n_ok"], len(bias["per"])),
        every("least bias certified", f"E* for K - 1 samples is certified positive with relative width <= "
              f"{num(params['best_rel_gap'])} at each K = {params['best_K'][0]}..{params['best_K'][-1]}, and each "
              f"corrected minimax table's restated certificate verifies (K = {ks('minimax_cert_K')})",
              best["n_ok"], best["n"]),
        at_most("corrected table reaches p*", "largest TV to p* of a U-statistic built for the trainer's baseline "
                "(Euclidean game)", max(fps["unbiased_tv"]), params["pstar_tv"], fmt=".1e"),
        at_least("stock baseline biases", "smallest TV to p* of the plain U-statistic under the leave-one-out "
                 "baseline (Euclidean game)", min(fps["stock_tv"]), params["biased_tv"], fmt=".3g"),
        holds("corrected = K - 1 table", f"under the baseline each corrected table has the fixed point of the "
              f"method's (K - 1)-sample table (TV <= {num(SMALLER_K_TV)})", fps["consistent"],
              "holds" if fps["consistent"] else "fails"),
        every("Monte Carlo", f"in each case the trainer's sampled advantages reject the uncorrected table and accept "
              f"the corrected one (Bonferroni, family-wise false-alarm rate {params['mc_alpha']:g})",
              mc["n_ok"], len(mc["per"])),
    ]


REGRESSION = (
    exact("checks", "every check's verdict"),
    exact("theorem_cases", "number of exact enumeration cases"),
    relative("effective_bias[*]/as_used", 1e-9, "certified Arb bracket, rounded outward"),
    relative("effective_bias[*]/plain_under_rloo", 1e-9, "certified Arb bracket, rounded outward"),
    relative("effective_bias[*]/corrected_under_rloo", 1e-9, "certified Arb bracket, rounded outward"),
    relative("best_effective_bias[*]/upper", 1e-9, "certified E*_(K-1) upper end"),
    exact("aqp_rloo/loaded", "number of shipped AQP tables for the baseline"),
    relative("aqp_rloo/verified[*]/V_adv", 2e-3, "a rebuild reproduces the set within the optimality gap (1e-3)"),
    relative("fixed_points[*]/tv", 1e-6, "exact KKT points (float64 coordinates)"),
    table("Fixed points under the stock advantages", "every fixed point, cell by cell"),
)

#: a corrected table's certified effective bias may undercut E*_(K-1)'s lower end only by this (relative)
BELOW_OPTIMUM_SLACK = 1e-9
#: the corrected minimax table must attain E*_(K-1)'s upper end to this (relative)
MINIMAX_ATTAINS_TOL = 1e-6
#: the corrected table under the baseline and the (K-1)-sample table have the same fixed point to this TV
SMALLER_K_TV = 1e-9

_COMMON = {"enum_m": [2, 3], "exact_random": 4, "mc_probs": [0.5, 0.3, 0.2], "mc_rewards": [1.0, 0.6, 0.3],
           "mc_beta": 1.0, "mc_alpha": 1e-3, "pstar_tv": 1e-9, "biased_tv": 1e-4, "best_rel_gap": 1e-9,
           "game_methods": ("plugin", "jackknife", "minimax"), "bias_methods": ["plugin", "jackknife", "minimax"],
           "bias_minimax_K_max": 32, "aqp_gap_tol": 1e-3}

CLAIM = ClaimSpec(
    id="C9", title="What stock trainers optimise: baselines that see the sample, and baseline-aware tables", run=run,
    regression=REGRESSION,
    statement=("A baseline that sees the sample (leave-one-out or group mean) makes the trainer apply g(0..K-2) as a "
               "table for K - 1 samples; correcting the table for it restores unbiasedness, and E* of K - 1 samples "
               "is the least bias reachable."),
    key_figure=KeyFigure("corrected U-statistic", lambda f: (
        f"exact after the baseline; theorem exact in {f['theorem_cases']} enumerated cases"),
        accuracy="exact rational arithmetic (enumeration of every group composition)"),
    profiles={
        "quick": {**_COMMON, "enum_K": [2, 3, 4], "exact_K": [4, 6, 8], "bias_K": [4, 16], "best_K": [3, 4, 8, 16],
                  "minimax_cert_K": [8], "game_K": [4, 8], "grpo_K": [4], "mc_K": [8], "mc_groups": 100_000,
                  "aqp_K_max": 8, "aqp_verify": [[4, 1.0], [8, 10.0]], "aqp_verify_bias": [[4, 1.0]]},
        "default": {**_COMMON, "enum_K": [2, 3, 4, 5, 6], "exact_K": [3, 4, 5, 6, 8, 12, 16, 32],
                    "bias_K": [4, 8, 16, 32, 64, 128], "best_K": list(range(3, 129)),
                    "minimax_cert_K": [4, 8, 16, 24], "game_K": [3, 4, 8, 16, 32], "grpo_K": [4, 8, 16],
                    "mc_K": [8, 32], "mc_groups": 400_000, "aqp_K_max": 128,
                    "aqp_verify": [[3, 1.0], [4, 0.1], [8, 1.0], [16, 0.3], [32, 10.0], [64, 3.0], [128, 30.0]],
                    "aqp_verify_bias": [[3, 1.0], [4, 0.1], [8, 1.0], [16, 0.3]]},
        "full": {**_COMMON, "enum_K": [2, 3, 4, 5, 6, 7, 8], "exact_K": [3, 4, 5, 6, 8, 12, 16, 32, 64],
                 "bias_K": [4, 8, 16, 32, 64, 128], "best_K": list(range(3, 129)),
                 "minimax_cert_K": [4, 8, 16, 24, 32, 64], "game_K": [3, 4, 8, 16, 32, 64], "grpo_K": [4, 8, 16, 32],
                 "mc_K": [4, 8, 32], "mc_groups": 2_000_000, "aqp_K_max": 128,
                 "aqp_verify": [[K, e] for K in (3, 4, 8, 16, 32, 64, 96, 128) for e in (0.1, 1.0, 10.0, 100.0)],
                 "aqp_verify_bias": [[K, e] for K in (3, 4, 8, 16, 32) for e in (0.1, 1.0, 10.0, 100.0)],
                 "trainer_pairs": ["euclidean-K4-ustat", "kl-K8-jackknife-aqp", "verl-euclidean-K4-ustat"],
                 "trainer_seeds": 4, "trainer_steps": 100},
    },
)
