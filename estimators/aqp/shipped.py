"""The shipped set of certified AQP tables for the KL reward (claim C6): versioned data files.

Layout (inside the package, ``estimators/aqp/data/``)::

    manifest.json          format, version, generator, the eps set, the K range, the certifier and solver
                           versions, the build time, the SHA-256 of every table file, and for every
                           (K, eps) without a table its refusal: ``{"cause", "message", "details"}`` (the
                           causes of :data:`.version.CAUSES`; every (K, eps) was attempted)
    kl/K002_eps0.1.json …  one file per certified table: K, eps, the float64 values, provenance and the
                           bound certificate of :mod:`.core` (one small file per table: loading one
                           parses only it)

Loading needs no solver: the file is checked against the manifest's checksum, the table against its
certificate's binding (:mod:`estimators.certificates`), the certificate against the request (K, eps,
generator), its certifier against this code's (:data:`.version.AQP_VERSION`), and the budget relation the
certificate relies on, in exact rational arithmetic: bias_upper <= budget_lower <= (1 + eps) E_star_lower,
budget_upper >= (1 + eps) E_star_upper >= budget_lower, 0 <= optimum_lower_bound <= variance_lower <=
variance_upper, and the optimality gap within the shipped tolerance. Any mismatch is a
:class:`ShippedTableError` that names the file and how to regenerate it (``alft tables --rebuild aqp``).
"""
from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path

from .version import AQP_VERSION, CAUSES

__all__ = ["SHIPPED_EPS", "SHIPPED_K", "ShippedTableError", "load", "data_dir", "manifest", "FORMAT",
           "FORMAT_VERSION", "shipped_entry", "clear_caches", "table_file", "budget_relation_violation",
           "check_manifest_shape", "SHIPPED_SETS", "shipped_K", "eps_key", "sha256_hex"]

#: budgets of the shipped set: tau = (1 + eps) E*_K
SHIPPED_EPS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
SHIPPED_K = (2, 128)
#: the shipped sets by the trainer's advantage (C9): their data folder (beside this module) and K range. Under
#: ``rloo`` a file holds the certified effective table (K - 1 entries, the least advantage variance within
#: (1 + eps) E* of K - 1 samples, :mod:`.baseline`) and loading applies the correction to it.
SHIPPED_SETS = {"decoupled": {"folder": "data", "K": SHIPPED_K}, "rloo": {"folder": "data_rloo", "K": (3, 128)}}
FORMAT = "alft-verify/aqp-tables"
FORMAT_VERSION = 3          # 3: refusals are structured ({"cause", "message", "details"}), certifier aqp-3
REBUILD = "regenerate the shipped set with `alft tables --rebuild aqp`"


