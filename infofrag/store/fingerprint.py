"""``fingerprints/<member>/ch<c>.zarr``: one channel's fingerprint.

Variables: ``distance`` (i, j) float32, the N x N Bhattacharyya distances (every number of the
pipeline is computed from this stored matrix); ``mu``, ``logvar`` (i) the channel's posteriors;
``factor_nmi``, ``factor_vi`` (factor) against each ground-truth factor. Attrs: member, channel,
info_bits (I(U;X)), self_info_bits (the -mean log2 mean C^2 term).

Written and read directly (:func:`infofrag.store.zarr_io.write_arrays`: no xarray, no zarr; each
array one uncompressed chunk): a fingerprint job runs once per channel, thousands of times, and
the similarity jobs read every matrix many times over. ``xarray.open_zarr`` opens the store as
before. :func:`read` with ``distance=False`` reads everything but the N x N matrix (what the
gather stage needs of 3,000 fingerprints); :func:`read_distances` stacks matrices without copies.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import StoreError
from ..provenance import verify
from .zarr_io import read_array_into, read_arrays, read_attrs, strings, write_arrays


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    distance: np.ndarray
    mu: np.ndarray
    logvar: np.ndarray
    factor_names: list
    factor_nmi: np.ndarray
    factor_vi: np.ndarray
    member: str
    channel: int
    info_bits: float
    self_info_bits: float


def write(path, fp: Fingerprint) -> None:
    write_arrays(path, {
        "distance": (("i", "j"), np.asarray(fp.distance, dtype=np.float32)),
        "mu": ("i", np.asarray(fp.mu, dtype=np.float32)),
        "logvar": ("i", np.asarray(fp.logvar, dtype=np.float32)),
        "factor_nmi": ("factor", np.asarray(fp.factor_nmi, dtype=np.float64)),
        "factor_vi": ("factor", np.asarray(fp.factor_vi, dtype=np.float64)),
        "factor": ("factor", strings(fp.factor_names)),
    }, attrs={"member": str(fp.member), "channel": int(fp.channel), "info_bits": float(fp.info_bits),
              "self_info_bits": float(fp.self_info_bits)})


def read(path, check: bool = True, distance: bool = True) -> Fingerprint:
    """The fingerprint; ``distance=False``: all but the N x N matrix (``distance`` is then None)."""
    names = ("mu", "logvar", "factor_nmi", "factor_vi", "factor") + (("distance",) if distance else ())
    ds = read_arrays(path, names, check=check)
    a = ds.attrs
    return Fingerprint(distance=ds.get("distance"), mu=ds["mu"], logvar=ds["logvar"],
                       factor_names=[str(f) for f in ds["factor"]], factor_nmi=ds["factor_nmi"],
                       factor_vi=ds["factor_vi"], member=str(a["member"]), channel=int(a["channel"]),
                       info_bits=float(a["info_bits"]), self_info_bits=float(a["self_info_bits"]))


def read_distances(paths, check: bool = True) -> tuple[np.ndarray, list[str]]:
    """The distance matrices of several fingerprints, stacked ``[M, N, N]`` (float32, each read
    straight into its place), and their channel ids."""
    paths = list(paths)
    ids, out = [], None
    for k, p in enumerate(paths):
        if check:
            verify(p)
        attrs = read_attrs(p)
        ids.append(channel_id(attrs["member"], attrs["channel"]))
        if out is None:
            first = read_arrays(p, ("distance",))["distance"]
            out = np.empty((len(paths),) + first.shape, dtype=np.float32)
            out[0] = first
        else:
            read_array_into(p, "distance", out[k])
    if out is None:
        raise StoreError("read_distances: no fingerprint given")
    return out, ids


def channel_id(member: str, channel: int) -> str:
    """The text that names one channel across stores: ``<member>/<channel>``."""
    return f"{member}/{int(channel)}"
