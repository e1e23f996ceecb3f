"""C2 -- impossibility for KL, and the Theta(1/K) weighted bias of the plug-in log((c+1)/K).

Impossibility (certified in Arb ball arithmetic): p*B_g(p) is a polynomial of degree <= K
vanishing at 0, so its (K+1)-th divided difference over any K+2 nodes 0 = x_0 < ... < x_{K+1}
is zero, while that of f(p) = p log p is f^(K+1)(xi)/(K+1)! = (-1)^(K-1)/(K(K+1) xi^K) != 0.
Hence for *every* table, max_j |p B_g - f|(x_j) >= |f[x_0..x_{K+1}]| / sum_j |w_j|
(w_j the divided-difference weights): a positive, certified lower bound on E*_K.

Rate: the plug-in's weighted bias sup is bracketed per K with every rounding enclosed
(:mod:`estimators.certified.supnorm`: the weighted bias evaluated in Arb balls at exact points gives the
lower end, a second-derivative bound per interval in Arb the upper end) and both ends are fitted
on log-log axes (slope ~ -1).
"""
from __future__ import annotations

import math

import numpy as np
from flint import arb, ctx as flint_ctx, fmpq

from estimators import build_table, moments
from estimators.minimax.certify import float_down
from estimators.certified.supnorm import weighted_bias_bracket
from estimators.montecarlo import monte_carlo

from .criteria import at_least, every, verdict, within
from .fitting import loglog_slope
from .plotting import FIT_ZORDER, legend_outside, log_K_axis, plt, save_figure, style
from .regression.spec import exact, relative, table
from .result import ClaimResult, ClaimSpec, KeyFigure, ReportTable

__all__ = ["CLAIM", "divided_difference_lower_bound"]


def _nodes(K: int) -> list[fmpq]:
    """K+2 distinct nodes in [0, 1], Chebyshev-Lobatto-like (clustered at 0 and 1), exact dyadics."""
    m = K + 1
    pts = []
    for j in range(m + 1):
        x = (1 - math.cos(math.pi * j / m)) / 2
        pts.append(fmpq(round(x * 2 ** 40), 2 ** 40))
    assert len(set(pts)) == len(pts)
    return pts


def divided_difference_lower_bound(K: int, prec_bits: int = 256) -> tuple[float, float]:
    """Certified lower bound (Arb) on min over tables of max_j |p B_g(p) - p log p| at K+2 nodes.

    Returns ``(lower_bound_as_float_rounded_down, divided_difference_midpoint)``.
    """
    old = flint_ctx.prec
    try:
        flint_ctx.prec = prec_bits
        x = _nodes(K)
        dd = arb(0)
        wsum = arb(0)
        for j, xj in enumerate(x):
            w = arb(1)
            for i, xi in enumerate(x):
                if i != j:
                    w *= arb(xj - xi)
            fj = arb(0) if xj == 0 else arb(xj) * arb(xj).log()
            dd += fj / w
            wsum += 1 / abs(w)
        bound = abs(dd) / wsum
        # the largest float64 below the ball's lower end: a rigorous lower bound
        return float_down(bound), float(dd.mid())
    finally:
        flint_ctx.prec = old


def _brackets(params, ctx) -> dict:
    """Per K: the certified bracket of the plug-in's weighted bias, and the bound for any table."""
    rows, lower, upper, argmax = [], [], [], []
    impossibility = {}
    for K in params["K"]:
        t = build_table("kl", "plugin", K)
        br = weighted_bias_bracket(t, rel_tol=params["rel_tol"])
        lb, _ = divided_difference_lower_bound(K)
        impossibility[K] = lb
        lower.append(br.lower)
        upper.append(br.upper)
        argmax.append(br.argmax)
        rows.append([K, f"{br.lower:.6e}", f"{br.upper:.6e}", f"{K * br.lower:.5f}", f"{br.argmax * K:.4f}",
                     f"{lb:.3e}", br.n_points])
        ctx.log(f"[C2] K={K}: plug-in sup p|b| in [{br.lower:.4e}, {br.upper:.4e}], "
                f"K*sup={K * br.lower:.4f}; any-table lower bound {lb:.2e}")
    return {"rows": rows, "lower": lower, "upper": upper, "argmax": argmax, "impossibility": impossibility}


def _monte_carlo(params, ctx) -> tuple[list, int]:
    """Monte Carlo against the exact moments for the KL tables (plug-in and jackknife)."""
    rows, n_ok = [], 0
    rng_seed = ctx.seed
    for K in params["mc_K"]:
        for method in ("plugin", "jackknife"):
            t = build_table("kl", method, K)
            probs = np.array(params["mc_probs"])
            res = monte_carlo(t, probs, params["mc_groups"], seed=rng_seed, alpha=params["mc_alpha"])
            ex = moments(t, probs)
            cmp_ = res.compare(ex.mean, ex.var)
            n_ok += bool(cmp_.all_within)
            rows.append([K, method, res.n_groups, f"{np.max(np.abs(cmp_.z_mean)):.2f}",
                         f"{np.max(np.abs(cmp_.z_var)):.2f}", f"{res.z_crit:.2f}", "yes" if cmp_.all_within else "NO"])
            rng_seed += 1
    return rows, n_ok


