"""C9, AQP under the leave-one-out baseline: the shipped set for ``advantage="rloo"``, loaded and re-verified.

Every (K, eps) of the set (KL, K = 3..128, C6's budgets) is either a certified table or a recorded refusal. Each
loaded table's effective table (K - 1 entries) is what the trainer applies; its advantage variance V_adv
(:mod:`estimators.aqp.baseline`) is recomputed exactly and must lie in the certificate's bracket, and its budget,
recomputed from E* of K - 1 samples, must be the certificate's. For the
profile's sample the whole certificate is recomputed from the values in this run: the budget from E* of K - 1
samples, the weak-duality lower bound on the optimum from the stored multipliers, the optimality gap, and (for
the smaller sample) the rigorous sup of the effective weighted bias. Nothing is taken from the file on trust
except the multipliers, which are only a witness: any multipliers give a valid lower bound.
"""
from __future__ import annotations

import math
import time

from estimators import build_table
from estimators.advantages import effective_table
from estimators.aqp.baseline import advantage_variance_exact, advantage_variance_objective
from estimators.aqp.core import budget
from estimators.aqp.frontier import certificate_point, reverify
from estimators.aqp.shipped import ShippedTableError, manifest

from .c6_aqp import certifiable_ranges, refusal_counts
from .criteria import every

__all__ = ["section_aqp_rloo", "aqp_rloo_criteria", "aqp_rloo_tables"]


def _reverified(K: int, eps: float, t, bias: bool, gap_tol: float) -> dict:
    """The certificate of the corrected table ``t`` recomputed from its values (see the module docstring)."""
    c = t.certificate
    Q = advantage_variance_objective(K)
    # the effective entries (the first K - 1) with the certificate restated for them
    rv = reverify(K - 1, certificate_point(effective_table(t).values, c), bias=bias, objective=Q)
    lb = max(rv["optimum_lower"], 0.0)
    bud = budget("kl", K - 1, eps)
    gap = rv["variance_upper"] / lb - 1 if lb > 0 else (0.0 if rv["variance_upper"] == 0 else math.inf)
    problems = [] if c["quadratic_objective"]["sha256"] == Q.sha256 else [
        "the certificate's objective is not the rloo advantage's variance for this K (SHA-256 of the exact form)"]
    if (rv["variance_lower"], rv["variance_upper"]) != (c["variance_lower"], c["variance_upper"]):
        problems.append("the exact advantage variance differs from the certificate's bracket")
    if not math.isclose(lb, c["optimum_lower_bound"], rel_tol=1e-9, abs_tol=0.0):
        problems.append(f"the dual bound recomputes to {lb:.17g}, not {c['optimum_lower_bound']:.17g}")
    if (bud["tau_lower"], bud["tau_upper"]) != (c["budget_lower"], c["budget_upper"]):
        problems.append("the budget recomputed from E* of K - 1 samples differs from the certificate's")
    if gap > gap_tol:
        problems.append(f"recomputed optimality gap {gap:.3g} > {gap_tol:g}")
    if bias and not rv["bias_within_budget"]:
        problems.append(f"recertified effective bias {rv['bias_upper']:.9g} exceeds the budget {c['budget_lower']:.9g}")
    return {"K": K, "eps": eps, "V_adv": rv["variance_upper"], "optimum_lower": lb, "gap": gap,
            "bias_upper": rv.get("bias_upper", c["bias_upper"]), "bias_recertified": bias,
            "budget_lower": c["budget_lower"], "problems": problems}


