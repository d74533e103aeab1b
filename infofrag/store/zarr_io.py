"""Zarr stores as xarray Datasets: written atomically and consolidated, read after a digest check.

Every store is Zarr format 3 with consolidated metadata, so ``xarray.open_zarr(path)`` opens any
of them without a warning (consolidated metadata also hides the ``.snakemake_timestamp`` file
Snakemake puts into directory outputs). Text is stored as fixed-width unicode, which reads back
as the numpy strings every tool expects; zarr notes on writing that the Zarr 3 specification does
not cover that data type yet, and the writer keeps that note out of the users' logs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import IntegrityError, StoreError
from ..provenance import verify

__all__ = ["write_dataset", "open_dataset", "require", "finite", "strings"]


def strings(values) -> np.ndarray:
    """Text values as a numpy unicode array (what the stores hold for names)."""
    return np.array([str(v) for v in np.asarray(values).reshape(-1)], dtype=str)


def write_dataset(path: str | Path, ds) -> None:
    """Write an xarray Dataset as a consolidated Zarr store, atomically."""
    from zarr.errors import UnstableSpecificationWarning

    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
            warnings.filterwarnings("ignore", category=UnstableSpecificationWarning)
            ds.to_zarr(tmp, mode="w", consolidated=True)


def open_dataset(path: str | Path, check: bool = True):
    """Open a Zarr store as an in-memory xarray Dataset, after checking its digest (``check``)."""
    import xarray as xr

    path = Path(path)
    if check:
        verify(path)
    try:
        with warnings.catch_warnings():
            # a store without consolidated metadata lists its directory: Snakemake's stamp file
            warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
            with xr.open_zarr(path, consolidated=(path / "zarr.json").is_file() and _consolidated(path)) as ds:
                return ds.load()
    except IntegrityError:
        raise
    except Exception as exc:  # zarr/codec errors on damaged stores
        raise StoreError(f"cannot read Zarr store '{path}': {type(exc).__name__}: {exc}") from exc


def _consolidated(path: Path) -> bool:
    import json

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
