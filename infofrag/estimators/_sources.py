"""Where the similarity kernel's distances come from: a stack of distance matrices, or the
posteriors that define them.

A one-dimensional channel's fingerprint, its N x N Bhattacharyya distances, is fully defined by
its posteriors on the sample, ``mu`` and ``logvar`` [N] (2 N numbers). :class:`PosteriorChannels`
holds M such channels and gives the kernel the rows of their distances chunk by chunk, computed
where they are used (:func:`infofrag.measures.fast_pair_distance`), so that no N x N matrix is
ever stored or read; :class:`DenseRows` gives the same rows of matrices a caller passes.

Both give ``min(D, cap)`` rows in the kernel's buffer order (``fill``), a few sample rows to
guess which channels are weak (``sample``), and single rows again (``again``: rows that turn out
to need the other treatment, centred or not). Computed rows: channels expected to have nearly
constant rows (weak channels, whose centred coefficients ``expm1(-D)`` need D to its relative
precision) in float64, the others in the kernel's dtype -- a few units in the last place of the
float32 matrix a fingerprint once stored, rounded from float64.
"""

from __future__ import annotations

import numpy as np
import torch

from ..measures import check_posteriors, distances, fast_pair_distance
from ._checks import _to_tensor, _value_error

#: elements of one block of computed rows (its temporaries stay in the CPU's caches)
_BLOCK_ELEMENTS = 2**18


class DenseRows:
    """Rows of a stack of distance matrices ``D`` [M, N, N] (a tensor)."""

    def __init__(self, D, name: str):
        self.D, self.name = D, name
        self.M, self.N = D.shape[0], D.shape[-1]

    def sample(self, rows, cap, device):
        """``min(D, cap)`` at sample rows ``rows`` (int array): [M, len(rows), N]."""
        return torch.clamp(self.D[:, torch.from_numpy(rows).to(self.D.device), :].to(device), max=cap)

    def fill(self, i0, i1, out, order, cap, n_weak):
        """``out`` [M, r, N] = ``min(D, cap)`` of rows i0:i1, channels in ``order`` (tensor or
        None); NaN, -inf or negative distances raise ``ValueError`` naming the position."""
        src = self.D[:, i0:i1, :]
        if src.device != out.device:
            src = src.to(out.device)
        if src.dtype != out.dtype:  # e.g. float32 fingerprints computed in float64
            src = src.to(out.dtype)
        if order is None:
            torch.clamp(src, max=cap, out=out)
        else:
            if out.is_contiguous():
                torch.index_select(src, 0, order, out=out)
            else:  # the last, shorter chunk: a strided view of the buffer
                out.copy_(torch.index_select(src, 0, order))
            out.clamp_(max=cap)
        # NaN, -inf or negative distances make the minimum NaN or < 0
        if not bool(torch.amin(out) >= 0):
            raise _value_error(self.D[:, i0:i1, :], self.name, offset=(0, i0)) \
                or ValueError(f"{self.name} contains invalid values")

    def again(self, i0, channels, ii, cap, dtype, device):
        """``min(D, cap)`` rows [k, N] of channels ``channels`` (D's order) at chunk rows ``ii``."""
        rows = self.D[torch.from_numpy(channels).to(self.D.device), torch.from_numpy(i0 + ii).to(self.D.device)]
        return rows.to(device, dtype).clamp_(max=cap)


