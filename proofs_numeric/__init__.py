"""Numerical checks of the claims C1-C8 in docs/claims.md, and the report that collects them.

Each claim has a module ``cN_*.py`` exposing ``CLAIM`` (a :class:`~proofs_numeric.result.ClaimSpec`):
its id, title, per-profile parameters and a ``run(params, ctx) -> ClaimResult`` function.
:mod:`proofs_numeric.claims` lists them in report order.
"""
