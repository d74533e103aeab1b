"""One fused channel against K fixed target channels: the terms of a fusion step and their
gradient, written out by hand (no autograd graph over N x N intermediates).

A fusion (:func:`infofrag.boost.fuse`) evaluates, at every step, the shared information
``I(F;V_k)`` of one free channel F (per-sample Gaussians ``mu``, ``logvar`` ``[N, d]``) with each
of K fixed targets and F's generalised entropy ``H_F``, and differentiates them. These are the
numbers :func:`similarity_terms` gives for ``(D_F[None], D_targets)``, computed the same way --
the scaled coefficients ``X``, ``a`` of ``_coefficients`` (nearly constant rows centred, from
``expm1``), products in the working dtype, ``log1p`` of the Gram terms and the sums over rows in
float64 -- but for M = 1 against constant targets:

* everything that depends on the targets only (their ``X`` in an ``[N, K, N]`` layout, ``a``
  and ``H``) is computed once, by :class:`FusionTargets`;
* per step: F's fingerprint and its ``X``, ``a`` (N x N element-wise work), then for every row
  i the K products ``X^k_i . X^F_i`` -- one batched matrix-vector product ``[N, K, N] x [N, N]``
  (one fused channel: no Gram matrix);
* the backward pass: the same batched product transposed, then the chain rule through the row
  normalisation, ``exp`` and the Bhattacharyya formula, element-wise, from what the forward
  pass kept.

On the CPU the batched products are numpy's ``einsum`` (single-threaded, at about the memory
bandwidth of streaming the targets once) and the element-wise transcendental functions numpy's
SIMD ``exp``/``expm1``/``log1p``; elsewhere torch's. The ``[N, d]``-sized outer part (the
normalisation of the means, the bounded log-variances, the NMI / VI formula over ``[K]``) stays
on autograd: :class:`FusedTerms` is an autograd function of ``(mu, logvar)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._coefficients import _max_distance, _scaled_coefficients
from ..measures import CENTRE_ABOVE, LN2

# Rows of the targets prepared at a time (bounds the temporaries of the one-off preparation).
_PREP_ROWS = 64

#: Largest prepared targets (bytes of their [N, K, N] coefficients) the dedicated path holds;
#: beyond, a fusion uses the general path (which recomputes them in row chunks at every step).
MAX_PREPARED_BYTES = 4 * 2**30


def hot_path_supports(dtype, logvar_bounds, n_targets=0, n_points=0):
    """Whether :class:`FusedTerms` applies: float32 or float64; log-variances within bounds where
    it computes without overflow (it forms ``(mu_i - mu_j) / (s_i + s_j)``, its square and
    ``expm1`` of half log-variance differences from ``s = exp(logvar)`` directly; fusions, with
    means at unit RMS radius and log-variances within a few units, are far inside); and prepared
    targets of at most :data:`MAX_PREPARED_BYTES`."""
    if dtype not in (torch.float32, torch.float64):
        return False
    if n_targets * n_points * n_points * (torch.finfo(dtype).bits // 8) > MAX_PREPARED_BYTES:
        return False
    limit = math.log(torch.finfo(dtype).max) / 3.0  # float32: ~29.6
    return all(math.isfinite(float(b)) and abs(float(b)) <= limit for b in logvar_bounds)


def _ufunc_(name, t, out=None):
    """``out = name(t)`` element-wise (in place when ``out`` is None): numpy's SIMD version on the
    CPU (2-4x torch's there), torch's elsewhere."""
    out = t if out is None else out
    if t.device.type == "cpu":
        getattr(np, name)(t.numpy(), out=out.numpy())
    else:
        torch.__dict__[name](t, out=out)
    return out


def _rows_dot_targets(Xt, x):
    """``[N, K]``: ``Xt[i, k, :] . x[i, :]`` for every row i and target k."""
    if Xt.device.type == "cpu":
        return torch.from_numpy(np.einsum("ikj,ij->ik", Xt.numpy(), x.numpy()))
    return torch.bmm(x[:, None, :], Xt.transpose(1, 2))[:, 0, :]


def _targets_dot_rows(p, Xt):
    """``[N, N]``: ``sum_k p[i, k] Xt[i, k, :]`` for every row i."""
    if Xt.device.type == "cpu":
        return torch.from_numpy(np.einsum("ik,ikj->ij", p.numpy(), Xt.numpy()))
    return torch.bmm(p[:, None, :], Xt)[:, 0, :]


class FusionTargets:
    """The target-only quantities of a fusion, computed once from the targets' fingerprints
    ``D`` ``[K, N, N]``: ``X`` as ``[N, K, N]`` (row i, target k), ``a`` ``[N, K]`` and the
    targets' ``H`` in bits (``h_bits`` ``[K]``, float64), as :func:`similarity_terms` computes them."""

    def __init__(self, D, dtype, device):
        K, N = D.shape[0], D.shape[-1]
        self.N, self.K, self.dtype, self.device = N, K, dtype, device
        self.X = torch.empty((N, K, N), dtype=dtype, device=device)
        self.a = torch.empty((N, K), dtype=dtype, device=device)
        h = torch.zeros(K, dtype=torch.float64, device=device)
        with torch.no_grad():
            for i0 in range(0, N, _PREP_ROWS):
                i1 = min(N, i0 + _PREP_ROWS)
                X, a, _ = _scaled_coefficients(D, i0, i1, dtype, device)
                self.X[i0:i1] = X
                self.a[i0:i1] = a
                h += torch.log1p((torch.linalg.vecdot(X, X) - a * a).to(torch.float64)).sum(0)
        self.h_bits = h / (N * LN2)


class _Saved:
    """What the backward pass needs from the forward pass of one step."""

    __slots__ = ("C", "X", "w", "rs", "centred", "G", "Gff", "s", "dims")


def _fingerprint(mu, lv, need_grad):
    """``-D``, with ``D_ij = sum_d [(mu_id - mu_jd)^2 / (4 (s_id + s_jd)) + 1/2 log cosh((lv_id -
    lv_jd) / 2)]`` (as :func:`bhattacharyya`, ``log cosh`` without cancellation for small
    arguments); per dimension, for the backward pass, ``q = (mu_i - mu_j) / (s_i + s_j)`` and
    ``tanh((lv_i - lv_j) / 2)``."""
    s = torch.exp(lv)
    negD = None
    dims = []
    for k in range(mu.shape[1]):
        diff = mu[:, None, k] - mu[None, :, k]
        q = torch.add(s[:, None, k], s[None, :, k])
        q = torch.div(diff, q, out=q)
        x = 0.5 * lv[:, None, k] - 0.5 * lv[None, :, k]
        e1 = _ufunc_("expm1", x.abs())  # e^|x| - 1
        ep = e1 + 1.0
        # log cosh x = log1p(cosh|x| - 1), cosh|x| - 1 = e1^2 / (2 (1 + e1))
        lc = torch.mul(e1, e1).div_(ep).mul_(0.5)
        _ufunc_("log1p", lc)
        term = diff.mul_(q).mul_(-0.25)
        term.sub_(lc.mul_(0.5))  # minus this dimension's part of D
        negD = term if negD is None else negD.add_(term)
        if need_grad:
            # tanh x = e1 (e1 + 2) / (e1 (e1 + 2) + 2), with the sign of x
            e2 = ep.add_(1.0).mul_(e1)
            th = torch.add(e2, 2.0, out=e1)
            th = torch.div(e2, th, out=th)
            th = torch.copysign(th, x, out=th)
            dims.append((q, th))
    return negD, s, dims


def _forward(mu, lv, targets, need_grad=True):
    """(acc [K], h): float64 sums over rows of log1p(G_ik) and log1p(G_FF,i); and what the
    backward pass needs."""
    N, dtype = targets.N, targets.dtype
    negD, s, dims = _fingerprint(mu.to(dtype), lv.to(dtype), need_grad)
    negD.clamp_(min=-_max_distance(dtype, N))  # no subnormal coefficients (see _coefficients)
    C = _ufunc_("exp", negD, out=torch.empty_like(negD))
    rs = C.sum(1).to(torch.float64)  # N m
    centred = rs > CENTRE_ABOVE * N
    rootN = math.sqrt(N)
    idx = None
    if bool(centred.any()):  # nearly constant rows: from C - 1 = expm1(-D), as the estimators
        idx = torch.nonzero(centred)[:, 0]
        cm1 = _ufunc_("expm1", negD[idx])
        t = cm1.sum(1, dtype=torch.float64)  # N (m - 1)
        rs = rs.index_copy(0, idx, N + t)
        w = (rootN / rs).to(dtype)
        X = torch.mul(C, w[:, None])
        X[idx] = (cm1 - (t / N).to(dtype)[:, None]).mul_(w[idx, None])
    else:
        w = (rootN / rs).to(dtype)
        X = torch.mul(C, w[:, None])
    a = X.sum(1) / rootN
    G = _rows_dot_targets(targets.X, X)  # [N, K]: X^k_i . X^F_i
    G.addcmul_(a[:, None], targets.a, value=-1.0)
    G = G.to(torch.float64)
    Gff = (torch.linalg.vecdot(X, X) - a * a).to(torch.float64)
    acc = torch.log1p(G).sum(0)
    h = torch.log1p(Gff).sum()
    saved = None
    if need_grad:
        saved = _Saved()
        saved.C, saved.X, saved.w, saved.rs, saved.centred = C, X, w, rs, idx
        saved.G, saved.Gff, saved.s, saved.dims = G, Gff, s, dims
    return acc, h, saved


def _backward(sv, g_acc, g_h, targets):
    """Gradients in (mu, lv) of ``g_acc . acc + g_h h``."""
    N, dtype = targets.N, targets.dtype
    rootN = math.sqrt(N)
    P = (g_acc[None, :] / (1.0 + sv.G)).to(dtype)  # d/dG_ik
    gX = _targets_dot_rows(P, targets.X)  # [N, N]
    gX.addcmul_((2.0 * g_h / (1.0 + sv.Gff)).to(dtype)[:, None], sv.X)
    # (a_i = sum_j X_ij / sqrt(N) is 1 or 0 identically: its gradient vanishes.)
    gx = torch.linalg.vecdot(gX, sv.X)  # sum_l gX_il X_il
    rows = None
    if sv.centred is not None:
        # centred rows: X_ij = (e_ij - t_i / N) w_i, w_i = sqrt(N) / (N + t_i), e = C - 1:
        # dL/de_ij = w_i (gX_ij - mean_l gX_il) - sum_l gX_il X_il / (N + t_i)
        i = sv.centred
        rows = gX[i]
        rows.sub_(rows.mean(1, keepdim=True)).mul_(sv.w[i, None])
        rows.sub_((gx[i] / sv.rs[i]).to(dtype)[:, None])
    # X_ij = C_ij w_i, w_i = sqrt(N) / sum_l C_il:  dL/dC_ij = w_i (gX_ij - sum_l gX_il X_il / sqrt(N))
    gX.sub_((gx / rootN)[:, None]).mul_(sv.w[:, None])
    if rows is not None:
        gX[sv.centred] = rows
    gN = gX.mul_(sv.C)  # dL/d(-D): dC/d(-D) = de/d(-D) = C
    d = len(sv.dims)
    gmu = torch.empty((N, d), dtype=dtype, device=gN.device)
    glv = torch.empty((N, d), dtype=dtype, device=gN.device)
    # D_ij = D_ji, both depend on point i; per dimension, -D_ij = -q_ij (mu_i - mu_j) / 4 -
    # log cosh((lv_i - lv_j) / 2) / 2 with q = (mu_i - mu_j) / (s_i + s_j) antisymmetric, q^2
    # symmetric, tanh((lv_i - lv_j) / 2) antisymmetric:
    # dL/dmu_i = -1/2 sum_j (gN_ij + gN_ji) q_ij = -1/2 (rowsum - colsum)(gN q)
    # dL/dlv_i = s_i / 4 (rowsum + colsum)(gN q^2) - 1/4 (rowsum - colsum)(gN tanh)
    for k, (q, th) in enumerate(sv.dims):
        Z = torch.mul(gN, q)
        gmu[:, k] = -0.5 * (Z.sum(1) - Z.sum(0))
        Z.mul_(q)
        glv[:, k] = 0.25 * sv.s[:, k] * (Z.sum(1) + Z.sum(0))
        W = torch.mul(gN, th, out=Z)
        glv[:, k] -= 0.25 * (W.sum(1) - W.sum(0))
    return gmu, glv


class FusedTerms(torch.autograd.Function):
    """``(shared [K], H_F)``, in bits, of the fused channel ``(mu, logvar)`` against the
    prepared targets, float64, differentiable in ``mu`` and ``logvar``."""

    @staticmethod
    def forward(ctx, mu, lv, targets):
        acc, h, saved = _forward(mu.detach(), lv.detach(), targets, need_grad=True)
        ctx.saved, ctx.targets = saved, targets
        ctx.dtypes = (mu.dtype, lv.dtype)
        scale = 1.0 / (targets.N * LN2)
        return acc * scale, h * scale

    @staticmethod
    def backward(ctx, g_shared, g_h):
        T = ctx.targets
        scale = 1.0 / (T.N * LN2)
        g_acc = g_shared * scale if g_shared is not None else torch.zeros(T.K, dtype=torch.float64, device=T.device)
        g_h = g_h * scale if g_h is not None else torch.zeros((), dtype=torch.float64, device=T.device)
        gmu, glv = _backward(ctx.saved, g_acc, g_h, T)
        return gmu.to(ctx.dtypes[0]), glv.to(ctx.dtypes[1]), None
