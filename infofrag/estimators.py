"""Fingerprints, information, and generalised NMI / VI between soft clusterings.

The method (arXiv:2405.21042; see ``shared/DESIGN.md``): a channel U is fingerprinted on a
fixed sample of N data points by the N x N matrix ``D`` of Bhattacharyya distances between
the posteriors of the sample points; ``C = exp(-D)`` are the Bhattacharyya coefficients.
With the sample uniform over its N points (all results in bits)::

    I(U;X)   = -mean_i log2 mean_j C_ij
    I(U;U')  = -mean_i log2 mean_j C_ij^2
    I(UV;X)  = -mean_i log2 mean_j C^U_ij C^V_ij
    NMI(U,V) = (I_U + I_V - I_UV) / sqrt((2 I_U - I_UU) (2 I_V - I_VV))
    VI(U,V)  = 2 I_UV - I_UU - I_VV

How it is computed (and why it is accurate). For each sample row i and channel U, with
``m_i = mean_j C_ij``, let ``X_ij = (C_ij - r_i) / (sqrt(N) m_i)`` and ``a_i = sqrt(N) mean_j X_ij``,
where the reference ``r_i`` is ``m_i`` (the row is centred) for nearly constant rows
(``m_i > 0.8``, as in weak channels) and 0 otherwise. Then, exactly,
``mean_j C^U_ij C^V_ij / (m^U_i m^V_i) = 1 + G_i[U, V]`` with ``G_i = X_i X_i^T - a_i a_i^T``,
so::

    I_U + I_V - I_UV = mean_i log2(1 + G_i[U, V])        (the NMI numerator, I(U;V))
    H_U := 2 I_U - I_UU = mean_i log2(1 + G_i[U, U])     (the NMI denominator terms)
    VI(U, V)         = H_U + H_V - 2 (I_U + I_V - I_UV)

Nothing is obtained as a difference of large, nearly equal informations. For weak channels G is
tiny and comes from tiny centred values, computed from ``C - 1 = expm1(-D)`` (C near 1 itself
has only float32's absolute precision), and ``log m = log1p(mean_j (C_ij - 1))`` with the mean in
float64, so float32 Gram products and informations keep their relative precision; rows of
informative channels (mostly ``C ~ 0``) stay uncentred, which keeps their sums free of the
rounding drift of many equal addends. ``log1p`` is taken per element and the sums over rows are
accumulated in float64.
The M x M problem is, for each sample row i, one Gram matrix ``X_i X_i^T`` -- a GEMM. Rows are
processed in chunks (bounded memory), the Gram matrices of a chunk as batched products over
the upper block-triangle only (each unordered pair once), into reused buffers; ``a`` comes out
of the same products (a constant extra channel). Distances are capped at ~38 (float32) before
``exp``: coefficients below exp(-38) change nothing measurable, and subnormal numbers would slow
the CPU arithmetic down a hundredfold.

Precision notes: float32 matmuls must run in full float32 -- with
``torch.set_float32_matmul_precision("medium"/"high")`` or TF32 enabled on CUDA, pass
``dtype=float64``. Results are float64.

Conventions: numpy in -> numpy out; torch in -> torch out, on the input's device, and
differentiable (autograd) when an input requires grad. Numpy input is computed with torch on
CUDA when available, else on the CPU (``device=`` overrides). Information results are float64.
Invalid input raises ``ValueError`` naming the argument and the problem.
"""

from __future__ import annotations

import math
import threading
import warnings
from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "SimilarityTerms",
    "bhattacharyya",
    "information",
    "labels_to_distances",
    "similarity",
    "similarity_terms",
    "DEFAULT_MIN_BITS",
    "DIAGONAL_TOL",
]

LN2 = math.log(2.0)

#: Channels whose H = 2 I(U;X) - I(U;U') is at most this many bits are treated as carrying no
#: information by :func:`similarity` (see its docstring). For a Gaussian channel H is roughly
#: I(U;X)^2, so this is a channel with I(U;X) below about 1e-4 bits.
DEFAULT_MIN_BITS = 1e-8

#: Largest accepted |D_ii|: the distance of a posterior to itself is 0 by definition.
DIAGONAL_TOL = 1e-6

# Working-buffer targets (bytes) for the row chunks of `similarity`: small enough to stay in
# the CPU caches, large enough to amortise the per-call overhead; a GPU wants big batches.
_CPU_CHUNK_BYTES = 8 * 2**20
_GPU_CHUNK_BYTES = 512 * 2**20
_DEFAULT_MAX_MEMORY = 1 * 2**30
_BLOCK = 128  # channel block of the block-triangular Gram products
_CENTRE_ABOVE = 0.8  # rows whose mean coefficient exceeds this are centred


class SimilarityTerms(NamedTuple):
    """Information terms behind NMI and VI, in bits.

    ``i_a`` [M]: I(U;X) of each channel of D_a, ``-mean_i log2 mean_j C_ij``;
    ``i_aa`` [M]: DESIGN.md's I(U;U') term, ``-mean_i log2 mean_j C_ij^2`` -- strictly the
    information about X in two independent draws of the channel, I(UU';X); the mutual
    information between the two draws is ``2 i_a - i_aa`` (the NMI's generalised entropy);
    ``i_b``, ``i_bb`` [K]: the same for D_b (equal to the a-terms when D_b is None);
    ``i_ab`` [M, K]: the joint information I(UV;X) of each pair, ``-mean_i log2 mean_j C^U C^V``;
    ``h_a`` [M], ``h_b`` [K]: the generalised entropies ``H = I(U;U') = 2 I(U;X) - I(UU';X)``, the
    NMI's normalisation, computed directly (no difference of nearly equal informations);
    ``shared`` [M, K]: the shared information ``I(U;V) = I(U;X) + I(V;X) - I(UV;X)``, the NMI's
    numerator, computed directly too. Use these two rather than re-forming them from the others.
    """

    i_a: object
    i_aa: object
    i_b: object
    i_bb: object
    i_ab: object
    h_a: object
    h_b: object
    shared: object


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


