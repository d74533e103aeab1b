"""Monte Carlo estimates of the information in whole latent spaces, with standard errors.

Fingerprints compare channels through Bhattacharyya coefficients, which for whole,
multi-dimensional spaces would need very many sample points to resolve. The paper's
alternative (arXiv:2405.21042) estimates the mutual informations directly: with X uniform over
the N data points, draw a point i, draw latent samples from its posterior, and evaluate the
posterior densities of every point at them. For spaces U (posteriors ``q(u|x)``) and V over the
same N points::

    I_U  = I(U;X)   = E[ log q(u|x_i) - log p(u) ],             p(u) = 1/N sum_j q(u|x_j)
    I_UU = I(UU';X) = E[ log q(u|x_i) q(u'|x_i) - log p(u,u') ], p(u,u') = 1/N sum_j q(u|x_j) q(u'|x_j)
    I_UV = I(UV;X)  = E[ log q(u|x_i) q(v|x_i) - log p(u,v) ],   p(u,v) = 1/N sum_j q(u|x_j) q(v|x_j)

with i uniform and u, u' (and v, v') drawn independently from the posteriors of point i (the two
spaces are conditionally independent given x). These are the quantities the fingerprint
formulas estimate (``-mean_i log2 mean_j C_ij``, ``... C_ij^2``, ``... C^U_ij C^V_ij``): I_UU is
the term the paper writes I(U;U'), the information about X in two independent draws of U; the
mutual information between the two draws is 2 I_U - I_UU, and I_U + I_V - I_UV = I(U;V). NMI and
VI follow as for fingerprints::

    NMI = (I_U + I_V - I_UV) / sqrt((2 I_U - I_UU) (2 I_V - I_VV)),   VI = 2 I_UV - I_UU - I_VV

All five informations are estimated from the same draws, so their errors are correlated; the
standard errors of NMI (delta method) and VI (a linear combination, exact) use the full
per-draw covariance. Sample points are stratified (every point is drawn floor(n/N) or ceil(n/N)
times, in random order); the standard errors treat the draws as independent, which slightly
overstates them (conservative).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .defaults import default
from .devices import resolve_device
from .measures import nmi_vi_scalar, resolution_bits

__all__ = ["Estimate", "MonteCarloResult", "monte_carlo"]

LN2 = math.log(2.0)
LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate and its standard error (same units)."""

    value: float
    se: float

    def __iter__(self):  # allows `value, se = est`
        return iter((self.value, self.se))


@dataclass(frozen=True)
class MonteCarloResult:
    """Monte Carlo information terms (bits), each an :class:`Estimate` (value, se).

    ``i_a`` I(U;X), ``i_aa`` the two-draw term I(UU';X) (the paper's "I(U;U')", see the module
    docstring); ``i_b``, ``i_bb``, ``i_ab`` (I(UV;X)), ``nmi``, ``vi``
    are None when no second space was given. ``n_samples`` draws of ``n_points`` data points,
    from ``seed``.
    """

    i_a: Estimate
    i_aa: Estimate
    i_b: Estimate | None
    i_bb: Estimate | None
    i_ab: Estimate | None
    nmi: Estimate | None
    vi: Estimate | None
    n_samples: int
    n_points: int
    seed: int

    def as_dict(self):
        """Plain nested dict (for JSON / provenance records)."""
        return asdict(self)


def _posteriors(mu, logvar, name):
    out = []
    for x, what in ((mu, "mu"), (logvar, "logvar")):
        arg = f"{what}_{name}"
        if isinstance(x, torch.Tensor):
            t = x.detach().to("cpu", torch.float64)
        else:
            a = np.asarray(x)
            if a.dtype == object or a.dtype.kind not in "biuf":
                raise ValueError(f"{arg} must be a real numeric array, got dtype {a.dtype}")
            t = torch.from_numpy(np.array(a, dtype=np.float64))
        if t.ndim == 1:
            t = t[:, None]
        if t.ndim != 2:
            raise ValueError(f"{arg} must be [N, d] (or [N] for one dimension), got shape {tuple(t.shape)}")
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            i, k = (int(v) for v in torch.nonzero(bad)[0])
            raise ValueError(f"{arg} must be finite; {arg}[{i}, {k}] = {float(t[i, k])!r}")
        out.append(t)
    if out[0].shape != out[1].shape:
        raise ValueError(f"logvar_{name} must have the shape of mu_{name} {tuple(out[0].shape)}, "
                         f"got {tuple(out[1].shape)}")
    if out[0].shape[0] < 2:
        raise ValueError(f"mu_{name} needs N >= 2 data points, got N = {out[0].shape[0]}")
    if out[0].shape[1] < 1:
        raise ValueError(f"mu_{name} needs at least one dimension")
    return out


