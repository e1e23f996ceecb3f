"""Binding a certificate to exactly what it certifies (tables of claims C1, C3, C6).

A certificate (e.g. the minimax bracket on E*_K, or an AQP bias budget) is only meaningful for
the table it was computed for. :func:`bind` adds a ``"binding"`` entry to a certificate::

    certificate["binding"] = {"sha256": <hex digest>, "certifier": "minimax-3", "covers": COVERS}

where the digest is SHA-256 over a canonical JSON of every field in ``COVERS``:

* ``values``        the float64 table entries, each written exactly as ``float.hex()``;
* ``reference``     the higher-precision entries as strings (``str(Fraction)`` or decimal strings), or None;
* ``reference_dps`` digits of decimal reference entries (None for exact rationals);
* ``generator``     ``{"name", "params"}`` of the generator (params canonicalised as below);
* ``method``, ``K``, ``params`` (the method parameters; floats as ``float.hex()``);
* ``certifier``     name and code version of the certifying code (e.g. ``SOLVER_VERSION``);
* ``certificate``   the certificate body itself without its ``binding`` (so its numbers cannot be
                    edited either).

:class:`~estimators.table.Table` verifies the binding on construction (``__post_init__``, hence
also :meth:`Table.from_dict` and every cache load): a certificate whose binding is missing or does
not match raises :class:`CertificateMismatchError`; ``Table.from_dict(d, on_bad_certificate="drop")``
drops such a certificate instead (the table is kept, uncertified). The minimax solver binds its
certificate when it is computed and stores the binding in the cache, so an edited cache entry
fails verification and is recomputed.

What the binding is, and is not: an integrity check that ties certified figures to the exact
numbers and metadata they were computed for (an edited entry, parameter, K or generator is
detected). It is not a signature: whoever can edit the file can recompute the digest. That is why
the solvers' cache validators re-verify a cached result's figures from its own numbers before
returning it (:mod:`estimators.cache`, :mod:`estimators.minimax.reverify`,
:func:`estimators.aqp.core.reverify_result`), and why the shipped AQP loader checks the relations the
certificate relies on (:func:`estimators.aqp.shipped.budget_relation_violation`).

Interface (used by the minimax table builder and by methods that ship certified tables)::

    cert = bind(table_or_fields, {"E_star_upper": ...}, certifier="minimax-3")
    verify(table) -> bool
    check_binding(fields, certificate)   # raises CertificateMismatchError naming what is wrong

``table_or_fields`` is a :class:`Table` or a mapping with the keys ``values``, ``reference``,
``reference_dps``, ``generator`` (a Generator or a dict with ``name``/``params``), ``method``,
``params`` (``K`` optional: it must equal ``len(values)``).
"""
from __future__ import annotations

import hashlib
import json
import math
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

__all__ = ["CertificateMismatchError", "certificate_digest", "bind", "verify", "check_binding", "COVERS",
           "BINDING_KEY"]

#: the fields a binding covers, in this order (stored in the binding as ``covers``)
COVERS = ("values", "reference", "reference_dps", "generator", "method", "K", "params", "certifier",
          "certificate")
#: the entry of a certificate that holds its binding
BINDING_KEY = "binding"


class CertificateMismatchError(ValueError):
    """A certificate is not bound to exactly these table values and metadata."""


# -- canonical form ----------------------------------------------------------------------------

