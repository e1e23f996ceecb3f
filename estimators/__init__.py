"""alft-verify reference estimators: tables, generators, exact moments, Monte Carlo.

Every estimator is a :class:`Table` of K numbers indexed by the leave-one-out count
(docs/theory.md, section 2); build one with :func:`build_table` and evaluate its exact moments
with :func:`moments`. The torch kernels live in ``estimators.torch`` (torch is optional).
"""
from .generators import GENERATORS, Generator, get_generator
from .methods import METHODS, build_table, method_names, register_method
from .moments import ENGINES, Moments, moments
from .table import Table

__all__ = [
    "Table", "Generator", "GENERATORS", "get_generator", "METHODS", "build_table", "method_names",
    "register_method", "Moments", "moments", "ENGINES",
]
__version__ = "0.1.0"