class ShippedTableError(ValueError):
    """A shipped table is unavailable, refused, corrupted or does not match its manifest or request.
    ``cause``: for a refusal, its cause (:data:`.version.CAUSES`), else None; ``details``: its numbers."""

    def __init__(self, message: str, cause: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.cause, self.details = cause, dict(details or {})


def data_dir(advantage: str = "decoupled") -> Path:
    """The data folder of the shipped set for ``advantage`` (:data:`SHIPPED_SETS`)."""
    return Path(__file__).resolve().parent / _set(advantage)["folder"]


def _set(advantage: str) -> dict:
    if advantage not in SHIPPED_SETS:
        raise ValueError(f"advantage must be one of {list(SHIPPED_SETS)} for a shipped AQP set, got {advantage!r}")
    return SHIPPED_SETS[advantage]


def shipped_K(advantage: str = "decoupled") -> tuple[int, int]:
    """The K range of the shipped set for ``advantage``."""
    return tuple(_set(advantage)["K"])


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as hex: the digest the manifest records per file."""
    return hashlib.sha256(data).hexdigest()


def check_manifest_shape(doc: dict, path: Path) -> None:
    """The containers the loader reads: ``files`` {path: sha256}, ``refused`` {K: {eps: reason}}."""
    def bad(what):
        return ShippedTableError(f"{path} is damaged: {what}; {REBUILD}")
    files = doc.get("files")
    if not isinstance(files, dict) or not files or not all(isinstance(k, str) and isinstance(v, str)
                                                            for k, v in files.items()):
        raise bad("'files' must be a non-empty mapping of table files to their SHA-256")
    Ks = doc.get("K")
    if not (isinstance(Ks, list) and len(Ks) == 2 and all(isinstance(k, int) and not isinstance(k, bool) for k in Ks)):
        raise bad("'K' must be the range [K_min, K_max]")
    refused = doc.get("refused", {})
    if not isinstance(refused, dict):
        raise bad(f"'refused' must be a mapping {{K: {{eps: reason}}}}, got {type(refused).__name__}")
    for K, per_eps in refused.items():
        if not isinstance(per_eps, dict) or not all(isinstance(e, str) and isinstance(r, dict) and r
                                                    for e, r in per_eps.items()):
            raise bad(f"'refused' entry for K={K} must be a mapping {{eps: {{cause, message, details}}}}")


@lru_cache(maxsize=4)
def manifest(advantage: str = "decoupled") -> dict:
    """The manifest of the shipped set for ``advantage``, checked (format, certifier, shape, advantage)."""
    from ..outputs import read_regular
    path = data_dir(advantage) / "manifest.json"
    try:
        doc = json.loads(read_regular(path))
    except FileNotFoundError as exc:
        raise ShippedTableError(f"the shipped AQP set is missing ({path} not found); {REBUILD}") from exc
    except (OSError, ValueError) as exc:
        raise ShippedTableError(f"{path} is unreadable or not JSON ({exc}); {REBUILD}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
        raise ShippedTableError(f"{path} is not an {FORMAT} manifest of version {FORMAT_VERSION}; {REBUILD}")
    if doc.get("certifier") != AQP_VERSION:
        raise ShippedTableError(f"{path} was certified by {doc.get('certifier')!r}, this code is {AQP_VERSION!r}; "
                                f"{REBUILD}")
    check_manifest_shape(doc, path)
    if doc.get("advantage", "decoupled") != advantage:
        raise ShippedTableError(f"{path} holds the set for advantage {doc.get('advantage', 'decoupled')!r}, not "
                                f"{advantage!r}; {REBUILD}")
    return doc


@lru_cache(maxsize=256)
def _file(rel: str, advantage: str = "decoupled") -> dict:
    man = manifest(advantage)
    want = man.get("files", {}).get(rel)
    path = data_dir(advantage) / rel
    if want is None:
        raise ShippedTableError(f"{rel} is not listed in the shipped manifest; {REBUILD}")
    from ..outputs import read_regular
    try:
        raw = read_regular(path)
    except OSError as exc:
        raise ShippedTableError(f"shipped table file {path} is missing or unreadable ({exc}); {REBUILD}") from exc
    if sha256_hex(raw) != want:
        raise ShippedTableError(f"shipped table file {path} is corrupted: its SHA-256 does not match the manifest; "
                                f"{REBUILD}")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ShippedTableError(f"shipped table file {path} is not JSON ({exc}); {REBUILD}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("generator"), dict) or \
            not isinstance(doc.get("certificate"), dict) or not isinstance(doc.get("values"), list):
        raise ShippedTableError(f"shipped table file {path} is damaged: it needs a 'generator' mapping, a "
                                f"'certificate' mapping and a 'values' list; {REBUILD}")
    return doc


def clear_caches() -> None:
    """Forget the manifest, the files and the tables read so far (after a rebuild, or in tests)."""
    manifest.cache_clear()
    _file.cache_clear()
    _load.cache_clear()


def eps_key(eps) -> str:
    """The manifest's key for a budget excess eps (``repr`` of the float)."""
    return repr(float(eps))


def table_file(K: int, eps: float) -> str:
    """The data file of the shipped table (K, eps), relative to the data directory."""
    return f"kl/K{int(K):03d}_eps{float(eps):g}.json"


def shipped_entry(K: int, eps: float, advantage: str = "decoupled") -> dict:
    """The raw entry of the shipped set for (K, eps) and ``advantage``: the table document, or ``{"refused":
    {"cause", "message", "details"}}``."""
    from .._validate import check_K
    lo, hi = shipped_K(advantage)
    K = check_K(K, name="K" if advantage == "decoupled" else f"K (the shipped set for advantage {advantage!r})",
                minimum=lo, maximum=hi)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(float(eps)):
        raise TypeError(f"eps must be one of the shipped budgets {list(SHIPPED_EPS)}, got {eps!r}")
    if float(eps) not in SHIPPED_EPS:
        from ..remedy import with_remedy
        reason = f"eps = {eps!r} is not in the shipped set; shipped budgets are eps in {list(SHIPPED_EPS)}"
        raise with_remedy(ShippedTableError(
            f"{reason}. For another eps solve it: build_table('kl', 'aqp', K, eps={eps!r}, solve=True) (needs the "
            f"solver; cached)"), reason, solve=True)
    reason = manifest(advantage).get("refused", {}).get(str(K), {}).get(eps_key(eps))
    if reason is not None:
        if not isinstance(reason, dict) or reason.get("cause") not in CAUSES or \
                not isinstance(reason.get("message"), str) or not isinstance(reason.get("details", {}), dict):
            raise ShippedTableError(f"the manifest's refusal of K={K}, eps={float(eps)!r} is malformed; {REBUILD}")
        return {"refused": reason}
    rel = table_file(K, eps)
    doc = _file(rel, advantage)
    if doc.get("K") != K or doc.get("eps") != float(eps) or doc.get("generator", {}).get("name") != "kl" or \
            doc.get("advantage", "decoupled") != advantage:
        raise ShippedTableError(f"{rel} holds K={doc.get('K')!r}, eps={doc.get('eps')!r}, generator "
                                f"{doc.get('generator')!r}, advantage {doc.get('advantage', 'decoupled')!r}: it does "
                                f"not belong to K={K}, eps={float(eps)!r}, kl, {advantage!r}; "
                                f"{REBUILD}")
    return doc


def budget_relation_violation(cert: dict, eps: float, gap_tol: float = 1e-3) -> str | None:
    """What is wrong with the relations a stored-table certificate relies on (None when they hold), checked in
    exact rational arithmetic from the certificate's floats: the certifier is this code's, the table certified is
    the stored one, bias_upper <= budget_lower <= (1 + eps) E_star_lower <= (1 + eps) E_star_upper <=
    budget_upper, 0 <= optimum_lower_bound <= variance_lower <= variance_upper, gap <= ``gap_tol``."""
    from fractions import Fraction
    b = cert.get("binding") or {}
    if b.get("certifier") != AQP_VERSION:
        return f"its certificate is bound by {b.get('certifier')!r}, not this code's certifier {AQP_VERSION!r}"
    if cert.get("table_certified") != "stored" or cert.get("objective") != "integrated":
        return "its certificate does not certify the stored float64 table for the integrated objective"
    keys = ("bias_upper", "budget_lower", "budget_upper", "E_star_lower", "E_star_upper", "optimum_lower_bound",
            "variance_lower", "variance_upper", "optimality_gap")
    if any(isinstance(cert.get(k), bool) or not isinstance(cert.get(k), (int, float)) or
           not math.isfinite(cert[k]) for k in keys):
        return "its certificate lacks a finite " + ", ".join(keys)
    q = {k: Fraction(cert[k]) for k in keys}
    e = 1 + Fraction(float(eps))
    checks = [(q["bias_upper"] <= q["budget_lower"], "bias_upper > budget_lower"),
              (q["budget_lower"] <= e * q["E_star_lower"], "budget_lower > (1 + eps) E_star_lower"),
              (0 < q["E_star_lower"] <= q["E_star_upper"], "E_star bracket not 0 < lower <= upper"),
              (e * q["E_star_upper"] <= q["budget_upper"], "budget_upper < (1 + eps) E_star_upper"),
              (0 <= q["optimum_lower_bound"] <= q["variance_lower"] <= q["variance_upper"],
               "not 0 <= optimum_lower_bound <= variance_lower <= variance_upper"),
              (q["optimality_gap"] <= Fraction(gap_tol), f"optimality gap above {gap_tol:g}"),
              (cert.get("bias_within_budget") is True, "bias_within_budget is not true")]
    bad = [why for ok, why in checks if not ok]
    return "; ".join(bad) or None


def load(K: int, eps: float, advantage: str = "decoupled"):
    """The shipped certified KL table for (K, eps) as a :class:`~estimators.table.Table` (no solver needed).
    ``advantage="rloo"`` (C9): the corrected table whose effective table under a leave-one-out or group-mean
    baseline is the shipped certified one (its certificate restated for the trainer's K). Tables are immutable:
    a loaded one is kept and shared."""
    from .._validate import check_K
    lo, hi = shipped_K(advantage)
    K = check_K(K, name="K" if advantage == "decoupled" else f"K (the shipped set for advantage {advantage!r})",
                minimum=lo, maximum=hi)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be one of the shipped budgets {list(SHIPPED_EPS)}, got {eps!r}")
    return _load(K, float(eps), advantage)


@lru_cache(maxsize=1024)
def _load(K: int, eps: float, advantage: str = "decoupled"):
    from ..certificates import CertificateMismatchError
    from ..generators import get_generator
    from ..table import Table
    entry = shipped_entry(K, eps, advantage)
    if "refused" in entry:
        raise _refused(K, eps, advantage, entry["refused"])
    m = K if advantage == "decoupled" else K - 1          # entries of the certified (effective) table
    cert = entry.get("certificate") or {}
    if cert.get("eps") != float(eps) or cert.get("budget_lower") is None or len(entry.get("values", ())) != m:
        raise ShippedTableError(f"the shipped entry for K={K}, eps={eps!r} does not match its certificate; {REBUILD}")
    why = budget_relation_violation(cert, float(eps)) or _objective_violation(cert, K, advantage)
    if why:
        raise ShippedTableError(f"the shipped table K={K}, eps={eps!r}: {why}; {REBUILD}")
    objective = "integrated" if advantage == "decoupled" else "advantage_variance"
    try:
        t = Table(values=entry["values"], generator=get_generator("kl"), method="aqp",
                  params={"eps": float(eps), "objective": objective}, provenance=entry.get("provenance", ""),
                  certificate=cert)
    except CertificateMismatchError as exc:
        raise ShippedTableError(f"the shipped table K={K}, eps={eps!r} does not carry a valid certificate ({exc}); "
                                f"{REBUILD}") from exc
    if advantage == "decoupled":
        return t
    from ..advantages import correct_for
    return correct_for(t, advantage)


def _objective_violation(cert: dict, K: int, advantage: str) -> str | None:
    """The certificate's objective must be the set's: V(g) for ``decoupled``, the rloo advantage's variance for
    K for ``rloo``, by name (:data:`.baseline.IDENT_PREFIX`) and size. Loading stays cheap: building the exact
    form to compare its SHA-256 takes about a second at K = 128; the C9 report and the tests compare it."""
    q = cert.get("quadratic_objective")
    if advantage == "decoupled":
        return None if q is None else f"its certificate is for another objective ({q.get('ident')!r})"
    from .baseline import IDENT_PREFIX
    want = f"{IDENT_PREFIX}-K{K}"
    if not isinstance(q, dict) or q.get("ident") != want or q.get("m") != K - 1 or \
            not isinstance(q.get("sha256"), str) or len(q["sha256"]) != 64:
        return f"its certificate is not for the objective {want!r} (the rloo advantage's variance at K={K})"
    return None


def _refused(K: int, eps: float, advantage: str, r: dict) -> ShippedTableError:
    """The error for a (K, eps) the manifest records as refused, with what would work instead."""
    from ..remedy import with_remedy
    said = r["message"].split(". The extended-precision table is certified")[0]     # the advice is the remedy's
    reason = f"K={K}, eps={eps!r}: no certified float64 table exists in the shipped set (cause: {r['cause']}): {said}"
    if advantage != "decoupled":
        reason = (f"K={K}, eps={eps!r}: no certified float64 table exists in the shipped set for advantage "
                  f"{advantage!r} (cause: {r['cause']}; the solver's words are about the effective table of "
                  f"K - 1 = {K - 1} entries): {said}")
        return ShippedTableError(f"{reason}. Under advantage={advantage!r} only the float64 table is offered: use a "
                                 f"larger eps or a smaller K", cause=r["cause"], details=r.get("details"))
    return with_remedy(ShippedTableError(
        f"{reason}. The extended-precision optimum can be solved and certified: build_table('kl', 'aqp', {K}, "
        f"eps={eps!r}, solve=True, certified='reference')", cause=r["cause"], details=r.get("details")),
        reason, solve=True, certified="reference")
