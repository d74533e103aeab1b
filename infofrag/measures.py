"""The measures' arithmetic, in one torch-free module: constants, the Bhattacharyya distance, the
information terms of one channel, and NMI / VI from information terms with the convention for
channels that carry no information.

Everything that computes these numbers calls this module: the fingerprint job (numpy only: it
runs once per member, thousands of times at a zoo's scale, and importing torch would cost it more
than its arithmetic), the estimators' torch kernels, the whole-space stage, the Monte Carlo
estimates and the fusion's objective. The functions are written once for numpy and torch alike
(``xp`` is the array namespace of their arguments), so the paths agree by construction.

Formulas (docs/method.md): for diagonal Gaussian posteriors with ``s = exp(logvar)``, one
dimension contributes ``D_ij = 1/4 (mu_i - mu_j)^2 / (s_i + s_j) + 1/2 log cosh((lv_i - lv_j) / 2)``
to the Bhattacharyya distance; ``C = exp(-D)``; with ``m_i = mean_j C_ij`` (all in bits)
``I(U;X) = -mean_i log2 m_i``, ``H = 2 I(U;X) - I(UU';X) = mean_i log2(1 + var_j(C_ij) / m_i^2)``,
``NMI = I(U;V) / sqrt(H_U H_V)``, ``VI = H_U + H_V - 2 I(U;V)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

LN2 = math.log(2.0)

#: The fusion objective's guard against 0/0: a target whose H = 2 I(U;X) - I(U;U') is at most this
#: many bits scores NMI 0 (targets are informative channels; the floor of "no information" for the
#: results' NMI is :func:`resolution_bits`).
DEFAULT_MIN_BITS = 1e-8

#: Largest accepted |D_ii|: the distance of a posterior to itself is 0 by definition.
DIAGONAL_TOL = 1e-6

#: Default bound (bytes) on the temporary memory of one estimator call.
DEFAULT_MAX_MEMORY = 1 * 2**30

#: Rows whose mean coefficient exceeds this are centred (computed from C - 1 = expm1(-D)).
CENTRE_ABOVE = 0.8

#: Beyond this, log cosh(x) is computed as x + log1p(exp(-2x)) - log 2 (no overflow of cosh).
_LOGCOSH_SWITCH = 10.0


# --------------------------------------------------------------------------- array namespaces

def namespace(*arrays):
    """torch for torch tensors, else numpy (what the functions below compute with)."""
    for a in arrays:
        if type(a).__module__.startswith("torch"):
            import torch

            return torch
    return np


def _finfo(x):
    xp = namespace(x)
    return xp.finfo(x.dtype)


def _clip(x, lo=None, hi=None):
    return x.clamp(min=lo, max=hi) if namespace(x) is not np else np.clip(x, lo, hi)


# --------------------------------------------------------------------------- Bhattacharyya

def log_addexp_floor(dtype_max: float) -> float:
    """The clamp of ``logaddexp(lv_i, lv_j)`` before ``exp(-lae / 2)``: a variance below
    ``exp(-lae_min)`` only makes an already astronomically large distance infinite, and the
    scale stays finite."""
    return -2.0 * (math.log(dtype_max) - 8.0)


def pair_distance(mu_i, lv_i, mu_j, lv_j):
    """One dimension's Bhattacharyya distance between posteriors ``(mu_i, lv_i)`` and
    ``(mu_j, lv_j)`` (broadcasting; numpy or torch, differentiable in torch).

    ``1/2 log cosh((lv_i - lv_j) / 2)`` is computed without cancellation (``log1p(2 sinh^2)``)
    for small arguments and without overflow for large ones; ``1/4 (mu_i - mu_j)^2 / (s_i + s_j)``
    as ``(1/2 (mu_i - mu_j) exp(-logaddexp(lv_i, lv_j) / 2))^2``, the scale clamped so that it
    stays finite for any finite variance. The reference formula: every other path equals it to
    its own precision.
    """
    xp = namespace(mu_i, lv_i, mu_j, lv_j)
    ax = xp.abs(lv_i - lv_j) * 0.5  # |x|, x = (lv_i - lv_j) / 2
    small = xp.log1p(xp.square(xp.sinh(_clip(ax, hi=_LOGCOSH_SWITCH) * 0.5)) * 2.0)
    tail = xp.log1p(xp.exp(ax * -2.0))
    far = ax + tail - LN2
    log_cosh = xp.where(ax >= _LOGCOSH_SWITCH, far, small)
    lae = tail + xp.maximum(lv_i, lv_j)  # logaddexp(lv_i, lv_j)
    scale = xp.exp(_clip(lae, lo=log_addexp_floor(float(_finfo(lae).max))) * -0.5)
    diff = (mu_i - mu_j) * scale
    return log_cosh * 0.5 + xp.square(diff) * 0.25


def distances(mu, logvar, block_rows: int = 256) -> np.ndarray:
    """The Bhattacharyya distances ``[N, N]`` (float64) of one channel's posteriors ``mu``,
    ``logvar`` ``[N]`` by :func:`pair_distance`: exactly symmetric, non-negative, zero diagonal.
    Computed ``block_rows`` rows at a time (memory: a few of ``block_rows x N``)."""
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    lv = np.asarray(logvar, dtype=np.float64).reshape(-1)
    N = mu.size
    D = np.empty((N, N))
    for i0 in range(0, N, block_rows):
        i1 = min(N, i0 + block_rows)
        D[i0:i1] = pair_distance(mu[i0:i1, None], lv[i0:i1, None], mu[None, :], lv[None, :])
    out = D + D.T  # exactly symmetric (vectorised transcendental tails may round differently)
    out *= 0.5
    np.maximum(out, 0.0, out=out)
    np.fill_diagonal(out, 0.0)
    return out


def fast_pair_distance(out, tmp, tmp2, mu_i, r_i, s_i, mu_j, r_j, s_j):
    """:func:`pair_distance` for the similarity kernel's row chunks, in place into ``out`` (one
    transcendental per element instead of five), from per-point ``r = exp(lv / 2)`` and
    ``s = r^2``: ``D = 1/2 [log1p((r_i - r_j)^2 / (2 r_i r_j)) + 1/2 (mu_i - mu_j)^2 / (s_i + s_j)]``,
    the same quantity (``cosh(x/2) - 1 = (r_i - r_j)^2 / (2 r_i r_j)``). ``tmp``, ``tmp2``:
    buffers of ``out``'s shape; the inputs broadcast to it. Eleven passes over ``out``.

    Precision: a few units in the last place of ``out``'s dtype. The difference ``r_i - r_j`` is
    exact to rounding, so tiny distances keep their relative precision; within
    :data:`LOGVAR_LIMIT` and :data:`MU_LIMIT` nothing overflows in float32.
    """
    xp = namespace(out)
    xp.subtract(r_i, r_j, out=out)
    xp.square(out, out=out)
    xp.multiply(r_i, r_j, out=tmp)
    tmp *= 2.0
    xp.divide(out, tmp, out=out)
    xp.log1p(out, out=out)
    xp.subtract(mu_i, mu_j, out=tmp)
    xp.square(tmp, out=tmp)
    xp.add(s_i, s_j, out=tmp2)
    xp.divide(tmp, tmp2, out=tmp)
    tmp *= 0.5
    out += tmp
    out *= 0.5
    return out


def fast_distances(mu, logvar, block_rows: int = 256) -> np.ndarray:
    """:func:`distances` by :func:`fast_pair_distance` in float64: the same matrix to a few
    units in float64's last place (so the same after rounding to float32, the kernel's precision),
    5-10 times faster -- what a fingerprint job computes for each of a member's channels. Exactly
    symmetric (the formula is), non-negative, zero diagonal."""
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    r = np.exp(0.5 * np.asarray(logvar, dtype=np.float64).reshape(-1))
    s = r * r
    N = mu.size
    out = np.empty((N, N))
    rows = min(block_rows, max(N, 1))
    tmp, tmp2 = np.empty((rows, N)), np.empty((rows, N))
    for i0 in range(0, N, rows):
        i1 = min(N, i0 + rows)
        n = i1 - i0
        fast_pair_distance(out[i0:i1], tmp[:n], tmp2[:n], mu[i0:i1, None], r[i0:i1, None], s[i0:i1, None],
                           mu[None, :], r[None, :], s[None, :])
    np.maximum(out, 0.0, out=out)
    np.fill_diagonal(out, 0.0)
    return out


#: Posteriors beyond these bounds are refused (finite but absurd): a log-variance beyond +-40 is
#: a standard deviation below e^-20 ~ 2e-9 or above e^20 ~ 5e8 prior units; a mean beyond 1e6
#: prior standard deviations. Within them every distance is finite in float32.
LOGVAR_LIMIT = 40.0
MU_LIMIT = 1e6


def check_posteriors(mu, logvar, where: str) -> None:
    """Refuse non-finite or absurd posteriors (:data:`LOGVAR_LIMIT`, :data:`MU_LIMIT`), naming
    ``where`` (a file or member), the first offending value and its position [point, channel]."""
    for name, a, limit in (("mu", np.asarray(mu), MU_LIMIT), ("logvar", np.asarray(logvar), LOGVAR_LIMIT)):
        bad = ~(np.abs(a) <= limit)  # NaN and inf too
        if bad.any():
            idx = tuple(int(v) for v in np.argwhere(bad)[0])
            what = "NaN/inf" if not np.isfinite(a[idx]) else f"beyond +-{limit:g}"
            nonfinite = int((~np.isfinite(a)).sum())
            counts = ", ".join(f"{n} {kind}" for n, kind in ((nonfinite, "NaN/inf"), (int(bad.sum()) - nonfinite,
                               f"beyond +-{limit:g}")) if n)
            raise ValueError(
                f"{where}: {name}{list(idx)} = {float(a[idx])!r} is {what} ({counts} value(s) of {name} in all; "
                f"accepted: finite, |mu| <= {MU_LIMIT:g}, |logvar| <= {LOGVAR_LIMIT:g}: a posterior standard "
                f"deviation between e^-20 and e^20 of the prior's)")


def max_distance(tiny: float, N: int) -> float:
    """Distances are capped here before exp (C >= exp(-T)): no coefficient, and no product of two
    scaled coefficients, is a subnormal number (``tiny``: the dtype's smallest normal number);
    subnormal operands slow CPU arithmetic down by orders of magnitude. The cap changes every row
    sum, which is >= 1, by at most N exp(-T) (relative): less than 1e-12 for N = 1e4 in float32."""
    return 0.5 * (-math.log(tiny) - math.log(max(N, 1))) - 2.0


# --------------------------------------------------------------------------- NMI and VI

def nmi_vi(shared, h_u, h_v, empty_u, empty_v, both_empty=1.0):
    """Generalised NMI and VI from the shared information ``I(U;V)`` and the entropies
    ``H_U``, ``H_V`` (bits; broadcasting; numpy, torch or floats).

    The convention for channels that carry no information (``empty_u``, ``empty_v``: booleans
    of the same shapes), that of the classic NMI of single-cluster clusterings: NMI is 1 when
    both are empty (``both_empty``: the fusion's objective uses 0, so as not to reward a
    collapsed representation), 0 when one is. VI is always computed, clamped at 0 against
    rounding. The ratio never divides by zero (no NaN, and no NaN gradient, where unused).
    """
    xp = namespace(shared, h_u, h_v)
    denom = xp.sqrt(_clip(h_u * h_v, lo=1e-300))
    ratio = shared / denom
    informative = ~empty_u & ~empty_v
    if xp is np:
        nmi = np.where(informative, ratio, np.where(empty_u & empty_v, both_empty, 0.0))
    else:
        nmi = xp.where(informative, ratio, xp.where(empty_u & empty_v, xp.full_like(ratio, both_empty),
                                                    xp.zeros_like(ratio)))
    vi = _clip(h_u + h_v - 2.0 * shared, lo=0.0)
    return nmi, vi


def resolution_bits(n_points: int) -> float:
    """The least information a clustering of N sample points can carry: singling one point out
    from the rest, ``h2(1/N)`` bits (0.0114 at N = 1,000; 0.116 at N = 64). A channel that carries
    less resolves no structure of the sample: it counts as carrying no information for NMI
    (:func:`empty`), whose ratio would otherwise set two nearly empty channels' rounding against
    each other."""
    p = 1.0 / n_points
    return float(-(p * math.log2(p) + (1.0 - p) * math.log2(1.0 - p))) if n_points > 1 else 0.0


def empty(info_bits, n_points: int, min_bits=None):
    """Whether channels count as carrying no information for NMI: ``I(U;X) <= min_bits``, by
    default :func:`resolution_bits` of the sample size (works on floats, numpy and torch)."""
    return info_bits <= (resolution_bits(n_points) if min_bits is None else min_bits)


def nmi_vi_scalar(shared: float, h_u: float, h_v: float, empty_u: bool, empty_v: bool):
    """:func:`nmi_vi` of one pair, as floats."""
    nmi, vi = nmi_vi(np.float64(shared), np.float64(h_u), np.float64(h_v), np.bool_(empty_u), np.bool_(empty_v))
    return float(nmi), float(vi)


# --------------------------------------------------------------------------- one channel's terms

def row_deviations(D):
    """Of a fingerprint ``D`` [N, N]: ``(dev, m, log_m)`` with ``dev_ij = C_ij - m_i`` and
    ``m_i = mean_j C_ij`` (float64). Nearly constant rows (``m_i > CENTRE_ABOVE``: weak channels)
    come from ``C - 1 = expm1(-D)`` with ``log m_i = log1p(mean_j (C_ij - 1))``, so that tiny
    deviations keep their relative precision."""
    N = D.shape[-1]
    neg = np.minimum(D, max_distance(np.finfo(np.float64).tiny, N), dtype=np.float64)
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


def factor_classes(factors, N: int):
    """Per factor (columns of int labels [N, F]): each point's class as a column of one joint
    indicator matrix, and the class sizes."""
    labels = np.asarray(factors).reshape(N, -1)
    codes, sizes, offset = [], [], 0
    for f in range(labels.shape[1]):
        _, inv, counts = np.unique(labels[:, f], return_inverse=True, return_counts=True)
        codes.append(inv.reshape(-1) + offset)
        sizes.append(counts)
        offset += len(counts)
    return codes, np.concatenate(sizes).astype(np.float64), offset


class ChannelTerms(NamedTuple):
    """What the fingerprint job computes of one channel (bits): I(U;X), I(UU';X), the generalised
    entropy H, the bound on the information it can share with any channel, and its NMI and VI
    with each factor."""

    info_bits: float
    self_info_bits: float
    h_bits: float
    bound_bits: float
    factor_nmi: np.ndarray
    factor_vi: np.ndarray


def shared_bound(dev, m) -> float:
    """The largest |I(U;V)| (bits) channel U can share with any channel V, from U's deviations
    ``dev_ij = C_ij - m_i`` and row means ``m_i``: ``mean_i -log2(1 - w_i)``, with ``w_i`` the range
    of ``C_ij / m_i`` over j (inf when a w_i reaches 1).

    Why: I(U;V) = mean_i log2(1 + c_i) with ``c_i = mean_j (x_j - 1)(y_j - 1)``, ``x = C^U_i / m^U_i``,
    ``y = C^V_i / m^V_i >= 0``, both of mean 1; shifting x by any constant leaves c_i unchanged, so
    ``|c_i| <= (w_i / 2) mean_j |y_j - 1| <= (w_i / 2)(mean_j y_j + 1) = w_i``, whatever V is.
    """
    w = (dev.max(1) - dev.min(1)) / m
    if not np.all(w < 1.0):
        return math.inf
    return float(-np.log1p(-w).sum()) / (dev.shape[0] * LN2)


def channel_terms(D, factors=None, min_bits=None) -> ChannelTerms:
    """Information terms of one fingerprint ``D`` [N, N] (float32 as the kernel sees it, or
    float64), and its NMI and VI with each factor (int labels [N, F], hard clusterings).

    Float64 throughout: ``H = mean_i log2(1 + var_i / m_i^2)`` and each factor's shared
    information ``mean_i log2(1 + mean_{j ~ i} (C_ij - m_i) / m_i)`` (j over the points of i's
    class) are formed from the deviations, never as differences of nearly equal informations; a
    factor's own entropy is exact, ``mean_i log2(N / n_class(i))``. The NMI's convention for a
    channel (or factor) that carries no information: :func:`empty`, ``min_bits`` its floor."""
    N = D.shape[-1]
    dev, m, log_m = row_deviations(D)
    scale = 1.0 / (N * LN2)
    info = -float(log_m.sum()) * scale
    var = np.einsum("ij,ij->i", dev, dev) / N
    h_u = float(np.log1p(var / (m * m)).sum()) * scale
    nmi, vi = [], []
    if factors is not None and np.size(factors):
        codes, class_size, n_classes = factor_classes(factors, N)
        onehot = np.zeros((N, n_classes))
        for c in codes:
            onehot[np.arange(N), c] = 1.0
        sums = dev @ onehot  # the deviations summed over each class of every factor
        for c in codes:
            n_i = class_size[c]  # the size of each point's own class
            g = sums[np.arange(N), c] / n_i / m  # mean_{j ~ i} (C_ij - m_i) / m_i
            shared = float(np.log1p(g).sum()) * scale
            h_f = float(np.log(N / n_i).sum()) * scale
            a, b = nmi_vi_scalar(shared, h_u, h_f, empty(info, N, min_bits), empty(h_f, N, min_bits))
            nmi.append(a)
            vi.append(b)
    return ChannelTerms(info, 2.0 * info - h_u, h_u, shared_bound(dev, m), np.array(nmi, dtype=np.float64),
                        np.array(vi, dtype=np.float64))
