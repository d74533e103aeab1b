"""Zarr stores as xarray Datasets: written atomically and consolidated, read after a digest check.

Every store is Zarr format 3 with consolidated metadata, so ``xarray.open_zarr(path)`` opens any
of them without a warning (consolidated metadata also hides the ``.snakemake_timestamp`` file
Snakemake puts into directory outputs). Text is stored as fixed-width unicode, which reads back
as the numpy strings every tool expects; zarr notes on writing that the Zarr 3 specification does
not cover that data type yet, and the writer keeps that note out of the users' logs.

Direct access (:func:`write_arrays`, :func:`read_arrays`, :func:`read_array_into`,
:func:`read_attrs`): numpy and json only, for the jobs that run by the thousand (one fingerprint
per channel) and would otherwise spend most of their time importing xarray (~0.4 s) or zarr
(~0.25 s). The stores written are the same Zarr 3 layout as above -- consolidated, the
dimension names, fill values and ``_FillValue`` attributes xarray writes, so
``xarray.open_zarr`` reads the same variables, coords and attrs -- with each array in one
uncompressed chunk. The reader takes the regular chunk grid with the ``bytes`` codec, optionally
followed by ``zstd`` (what xarray writes by default; numcodecs' zstd, ~35 ms to import), and
hands anything else (other codecs, sharding, Zarr 2) to zarr itself.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import IntegrityError, StoreError
from ..provenance import verify

__all__ = ["write_dataset", "open_dataset", "require", "finite", "strings", "write_arrays", "read_arrays",
           "read_array_into", "read_attrs", "Arrays"]


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


def open_lazy(path: str | Path, check: bool = True):
    """A Zarr store as an xarray Dataset whose variables are read only when indexed, after
    checking its digest (``check``): the pair matrices of a zoo (18,000 channels: 2.6 GB each)
    are read only where a reader indexes them. Close it after use (or use it in ``with``)."""
    import xarray as xr

    path = Path(path)
    if not path.is_dir():
        raise StoreError(f"'{path}': no such Zarr store")
    if check:
        verify(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
            return xr.open_zarr(path, consolidated=(path / "zarr.json").is_file() and _consolidated(path),
                                chunks=None)
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


# --------------------------------------------------------------------------- direct access

#: Zarr 3 core data types this module reads and writes directly (little-endian numpy dtypes)
_CORE = {"bool": "|b1", "int8": "|i1", "int16": "<i2", "int32": "<i4", "int64": "<i8", "uint8": "|u1",
         "uint16": "<u2", "uint32": "<u4", "uint64": "<u8", "float32": "<f4", "float64": "<f8"}
_CORE_NAME = {np.dtype(v).str: k for k, v in _CORE.items()}
#: xarray's ``_FillValue`` attribute of a float variable (NaN as float64, base64)
_NAN_FILL = "AAAAAAAA+H8="


class Arrays(dict):
    """Arrays read from a store by name, with the store's attributes (``attrs``)."""

    def __init__(self, arrays: dict, attrs: dict):
        super().__init__(arrays)
        self.attrs = attrs