def _canon(x: Any) -> Any:
    """JSON-able canonical form: floats as exact hex, Fractions as strings, tuples as lists."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if not math.isfinite(v):
            return repr(v)
        return v.hex()
    if isinstance(x, Fraction):
        return str(x)
    if isinstance(x, Mapping):
        return {str(k): _canon(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):   # fast path for a list of floats (hex of inf/nan equals their repr)
        try:
            return [float.hex(v) for v in x]      # TypeError for anything that is not a float
        except TypeError:
            pass
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_canon(v) for v in x]
    raise TypeError(f"certificate fields must be JSON-like (numbers, strings, lists, dicts), got {type(x).__name__}")


def _generator_identity(generator) -> dict:
    if isinstance(generator, Mapping):
        if "name" not in generator:
            raise TypeError("generator must be a Generator or a dict with 'name' and 'params'")
        return {"name": str(generator["name"]), "params": _canon(dict(generator.get("params") or {}))}
    name = getattr(generator, "name", None)
    if name is None:
        raise TypeError(f"generator must be a Generator or a dict with 'name' and 'params', got {generator!r}")
    return {"name": str(name), "params": _canon(dict(generator.params))}


def certificate_digest(*, values, reference, reference_dps, generator, method: str, K: int, params,
                       certifier: str, certificate: Mapping | None = None) -> str:
    """Hex SHA-256 over the canonical JSON of the fields in :data:`COVERS` (see the module docstring).

    ``certificate`` is the certificate body; a ``binding`` entry in it is ignored.
    """
    vals = np.asarray(values, dtype=np.float64).ravel()
    if int(K) != vals.size:
        raise CertificateMismatchError(f"K = {K} but the table has {vals.size} values")
    body = {k: v for k, v in (certificate or {}).items() if k != BINDING_KEY}
    doc = {
        "values": [float(v).hex() for v in vals],
        "reference": None if reference is None else [str(r) for r in reference],
        "reference_dps": None if reference_dps is None else int(reference_dps),
        "generator": _generator_identity(generator),
        "method": str(method),
        "K": int(K),
        "params": _canon(dict(params or {})),
        "certifier": str(certifier),
        "certificate": _canon(body),
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _fields(table_or_fields) -> dict:
    """The covered table fields of a Table or a mapping (see the module docstring)."""
    if isinstance(table_or_fields, Mapping):
        d = table_or_fields
        missing = [k for k in ("values", "generator", "method") if k not in d]
        if missing:
            raise TypeError(f"table fields must include {missing}")
        vals = np.asarray(d["values"], dtype=np.float64).ravel()
        K = d.get("K", vals.size)
        return {"values": vals, "reference": d.get("reference"), "reference_dps": d.get("reference_dps"),
                "generator": d["generator"], "method": d["method"], "K": K, "params": d.get("params") or {}}
    t = table_or_fields
    return {"values": t.values, "reference": t.reference, "reference_dps": t.reference_dps,
            "generator": t.generator, "method": t.method, "K": t.K, "params": t.params}


def bind(table_or_fields, certificate: Mapping, certifier: str = "minimax-3") -> dict:
    """A copy of ``certificate`` with a ``binding`` entry for exactly these fields (see module docstring)."""
    if not isinstance(certificate, Mapping):
        raise TypeError(f"certificate must be a mapping, got {type(certificate).__name__}")
    if not isinstance(certifier, str) or not certifier:
        raise TypeError(f"certifier must be a non-empty string naming the certifying code and version, "
                        f"got {certifier!r}")
    body = {k: v for k, v in certificate.items() if k != BINDING_KEY}
    digest = certificate_digest(**_fields(table_or_fields), certifier=certifier, certificate=body)
    out = dict(body)
    out[BINDING_KEY] = {"sha256": digest, "certifier": certifier, "covers": list(COVERS)}
    return out


def check_binding(table_or_fields, certificate: Mapping) -> None:
    """Raise :class:`CertificateMismatchError` unless ``certificate`` is bound to exactly these fields."""
    if not isinstance(certificate, Mapping):
        raise CertificateMismatchError(f"certificate must be a mapping, got {type(certificate).__name__}")
    b = certificate.get(BINDING_KEY)
    if not isinstance(b, Mapping) or not isinstance(b.get("sha256"), str) or not isinstance(b.get("certifier"), str):
        raise CertificateMismatchError(
            "the certificate has no binding (a 'binding' entry with 'sha256' and 'certifier'): it is not tied to "
            "any table values, so it certifies nothing")
    if list(b.get("covers", ())) != list(COVERS):
        raise CertificateMismatchError(f"the certificate's binding covers {b.get('covers')!r}, expected {list(COVERS)}")
    f = _fields(table_or_fields)
    want = certificate_digest(**f, certifier=b["certifier"], certificate=certificate)
    if want != b["sha256"]:
        raise CertificateMismatchError(
            f"the certificate ({b['certifier']}) does not match this table: its digest covers {', '.join(COVERS)} "
            f"and one of them differs (method {f['method']!r}, K = {f['K']}); the values, metadata or certified "
            f"figures were edited or belong to another table")


def verify(table) -> bool:
    """True when ``table.certificate`` is bound to exactly ``table``'s values and metadata."""
    cert = getattr(table, "certificate", None)
    if cert is None:
        return False
    try:
        check_binding(table, cert)
    except (CertificateMismatchError, TypeError):
        return False
    return True
