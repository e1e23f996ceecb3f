"""A small on-disk JSON cache for expensive, deterministic results (minimax tables, sweeps).

* Directory: ``$ALFT_CACHE_DIR`` if set, else ``~/.cache/alft-verify``.
* Key: SHA-256 of a canonical JSON of (kind, payload identifying the computation, code
  version); callers include everything the result depends on (method, generator dict, K,
  parameters).
* Entries are written to a temporary file in the same directory and moved into place with
  ``os.replace`` (atomic on POSIX): a reader never sees a partial file.
* Each entry stores its key and a SHA-256 checksum of its value; an entry that does not
  parse, has the wrong key or a wrong checksum is treated as missing (and overwritten by
  the next :func:`store`), never returned.

Set ``ALFT_CACHE_DISABLE=1`` to bypass the cache entirely.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["cache_dir", "cache_key", "load", "store", "cached", "CACHE_VERSION", "enabled"]

#: Bump when a change in the code changes cached results.
CACHE_VERSION = "1"


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


def load(key: str) -> Any | None:
    """The cached value for ``key``, or None if absent, unreadable or corrupt."""
    if not enabled():
        return None
    path = _path(key)
    try:
        with open(path, "r", encoding="utf-8") as fh:
            entry = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
        return None
    if entry.get("sha256") != _checksum(entry["value"]):
        return None
    return entry["value"]


def store(key: str, value: Any) -> Path | None:
    """Write ``value`` (JSON-serialisable) atomically; returns the path (None if disabled/failed)."""
    if not enabled():
        return None
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    entry = {"key": key, "sha256": _checksum(value), "value": value}
    text = json.dumps(entry, sort_keys=True, default=str)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, _path(key))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return _path(key)


def cached(kind: str, ident: Any, compute: Callable[[], Any], *, use_cache: bool = True) -> tuple[Any, bool]:
    """``(value, hit)``: the cached value for (kind, ident), else ``compute()`` stored then returned."""
    if not use_cache or not enabled():
        return compute(), False
    key = cache_key(kind, ident)
    val = load(key)
    if val is not None:
        return val, True
    val = compute()
    try:
        store(key, val)
    except OSError:
        pass  # an unwritable cache must not lose the result
    return val, False
