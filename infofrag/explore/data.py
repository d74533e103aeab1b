"""What the explorer shows, read from a run's results: plain numbers and names, no plotting.

The channel x channel NMI of a run grows as M^2 (2.6 GB of float64 at 18,000 channels), so it is
never loaded whole: :func:`ordered_block_means` streams it one chunk at a time and keeps only the
OPTICS-ordered matrix averaged over blocks of ``k`` channels (at most :data:`MAX_CELLS` a side)
and the mean NMI between hotspots. Everything else is per channel, per member or per hotspot.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ..store.fingerprint import channel_id
from ..store.zarr_io import require

#: The heatmaps are drawn at most this many cells a side: above it, consecutive channels of the
#: OPTICS ordering (members, in the spaces view) are averaged in blocks of ceil(n / MAX_CELLS).
#: 600 x 600 float32 cells are 1.9 MB in the page and draw in a browser without delay.
MAX_CELLS = 600
#: What the similarity store must hold for the explorer (coords on ``a``, per member).
SIMILARITY_COORDS = ("channel_id", "member", "channel", "info_bits", "member_id", "member_method",
                     "member_param", "member_value", "member_seed")
HOTSPOT_KEYS = ("status", "message", "info_threshold", "distance", "n_channels", "n_informative",
                "n_hotspots", "hotspots", "optics", "factors")
HOTSPOT_ENTRY_KEYS = ("id", "members", "size", "n_members", "fraction_members", "nmi_mean", "nmi_std",
                      "info_bits_mean", "factor_nmi", "representative", "found_by_every_method")


def open_lazy(path):
    """A Zarr store read where indexed (:func:`infofrag.store.zarr_io.open_lazy`; the job
    verified it). Close it after use."""
    from ..store.zarr_io import open_lazy as lazy

    return lazy(path, check=False)


def read_json(path, keys=()) -> dict:
    """A result file as a dict, with ``keys`` present (else an error naming the file)."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read '{path}': {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, dict):
        raise StoreError(f"'{path}': expected a JSON object, found {type(result).__name__}")
    missing = [k for k in keys if k not in result]
    if missing:
        raise StoreError(f"'{path}' has no {', '.join(repr(k) for k in missing)} (is it a hotspots.json?)")
    return result


def group_label(method: str, param: str, value: float) -> str:
    """A member's group, "<method> <param>=<value>" (the hotspot table's ``groups``)."""
    return f"{method} {param}={value:g}" if param and math.isfinite(value) else method


@dataclass
class Members:
    """Per member, in member order."""

    name: list
    method: list
    param: list
    value: list  # NaN where a member sweeps nothing
    seed: list  # -1: an imported member
    group: list


@dataclass
class Channels:
    """Per channel along dim ``a`` of the similarity store."""

    ids: list  # <member>/<channel>
    member: np.ndarray  # index into Members
    channel: np.ndarray
    info_bits: np.ndarray
    factor_names: list
    factor_nmi: np.ndarray  # [M, F], NaN at or below the information threshold


def read_channels(ds, path, info_threshold: float) -> tuple[Members, Channels]:
    """Members and channels of a (lazily opened) similarity store; factor NMI as users see it
    (:func:`infofrag.hotspots.informative_factor_nmi`)."""
    from ..hotspots import informative_factor_nmi

    require(ds, path, ("nmi",) + SIMILARITY_COORDS)
    if ds["nmi"].dims != ("a", "b") or ds.sizes["a"] != ds.sizes["b"]:
        raise StoreError(f"'{path}': 'nmi' must be a square matrix over ('a', 'b'); it is {dict(ds['nmi'].sizes)}")
    names = [str(m) for m in ds["member_id"].values]
    values = np.asarray(ds["member_value"].values, dtype=float)
    methods = [str(m) for m in ds["member_method"].values]
    params = [str(p) for p in ds["member_param"].values]
    members = Members(names, methods, params, values.tolist(),
                      [int(s) for s in ds["member_seed"].values],
                      [group_label(m, p, v) for m, p, v in zip(methods, params, values)])
    of_member = {name: k for k, name in enumerate(names)}
    member_names = [str(m) for m in ds["member"].values]
    unknown = sorted(set(member_names) - set(of_member))
    if unknown:
        raise StoreError(f"'{path}': channels of members {unknown} that 'member_id' does not list")
    info = np.asarray(ds["info_bits"].values, dtype=float)
    if "factor_nmi" in ds and "factor" in ds.sizes:
        factor_names = [str(f) for f in ds["factor"].values]
        fnmi = informative_factor_nmi(ds["factor_nmi"].transpose("a", "factor").values, info, info_threshold)
    else:
        factor_names, fnmi = [], np.zeros((len(info), 0))
    channels = Channels([str(c) for c in ds["channel_id"].values],
                        np.array([of_member[m] for m in member_names], dtype=np.int64),
                        np.asarray(ds["channel"].values, dtype=np.int64), info, factor_names, fnmi)
    return members, channels


