"""The scaled coefficients X, a and log m of a chunk of sample rows -- the inputs of the Gram
products -- in two implementations that give the same numbers: :class:`_Chunk` (in place, into
reused buffers; the fast path) and :func:`_scaled_coefficients` (out of place; autograd).

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
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import _value_error
from ._constants import CENTRE_ABOVE


def _max_distance(dtype, N):
    """Distances are capped here before exp (C >= exp(-T)): no coefficient, and no product of two
    scaled coefficients, is a subnormal number -- subnormal operands slow CPU arithmetic (and
    GEMMs) down by orders of magnitude. The cap changes every row sum, which is >= 1, by at most
    N exp(-T) (relative), i.e. by less than 1e-12 for N = 1e4 in float32."""
    tiny = torch.finfo(dtype).tiny
    return 0.5 * (-math.log(tiny) - math.log(max(N, 1))) - 2.0


class _Chunk:
    """Reused buffer for the scaled coefficients X of a chunk of rows of one stack of channels.

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
        if src.dtype == X.dtype:
            torch.clamp(src.permute(1, 0, 2), max=self.cap, out=X)
        else:  # e.g. float32 fingerprints computed in float64 (clamp's out= must match its input)
            X.copy_(src.permute(1, 0, 2)).clamp_(max=self.cap)
        if not bool(torch.amin(Xall) >= 0):  # (the constant channel is > 0)
            raise _value_error(D[:, i0:i1, :], name, offset=(0, i0)) or ValueError(f"{name} contains invalid values")
        X.neg_()
        X.exp_()  # C
        s64 = torch.sum(X, dim=-1, out=self.s[:r]).cpu().numpy().astype(np.float64)  # N m
        centred = s64 > CENTRE_ABOVE * self.N
        log_m = np.log(s64) - math.log(self.N)
        ii, uu = np.nonzero(centred)
        if len(ii):
            cm1, t = self._minus_one(D, src, i0, ii, uu, X)
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

    def _minus_one(self, D, src, i0, ii, uu, X):
        """The centred rows (row i0 + ii of channel uu) as C - 1, and t = N (m - 1) in float64.

        From C - 1 = expm1(-D), which has float32's relative precision (C itself, near 1, has
        only its absolute precision: 6e-8, all the information of a channel with D ~ 1e-7).
        """
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
        return cm1, t


def _scaled_coefficients(D, i0, i1, dtype, device):
    """Differentiable version of :meth:`_Chunk.load` (out-of-place, same numbers).

    Returns X [r, M, N], a [r, M] and sum_r log m [M] (float64) for rows i0:i1.
    """
    N = D.shape[-1]
    Dc = D[:, i0:i1, :].to(device, dtype).clamp(max=_max_distance(dtype, N))
    C = torch.exp(-Dc)  # [M, r, N]
    s = C.sum(-1, keepdim=True, dtype=torch.float64)  # N m
    centred = s.detach() > CENTRE_ABOVE * N
    cm1 = torch.expm1(-Dc)  # C - 1, to relative precision
    t = cm1.sum(-1, keepdim=True, dtype=torch.float64)  # N (m - 1)
    w = (math.sqrt(N) / torch.where(centred, N + t, s)).to(dtype)
    X = torch.where(centred, cm1 - (t / N).to(dtype), C) * w
    a = X.sum(-1) / math.sqrt(N)
    log_m = torch.where(centred, torch.log1p(t / N), torch.log(s / N))[..., 0]
    return X.transpose(0, 1), a.transpose(0, 1), log_m.sum(1)
