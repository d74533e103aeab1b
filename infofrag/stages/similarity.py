"""Stage ``similarity``: NMI, VI and joint information for all channel pairs of one block pair.

The channels come as compact fingerprints (each member's posteriors on the sample); the kernel
computes their distances as it uses them (:class:`infofrag.estimators.PosteriorChannels`).
Channels carrying at most ``threshold`` bits (``hotspots.info_threshold``; None: every channel is
computed) take no N^2 work: their pairs are *bounded* (:func:`bounded_pairs`).
"""

from __future__ import annotations

import numpy as np

from ..store import fingerprint as fingerprint_store
from ..store import shard as shard_store


def bounded_pairs(info_a, h_a, bound_a, info_b, h_b, bound_b, keep_a, keep_b):
    """The values of the pairs with a channel at or below the threshold (``keep``: above it).

    Such a channel U shares at most ``bound_U`` bits with any channel (its fingerprint's
    ``bound_bits``, :func:`infofrag.measures.shared_bound`): with I(U;V) taken as 0,
    ``i_joint = I_U + I_V`` and ``VI = H_U + H_V`` are within ``bound`` and ``2 bound`` of the exact
    values, ``bound = min`` of the bounded channels' bounds; their NMI is undefined (NaN).
    Returns ``(nmi, vi, i_joint, bound)`` [M, K], NaN where both channels are kept."""
    shape = (len(info_a), len(info_b))
    low_a, low_b = ~keep_a[:, None], ~keep_b[None, :]
    bound = np.where(low_a & low_b, np.minimum(bound_a[:, None], bound_b[None, :]),
                     np.where(low_a, bound_a[:, None], bound_b[None, :]))
    i_joint = np.broadcast_to(info_a[:, None] + info_b[None, :], shape).copy()
    vi = np.broadcast_to(h_a[:, None] + h_b[None, :], shape).copy()
    both_kept = ~low_a & ~low_b
    out = [np.full(shape, np.nan), vi, i_joint, bound]
    for a in out[1:]:
        a[both_kept] = np.nan
    return tuple(out)


def compute(rows: list, cols: list, threshold=None) -> dict:
    """The shard's matrices from the fingerprint stores of block A's and block B's members:
    {nmi, vi, i_joint, bound (0 where computed), a_ids, b_ids}."""
    from ..estimators import PosteriorChannels, similarity

    same = list(rows) == list(cols)
    sides = []
    for paths in ((rows,) if same else (rows, cols)):
        mu, lv, ids, fps = fingerprint_store.read_posteriors(paths, check=False)  # verified by the job
        info = np.concatenate([f.info_bits for f in fps])
        keep = np.ones(len(ids), bool) if threshold is None else info > threshold
        sides.append(dict(mu=mu, lv=lv, ids=ids, info=info, keep=keep, h=np.concatenate([f.h_bits for f in fps]),
                          bound=np.concatenate([f.bound_bits for f in fps])))
    a = sides[0]
    b = a if same else sides[1]
    nmi, vi, i_joint, bound = bounded_pairs(a["info"], a["h"], a["bound"], b["info"], b["h"], b["bound"],
                                            a["keep"], b["keep"])
    ka, kb = np.nonzero(a["keep"])[0], np.nonzero(b["keep"])[0]
    if len(ka) and len(kb):
        chan_a = PosteriorChannels(a["mu"][ka], a["lv"][ka], name="block A")
        chan_b = None if same else PosteriorChannels(b["mu"][kb], b["lv"][kb], name="block B")
        n, v, t = similarity(chan_a, chan_b, return_terms=True)
        sub = np.ix_(ka, kb)
        nmi[sub], vi[sub], i_joint[sub], bound[sub] = n, v, t.i_ab, 0.0
    if same:  # a channel against itself: exact, whether or not it is bounded
        low = np.nonzero(~a["keep"])[0]
        nmi[low, low], vi[low, low], bound[low, low] = 1.0, 0.0, 0.0
        i_joint[low, low] = 2.0 * a["info"][low] - a["h"][low]
    return {"nmi": nmi, "vi": vi, "i_joint": i_joint, "bound": bound, "a_ids": a["ids"], "b_ids": b["ids"]}


def run(rows: list, cols: list, block_a: str, block_b: str, out_store, threads: int = 1, threshold=None) -> dict:
    """``rows``, ``cols``: the fingerprint stores of block A's and block B's members."""
    import torch

    torch.set_num_threads(threads)
    r = compute(rows, cols, threshold)
    shard_store.write(out_store, r["nmi"], r["vi"], r["i_joint"], r["bound"], r["a_ids"], r["b_ids"], block_a, block_b)
    return {"n_rows": len(r["a_ids"]), "n_cols": len(r["b_ids"]), "n_pairs": int(r["nmi"].size),
            "n_pairs_bounded": int(np.isnan(r["nmi"]).sum())}