def hotspot_of_channel(hot: dict, channels: Channels, hotspots_path) -> np.ndarray:
    """Each channel's hotspot id (-1: none), from the hotspots' ``members`` lists."""
    index = {cid: i for i, cid in enumerate(channels.ids)}
    label = np.full(len(channels.ids), -1, dtype=np.int64)
    ids = [h.get("id") for h in hot["hotspots"]]
    if ids != list(range(len(ids))):
        raise StoreError(f"'{hotspots_path}': hotspot ids {ids}, expected 0 to {len(ids) - 1} in order")
    for h in hot["hotspots"]:
        missing = [k for k in HOTSPOT_ENTRY_KEYS if k not in h]
        if missing:
            raise StoreError(f"'{hotspots_path}': hotspot {h.get('id')} has no {missing}")
        for member, channel in h["members"]:
            cid = channel_id(member, channel)
            if cid not in index:
                raise StoreError(f"'{hotspots_path}': hotspot {h['id']} lists channel '{cid}', which the "
                                 "similarity store does not hold (results of two different runs?)")
            label[index[cid]] = int(h["id"])
    return label


def check_ordering(hot: dict, n_channels: int, hotspots_path) -> tuple[list, list]:
    """The OPTICS ordering (indices into dim ``a``) and reachability along it (None: infinite)."""
    optics = hot["optics"]
    order = [int(i) for i in optics.get("ordering", [])]
    reach = list(optics.get("reachability", []))
    if len(reach) != len(order) or any(not 0 <= i < n_channels for i in order) or len(set(order)) != len(order):
        raise StoreError(f"'{hotspots_path}': its OPTICS ordering does not index the {n_channels} channels of the "
                         "similarity store once each (results of two different runs?)")
    return order, [None if r is None else float(r) for r in reach]


def block_size(n: int, max_cells: int = MAX_CELLS) -> int:
    """Channels per heatmap cell: 1 up to ``max_cells`` channels, then ceil(n / max_cells)."""
    return max(1, math.ceil(n / max_cells))


def tile_size(ds) -> tuple[int, int]:
    """Rows and columns of NMI read at once: one chunk of the store (a part of a chunk would
    decompress all of it again for each part; the gather stage writes 2,048 x 2,048 chunks)."""
    chunks = ds["nmi"].encoding.get("chunks") or ds["nmi"].encoding.get("preferred_chunks", {}).values()
    rows, cols = (list(chunks) + [None, None])[:2] if chunks else (None, None)
    return int(rows or ds.sizes["a"]), int(cols or ds.sizes["b"])


