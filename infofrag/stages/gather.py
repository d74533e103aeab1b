"""Stage ``gather``: the shards assembled into one labelled store, ``similarity.zarr``.

Shard by shard, one pair variable at a time: each variable's ``[M, M]`` matrix is filled in a
scratch file mapped into memory (the operating system keeps what it needs of it), then written
to the store in chunks; so the job holds about one matrix's pages at a time, whatever the number
of channels (18,000 channels: 2.6 GB of float64), and never the shards all at once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ..store import fingerprint as fingerprint_store
from ..store import similarity as similarity_store
from ..store.zarr_io import read_arrays


def shard_index(ids: list, shard_paths: list) -> list[tuple]:
    """(path, row positions, column positions) of every shard; an error naming the pair of blocks
    no shard covers (a shard missing or incomplete) or a channel outside the ensemble."""
    pos = {k: i for i, k in enumerate(ids)}
    out, blocks, covered = [], {}, set()
    for path in shard_paths:
        ab = read_arrays(path, ("a", "b"))  # verified by the job
        try:
            ia = np.array([pos[str(a)] for a in ab["a"]])
            ib = np.array([pos[str(b)] for b in ab["b"]])
        except KeyError as exc:
            raise StoreError(f"gather: shard '{path}' holds channel {exc} that is not in the ensemble") from None
        ka = blocks.setdefault(tuple(ia), len(blocks))
        kb = blocks.setdefault(tuple(ib), len(blocks))
        covered.add((min(ka, kb), max(ka, kb)))
        out.append((path, ia, ib))
    seen = np.zeros(len(ids), dtype=int)
    for b in blocks:
        seen[list(b)] += 1
    missing = [(ka, kb) for ka in range(len(blocks)) for kb in range(ka, len(blocks)) if (ka, kb) not in covered]
    if (seen != 1).any() or missing:
        names = list(blocks)
        if (seen == 0).any():
            first = ids[int(np.flatnonzero(seen == 0)[0])]
            where = f"channel {first} is in no shard"
        elif (seen > 1).any():
            where = f"channel {ids[int(np.flatnonzero(seen > 1)[0])]} is in two blocks"
        else:
            ka, kb = missing[0]
            where = f"first: {ids[names[ka][0]]} x {ids[names[kb][0]]}"
        raise StoreError(f"gather: channel pairs have no value ({where}); a similarity shard is missing or incomplete")
    return out


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
    shards = shard_index(ids, shard_paths)
    M = len(ids)
    scratch_dir = Path(out_store).resolve().parent
    with tempfile.TemporaryDirectory(prefix=".gather-", dir=scratch_dir) as scratch:
        def matrix(variable: str) -> np.ndarray:
            for old in Path(scratch).glob("*.npy"):  # the previous variable's, written by now
                old.unlink()
            mat = np.lib.format.open_memmap(Path(scratch) / f"{variable}.npy", mode="w+", dtype=np.float64,
                                            shape=(M, M))
            for path, ia, ib in shards:
                block = read_arrays(path, (variable,))[variable]
                mat[np.ix_(ia, ib)] = block
                mat[np.ix_(ib, ia)] = block.T
            return mat

        similarity_store.write_chunked(out_store, ids, fps, members, matrix, bounded_below)
    return {"n_channels": M, "n_members": len(members)}
