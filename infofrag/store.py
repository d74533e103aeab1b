"""Storage: atomic writes, the Zarr layouts of the pipeline, and checked readers.

Atomicity: every store or file is written under a temporary name in the same directory and
renamed into place only when complete, so a killed job never leaves something that looks
finished. (Snakemake additionally marks the outputs of a running job incomplete.)

Readers verify the file against its producer's provenance record before loading it
(see :mod:`infofrag.provenance`) and turn any decoding failure into an error naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import warnings
import shutil
import signal
import uuid
from pathlib import Path

import numpy as np

from .provenance import IntegrityError, verify


class StoreError(IntegrityError):
    """A stored result cannot be read or has the wrong layout (message names the file)."""


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary sibling path; on success move it to ``path`` (file or directory).

    An existing ``path`` is replaced only after the new content is complete; on failure the
    temporary is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        _inject_fault("INFOFRAG_FAULT_ENOSPC", path)
        yield tmp
        _inject_fault("INFOFRAG_FAULT_KILL_BEFORE_RENAME", path)
        if not tmp.exists():
            raise StoreError(f"nothing was written for '{path}'")
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
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink()


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
        raise OSError(errno.ENOSPC, f"No space left on device (injected) writing '{path}'")
    os.kill(os.getpid(), signal.SIGKILL)


def write_dataset(path: str | Path, ds, consolidated: bool = False) -> None:
    """Write an xarray Dataset as a Zarr store, atomically."""
    with atomic_path(path) as tmp:
        ds.to_zarr(tmp, mode="w", consolidated=consolidated)


def open_dataset(path: str | Path, check: bool = True):
    """Open a Zarr store as an in-memory xarray Dataset, after checking its digest."""
    import xarray as xr

    path = Path(path)
    if check:
        verify(path)
    try:
        with warnings.catch_warnings():
            # Snakemake stamps directory() outputs with a '.snakemake_timestamp' file; zarr
            # warns that it is not part of the hierarchy. It is not; that is expected.
            warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
            with xr.open_zarr(path, consolidated=_is_consolidated(path)) as ds:
                return ds.load()
    except IntegrityError:
        raise
    except Exception as exc:  # zarr/codec errors on damaged stores
        raise StoreError(f"cannot read Zarr store '{path}': {type(exc).__name__}: {exc}") from exc


def _is_consolidated(path: Path) -> bool:
    try:
        return "consolidated_metadata" in json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError):
        return False


def require(ds, path, variables=(), dims=None):
    """Check a loaded store has the variables (and dims) a stage needs."""
    for name in variables:
        if name not in ds.variables:
            raise StoreError(f"store '{path}' has no variable '{name}' (has {sorted(ds.variables)})")
    for name, size in (dims or {}).items():
        if ds.sizes.get(name) != size:
            raise StoreError(f"store '{path}': dimension '{name}' is {ds.sizes.get(name)}, expected {size}")


def finite(name: str, array, path) -> np.ndarray:
    array = np.asarray(array)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.isfinite(array).sum())
        raise StoreError(f"'{path}': variable '{name}' has {bad} NaN/inf value(s)")
    return array