def ordered_block_means(read_tile, n_rows: int, tile: tuple[int, int], order: list, k: int, hotspot: np.ndarray,
                        n_hotspots: int):
    """The NMI matrix in OPTICS order averaged over blocks of ``k`` positions, and the mean NMI
    between each pair of hotspots, from the matrix read one tile at a time.

    ``read_tile(r0, r1, c0, c1)`` returns the store's NMI ``[r0:r1, c0:c1]`` (``n_rows`` x
    ``n_rows`` in all; ``tile`` its rows and columns at once); ``order`` the ordering (indices into
    ``a``); ``hotspot`` each channel's hotspot (-1: none). Both results average the finite entries
    of both triangles (a pair whose NMI was not computed, NaN, counts for nothing; a block or pair
    with none is NaN), so they are symmetric. Memory: one tile and the blocks' sums, whatever
    ``n_rows``.
    """
    order = np.asarray(order, dtype=np.int64)
    n = len(order)
    nb = len(range(0, n, k))
    position = np.full(n_rows, -1, dtype=np.int64)
    position[order] = np.arange(n)
    sums, counts = np.zeros((nb, nb)), np.zeros((nb, nb))
    hsums, hcounts = np.zeros((n_hotspots, n_hotspots)), np.zeros((n_hotspots, n_hotspots))
    tr, tc = tile
    columns = [_Segments(np.arange(c0, min(n_rows, c0 + tc)), position, k, hotspot, n_hotspots)
               for c0 in range(0, n_rows, tc)]
    for r0 in range(0, n_rows, tr):
        rows = _Segments(np.arange(r0, min(n_rows, r0 + tr)), position, k, hotspot, n_hotspots)
        if not len(rows.local):
            continue
        for c0, cols in zip(range(0, n_rows, tc), columns):
            if not len(cols.local):
                continue
            t = np.asarray(read_tile(r0, r0 + len(rows.channels), c0, c0 + len(cols.channels)), dtype=np.float64)
            values = t[np.ix_(rows.local, cols.local)]  # both in OPTICS order
            bad = ~np.isfinite(values)
            if bad.any():  # pairs not computed count for nothing
                values[bad] = 0.0
                seg_counts = np.add.reduceat(~bad, cols.starts, axis=1, dtype=np.float64)
            else:
                seg_counts = np.broadcast_to(cols.widths, (len(values), len(cols.starts)))
            seg_sums = np.add.reduceat(values, cols.starts, axis=1)
            # rows added up by block, then into the blocks x segments of this tile
            at = np.ix_(rows.block[rows.starts], cols.block[cols.starts])
            np.add.at(sums, at, np.add.reduceat(seg_sums, rows.starts, axis=0))
            np.add.at(counts, at, np.add.reduceat(seg_counts, rows.starts, axis=0))
            mine = rows.label >= 0
            if mine.any() and n_hotspots:
                np.add.at(hsums, rows.label[mine], seg_sums[mine] @ cols.hot)
                np.add.at(hcounts, rows.label[mine], seg_counts[mine] @ cols.hot)
    return _symmetric_mean(sums, counts), _symmetric_mean(hsums, hcounts)


class _Segments:
    """The channels of one tile's rows or columns that are in the ordering, sorted by position
    (``local``: their indices in the tile), cut into segments that lie in one block and carry
    one hotspot label: a block's sum, and a hotspot's, is a sum of whole segments."""

    def __init__(self, channels, position, k, hotspot, n_hotspots):
        self.channels = channels
        shown = channels[position[channels] >= 0]
        shown = shown[np.argsort(position[shown], kind="stable")]
        self.local = shown - channels[0] if len(channels) else shown
        self.block = position[shown] // k
        self.label = hotspot[shown]
        change = (np.diff(self.block) != 0) | (np.diff(self.label) != 0)
        self.starts = np.concatenate([[0], np.flatnonzero(change) + 1]).astype(np.int64) if len(shown) else \
            np.zeros(0, dtype=np.int64)
        self.widths = np.diff(np.append(self.starts, len(shown))).astype(np.float64)
        self.hot = np.zeros((len(self.starts), n_hotspots))  # which hotspot each segment is (one-hot)
        held = self.label[self.starts] >= 0 if len(shown) else np.zeros(0, dtype=bool)
        self.hot[np.flatnonzero(held), self.label[self.starts][held]] = 1.0


def _symmetric_mean(sums, counts):
    total = counts + counts.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (sums + sums.T) / np.where(total > 0, total, 1.0), np.nan)


