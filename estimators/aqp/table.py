"""The AQP table as a registered method: ``build_table(gen, "aqp", K, eps=... | variance_max=...)`` (C6).

* ``eps`` in the shipped set (KL, default objective): the shipped certified table, loaded without a solver;
* ``eps`` anything else, with ``solve=True``: solved and certified (:func:`.core.solve`, cached on disk);
* ``certified="reference"`` (with ``solve=True``): the extended-precision optimum, certified as such (its
  decimal entries are the table's ``reference``; its float64 ``values`` are their rounding, which the
  provenance says can move the bias by how much). For small eps at larger K no float64 table can be certified
  (the shipped set refuses them); this is the certified optimum there, for uses that keep the precision;
* ``variance_max`` (a number or ``"plugin"``): the dual, the least weighted bias with V(g) <= variance_max
  (:func:`.core.solve_dual`, solver needed); the table returned is the bracket's feasible end.

The certificate (:meth:`.core.AQPResult.certificate`) is bound to the table's values and parameters.
"""
from __future__ import annotations

from ..generators import get_generator
from ..table import Table
from .shipped import SHIPPED_EPS, load

__all__ = ["aqp_table", "table_from_result"]


def table_from_result(res, generator, params: dict, provenance: str | None = None, *,
                      keep_reference: bool = True) -> Table:
    """A :class:`Table` carrying an :class:`~estimators.aqp.core.AQPResult`'s bound certificate.
    ``keep_reference=False`` leaves out the extended-precision entries (the certificate is about the stored
    float64 table; the shipped set keeps its files small)."""
    from ..certificates import bind
    from .core import AQP_VERSION
    ref = tuple(res.reference) if res.reference is not None and keep_reference else None
    fields = {"values": res.values, "reference": ref, "reference_dps": res.reference_dps if ref else None,
              "generator": generator, "method": "aqp", "params": params}
    prov = provenance or (
        f"AQP solved by the {res.stage} stage ("
        + ("cvxpy + Clarabel with exchange, double precision" if res.stage == "clarabel" else
           f"exchange around an interior-point method in Arb at {res.prec_bits} bits, Newton-polished: "
           f"{res.polished}; entries kept to {res.reference_dps} digits, each rounded to the float64 neighbour that "
           f"keeps the bias inside the budget at the error's extrema"
           + (f"; the budget tightened {res.repairs} times to fit that rounding" if res.repairs else ""))
        + f"); certified: bias <= (1+eps) E*{_source(res)} on [0, 1], {_value(res)} exact, optimality gap "
          f"{res.gap:.2g}")
    cert = bind(fields, res.certificate(), certifier=AQP_VERSION)
    return Table(values=res.values, generator=generator, method="aqp", params=params, provenance=prov,
                 reference=ref, reference_dps=fields["reference_dps"], certificate=cert)


