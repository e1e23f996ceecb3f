"""C8 -- one implementation, two engines: the torch kernels and engines match the reference.

Checked on every available device (CPU always, CUDA when present) and for float32 and float64:

* leave-one-out counts of the torch kernels (every counting path, dense and flattened) equal the
  reference counts (:func:`estimators.montecarlo.leave_one_out_counts`) exactly, on random
  batches including ids at the int64 limits;
* rewards of both kernel forms equal the reference gather ``table.values[C] (+ constant)`` for every
  registered estimator (float64: bit for bit; float32: the correctly rounded float64 value);
* torch exact moments agree with the float64 reference engine within ``MOMENT_TOL``;
* torch Monte Carlo intervals contain the exact moments (the reference criterion);
* both implementations reject the same bad inputs;
* ``alft crosscheck`` passes the project's kernels and fails a deliberately wrong one.
"""
from __future__ import annotations

import re

import numpy as np

from estimators import METHODS, build_table
from estimators import moments as ref_moments
from estimators.montecarlo import leave_one_out_counts as ref_counts
from estimators.montecarlo import monte_carlo as ref_monte_carlo

from .criteria import at_most, every, verdict
from .regression.spec import exact, interval, relative
from .result import SKIP, ClaimResult, ClaimSpec, KeyFigure, ReportTable

__all__ = ["CLAIM"]

_I64 = np.iinfo(np.int64)
#: generator used for each method's reward/moment checks (first that the method accepts)
_GENERATORS = [("kl", {}), ("euclidean", {}), ("power", {"alpha": 3})]
#: method parameters for methods that need them (aqp, C6: a shipped budget)
_METHOD_PARAMS = {"aqp": {"eps": 10.0}}


