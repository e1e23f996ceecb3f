"""What a trainer's baseline does to a table, and the table that undoes it (claim C9).

A trainer does not feed the reward ``R_i = r(z_i) - beta * g(C_i)`` to the policy gradient as it is: it
subtracts a baseline. When the baseline is built from the *other* samples' rewards, it sees the scored
sample's answer (a sample j with the same answer counts sample i in C_j), so the estimator the trainer
actually applies is not g. One vocabulary names the cases everywhere (API, CLI, adapters, game):

``decoupled``
    no baseline, or one that does not depend on the scored sample's answer: the trainer applies g itself.
``rloo``
    the mean of the other samples' rewards (RLOO), or the group mean *with* the sample (GRPO without the
    std, Dr. GRPO, TRL ``scale_rewards="none"``; the same advantage times (K - 1)/K, a step size), also
    followed by a batch-wide std (TRL ``scale_rewards="batch"``, verl REINFORCE++-baseline: one scale
    shared by every sample, a step size). With n = K - 1, the trainer applies the *effective table*

        h(c) = ((n - c) g(c) + c g(c - 1)) / n,     i.e.  B_h(p) = B_g(p) - p B_g'(p) / n,

    a polynomial of degree <= K - 2: a stock group of K carries what K - 1 samples carry.
``grpo``
    the group mean, then division by the group's own std (TRL's default ``scale_rewards="group"``, verl's
    default GRPO): the scale depends on the group's composition, so no table-only correction exists; the
    game measures its fixed points by enumeration.

The effective table has a plain form. With X ~ Binomial(n - 1, p) the count among the K - 2 samples other
than i and j, E[g(C_i)] = (1 - p) E[g(X)] + p E[g(X + 1)] and the baseline's shift is p E[g(X + 1) - g(X)],
so B_h(p) = E[g(X)]: **the trainer applies the first K - 1 entries of g as a table for K - 1 samples**
(h above is that polynomial written with K coefficients; :func:`lower_degree` of it is g(0), ..., g(K - 2)).
The last entry g(K - 1) never reaches an advantage (when all K answers agree every advantage is 0). So:

* the effective table of g is g without its last entry (:func:`effective_table`), and
* the table that makes the trainer apply a (K - 1)-table e is e with one entry appended (:func:`correct_for`;
  the appended entry repeats e's last one, so that g is also sensible where a baseline is decoupled).

A stock group of K carries what K - 1 samples carry, and every estimator of K - 1 samples is reachable:
``build_table(..., advantage="rloo")`` builds the method's table for K - 1 and appends the entry
(docs/advantages.md has the proofs; the certified methods restate their certificates for the effective table).
"""
from __future__ import annotations

from fractions import Fraction
from types import MappingProxyType
from typing import Sequence

from ..table import Table

__all__ = ["ADVANTAGES", "DEFAULT_ADVANTAGE", "EXACT_SETTINGS", "check_advantage", "refuse_grpo",
           "effective_coefficients", "lower_degree", "elevate", "effective_table", "correct_for",
           "corrected_fields"]

ADVANTAGES = MappingProxyType({
    "decoupled": "no baseline, or a baseline that does not depend on the scored sample's answer: the trainer "
                 "applies g itself",
    "rloo": "leave-one-out mean of the others' rewards, or the group mean with the sample (then optionally a "
            "batch-wide std): the trainer applies g(0), ..., g(K - 2) as a table for K - 1 samples",
    "grpo": "group mean then division by the group's std: no table-only correction exists",
})
DEFAULT_ADVANTAGE = "decoupled"

#: trainer settings under which the ``rloo`` correction is exact (up to a step size)
EXACT_SETTINGS = ("TRL GRPOConfig(scale_rewards='none') or scale_rewards='batch'",
                  "TRL RLOOTrainer",
                  "verl algorithm.adv_estimator=grpo or grpo_vectorized with algorithm.norm_adv_by_std_in_grpo=False",
                  "verl algorithm.adv_estimator=rloo or rloo_vectorized",
                  "verl algorithm.adv_estimator=reinforce_plus_plus_baseline or gpg")


