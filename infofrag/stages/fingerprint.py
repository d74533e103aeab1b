"""Stage ``fingerprint``: one channel's Bhattacharyya distances, information and factor NMI.

One job per channel: 3,000 of them at the paper's scale (300 members x 10 channels), each a
fraction of a second of arithmetic at N = 1,000, so what a job imports and reads decides its
cost. This stage therefore runs on numpy alone -- no torch (1.5 s to import), no xarray -- and
reads and writes its stores directly (:mod:`infofrag.store.zarr_io`). Its numbers are those of
the estimators (:func:`infofrag.bhattacharyya`, :func:`infofrag.similarity_terms`,
:func:`infofrag.similarity`) to their documented precision, weak channels included (tested in
``tests/test_fingerprint_job.py``), with the same care:

- the distances are computed in float64 by the estimators' formula (``log cosh`` without
  cancellation, the variance clamp), made exactly symmetric, then rounded to float32; every
  number here is computed from the rounded matrix, the one stored and compared downstream;
- for each sample row i, ``m_i = mean_j C_ij`` and the deviations ``C_ij - m_i`` are computed in
  float64; nearly constant rows (``m_i > 0.8``, weak channels) from ``C - 1 = expm1(-D)`` with
  ``log m_i = log1p(mean_j (C_ij - 1))``, so that tiny deviations keep their relative precision;
- the generalised entropy ``H = 2 I(U;X) - I(UU';X) = mean_i log2(1 + var_i / m_i^2)`` and each
  factor's shared information ``mean_i log2(1 + mean_{j ~ i} (C_ij - m_i) / m_i)`` (j over the
  points of i's class) are formed from those deviations, never as differences of nearly equal
  informations; a factor's own entropy is exact, ``mean_i log2(N / n_class(i))``.

The estimators compute ``info_bits``/``self_info_bits`` of a float32 fingerprint with float32
products (float64 sums); this path is float64 throughout, so the two agree to float32 rounding
(~1e-7 relative); the factor NMI and VI, float64 in both, agree to ~1e-12.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import StoreError
from ..store import zarr_io
from ..store.fingerprint import Fingerprint, write

#: What this path reproduces (tested against it). Named so that the rule's code digest, which
#: follows modules named in strings, includes the estimators: a change to them reruns the
#: fingerprints as it did when they computed them (importing them would import torch).
REFERENCE = "infofrag.estimators"

# The estimators' constants (infofrag.estimators._constants, equal by test; importing that module
# runs the package's __init__, which imports torch).
LN2 = math.log(2.0)
DEFAULT_MIN_BITS = 1e-8
CENTRE_ABOVE = 0.8
_F64 = np.finfo(np.float64)
# the variance clamp of infofrag.bhattacharyya in float64: exp(-lae/2) stays finite
_LAE_MIN = -2.0 * (math.log(_F64.max) - 8.0)


def distances(mu, logvar) -> np.ndarray:
    """The Bhattacharyya distances ``[N, N]`` (float64) of one channel's posteriors ``mu``,
    ``logvar`` ``[N]``: :func:`infofrag.bhattacharyya` for d = 1, by the same formula."""
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    lv = np.asarray(logvar, dtype=np.float64).reshape(-1)
    # 1/2 log cosh((lv_i - lv_j) / 2), accurate for small and safe for large arguments
    ax = np.abs(np.subtract.outer(lv, lv))
    ax *= 0.5
    small = np.minimum(ax, 10.0)
    small *= 0.5
    np.sinh(small, out=small)
    np.square(small, out=small)
    small *= 2.0
    np.log1p(small, out=small)
    far = ax >= 10.0
    if far.any():
        a = ax[far]
        small[far] = a + np.log1p(np.exp(-2.0 * a)) - LN2
    D = small
    D *= 0.5
    # 1/4 (mu_i - mu_j)^2 / (s_i + s_j), with (s_i + s_j)^(-1/2) = exp(-logaddexp / 2) clamped;
    # logaddexp as max + log1p(exp(-|lv_i - lv_j|)) (numpy's own logaddexp is 10x slower)
    scale = np.exp(-2.0 * ax)
    np.log1p(scale, out=scale)
    scale += np.maximum.outer(lv, lv)
    np.maximum(scale, _LAE_MIN, out=scale)
    scale *= -0.5
    np.exp(scale, out=scale)
    diff = np.subtract.outer(mu, mu)
    diff *= scale
    np.square(diff, out=diff)
    diff *= 0.25
    D += diff
    # exactly symmetric, non-negative, zero diagonal (as the estimator makes it)
    out = np.add(D, D.T, out=diff)
    out *= 0.5
    np.maximum(out, 0.0, out=out)
    np.fill_diagonal(out, 0.0)
    return out


def _max_distance(N: int) -> float:
    """The estimators' cap on distances before exp in float64 (no subnormal coefficients)."""
    return 0.5 * (-math.log(_F64.tiny) - math.log(max(N, 1))) - 2.0


