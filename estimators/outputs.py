"""Where alft writes and reads: one output rule for every command that writes (files and folders).

No command deletes or replaces what it did not create.

Files (``alft tables --out``, ``alft crosscheck --json``, the baseline of ``alft baseline``, frontier data)
    The path may be new, or an existing **regular, writable** file (then replaced atomically, its mode
    kept). A directory, a FIFO, a device, a socket or a read-only file (no write permission bit) is
    refused with a ``ValueError`` naming the option. A symbolic link is followed and the file it names is
    checked. An ``owned`` predicate can further require that an existing file is of the caller's kind
    (e.g. "an alft-verify baseline"). Writing goes through a temporary sibling and a rename
    (:func:`estimators._io.atomic_write_text`): nothing is ever written *into* a FIFO or a device.

Folders (``alft report --out``, ``alft game --out``, ``alft tables --rebuild ... --data-dir``, the reference
report of ``alft baseline --write``)
    The folder may be new, empty, or **own**: it carries the marker file of its :class:`OutputKind` and,
    for kinds that list their members, holds nothing else. Anything else (a file, ``/``, a folder of the
    user's) is refused before any work. The new content is built in a sibling ``.NAME.<random>.partial``
    that holds a partial marker (schema, pid, host and the target's name) and is swapped in at the end
    under an exclusive lock on the parent directory; the previous folder is moved to ``.NAME.old`` and
    removed after the rename. Files a kind *carries* (written by another command into a shared folder,
    e.g. the AQP frontier beside the AQP tables) are linked into the new folder before the swap.

Leftovers of killed runs
    Removed only when provably ours and stale: the exact name ``.NAME.<token>.partial`` (compared as
    strings, never as a glob pattern built from NAME), a partial marker of the right schema naming this
    target, this host and a writer pid that no longer runs; ``.NAME.old`` only when it is an own folder.

Reading (:func:`read_regular`)
    Opens without blocking and refuses anything but a regular file, so a FIFO or a device at a cache
    entry's or a data file's path never blocks a load.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from ._io import atomic_write_text, dir_mode

__all__ = ["OutputKind", "Staged", "PARTIAL_MARKER", "NotRegularFileError", "read_regular", "check_output_file",
           "write_output_file", "check_output_dir", "refusal_reason", "is_own_dir", "make_partial", "swap_in",
           "clean_orphans", "output_dir", "locked"]

#: marker file of a folder being built (removed when it is swapped in)
PARTIAL_MARKER = ".alft-partial.json"
_PARTIAL_SCHEMA = "alft-verify/partial"
_PARTIAL_SCHEMAS = (_PARTIAL_SCHEMA, "alft-verify/report-partial")  # the latter: written by earlier versions


class NotRegularFileError(OSError):
    """A path that should be a regular file is a FIFO, a device, a socket or a directory."""


@dataclass(frozen=True)
class OutputKind:
    """The folders one command owns.

    ``markers``: ``(file name, key, value)`` triples; a folder is own when one of these files is a JSON
    object whose ``key`` equals ``value`` (the first is the one :func:`make_partial` writes when
    ``write_marker``). ``members``: when given, an own folder may hold only these names (and the markers).
    ``carry``: names of regular files kept from the previous folder when it is replaced.
    """

    command: str
    markers: tuple
    members: frozenset | None = None
    carry: tuple = ()
    write_marker: bool = True

    @property
    def marker(self) -> str:
        return self.markers[0][0]

    def marker_text(self) -> str:
        _, key, value = self.markers[0]
        return _stamp({key: value, "schema_version": 1})


class Staged(NamedTuple):
    """A folder being written: the checked target ``out`` and the partial folder ``tmp`` to fill."""

    out: Path
    tmp: Path


def _stamp(doc: dict) -> str:
    return json.dumps(dict(doc, pid=os.getpid(), host=socket.gethostname(),
                           created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")),
                      indent=2) + "\n"


# -- reading ----------------------------------------------------------------------------------------------

def read_regular(path, *, max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file ``path``; never blocks on a FIFO or a device.

    Raises :class:`NotRegularFileError` (an ``OSError``) for anything but a regular file, ``OSError`` when
    it cannot be opened, and ``OSError(EFBIG)`` when it holds more than ``max_bytes``.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(errno.EINVAL, "not a regular file (a FIFO, a device, a socket or a directory)",
                                      str(path))
        if max_bytes is not None and st.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", str(path))
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict | None:
    try:
        d = json.loads(read_regular(path, max_bytes=1 << 26))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return d if isinstance(d, dict) else None


# -- files --------------------------------------------------------------------------------------------------

def _kind_of_mode(mode: int) -> str:
    for test, what in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def check_output_file(path, *, name: str = "--out", owned: Callable[[Path], bool] | None = None,
                      what: str = "a file this command wrote") -> Path:
    """Check that ``path`` may be written as a file (see the module docstring); returns the real path.

    ``ValueError`` naming ``name`` when the path is empty, a directory, a FIFO, a device, a socket, a
    read-only file, an existing file that ``owned`` rejects, or when its directory is missing or not writable.
    """
    raw = str(path)
    p = Path(path).expanduser() if raw.strip() else None
    if p is None or p.name in ("", ".", "..") or raw.endswith(("/", os.sep)):
        raise ValueError(f"{name} must be a file path, got {raw!r}")
    real = Path(os.path.realpath(p))
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ValueError(f"{name} {raw!r} cannot be examined ({exc.strerror})") from exc
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ValueError(f"{name} {raw!r} is a directory; give a file path")
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{name} {raw!r} is {_kind_of_mode(st.st_mode)}, not a regular file; refusing to write there")
        if not stat.S_IMODE(st.st_mode) & 0o222 or not os.access(real, os.W_OK):
            raise ValueError(f"{name} {raw!r} is a read-only file; refusing to replace it (make it writable or "
                             f"choose another path)")
        if owned is not None and not owned(real):
            raise ValueError(f"{name} {raw!r} exists and is not {what}; refusing to overwrite it")
    parent = real.parent
    if not parent.exists():
        raise ValueError(f"{name} {raw!r}: the directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ValueError(f"{name} {raw!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {raw!r}: the directory {str(parent)!r} is not writable")
    return real


def write_output_file(path, text: str, *, name: str = "--out", owned: Callable[[Path], bool] | None = None,
                      what: str = "a file this command wrote") -> Path:
    """Check ``path`` (:func:`check_output_file`) and write ``text`` there atomically; returns the real path."""
    real = check_output_file(path, name=name, owned=owned, what=what)
    return atomic_write_text(real, text, mkdir=False)


# -- folders ------------------------------------------------------------------------------------------------

def _entries(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _has_marker(path: Path, kind: OutputKind) -> bool:
    for fname, key, value in kind.markers:
        d = _read_json(path / fname)
        if d is not None and d.get(key) == value:
            return True
    return False


def refusal_reason(out: Path, kind: OutputKind) -> str | None:
    """Why ``kind`` may not replace ``out`` (None when ``out`` is missing, an empty folder or an own one)."""
    out = Path(out)
    if out.is_symlink():
        return "is a symbolic link"
    if not out.exists():
        return None
    if not out.is_dir():
        return "exists and is not a directory"
    names = _entries(out)
    if not names:
        return None
    if not _has_marker(out, kind):
        markers = " or ".join(m[0] for m in kind.markers)
        return f"exists, is not empty and was not written by {kind.command} (no {markers} marker)"
    if kind.members is not None:
        allowed = set(kind.members) | {m[0] for m in kind.markers}
        foreign = [n for n in names if n not in allowed]
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            return f"holds files {kind.command} did not write ({shown})"
    for n in kind.carry:
        p = out / n
        if os.path.lexists(p) and (p.is_symlink() or not p.is_file()):
            return f"holds {n}, which is not a regular file"
    return None


def is_own_dir(path, kind: OutputKind) -> bool:
    """True when ``path`` is a non-empty folder that ``kind`` wrote (its marker, nothing foreign)."""
    path = Path(path)
    return path.is_dir() and not path.is_symlink() and bool(_entries(path)) and refusal_reason(path, kind) is None


def check_output_dir(out, kind: OutputKind, *, name: str = "--out") -> Path:
    """Resolve ``out`` and check that ``kind`` may write it (new, empty or own); ``ValueError`` naming
    ``name`` otherwise. Creates missing parent directories (with the umask's mode)."""
    raw = str(out)
    if raw.strip() == "":
        raise ValueError(f"{name} must be a directory path, got an empty string")
    out = Path(out).expanduser().resolve()
    if out.parent == out:
        raise ValueError(f"{name} {raw!r} is the filesystem root; give a directory of its own")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{name} {raw!r} exists and is not a directory; refusing to replace it")
    why = refusal_reason(out, kind)
    if why is not None:
        raise ValueError(f"{name} {raw!r} {why}; refusing to replace it -- choose another directory or remove it "
                         f"yourself")
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
    except OSError:
        return True
    return True


def _stale_partial(path: Path, target: str) -> bool:
    if path.is_symlink() or not path.is_dir():
        return False
    d = _read_json(path / PARTIAL_MARKER)
    if d is None or d.get("schema") not in _PARTIAL_SCHEMAS or d.get("host") != socket.gethostname():
        return False
    if "target" in d and d["target"] != target:
        return False
    pid = d.get("pid")
    return isinstance(pid, int) and not isinstance(pid, bool) and not _pid_alive(pid)


def _partial_names(out: Path) -> list[str]:
    """Names ``.OUT.<token>.partial`` beside ``out`` (exact string comparison; the token holds no dot)."""
    prefix, suffix = "." + out.name + ".", ".partial"
    found = []
    for n in _entries(out.parent):
        if n.startswith(prefix) and n.endswith(suffix) and len(n) > len(prefix) + len(suffix):
            token = n[len(prefix):-len(suffix)]
            if "." not in token and "/" not in token:
                found.append(n)
    return found


def clean_orphans(out: Path, kind: OutputKind, log=None) -> list[Path]:
    """Remove the partial folders of dead runs for ``out`` and an own ``.OUT.old`` (see the module docstring)."""
    out = Path(out)
    removed = []
    parent = out.parent
    for n in _partial_names(out):
        path = parent / n
        if _stale_partial(path, out.name):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    old = parent / ("." + out.name + ".old")
    if is_own_dir(old, kind):
        with locked(parent):
            if is_own_dir(old, kind):
                shutil.rmtree(old, ignore_errors=True)
                removed.append(old)
    if removed and log is not None:
        log(f"[{kind.command}] removed {len(removed)} orphaned director{'y' if len(removed) == 1 else 'ies'} of "
            f"killed runs: " + ", ".join(p.name for p in removed))
    return removed


def make_partial(out: Path, kind: OutputKind, log=None) -> Path:
    """Clean stale orphans, then create the partial folder next to ``out`` with its marker(s)."""
    out = Path(out)
    clean_orphans(out, kind, log)
    tmp = Path(tempfile.mkdtemp(prefix="." + out.name + ".", suffix=".partial", dir=out.parent))
    os.chmod(tmp, dir_mode())
    atomic_write_text(tmp / PARTIAL_MARKER, _stamp({"schema": _PARTIAL_SCHEMA, "target": out.name,
                                                    "kind": kind.markers[0][2]}))
    if kind.write_marker:
        atomic_write_text(tmp / kind.marker, kind.marker_text())
    return tmp


@contextlib.contextmanager
def locked(directory: Path):
    """An exclusive ``flock`` on ``directory`` for the duration of the block."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _carry_over(out: Path, tmp: Path, kind: OutputKind) -> None:
    for n in kind.carry:
        src, dst = out / n, tmp / n
        if os.path.lexists(dst) or src.is_symlink() or not src.is_file():
            continue
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def swap_in(tmp: Path, out: Path, kind: OutputKind, *, name: str = "--out") -> None:
    """Replace ``out`` by the finished folder ``tmp``; the old folder is removed only after the rename.

    Refuses (``ValueError``) when ``out`` became something ``kind`` may not replace meanwhile.
    """
    tmp, out = Path(tmp), Path(out)
    if kind.write_marker and not (tmp / kind.marker).exists():
        atomic_write_text(tmp / kind.marker, kind.marker_text())
    with locked(out.parent):
        why = refusal_reason(out, kind)
        if why is not None:
            raise ValueError(f"{name} {str(out)!r} {why}; refusing to replace it")
        with contextlib.ExitStack() as stack:
            if out.is_dir():
                stack.enter_context(locked(out))   # writers of carried files lock the folder too
                _carry_over(out, tmp, kind)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp / PARTIAL_MARKER)
            if not out.exists():
                os.replace(tmp, out)
                return
            old = out.with_name("." + out.name + ".old")
            if os.path.lexists(old):
                if old.is_dir() and not old.is_symlink() and not _entries(old):
                    old.rmdir()
                elif not is_own_dir(old, kind):
                    raise ValueError(f"{str(old)!r} is in the way and was not written by {kind.command}; remove it")
                else:
                    shutil.rmtree(old)
            os.replace(out, old)
            os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def output_dir(out, kind: OutputKind, *, name: str = "--out", log=None):
    """Check ``out``, yield a :class:`Staged` whose ``tmp`` folder the caller fills, and swap it in when the
    block ends normally; on an exception the partial folder is removed and ``out`` is untouched."""
    out = check_output_dir(out, kind, name=name)
    tmp = make_partial(out, kind, log)
    try:
        yield Staged(out, tmp)
        swap_in(tmp, out, kind, name=name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