def section_aqp_rloo(params, log) -> dict:
    """Load the profile's part of the shipped set for the baseline; V_adv exact for each table, the whole
    certificate recomputed for ``params["aqp_verify"]`` (bias sup too for ``params["aqp_verify_bias"]``)."""
    man = manifest("rloo")
    K_lo, K_hi = man["K"]
    Ks = [K for K in range(K_lo, K_hi + 1) if K <= params["aqp_K_max"]]
    verify_pairs = {(int(K), float(e)) for K, e in params["aqp_verify"]}
    bias_pairs = {(int(K), float(e)) for K, e in params["aqp_verify_bias"]}
    t0 = time.perf_counter()
    loaded, refused, damaged, in_bracket, verified, brackets = 0, 0, [], 0, [], []
    for K in Ks:
        for eps in man["eps"]:
            try:
                t = build_table("kl", "aqp", K, eps=eps, advantage="rloo")
            except ShippedTableError as exc:
                if exc.cause is None:
                    damaged.append(f"K={K}, eps={eps:g}: {exc}")
                else:
                    refused += 1
                continue
            loaded += 1
            c = t.certificate
            V = advantage_variance_exact(list(t.values))
            bud = budget("kl", K - 1, float(eps))                      # from E* of K - 1 samples, this run
            ok = c["variance_lower"] <= V <= c["variance_upper"] and \
                (bud["tau_lower"], bud["tau_upper"]) == (c["budget_lower"], c["budget_upper"])
            in_bracket += ok
            brackets.append([K, f"{eps:g}", f"{float(V):.8g}", f"{bud['tau_lower']:.8g}", "yes" if ok else "NO"])
            if (K, float(eps)) in verify_pairs:
                verified.append(_reverified(K, float(eps), t, (K, float(eps)) in bias_pairs, params["aqp_gap_tol"]))
    log(f"  [C9] AQP under the baseline: {loaded} shipped tables loaded for K = {Ks[0]}..{Ks[-1]} (V_adv exact), "
        f"{refused} refusals, {len(verified)} certificates recomputed in {time.perf_counter() - t0:.1f}s")
    return {"loaded": loaded, "refused": refused, "damaged": damaged, "in_bracket": in_bracket, "verified": verified,
            "brackets": brackets,
            "Ks": [Ks[0], Ks[-1]], "ranges": certifiable_ranges(man), "refused_by_cause": refusal_counts(man),
            "n_files": len(man["files"])}


def aqp_rloo_criteria(aqp) -> list:
    """The verdict's requirements on the shipped set for the baseline."""
    n_ok = sum(not r["problems"] for r in aqp["verified"])
    bad = [f"K={r['K']}, eps={r['eps']:g}: " + "; ".join(r["problems"]) for r in aqp["verified"] if r["problems"]]
    return [
        every("AQP under the baseline: shipped set", f"every (K, eps) for K = {aqp['Ks'][0]}..{aqp['Ks'][1]} is a "
              "certified table or a refusal the manifest records, and each table's exact advantage variance lies in "
              "its certificate's bracket and its budget recomputed from E* of K - 1 samples is the certificate's", aqp["in_bracket"], aqp["loaded"] + len(aqp["damaged"]),
              failures=aqp["damaged"]),
        every("AQP under the baseline: re-verified", "for each sampled table the budget (from E* of K - 1 samples), "
              "the exact advantage variance, the weak-duality bound and the gap are recomputed from its values and "
              "agree with its certificate (and the effective bias sup, where recertified, is within the budget)",
              n_ok, len(aqp["verified"]), failures=bad),
    ]


def aqp_rloo_tables(aqp) -> list:
    """Rows of the report's tables: per eps the certified and refused K, and the re-verified sample (every
    loaded table's row is ``aqp["brackets"]``)."""
    per_eps = [[f"{r['eps']:g}", r["certified_K"] or "none",
                "; ".join(f"{k} ({c.replace('_', ' ')})" for c, k in r["refused_by_cause"].items()) or "none"]
               for r in aqp["ranges"]]
    rows = [[r["K"], f"{r['eps']:g}", f"{r['V_adv']:.6g}", f"{r['optimum_lower']:.6g}", f"{r['gap']:.2g}",
             f"{r['bias_upper']:.6g}" + ("" if r["bias_recertified"] else " (certificate)"), f"{r['budget_lower']:.6g}",
             "yes" if not r["problems"] else "NO: " + "; ".join(r["problems"])] for r in aqp["verified"]]
    return per_eps, rows
