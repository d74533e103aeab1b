"""Stage ``similarity``: NMI, VI and joint information for all channel pairs of one block pair."""

from __future__ import annotations

from .. import store
from ..estimators import similarity


def run(rows: list, cols: list, block_a: str, block_b: str, out_store, threads: int = 1) -> dict:
    """``rows``, ``cols``: the fingerprint stores of block A's and block B's channels."""
    import torch

    torch.set_num_threads(threads)
    Da, a_ids = store.fingerprint.read_distances(rows, check=False)  # verified by the job
    if list(rows) == list(cols):
        nmi, vi, terms = similarity(Da, return_terms=True)
        b_ids = a_ids
    else:
        Db, b_ids = store.fingerprint.read_distances(cols, check=False)
        nmi, vi, terms = similarity(Da, Db, return_terms=True)
    store.shard.write(out_store, nmi, vi, terms.i_ab, a_ids, b_ids, block_a, block_b)
    return {"n_rows": len(a_ids), "n_cols": len(b_ids)}