def check_advantage(advantage) -> str:
    """``advantage`` must be one of :data:`ADVANTAGES`; the error says which trainer settings each means."""
    if isinstance(advantage, str) and advantage in ADVANTAGES:
        return advantage
    names = "; ".join(f"{k!r}: {v}" for k, v in ADVANTAGES.items())
    raise ValueError(f"advantage must be one of 'decoupled', 'rloo', 'grpo' ({names}), got {advantage!r}")


def refuse_grpo() -> ValueError:
    """The error for an exact correction asked under the group-std advantage."""
    return ValueError(
        "advantage 'grpo' (the group mean, then division by the group's std: TRL's default scale_rewards='group', "
        "verl GRPO with norm_adv_by_std_in_grpo=True) has no table-only correction: the per-group scale depends on "
        "the group's composition. The correction is exact under " + "; ".join(EXACT_SETTINGS)
        + ": set one of those and build with advantage='rloo' (alft tables --advantage rloo)")


# -- the maps, exact (Fractions) or at the current mpmath precision -------------------------------------------

def effective_coefficients(g: Sequence, advantage: str = "rloo") -> list:
    """Bernstein coefficients of degree n = K - 1 of the estimator the trainer applies to table ``g``.

    ``decoupled``: g itself. ``rloo``: h(c) = ((n - c) g(c) + c g(c - 1)) / n. Entries stay in their
    arithmetic (floats are taken exactly as binary rationals).
    """
    adv = check_advantage(advantage)
    if adv == "grpo":
        raise refuse_grpo()
    vals = [Fraction(v) if isinstance(v, float) else v for v in g]
    if adv == "decoupled":
        return list(vals)
    n = len(vals) - 1
    if n < 1:
        raise ValueError(f"a table needs K >= 2 entries, got {len(vals)}")
    return [vals[0]] + [((n - c) * vals[c] + c * vals[c - 1]) / n for c in range(1, n + 1)]


def lower_degree(h: Sequence, *, check: bool = True) -> list:
    """Bernstein coefficients of degree n - 1 of a degree-n Bernstein polynomial whose degree is <= n - 1
    (the inverse of :func:`elevate`). With exact entries and ``check``, a polynomial of full degree n is an
    error (the last coefficient's elevation identity is checked exactly)."""
    n = len(h) - 1
    if n < 1:
        raise ValueError("lower_degree needs at least two coefficients")
    out = [h[0]]
    for c in range(1, n):
        out.append((n * h[c] - c * out[c - 1]) / (n - c))
    if check and all(isinstance(x, (Fraction, int)) for x in h) and out[n - 1] != h[n]:
        raise ValueError("the coefficients describe a polynomial of full degree n; it has no lower-degree form")
    return out


def elevate(x: Sequence) -> list:
    """Degree elevation: the Bernstein coefficients of degree m + 1 of the degree-m polynomial with
    coefficients ``x`` (same polynomial): y(c) = (c x(c - 1) + (m + 1 - c) x(c)) / (m + 1)."""
    m = len(x) - 1
    n = m + 1
    return [x[0]] + [(c * x[c - 1] + (n - c) * x[c]) / n for c in range(1, n)] + [x[m]]


# -- tables ----------------------------------------------------------------------------------------------------

