"""C1 -- the falling-factorial U-statistic table is exactly unbiased for polynomial rewards.

For every K tried and a set of polynomial rewards of degree <= K-1 (the Euclidean and integer
power generators, and seeded random rational polynomials up to degree K-1), the mean B_g(p)
of the ``ustat`` table is expanded in exact rationals and compared with the target
*coefficient by coefficient*: an identity of polynomials, not a grid check. The section also
records the rounding of the stored float64 table (a rigorous bound: B_g is a convex
combination of the entries, so |B_stored - B_exact| <= max_c |fl(g_c) - g_c|), the agreement
of the three exact engines (float64 within its a-priori bound of mpmath, exact = mpmath),
Monte Carlo agreement, and the degree >= K case (no unbiased table: ustat refuses, and the
smallest achievable weighted bias is certified by the minimax solver, :mod:`estimators.minimax`).
"""
from __future__ import annotations

import hashlib
import random
from fractions import Fraction

import mpmath
import numpy as np

from estimators import build_table, get_generator, moments
from estimators.bernstein import mean_polynomial
from estimators.minimax import best_weighted_bias
from estimators.minimax.certify import fraction_up
from estimators.montecarlo import monte_carlo

from .criteria import at_least, every, verdict
from .regression.spec import exact, interval, relative, table
from .result import ClaimResult, ClaimSpec, KeyFigure, ReportTable

__all__ = ["CLAIM", "c1_polynomials", "check_identity", "engines_agreement", "condense_identity_rows"]

#: digits of the mpmath engine the float64 and exact engines are compared with
ENGINE_DPS = 60


def c1_polynomials(K: int, rng: random.Random, n_random: int) -> list:
    """Polynomial generators of reward degree <= K-1 to try at group size K."""
    gens = [get_generator("euclidean")]
    gens += [get_generator("power", alpha=a) for a in range(2, min(K, 6) + 1)]
    if K >= 3:
        gens.append(get_generator("power", alpha=K))  # reward degree exactly K-1
    for _ in range(n_random):
        d = rng.randint(0, K - 1)
        coeffs = [Fraction(rng.randint(-50, 50), rng.randint(1, 30)) for _ in range(d + 1)]
        gens.append(get_generator("polynomial", coeffs=coeffs, of="reward"))
    return gens


def check_identity(table) -> bool:
    """True iff B_g(p) equals the target as a polynomial, in exact rationals."""
    got = mean_polynomial(table)
    want = list(table.generator.target_coeffs) + [Fraction(0)] * (len(got) - len(table.generator.target_coeffs))
    return got == want


def engines_agreement(table, p_rational, dps: int = 60) -> dict:
    """Compare the three engines at rational p: returns max errors and whether each is within tolerance.

    Tolerances: float64 within its own a-priori bound ``mean_err`` (weighted mean) of mpmath;
    exact == mpmath within 10^-(dps-10) relative.
    """
    ex = moments(table, p_rational, engine="exact")
    mp = moments(table, [Fraction(x) for x in p_rational], engine="mpmath", dps=dps)
    f64 = moments(table, np.array([float(x) for x in p_rational]))
    # float64 p is the rounded rational; compare float64 against mpmath at the same float p
    mp_f = moments(table, [float(x) for x in p_rational], engine="mpmath", dps=dps)
    d_f64 = np.abs(np.array([float(a) for a in mp_f.mean]) - f64.mean)
    bound = f64.mean_err / np.maximum(f64.p, 1e-300) + 4 * np.finfo(float).eps * np.abs(f64.mean)
    with mpmath.workdps(dps):
        d_exact = max(abs(mpmath.mpf(a.numerator) / a.denominator - b) / max(abs(b), mpmath.mpf(1))
                      for a, b in zip(ex.mean, mp.mean))
    return {"float64_max_abs_err": float(d_f64.max()), "float64_bound": float(bound.max()),
            "float64_within_bound": bool(np.all(d_f64 <= bound)),
            "exact_vs_mpmath_rel": float(d_exact), "exact_within": bool(d_exact < mpmath.mpf(10) ** (10 - dps))}


def condense_identity_rows(rows: list) -> list:
    """Merge consecutive K whose rows agree (same number of rewards tried, same verdict, max degree
    at the same offset from K) into one row ``["a–b", tried, verdict, "K-1"]``; the full rows stay in
    results.json (``per_K``) and in the CSV beside the report."""
    out: list = []
    for K, tried, ok, deg in rows:
        key = (tried, ok, deg - K)
        if out and out[-1][0] == key and out[-1][2] == K - 1:
            out[-1][2] = K
            continue
        out.append([key, K, K])
    return [[f"{a}" if a == b else f"{a}–{b}", tried, "all" if ok == tried else f"{ok} of {tried}",
             "K-1" if off == -1 else f"K{off:+d}"] for (tried, ok, off), a, b in out]