def _log_q(z, mu, inv_var, log_norm):
    """log q(z_s | x_j) for draws z [S, d] and all points j -> [S, N] (direct differences)."""
    diff = z[:, None, :] - mu[None, :, :]
    return -0.5 * (diff * diff * inv_var[None]).sum(-1) - log_norm[None, :]


def monte_carlo(mu_a, logvar_a, mu_b=None, logvar_b=None, *, n_samples=20000, seed=default("spaces.seed"),
                device=None, min_bits=None, batch_size=None):
    """Monte Carlo information, NMI and VI of whole latent spaces, with standard errors.

    Parameters
    ----------
    mu_a, logvar_a : [N, d_a] (or [N])
        Diagonal-Gaussian posteriors of space U at the N data points (numpy or torch; not
        differentiable).
    mu_b, logvar_b : [N, d_b] (or [N]), optional
        A second space V over the same N data points. Without it only ``i_a`` and ``i_aa``
        are estimated.
    n_samples : int
        Number of draws (each: a data point, two draws from its posterior in each space).
        The standard errors shrink as 1/sqrt(n_samples).
    seed : int
        Seed of the random draws (same seed, same inputs: same result, on any device).
    device : optional
        Where to evaluate the densities (default CUDA if available, else CPU).
    min_bits : float, optional
        A space whose estimated I(U;X) is at most this many bits, or within three standard
        errors of 0, counts as carrying no information (default: the resolution of the N
        points, :func:`infofrag.measures.resolution_bits`, as :func:`infofrag.similarity`); NMI
        then follows the same convention (1 if both are, 0 if one is; standard error 0).
    batch_size : int, optional
        Draws evaluated together (default: about 32 MiB of work per batch).

    Returns
    -------
    MonteCarloResult
        Fields ``i_a, i_aa, i_b, i_bb, i_ab, nmi, vi`` (bits; each an ``Estimate(value, se)``;
        b-fields None without a second space), plus ``n_samples, n_points, seed``.
        ``result.as_dict()`` gives plain dicts.
    """
    S = _check_arguments(n_samples, seed, mu_b, logvar_b)
    spaces = _read_spaces(mu_a, logvar_a, mu_b, logvar_b)
    N = spaces[0][0].shape[0]
    dev = resolve_device(device)
    idx, noise = _draws(S, N, spaces, seed)
    per_draw = _per_draw_terms(spaces, idx, noise, dev, batch_size)
    res = _estimates(per_draw.numpy() / LN2, resolution_bits(N) if min_bits is None else min_bits)  # bits
    return MonteCarloResult(**res, n_samples=S, n_points=N, seed=int(seed))


