"""The differentiable path of :func:`similarity`: the same sums as the fast path, out of place
(autograd needs every intermediate), one row chunk at a time."""

from __future__ import annotations

import torch

from ._checks import _check_values
from ._coefficients import _scaled_coefficients
from ..measures import DEFAULT_MAX_MEMORY


def _grad_terms(Da, Db, chunk_rows, max_memory, dtype, device):
    """As :func:`_fast_terms`, differentiable; ``acc`` is the full [M, K] (with ``Db`` None,
    lm_b, h_a and h_b are unused placeholders: the caller reads them off ``acc``)."""
    M, N = Da.shape[0], Da.shape[-1]
    sym = Db is None
    K = M if sym else Db.shape[0]
    for D, name in ((Da, "D_a"), (Db, "D_b")):
        if D is not None:
            _check_values(D, name)
    if chunk_rows is None:
        budget = int(max_memory or DEFAULT_MAX_MEMORY) // 8
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
