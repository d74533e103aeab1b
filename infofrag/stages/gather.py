"""Stage ``gather``: the shards assembled into one labelled store, ``similarity.zarr``."""

from __future__ import annotations

import json

import numpy as np

from .. import store
from ..errors import StoreError
from ..store.fingerprint import channel_id


def assemble(ids: list, shard_paths: list) -> dict:
    """The [M, M] matrices of every pair variable from the shards (each mirrored across the
    diagonal). A pair no shard covers is an error naming it: a shard is missing or incomplete."""
    pos = {k: i for i, k in enumerate(ids)}
    M = len(ids)
    mats = {v: np.full((M, M), np.nan) for v in store.similarity.PAIR_VARIABLES}
    for path in shard_paths:
        shard = store.shard.read(path, check=False)  # verified by the job
        try:
            ia = np.array([pos[str(a)] for a in shard["a"].values])
            ib = np.array([pos[str(b)] for b in shard["b"].values])
        except KeyError as exc:
            raise StoreError(f"gather: shard '{path}' holds channel {exc} that is not in the ensemble") from None
        for v, mat in mats.items():
            block = shard[v].values
            mat[np.ix_(ia, ib)] = block
            mat[np.ix_(ib, ia)] = block.T
    for v, mat in mats.items():
        holes = np.argwhere(np.isnan(mat))
        if len(holes):
            a, b = holes[0]
            raise StoreError(f"gather: {len(holes)} channel pair(s) have no {v} value (first: "
                             f"{ids[a]} x {ids[b]}); a similarity shard is missing or incomplete")
    return mats


def run(members: dict, n_channels: dict, shard_paths: list, fingerprint_paths: dict,
        score_paths: dict, out_store) -> dict:
    """members: {name: its settings} in member order; n_channels: {name: latent channels};
    fingerprint_paths: {channel id: store}; score_paths: {member name: scores JSON}."""
    ids = [channel_id(m, c) for m in members for c in range(n_channels[m])]
    missing = [k for k in ids if k not in fingerprint_paths]
    if missing:
        raise StoreError(f"gather: no fingerprint for channel(s) {missing[:5]}")
    # what the store needs of each fingerprint: its labels, information and factor NMI; never
    # its N x N matrix (3,000 of them at the paper's scale: 12 GB at N = 1,000)
    fps = {k: store.fingerprint.read(fingerprint_paths[k], check=False, distance=False) for k in ids}
    scores = {m: json.loads(open(p).read()) for m, p in score_paths.items()}
    ds = store.similarity.build(ids, assemble(ids, shard_paths), fps, members, scores)
    store.similarity.write(out_store, ds)
    return {"n_channels": len(ids), "n_members": len(members)}
