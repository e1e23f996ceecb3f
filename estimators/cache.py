"""A small on-disk JSON cache for expensive, deterministic results (minimax tables, sweeps).

* Directory: ``$ALFT_CACHE_DIR`` if set, else ``~/.cache/alft-verify``.
* Key: SHA-256 of a canonical JSON of (kind, payload identifying the computation, code
  version); callers include everything the result depends on (method, generator dict, K,
  parameters).
* Entries are written to a temporary file in the same directory and moved into place with
  ``os.replace`` (atomic on POSIX): a reader never sees a partial file.
* Each entry stores its key, the identifying payload and a SHA-256 checksum of its value; an
  entry that does not parse, has the wrong key, payload or checksum is treated as missing (and
  overwritten by the next :func:`store`), never returned.
* A checksum only detects accidents (anyone can recompute it), and a certificate binding only ties
  figures to values (anyone can recompute the digest). :func:`cached` therefore *requires* a
  ``validate`` callback that checks the content against the request and re-verifies what it claims
  (the minimax solver re-establishes its bracket from the stored polynomial, :mod:`.minimax.reverify`;
  the AQP solver recomputes both certificates from the stored table, :mod:`.aqp.core`): an entry that
  fails it is recomputed and overwritten, with a warning; ``validate`` may return the re-verified value
  to use instead. A forged entry for another K, or one whose values were edited, is never returned.
* Files get the user's umask (``0o666 & ~umask``), directories too. A cache that cannot be
  written (read-only directory, full disk) does not lose the result: :func:`cached` returns it
  and warns once per directory.

Set ``ALFT_CACHE_DISABLE=1`` to bypass the cache entirely.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable

from ._io import atomic_write_text
from .outputs import read_regular

__all__ = ["cache_dir", "cache_key", "load", "store", "cached", "CACHE_VERSION", "enabled", "CacheWarning"]

#: Bump when a change in the code changes cached results (2: entries store their payload).
CACHE_VERSION = "2"


class CacheWarning(UserWarning):
    """The cache could not be written, or an entry failed validation and was recomputed."""


_WARNED_UNWRITABLE: set = set()


def enabled() -> bool:
    return os.environ.get("ALFT_CACHE_DISABLE", "") not in ("1", "true", "yes")


def cache_dir() -> Path:
    d = os.environ.get("ALFT_CACHE_DIR")
    return Path(d).expanduser() if d else Path.home() / ".cache" / "alft-verify"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(kind: str, ident: Any, version: str = CACHE_VERSION) -> str:
    """Hex key for a computation of ``kind`` identified by the JSON-able ``ident``."""
    if not isinstance(kind, str) or not kind.isidentifier():
        raise ValueError(f"kind must be an identifier-like string, got {kind!r}")
    h = hashlib.sha256(_canonical({"kind": kind, "ident": ident, "version": version}).encode()).hexdigest()
    return f"{kind}-{h[:40]}"


def _path(key: str) -> Path:
    return cache_dir() / f"{key}.json"


def _checksum(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


_MISSING = object()


def load(key: str, ident: Any = _MISSING) -> Any | None:
    """The cached value for ``key``, or None if absent, unreadable or corrupt.

    With ``ident``, the entry's stored payload must equal it (canonical JSON) too.
    """
    if not enabled():
        return None
    path = _path(key)
    try:  # read_regular: a FIFO or a device at the entry's path is a missing entry, never a blocked load
        entry = json.loads(read_regular(path).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
        return None
    if entry.get("sha256") != _checksum(entry["value"]):
        return None
    if ident is not _MISSING and _canonical(entry.get("ident")) != _canonical(ident):
        return None
    return entry["value"]


def store(key: str, value: Any, ident: Any = None) -> Path | None:
    """Write ``value`` (JSON-serialisable) atomically; returns the path (None if disabled).

    Raises ``OSError`` when the directory or file cannot be written (the old entry stays intact).
    """
    if not enabled():
        return None
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    entry = {"key": key, "ident": ident, "sha256": _checksum(value), "value": value}
    return atomic_write_text(_path(key), json.dumps(entry, sort_keys=True, default=str), mkdir=False)


def cached(kind: str, ident: Any, compute: Callable[[], Any], *, validate: Callable[[Any], Any],
           use_cache: bool = True, validate_computed: bool = True) -> tuple[Any, bool]:
    """``(value, hit)``: the cached value for (kind, ident), else ``compute()`` stored then returned.

    ``validate(value)`` (required: nothing is returned from the cache unchecked) raises
    ``ValueError``/``TypeError``/``KeyError`` (or ``ArithmeticError``) when a cached value does not answer
    this request or does not re-verify (content for another K, edited values, a broken certificate binding):
    such an entry is recomputed and overwritten, with a :class:`CacheWarning`. It returns None to accept the
    value as it is, or the value to return instead (e.g. with figures recomputed in this run). Computed values
    are validated too unless ``validate_computed=False`` (for validators that re-run a certification the
    computation has just done); a failure there is a bug and propagates.
    """
    if not callable(validate):
        raise TypeError("cached() needs a validate callable: a cache entry is checked against the request and "
                        "re-verified before it is returned")
    if not use_cache or not enabled():
        return compute(), False
    key = cache_key(kind, ident)
    val = load(key, ident)
    if val is not None:
        try:
            out = validate(val)
            return (val if out is None else out), True
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            warnings.warn(f"cache entry {_path(key)} failed validation ({exc}); recomputing it",
                          CacheWarning, stacklevel=2)
    val = compute()
    if validate_computed:
        validate(val)
    try:
        store(key, val, ident)
    except OSError as exc:  # an unwritable cache must not lose the result
        d = str(cache_dir())
        if d not in _WARNED_UNWRITABLE:
            _WARNED_UNWRITABLE.add(d)
            warnings.warn(f"the table cache {d} is not writable ({exc}); results are computed but not cached "
                          f"(set ALFT_CACHE_DIR to a writable directory, or ALFT_CACHE_DISABLE=1)",
                          CacheWarning, stacklevel=2)
    return val, False
