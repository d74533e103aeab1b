"""Fingerprints: Bhattacharyya distances between diagonal-Gaussian posteriors, and the
distances of hard clusterings (0 within a cluster, +inf across)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..measures import DEFAULT_MAX_MEMORY, pair_distance
from ._checks import _check_posteriors, _compute_dtype, _is_torch, _output, _to_tensor, _torch_dtype


def _bhattacharyya_block(mu, lv, out=None):
    """mu, lv [B, N, d] -> [B, N, N], the sum over dimensions of
    :func:`infofrag.measures.pair_distance` (written into `out` when given, no autograd)."""
    acc = None
    for k in range(mu.shape[-1]):
        term = pair_distance(mu[:, :, None, k], lv[:, :, None, k], mu[:, None, :, k], lv[:, None, :, k])
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
    mu_t, lv_t, dev = _check_posteriors(mu, logvar, device)
    N, d = mu_t.shape[-2], mu_t.shape[-1]
    cdt = _compute_dtype([mu_t, lv_t], dtype)
    batch = mu_t.shape[:-2]
    B = int(np.prod(batch)) if len(batch) else 1
    mu3, lv3 = mu_t.reshape(B, N, d), lv_t.reshape(B, N, d)
    need_grad = torch.is_grad_enabled() and (mu_t.requires_grad or lv_t.requires_grad)
    per_item = 8 * N * N * (torch.finfo(cdt).bits // 8)  # a handful of N x N temporaries per batch item
    bc = max(1, min(B, int(max_memory or DEFAULT_MAX_MEMORY) // max(per_item, 1)))
    eye = torch.eye(N, dtype=torch.bool, device=dev)
    with torch.set_grad_enabled(need_grad):
        # autograd: out-of-place chunks, concatenated; otherwise each chunk written into place
        out = None if need_grad else torch.empty((B, N, N), dtype=cdt, device=dev)
        parts = []
        for b0 in range(0, B, bc):
            Dc = _bhattacharyya_block(mu3[b0:b0 + bc].to(dev, cdt), lv3[b0:b0 + bc].to(dev, cdt),
                                      out=None if out is None else out[b0:b0 + bc])
            parts.append(_finish(Dc, eye, in_place=out is not None))
        if out is None:
            out = torch.cat(parts, 0) if len(parts) > 1 else parts[0]
    return _output(out.reshape(*batch, N, N), as_numpy)


def _finish(D, eye, in_place: bool):
    """Exactly symmetric (vectorised transcendental tails may round differently), >= 0, zero
    diagonal: in place (no autograd), or out of place (autograd)."""
    if in_place:
        D.copy_(0.5 * (D + D.transpose(-1, -2)))
        D.clamp_(min=0.0)
        D.diagonal(dim1=-2, dim2=-1).zero_()
        return D
    return (0.5 * (D + D.transpose(-1, -2))).clamp(min=0.0).masked_fill(eye, 0.0)


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
        raise ValueError("labels must be [..., N], got a scalar")
    if t.shape[-1] < 2:
        raise ValueError(f"labels needs N >= 2 sample points, got N = {t.shape[-1]}")
    cdt = _torch_dtype(dtype) or torch.float64
    same = t[..., :, None] == t[..., None, :]
    D = torch.zeros(same.shape, dtype=cdt, device=t.device).masked_fill_(~same, math.inf)
    return _output(D, as_numpy)
