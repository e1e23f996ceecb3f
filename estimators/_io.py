"""Atomic file writes with the user's permissions.

Writers create a temporary file in the target's directory, write and fsync it, give it the mode an
ordinary ``open(path, "w")`` would (``0o666 & ~umask``; ``tempfile.mkstemp`` creates 0600), and
rename it into place: readers see either the old file or the complete new one, never a part.
A file that already exists keeps its permission bits (as ``open(path, "w")`` would keep them).
Which paths may be written at all is the output rule of :mod:`estimators.outputs`.
"""
from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

__all__ = ["atomic_write_text", "current_umask", "file_mode", "dir_mode"]

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read from /proc when available, else by setting and restoring it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        old = os.umask(0o022)
        os.umask(old)
    return old


def file_mode() -> int:
    """Mode of a new regular file under the current umask."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Mode of a new directory under the current umask."""
    return 0o777 & ~current_umask()


def atomic_write_text(path, text: str, encoding: str = "utf-8", *, mkdir: bool = True) -> Path:
    """Write ``text`` to ``path`` so that readers see either the old file or the complete new one.

    A new file gets mode ``0o666 & ~umask``, a replaced one keeps its mode. With ``mkdir`` missing
    parent directories are created (with the umask's directory mode).
    """
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st = os.stat(path)
        mode = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else file_mode()
    except OSError:
        mode = file_mode()
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding) as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
