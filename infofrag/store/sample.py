"""``sample.zarr``: the fingerprint sample, shared by every member.

Variables: ``x`` (sample, x0, ...) float32 inputs; ``factors`` (sample, factor) int64 class
labels; ``indices`` (sample) the points' indices in the dataset. Attrs: dataset, likelihood,
input_shape, dataset_size, factor_sizes, content_digest (:func:`content_digest`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .zarr_io import read_arrays, strings, write_dataset


@dataclasses.dataclass(frozen=True)
class Sample:
    x: np.ndarray
    factors: np.ndarray  # [N, F]
    factor_names: list
    indices: np.ndarray
    dataset: str
    likelihood: str
    input_shape: tuple
    dataset_size: int
    factor_sizes: tuple

    content_digest: str = ""

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def content_digest(indices, x) -> str:
    """What identifies a fingerprint sample: its points' dataset indices and inputs (float32).
    Posteriors computed elsewhere state it, so that they are never compared on other points."""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    return h.hexdigest()


def write(path, drawn: dict, dataset) -> None:
    """``drawn`` as :func:`infofrag.data.draw_sample` returns it, from ``dataset``."""
    import xarray as xr

    x = np.asarray(drawn["x"], dtype=np.float32)
    names = [str(n) for n in drawn["factor_names"]]
    x_dims = ("sample",) + tuple(f"x{k}" for k in range(x.ndim - 1))
    store = xr.Dataset(
        {
            "x": (x_dims, x),
            "factors": (("sample", "factor"),
                        np.asarray(drawn["factors"], dtype=np.int64).reshape(len(x), len(names))),
            "indices": ("sample", np.asarray(drawn["indices"], dtype=np.int64)),
        },
        coords={"factor": strings(names)},
        attrs={"dataset": dataset.name, "likelihood": dataset.likelihood,
               "input_shape": [int(s) for s in dataset.input_shape], "dataset_size": int(dataset.n),
               "factor_sizes": [int(v) for v in getattr(dataset, "factor_sizes", ())],
               "content_digest": content_digest(drawn["indices"], x)},
    )
    write_dataset(path, store)


def read(path, check: bool = True) -> Sample:
    """The sample, read directly (numpy and json: no xarray to import in the many small jobs)."""
    ds = read_arrays(path, ("x", "factors", "factor", "indices"), check=check)
    a = ds.attrs
    return Sample(x=ds["x"], factors=ds["factors"], factor_names=[str(f) for f in ds["factor"]],
                  indices=ds["indices"], dataset=str(a["dataset"]), likelihood=str(a["likelihood"]),
                  input_shape=tuple(a["input_shape"]), dataset_size=int(a["dataset_size"]),
                  factor_sizes=tuple(a.get("factor_sizes", ())), content_digest=str(a.get("content_digest", "")))