def _identity(params, ctx, rng) -> dict:
    """Random polynomial rewards of degree <= K-1: B_g equals the reward, in exact rationals, per K."""
    rows, n_tried, n_ok, worst_round = [], 0, 0, 0.0
    digest = hashlib.sha256()  # every stored ustat table, in order: pins the tables bit for bit
    for K in params["K"]:
        gens = c1_polynomials(K, rng, params["n_random"])
        ok_K = 0
        for gen in gens:
            t = build_table(gen, "ustat", K)
            digest.update(t.values.astype("<f8").tobytes())
            good = check_identity(t)
            n_tried += 1
            ok_K += good
            exact = t.exact_values()
            rnd = fraction_up(max(abs(Fraction(float(v)) - e) for v, e in zip(t.values, exact)))  # rounded up
            worst_round = max(worst_round, rnd)
        n_ok += ok_K
        rows.append([K, len(gens), ok_K, max(g.degree for g in gens)])
        if K in params["log_K"]:
            ctx.log(f"[C1] K={K}: {ok_K}/{len(gens)} polynomial rewards exactly unbiased")
    return {"rows": rows, "tried": n_tried, "ok": n_ok, "worst_round": worst_round, "sha256": digest.hexdigest()}


def _degree_ge_K(params) -> dict:
    """Degree >= K: no unbiased table (ustat must refuse), and the least weighted bias is certified positive."""
    n_refused, best_ok, rows, best = 0, True, [], []
    for K in params["degree_K"]:
        gen = get_generator("power", alpha=K + 1)  # reward degree K
        try:
            build_table(gen, "ustat", K)
        except ValueError:
            n_refused += 1
        b = best_weighted_bias(gen, K)  # certified bracket (C3 machinery); > 0 since no unbiased table exists
        best.append({"K": K, "target": gen.target_text, "lower": b["lower"], "upper": b["upper"]})
        rows.append([K, gen.target_text, f"{b['lower']:.6e}", f"{b['upper']:.6e}", f"{b['rel_gap']:.1e}"])
        best_ok &= (not b["exact_zero"]) and b["lower"] > 0
    return {"refused": n_refused, "best_ok": best_ok, "rows": rows, "best": best}


def _engines(params) -> tuple[list, int]:
    """The three moment engines agree, including large K."""
    rows, n_ok = [], 0
    ps = [Fraction(1, 7), Fraction(1, 2), Fraction(9, 10)]
    for K in params["engine_K"]:
        gen = get_generator("power", alpha=min(3, K))
        t = build_table(gen, "ustat", K)
        ag = engines_agreement(t, ps, dps=ENGINE_DPS)
        good = ag["float64_within_bound"] and ag["exact_within"]
        n_ok += bool(good)
        rows.append([K, f"{ag['float64_max_abs_err']:.2e}", f"{ag['float64_bound']:.2e}",
                     f"{ag['exact_vs_mpmath_rel']:.1e}", "yes" if good else "NO"])
    return rows, n_ok


def _monte_carlo(params, ctx) -> tuple[list, int, list]:
    """Monte Carlo intervals against the exact moments."""
    rows, n_ok, fig = [], 0, []
    for i, K in enumerate(params["mc_K"]):
        t = build_table("power", "ustat", K, generator_params={"alpha": 3})
        probs = np.array(params["mc_probs"])
        res = monte_carlo(t, probs, params["mc_groups"], seed=ctx.seed + 100 + i, alpha=params["mc_alpha"])
        ex = moments(t, probs)
        c = res.compare(ex.mean, ex.var)
        n_ok += bool(c.all_within)
        lo_m, hi_m = res.interval("mean")
        lo_v, hi_v = res.interval("var")
        fig.append({"K": K, "groups": res.n_groups, "answers": [
            {"p": float(q), "mean_interval": [float(a), float(b)], "var_interval": [float(c_), float(d)]}
            for q, a, b, c_, d, rep in zip(probs, lo_m, hi_m, lo_v, hi_v, res.reported) if rep]})
        rows.append([K, res.n_groups, f"{np.max(np.abs(c.z_mean)):.2f}", f"{np.max(np.abs(c.z_var)):.2f}",
                     f"{res.z_crit:.2f}", "yes" if c.all_within else "NO"])
    return rows, n_ok, fig


