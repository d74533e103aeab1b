"""Stage ``fingerprint``: one member's compact fingerprints -- each channel's posteriors on the
sample, its information terms, the bound on what it can share, and its NMI/VI with each factor.

One job per member (300 at the paper's scale, 1,800 at a zoo's), a fraction of a second of
arithmetic per channel at N = 1,000, so what a job imports decides its cost: this stage runs on
numpy alone (:mod:`infofrag.measures`; no torch, no xarray) and reads and writes its stores
directly. For each channel the distances are computed in float64 (:func:`infofrag.measures.fast_distances`)
and rounded to float32, the precision the similarity kernel works in, and every number here is
computed from the rounded matrix (:func:`infofrag.measures.channel_terms`); the matrix itself is
not stored.
"""

from __future__ import annotations

import numpy as np

from ..errors import StoreError
from ..measures import channel_terms, check_posteriors, fast_distances
from ..store import zarr_io
from ..store.fingerprint import Fingerprints, write


def fingerprints(mu, logvar, factors, factor_names, member: str) -> Fingerprints:
    """The fingerprints of a member's channels from its posteriors ``mu``, ``logvar`` [N, d] and
    the sample's factor labels [N, F]."""
    mu = np.asarray(mu)
    logvar = np.asarray(logvar)
    terms = [channel_terms(fast_distances(mu[:, c], logvar[:, c]).astype(np.float32), factors if factor_names else None)
             for c in range(mu.shape[1])]
    F = len(factor_names) if factor_names else 0
    col = lambda k: np.array([getattr(t, k) for t in terms], dtype=np.float64)  # noqa: E731
    return Fingerprints(member=member, mu=mu.T.copy(), logvar=logvar.T.copy(), info_bits=col("info_bits"),
                        self_info_bits=col("self_info_bits"), h_bits=col("h_bits"), bound_bits=col("bound_bits"),
                        factor_names=list(factor_names),
                        factor_nmi=np.array([t.factor_nmi for t in terms]).reshape(len(terms), F),
                        factor_vi=np.array([t.factor_vi for t in terms]).reshape(len(terms), F))


def run(posteriors_path, sample_path, out_store) -> dict:
    """Inputs verified by the job; read directly (posteriors: ``mu``, ``logvar``, attr ``member``;
    sample: ``factors`` and its ``factor`` names; see :mod:`infofrag.store`)."""
    post = zarr_io.read_arrays(posteriors_path, ("mu", "logvar"))
    sample = zarr_io.read_arrays(sample_path, ("factors", "factor"))
    if post["mu"].ndim != 2 or post["mu"].shape[0] != sample["factors"].shape[0]:
        raise StoreError(f"'{posteriors_path}': posteriors of shape {post['mu'].shape}, expected [N, d] with "
                         f"N = {sample['factors'].shape[0]} (the sample's)")
    try:
        check_posteriors(post["mu"], post["logvar"], f"'{posteriors_path}'")
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    names = [str(f) for f in sample["factor"]]
    fp = fingerprints(post["mu"], post["logvar"], sample["factors"], names, str(post.attrs["member"]))
    write(out_store, fp)
    return {"n_channels": fp.n_channels, "info_bits": [round(float(b), 6) for b in fp.info_bits]}