def _deviations(D):
    """Of a fingerprint ``D`` [N, N]: ``(dev, m, log_m)`` with ``dev_ij = C_ij - m_i`` and
    ``m_i = mean_j C_ij`` (float64); nearly constant rows from ``expm1`` (module docstring)."""
    N = D.shape[-1]
    neg = np.minimum(D, _max_distance(N), dtype=np.float64)
    neg *= -1.0
    C = np.exp(neg)
    s = C.sum(1)
    centred = s > CENTRE_ABOVE * N
    m = s / N
    log_m = np.log(m)
    dev = C
    dev -= m[:, None]
    if centred.any():
        e = np.expm1(neg[centred])
        t = e.sum(1) / N  # m - 1, to relative precision
        e -= t[:, None]
        dev[centred] = e
        m[centred] = 1.0 + t
        log_m[centred] = np.log1p(t)
    return dev, m, log_m


def _convention(shared, h_u, h_f, min_bits=DEFAULT_MIN_BITS):
    """NMI and VI from the shared information and both entropies (bits), with the estimators'
    convention for uninformative channels (see :func:`infofrag.similarity`)."""
    inf_u, inf_f = h_u > min_bits, h_f > min_bits
    if inf_u and inf_f:
        nmi = shared / math.sqrt(max(h_u * h_f, 1e-300))
    else:
        nmi = 1.0 if not inf_u and not inf_f else 0.0
    return nmi, max(h_u + h_f - 2.0 * shared, 0.0)


def channel_terms(D, factors=None):
    """Information terms of one fingerprint ``D`` [N, N] (float32 as stored, or float64), and its
    NMI and VI with each factor (int labels [N, F]): ``(info_bits, self_info_bits, factor_nmi
    [F], factor_vi [F])`` -- ``similarity_terms(D[None])``'s ``i_a``, ``i_aa`` and
    ``similarity(D[None], labels_to_distances(factors.T))``, in bits."""
    N = D.shape[-1]
    dev, m, log_m = _deviations(D)
    scale = 1.0 / (N * LN2)
    info = -float(log_m.sum()) * scale
    var = np.einsum("ij,ij->i", dev, dev) / N
    h_u = float(np.log1p(var / (m * m)).sum()) * scale
    nmi, vi = [], []
    if factors is not None and np.size(factors):
        labels = np.asarray(factors).reshape(N, -1)
        # the deviations summed over each class of every factor: one product with the indicators
        codes, sizes, offset = [], [], 0  # per factor: each point's class (column), class sizes
        for f in range(labels.shape[1]):
            _, inv, counts = np.unique(labels[:, f], return_inverse=True, return_counts=True)
            codes.append(inv.reshape(-1) + offset)
            sizes.append(counts)
            offset += len(counts)
        onehot = np.zeros((N, offset))
        for c in codes:
            onehot[np.arange(N), c] = 1.0
        sums = dev @ onehot  # [N, classes of all factors]
        class_size = np.concatenate(sizes).astype(np.float64)
        for c in codes:
            n_i = class_size[c]  # the size of each point's own class
            g = sums[np.arange(N), c] / n_i / m  # mean_{j ~ i} (C_ij - m_i) / m_i
            shared = float(np.log1p(g).sum()) * scale
            h_f = float(np.log(N / n_i).sum()) * scale
            a, b = _convention(shared, h_u, h_f)
            nmi.append(a)
            vi.append(b)
    return info, 2.0 * info - h_u, np.array(nmi, dtype=np.float64), np.array(vi, dtype=np.float64)


def fingerprint(mu, logvar, factors, factor_names, member: str, channel: int) -> Fingerprint:
    """The fingerprint of one channel from its posteriors ``mu``, ``logvar`` [N] and the sample's
    factor labels [N, F]. The distances are rounded to float32 first and every number here is
    computed from the rounded matrix, so shards and the gathered store agree with it exactly."""
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    logvar = np.asarray(logvar, dtype=np.float64).reshape(-1)
    D = distances(mu, logvar).astype(np.float32)
    info, self_info, factor_nmi, factor_vi = channel_terms(D, factors if factor_names else None)
    return Fingerprint(distance=D, mu=mu, logvar=logvar, factor_names=list(factor_names),
                       factor_nmi=factor_nmi, factor_vi=factor_vi, member=member, channel=channel,
                       info_bits=info, self_info_bits=self_info)


def run(posteriors_path, sample_path, channel: int, out_store) -> dict:
    """Inputs verified by the job; read directly (posteriors: ``mu``, ``logvar``, attr ``member``;
    sample: ``factors`` and its ``factor`` names; see :mod:`infofrag.store`)."""
    post = zarr_io.read_arrays(posteriors_path, ("mu", "logvar"))
    sample = zarr_io.read_arrays(sample_path, ("factors", "factor"))
    d = post["mu"].shape[1]
    if not 0 <= channel < d:
        raise StoreError(f"'{posteriors_path}': no channel {channel} (the member has {d})")
    mu = zarr_io.finite("mu", post["mu"][:, channel], posteriors_path)
    logvar = zarr_io.finite("logvar", post["logvar"][:, channel], posteriors_path)
    names = [str(f) for f in sample["factor"]]
    fp = fingerprint(mu, logvar, sample["factors"], names, str(post.attrs["member"]), channel)
    write(out_store, fp)
    return {"info_bits": fp.info_bits}