def _batches(rng, K: int) -> list[tuple[str, np.ndarray]]:
    B = 64
    extreme = np.array([_I64.min, _I64.min + 1, -1, 0, _I64.max - 1, _I64.max], dtype=np.int64)
    return [
        ("small vocabulary", rng.integers(0, 3, size=(B, K))),
        ("wide ids", rng.integers(_I64.min, _I64.max, size=(B, K), dtype=np.int64) // (1 << 40) * (1 << 40)),
        ("int64 limits", extreme[rng.integers(0, extreme.size, size=(B, K))]),
        ("all equal", np.full((B, K), 17)),
        ("all distinct", np.tile(np.arange(K) * 1_000_003, (B, 1))),
    ]


def _tables(K: int, solver_K_max: int, notes: list) -> list:
    out = []
    for name in sorted(METHODS):
        if name not in ("ustat", "plugin", "jackknife") and K > solver_K_max:
            continue
        for gen, gp in _GENERATORS:
            try:
                out.append(build_table(gen, name, K, generator_params=gp, **_METHOD_PARAMS.get(name, {})))
                break
            except (ValueError, TypeError) as exc:
                last = exc
        else:
            msg = f"method {name!r} built no table at K={K} ({last}); not checked there"
            if msg not in notes:
                notes.append(msg)
    return out


def monte_carlo_at_scale(device: str, *, n_groups: int, K: int, probs, seed: int, alpha: float = 1e-3,
                         progress=None) -> dict:
    """The counts engine of the torch Monte Carlo at GPU scale (KL jackknife, K samples per group):
    throughput, and whether every Bonferroni interval contains the exact moments, with the relative
    half-widths reached (the accuracy such a run certifies)."""
    import time

    import torch

    from estimators.torch.montecarlo import monte_carlo as torch_monte_carlo
    table = build_table("kl", "jackknife", K)
    q = np.asarray(probs, dtype=np.float64)
    t0 = time.perf_counter()
    on_gpu = torch.device(device).type == "cuda"
    res = torch_monte_carlo(table, q, n_groups, seed=seed, alpha=alpha, device=device, engine="counts",
                            progress=progress, batch=(1 << 23) if on_gpu else None,
                            max_bytes=(8 << 30) if on_gpu else (1 << 30),
                            max_samples=n_groups * K)   # the run at scale asks for its work explicitly
    if on_gpu:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    exact = ref_moments(table, q)
    cmp_ = res.compare(exact.mean, exact.var)
    rep = res.reported
    half_m = res.z_crit * res.mean_se[rep] / np.abs(exact.mean[rep])
    half_v = res.z_crit * res.var_se[rep] / np.abs(exact.var[rep])
    return {"device": device, "K": K, "groups": int(res.n_groups), "seconds": round(seconds, 3),
            "groups_per_second": float(res.n_groups / seconds), "all_within": bool(cmp_.all_within),
            "max_abs_z_mean": float(np.max(np.abs(cmp_.z_mean))), "max_abs_z_var": float(np.max(np.abs(cmp_.z_var))),
            "z_crit": float(res.z_crit), "max_rel_half_width_mean": float(np.max(half_m)),
            "max_rel_half_width_var": float(np.max(half_v)), "answers_tested": int(rep.sum()), "alpha": alpha}


class _Tally:
    """What the checks found: figures per device, cases that hold per criterion, notes."""

    def __init__(self, devices: list):
        self.devices = devices
        self.per: dict = {d: {} for d in devices}
        self.n_ok: dict = {}   # criterion key -> [cases that hold, cases]
        self.notes: list[str] = []

    def count(self, key: str, good: bool, n: int = 1, held: int | None = None) -> None:
        c = self.n_ok.setdefault(key, [0, 0])
        c[0] += int(bool(good)) if held is None else held
        c[1] += n


def _check_counts(torch, rng, params, tally: _Tally) -> list:
    """Leave-one-out counts of every counting path, dense and flattened, against the reference counts."""
    from estimators.torch import leave_one_out_counts, leave_one_out_counts_flat
    rows = []
    for dev in tally.devices:
        n_checked = mismatches = 0
        for K in params["K"]:
            for _label, ids in _batches(rng, K):
                ref = ref_counts(ids)
                t = torch.as_tensor(ids, device=dev)
                for method in ("auto", "scatter", "pairwise", "sort"):
                    got = leave_one_out_counts(t, method=method).cpu().numpy()
                    mismatches += int((got != ref).sum())
                    n_checked += ref.size
                perm = rng.permutation(ids.size)
                gid = np.repeat(np.arange(ids.shape[0]) * 3 - 50, K)
                for method in ("auto", "sort"):
                    c, _ = leave_one_out_counts_flat(torch.as_tensor(ids.ravel()[perm], device=dev),
                                                     torch.as_tensor(gid[perm], device=dev), method=method)
                    mismatches += int((c.cpu().numpy() != ref.ravel()[perm]).sum())
                    n_checked += ref.size
        tally.per[dev]["counts"] = {"checked": n_checked, "mismatches": mismatches}
        rows.append([dev, n_checked, mismatches, "yes" if mismatches == 0 else "NO"])
        tally.count("counts", True, n=n_checked, held=n_checked - mismatches)
    return rows


def _reward_errors(torch, table, t_ids, gid, counts, dt) -> tuple[float, float, bool]:
    """Largest absolute and relative error of both kernel forms against the reference gather, and whether
    both equal the reference rounded once to ``dt``."""
    from estimators.torch import group_rewards, group_rewards_flat
    r_abs = r_rel = 0.0
    exact = True
    for add in (False, True):
        ref = table.values[counts] + (float(table.generator.dropped_constant) if add else 0.0)
        dense = group_rewards(t_ids, table, dtype=dt, add_constant=add).cpu()
        flat = group_rewards_flat(t_ids.reshape(-1), gid, table, dtype=dt,
                                  add_constant=add).cpu().view(counts.shape)
        rounded = torch.as_tensor(ref).to(dt)
        exact &= bool(torch.equal(dense, rounded)) and bool(torch.equal(flat, rounded))
        for got in (dense, flat):
            err = np.abs(got.to(torch.float64).numpy() - ref)
            r_abs = max(r_abs, float(err.max()))
            nz = ref != 0
            if nz.any():
                r_rel = max(r_rel, float((err[nz] / np.abs(ref[nz])).max()))
    return r_abs, r_rel, exact


def _check_rewards_and_moments(torch, rng, params, tally: _Tally) -> tuple[list, list, set, dict]:
    """Rewards of both kernel forms and the torch exact moments of every method's table, per device and dtype."""
    from estimators.torch.moments import MOMENT_TOL, as_numpy, moment_error
    from estimators.torch.moments import moments as torch_moments
    reward_rows, moment_rows = [], []
    p_grid = np.concatenate([[0.0, 1e-6, 1.0], np.linspace(0, 1, params["p_points"])])
    methods_seen: set = set()
    max_abs_g: dict = {}
    for dev in tally.devices:
        for dt in (torch.float32, torch.float64):
            dname = str(dt).split(".")[-1]
            r_abs = r_rel = m_err = 0.0
            r_exact = True
            for K in params["K"]:
                ids = rng.integers(0, 4, size=(128, K))
                ids[0] = 9
                ids[1] = np.arange(K)
                counts = ref_counts(ids)
                t_ids = torch.as_tensor(ids, device=dev)
                gid = torch.arange(128, device=dev).repeat_interleave(K)
                p_dt = torch.as_tensor(p_grid).to(dt).to(torch.float64).numpy()
                for table in _tables(K, params["solver_K_max"], tally.notes):
                    methods_seen.add(table.method)
                    gmax = float(np.max(np.abs(table.values)))
                    if gmax > max_abs_g.get(table.method, (0.0, 0))[0]:
                        max_abs_g[table.method] = (gmax, K)
                    a, r, e = _reward_errors(torch, table, t_ids, gid, counts, dt)
                    r_abs, r_rel, r_exact = max(r_abs, a), max(r_rel, r), r_exact and e
                    refm = ref_moments(table, p_dt)
                    gotm = as_numpy(torch_moments(table, torch.as_tensor(p_dt, device=dev), dtype=dt))
                    for f in ("mean", "var", "weighted_bias", "weighted_var"):
                        m_err = max(m_err, moment_error(getattr(gotm, f), getattr(refm, f), table))
            tol = MOMENT_TOL[dt]
            tally.count("rewards", r_exact)
            tally.per[dev][dname] = {"reward_max_abs_err": r_abs, "reward_max_rel_err": r_rel,
                                     "rewards_equal_rounded_reference": r_exact,
                                     "moment_max_scaled_err": m_err, "moment_tol": tol}
            reward_rows.append([dev, dname, f"{r_abs:.3g}", f"{r_rel:.2g}", "yes" if r_exact else "NO"])
            moment_rows.append([dev, dname, f"{m_err:.2g}", f"{tol:g}", "yes" if m_err <= tol else "NO"])
    return reward_rows, moment_rows, methods_seen, max_abs_g


def _check_monte_carlo(torch, params, ctx, tally: _Tally) -> list:
    """Torch Monte Carlo intervals (KL jackknife) against the exact moments, beside the reference harness."""
    from estimators.torch.montecarlo import monte_carlo as torch_monte_carlo
    rows = []
    q = np.array(params["mc_probs"], dtype=np.float64)
    for dev in tally.devices:
        for dt in (torch.float32, torch.float64):
            dname = str(dt).split(".")[-1]
            for K in params["mc_K"]:
                table = build_table("kl", "jackknife", K)
                exact = ref_moments(table, q)
                res = torch_monte_carlo(table, q, params["mc_groups"], seed=ctx.seed + K, device=dev, dtype=dt,
                                        alpha=params["mc_alpha"])
                cmp_ = res.compare(exact.mean, exact.var)
                ref = ref_monte_carlo(table, q, params["mc_groups"], seed=ctx.seed + K, alpha=params["mc_alpha"])
                rcmp = ref.compare(exact.mean, exact.var)
                tally.count("monte carlo", cmp_.all_within)
                rows.append([dev, dname, K, res.n_groups, f"{np.max(np.abs(cmp_.z_mean)):.2f}",
                             f"{np.max(np.abs(cmp_.z_var)):.2f}", f"{np.max(np.abs(rcmp.z_mean)):.2f}",
                             f"{res.z_crit:.2f}", "yes" if cmp_.all_within else "NO"])
                lo_m, hi_m = res.interval("mean")
                tally.per[dev].setdefault("monte_carlo", []).append(
                    {"dtype": dname, "K": K, "groups": res.n_groups, "all_within": bool(cmp_.all_within),
                     "mean_intervals": [[float(a), float(b)] for a, b, r in zip(lo_m, hi_m, res.reported) if r],
                     "max_abs_z_mean": float(np.max(np.abs(cmp_.z_mean))),
                     "max_abs_z_var": float(np.max(np.abs(cmp_.z_var)))})
    return rows


def _check_at_scale(params, ctx, tally: _Tally) -> list:
    """The Monte Carlo check at GPU scale (full profile, CUDA only): the counts engine's intervals."""
    if not params.get("mc_scale_groups"):
        return []
    if "cuda" not in tally.devices:
        tally.notes.append(f"The Monte Carlo check at GPU scale ({params['mc_scale_groups']:.3g} groups, counts "
                           f"engine) needs a CUDA device and was not run here.")
        return []
    sc = monte_carlo_at_scale("cuda", n_groups=params["mc_scale_groups"], K=params["mc_scale_K"],
                              probs=params["mc_probs"], seed=ctx.seed, alpha=params["mc_alpha"])
    tally.per["cuda"]["monte_carlo_at_scale"] = sc
    tally.count("monte carlo", sc["all_within"])
    return [["cuda", sc["K"], f"{sc['groups']:.3g}", f"{sc['groups_per_second']:.3g}", f"{sc['max_abs_z_mean']:.2f}",
             f"{sc['max_abs_z_var']:.2f}", f"{sc['z_crit']:.2f}", f"{sc['max_rel_half_width_mean']:.2g}",
             "yes" if sc["all_within"] else "NO"]]


def _check_rejects(torch, tally: _Tally) -> list:
    """Each bad input is refused by both implementations (or accepted by both)."""
    from estimators.torch import group_rewards, leave_one_out_counts
    from estimators.torch.moments import moments as torch_moments
    from estimators.torch.montecarlo import monte_carlo as torch_monte_carlo
    t4 = build_table("kl", "plugin", 4)
    cases = [
        ("moments: p = NaN", lambda: ref_moments(t4, [np.nan]), lambda: torch_moments(t4, [np.nan])),
        ("moments: p = 1.5", lambda: ref_moments(t4, [1.5]), lambda: torch_moments(t4, [1.5])),
        ("Monte Carlo: probabilities do not sum to 1", lambda: ref_monte_carlo(t4, [0.5, 0.6], 10, seed=0),
         lambda: torch_monte_carlo(t4, [0.5, 0.6], 10, seed=0)),
        ("Monte Carlo: a single group", lambda: ref_monte_carlo(t4, [1.0], 1, seed=0),
         lambda: torch_monte_carlo(t4, [1.0], 1, seed=0)),
        ("counts: 1-D answers", lambda: ref_counts(np.zeros(4, dtype=np.int64)),
         lambda: leave_one_out_counts(torch.zeros(4, dtype=torch.int64))),
        ("counts: K = 1", lambda: ref_counts(np.zeros((2, 1), dtype=np.int64)),
         lambda: group_rewards(torch.zeros(2, 1, dtype=torch.int64), t4)),
        ("counts: float answers", lambda: ref_counts(np.zeros((2, 3))),
         lambda: leave_one_out_counts(torch.zeros(2, 3))),
    ]
    rows = []
    for label, ref_call, torch_call in cases:
        outcome = []
        for call in (ref_call, torch_call):
            try:
                call()
                outcome.append("accepted")
            except (ValueError, TypeError) as exc:
                outcome.append(type(exc).__name__)
        same = (outcome[0] == "accepted") == (outcome[1] == "accepted")
        tally.count("rejects", same)
        rows.append([label, outcome[0], outcome[1], "yes" if same else "NO"])
    return rows


def _off_by_one(ids, table):
    """A deliberately wrong kernel: it counts the sample itself."""
    c = (ids.unsqueeze(2) == ids.unsqueeze(1)).sum(2)
    return table[c.clamp_max(ids.shape[1] - 1)]


def _check_crosscheck(params, ctx, tally: _Tally) -> list:
    """``alft crosscheck`` passes the project's kernels and fails a wrong one."""
    from .crosscheck.harness import crosscheck
    from .crosscheck.kernels import dense_kernel, flat_kernel
    rows = []
    for dev in tally.devices:
        for name, fn, expect in (("estimators.torch:group_rewards (dense)", dense_kernel, True),
                                 ("estimators.torch:group_rewards_flat (flattened)", flat_kernel, True),
                                 ("deliberately wrong kernel (counts the sample itself)", _off_by_one, False)):
            rep = crosscheck(fn, device=dev, max_examples=params["crosscheck_examples"], seed=ctx.seed % 1000)
            good = rep.passed == expect
            tally.count("crosscheck", good)
            shown = re.sub(r"^(\S+:\S+)", r"`\1`", name)   # a kernel's MODULE:FUNCTION is code
            rows.append([dev, shown, rep.n_cases, "PASS" if rep.passed else "FAIL",
                         "expected" if good else "UNEXPECTED"])
            tally.per[dev].setdefault("crosscheck", []).append({"kernel": name, "passed": rep.passed,
                                                                "cases": rep.n_cases, "expected": expect})
    return rows


def _plot_moment_errors(torch, ctx) -> list:
    """Moment agreement across p (KL jackknife, K = 16, CPU), per dtype."""
    from estimators.torch.moments import MOMENT_TOL, as_numpy
    from estimators.torch.moments import moments as torch_moments
    path = ctx.plot_path("c8_torch_moment_error_vs_p.png")
    if path is None:
        return []
    table = build_table("kl", "jackknife", 16)
    errors = {}
    for dt in (torch.float32, torch.float64):
        ps = torch.as_tensor(np.geomspace(1e-6, 1, 400)).to(dt).to(torch.float64).numpy()
        refm = ref_moments(table, ps)
        gotm = as_numpy(torch_moments(table, ps, dtype=dt))
        scale = max(1.0, float(np.max(np.abs(table.values))))
        errors[str(dt).split(".")[-1]] = (ps, np.abs(gotm.mean - refm.mean) / (scale + np.abs(refm.mean)),
                                          MOMENT_TOL[dt])
    return [p for p in [_moment_error_plot(errors, path)] if p]


def _add_notes(tally: _Tally, methods_seen: set, max_abs_g: dict) -> None:
    big = {m: v for m, v in max_abs_g.items() if v[0] > 1e6}
    if big:
        tally.notes.append(
            "Tables with huge alternating entries (" + ", ".join(f"{m}: max|g| = {v[0]:.3g} at K={v[1]}"
                                                                 for m, v in sorted(big.items())) +
            "): every reward is still individually correctly rounded, but averages of such rewards cancel "
            "catastrophically, so the moment tolerance (scaled by max|g|) says little there in float32; use "
            "float64 for those tables (docs/theory.md, section 5).")
    missing = sorted(set(METHODS) - methods_seen)
    if missing:
        tally.notes.append(f"registered methods without a checked table: {missing}")
    if "cuda" not in tally.devices:
        tally.notes.append("No CUDA device was available to this run: only the CPU engine was checked here. The GPU "
                           "record above (when the repository has one) shows the CUDA half of C8.")


def _criteria(params, tally: _Tally) -> list:
    per, devices, n_ok = tally.per, tally.devices, tally.n_ok
    return [
        every("counts", f"each leave-one-out count (every counting path, dense and flattened, K = "
              f"{', '.join(map(str, params['K']))}) equals the reference count exactly", *n_ok["counts"]),
        every("rewards", "on each device and dtype the rewards of both kernel forms equal the reference rounded once "
              "to that dtype (float64: bit for bit), for every registered method", *n_ok["rewards"]),
    ] + [at_most(f"moments, {name}", f"largest scaled error of the torch exact moments against the float64 "
                 f"reference, {name}", {d: per[d][name]["moment_max_scaled_err"] for d in devices},
                 per[devices[0]][name]["moment_tol"], fmt=".2g") for name in ("float64", "float32")] + [
        every("Monte Carlo", f"each torch Monte Carlo interval ({params['mc_groups']} groups, family-wise "
              f"false-alarm rate {params['mc_alpha']:g}) contains the exact moments", *n_ok["monte carlo"]),
        every("rejects", "for each bad input torch and the reference both refuse it (or both accept it)",
              *n_ok["rejects"]),
        every("crosscheck", "each alft crosscheck verdict is the expected one: the project's kernels pass, a "
              "deliberately wrong kernel fails", *n_ok["crosscheck"]),
    ]


def _summary(tally: _Tally, methods_seen: set) -> str:
    per, devices = tally.per, tally.devices
    f64 = [per[d]["float64"] for d in devices]
    f32 = [per[d]["float32"] for d in devices]
    return (f"On {', '.join(devices)}: counts equal the reference exactly "
            f"({sum(per[d]['counts']['checked'] for d in devices)} checked); rewards of both kernel forms equal "
            f"the reference for the methods {', '.join(sorted(methods_seen))} (float64 bit for bit, float32 "
            f"correctly rounded, largest relative error {max(x['reward_max_rel_err'] for x in f32):.2g}); exact "
            f"moments agree to {max(x['moment_max_scaled_err'] for x in f64):.2g} (float64) and "
            f"{max(x['moment_max_scaled_err'] for x in f32):.2g} (float32) scaled error; Monte Carlo intervals "
            f"contain the exact moments; crosscheck passes the project's kernels and fails a wrong one.")


def _accuracy(params, tally: _Tally) -> dict:
    first = tally.per[tally.devices[0]]
    return {
        "counts": "exact integer equality with the reference (no tolerance)",
        "rewards": "float64: bit-for-bit equal to the table entry g(C) (plus the dropped constant); float32: equal "
                   "to the float64 reference rounded once to float32 (|error| <= 2^-24 |r|); the tests also apply "
                   "torch's default tolerances (float32 rtol 1.3e-6 atol 1e-5, float64 rtol 1e-7 atol 1e-7)",
        "moments": ("scaled error |torch - float64 reference| / (max(1, max|g|) + |reference|), at most "
                    + ", ".join(f"{first[n]['moment_tol']:g} ({n})" for n in ("float64", "float32"))
                    + ", for K <= 1024"),
        "Monte Carlo": f"normal intervals over groups, Bonferroni, family-wise false-alarm rate "
                       f"{params['mc_alpha']} per run",
    }


def _report_tables(rows: dict) -> list:
    return [
        ReportTable("C8 leave-one-out counts vs reference", ["device", "counts checked", "mismatches", "exact"],
                    rows["counts"]),
        ReportTable("C8 rewards (dense and flattened) vs reference",
                    ["device", "dtype", "max abs err", "max rel err", "= rounded reference"], rows["rewards"]),
        ReportTable("C8 exact moments vs float64 reference",
                    ["device", "dtype", "max scaled err", "tolerance", "within"], rows["moments"]),
        ReportTable("C8 Monte Carlo (KL jackknife) vs exact moments",
                    ["device", "dtype", "K", "groups", "max |z| mean", "max |z| var", "reference max |z| mean",
                     "z crit", "within"], rows["monte carlo"]),
        *([ReportTable("C8 Monte Carlo at GPU scale (counts engine, KL jackknife) vs exact moments",
                       ["device", "K", "groups", "groups/s", "max |z| mean", "max |z| var", "z crit",
                        "max rel half-width (mean)", "within"], rows["at scale"])] if rows["at scale"] else []),
        ReportTable("C8 rejects what the reference rejects", ["input", "reference", "torch", "agree"],
                    rows["rejects"]),
        ReportTable("C8 alft crosscheck", ["device", "kernel", "cases", "verdict", "as expected"], rows["crosscheck"]),
    ]


def run(params, ctx) -> ClaimResult:
    try:
        import torch
    except ImportError:
        return ClaimResult(id="C8", title=CLAIM.title, status=SKIP,
                           summary="PyTorch is not installed: the torch engines were not checked.",
                           notes=["install alft-verify[torch] to run C8"])
    rng = np.random.default_rng(ctx.seed)
    tally = _Tally(["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    rows = {"counts": _check_counts(torch, rng, params, tally)}
    rows["rewards"], rows["moments"], methods_seen, max_abs_g = _check_rewards_and_moments(torch, rng, params, tally)
    rows["monte carlo"] = _check_monte_carlo(torch, params, ctx, tally)
    rows["at scale"] = _check_at_scale(params, ctx, tally)
    rows["rejects"] = _check_rejects(torch, tally)
    rows["crosscheck"] = _check_crosscheck(params, ctx, tally)
    plots = _plot_moment_errors(torch, ctx)
    _add_notes(tally, methods_seen, max_abs_g)
    criteria = _criteria(params, tally)
    per = tally.per
    return ClaimResult(
        id="C8", title=CLAIM.title, status=verdict(criteria), summary=_summary(tally, methods_seen),
        criteria=criteria,
        figures={"devices": tally.devices, "per_device": per, "K": list(params["K"]),
                 "max_abs_table_entry": {m: {"value": v[0], "K": v[1]} for m, v in sorted(max_abs_g.items())},
                 "methods_checked": sorted(methods_seen), "torch_version": torch.__version__},
        accuracy=_accuracy(params, tally), tables=_report_tables(rows), plots=plots,
        captions={"c8_torch_moment_error_vs_p.png": (
            "The torch moments' scaled error stays below its tolerance (dashed) at every p (plotted: KL jackknife, "
            f"K = 16); over every K and moment checked the largest is "
            f"{per['cpu']['float64']['moment_max_scaled_err']:.2g} in float64 and "
            f"{per['cpu']['float32']['moment_max_scaled_err']:.2g} in float32.")},
        notes=tally.notes + [
            "The Monte Carlo streams of numpy and torch differ, so the two harnesses agree statistically (both "
            "contain the exact moments), not sample by sample; on the same answers their group sums agree to "
            "float64 rounding (`tests/test_torch_engines.py`).",
        ],
    )


def _moment_error_plot(errors: dict, path) -> str:
    """Scaled moment errors per dtype on a log axis; exact zeros drawn on a floor labelled "0 (exact)"."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    from .plotting import plt, save_figure
    nonzero = [e[e > 0].min() for _, e, _ in errors.values() if np.any(e > 0)]
    top = max(tol for *_, tol in errors.values())
    floor = 10.0 ** (np.floor(np.log10(min(nonzero + [top]))) - 2)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (name, (ps, err, tol)) in enumerate(errors.items()):
        col = f"C{i}"
        nz = err > 0
        ax.plot(ps[nz], err[nz], ".", ms=3, color=col, label=f"torch {name}: nonzero error ({nz.sum()} of {err.size} p)")
        if (~nz).any():
            ax.plot(ps[~nz], np.full((~nz).sum(), floor), "|", ms=7, color=col,
                    label=f"torch {name}: exactly 0 ({(~nz).sum()} of {err.size} p)")
        ax.axhline(tol, ls="--", lw=1, color=col, label=f"{name} tolerance {tol:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor / 3, top * 30)
    decades = np.arange(np.log10(floor) + 2, np.log10(top * 30) + 1e-9, 2)
    ax.yaxis.set_major_locator(FixedLocator([floor] + list(10.0 ** decades)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: "0 (exact)" if v == floor else f"$10^{{{np.log10(v):.0f}}}$"))
    ax.yaxis.set_minor_locator(FixedLocator([]))
    ax.axhspan(floor / 3, floor * 3, color="0.93", zorder=0)
    ax.set_xlabel("p")
    ax.set_ylabel(r"$|B_g^{torch}(p) - B_g^{ref}(p)|\,/\,(\max(1, \max|g|) + |B_g^{ref}(p)|)$", fontsize=9)
    ax.set_title("C8: torch exact moments vs float64 reference (KL jackknife, K=16)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return save_figure(fig, path)


REGRESSION = (
    exact("methods_checked", "every registered method whose tables were checked"),
    exact("per_device/cpu/counts", "counts checked and mismatches (0): integers"),
    exact("per_device/cpu/float*/rewards_equal_rounded_reference", "rewards equal the rounded reference: a verdict"),
    relative("per_device/cpu/float*/moment_max_scaled_err", 1e-6,
             "rounding error of the torch moments: fixed for a given torch build and CPU"),
    relative("per_device/cpu/float*/reward_max_rel_err", 1e-6, "float32 rounding of the rewards (0 in float64)"),
    exact("per_device/cpu/monte_carlo[*]/all_within", "torch Monte Carlo intervals contain the exact moments"),
    interval("per_device/cpu/monte_carlo[*]/mean_intervals[*]",
             "torch Monte Carlo interval for B_g(p): must overlap the baseline's"),
    exact("per_device/cpu/crosscheck[*]", "alft crosscheck verdicts and case counts (hypothesis, derandomized)"),
)


def _c8_key(f) -> str:
    cpu = f["per_device"]["cpu"]
    return (f"counts exact ({cpu['counts']['checked']} checked), float64 rewards bit for bit, moments within "
            f"{cpu['float64']['moment_max_scaled_err']:.1e} (float64) / {cpu['float32']['moment_max_scaled_err']:.1e} "
            f"(float32) on {', '.join(f['devices'])}")


CLAIM = ClaimSpec(
    id="C8", title="One implementation, two engines: the torch kernels match the reference", run=run,
    statement=("The torch implementation computes the same counts, rewards, exact moments and Monte Carlo estimates "
               "as the reference implementation, to stated tolerances per dtype, on any input the reference accepts, "
               "and rejects what it rejects."),
    regression=REGRESSION,
    key_figure=KeyFigure("torch engines", _c8_key, accuracy="counts exact; moment errors are float rounding, "
                                                           "measured against the float64 reference"),
    profiles={
        "quick": {"K": [2, 5, 16], "solver_K_max": 8, "p_points": 41, "mc_K": [4], "mc_probs": [0.5, 0.3, 0.2],
                  "mc_groups": 20000, "mc_alpha": 1e-3, "crosscheck_examples": 25},
        "default": {"K": [2, 3, 5, 8, 16, 32, 64], "solver_K_max": 16, "p_points": 201, "mc_K": [4, 16],
                    "mc_probs": [0.4, 0.3, 0.2, 0.07, 0.03], "mc_groups": 200000, "mc_alpha": 1e-3,
                    "crosscheck_examples": 150},
        "full": {"K": [2, 3, 5, 8, 16, 32, 64, 128, 256], "solver_K_max": 32, "p_points": 1001, "mc_K": [4, 16, 64],
                 "mc_probs": [0.4, 0.3, 0.2, 0.07, 0.03], "mc_groups": 1000000, "mc_alpha": 1e-3,
                 "crosscheck_examples": 500, "mc_scale_groups": 10 ** 10, "mc_scale_K": 8},
    },
)
