"""Stage ``fingerprint``: one channel's Bhattacharyya distances, information and factor NMI."""

from __future__ import annotations

import numpy as np

from .. import store
from ..estimators import bhattacharyya, labels_to_distances, similarity, similarity_terms
from ..store.fingerprint import Fingerprint


def fingerprint(mu, logvar, factors, factor_names, member: str, channel: int) -> Fingerprint:
    """The fingerprint of one channel from its posteriors ``mu``, ``logvar`` [N] and the sample's
    factor labels [N, F]. The distances are rounded to float32 first and every number here is
    computed from the rounded matrix, so shards and the gathered store agree with it exactly."""
    mu = np.asarray(mu, dtype=np.float64)[:, None]
    logvar = np.asarray(logvar, dtype=np.float64)[:, None]
    D = bhattacharyya(mu, logvar).astype(np.float32)
    terms = similarity_terms(D[None])
    if factor_names:
        factor_nmi, factor_vi = similarity(D[None], labels_to_distances(np.asarray(factors).T))
        factor_nmi, factor_vi = factor_nmi[0], factor_vi[0]
    else:
        factor_nmi = factor_vi = np.zeros(0)
    return Fingerprint(distance=D, mu=mu[:, 0], logvar=logvar[:, 0], factor_names=list(factor_names),
                       factor_nmi=factor_nmi, factor_vi=factor_vi, member=member, channel=channel,
                       info_bits=float(terms.i_a[0]), self_info_bits=float(terms.i_aa[0]))


def run(posteriors_path, sample_path, channel: int, out_store) -> dict:
    post = store.posteriors.read(posteriors_path, check=False)  # verified by the job
    sample = store.sample.read(sample_path, check=False)
    mu = store.finite("mu", post.mu[:, channel], posteriors_path)
    logvar = store.finite("logvar", post.logvar[:, channel], posteriors_path)
    fp = fingerprint(mu, logvar, sample.factors, sample.factor_names, post.member, channel)
    store.fingerprint.write(out_store, fp)
    return {"info_bits": fp.info_bits}