def _data_type(dtype: np.dtype):
    if dtype.kind == "U":
        return {"name": "fixed_length_utf32", "configuration": {"length_bytes": 4 * max(1, dtype.itemsize // 4)}}
    name = _CORE_NAME.get(dtype.newbyteorder("<").str if dtype.itemsize > 1 else dtype.str)
    if name is None:
        raise StoreError(f"cannot store dtype {dtype} directly")
    return name


def _little(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "U" and a.dtype.itemsize == 0:
        a = a.astype("<U1")
    if a.dtype.itemsize > 1 and a.dtype.byteorder not in ("<", "|") and not (
            a.dtype.byteorder == "=" and np.little_endian):
        a = a.astype(a.dtype.newbyteorder("<"))
    return np.ascontiguousarray(a)


def _array_meta(a: np.ndarray, dims) -> dict:
    kind = a.dtype.kind
    fill = "NaN" if kind == "f" else "" if kind == "U" else False if kind == "b" else 0
    return {"shape": list(a.shape), "data_type": _data_type(a.dtype),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [max(1, n) for n in a.shape]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "attributes": {"_FillValue": _NAN_FILL} if kind == "f" else {},
            "dimension_names": [str(d) for d in dims], "zarr_format": 3, "node_type": "array",
            "storage_transformers": []}


def write_arrays(path: str | Path, arrays: dict, attrs: dict | None = None) -> None:
    """Write ``{name: (dims, array)}`` and the group's ``attrs`` as a consolidated Zarr 3 store,
    atomically: what ``xarray.Dataset(arrays, attrs=attrs).to_zarr`` writes (a variable whose
    one dim is its own name is a dimension coordinate), each array in one uncompressed chunk.
    Numeric, bool and text (numpy unicode) arrays; attrs must be JSON values."""
    with atomic_path(path) as tmp:
        tmp.mkdir()
        meta = {}
        for name in sorted(arrays):
            dims, a = arrays[name]
            a = _little(a)
            dims = (dims,) if isinstance(dims, str) else tuple(dims)
            if len(dims) != a.ndim or a.ndim == 0:
                raise StoreError(f"'{path}': variable '{name}' has shape {a.shape} and dims {dims}")
            meta[name] = _array_meta(a, dims)
            folder = tmp / name
            folder.mkdir()
            if a.size:
                chunk = folder.joinpath("c", *(["0"] * a.ndim))
                chunk.parent.mkdir(parents=True)
                with open(chunk, "wb") as fh:
                    fh.write(a.data if a.dtype.kind != "U" else a.tobytes())
            (folder / "zarr.json").write_text(json.dumps(meta[name], indent=2))
        root = {"attributes": dict(attrs or {}), "zarr_format": 3,
                "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": meta},
                "node_type": "group"}
        (tmp / "zarr.json").write_text(json.dumps(root, indent=2))


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError(f"'{path.parent}' is not a Zarr store (no zarr.json)") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read '{path}': {type(exc).__name__}: {exc}") from exc


def _group(path: Path) -> tuple[dict, dict | None]:
    """The group's attributes and its consolidated array metadata (None without)."""
    root = _load_json(path / "zarr.json")
    if root.get("zarr_format") != 3 or root.get("node_type") != "group":
        raise StoreError(f"'{path}' is not a Zarr 3 group")
    consolidated = (root.get("consolidated_metadata") or {}).get("metadata")
    return root.get("attributes", {}), consolidated


def read_attrs(path: str | Path, check: bool = False) -> dict:
    """The attributes of a store's group (its root ``zarr.json`` only)."""
    path = Path(path)
    if check:
        verify(path)
    return _group(path)[0]


def _direct_layout(meta: dict):
    """(dtype as stored, shape, chunk shape, separator, zstd?) when this module reads the array
    itself, else None."""
    try:
        if meta.get("zarr_format") != 3 or meta.get("node_type") != "array" or meta.get("storage_transformers"):
            return None
        dt = meta["data_type"]
        if isinstance(dt, dict) and dt.get("name") == "fixed_length_utf32":
            dtype = np.dtype(f"<U{int(dt['configuration']['length_bytes']) // 4}")
        elif isinstance(dt, str) and dt in _CORE:
            dtype = np.dtype(_CORE[dt])
        else:
            return None
        grid, keys = meta["chunk_grid"], meta["chunk_key_encoding"]
        if grid["name"] != "regular" or keys["name"] != "default":
            return None
        codecs = [c if isinstance(c, dict) else {"name": c} for c in meta["codecs"]]
        if not codecs or codecs[0]["name"] != "bytes" or any(c["name"] != "zstd" for c in codecs[1:]) \
                or len(codecs) > 2:
            return None
        if (codecs[0].get("configuration") or {}).get("endian", "little") == "big" and dtype.itemsize > 1:
            dtype = dtype.newbyteorder(">")
        shape = tuple(int(n) for n in meta["shape"])
        chunks = tuple(int(n) for n in grid["configuration"]["chunk_shape"])
        sep = (keys.get("configuration") or {}).get("separator", "/")
        if len(chunks) != len(shape) or not shape:
            return None
        fill = meta.get("fill_value")
        if dtype.kind == "f" and not (fill in ("NaN", "Infinity", "-Infinity") or isinstance(fill, (int, float))):
            return None
        return dtype, shape, chunks, sep, len(codecs) == 2, fill
    except (KeyError, TypeError, ValueError):
        return None


def _zstd():
    from numcodecs.zstd import Zstd

    return Zstd()


def _read_direct(folder: Path, layout, out: np.ndarray | None = None) -> np.ndarray:
    dtype, shape, chunks, sep, zstd, fill = layout
    native = dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype
    if out is None:
        out = np.empty(shape, dtype=native)
    elif out.shape != shape or out.dtype != native:
        raise StoreError(f"'{folder}': array {shape} {native}, expected {out.shape} {out.dtype}")
    if not out.size:
        return out
    grid = [math.ceil(n / c) for n, c in zip(shape, chunks)]
    codec = _zstd() if zstd else None
    nbytes = math.prod(chunks) * dtype.itemsize
    for idx in itertools.product(*(range(g) for g in grid)):
        key = folder / ("c" + sep + sep.join(map(str, idx)))
        where = tuple(slice(i * c, min(n, (i + 1) * c)) for i, c, n in zip(idx, chunks, shape))
        if not key.is_file():
            out[where] = np.array(fill if dtype.kind != "f" else float(fill), dtype=native)
            continue
        if codec is None and chunks == shape and out.flags.c_contiguous and dtype == native:
            with open(key, "rb") as fh:  # one chunk, as stored: straight into the result
                got = fh.readinto(memoryview(out.reshape(-1).view(np.uint8)))
                if got != nbytes or fh.read(1):
                    raise StoreError(f"'{key}': {got}+ bytes, expected {nbytes}")
            return out
        data = key.read_bytes()
        if codec is not None:
            data = codec.decode(data)
        if len(data) != nbytes:
            raise StoreError(f"'{key}': {len(data)} bytes, expected {nbytes}")
        chunk = np.frombuffer(data, dtype=dtype).reshape(chunks)
        out[where] = chunk[tuple(slice(0, w.stop - w.start) for w in where)]
    return out


def _array_meta_of(path: Path, name: str, consolidated: dict | None) -> dict:
    if consolidated is not None:
        if name not in consolidated:
            raise StoreError(f"store '{path}' has no variable '{name}' (has {sorted(consolidated)})")
        return consolidated[name]
    if not (path / name / "zarr.json").is_file():
        raise StoreError(f"store '{path}' has no variable '{name}'")
    return _load_json(path / name / "zarr.json")


def _read_with_zarr(path: Path, name: str) -> np.ndarray:
    import zarr

    return np.asarray(zarr.open_array(str(path / name), mode="r")[...])


def read_arrays(path: str | Path, names, check: bool = False) -> Arrays:
    """The arrays ``names`` of a Zarr store (as numpy), with its attributes, after checking the
    store's digest (``check``); without xarray or zarr for the layouts described above."""
    path = Path(path)
    if check:
        verify(path)
    try:
        attrs, consolidated = _group(path)
        out = {}
        for name in names:
            meta = _array_meta_of(path, name, consolidated)
            layout = _direct_layout(meta)
            out[name] = _read_with_zarr(path, name) if layout is None else _read_direct(path / name, layout)
        return Arrays(out, attrs)
    except (StoreError, IntegrityError):
        raise
    except Exception as exc:  # codec errors on damaged stores
        raise StoreError(f"cannot read Zarr store '{path}': {type(exc).__name__}: {exc}") from exc


def read_array_into(path: str | Path, name: str, out: np.ndarray) -> np.ndarray:
    """Read array ``name`` of a store into ``out`` (its shape and native dtype): no copy for one
    uncompressed chunk, as :func:`write_arrays` writes."""
    path = Path(path)
    try:
        _, consolidated = _group(path)
        layout = _direct_layout(_array_meta_of(path, name, consolidated))
        if layout is None:
            out[...] = _read_with_zarr(path, name)
            return out
        return _read_direct(path / name, layout, out)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot read Zarr store '{path}': {type(exc).__name__}: {exc}") from exc