def _accuracy(params) -> dict:
    return {
        "plug-in's weighted bias, lower end": ("certified: |p b_g(p)| evaluated in Arb ball arithmetic at exact "
                                               "float64 points (a grid refined by a bounded scalar search), the "
                                               "largest lower end of the balls, rounded down to float64"),
        "plug-in's weighted bias, upper end": (f"certified: on every interval of an adaptive partition of [0, 1], the "
                                               f"linear interpolant of the Arb end values plus h^2/8 sup|W''| "
                                               f"(Bernstein derivative bounds, all in Arb), refined until upper/lower "
                                               f"- 1 <= {params['rel_tol']}, rounded up to float64"),
        "bound for any table": ("divided difference of p log p over K + 2 nodes in Arb ball arithmetic at 256 "
                                "bits, rounded down: rigorous"),
        "Monte Carlo": (f"{params['mc_groups']} groups per case, normal intervals, Bonferroni, family-wise "
                        f"false-alarm rate {params['mc_alpha']} per run"),
    }


_NOTES = [
    "Impossibility is a theorem (B_g is a polynomial, log is not); the Arb bound makes it quantitative: "
    "no table of size K has weighted bias below the 'bound for any table' column.",
    "Both ends of the plug-in bracket are rigorous: every value and every bound is an Arb ball (no float64 "
    "rounding is left unenclosed), rounded outward to float64.",
    "Theta(1/K) is supported numerically by both ends of a certified bracket; the slope fit is empirical.",
]


def run(params, ctx) -> ClaimResult:
    Ks = list(params["K"])
    br = _brackets(params, ctx)
    lower, upper, impossibility = br["lower"], br["upper"], br["impossibility"]
    fit_lo = loglog_slope(Ks, lower, K_min=params["fit_K_min"])
    fit_hi = loglog_slope(Ks, upper, K_min=params["fit_K_min"])
    mc_rows, mc_n_ok = _monte_carlo(params, ctx)
    K_fit = f"K = {fit_lo.K_range[0]:g}..{fit_lo.K_range[1]:g}"
    criteria = [
        at_least("impossibility", f"certified lower bound on the weighted bias of any table, smallest over "
                 f"K = {Ks[0]}..{Ks[-1]}", min(impossibility.values()), 0.0, strict=True, fmt=".3e"),
        every("brackets", "at each K the certified bracket of the plug-in's weighted bias is ordered (lower <= "
              "upper)", sum(lo <= hi for lo, hi in zip(lower, upper)), len(Ks)),
        within("plug-in rate", f"log-log slope of the plug-in's weighted bias, fitted over {K_fit}",
               {"lower ends": fit_lo.slope, "upper ends": fit_hi.slope}, params["slope_range"], fmt=".3f"),
        every("Monte Carlo", "each Monte Carlo interval (plug-in and jackknife, per K) contains the exact mean "
              "and variance", mc_n_ok, len(mc_rows)),
    ]
    plots = _plots(ctx, params, Ks, lower, upper, fit_lo)
    captions = {
        "c2_plugin_weighted_bias_vs_p.png": (
            "The plug-in's weighted bias p b(p) is largest at p of order 1/K (its peak moves left as K grows) and "
            f"shrinks like 1/K: K times its sup tends to {Ks[-1] * lower[-1]:.3f} (K = {Ks[-1]})."),
        "c2_plugin_bias_vs_K.png": (
            f"Both ends of the certified bracket fall with log-log slope {fit_lo.slope:.3f} over {K_fit}: "
            "the plug-in's weighted bias is Theta(1/K)."),
    }
    return ClaimResult(
        id="C2", title=CLAIM.title, status=verdict(criteria),
        summary=(f"No table is unbiased for log p: every table of size K has weighted bias at least a certified "
                 f"positive bound, at each K = {Ks[0]}..{Ks[-1]}. The plug-in's weighted bias falls with log-log "
                 f"slope {fit_lo.slope:.3f} +- {fit_lo.slope_se:.3f} (lower ends of the certified brackets) and "
                 f"{fit_hi.slope:.3f} (upper ends) over {K_fit}; K times it approaches {Ks[-1] * lower[-1]:.3f} at "
                 f"K = {Ks[-1]}."),
        criteria=criteria,
        figures={
            "per_K": [{"K": K, "sup_weighted_bias_lower": lo, "sup_weighted_bias_upper": hi, "argmax_p": am,
                       "K_times_sup": K * lo, "any_table_lower_bound": impossibility[K]}
                      for K, lo, hi, am in zip(Ks, lower, upper, br["argmax"])],
            "slope_fit_lower": fit_lo.to_json(),
            "slope_fit_upper": fit_hi.to_json(),
            "monte_carlo_all_within": mc_n_ok == len(mc_rows),
        },
        accuracy=_accuracy(params),
        tables=[
            ReportTable("Plug-in weighted bias per K", ["K", "sup ≥", "sup ≤", "K · sup", "K · argmax p",
                                                          "bound for any table", "grid points"], br["rows"]),
            ReportTable("Monte Carlo vs exact moments (KL tables)",
                        ["K", "method", "groups", "max |z| mean", "max |z| var", "z crit", "within"], mc_rows),
        ],
        plots=[p for p in plots if p], captions=captions, notes=list(_NOTES),
    )


