"""The one abstraction: an estimator *table* g = (g(0), ..., g(K-1)) (THEORY section 2).

The reward of sample i is ``g(C_i) + generator.dropped_constant`` where C_i is its
leave-one-out count. Exact moments, Monte Carlo, caching and the torch kernels all
operate on tables.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

import mpmath
import numpy as np

from ._validate import check_K
from .generators import Generator, get_generator

__all__ = ["Table"]


def _reward_text(const: Fraction) -> str:
    if const == 0:
        return "g(C)"
    return f"g(C) + {const}" if const > 0 else f"g(C) - {-const}"


@dataclass(frozen=True, eq=False)
class Table:
    """An immutable float64 table with metadata.

    Attributes
    ----------
    values : numpy.ndarray
        The K float64 entries, read-only. ``values[c]`` is the estimate for count c.
    generator : Generator
        What the table estimates (``generator.target_text``) and which constant was dropped.
    method : str
        Registry name of the construction (``ustat``, ``plugin``, ``jackknife``, ...).
    params : Mapping
        Method parameters (JSON-serialisable).
    provenance : str
        How the entries were computed (arithmetic, precision, rounding).
    reference : tuple or None
        Higher-precision entries the float64 values were rounded from: ``Fraction`` when
        exact, otherwise decimal strings with ``reference_dps`` significant digits.
    certificate : Mapping or None
        Method-specific certified figures (e.g. a bracket on the minimax error).
    """

    values: np.ndarray
    generator: Generator
    method: str
    params: Mapping = field(default_factory=dict)
    provenance: str = ""
    reference: tuple | None = None
    reference_dps: int | None = None
    certificate: Mapping | None = None

    def __post_init__(self):
        vals = np.array(self.values, dtype=np.float64, copy=True)
        if vals.ndim != 1:
            raise ValueError(f"values must be one-dimensional, got shape {vals.shape}")
        check_K(vals.size, name="len(values)")
        if not np.all(np.isfinite(vals)):
            raise ValueError("values must be finite (a table with NaN or inf entries is not a table)")
        vals.setflags(write=False)
        object.__setattr__(self, "values", vals)
        if self.reference is not None and len(self.reference) != vals.size:
            raise ValueError("reference must have one entry per table value")

    # -- shape ------------------------------------------------------------------
    @property
    def K(self) -> int:
        """Group size: the table has K entries, indexed by counts 0..K-1."""
        return int(self.values.size)

    @property
    def n(self) -> int:
        """Number of *other* samples, n = K - 1 (the binomial size of C_i)."""
        return self.K - 1

    def __len__(self) -> int:
        return self.K

    def __call__(self, counts):
        """Gather ``values[counts]`` (counts must be integers in [0, K-1])."""
        c = np.asarray(counts)
        if not np.issubdtype(c.dtype, np.integer):
            raise TypeError(f"counts must be integers in [0, {self.K - 1}], got dtype {c.dtype}")
        if c.size and (c.min() < 0 or c.max() > self.K - 1):
            raise ValueError(f"counts must lie in [0, {self.K - 1}]")
        return self.values[c]

    # -- higher-precision views -------------------------------------------------
    @property
    def is_exact(self) -> bool:
        """True when ``reference`` holds exact rationals."""
        return self.reference is not None and isinstance(self.reference[0], Fraction)

    def exact_values(self) -> list[Fraction]:
        """Entries as exact rationals: the reference if exact, else the stored float64 values
        (which are exact binary rationals: the table *as stored and used*)."""
        if self.is_exact:
            return list(self.reference)
        return [Fraction(float(v)) for v in self.values]

    def mp_values(self, *, stored: bool = True) -> list:
        """Entries as mpmath numbers at the current precision.

        ``stored=True`` gives the float64 table as used; ``stored=False`` the reference
        (higher-precision) entries where available.
        """
        if stored or self.reference is None:
            return [mpmath.mpf(float(v)) for v in self.values]
        if self.is_exact:
            return [mpmath.mpf(r.numerator) / r.denominator for r in self.reference]
        return [mpmath.mpf(r) for r in self.reference]

    # -- export -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``K``, ``generator``, ``method``, ``params``, ``values`` (full precision)."""
        gen = self.generator
        return {
            "K": self.K,
            "generator": gen.name,
            "generator_params": dict(gen.params),
            "method": self.method,
            "params": dict(self.params),
            "estimand": gen.target_text,
            "dropped_constant": str(gen.dropped_constant),
            "reward": _reward_text(gen.dropped_constant),
            "provenance": self.provenance,
            "values": [float(v) for v in self.values],
            "reference": None if self.reference is None else [str(r) for r in self.reference],
            "reference_dps": self.reference_dps,
            "certificate": None if self.certificate is None else dict(self.certificate),
        }

    def to_json(self, **kw) -> str:
        # repr-precision floats: json writes the shortest repr that round-trips exactly
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: Mapping) -> "Table":
        """Rebuild a table from :meth:`to_dict` output (used by the on-disk cache)."""
        gen = get_generator(d["generator"], **d.get("generator_params", {}))
        ref = d.get("reference")
        if ref is not None and d.get("reference_dps") is None:
            ref = tuple(Fraction(r) for r in ref)
        elif ref is not None:
            ref = tuple(ref)
        return cls(
            values=np.array(d["values"], dtype=np.float64), generator=gen, method=d["method"],
            params=d.get("params", {}), provenance=d.get("provenance", ""), reference=ref,
            reference_dps=d.get("reference_dps"), certificate=d.get("certificate"),
        )

    def __repr__(self) -> str:
        return (f"Table(method={self.method!r}, generator={self.generator.label()!r}, K={self.K}, "
                f"estimand={self.generator.target_text!r}, max|g|={np.max(np.abs(self.values)):.3g})")
