"""Input conversion and validation shared by the estimators.

Invalid input fails here, early, with a ``ValueError`` that names the argument, the position
and the value -- rather than as a NaN deep inside a Gram product.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from ..measures import DIAGONAL_TOL


def _is_torch(x):
    return isinstance(x, torch.Tensor)


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


def _check_posteriors(mu, logvar, device):
    """(mu, logvar as tensors, where to compute) of posteriors ``[..., N, d]``: the same shape,
    N >= 2, d >= 1, finite, on one device (numpy input: ``device`` or the default)."""
    from ..devices import resolve_device

    mu_t, lv_t = _to_tensor(mu, "mu"), _to_tensor(logvar, "logvar")
    if mu_t.ndim < 2:
        raise ValueError(f"mu must be [..., N, d], got shape {tuple(mu_t.shape)}")
    if lv_t.shape != mu_t.shape:
        raise ValueError(f"logvar must have the shape of mu {tuple(mu_t.shape)}, got {tuple(lv_t.shape)}")
    if mu_t.shape[-2] < 2:
        raise ValueError(f"mu needs N >= 2 sample points, got N = {mu_t.shape[-2]}")
    if mu_t.shape[-1] < 1:
        raise ValueError("mu needs at least one dimension d >= 1")
    for t, name in ((mu_t, "mu"), (lv_t, "logvar")):
        bad = ~torch.isfinite(t.detach())
        if bool(bad.any()):
            idx = tuple(int(v) for v in torch.nonzero(bad)[0].tolist())
            raise ValueError(f"{name} must be finite; {name}[{', '.join(map(str, idx))}] = {float(t.detach()[idx])!r}")
    if _is_torch(mu) and _is_torch(logvar) and mu.device != logvar.device:
        raise ValueError(f"mu and logvar are on different devices ({mu.device}, {logvar.device})")
    dev = mu.device if _is_torch(mu) else logvar.device if _is_torch(logvar) else resolve_device(device)
    return mu_t, lv_t, dev


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
    """The requested dtype, else float64 if any input is float64, else float32."""
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
    """Describe the first invalid value (NaN, -inf or negative) of D (slow path, on error).

    ``offset`` is where the slice ``D`` starts in the caller's array, so that the message
    points into the array the user passed.
    """
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


def _all_finite(t):
    """numpy or torch; on the CPU through numpy (no thread fork/join for one reduction)."""
    if isinstance(t, np.ndarray):
        return bool(np.isfinite(t).all())
    t = t.detach()
    return bool(np.isfinite(t.numpy()).all()) if t.device.type == "cpu" else bool(torch.isfinite(t).all())