def _check_arguments(n_samples, seed, mu_b, logvar_b):
    """The number of draws."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if (mu_b is None) != (logvar_b is None):
        raise ValueError("mu_b and logvar_b must be given together")
    return int(n_samples)


def _read_spaces(mu_a, logvar_a, mu_b, logvar_b):
    """[(mu, logvar)] float64 CPU tensors, one per space, over the same N points."""
    spaces = [_posteriors(mu_a, logvar_a, "a")]
    if mu_b is not None:
        spaces.append(_posteriors(mu_b, logvar_b, "b"))
        N, Nb = spaces[0][0].shape[0], spaces[1][0].shape[0]
        if Nb != N:
            raise ValueError(f"mu_b must be over the same N data points as mu_a: mu_a has N = {N}, "
                             f"mu_b has N = {Nb}")
    return spaces


def _draws(S, N, spaces, seed):
    """The data point of each draw (stratified) and two standard-normal draws per space.

    All randomness comes from the seed on the CPU, so every device sees the same draws.
    """
    gen = torch.Generator().manual_seed(int(seed))
    reps = -(-S // N)
    idx = torch.cat([torch.randperm(N, generator=gen) for _ in range(reps)])[:S]
    idx = idx[torch.randperm(S, generator=gen)]
    noise = [(torch.randn(S, m.shape[1], generator=gen, dtype=torch.float64),
              torch.randn(S, m.shape[1], generator=gen, dtype=torch.float64)) for m, _ in spaces]
    return idx, noise


def _per_draw_terms(spaces, idx, noise, dev, batch_size):
    """Per-draw log-ratios (nats) ``[S, 2]`` (one space) or ``[S, 5]`` (two), in batches on ``dev``."""
    S, N = idx.shape[0], spaces[0][0].shape[0]
    prepared = [_prepare(m, lv, dev) for m, lv in spaces]
    if batch_size is None:
        d_tot = sum(m.shape[1] for m, _ in spaces)
        batch_size = max(1, (32 * 2**20) // (8 * N * max(d_tot, 1) * 4))
    per_draw = torch.empty(S, 5 if len(spaces) == 2 else 2, dtype=torch.float64)
    for s0 in range(0, S, batch_size):
        s1 = min(S, s0 + batch_size)
        per_draw[s0:s1] = _batch_terms(prepared, [(e1[s0:s1], e2[s0:s1]) for e1, e2 in noise],
                                       idx[s0:s1].to(dev), N).cpu()
    return per_draw


def _prepare(m, lv, dev):
    """A space on ``dev`` with what its densities need: (mu, logvar, 1/var, log norm, sd)."""
    m = m.to(dev)
    lv = lv.to(dev)
    return m, lv, torch.exp(-lv), 0.5 * (lv.sum(1) + m.shape[1] * LOG_2PI), torch.exp(0.5 * lv)


def _batch_terms(prepared, noise, i, N):
    """Per-draw log-ratios (nats) of one batch of draws ``i`` [B]: columns a, aa (, b, bb, ab)."""
    dev = i.device
    logN = math.log(N)
    ar = torch.arange(i.shape[0], device=dev)
    logs = []  # per space: (L [B, N] for draw 1, L' for draw 2)
    for (m, lv, inv_var, log_norm, sd), (e1, e2) in zip(prepared, noise):
        z1 = m[i] + sd[i] * e1.to(dev)
        z2 = m[i] + sd[i] * e2.to(dev)
        logs.append((_log_q(z1, m, inv_var, log_norm), _log_q(z2, m, inv_var, log_norm)))
    out = []
    for L, L2 in logs:
        lp = torch.logsumexp(L, 1) - logN
        lp2 = torch.logsumexp(L2, 1) - logN
        t_1 = 0.5 * ((L[ar, i] - lp) + (L2[ar, i] - lp2))
        t_11 = L[ar, i] + L2[ar, i] - (torch.logsumexp(L + L2, 1) - logN)
        out += [t_1, t_11]
    if len(logs) == 2:
        (La, La2), (Lb, Lb2) = logs
        t_ab = 0.5 * ((La[ar, i] + Lb[ar, i] - (torch.logsumexp(La + Lb, 1) - logN))
                      + (La2[ar, i] + Lb2[ar, i] - (torch.logsumexp(La2 + Lb2, 1) - logN)))
        out.append(t_ab)
    return torch.stack(out, 1)


def _estimates(T, floor) -> dict:
    """Means and standard errors of the per-draw terms ``T`` [S, 2 or 5] (bits); NMI and VI."""
    S = T.shape[0]
    mean = T.mean(0)
    cov = np.cov(T, rowvar=False, ddof=1) / S
    cov = np.atleast_2d(cov)

    def est(k):
        return Estimate(float(mean[k]), float(math.sqrt(max(cov[k, k], 0.0))))

    res = dict(i_a=est(0), i_aa=est(1), i_b=None, i_bb=None, i_ab=None, nmi=None, vi=None)
    if T.shape[1] == 5:  # order: a, aa, b, bb, ab
        res.update(i_b=est(2), i_bb=est(3), i_ab=est(4))
        w = np.asarray([0, -1, 0, -1, 2], dtype=np.float64)
        vi_v, vi_se = float(w @ mean), float(math.sqrt(max(w @ cov @ w, 0.0)))
        res["vi"] = Estimate(max(vi_v, 0.0), vi_se)
        res["nmi"] = _nmi_estimate(mean, cov, floor)
    return res


def _nmi_estimate(mean, cov, floor) -> Estimate:
    """NMI of the mean terms, its standard error by the delta method; the estimators' convention
    for spaces that carry no information (I(U;X) at most ``floor`` or within three standard
    errors of 0)."""
    ia, iaa, ib, ibb, iab = mean
    num = ia + ib - iab
    ha, hb = 2 * ia - iaa, 2 * ib - ibb
    empty_a = ia <= max(floor, 3.0 * math.sqrt(max(cov[0, 0], 0.0)))
    empty_b = ib <= max(floor, 3.0 * math.sqrt(max(cov[2, 2], 0.0)))
    nmi, _ = nmi_vi_scalar(num, ha, hb, empty_a, empty_b)
    if empty_a or empty_b:  # the convention's value: no error
        return Estimate(nmi, 0.0)
    if not (ha > 0.0 and hb > 0.0):  # an entropy estimate at or below 0 (draws' noise): the
        return Estimate(nmi, math.nan)  # delta method has no derivative there; the error is unknown
    den = math.sqrt(ha * hb)
    # gradient of num / sqrt(ha hb) with respect to (ia, iaa, ib, ibb, iab)
    g_num = np.array([1.0, 0.0, 1.0, 0.0, -1.0])
    g_ha = np.array([2.0, -1.0, 0.0, 0.0, 0.0])
    g_hb = np.array([0.0, 0.0, 2.0, -1.0, 0.0])
    g = g_num / den - nmi * (g_ha / (2 * ha) + g_hb / (2 * hb))
    return Estimate(float(nmi), float(math.sqrt(max(g @ cov @ g, 0.0))))
