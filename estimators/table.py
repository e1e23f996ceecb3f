"""The one abstraction: an estimator *table* g = (g(0), ..., g(K-1)) (docs/theory.md, section 2).

The reward of sample i is ``g(C_i) + generator.dropped_constant`` where C_i is its
leave-one-out count. Exact moments, Monte Carlo, caching and the torch kernels all
operate on tables.
"""
from __future__ import annotations

import copy
import json
import types
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

import mpmath
import numpy as np

from ._validate import check_K, check_real_array, parse_rational
from .certificates import CertificateMismatchError, check_binding
from .generators import Generator, get_generator

__all__ = ["Table"]


def _reward_text(const: Fraction) -> str:
    if const == 0:
        return "g(C)"
    return f"g(C) + {const}" if const > 0 else f"g(C) - {-const}"


_IMMUTABLE = frozenset({float, int, str, bool, type(None)})


def _copy_jsonlike(x):
    """A deep copy of nested dicts and lists (lists of scalars copied in one step: a certificate holds long
    lists of multipliers); any other object is deep-copied."""
    if isinstance(x, dict):
        return {k: _copy_jsonlike(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        if all(map(_IMMUTABLE.__contains__, map(type, x))):
            return list(x) if isinstance(x, list) else tuple(x)
        return type(x)(_copy_jsonlike(v) for v in x)
    if type(x) in _IMMUTABLE:
        return x
    return copy.deepcopy(x)


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
        Method-specific certified figures (e.g. a bracket on the minimax error), bound to exactly
        these values and metadata by a digest (:mod:`estimators.certificates`). Construction checks
        the binding and raises :class:`~estimators.certificates.CertificateMismatchError` when it is
        missing or does not match (an edited entry, parameter, K or generator); see
        :meth:`from_dict` for dropping such a certificate instead. Stored read-only.
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
        vals = np.array(check_real_array(self.values, name="values", allowed="finite real numbers"), copy=True)
        if vals.ndim != 1:
            raise ValueError(f"values must be one-dimensional, got shape {vals.shape}")
        check_K(vals.size, name="len(values)")
        if not np.all(np.isfinite(vals)):
            raise ValueError("values must be finite (a table with NaN or inf entries is not a table)")
        vals.setflags(write=False)
        object.__setattr__(self, "values", vals)
        if self.reference is not None and len(self.reference) != vals.size:
            raise ValueError("reference must have one entry per table value")
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"method must be a non-empty string, got {self.method!r}")
        if not isinstance(self.generator, Generator):
            raise TypeError(f"generator must be an estimators Generator, got {type(self.generator).__name__}")
        if not isinstance(self.params, Mapping):
            raise TypeError(f"params must be a mapping, got {type(self.params).__name__}")
        if "advantage" in self.params and self.params["advantage"] != "rloo":
            # only a table corrected for a sample-dependent baseline records it (docs/advantages.md)
            raise ValueError(f"params['advantage'] records the baseline a table was corrected for and can only be "
                             f"'rloo' (absent: 'decoupled'), got {self.params['advantage']!r}")
        if self.certificate is not None:
            if not isinstance(self.certificate, Mapping):
                raise TypeError(f"certificate must be a mapping or None, got {type(self.certificate).__name__}")
            cert = _copy_jsonlike(dict(self.certificate))
            check_binding(self, cert)  # CertificateMismatchError unless bound to exactly this table
            object.__setattr__(self, "certificate", types.MappingProxyType(cert))

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

    @property
    def advantage(self) -> str:
        """The trainer advantage this table is built for (C9): ``"decoupled"`` (the table is the estimator the
        trainer applies), or ``"rloo"`` (corrected: a leave-one-out or group-mean baseline turns it into the
        estimator named by ``method``; :mod:`estimators.advantages`)."""
        return self.params.get("advantage", "decoupled")

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
            "advantage": self.advantage,
            "params": dict(self.params),
            "estimand": gen.target_text,
            "dropped_constant": str(gen.dropped_constant),
            "reward": _reward_text(gen.dropped_constant),
            "provenance": self.provenance,
            "values": [float(v) for v in self.values],
            "reference": None if self.reference is None else [str(r) for r in self.reference],
            "reference_dps": self.reference_dps,
            "certificate": None if self.certificate is None else copy.deepcopy(dict(self.certificate)),
        }

    def to_json(self, **kw) -> str:
        # repr-precision floats: json writes the shortest repr that round-trips exactly
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: Mapping, *, on_bad_certificate: str = "raise") -> "Table":
        """Rebuild a table from :meth:`to_dict` output (e.g. a JSON file written by ``alft tables``).

        Parameters
        ----------
        d : Mapping
            ``values``, ``generator``, ``method`` are required; ``K``, if present, must equal
            ``len(values)``.
        on_bad_certificate : {"raise", "drop"}
            A certificate not bound to exactly these values and metadata raises
            :class:`~estimators.certificates.CertificateMismatchError` (default), or is dropped
            (``"drop"``: the table is returned uncertified, its provenance says why).
        """
        if on_bad_certificate not in ("raise", "drop"):
            raise ValueError(f"on_bad_certificate must be 'raise' or 'drop', got {on_bad_certificate!r}")
        if not isinstance(d, Mapping):
            raise TypeError(f"d must be a mapping (Table.to_dict() output), got {type(d).__name__}")
        missing = [k for k in ("values", "generator", "method") if k not in d]
        if missing:
            raise ValueError(f"a table dict needs the keys 'values', 'generator', 'method'; missing {missing}")
        gen = get_generator(d["generator"], **(d.get("generator_params") or {}))
        values = check_real_array(d["values"], name="values", allowed="a list of finite numbers")
        if "K" in d and (isinstance(d["K"], bool) or d["K"] != values.size):
            raise ValueError(f"K = {d['K']!r} but values has {values.size} entries")
        if "advantage" in d and d["advantage"] != (d.get("params") or {}).get("advantage", "decoupled"):
            raise ValueError(f"advantage = {d['advantage']!r} but the table's params record "
                             f"{(d.get('params') or {}).get('advantage', 'decoupled')!r}")
        ref = d.get("reference")
        if ref is not None and (isinstance(ref, (str, bytes)) or not hasattr(ref, "__len__")):
            raise TypeError(f"reference must be a list of entries or None, got {type(ref).__name__}")
        if ref is not None and d.get("reference_dps") is None:   # exact rationals, written as "p/q" strings
            ref = tuple(parse_rational(r, name="reference entries", allowed="exact rationals") for r in ref)
        elif ref is not None:
            ref = tuple(ref)
        fields = dict(values=values, generator=gen, method=d["method"], params=d.get("params") or {},
                      provenance=d.get("provenance", ""), reference=ref, reference_dps=d.get("reference_dps"))
        try:
            return cls(**fields, certificate=d.get("certificate"))
        except CertificateMismatchError as exc:
            if on_bad_certificate == "raise":
                raise
            fields["provenance"] = (fields["provenance"] + f" [certificate dropped on load: {exc}]").strip()
            return cls(**fields, certificate=None)

    def __repr__(self) -> str:
        adv = "" if self.advantage == "decoupled" else f", advantage={self.advantage!r}"
        return (f"Table(method={self.method!r}, generator={self.generator.label()!r}, K={self.K}{adv}, "
                f"estimand={self.generator.target_text!r}, max|g|={np.max(np.abs(self.values)):.3g})")