def _is_torch(x):
    return isinstance(x, torch.Tensor)


def _default_device():
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _to_tensor(x, name):
    """numpy/array-like/tensor -> tensor (zero-copy for numpy where possible)."""
    if _is_torch(x):
        t = x
    else:
        a = np.asarray(x)
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be a real numeric array, got dtype {a.dtype}")
        if a.dtype.kind in "biu":
            a = a.astype(np.float64)
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        with warnings.catch_warnings():  # read-only arrays (memory maps) are fine: never written
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            t = torch.from_numpy(a)
    if t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must be real-valued, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    return t


def _torch_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype):
        d = dtype
    else:
        d = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}.get(np.dtype(dtype))
    if d not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return d


def _compute_dtype(tensors, dtype):
    d = _torch_dtype(dtype)
    if d is not None:
        return d
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _output(t, as_numpy):
    return t.detach().cpu().numpy() if as_numpy else t


def _check_distance_shape(D, name, *, exact_ndim=None):
    if exact_ndim is not None and D.ndim != exact_ndim:
        raise ValueError(
            f"{name} must have {exact_ndim} dimensions [M, N, N] (a stack of N x N distance "
            f"matrices), got shape {tuple(D.shape)}")
    if D.ndim < 2:
        raise ValueError(f"{name} must be [..., N, N] distance matrices, got shape {tuple(D.shape)}")
    if D.shape[-1] != D.shape[-2]:
        raise ValueError(f"{name} must be square in its last two dimensions, got shape {tuple(D.shape)}")
    if D.shape[-1] < 2:
        raise ValueError(f"{name} needs N >= 2 sample points, got N = {D.shape[-1]}")


def _check_diagonal(D, name):
    if D.numel() == 0:
        return
    Dd = D.detach()
    if Dd.device.type == "cpu":  # numpy: no thread fork/join for a small strided gather
        diag = np.diagonal(Dd.numpy(), axis1=-2, axis2=-1)
        bad = ~(np.abs(diag) <= DIAGONAL_TOL)  # also catches NaN
        if not bad.any():
            return
        idx = tuple(int(v) for v in np.argwhere(bad)[0])
    else:
        diag = Dd.diagonal(dim1=-2, dim2=-1)
        bad = ~(diag.abs() <= DIAGONAL_TOL)
        if not bool(bad.any()):
            return
        idx = tuple(int(v) for v in torch.nonzero(bad)[0].tolist())
    val = float(diag[idx])
    where = ", ".join(str(v) for v in idx[:-1] + (idx[-1], idx[-1]))
    raise ValueError(
        f"{name} must have a zero diagonal (the distance of a posterior to itself is 0); "
        f"got {name}[{where}] = {val!r}")


def _value_error(D, name, offset=()):
    """Describe the first invalid value (NaN, -inf or negative) of D (slow path, on error)."""
    Dd = D.detach()
    for test, what in ((torch.isnan, "NaN"), (lambda x: x == -math.inf, "-inf"),
                       (lambda x: x < 0, "negative values")):
        hit = test(Dd)
        if bool(hit.any()):
            idx = tuple(int(v) for v in torch.nonzero(hit)[0].tolist())
            idx = tuple(a + b for a, b in zip(offset + (0,) * (len(idx) - len(offset)), idx))
            val = float(Dd[tuple(i - (offset[k] if k < len(offset) else 0) for k, i in enumerate(idx))])
            extra = "; Bhattacharyya distances are >= 0" if what == "negative values" else ""
            return ValueError(f"{name} contains {what} (first at {name}[{', '.join(map(str, idx))}] = {val!r}){extra}")
    return None


def _check_values(D, name):
    """Reject NaN, -inf and negative values (+inf is a valid distance: C = 0)."""
    if D.numel() == 0:
        return
    m = torch.amin(D.detach())  # NaN propagates
    if not bool(m >= 0):
        raise _value_error(D, name) or ValueError(f"{name} contains invalid values")


# --------------------------------------------------------------------------------------------
# Bhattacharyya distances
# --------------------------------------------------------------------------------------------


def _logcosh(x):
    """log(cosh(x)), accurate for small |x| (no cancellation) and safe for large |x|."""
    ax = x.abs()
    small = torch.log1p(2.0 * torch.sinh(0.5 * ax.clamp(max=10.0)) ** 2)
    large = ax + torch.log1p(torch.exp(-2.0 * ax)) - LN2
    return torch.where(ax < 10.0, small, large)


def _bhattacharyya_block(mu, lv, out=None):
    """mu, lv [B, N, d] -> [B, N, N] (written into `out` when given, no autograd)."""
    B, N, d = mu.shape
    # clamp so that exp(-lae/2) stays finite; a variance below ~exp(-lae_min) only makes an
    # already astronomically large distance infinite.
    lae_min = -2.0 * (math.log(torch.finfo(mu.dtype).max) - 8.0)
    acc = None
    for k in range(d):
        a = lv[:, :, None, k]
        b = lv[:, None, :, k]
        # 1/2 [log sbar - (log s_i + log s_j)/2] = 1/2 log cosh((lv_i - lv_j)/2)
        term = 0.5 * _logcosh(0.5 * (a - b))
        # 1/8 (mu_i - mu_j)^2 / sbar = 1/4 (mu_i - mu_j)^2 / (s_i + s_j)
        scale = torch.exp(-0.5 * torch.logaddexp(a, b).clamp(min=lae_min))
        diff = (mu[:, :, None, k] - mu[:, None, :, k]) * scale
        term = term + 0.25 * diff * diff
        if out is not None:
            out.copy_(term) if k == 0 else out.add_(term)
            acc = out
        else:
            acc = term if acc is None else acc + term
    return acc


