"""Atomic writes: the one way the package puts a file or a store on disk.

Everything is written under a temporary name in the destination's directory and renamed into
place only when complete (then fsynced, the directory too), so a killed job never leaves
something that looks finished and an existing good result is replaced only by a complete one.
A failed write names the destination (a full disk's ``write()`` error carries no file name).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import uuid
from pathlib import Path

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json"]


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary sibling path; on success move it to ``path`` (a file or a directory).

    An existing ``path`` is replaced only after the new content is complete; on failure the
    temporary is removed and ``path`` is left as it was. An ``OSError`` without a file name
    (ENOSPC, EIO from ``write``) is re-raised naming ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _inject_fault("INFOFRAG_FAULT_ENOSPC", path)
        yield tmp
        _inject_fault("INFOFRAG_FAULT_KILL_BEFORE_RENAME", path)
        if not tmp.exists():
            raise FileNotFoundError(errno.ENOENT, "nothing was written", str(path))
        if tmp.is_file():
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        if exc.filename is None or str(exc.filename).startswith(str(tmp)):
            raise OSError(exc.errno, f"{exc.strerror or exc} (writing '{path}')", str(path)) from exc
        raise
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists() or tmp.is_symlink():
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: not every file system lets a directory be fsynced)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _inject_fault(variable: str, path: Path) -> None:
    """Fault injection for the reliability tests (never set in normal use).

    ``INFOFRAG_FAULT_KILL_BEFORE_RENAME=<text>``: SIGKILL this process when the content of a
    path containing <text> is fully written but not yet renamed into place (a job killed
    mid-write). ``INFOFRAG_FAULT_ENOSPC=<text>``: fail writing such a path as a full disk would.
    """
    target = os.environ.get(variable)
    if not target or target not in str(path):
        return
    if variable == "INFOFRAG_FAULT_ENOSPC":
        raise OSError(errno.ENOSPC, "No space left on device (injected)")
    os.kill(os.getpid(), signal.SIGKILL)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str | Path, obj) -> None:
    """JSON with sorted keys (non-JSON values as their ``str``)."""
    write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=str))
