"""``fingerprints/<member>.zarr``: the compact fingerprints of one member's channels.

A channel's fingerprint, its N x N Bhattacharyya distances, is defined by its posteriors on the
sample; the store holds those and what the fingerprint job computes from them, never the matrix
(8 KB a channel at N = 1,000 instead of 4 MB):

- over (channel, i): ``mu``, ``logvar`` (float32, as encoded) -- each channel's posteriors on the
  N sample points; :meth:`Fingerprints.distances` gives a channel's matrix;
- over (channel): ``info_bits`` I(U;X), ``self_info_bits`` I(UU';X), ``h_bits`` the generalised
  entropy H = 2 I(U;X) - I(UU';X), ``bound_bits`` the largest |I(U;V)| the channel can share with
  any channel (docs/method.md, "Channels below the threshold");
- over (channel, factor): ``factor_nmi``, ``factor_vi`` against each ground-truth factor.

Coords ``channel``, ``factor``; attrs ``member``, ``n_points``, ``layout``. Written and read
directly (:func:`infofrag.store.zarr_io.write_arrays`: numpy and json only, one uncompressed chunk
per array); ``xarray.open_zarr`` opens it as any store. A store of another layout (the N x N
matrices of earlier versions) is refused with a message to rerun.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import StoreError
from ..measures import fast_distances
from .zarr_io import read_arrays, strings, write_arrays

LAYOUT = "compact-1"
_PER_CHANNEL = ("info_bits", "self_info_bits", "h_bits", "bound_bits")


@dataclasses.dataclass(frozen=True)
class Fingerprints:
    """One member's channels: posteriors [d, N] and per-channel terms [d] (bits)."""

    member: str
    mu: np.ndarray
    logvar: np.ndarray
    info_bits: np.ndarray
    self_info_bits: np.ndarray
    h_bits: np.ndarray
    bound_bits: np.ndarray
    factor_names: list
    factor_nmi: np.ndarray  # [d, F]
    factor_vi: np.ndarray

    @property
    def n_channels(self) -> int:
        return int(self.info_bits.shape[0])

    def ids(self) -> list[str]:
        return [channel_id(self.member, c) for c in range(self.n_channels)]

    def distances(self, channel: int) -> np.ndarray:
        """The channel's Bhattacharyya distances [N, N] (float64; :func:`infofrag.measures.fast_distances`)."""
        return fast_distances(self.mu[channel], self.logvar[channel])


def write(path, fp: Fingerprints) -> None:
    d = fp.n_channels
    write_arrays(path, {
        "mu": (("channel", "i"), np.asarray(fp.mu, dtype=np.float32)),
        "logvar": (("channel", "i"), np.asarray(fp.logvar, dtype=np.float32)),
        **{k: ("channel", np.asarray(getattr(fp, k), dtype=np.float64)) for k in _PER_CHANNEL},
        "factor_nmi": (("channel", "factor"), np.asarray(fp.factor_nmi, dtype=np.float64).reshape(d, -1)),
        "factor_vi": (("channel", "factor"), np.asarray(fp.factor_vi, dtype=np.float64).reshape(d, -1)),
        "factor": ("factor", strings(fp.factor_names)),
        "channel": ("channel", np.arange(d, dtype=np.int64)),
    }, attrs={"member": str(fp.member), "n_points": int(np.shape(fp.mu)[1]), "layout": LAYOUT})


def read(path, check: bool = True, posteriors: bool = True) -> Fingerprints:
    """The member's fingerprints; ``posteriors=False``: all but ``mu``/``logvar`` (then None),
    what the gather needs of thousands of members."""
    names = _PER_CHANNEL + ("factor_nmi", "factor_vi", "factor") + (("mu", "logvar") if posteriors else ())
    try:
        ds = read_arrays(path, names, check=check)
    except StoreError:
        _refuse_other_layout(path)
        raise
    _refuse_other_layout(path, ds.attrs)
    return Fingerprints(member=str(ds.attrs["member"]), mu=ds.get("mu"), logvar=ds.get("logvar"),
                        **{k: ds[k] for k in _PER_CHANNEL}, factor_names=[str(f) for f in ds["factor"]],
                        factor_nmi=ds["factor_nmi"], factor_vi=ds["factor_vi"])


def _refuse_other_layout(path, attrs=None) -> None:
    if attrs is None:
        from .zarr_io import read_attrs

        try:
            attrs = read_attrs(path)
        except StoreError:
            return
    if attrs.get("layout") != LAYOUT:
        raise StoreError(f"'{path}' is a fingerprint store of another layout ({attrs.get('layout') or 'N x N matrices'}"
                         f"; this infofrag reads '{LAYOUT}'): it was written by an earlier version; rerun the "
                         "workflow, which recomputes it")


def read_posteriors(paths, check: bool = True) -> tuple[np.ndarray, np.ndarray, list[str], list[Fingerprints]]:
    """The channels of several members' stores side by side: ``mu``, ``logvar`` [M, N] (float64),
    their channel ids, and each store's :class:`Fingerprints`."""
    fps = [read(p, check=check) for p in paths]
    if not fps:
        raise StoreError("read_posteriors: no fingerprint store given")
    mu = np.concatenate([f.mu for f in fps]).astype(np.float64)
    lv = np.concatenate([f.logvar for f in fps]).astype(np.float64)
    return mu, lv, [i for f in fps for i in f.ids()], fps


def channel_id(member: str, channel: int) -> str:
    """The text that names one channel across stores: ``<member>/<channel>``."""
    return f"{member}/{int(channel)}"


def split_id(cid: str) -> tuple[str, int]:
    """``(member, channel)`` of a channel id."""
    member, channel = str(cid).rsplit("/", 1)
    return member, int(channel)