def nearest_hotspots(between: np.ndarray) -> list:
    """For each hotspot, (the other hotspot with the highest mean NMI to it, that NMI), or None."""
    out = []
    for h in range(len(between)):
        row = np.where(np.arange(len(between)) == h, np.nan, between[h])
        out.append(None if not np.isfinite(row).any() else (int(np.nanargmax(row)), float(np.nanmax(row))))
    return out


def groups_holding(hotspot: dict, members: Members) -> list:
    """Per group (method and value) with a member in ``hotspot``: its members that hold it, how
    many members the group has, and the fraction."""
    of_member = {name: k for k, name in enumerate(members.name)}
    holders = sorted({m for m, _ in hotspot["members"]}, key=of_member.get)
    size = {}
    for g in members.group:
        size[g] = size.get(g, 0) + 1
    rows = {}
    for m in holders:
        g = members.group[of_member[m]]
        rows.setdefault(g, []).append(m)
    return [{"group": g, "method": members.method[of_member[ms[0]]], "members": ms, "holding": len(ms),
             "of": size[g], "fraction": len(ms) / size[g]} for g, ms in rows.items()]


def runs(labels) -> list:
    """Contiguous runs ``(label, start, stop)`` of labels >= 0 along the ordering."""
    out, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] >= 0:
                out.append((int(labels[start]), start, i))
            start = i
    return out


def spaces_view(path, max_cells: int = MAX_CELLS) -> dict:
    """The member x member NMI of whole latent spaces, members grouped by method and value (as
    :func:`infofrag.figures.plot_spaces` orders them), block-averaged above ``max_cells``.

    The Monte Carlo estimate (with its standard error) where it covers every pair the
    fingerprint estimate covers; else (Monte Carlo run for some members only) the fingerprint
    estimate, complete, with the Monte Carlo value beside it where there is one."""
    with open_lazy(path) as ds:
        require(ds, path, ("nmi", "nmi_se", "fp_nmi", "member", "group_id", "group_method", "group_param",
                           "group_value"))
        gid = np.asarray(ds["group_id"].values)
        gvalue = np.asarray(ds["group_value"].values, dtype=float)
        gmethod = [str(m) for m in ds["group_method"].values]
        gparam = [str(p) for p in ds["group_param"].values]
        gorder = sorted(range(len(gmethod)), key=lambda g: (gmethod[g], bool(np.isnan(gvalue[g])),
                                                            0.0 if np.isnan(gvalue[g]) else gvalue[g], g))
        order = [int(i) for g in gorder for i in np.flatnonzero(gid == g)]
        names = [str(m) for m in ds["member"].values]
        at = np.ix_(order, order)
        mc, se = np.asarray(ds["nmi"].values, np.float64)[at], np.asarray(ds["nmi_se"].values, np.float64)[at]
        fp = np.asarray(ds["fp_nmi"].values, np.float64)[at]
    partial = bool((np.isfinite(fp) & ~np.isfinite(mc)).any())
    nmi, other = (fp, mc) if partial else (mc, se)
    k = block_size(len(order), max_cells)
    if k > 1:
        nmi, other = _block_nanmean(nmi, k), None
    sizes = [int(np.sum(gid == g)) for g in gorder]
    return {"order": [names[i] for i in order], "nmi": nmi, "estimate": "fingerprint" if partial else "Monte Carlo",
            "se": None if partial else other, "monte_carlo": other if partial else None, "block": k,
            "groups": [group_label(gmethod[g], gparam[g], gvalue[g]) for g in gorder], "sizes": sizes}


def _block_nanmean(a: np.ndarray, k: int) -> np.ndarray:
    """Means of the finite entries over k x k blocks (the last ones may be smaller); NaN where none."""
    starts = np.arange(0, len(a), k)
    finite = np.isfinite(a)
    counts = np.add.reduceat(np.add.reduceat(finite.astype(float), starts, 0), starts, 1)
    sums = np.add.reduceat(np.add.reduceat(np.where(finite, a, 0.0), starts, 0), starts, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)
