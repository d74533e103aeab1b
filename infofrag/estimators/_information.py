"""I(U;X) of single channels from their fingerprints."""

from __future__ import annotations

import numpy as np
import torch

from ..devices import resolve_device
from ._checks import _check_diagonal, _check_distance_shape, _is_torch, _output, _to_tensor, _value_error
from ..measures import CENTRE_ABOVE, DEFAULT_MAX_MEMORY, LN2


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
    dev = Dt.device if _is_torch(D) else resolve_device(device)
    N = Dt.shape[-1]
    batch = Dt.shape[:-2]
    B = int(np.prod(batch)) if len(batch) else 1
    D3 = Dt.reshape(B, N, N)
    need_grad = torch.is_grad_enabled() and Dt.requires_grad
    budget = int(max_memory or DEFAULT_MAX_MEMORY) // 3
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
            total = total + torch.where(m > CENTRE_ABOVE, torch.log1p(m1), torch.log(m)).sum(-1)
    out = (-total / (N * LN2)).reshape(batch)
    return _output(out, as_numpy)