def effective_table(table: Table, advantage: str | None = None) -> Table:
    """The estimator a trainer applies when given ``table`` (its stored float64 entries, taken exactly).

    ``advantage`` defaults to the one the table was built for. ``decoupled``: the table itself. ``rloo``:
    the table of its first K - 1 entries (module docstring), so that its moments (C1-style identities,
    weighted bias) are those of what the trainer applies. ``grpo`` has no effective table (a ValueError says
    which settings make the correction exact).
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators Table, got {type(table).__name__}")
    adv = check_advantage(table.advantage if advantage is None else advantage)
    if adv == "grpo":
        raise refuse_grpo()
    if adv == "decoupled":
        return table
    if table.K < 3:
        raise ValueError("under the 'rloo' advantage a group of K = 2 has a constant effective table (h(0) = h(1) = "
                         "g(0)): the diversity term cancels. Use K >= 3")
    params = {k: v for k, v in table.params.items() if k != "advantage"}
    params.update({"effective_under": adv, "trainer_K": table.K})
    ref = table.reference
    return Table(values=table.values[:-1], generator=table.generator, method=table.method, params=params,
                 provenance=(f"effective table under the {adv!r} advantage of the {table.method} table for K = "
                             f"{table.K}: its first K - 1 entries, applied to a count among K - 2 samples"),
                 reference=None if ref is None else tuple(ref[:-1]), reference_dps=table.reference_dps)


def correct_for(effective: Table, advantage: str = "rloo", *, provenance: str | None = None, certificate=None,
                extra_params: dict | None = None) -> Table:
    """The table of K = effective.K + 1 entries that a trainer with ``advantage`` turns into ``effective``:
    ``effective``'s entries (float64 and reference, unchanged) with the last one repeated (module docstring).

    A table already built for a baseline is refused. A certified ``effective`` table's certificate is
    restated for the corrected table (:func:`restate_certificate`); a ``certificate`` given here must already
    be bound to the returned fields.
    """
    if not isinstance(effective, Table):
        raise TypeError(f"effective must be an estimators Table, got {type(effective).__name__}")
    adv = check_advantage(advantage)
    if effective.advantage != DEFAULT_ADVANTAGE:
        raise ValueError(f"this {effective.method} table is already corrected for the {effective.advantage!r} "
                         f"advantage; correcting it again would correct twice. Build the uncorrected table and "
                         f"correct that (or use it as it is with that advantage)")
    if adv == "grpo":
        raise refuse_grpo()
    if adv == "decoupled":
        return effective
    fields = corrected_fields(effective, adv, extra_params)
    if certificate is None and effective.certificate is not None:
        certificate = restate_certificate(effective, fields, adv)
    return Table(**fields, provenance=provenance or _provenance(effective, adv), certificate=certificate)


def restate_certificate(effective: Table, fields: dict, advantage: str) -> dict:
    """``effective``'s certificate, restated for the corrected table with ``fields`` and bound to it.

    Sound because the effective table of the corrected table is ``effective`` bit for bit (its first K - 1
    float64 and reference entries, checked here), and ``effective``'s certificate was checked against its
    binding when that (immutable) table was built. Every certified figure keeps its meaning, now about the
    estimator the trainer applies; ``advantage`` and ``effective_table`` say so.
    """
    from ..certificates import BINDING_KEY, bind
    K = len(fields["values"])
    if list(fields["values"][:-1]) != [float(v) for v in effective.values] or (
            effective.reference is not None and tuple(fields["reference"][:-1]) != tuple(effective.reference)):
        raise ValueError("restate_certificate: the corrected table's first K - 1 entries differ from the effective "
                         "table's (internal error)")
    body = {k: v for k, v in effective.certificate.items() if k != BINDING_KEY}
    inner = effective.certificate[BINDING_KEY]
    body.update({
        "advantage": advantage,
        "effective_table": (f"entries 0..{K - 2} of this table: the {effective.method} table for {K - 1} samples, "
                            f"which a trainer with the {advantage!r} advantage applies (B_h(p) = E g(X), "
                            f"X ~ Bin({K - 2}, p)); every figure above certifies that table"),
        "effective_K": K - 1, "effective_certifier": inner["certifier"], "effective_digest": inner["sha256"],
    })
    return bind(fields, body, certifier=f"{inner['certifier']}/{advantage}-1")


def corrected_fields(effective: Table, advantage: str = "rloo", extra_params: dict | None = None) -> dict:
    """The fields (values, generator, method, params, reference, reference_dps) of :func:`correct_for`'s
    table, for builders that bind a certificate to them first."""
    ref = effective.reference
    return {"values": [float(v) for v in effective.values] + [float(effective.values[-1])],
            "generator": effective.generator, "method": effective.method,
            "params": {**dict(effective.params), **(extra_params or {}), "advantage": advantage},
            "reference": None if ref is None else tuple(ref) + (ref[-1],), "reference_dps": effective.reference_dps}


def _provenance(effective: Table, adv: str) -> str:
    K = effective.K + 1
    return (f"corrected for the {adv!r} advantage: entries 0..{K - 2} are the {effective.method} table for "
            f"{effective.K} samples, which the trainer's baseline makes it apply (B_h(p) = E g(X), X ~ Bin({K - 2}, "
            f"p)); entry {K - 1} repeats the last one and never reaches an advantage. Effective table: "
            f"{effective.provenance}")
