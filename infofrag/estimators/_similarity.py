"""Generalised NMI and VI between all pairs of channels, and the information terms behind them."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..devices import resolve_device
from ..measures import LN2, empty, nmi_vi
from ._autograd import _grad_terms
from ._checks import (_all_finite, _check_diagonal, _check_distance_shape, _compute_dtype, _is_torch, _to_tensor,
                      _torch_dtype)
from ._fast import _fast_terms
from ._sources import PosteriorChannels


class SimilarityTerms(NamedTuple):
    """Information terms behind NMI and VI, in bits.

    ``i_a`` [M]: I(U;X) of each channel of D_a, ``-mean_i log2 mean_j C_ij``;
    ``i_aa`` [M]: the method's I(U;U') term, ``-mean_i log2 mean_j C_ij^2`` -- strictly the
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


def _prepare(D_a, D_b, device):
    """Checked tensors (Db None: pairs within D_a), where to compute, and whether to return numpy."""
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
        dev = resolve_device(device)
    as_numpy = not tensors
    return Da, Db, dev, as_numpy


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


def _prepare_channels(ch_a, ch_b, device, dtype):
    """As :func:`_prepare` for :class:`PosteriorChannels` (numpy results; float32 by default)."""
    if ch_b is not None and not isinstance(ch_b, PosteriorChannels):
        raise ValueError("D_b must be PosteriorChannels too when D_a is (or pass two stacks of distances)")
    if ch_b is not None and ch_b.N != ch_a.N:
        raise ValueError(f"both sets of channels must be over the same N sample points: {ch_a.N} and {ch_b.N}")
    return ch_a, (None if ch_b is ch_a else ch_b), resolve_device(device), True, _torch_dtype(dtype) or torch.float32


def _raw_terms(D_a, D_b, chunk_rows, max_memory, dtype, device):
    """Check the input, run the fast or the autograd path, and complete the symmetric case.

    A float32 result with a non-finite sum is recomputed in float64 (see below).
    """
    if isinstance(D_a, PosteriorChannels):
        Da, Db, dev, as_numpy, cdt = _prepare_channels(D_a, D_b, device, dtype)
        N, M = Da.N, Da.M
        need_grad = False
    else:
        Da, Db, dev, as_numpy = _prepare(D_a, D_b, device)
        cdt = _compute_dtype([t for t in (Da, Db) if t is not None], dtype)
        N, M = Da.shape[-1], Da.shape[0]
        need_grad = torch.is_grad_enabled() and (Da.requires_grad or (Db is not None and Db.requires_grad))
    if chunk_rows is not None and int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    sym = Db is None
    K = M if sym else len(Db)
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
    """(I_a, I_b, H_a, H_b, shared) in bits."""
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


def similarity(D_a, D_b=None, *, min_bits=None, chunk_rows=None, max_memory=None,
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
    min_bits : float, optional
        Channels carrying at most ``min_bits`` bits of I(U;X) count as carrying no information
        (below); default :func:`infofrag.measures.resolution_bits` of the N sample points, the
        information of singling one point out (0.0114 bits at N = 1,000).
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
    that carries no information (a collapsed VAE dimension: H = 0) and, for one that carries less
    than the sample can resolve, a ratio of two channels' rounding. The convention, that of the
    classic NMI for single-cluster clusterings (as in scikit-learn): if both channels carry at
    most ``min_bits`` bits of I(U;X) their NMI is 1 (the same, trivial clustering; their VI is ~0
    too); if exactly one of them does, 0. VI is always the computed value
    ``H_U + H_V - 2 (I_U + I_V - I_UV)`` (clamped at 0 against rounding), never replaced. No NaN
    or inf is ever returned. Above the floor the NMI is computed without cancellation (see
    :mod:`infofrag.estimators`): from float32 fingerprints it is within ~1e-6 of a float64
    computation for H >= 1e-8 bits (``min_bits=0`` computes it for any channel; below 1e-8
    bits float32 rounding of the coefficients dominates: pass float64 fingerprints, or
    ``dtype=float64``, to go further).

    The estimate is not clipped to [0, 1]: for soft channels a finite-sample NMI can exceed 1
    or fall below 0 by a little (it equals the classic NMI exactly for hard clusterings).
    """
    raw = _raw_terms(D_a, D_b, chunk_rows, max_memory, dtype, device)
    i_a, i_b, H_a, H_b, num = _terms_from_raw(raw)
    N = raw.N
    nmi, vi = nmi_vi(num, H_a[:, None], H_b[None, :], empty(i_a, N, min_bits)[:, None],
                     empty(i_b, N, min_bits)[None, :])
    if raw.sym:  # a channel against itself
        if raw.xp is torch:  # autograd: keep the graph
            eye = torch.eye(nmi.shape[0], dtype=torch.bool, device=nmi.device)
            nmi, vi = nmi.masked_fill(eye, 1.0), vi.masked_fill(eye, 0.0)
        else:
            np.fill_diagonal(nmi, 1.0)
            np.fill_diagonal(vi, 0.0)
    if return_terms:
        return raw.output(nmi), raw.output(vi), _terms(raw, i_a, i_b, H_a, H_b, num)
    return raw.output(nmi), raw.output(vi)
