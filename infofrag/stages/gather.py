"""Stage ``gather``: the shards assembled into one labelled store, ``similarity.zarr``."""

from __future__ import annotations

import numpy as np

from ..store import fingerprint as fingerprint_store
from ..store import shard as shard_store
from ..store import similarity as similarity_store
from ..errors import StoreError


def assemble(ids: list, shard_paths: list) -> dict:
    """The [M, M] matrices of every pair variable from the shards (each mirrored across the
    diagonal). A pair no shard covers is an error naming it: a shard is missing or incomplete."""
    pos = {k: i for i, k in enumerate(ids)}
    M = len(ids)
    mats = {v: np.full((M, M), np.nan) for v in similarity_store.PAIR_VARIABLES}
    covered = np.zeros((M, M), dtype=bool)
    for path in shard_paths:
        shard = shard_store.read(path, check=False)  # verified by the job
        try:
            ia = np.array([pos[str(a)] for a in shard["a"].values])
            ib = np.array([pos[str(b)] for b in shard["b"].values])
        except KeyError as exc:
            raise StoreError(f"gather: shard '{path}' holds channel {exc} that is not in the ensemble") from None
        for v, mat in mats.items():
            block = shard[v].values
            mat[np.ix_(ia, ib)] = block
            mat[np.ix_(ib, ia)] = block.T
        covered[np.ix_(ia, ib)] = covered[np.ix_(ib, ia)] = True
    holes = np.argwhere(~covered)
    if len(holes):
        a, b = holes[0]
        raise StoreError(f"gather: {len(holes)} channel pair(s) have no value (first: {ids[a]} x {ids[b]}); "
                         "a similarity shard is missing or incomplete")
    return mats


def run(members: dict, fingerprint_paths: list, shard_paths: list, out_store, bounded_below=None) -> dict:
    """members: {name: its labels} in member order; fingerprint_paths: each member's fingerprint
    store, in the same order; bounded_below: the threshold of bounded pairs (None: none)."""
    # what the store needs of each member: its labels, information and factor NMI; never its
    # posteriors
    fps = [fingerprint_store.read(p, check=False, posteriors=False) for p in fingerprint_paths]
    if [f.member for f in fps] != list(members):
        raise StoreError(f"gather: the fingerprint stores hold members {[f.member for f in fps][:5]}..., "
                         f"expected {list(members)[:5]}... in member order")
    ids = [i for f in fps for i in f.ids()]
    ds = similarity_store.build(assemble(ids, shard_paths), fps, members, bounded_below)
    similarity_store.write(out_store, ds)
    return {"n_channels": len(ids), "n_members": len(members)}