def bhattacharyya(mu, logvar, *, device=None, dtype=None, max_memory=None):
    """Bhattacharyya distances between diagonal-Gaussian posteriors.

    Parameters
    ----------
    mu, logvar : array or tensor [..., N, d]
        Means and log-variances of the posteriors of N sample points in d dimensions. A batch
        of M one-channel fingerprints is ``[M, N, 1]``.
    device : torch device, optional
        Where to compute for numpy input (default: CUDA if available, else CPU). Torch input is
        computed on its own device.
    dtype : float32 or float64, optional
        Computation and output dtype (default: float64 if an input is float64, else float32).
    max_memory : int, optional
        Bound (bytes) on temporary memory; the batch is processed in chunks (default 1 GiB).

    Returns
    -------
    D : [..., N, N], same kind as the input (numpy / torch), symmetric, >= 0, zero diagonal:
        ``D_ij = 1/8 sum_k (mu_ik - mu_jk)^2 / sbar_k + 1/2 sum_k [log sbar_k - (log s_ik + log
        s_jk)/2]`` with ``s = exp(logvar)``, ``sbar = (s_i + s_j)/2``. Differentiable for
        torch input. Infinite where a variance is so small that the distance overflows.
    """
    as_numpy = not (_is_torch(mu) or _is_torch(logvar))
    mu_t = _to_tensor(mu, "mu")
    lv_t = _to_tensor(logvar, "logvar")
    if mu_t.ndim < 2:
        raise ValueError(f"mu must be [..., N, d], got shape {tuple(mu_t.shape)}")
    if lv_t.shape != mu_t.shape:
        raise ValueError(f"logvar must have the shape of mu {tuple(mu_t.shape)}, got {tuple(lv_t.shape)}")
    N, d = mu_t.shape[-2], mu_t.shape[-1]
    if N < 2:
        raise ValueError(f"mu needs N >= 2 sample points, got N = {N}")
    if d < 1:
        raise ValueError("mu needs at least one dimension d >= 1")
    for t, name in ((mu_t, "mu"), (lv_t, "logvar")):
        bad = ~torch.isfinite(t.detach())
        if bool(bad.any()):
            idx = tuple(int(v) for v in torch.nonzero(bad)[0].tolist())
            raise ValueError(f"{name} must be finite; {name}[{', '.join(map(str, idx))}] = {float(t.detach()[idx])!r}")
    if _is_torch(mu) and _is_torch(logvar) and mu.device != logvar.device:
        raise ValueError(f"mu and logvar are on different devices ({mu.device}, {logvar.device})")
    if _is_torch(mu):
        dev = mu.device
    elif _is_torch(logvar):
        dev = logvar.device
    else:
        dev = torch.device(device) if device is not None else _default_device()
    cdt = _compute_dtype([mu_t, lv_t], dtype)
    batch = mu_t.shape[:-2]
    B = int(np.prod(batch)) if len(batch) else 1
    mu3 = mu_t.reshape(B, N, d)
    lv3 = lv_t.reshape(B, N, d)
    need_grad = torch.is_grad_enabled() and (mu_t.requires_grad or lv_t.requires_grad)
    itemsize = torch.finfo(cdt).bits // 8
    budget = int(max_memory or _DEFAULT_MAX_MEMORY)
    per_item = 8 * N * N * itemsize  # a handful of N x N temporaries per batch item
    bc = max(1, min(B, budget // max(per_item, 1)))
    eye = torch.eye(N, dtype=torch.bool, device=dev)
    if need_grad:
        parts = []
        for b0 in range(0, B, bc):
            m = mu3[b0:b0 + bc].to(dev, cdt)
            v = lv3[b0:b0 + bc].to(dev, cdt)
            Dc = _bhattacharyya_block(m, v)
            Dc = 0.5 * (Dc + Dc.transpose(-1, -2))  # exactly symmetric (SIMD tails round differently)
            parts.append(Dc.clamp(min=0.0).masked_fill(eye, 0.0))
        out = torch.cat(parts, 0) if len(parts) > 1 else parts[0]
    else:
        with torch.no_grad():
            out = torch.empty((B, N, N), dtype=cdt, device=dev)
            for b0 in range(0, B, bc):
                m = mu3[b0:b0 + bc].to(dev, cdt)
                v = lv3[b0:b0 + bc].to(dev, cdt)
                o = out[b0:b0 + bc]
                _bhattacharyya_block(m, v, out=o)
                o.copy_(0.5 * (o + o.transpose(-1, -2)))  # exactly symmetric (SIMD tails round differently)
                o.clamp_(min=0.0)
                o.diagonal(dim1=-2, dim2=-1).zero_()
    out = out.reshape(*batch, N, N)
    return _output(out, as_numpy)


# --------------------------------------------------------------------------------------------
# hard clusterings
# --------------------------------------------------------------------------------------------


def labels_to_distances(labels, *, dtype=None):
    """Distance matrices of hard clusterings: 0 within a cluster, +inf across.

    ``labels`` is an integer array ``[N]`` or ``[..., N]`` (e.g. ``[F, N]`` for F factors);
    the result is ``[..., N, N]``, numpy for numpy input, torch (same device) for torch input.
    C = exp(-D) is then 1 within and 0 across clusters, and :func:`similarity` reduces to the
    classic NMI (geometric normalisation) and VI.

    The default dtype is float64, so that :func:`similarity` of hard clusterings (alone or
    against float32 fingerprints, which are then promoted) is exact to rounding (~1e-12).
    With ``dtype=float32`` the float32 Gram products of large clusters carry a relative
    rounding drift of ~1e-7 (results within ~1e-6 of the exact values).
    Integer-valued float labels are accepted; NaN or fractional labels are not.
    """
    as_numpy = not _is_torch(labels)
    if as_numpy:
        a = np.asarray(labels)
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise ValueError(f"labels must be integer cluster labels, got dtype {a.dtype}")
        if a.dtype.kind == "f" and not (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            raise ValueError("labels must be integer cluster labels; got NaN, inf or fractional values")
        t = torch.from_numpy(np.ascontiguousarray(a.astype(np.int64)))
    else:
        t = labels.detach()
        if t.is_complex():
            raise ValueError(f"labels must be integer cluster labels, got dtype {t.dtype}")
        if t.is_floating_point():
            if not bool((torch.isfinite(t) & (t == torch.round(t))).all()):
                raise ValueError("labels must be integer cluster labels; got NaN, inf or fractional values")
        t = t.to(torch.int64)
    if t.ndim < 1:
        raise ValueError(f"labels must be [..., N], got a scalar")
    if t.shape[-1] < 2:
        raise ValueError(f"labels needs N >= 2 sample points, got N = {t.shape[-1]}")
    cdt = _torch_dtype(dtype) or torch.float64
    same = t[..., :, None] == t[..., None, :]
    D = torch.zeros(same.shape, dtype=cdt, device=t.device).masked_fill_(~same, math.inf)
    return _output(D, as_numpy)


# --------------------------------------------------------------------------------------------
# information of single channels
# --------------------------------------------------------------------------------------------


def information(D, *, device=None, max_memory=None):
    """I(U;X) in bits from fingerprints: ``-mean_i log2 mean_j exp(-D_ij)``.

    ``D`` is ``[..., N, N]`` (non-negative, zero diagonal, +inf allowed); returns ``[...]``
    (float64; numpy for numpy input, torch on the input's device for torch input,
    differentiable). Computed in float64 in row chunks of bounded memory.
    """
    as_numpy = not _is_torch(D)
    Dt = _to_tensor(D, "D")
    _check_distance_shape(Dt, "D")
    _check_diagonal(Dt, "D")
    dev = Dt.device if _is_torch(D) else (torch.device(device) if device is not None else _default_device())
    N = Dt.shape[-1]
    batch = Dt.shape[:-2]
    B = int(np.prod(batch)) if len(batch) else 1
    D3 = Dt.reshape(B, N, N)
    need_grad = torch.is_grad_enabled() and Dt.requires_grad
    budget = int(max_memory or _DEFAULT_MAX_MEMORY) // 3
    rows = max(1, min(N, budget // max(1, 8 * N * max(B, 1))))
    total = torch.zeros(B, dtype=torch.float64, device=dev)
    with torch.set_grad_enabled(need_grad):
        for i0 in range(0, N, rows):
            chunk = D3[:, i0:i0 + rows].to(dev, torch.float64)
            if not bool(torch.amin(chunk.detach()) >= 0):
                raise _value_error(chunk, "D", offset=(0, i0)) or ValueError("D contains invalid values")
            m = torch.exp(-chunk).mean(-1).clamp(min=1e-300)  # >= 1/N with a zero diagonal
            # nearly constant rows (weak channels) from C - 1 = expm1(-D): exact to rounding,
            # where exp(-D) ~ 1 has only absolute precision
            m1 = torch.expm1(-chunk).mean(-1)
            total = total + torch.where(m > _CENTRE_ABOVE, torch.log1p(m1), torch.log(m)).sum(-1)
    out = (-total / (N * LN2)).reshape(batch)
    return _output(out, as_numpy)


# --------------------------------------------------------------------------------------------
# similarity: the fast (no-grad) path
# --------------------------------------------------------------------------------------------


def _max_distance(dtype, N):
    """Distances are capped here before exp (C >= exp(-T)): no coefficient, and no product of two
    scaled coefficients, is a subnormal number -- subnormal operands slow CPU arithmetic (and
    GEMMs) down by orders of magnitude. The cap changes every row sum, which is >= 1, by at most
    N exp(-T) (relative), i.e. by less than 1e-12 for N = 1e4 in float32."""
    tiny = torch.finfo(dtype).tiny
    return 0.5 * (-math.log(tiny) - math.log(max(N, 1))) - 2.0


def _blocks(M, block=_BLOCK):
    nb = max(1, -(-M // block))
    b = -(-M // nb)
    return [(p0, min(M, p0 + b)) for p0 in range(0, M, b)]


class _Chunk:
    """Reused buffer for the scaled coefficients X of a chunk of rows of one stack of channels.

    For channel u and row i, with ``m = mean_j C_ij``: ``X_ij = (C_ij - r) / (sqrt(N) m)``, where
    ``r = m`` (the row is centred) when ``m > 0.8`` -- a nearly constant row, as in weak channels
    -- and ``r = 0`` otherwise. With ``a = sqrt(N) mean_j X_ij`` (= 1 - r/m: 1 or 0 up to
    rounding; measured, not assumed), exactly ``mean_j C^u C^v / (m^u m^v) = 1 + X^u.X^v - a^u a^v``.
    Centred rows are computed from ``C - 1 = expm1(-D)`` (float32's relative precision, where C
    itself has only its absolute precision near 1), so the tiny deviations of weak channels and
    their ``log m = log1p(mean_j (C_ij - 1))`` keep their relative precision; rows with far points
    (informative channels, hard clusterings: mostly C ~ 0) stay uncentred, so that their sums
    are not swamped by many equal, non-zero addends whose rounding drifts in a GEMM's
    sequential accumulation.

    The buffer holds one extra channel (index M) of constants 1/sqrt(N): as one more column of
    the Gram products it yields ``a`` for free.
    """

    def __init__(self, M, N, rows, dtype, device):
        self.buf = torch.empty((rows, M + 1, N), dtype=dtype, device=device)
        self.buf[:, M, :] = 1.0 / math.sqrt(N)
        self.s = torch.empty((rows, M), dtype=dtype, device=device)
        self.M, self.N = M, N
        self.cap = _max_distance(dtype, N)

    def load(self, D, i0, i1, name, device):
        """Fill X for rows i0:i1; returns (X [r, M + 1, N] with the constant channel last,
        sum_r log m [M] float64)."""
        r = i1 - i0
        Xall = self.buf[:r]
        X = Xall[:, :self.M]
        src = D[:, i0:i1, :]
        if src.device != device:
            src = src.to(device)
        # X = min(D, cap) (copy into [rows, M, N] layout; the cap: no subnormal numbers, see
        # _max_distance). NaN, -inf or negative distances make its minimum NaN or < 0.
        torch.clamp(src.permute(1, 0, 2), max=self.cap, out=X)
        if not bool(torch.amin(Xall) >= 0):  # (the constant channel is > 0)
            raise _value_error(D[:, i0:i1, :], name, offset=(0, i0)) or ValueError(f"{name} contains invalid values")
        X.neg_()
        X.exp_()  # C
        s64 = torch.sum(X, dim=-1, out=self.s[:r]).cpu().numpy().astype(np.float64)  # N m
        centred = s64 > _CENTRE_ABOVE * self.N
        log_m = np.log(s64) - math.log(self.N)
        ii, uu = np.nonzero(centred)
        if len(ii):
            # Nearly constant rows from C - 1 = expm1(-D), which has float32's relative precision
            # (C itself, near 1, has only its absolute precision: 6e-8, all the information of a
            # channel with D ~ 1e-7), summed in float64: t = N (m - 1).
            if D.is_contiguous():  # whole rows of D, copied as such
                idx = torch.from_numpy(uu * D.shape[1] + i0 + ii).to(D.device)
                cm1 = torch.index_select(D.view(-1, self.N), 0, idx).to(X.device, X.dtype)
            else:
                cm1 = src[torch.from_numpy(uu).to(src.device), torch.from_numpy(ii).to(src.device)].to(X.dtype)
            if cm1.device.type == "cpu":  # numpy's SIMD expm1: ~4x torch's on the CPU
                c = cm1.numpy()
                np.expm1(np.negative(np.minimum(c, self.cap, out=c), out=c), out=c)
                t = np.add.reduce(c, axis=-1, dtype=np.float64)
            else:
                t = torch.sum(cm1.clamp_(max=self.cap).neg_().expm1_(), dim=-1, dtype=torch.float64).cpu().numpy()
            s64[ii, uu] = self.N + t
            log_m[ii, uu] = np.log1p(t / self.N)
        # X = (C - r) w with w = 1 / (sqrt(N) m) and r = 0 (uncentred) or m (centred, from C - 1)
        np_dtype = np.float32 if X.dtype == torch.float32 else np.float64
        w = math.sqrt(self.N) / s64
        X.mul_(torch.from_numpy(w.astype(np_dtype)).to(X.device)[..., None])
        if len(ii):
            shift = torch.from_numpy((t / self.N).astype(np_dtype)).to(X.device)
            wc = torch.from_numpy(w[ii, uu].astype(np_dtype)).to(X.device)
            at = torch.from_numpy(ii * (self.M + 1) + uu).to(X.device)  # rows of Xall, flattened
            Xall.view(-1, self.N).index_copy_(0, at, cm1.sub_(shift[:, None]).mul_(wc[:, None]))
        logm = torch.from_numpy(log_m.sum(0)).to(X.device)
        return Xall, logm


class _Partials:
    """One worker's float64 sums over the rows it processed."""

    def __init__(self, S, M, K, sym, device):
        f64 = dict(dtype=torch.float64, device=device)
        self.acc_flat = torch.zeros(S, **f64)
        self.lm_a = torch.zeros(M, **f64)
        self.lm_b = None if sym else torch.zeros(K, **f64)
        self.h_a = None if sym else torch.zeros(M, **f64)
        self.h_b = None if sym else torch.zeros(K, **f64)


def _fast_terms(Da, Db, chunk_rows, max_memory, dtype, device):
    """Accumulate sum_i log m (per channel) and sum_i log1p(G_i) (per pair), float64."""
    M, N = Da.shape[0], Da.shape[-1]
    sym = Db is None
    K = M if sym else Db.shape[0]
    itemsize = torch.finfo(dtype).bits // 8
    gram = sum((p1 - p0 + 1) * (K + 1 - (p0 if sym else 0)) for p0, p1 in _blocks(M))
    per_row = ((M + (0 if sym else K) + 2) * N + gram) * itemsize
    if chunk_rows is None:
        target = _GPU_CHUNK_BYTES if device.type == "cuda" else _CPU_CHUNK_BYTES
        budget = min(target, int(max_memory or _DEFAULT_MAX_MEMORY) // 2)
        chunk_rows = max(1, min(N, budget // max(per_row, 1)))
    rows = int(max(1, min(N, chunk_rows)))
    # Gram blocks: block-rows [p0, p1) of the channels of D_a against the channels [c0, K) of
    # D_b (D_b None: c0 = p0, the upper block-triangle, each unordered pair once), plus the
    # constant channel as a last column (-> a of the block's rows) -- and, in the last block
    # with D_b given, as a last row (-> a of D_b's channels). Processed from the last block, so
    # that the a of every column is known when a block is corrected. One flat buffer: the log
    # of all blocks is a single pass.
    blocks = []
    for p0, p1 in _blocks(M):
        c0 = p0 if sym else 0
        q1 = p1 + 1 if (not sym and p1 == M) else p1  # rows, incl. D_a's constant channel
        blocks.append((p0, p1, q1, c0))
    blocks.reverse()
    sizes = [(q1 - p0) * (K + 1 - c0) for p0, p1, q1, c0 in blocks]
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    S = starts[-1]

    def run(chunk_starts, out):
        ca = _Chunk(M, N, rows, dtype, device)
        cb = None if sym else _Chunk(K, N, rows, dtype, device)
        gflat = torch.empty(rows * S, dtype=dtype, device=device)
        gsum = torch.empty(S, dtype=dtype, device=device)  # a chunk's sums over rows
        a_a = torch.empty((rows, M), dtype=dtype, device=device)
        a_b = a_a if sym else torch.empty((rows, K), dtype=dtype, device=device)
        for i0 in chunk_starts:
            i1 = min(N, i0 + rows)
            r = i1 - i0
            Xa, la = ca.load(Da, i0, i1, "D_a", device)
            out.lm_a += la
            if sym:
                Xb = Xa
            else:
                Xb, lb = cb.load(Db, i0, i1, "D_b", device)
                out.lm_b += lb
            aa, ab = a_a[:r], a_b[:r]
            views = []
            for (p0, p1, q1, c0), o in zip(blocks, starts):
                G = gflat[r * o:r * (o + (q1 - p0) * (K + 1 - c0))].view(r, q1 - p0, K + 1 - c0)
                torch.bmm(Xa[:, p0:q1], Xb[:, c0:].transpose(1, 2), out=G)
                aa[:, p0:p1] = G[:, :p1 - p0, -1]
                if q1 > p1:
                    ab.copy_(G[:, -1, :K])
                G[:, :p1 - p0, :K - c0].addcmul_(aa[:, p0:p1, None], ab[:, None, c0:], value=-1.0)
                views.append(G)
            if not sym:  # self terms of both stacks (symmetric case: in the diagonal blocks)
                for X, a, h, n in ((Xa, aa, out.h_a, M), (Xb, ab, out.h_b, K)):
                    g = torch.linalg.vecdot(X[:, :n], X[:, :n]).to(torch.float64)
                    a64 = a.to(torch.float64)
                    h += torch.log1p(g - a64 * a64).sum(0)
            if device.type == "cpu":
                g = gflat[:r * S].numpy()
                np.log1p(g, out=g)  # numpy's SIMD log1p: ~2.5x torch's on the CPU
            else:
                gflat[:r * S].log1p_()
            for G, o, size in zip(views, starts, sizes):
                torch.sum(G.view(r, size), 0, out=gsum[o:o + size])  # cascade sum: ~eps log2(r)
            out.acc_flat += gsum

    chunk_starts = list(range(0, N, rows))
    threads = torch.get_num_threads()
    workers = min(threads, len(chunk_starts)) if device.type == "cpu" else 1
    parts = [_Partials(S, M, K, sym, device) for _ in range(workers)]
    if workers == 1:
        run(chunk_starts, parts[0])
    else:
        # Independent workers, each single-threaded on its own rows (chunks k, k + W, ...): no
        # thread synchronisation per operation -- on a busy machine the fork/join of every
        # small parallel operation costs more than the operation. Static assignment and a
        # fixed merge order keep the result deterministic.
        errors = [None] * workers

        def work(k):
            torch.set_num_threads(1)  # this thread's intra-op threads (and MKL's)
            try:
                run(chunk_starts[k::workers], parts[k])
            except BaseException as exc:  # re-raised in the caller
                errors[k] = exc
            finally:
                torch.set_num_threads(threads)

        pool = [threading.Thread(target=work, args=(k,), name=f"infofrag-similarity-{k}") for k in range(workers)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        torch.set_num_threads(threads)
        raised = [e for e in errors if e is not None]
        if raised:
            raise raised[0]
    total = parts[0]
    for p in parts[1:]:
        for name in ("acc_flat", "lm_a", "lm_b", "h_a", "h_b"):
            if getattr(total, name) is not None:
                getattr(total, name).add_(getattr(p, name))
    acc = torch.zeros((M, K), dtype=torch.float64, device=device)
    for (p0, p1, q1, c0), o, size in zip(blocks, starts, sizes):
        acc[p0:p1, c0:] = total.acc_flat[o:o + size].view(q1 - p0, K + 1 - c0)[:p1 - p0, :K - c0]
    return acc, total.lm_a, total.lm_b, total.h_a, total.h_b


# --------------------------------------------------------------------------------------------
# similarity: the differentiable path
# --------------------------------------------------------------------------------------------


def _scaled_coefficients(D, i0, i1, dtype, device):
    """Differentiable version of :meth:`_Chunk.load` (out-of-place, same numbers)."""
    N = D.shape[-1]
    Dc = D[:, i0:i1, :].to(device, dtype).clamp(max=_max_distance(dtype, N))
    C = torch.exp(-Dc)  # [M, r, N]
    s = C.sum(-1, keepdim=True, dtype=torch.float64)  # N m
    centred = s.detach() > _CENTRE_ABOVE * N
    cm1 = torch.expm1(-Dc)  # C - 1, to relative precision
    t = cm1.sum(-1, keepdim=True, dtype=torch.float64)  # N (m - 1)
    w = (math.sqrt(N) / torch.where(centred, N + t, s)).to(dtype)
    X = torch.where(centred, cm1 - (t / N).to(dtype), C) * w
    a = X.sum(-1) / math.sqrt(N)
    log_m = torch.where(centred, torch.log1p(t / N), torch.log(s / N))[..., 0]
    return X.transpose(0, 1), a.transpose(0, 1), log_m.sum(1)


def _grad_terms(Da, Db, chunk_rows, max_memory, dtype, device):
    M, N = Da.shape[0], Da.shape[-1]
    sym = Db is None
    K = M if sym else Db.shape[0]
    for D, name in ((Da, "D_a"), (Db, "D_b")):
        if D is not None:
            _check_values(D, name)
    if chunk_rows is None:
        budget = int(max_memory or _DEFAULT_MAX_MEMORY) // 8
        chunk_rows = max(1, min(N, budget // max(1, (M + K) * N * 4 + M * K * 8)))
    rows = int(chunk_rows)
    acc = lm_a = lm_b = h_a = h_b = 0.0
    for i0 in range(0, N, rows):
        i1 = min(N, i0 + rows)
        Xa, aa, la = _scaled_coefficients(Da, i0, i1, dtype, device)
        lm_a = lm_a + la
        if sym:
            Xb, ab = Xa, aa
        else:
            Xb, ab, lb = _scaled_coefficients(Db, i0, i1, dtype, device)
            lm_b = lm_b + lb
            h_a = h_a + torch.log1p(((Xa * Xa).sum(-1) - aa * aa).to(torch.float64)).sum(0)
            h_b = h_b + torch.log1p(((Xb * Xb).sum(-1) - ab * ab).to(torch.float64)).sum(0)
        G = torch.bmm(Xa, Xb.transpose(1, 2)) - aa[:, :, None] * ab[:, None, :]
        acc = acc + torch.log1p(G.to(torch.float64)).sum(0)
    return acc, lm_a, lm_b, h_a, h_b


# --------------------------------------------------------------------------------------------
# similarity: public API
# --------------------------------------------------------------------------------------------


def _prepare(D_a, D_b, device):
    Da = _to_tensor(D_a, "D_a")
    _check_distance_shape(Da, "D_a", exact_ndim=3)
    Db = None
    if D_b is not None and D_b is not D_a:
        Db = _to_tensor(D_b, "D_b")
        _check_distance_shape(Db, "D_b", exact_ndim=3)
        if Db.shape[-1] != Da.shape[-1]:
            raise ValueError(
                f"D_b must be over the same N sample points as D_a: D_a has N = {Da.shape[-1]}, "
                f"D_b has N = {Db.shape[-1]}")
    _check_diagonal(Da, "D_a")
    if Db is not None:
        _check_diagonal(Db, "D_b")
        if Db.dtype != Da.dtype:  # e.g. float32 fingerprints against float64 factor clusterings
            common = torch.promote_types(Da.dtype, Db.dtype)
            Da, Db = Da.to(common), Db.to(common)
    tensors = [t for t in (D_a, D_b) if _is_torch(t)]
    if tensors:
        dev = tensors[0].device
        if any(t.device != dev for t in tensors):
            raise ValueError(f"D_a and D_b are on different devices ({D_a.device}, {D_b.device})")
    else:
        dev = torch.device(device) if device is not None else _default_device()
    as_numpy = not tensors
    return Da, Db, dev, as_numpy


def _all_finite(t):
    if isinstance(t, np.ndarray):
        return bool(np.isfinite(t).all())
    t = t.detach()
    return bool(np.isfinite(t.numpy()).all()) if t.device.type == "cpu" else bool(torch.isfinite(t).all())


class _Raw(NamedTuple):
    """float64 sums over sample rows (numpy, or torch on the autograd path), and how to return."""

    N: int
    sym: bool
    acc: object  # [M, K] sum_i log(1 + G_i)
    lm_a: object  # [M] sum_i log m_i
    lm_b: object
    h_a: object  # [M] sum_i log(1 + G_i[u, u])
    h_b: object
    xp: object  # np or torch
    output: object  # callable: result -> numpy / torch on the input's device


def _raw_terms(D_a, D_b, chunk_rows, max_memory, dtype, device):
    Da, Db, dev, as_numpy = _prepare(D_a, D_b, device)
    cdt = _compute_dtype([t for t in (Da, Db) if t is not None], dtype)
    if chunk_rows is not None and int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    N = Da.shape[-1]
    sym = Db is None
    M = Da.shape[0]
    K = M if sym else Db.shape[0]
    need_grad = torch.is_grad_enabled() and (Da.requires_grad or (Db is not None and Db.requires_grad))
    if M == 0 or K == 0:
        z = lambda *shape: torch.zeros(shape, dtype=torch.float64, device=dev)  # noqa: E731
        acc, lm_a, lm_b, h_a, h_b = z(M, K), z(M), z(K), z(M), z(K)
    else:
        terms = _grad_terms if need_grad else _fast_terms
        with torch.set_grad_enabled(need_grad):
            acc, lm_a, lm_b, h_a, h_b = terms(Da, Db, chunk_rows, max_memory, cdt, dev)
            if cdt == torch.float32 and not _all_finite(acc):
                # a row so sparse (N ~ 1e7) that float32 rounding reached log1p(-1): float64
                acc, lm_a, lm_b, h_a, h_b = terms(Da, Db, chunk_rows, max_memory, torch.float64, dev)
    if need_grad:
        xp = torch
        output = lambda t: t  # noqa: E731
    else:
        # the [M, K] post-processing in numpy (no thread fork/join per small operation)
        xp = np
        acc, lm_a, lm_b, h_a, h_b = (None if t is None else t.cpu().numpy() for t in (acc, lm_a, lm_b, h_a, h_b))
        if as_numpy:
            output = lambda a: a  # noqa: E731
        else:
            output = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev)  # noqa: E731
    if sym:
        if not need_grad and M:
            # only the upper block-triangle was computed: mirror it (exactly symmetric)
            acc = np.triu(acc) + np.triu(acc, 1).T
        h_a = xp.diagonal(acc).clone() if need_grad else np.diagonal(acc).copy()
        lm_b, h_b = lm_a, h_a
    if not _all_finite(acc):  # guard; cannot happen for valid input
        raise FloatingPointError("similarity: non-finite intermediate result (please report)")
    return _Raw(N, sym, acc, lm_a, lm_b, h_a, h_b, xp, output)


def _terms_from_raw(raw):
    scale = 1.0 / (raw.N * LN2)
    return -raw.lm_a * scale, -raw.lm_b * scale, raw.h_a * scale, raw.h_b * scale, raw.acc * scale


def similarity_terms(D_a, D_b=None, *, chunk_rows=None, max_memory=None, dtype=None, device=None):
    """The information terms of all channel pairs, in bits (see :class:`SimilarityTerms`).

    Same inputs and keywords as :func:`similarity`. With ``D_b=None`` the pairs are those
    within ``D_a`` and the b-terms equal the a-terms. Returns float64 (numpy for numpy input,
    torch on the input's device otherwise; differentiable).
    """
    raw = _raw_terms(D_a, D_b, chunk_rows, max_memory, dtype, device)
    return _terms(raw, *_terms_from_raw(raw))


def _terms(raw, i_a, i_b, H_a, H_b, num) -> SimilarityTerms:
    i_aa = 2.0 * i_a - H_a
    i_bb = 2.0 * i_b - H_b
    i_ab = i_a[:, None] + i_b[None, :] - num
    return SimilarityTerms(*(raw.output(t) for t in (i_a, i_aa, i_b, i_bb, i_ab, H_a, H_b, num)))


def similarity(D_a, D_b=None, *, min_bits=DEFAULT_MIN_BITS, chunk_rows=None, max_memory=None,
               dtype=None, device=None, return_terms=False):
    """Generalised NMI and VI (bits) between all pairs of channels.

    Parameters
    ----------
    D_a : [M, N, N] array or tensor
        Fingerprints (Bhattacharyya distances, non-negative, zero diagonal; +inf allowed: a hard
        clustering, see :func:`labels_to_distances`) of M channels on the same N sample points.
    D_b : [K, N, N], optional
        A second stack over the same N points. ``None``: all pairs within ``D_a`` (each
        unordered pair computed once; the result is exactly symmetric).
    min_bits : float
        Channels whose ``H = 2 I(U;X) - I(U;U')`` is at most ``min_bits`` bits are treated as
        uninformative (below).
    chunk_rows : int, optional
        Sample rows processed together (default: sized for the CPU caches / GPU memory).
    max_memory : int, optional
        Bound (bytes) on working memory besides the inputs and the [M, K] results (default
        1 GiB; actual use is far below it for the default chunks).
    dtype : float32 or float64, optional
        Precision of the coefficient matrices, Gram products and their logs (default: float64
        if an input is float64, else float32). Sums over sample rows are accumulated in float64.
    device : optional
        Where to compute numpy input (default CUDA if available, else CPU).
    return_terms : bool
        Also return the :class:`SimilarityTerms` of the same computation (what
        :func:`similarity_terms` returns), at no extra cost: ``(nmi, vi, terms)``.

    Returns
    -------
    (nmi, vi), each [M, K] float64; numpy for numpy input, torch (input device, differentiable)
    otherwise. With ``return_terms``: (nmi, vi, terms).

    Uninformative channels. ``NMI = (I_U + I_V - I_UV) / sqrt(H_U H_V)`` is 0/0 for a channel
    that carries no information (a collapsed VAE dimension: H = 0) and ill-conditioned for one
    that carries almost none. The convention, that of the classic NMI for single-cluster
    clusterings (as in scikit-learn): if ``H_U <= min_bits`` and ``H_V <= min_bits`` the NMI is
    1 (two channels that both carry nothing are the same, trivial clustering; their VI is ~0
    too); if exactly one of them is uninformative the NMI is 0. VI is always the computed value
    ``H_U + H_V - 2 (I_U + I_V - I_UV)`` (clamped at 0 against rounding), never replaced. No
    NaN or inf is ever returned. Above ``min_bits`` the NMI is computed without cancellation
    (see the module docstring): from float32 fingerprints it is within ~1e-6 of a float64
    computation for H >= 1e-8 bits (~1e-7 at H = 1e-6, the ill-conditioned case of a channel
    with I(U;X) ~ 1e-3 bits); below, float32 rounding of the coefficients dominates (pass float64
    fingerprints, or ``dtype=float64``, to go further).

    The estimate is not clipped to [0, 1]: for soft channels a finite-sample NMI can exceed 1
    or fall below 0 by a little (it equals the classic NMI exactly for hard clusterings).
    """
    raw = _raw_terms(D_a, D_b, chunk_rows, max_memory, dtype, device)
    i_a, i_b, H_a, H_b, num = _terms_from_raw(raw)
    inf_a = H_a > min_bits
    inf_b = H_b > min_bits
    both = inf_a[:, None] & inf_b[None, :]
    neither = (~inf_a)[:, None] & (~inf_b)[None, :]
    if raw.xp is torch:  # autograd: keep the graph, no NaN gradients where unused
        denom = torch.sqrt(torch.clamp(H_a[:, None] * H_b[None, :], min=1e-300))
        ratio = num / denom
        nmi = torch.where(both, ratio, torch.where(neither, torch.ones_like(ratio), torch.zeros_like(ratio)))
        vi = torch.clamp(H_a[:, None] + H_b[None, :] - 2.0 * num, min=0.0)
        if raw.sym:
            eye = torch.eye(nmi.shape[0], dtype=torch.bool, device=nmi.device)
            nmi = nmi.masked_fill(eye, 1.0)
            vi = vi.masked_fill(eye, 0.0)
    else:
        denom = np.sqrt(np.maximum(H_a[:, None] * H_b[None, :], 1e-300))
        nmi = np.where(both, num / denom, np.where(neither, 1.0, 0.0))
        vi = np.maximum(H_a[:, None] + H_b[None, :] - 2.0 * num, 0.0)
        if raw.sym:
            np.fill_diagonal(nmi, 1.0)
            np.fill_diagonal(vi, 0.0)
    if return_terms:
        return raw.output(nmi), raw.output(vi), _terms(raw, i_a, i_b, H_a, H_b, num)
    return raw.output(nmi), raw.output(vi)