def aqp_table(generator, K, *, eps=None, variance_max=None, solve: bool = False, objective: str = "integrated",
              gap_tol: float = 1e-3, use_cache: bool = True, certified: str = "stored",
              advantage: str = "decoupled") -> Table:
    """C6: least weighted variance under the bias budget (1+eps) E*_K (certified; shipped for KL, K = 2..128).

    See the module docstring. Exactly one of ``eps`` and ``variance_max`` must be given. Under
    ``advantage="rloo"`` (C9): :func:`.baseline.aqp_table_rloo`."""
    if advantage == "rloo":
        from .baseline import aqp_table_rloo
        return aqp_table_rloo(get_generator(generator), K, eps=eps, variance_max=variance_max, solve=solve,
                              objective=objective, gap_tol=gap_tol, use_cache=use_cache, certified=certified)
    if (eps is None) == (variance_max is None):
        raise TypeError("method 'aqp' needs exactly one of eps (the budget excess over E*_K, e.g. eps=10; shipped: "
                        f"{list(SHIPPED_EPS)}) and variance_max (a number or 'plugin')")
    if not isinstance(solve, bool):
        raise TypeError(f"solve must be True or False, got {solve!r}")
    if certified not in ("stored", "reference"):
        raise ValueError(f"certified must be 'stored' (the float64 table is certified) or 'reference' (the "
                         f"extended-precision table is), got {certified!r}")
    if certified == "reference" and (not solve or variance_max is not None or objective != "integrated"):
        raise ValueError("certified='reference' needs solve=True with eps and the integrated objective (the shipped "
                         "tables, the dual and the sup objective certify the float64 table)")
    from .core import check_aqp_K, check_eps, check_objective
    K = check_aqp_K(K)
    objective = check_objective(objective)
    if variance_max is not None:
        from .core import solve_dual
        out = solve_dual(generator, K, variance_max, gap_tol=gap_tol, use_cache=use_cache)
        res = out["table"]
        params = {"variance_max": out["variance_max"], "variance_max_from": out["variance_max_from"],
                  "eps": res.eps, "objective": objective}
        prov = (f"dual AQP: least weighted bias with V <= {out['variance_max']:.9g} ({out['variance_max_from']}); "
                f"certified bracket [{out['bias_lower']:.9g}, {out['bias_upper']:.9g}] on that bias "
                f"(relative width {out['rel_width']:.2g}); the table is the AQP solution at eps = {res.eps:.6g}")
        return table_from_result(res, get_generator(generator), params, prov)
    eps = check_eps(eps)
    gen = get_generator(generator)
    if not solve:
        if gen.name == "kl" and objective == "integrated" and eps in SHIPPED_EPS:
            return load(K, eps)
        from ..remedy import with_remedy
        reason = (f"no shipped AQP table for generator {gen.label()!r}, eps = {eps!r}, objective {objective!r}: the "
                  f"shipped set is kl with eps in {list(SHIPPED_EPS)} (K = 2..128)")
        raise with_remedy(ValueError(
            f"{reason}. Solve this one with solve=True (e.g. build_table({gen.name!r}, 'aqp', {K}, eps={eps!r}, "
            f"solve=True); needs the solver, cached)"), reason, solve=True)
    from .core import solve as solve_aqp
    if certified == "reference":
        res = solve_aqp(gen, K, eps, objective=objective, gap_tol=gap_tol, use_cache=use_cache, stored=False)
        if res.reference is None:         # double precision sufficed: the float64 table itself is certified
            return table_from_result(res, gen, {"eps": eps, "objective": objective})
        vb = res.values_bias_upper
        ok = vb is not None and vb <= res.tau_lower
        prov = (f"AQP solved by the {res.stage} stage at {res.prec_bits} bits; certified for the extended-precision "
                f"entries (reference, {res.reference_dps} digits): bias <= (1+eps) E*_K on [0, 1], V exact, "
                f"optimality gap {res.gap:.2g}. The float64 values (each entry one of the reference's two float64 "
                f"neighbours) have their own certified weighted bias <= {vb:.9g}, "
                + (f"within the budget {res.tau_lower:.9g}" if ok else
                   f"{vb / res.tau_lower:.3g} times the budget {res.tau_lower:.9g}: NOT within it, and the "
                   f"certificate says so (bias_within_budget: false, values_bias_upper); the kernels read the "
                   f"values, so keep the reference entries where the budget matters"))
        return table_from_result(res, gen, {"eps": eps, "objective": objective, "certified": "reference"}, prov)
    res = solve_aqp(gen, K, eps, objective=objective, gap_tol=gap_tol, use_cache=use_cache)
    return table_from_result(res, gen, {"eps": eps, "objective": objective})


def _source(res) -> str:
    return f" (from {res.E_star_source})" if getattr(res, "E_star_source", None) else "_K"


def _value(res) -> str:
    q = getattr(res, "quadratic", None)
    return f"the objective g^T Q g ({q['ident']})" if q else "V"
