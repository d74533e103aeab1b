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

from ..measures import CENTRE_ABOVE, max_distance


def _max_distance(dtype, N):
    """The cap on distances before exp in ``dtype`` (:func:`infofrag.measures.max_distance`)."""
    return max_distance(torch.finfo(dtype).tiny, N)


def _weak_first(source, cap, device, sample=8):
    """A channel order for the fast path's buffers: the channels whose rows are all nearly constant
    (centred) on a few sample rows first, the others after; returns ``(order or None, n_weak)``.

    Centred rows are computed from ``expm1``, the others from ``exp``; with the channels that are
    expected to be centred in one contiguous range, each range gets its own function directly and
    only the rows that turn out otherwise are gathered and recomputed. Costs ``exp`` on ``sample``
    rows of every channel. ``source``: a :mod:`._sources` object.
    """
    M, N = source.M, source.N
    rows = np.unique(np.linspace(0, N - 1, min(N, sample)).round().astype(np.int64))
    with torch.no_grad():
        C = source.sample(rows, cap, device).neg_()  # [M, rows, N]
        m = _ufunc("exp", C).mean(-1, dtype=torch.float64)  # (an estimate: NaN just means "not weak")
        weak = (m > CENTRE_ABOVE).all(-1).cpu().numpy()
    n_weak = int(weak.sum())
    if n_weak in (0, M) or bool(weak[:n_weak].all()):  # already in order
        return None, n_weak
    return np.concatenate([np.nonzero(weak)[0], np.nonzero(~weak)[0]]), n_weak