def _criteria(params, ident, deg, n_eng_ok, n_eng, n_mc_ok, n_mc) -> list:
    Ks, nK = list(params["K"]), params["degree_K"]
    return [
        every("exactness", f"each polynomial reward of degree <= K-1 (K = {Ks[0]}..{Ks[-1]}) has B_g equal to the "
              "reward, coefficient by coefficient in exact rationals", ident["ok"], ident["tried"]),
        every("degree >= K refused", f"the U-statistic table refuses each reward of degree K (K = "
              f"{', '.join(map(str, nK))}): no unbiased table exists", deg["refused"], len(nK)),
        at_least("degree >= K bias", "smallest certified weighted bias of any table for those rewards",
                 min((b["lower"] for b in deg["best"]), default=float("nan")) if deg["best_ok"] else 0.0, 0.0,
                 strict=True, fmt=".3e"),
        every("engines", f"at each K = {', '.join(map(str, params['engine_K']))}, float64 moments lie within "
              f"their a-priori rounding bound of mpmath ({ENGINE_DPS} digits) and exact rationals agree with it to "
              f"10^-{ENGINE_DPS - 10}", n_eng_ok, n_eng),
        every("Monte Carlo", "each Monte Carlo interval (one per K) contains the exact mean and variance", n_mc_ok,
              n_mc),
    ]


def _report_tables(ident, deg, eng_rows, mc_rows) -> list:
    rows = ident["rows"]
    full = ReportTable("Exact polynomial identity B_g = target (coefficient by coefficient), every K",
                       ["K", "rewards tried", "exactly unbiased", "max degree"], rows)
    return [ReportTable("Exact polynomial identity B_g = target (coefficient by coefficient)",
                        ["K", "rewards tried per K", "exactly unbiased", "max degree"],
                        condense_identity_rows(rows), detail=full),
            ReportTable(f"Engines: float64 and exact rationals against mpmath ({ENGINE_DPS} digits), U-statistic "
                        "table of the power reward with alpha = min(3, K)",
                        ["K", "float64 max abs err", "float64 a-priori bound", "exact vs mpmath (rel)", "within"],
                        eng_rows),
            ReportTable("Monte Carlo against exact moments, U-statistic table of the power reward with alpha = 3",
                        ["K", "groups", "max |z| mean", "max |z| var", "z crit", "within"], mc_rows),
            ReportTable("Degree >= K: smallest achievable weighted bias (no unbiased table), certified",
                        ["K", "target", "lower", "upper", "relative width"], deg["rows"])]


def _accuracy(params) -> dict:
    return {"identity": "exact rational arithmetic (no rounding)",
            "rounding of the stored tables": ("exact: the largest entry rounding max_c |fl(g(c)) - g(c)|, computed "
                                              "in rationals, bounds the change of B_g(p) at every p (B_g is an "
                                              "average of the entries)"),
            "least weighted bias for degree >= K": ("certified bracket (de la Vallee Poussin lower bound, Taylor "
                                                    "models in Arb for the upper bound)"),
            "engines": (f"float64 checked against its a-priori rounding bound; exact rationals against mpmath at "
                        f"{ENGINE_DPS} digits"),
            "Monte Carlo": (f"{params['mc_groups']} groups per K, normal intervals, Bonferroni, family-wise "
                            f"false-alarm rate {params['mc_alpha']} per run")}


