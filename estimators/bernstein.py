"""The mean B_g(p) of a table as a polynomial in p (claim C1): exact conversions between bases.

The conversions live with the certified arithmetic (:mod:`estimators.certified.bernstein`, which documents
them); their public names are importable from here too.
"""
from .certified.bernstein import bernstein_to_monomial, mean_polynomial, monomial_to_bernstein  # noqa: F401

__all__ = ["bernstein_to_monomial", "monomial_to_bernstein", "mean_polynomial"]