def _plots(ctx, params, Ks, lower, upper, fit) -> list:
    """p b(p) of the plug-in for a few K, and the certified bracket of its sup against K with the fit."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    p = np.geomspace(1e-5, 1, 2000)
    for i, K in enumerate(params["plot_K"]):
        t = build_table("kl", "plugin", K)
        ax.plot(p, moments(t, p).weighted_bias, markevery=200, ms=4, label=f"K = {K}", **style(i))
    ax.axhline(0.0, color="0.5", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("answer probability p")
    ax.set_ylabel(r"weighted bias $p\,b(p)$ of the plug-in")
    ax.set_title("C2: plug-in weighted bias against p")
    legend_outside(ax)
    out = [save_figure(fig, ctx.plot_path("c2_plugin_weighted_bias_vs_p.png"))]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(Ks, upper, ms=4, label="certified upper end", **style(0, line=False))
    ax.plot(Ks, lower, ms=4, mfc="none", label="certified lower end", **style(1, line=False))
    Kf = np.array([K for K in Ks if K >= fit.K_range[0]], dtype=float)
    ax.plot(Kf, np.exp(fit.intercept) * Kf ** fit.slope, "k-", lw=1.2, zorder=FIT_ZORDER,
            label=f"fit: slope {fit.slope:.3f} (K ≥ {fit.K_range[0]:g})")
    ax.set_yscale("log")
    log_K_axis(ax, Ks)
    ax.set_xlabel("group size K")
    ax.set_ylabel(r"$\sup_p\, p\,|b(p)|$ of the plug-in")
    ax.set_title("C2: plug-in weighted bias against K")
    legend_outside(ax)
    out.append(save_figure(fig, ctx.plot_path("c2_plugin_bias_vs_K.png")))
    return out


REGRESSION = (
    relative("per_K[*]/sup_weighted_bias_lower", 1e-9, "certified lower end: Arb values at exact points, rounded down"),
    relative("per_K[*]/sup_weighted_bias_upper", 1e-9, "certified upper end: Arb second-derivative bounds, rounded up"),
    relative("per_K[*]/any_table_lower_bound", 1e-12, "Arb bound for every table, rounded down"),
    relative("slope_fit_lower/slope", 1e-9, "fitted log-log slope (least squares in float64)"),
    relative("slope_fit_upper/slope", 1e-9, "fitted log-log slope of the certified upper ends"),
    exact("monte_carlo_all_within", "Monte Carlo intervals contain the exact moments: a verdict"),
    table("Plug-in weighted bias per K", "the per-K bracket table, cell by cell"),
)

CLAIM = ClaimSpec(
    id="C2", title="Impossibility for KL; the plug-in's Theta(1/K) weighted bias", run=run,
    statement=("No table is unbiased for the KL reward log p, and the plug-in table log((c+1)/K) has weighted bias "
               "Theta(1/K)."),
    regression=REGRESSION,
    key_figure=KeyFigure("plug-in", lambda f: (
        f"weighted bias ~ K^({f['slope_fit_lower']['slope']:.3f} +- {f['slope_fit_lower']['slope_se']:.3f}), "
        f"K = {f['slope_fit_lower']['K_range'][0]:g}..{f['slope_fit_lower']['K_range'][1]:g}"),
        accuracy="slope +- standard error of a least-squares fit to the certified lower ends"),
    profiles={
        "quick": {"K": [2, 4, 8, 16, 32, 64], "fit_K_min": 8, "rel_tol": 0.01, "slope_range": (-1.2, -0.8),
                  "mc_K": [4], "mc_probs": [0.5, 0.3, 0.15, 0.05], "mc_groups": 20000, "mc_alpha": 1e-3,
                  "plot_K": [4, 16]},
        "default": {"K": [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024],
                    "fit_K_min": 32, "rel_tol": 1e-3, "slope_range": (-1.1, -0.9),
                    "mc_K": [2, 8, 32], "mc_probs": [0.4, 0.3, 0.2, 0.07, 0.03], "mc_groups": 200000,
                    "mc_alpha": 1e-3, "plot_K": [4, 16, 64, 256]},
        "full": {"K": [2 ** j for j in range(1, 12)], "fit_K_min": 32, "rel_tol": 1e-3, "slope_range": (-1.1, -0.9),
                 "mc_K": [2, 8, 32, 128], "mc_probs": [0.4, 0.3, 0.2, 0.07, 0.03], "mc_groups": 1000000,
                 "mc_alpha": 1e-3, "plot_K": [4, 16, 64, 256, 1024]},
    },
)
