"""The report directory (``alft report --out DIR``): safe to replace, never someone else's.

* A finished report directory holds a marker file :data:`MARKER` (JSON, schema
  ``alft-verify/report-dir``). ``--out DIR`` may replace DIR only when it carries that marker or is
  empty; anything else (a file, ``/``, a directory of the user's, even one holding a
  ``results.json``) is refused *before* any check runs.
* The report is built in a sibling ``.DIR.<random>.partial/`` (mode from the umask, not mkdtemp's
  0700) holding :data:`PARTIAL_MARKER` (schema ``alft-verify/report-partial``, the writer's pid and
  host) and renamed into place at the end, under an exclusive lock on the parent directory, so two
  concurrent runs never interleave their renames.
* A run killed with SIGKILL leaves its partial directory behind; later runs remove such orphans
  only when they are provably ours and stale: the name pattern, a partial marker of the right
  schema, this host, and a writer pid that no longer runs. A ``.DIR.old`` left by a kill during the
  swap is removed when it carries the report marker.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

from estimators._io import atomic_write_text, dir_mode

__all__ = ["MARKER", "PARTIAL_MARKER", "check_out", "make_partial", "swap_in", "clean_orphans", "is_report_dir"]

MARKER = ".alft-report.json"
PARTIAL_MARKER = ".alft-partial.json"
_DIR_SCHEMA = "alft-verify/report-dir"
_PARTIAL_SCHEMA = "alft-verify/report-partial"


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return d if isinstance(d, dict) else None


def is_report_dir(path: Path) -> bool:
    """True when ``path`` is a directory carrying the report marker (written by ``alft report``)."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    d = _read_json(path / MARKER)
    return d is not None and d.get("schema") == _DIR_SCHEMA


def _replaceable(out: Path) -> bool:
    if out.is_symlink():
        return False
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    return is_report_dir(out) or not any(out.iterdir())


def check_out(out, *, name: str = "--out") -> Path:
    """Resolve ``out`` and check it can receive a report; ``ValueError`` naming ``name`` otherwise.

    Creates missing parent directories (with the umask's mode).
    """
    raw = str(out)
    if raw.strip() == "":
        raise ValueError(f"{name} must be a directory path, got an empty string")
    out = Path(out).expanduser().resolve()
    if out.parent == out:
        raise ValueError(f"{name} {raw!r} is the filesystem root; give a directory for the report")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{name} {raw!r} exists and is not a directory; refusing to replace a file")
    if not _replaceable(out):
        raise ValueError(f"{name} {raw!r} exists, is not empty and was not written by alft report (no {MARKER} "
                         f"marker); refusing to replace it -- choose another directory or remove it yourself")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{name} {raw!r}: cannot create the parent directory {str(out.parent)!r} ({exc.strerror})") \
            from exc
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {raw!r}: the directory {str(out.parent)!r} is not writable")
    return out


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _stale_partial(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir():
        return False
    d = _read_json(path / PARTIAL_MARKER)
    if d is None or d.get("schema") != _PARTIAL_SCHEMA or d.get("host") != socket.gethostname():
        return False
    pid = d.get("pid")
    return isinstance(pid, int) and not _pid_alive(pid)


def clean_orphans(out: Path, log=None) -> list[Path]:
    """Remove ``.OUT.*.partial`` directories of dead runs on this host (see the module docstring)."""
    removed = []
    parent = out.parent
    for path in sorted(parent.glob("." + out.name + ".*.partial")):
        if _stale_partial(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    old = parent / ("." + out.name + ".old")
    if is_report_dir(old):
        with _locked(parent):
            if is_report_dir(old):
                shutil.rmtree(old, ignore_errors=True)
                removed.append(old)
    if removed and log is not None:
        log(f"[report] removed {len(removed)} orphaned director{'y' if len(removed) == 1 else 'ies'} of killed runs: "
            + ", ".join(p.name for p in removed))
    return removed


def _marker_text(schema: str) -> str:
    return json.dumps({"schema": schema, "schema_version": 1, "pid": os.getpid(), "host": socket.gethostname(),
                       "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
                      indent=2) + "\n"


def make_partial(out: Path, log=None) -> Path:
    """Clean stale orphans, then create the partial directory next to ``out`` with both markers."""
    clean_orphans(out, log)
    tmp = Path(tempfile.mkdtemp(prefix="." + out.name + ".", suffix=".partial", dir=out.parent))
    os.chmod(tmp, dir_mode())
    atomic_write_text(tmp / PARTIAL_MARKER, _marker_text(_PARTIAL_SCHEMA))
    atomic_write_text(tmp / MARKER, _marker_text(_DIR_SCHEMA))
    return tmp


@contextlib.contextmanager
def _locked(directory: Path):
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished directory ``tmp``; the old report is removed only after the rename.

    Refuses (``ValueError``) when ``out`` became something alft report did not write meanwhile.
    """
    tmp, out = Path(tmp), Path(out)
    if not (tmp / MARKER).exists():
        atomic_write_text(tmp / MARKER, _marker_text(_DIR_SCHEMA))
    with _locked(out.parent):
        if not _replaceable(out):
            raise ValueError(f"--out {str(out)!r} exists and was not written by alft report (no {MARKER} marker); "
                             f"refusing to replace it")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp / PARTIAL_MARKER)
        if out.exists():
            old = out.with_name("." + out.name + ".old")
            if old.exists():
                if not is_report_dir(old):
                    raise ValueError(f"{str(old)!r} is in the way and was not written by alft report; remove it")
                shutil.rmtree(old)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