class PosteriorChannels:
    """M one-dimensional Gaussian channels on the same N sample points: their posteriors
    ``mu``, ``logvar`` [M, N] (numpy or torch), what defines their fingerprints.

    Pass it to :func:`infofrag.similarity` (or ``similarity_terms``) in place of a stack of
    distance matrices: the kernel computes the distances as it uses them. Posteriors must be
    finite and within :data:`infofrag.measures.LOGVAR_LIMIT` and ``MU_LIMIT``. ``distances(k)``
    gives channel k's matrix (float64), for those who want it.
    """

    #: the posteriors' dimensions, and their layout as errors name it
    NDIM, SHAPE = 2, "[M, N] (M channels, N sample points)"

    def __init__(self, mu, logvar, name: str = "channels"):
        mu_t = _to_tensor(mu, f"{name} mu").detach().to("cpu", torch.float64)
        lv_t = _to_tensor(logvar, f"{name} logvar").detach().to("cpu", torch.float64)
        if mu_t.ndim != self.NDIM or lv_t.shape != mu_t.shape:
            raise ValueError(f"{name}: mu and logvar must both be {self.SHAPE}; got "
                             f"{tuple(mu_t.shape)} and {tuple(lv_t.shape)}")
        if mu_t.shape[1] < 2:
            raise ValueError(f"{name}: needs N >= 2 sample points, got N = {mu_t.shape[1]}")
        check_posteriors(mu_t.numpy(), lv_t.numpy(), name)
        self.name = name
        self.M, self.N = mu_t.shape[:2]
        self.mu, self.logvar = mu_t, lv_t
        self._at = {}  # (device, dtype, order) -> (mu, r, s) in that order

    def __len__(self):
        return self.M

    def distances(self, k: int) -> np.ndarray:
        """Channel k's Bhattacharyya distances [N, N] (float64, :func:`infofrag.measures.distances`)."""
        return distances(self.mu[k].numpy(), self.logvar[k].numpy())

    def _per_point(self, device, dtype, order=None):
        """(mu, r = exp(lv / 2), s = r^2) [M, N] on ``device`` in ``dtype``, channels in ``order``."""
        key = (str(device), dtype, None if order is None else tuple(order.tolist()))
        if key not in self._at:
            mu, lv = self.mu, self.logvar
            if order is not None:
                mu, lv = mu[order.cpu()], lv[order.cpu()]
            r = torch.exp(0.5 * lv)
            self._at[key] = tuple(t.to(device, dtype) for t in (mu, r, r * r))
        return self._at[key]

    def _rows_into(self, out, mu, r, s, i0, i1):
        """``out`` [k, r, N] = D of rows i0:i1 of the channels whose per-point values are given,
        computed in ``out``'s dtype, block by block."""
        k_all, rr, N = out.shape
        kb = max(1, _BLOCK_ELEMENTS // max(1, rr * N))
        tmp = torch.empty((min(kb, k_all), rr, N), dtype=out.dtype, device=out.device)
        tmp2 = torch.empty_like(tmp)
        for k0 in range(0, k_all, kb):
            k1 = min(k_all, k0 + kb)
            n = k1 - k0
            fast_pair_distance(out[k0:k1], tmp[:n], tmp2[:n], mu[k0:k1, i0:i1, None], r[k0:k1, i0:i1, None],
                               s[k0:k1, i0:i1, None], mu[k0:k1, None, :], r[k0:k1, None, :], s[k0:k1, None, :])

    def sample(self, rows, cap, device):
        """``min(D, cap)`` at sample rows ``rows``: [M, len(rows), N] (float32)."""
        mu, r, s = self._per_point(device, torch.float32)
        out = torch.empty((self.M, len(rows), self.N), dtype=torch.float32, device=device)
        idx = torch.from_numpy(rows).to(device)
        for j, i in enumerate(idx.tolist()):
            self._rows_into(out[:, j:j + 1], mu, r, s, i, i + 1)
        return out.clamp_(max=cap)

    def fill(self, i0, i1, out, order, cap, n_weak):
        """``out`` [M, r, N] = ``min(D, cap)`` of rows i0:i1, channels in ``order``: the first
        ``n_weak`` computed in float64, the others in ``out``'s dtype."""
        W = int(n_weak)
        if W:
            mu, r, s = self._per_point(out.device, torch.float64, order)
            exact = torch.empty((W,) + tuple(out.shape[1:]), dtype=torch.float64, device=out.device)
            self._rows_into(exact, mu[:W], r[:W], s[:W], i0, i1)
            out[:W].copy_(exact)
        if W < self.M:
            mu, r, s = self._per_point(out.device, out.dtype, order)
            self._rows_into(out[W:], mu[W:], r[W:], s[W:], i0, i1)
        out.clamp_(min=0.0, max=cap)

    def again(self, i0, channels, ii, cap, dtype, device):
        """``min(D, cap)`` rows [k, N] of channels ``channels`` (this object's order) at chunk rows
        ``ii``, computed in float64."""
        mu, r, s = self._per_point(device, torch.float64)
        ch = torch.from_numpy(channels).to(device)
        pts = torch.from_numpy(i0 + ii).to(device)
        out = torch.empty((len(channels), 1, self.N), dtype=torch.float64, device=device)
        tmp, tmp2 = torch.empty_like(out), torch.empty_like(out)
        fast_pair_distance(out, tmp, tmp2, mu[ch, pts][:, None, None], r[ch, pts][:, None, None],
                           s[ch, pts][:, None, None], mu[ch][:, None, :], r[ch][:, None, :], s[ch][:, None, :])
        return out[:, 0].to(dtype).clamp_(min=0.0, max=cap)


class PosteriorSpaces(PosteriorChannels):
    """M whole latent spaces of d diagonal-Gaussian channels on the same N sample points: their
    posteriors ``mu``, ``logvar`` [M, N, d]. A space's Bhattacharyya distances are the sum of
    its channels' (exact for diagonal Gaussians), computed by the kernel as it uses them, like
    :class:`PosteriorChannels` -- so comparing every pair of a zoo's members costs one pass over
    each member's distance rows, never an N x N matrix per member held or recomputed per pair.
    """

    NDIM, SHAPE = 3, "[M, N, d] (M spaces, N sample points, d channels)"

    def __init__(self, mu, logvar, name: str = "spaces"):
        super().__init__(mu, logvar, name)
        self.d = self.mu.shape[2]

    def distances(self, k: int) -> np.ndarray:
        """Space k's Bhattacharyya distances [N, N] (float64): the sum of its channels'."""
        return sum(distances(self.mu[k, :, c].numpy(), self.logvar[k, :, c].numpy()) for c in range(self.d))

    def _rows_into(self, out, mu, r, s, i0, i1):
        """``out`` [k, r, N] = the spaces' D of rows i0:i1: their channels' rows summed."""
        k_all, rr, N = out.shape
        kb = max(1, _BLOCK_ELEMENTS // max(1, rr * N))
        shape = (min(kb, k_all), rr, N)
        acc, tmp, tmp2 = (torch.empty(shape, dtype=out.dtype, device=out.device) for _ in range(3))
        for k0 in range(0, k_all, kb):
            k1 = min(k_all, k0 + kb)
            n = k1 - k0
            for c in range(self.d):
                dst = out[k0:k1] if c == 0 else acc[:n]
                fast_pair_distance(dst, tmp[:n], tmp2[:n], mu[k0:k1, i0:i1, c, None], r[k0:k1, i0:i1, c, None],
                                   s[k0:k1, i0:i1, c, None], mu[k0:k1, None, :, c], r[k0:k1, None, :, c],
                                   s[k0:k1, None, :, c])
                if c:
                    out[k0:k1] += acc[:n]

    def again(self, i0, channels, ii, cap, dtype, device):
        """``min(D, cap)`` rows [k, N] of spaces ``channels`` at chunk rows ``ii``, in float64."""
        mu, r, s = self._per_point(device, torch.float64)
        ch = torch.from_numpy(channels).to(device)
        pts = torch.from_numpy(i0 + ii).to(device)
        out = torch.zeros((len(channels), 1, self.N), dtype=torch.float64, device=device)
        one, tmp, tmp2 = torch.empty_like(out), torch.empty_like(out), torch.empty_like(out)
        for c in range(self.d):
            fast_pair_distance(one, tmp, tmp2, mu[ch, pts, c][:, None, None], r[ch, pts, c][:, None, None],
                               s[ch, pts, c][:, None, None], mu[ch, :, c][:, None, :], r[ch, :, c][:, None, :],
                               s[ch, :, c][:, None, :])
            out += one
        return out[:, 0].to(dtype).clamp_(min=0.0, max=cap)