class _Chunk:
    """Reused buffers for the scaled coefficients X of a chunk of rows of one stack of channels.

    ``buf`` [channels, rows, N] holds X, one extra channel (index M) of constants 1/sqrt(N) -- as
    one more column of the Gram products it yields ``a`` for free -- and ``channels - M - 1``
    channels of zeros (GEMM dimensions in multiples of the CPU's tiles; default: none). The chunk
    of D is copied into ``buf`` as ``-min(D, cap)``, and ``exp`` (C) or ``expm1`` (C - 1) run in
    place: one buffer, so that a chunk of several rows stays in the CPU's caches. ``buf`` is
    channel-major: each channel's rows of the chunk are one contiguous run of D, copied and
    transformed as such (the products read row i as a [channels, N] matrix with a row stride).
    Channels are held in ``order`` (default: D's): its first ``n_weak`` are computed as centred
    rows (``expm1``), the others as uncentred (``exp``); rows that turn out otherwise are read
    again from D and recomputed (see :func:`_weak_first`). The log m sums are in D's order.
    """

    def __init__(self, M, N, rows, dtype, device, channels=None, order=None, n_weak=0):
        channels = M + 1 if channels is None else channels
        self.buf = torch.zeros((channels, rows, N), dtype=dtype, device=device)
        self.buf[M] = 1.0 / math.sqrt(N)
        self.M, self.N, self.rows = M, N, rows
        self.cap = _max_distance(dtype, N)
        self.order = None if order is None else torch.as_tensor(order, device=device)
        self.order_np = None if order is None else np.asarray(order)
        self.n_weak = int(n_weak)

    def _flat_rows(self, uu, ii, device):
        """Rows of ``buf.view(-1, N)`` of channels uu, chunk rows ii."""
        return torch.from_numpy(uu * self.rows + ii).to(device)

    def _rows_again(self, source, i0, uu, ii):
        """``-min(D, cap)`` of the chunk's rows ii of the buffer's channels uu, from the source
        again (their buffer rows already hold exp or expm1 of it)."""
        du = uu if self.order_np is None else self.order_np[uu]
        return source.again(i0, du, ii, self.cap, self.buf.dtype, self.buf.device).neg_()

    def load(self, source, i0, i1):
        """Fill X for rows i0:i1 of ``source`` (a :mod:`._sources` object); returns (X [r,
        channels, N] -- a view of the channel-major buffer -- with the constant channel at M, in the
        buffer's channel order; sum_r log m [M] float64, in the source's order)."""
        r, M, N = i1 - i0, self.M, self.N
        X = self.buf[:M, :r]  # [M, r, N]
        # -D, capped (the cap: no subnormal numbers, see _max_distance)
        source.fill(i0, i1, X, self.order, self.cap, self.n_weak)
        X.neg_()
        W = self.n_weak
        # Uncentred rows: C = exp(-D) and s = N m (float32 sums). Centred rows: C - 1 = expm1(-D),
        # float32's relative precision where C itself, near 1, has only its absolute precision
        # (6e-8: all the information of a channel with D ~ 1e-7); t = N (m - 1) in float64.
        # (Arrays [M, r] below: channel, chunk row.)
        s64 = np.empty((M, r))
        t = np.zeros((M, r))
        if W < M:
            _ufunc("exp", X[W:])
            s64[W:] = torch.sum(X[W:], dim=-1).cpu().numpy()
        if W:
            _ufunc("expm1", X[:W])
            t[:W] = _sum64(X[:W])
            s64[:W] = N + t[:W]
        centred = s64 > CENTRE_ABOVE * N
        np_dtype = np.float32 if X.dtype == torch.float32 else np.float64
        flat = self.buf.view(-1, N)
        # rows computed the other way than they turned out: recomputed, into place
        uu, ii = np.nonzero(~centred[:W])  # expected centred, are not: C
        if len(uu):
            c = _ufunc("exp", self._rows_again(source, i0, uu, ii))
            s64[uu, ii] = torch.sum(c, dim=-1).cpu().numpy()
            t[uu, ii] = 0.0
            flat.index_copy_(0, self._flat_rows(uu, ii, X.device), c)
        if W:  # centred rows: X = (C - m) w, from C - 1
            shift = np.where(centred[:W], t[:W] / N, 0.0).astype(np_dtype)
            X[:W].sub_(torch.from_numpy(shift).to(X.device)[..., None])
        uu, ii = np.nonzero(centred[W:])  # expected uncentred, are centred: C - 1
        if len(uu):
            uu = uu + W
            e = _ufunc("expm1", self._rows_again(source, i0, uu, ii))
            t[uu, ii] = _sum64(e)
            s64[uu, ii] = N + t[uu, ii]
            e.sub_(torch.from_numpy((t[uu, ii] / N).astype(np_dtype)).to(X.device)[:, None])
            flat.index_copy_(0, self._flat_rows(uu, ii, X.device), e)
        log_m = np.where(centred, np.log1p(t / N), np.log(s64) - math.log(N)).sum(1)
        # X = (Y - r) w with w = 1 / (sqrt(N) m): Y - r = C (uncentred) or C - m (centred)
        w = math.sqrt(N) / s64
        X.mul_(torch.from_numpy(w.astype(np_dtype)).to(X.device)[..., None])
        if self.order is not None:  # back to D's channel order
            out = np.empty(M)
            out[self.order.cpu().numpy()] = log_m
            log_m = out
        return self.buf[:, :r].permute(1, 0, 2), torch.from_numpy(log_m).to(X.device)


def _sum64(x):
    """Sums over the last axis in float64, as numpy (float64 on the CPU)."""
    if x.device.type == "cpu":
        return np.add.reduce(x.numpy(), axis=-1, dtype=np.float64)
    return torch.sum(x, dim=-1, dtype=torch.float64).cpu().numpy()


def _ufunc(name, x, out=None):
    """``out = name(x)`` element-wise (in place without ``out``): numpy's SIMD version on the CPU
    (exp ~2x, expm1 ~4x torch's there), torch's elsewhere."""
    out = x if out is None else out
    if x.device.type == "cpu":
        getattr(np, name)(x.numpy(), out=out.numpy())
    else:
        getattr(torch, name)(x, out=out)
    return out


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