def run(params, ctx) -> ClaimResult:
    rng = random.Random(ctx.seed)
    Ks = list(params["K"])
    ident = _identity(params, ctx, rng)
    deg = _degree_ge_K(params)
    eng_rows, n_eng_ok = _engines(params)
    mc_rows, n_mc_ok, mc_fig = _monte_carlo(params, ctx)
    criteria = _criteria(params, ident, deg, n_eng_ok, len(eng_rows), n_mc_ok, len(mc_rows))
    n_ok, n_tried, worst_round = ident["ok"], ident["tried"], ident["worst_round"]
    return ClaimResult(
        id="C1", title=CLAIM.title, status=verdict(criteria),
        summary=(f"{n_ok} of {n_tried} polynomial rewards (degree <= K-1, K = {Ks[0]}..{Ks[-1]}) are exactly "
                 f"unbiased: B_g equals the reward as a polynomial, in exact rationals. Stored as float64, the tables "
                 f"stay unbiased to within {worst_round:.1e} at every p. For degree >= K the U-statistic table is "
                 f"refused and the least weighted bias of any table is certified positive."),
        criteria=criteria,
        figures={"K_range": [Ks[0], Ks[-1]], "polynomials_tried": n_tried, "exactly_unbiased": n_ok,
                 "per_K": [{"K": r[0], "tried": r[1], "exact": r[2], "max_degree": r[3]} for r in ident["rows"]],
                 "stored_float64_max_rounding": worst_round, "ustat_tables_sha256": ident["sha256"],
                 "monte_carlo": mc_fig,
                 "degree_ge_K_refused": deg["refused"] == len(params["degree_K"]),
                 "engines_agree": n_eng_ok == len(eng_rows), "monte_carlo_all_within": n_mc_ok == len(mc_rows),
                 "degree_ge_K_min_weighted_bias": deg["best"]},
        accuracy=_accuracy(params),
        tables=_report_tables(ident, deg, eng_rows, mc_rows),
        notes=["Uniqueness (hence minimum variance) is a theorem: the Bernstein-to-monomial map is triangular with "
               "non-zero diagonal C(n,k), so the unbiased table is unique.",
               f"Stored float64 tables are unbiased up to their rounding: at most {worst_round:.2e} at any p."],
    )


REGRESSION = (
    exact("polynomials_tried", "how many polynomial rewards were checked: a count"),
    exact("exactly_unbiased", "how many are exactly unbiased: a count from exact rational arithmetic"),
    exact("per_K[*]", "rewards tried, exactly unbiased and max degree per K: counts"),
    exact("ustat_tables_sha256", "SHA-256 of every stored float64 ustat table (exact rationals rounded once)"),
    exact("stored_float64_max_rounding", "max |fl(g) - g| computed in exact rationals: deterministic"),
    exact("degree_ge_K_refused", "ustat refuses degree >= K: a verdict"),
    exact("engines_agree", "float64/exact/mpmath engines within tolerance: a verdict"),
    exact("monte_carlo_all_within", "Monte Carlo intervals contain the exact moments: a verdict"),
    relative("degree_ge_K_min_weighted_bias[*]/lower", 1e-9,
             "certified lower end (rounded outward from Arb); the solver's float64 stage may move late digits"),
    relative("degree_ge_K_min_weighted_bias[*]/upper", 1e-9, "certified upper end, as the lower end"),
    interval("monte_carlo[*]/answers[*]/mean_interval",
             "Monte Carlo interval for B_g(p): a new stream must overlap the baseline's interval"),
    interval("monte_carlo[*]/answers[*]/var_interval", "Monte Carlo interval for V_g(p), as the mean"),
    table("Exact polynomial identity", "the condensed per-K table, cell by cell"),
)

CLAIM = ClaimSpec(
    id="C1", title="Exactness of U-statistic tables for polynomial rewards", run=run,
    statement=("If the reward phi' is a polynomial of degree d <= K-1, the falling-factorial U-statistic table has "
               "B_g(p) = phi'(p) for every p (it is the only unbiased table); for d >= K no unbiased table exists."),
    regression=REGRESSION,
    key_figure=KeyFigure("exactly unbiased", lambda f: (
        f"{f['exactly_unbiased']} of {f['polynomials_tried']} polynomial rewards, K = {f['K_range'][0]}.."
        f"{f['K_range'][1]}"), accuracy="exact rational arithmetic: an identity of polynomials, not a grid check"),
    profiles={
        "quick": {"K": list(range(2, 13)), "n_random": 2, "log_K": [12], "degree_K": [2, 5],
                  "engine_K": [2, 16, 64], "mc_K": [5], "mc_probs": [0.5, 0.3, 0.2], "mc_groups": 20000,
                  "mc_alpha": 1e-3},
        "default": {"K": list(range(2, 65)), "n_random": 4, "log_K": [8, 16, 32, 48, 64], "degree_K": [2, 8, 16],
                    "engine_K": [2, 16, 128, 512, 1024], "mc_K": [3, 10, 40],
                    "mc_probs": [0.4, 0.3, 0.2, 0.07, 0.03], "mc_groups": 200000, "mc_alpha": 1e-3},
        "full": {"K": list(range(2, 129)), "n_random": 8, "log_K": [16, 32, 64, 128], "degree_K": [2, 8, 16, 20],
                 "engine_K": [2, 16, 128, 512, 1024, 2048], "mc_K": [3, 10, 40, 128],
                 "mc_probs": [0.4, 0.3, 0.2, 0.07, 0.03], "mc_groups": 1000000, "mc_alpha": 1e-3},
    },
)
