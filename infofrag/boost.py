"""Boosting (model fusion): optimise a new representation to share information with channels.

A fused representation is a set of free per-sample Gaussian posteriors ``N(mu_i, diag(exp(logvar_i)))``
on the fingerprint sample (``N`` points, ``dim`` dimensions). Its Bhattacharyya fingerprint is
compared with the fingerprints of ``K`` target channels by the generalised information measures,
and the posteriors are trained with Adam to maximise the mean similarity:

* ``"nmi"``: mean generalised NMI to the targets (maximised);
* ``"vi"``: mean generalised VI to the targets in bits (minimised);
* ``"info"``: mean shared information ``I(U;V) = I_U + I_V - I_UV`` in bits (maximised).

Everything goes through :func:`infofrag.bhattacharyya` and :func:`infofrag.similarity_terms`, so
the fusion uses the same (batched, GPU-capable) estimators as the rest of the pipeline.

Entry points: :func:`fuse`, :func:`continuity`, :func:`ensemble_size_sweep`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

import infofrag
from infofrag.estimators import DIAGONAL_TOL

log = logging.getLogger(__name__)

OBJECTIVES = ("nmi", "vi", "info")

#: Default bounds of the fused log-variances (natural log of the variance), relative to means that
#: are kept centred with unit root-mean-square radius (see :func:`fuse`). The log-variance is
#: parameterised as ``lo + (hi - lo) * sigmoid(raw)``: it can never run off to -inf (zero-width
#: posteriors, exploding distances) or to posteriors much wider than the cloud of means (a collapsed,
#: uninformative representation, where the generalised NMI is ill-conditioned: its normalisation
#: ``2 I_U - I_UU`` vanishes to second order while the shared information does so to first order,
#: so an NMI ascent would otherwise happily collapse to spurious values above 1).
LOGVAR_BOUNDS = (-7.0, 0.0)

# The NMI normalisation sqrt((2 I_U - I_UU)(2 I_V - I_VV)) is zero for a channel with no
# information; the floor keeps its gradient finite there.
_NMI_DEN_FLOOR = 1e-6

# Above this many fingerprint points the spectral start solves for its few eigenpairs only.
_DENSE_EIGH_MAX = 2000


@dataclass
class FusionResult:
    """Outcome of :func:`fuse`.

    ``mu``/``logvar`` are float32 arrays ``[N, dim]``. ``curve`` holds the mean objective (in its
    natural sign: NMI, VI bits, or shared bits) at every step that was run. ``status`` is ``"ok"``
    or ``"diverged"``; after a divergence ``mu``/``logvar`` are the last finite parameters and
    ``message`` says at which step and why. ``info_bits`` is I(U;X) of the fused representation;
    ``mean_similarity`` the final mean objective; ``mean_nmi``/``mean_vi``/``mean_shared_bits``
    all three measures of the returned parameters (NaN where they could not be computed).
    """

    mu: np.ndarray
    logvar: np.ndarray
    curve: list
    status: str
    message: str
    info_bits: float
    mean_similarity: float
    objective: str
    steps_run: int
    mean_nmi: float = math.nan
    mean_vi: float = math.nan
    mean_shared_bits: float = math.nan
    params: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-serialisable summary without the arrays (non-finite numbers become ``None``)."""
        return {
            "status": self.status,
            "message": self.message,
            "objective": self.objective,
            "steps_run": self.steps_run,
            "n_points": int(self.mu.shape[0]),
            "dim": int(self.mu.shape[1]),
            "info_bits": _finite_or_none(self.info_bits),
            "mean_similarity": _finite_or_none(self.mean_similarity),
            "mean_nmi": _finite_or_none(self.mean_nmi),
            "mean_vi": _finite_or_none(self.mean_vi),
            "mean_shared_bits": _finite_or_none(self.mean_shared_bits),
            "final_objective": _finite_or_none(self.curve[-1]) if self.curve else None,
            "params": dict(self.params),
        }


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _resolve_device(device) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _check_targets(target_D) -> torch.Tensor:
    D = torch.as_tensor(np.asarray(target_D) if not isinstance(target_D, torch.Tensor) else target_D)
    if D.ndim == 2:
        D = D[None]
    if D.ndim != 3 or D.shape[-1] != D.shape[-2]:
        raise ValueError(f"target_D must have shape [K, N, N] (or [N, N]); got {tuple(D.shape)}")
    if D.shape[0] < 1 or D.shape[-1] < 2:
        raise ValueError(f"target_D needs at least one channel and two points; got {tuple(D.shape)}")
    if torch.isnan(D).any():
        raise ValueError("target_D contains NaN distances")
    if (D < 0).any():
        raise ValueError("target_D contains negative distances (min %.3g)" % float(D.min()))
    if (D.diagonal(dim1=-2, dim2=-1).abs() > DIAGONAL_TOL).any():
        raise ValueError("target_D must have a zero diagonal (the distance of a posterior to itself)")
    return D


def _objective_terms(t):
    """Per-target shared information, NMI and VI from the similarity terms (fused = side a)."""
    shared = t.i_a[:, None] + t.i_b[None, :] - t.i_ab
    den = (2 * t.i_a - t.i_aa)[:, None] * (2 * t.i_b - t.i_bb)[None, :]
    nmi = shared / torch.sqrt(torch.clamp(den, min=_NMI_DEN_FLOOR))
    vi = 2 * t.i_ab - t.i_aa[:, None] - t.i_bb[None, :]
    return shared[0], nmi[0], vi[0]


def _measures(mu, logvar, targets):
    """Fused fingerprint and the three per-target measures [K] (torch, differentiable)."""
    D = infofrag.bhattacharyya(mu, logvar)
    t = infofrag.similarity_terms(D[None], targets)
    shared, nmi, vi = _objective_terms(t)
    return D, shared, nmi, vi


def fuse(
    target_D,
    dim: int = 2,
    objective: str = "nmi",
    steps: int = 500,
    lr: float = 0.05,
    seed: int = 0,
    init=None,
    device="auto",
    log_every: int = 100,
    logvar_bounds: tuple = LOGVAR_BOUNDS,
    init_logvar: float = -3.0,
    dtype=torch.float32,
) -> FusionResult:
    """Fuse ``K`` target channels into one ``dim``-dimensional representation.

    Parameters
    ----------
    target_D : array or tensor ``[K, N, N]`` (or ``[N, N]``)
        Bhattacharyya distance matrices (fingerprints) of the target channels on the fingerprint
        sample; ``+inf`` entries (hard clusterings) are allowed, NaN is not.
    dim : dimension of the fused space.
    objective : ``"nmi"`` (maximise mean NMI), ``"vi"`` (minimise mean VI) or ``"info"``
        (maximise mean shared information I(U;V) in bits).
    steps, lr : number of Adam steps and learning rate.
    init : starting point: ``"spectral"`` (default, :func:`spectral_init` of the targets),
        ``"random"`` (means ~ N(0, 1) drawn from ``seed``), or ``(mu, logvar)`` arrays ``[N, dim]``.
        Generated starts have log-variances ``init_logvar``.
    seed : seed of the random initialisation (used by ``init="random"`` only).
    device : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    log_every : log the objective every this many steps (0: never).
    logvar_bounds : ``(lo, hi)`` bounds of the fused log-variances (see :data:`LOGVAR_BOUNDS`).
    init_logvar : log-variance of generated starts. dtype : computation dtype on ``device``.

    Parameterisation: the means are kept centred with unit root-mean-square radius (the measures
    are invariant to a joint rescaling of means and standard deviations, so this removes only a
    redundant direction) and the log-variances are bounded; together they rule out the collapsed
    optimum that the NMI objective would otherwise find. The spectral start matters: from a random
    start distant points have no gradient between them and the ascent stops in a local optimum
    (on the torn-circle demo: mean NMI about 0.87 from random starts against 0.99 from spectral).
    Note that ``"info"`` rewards any information beyond the targets' too (I(U;V) <= I(V) is reached
    by any U that contains V), so it drives the fused representation towards log2 N bits.

    A fusion whose objective or gradients become non-finite stops there and returns
    ``status="diverged"`` with the last finite parameters; it never raises for that.
    Invalid arguments raise ``ValueError``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; got {objective!r}")
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim must be a positive integer; got {dim!r}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    lo, hi = (float(v) for v in logvar_bounds)
    if not lo < hi:
        raise ValueError(f"logvar_bounds must be (lo, hi) with lo < hi; got {logvar_bounds!r}")
    if not lo < init_logvar < hi:
        raise ValueError(f"init_logvar must lie inside logvar_bounds {logvar_bounds}; got {init_logvar}")
    dim, steps = int(dim), int(steps)
    dev = _resolve_device(device)
    targets = _check_targets(target_D).to(device=dev, dtype=dtype)
    n = targets.shape[-1]

    # The representation is invariant to a joint rescaling of means and standard deviations, so
    # the means are kept centred with unit RMS radius (``_normalise``) throughout; a given ``init``
    # is rescaled to that, its log-variances shifted to match, then pulled inside the bounds.
    if isinstance(init, str) or init is None:
        init = "spectral" if init is None else init
        if init == "spectral":
            mu0 = spectral_init(targets, dim).cpu()
        elif init == "random":
            gen = torch.Generator().manual_seed(int(seed))
            mu0 = torch.randn(n, dim, generator=gen, dtype=torch.float64)
        else:
            raise ValueError(f"init must be 'spectral', 'random' or (mu, logvar) arrays; got {init!r}")
        mu0 = _normalise(mu0)
        lv0 = torch.full((n, dim), float(init_logvar), dtype=torch.float64)
    else:
        mu0, lv0 = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in init)
        if mu0.shape != (n, dim) or lv0.shape != (n, dim):
            raise ValueError(
                f"init must be (mu, logvar) of shape [{n}, {dim}]; got {tuple(mu0.shape)}, {tuple(lv0.shape)}"
            )
        if not (torch.isfinite(mu0).all() and torch.isfinite(lv0).all()):
            raise ValueError("init contains non-finite values")
        mu0, scale = _normalise(mu0, return_scale=True)
        lv0 = lv0 - 2 * torch.log(scale)
    frac = ((lv0 - lo) / (hi - lo)).clamp(1e-4, 1 - 1e-4)
    mu_p = mu0.to(device=dev, dtype=dtype).requires_grad_(True)
    raw_p = torch.logit(frac).to(device=dev, dtype=dtype).requires_grad_(True)

    def logvar_of(raw):
        return lo + (hi - lo) * torch.sigmoid(raw)

    sign = {"nmi": -1.0, "vi": 1.0, "info": -1.0}[objective]
    opt = torch.optim.Adam([mu_p, raw_p], lr=lr)
    curve: list = []
    status, message = "ok", f"{steps} steps"
    last_good = (mu_p.detach().clone(), raw_p.detach().clone())
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        try:
            _, shared, nmi, vi = _measures(_normalise(mu_p), logvar_of(raw_p), targets)
        except (ValueError, FloatingPointError) as exc:
            # The estimators refuse non-finite posteriors and report non-finite intermediates;
            # the inputs were checked above, so after step 0 this is the optimisation diverging.
            if step == 0:
                raise
            status = "diverged"
            message = (
                f"objective {objective} could not be evaluated at step {step} (lr={lr}): {exc}; "
                "returning the parameters from before that step"
            )
            break
        value = {"nmi": nmi, "vi": vi, "info": shared}[objective].mean()
        if not torch.isfinite(value):
            status = "diverged"
            message = (
                f"objective {objective} became non-finite ({value.item()}) at step {step} "
                f"(lr={lr}); returning the parameters from before that step"
            )
            break
        (sign * value).backward()
        if not (torch.isfinite(mu_p.grad).all() and torch.isfinite(raw_p.grad).all()):
            status = "diverged"
            message = (
                f"gradient of objective {objective} became non-finite at step {step} "
                f"(lr={lr}); returning the parameters from before that step"
            )
            break
        curve.append(value.item())
        last_good = (mu_p.detach().clone(), raw_p.detach().clone())
        opt.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            log.info("fuse step %d/%d: mean %s = %.4f", step + 1, steps, objective, curve[-1])
    else:
        # Parameters after the last step were never evaluated: check them like any other step.
        last_good = _final_params_if_finite(mu_p, raw_p, last_good)
    if status == "diverged":
        log.warning("fusion diverged: %s", message)

    mu_f, raw_f = last_good
    with torch.no_grad():
        mu_f, lv_f = _normalise(mu_f), logvar_of(raw_f)
        try:
            D, shared, nmi, vi = _measures(mu_f, lv_f, targets)
            info_bits = float(infofrag.information(D))
            m = {"nmi": float(nmi.mean()), "vi": float(vi.mean()), "info": float(shared.mean())}
        except (ValueError, FloatingPointError) as exc:
            if status == "ok":
                raise
            info_bits, m = math.nan, dict.fromkeys(OBJECTIVES, math.nan)
            message += f"; the returned parameters could not be evaluated either ({exc})"
    return FusionResult(
        mu=mu_f.cpu().numpy().astype(np.float32),
        logvar=lv_f.cpu().numpy().astype(np.float32),
        curve=curve,
        status=status,
        message=message,
        info_bits=info_bits,
        mean_similarity=m[objective],
        objective=objective,
        steps_run=len(curve),
        mean_nmi=m["nmi"],
        mean_vi=m["vi"],
        mean_shared_bits=m["info"],
        params=dict(dim=dim, objective=objective, steps=steps, lr=lr, seed=seed,
                    logvar_bounds=[lo, hi], init_logvar=init_logvar, n_targets=int(targets.shape[0]),
                    init=init if isinstance(init, str) else "given",
                    device=str(dev)),
    )


def spectral_init(target_D, dim: int) -> torch.Tensor:
    """Diffusion-map coordinates ``[N, dim]`` (float64) of the targets' mean Bhattacharyya kernel.

    The kernel ``mean_k exp(-D_k)`` is high for pairs of points that most targets cannot tell
    apart; the leading non-trivial eigenvectors of its symmetric normalisation, divided by the
    square root of the degrees and scaled by their eigenvalues, place such pairs close together.
    For the circle demonstration this is already roughly a circle; for any input it is a start
    that respects the global structure all targets agree on, where a random start leaves distant
    points without gradient and ends in a local optimum. Costs one dense ``N x N`` eigensolve.
    """
    D = torch.as_tensor(target_D).detach()
    if D.ndim == 2:
        D = D[None]
    n = D.shape[-1]
    if dim > n - 1:
        raise ValueError(f"init='spectral' needs dim <= N - 1 = {n - 1}; got dim={dim}")
    C = torch.zeros((n, n), dtype=torch.float64, device=D.device)
    for Dk in D:  # one target at a time: no [K, N, N] float64 temporary
        C += torch.exp(-Dk.to(torch.float64))
    C = (0.5 / D.shape[0]) * (C + C.T)
    deg = C.sum(1)
    A = C / torch.sqrt(deg[:, None] * deg[None, :])
    if n <= _DENSE_EIGH_MAX:
        w, v = torch.linalg.eigh(A)
    else:  # only the leading dim + 1 eigenpairs (Lanczos), from a fixed start for determinism
        from scipy.sparse.linalg import eigsh

        v0 = np.random.default_rng(0).uniform(0.5, 1.5, n)
        w, v = eigsh(A.cpu().numpy(), k=dim + 1, which="LA", v0=v0)
        w, v = torch.from_numpy(w).to(A.device), torch.from_numpy(v).to(A.device)
    order = torch.argsort(w, descending=True)[1 : dim + 1]
    mu = v[:, order] * w[order] / torch.sqrt(deg)[:, None]
    # Eigenvectors have arbitrary sign: fix it (largest-magnitude entry positive) for determinism.
    pivot = mu.abs().argmax(0)
    mu = mu * torch.sign(mu[pivot, torch.arange(dim)])
    if not torch.isfinite(mu).all() or float(mu.abs().max()) == 0.0:
        raise ValueError("init='spectral' failed on these targets (degenerate kernel); use init='random'")
    return mu.cpu()


def _normalise(mu, return_scale=False):
    """Centre the means and scale them to unit root-mean-square radius."""
    c = mu - mu.mean(0, keepdim=True)
    scale = torch.sqrt((c * c).sum(-1).mean()).clamp(min=1e-12)
    return (c / scale, scale) if return_scale else c / scale


def _final_params_if_finite(mu_p, raw_p, previous):
    mu, raw = mu_p.detach(), raw_p.detach()
    if torch.isfinite(mu).all() and torch.isfinite(raw).all():
        return mu.clone(), raw.clone()
    return previous


def continuity(mu, logvar, angles) -> float:
    """Continuity of an embedding of circle points: 1 is a seamless circle, larger is torn.

    The points are ordered by ``angles``; the Bhattacharyya distance between each point and its
    angular neighbour (cyclically, the last with the first) is computed from the posteriors
    ``mu``/``logvar`` ``[N, d]``; the result is the largest of those distances divided by their
    90th percentile. Returns ``inf`` when the 90th percentile is zero but the largest is not, and
    NaN when every neighbour distance is zero (a collapsed embedding carries no circle at all).
    """
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64).ravel()
    if mu.ndim == 1:
        mu, logvar = mu[:, None], logvar.reshape(-1, 1)
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise ValueError(f"mu and logvar must both be [N, d]; got {mu.shape} and {logvar.shape}")
    if angles.shape[0] != mu.shape[0] or mu.shape[0] < 3:
        raise ValueError(f"angles must hold one angle per point (N >= 3); got {angles.shape[0]} for N={mu.shape[0]}")
    order = np.argsort(np.mod(angles, 2 * np.pi), kind="stable")
    nxt = np.roll(order, -1)
    # Neighbour pairs as a batch of 2-point samples: [N, 2, d] -> [N, 2, 2].
    pm = np.stack([mu[order], mu[nxt]], axis=1)
    pl = np.stack([logvar[order], logvar[nxt]], axis=1)
    d = np.asarray(infofrag.bhattacharyya(torch.from_numpy(pm), torch.from_numpy(pl)))[:, 0, 1]
    d = np.clip(d, 0.0, None)
    top, p90 = float(d.max()), float(np.percentile(d, 90))
    if p90 > 0:
        return top / p90
    return math.inf if top > 0 else math.nan


def ensemble_size_sweep(
    channel_D,
    sizes=(2, 3, 5, 10, 20, 50),
    repeats: int = 5,
    objectives=("nmi", "vi", "info"),
    angles=None,
    seed: int = 0,
    **fuse_kw,
) -> list:
    """Fuse random sub-ensembles of growing size and measure the continuity of each fusion.

    ``channel_D`` ``[M, N, N]`` holds the fingerprints of the ``M`` available channels (the weak
    learners); ``angles`` ``[N]`` the circle angles of the sample points. For every size and repeat
    one random subset of channels (without replacement, drawn from ``seed``) is fused with every
    objective (the same subset for all objectives, so they compare paired); ``fuse_kw`` go to
    :func:`fuse` (``dim``, ``steps``, ``lr``, ``device``, ...).

    Returns one JSON-serialisable dict per (size, repeat, objective): ``size``, ``repeat``,
    ``objective``, ``continuity``, ``info_bits``, ``mean_similarity``, ``status``, ``message``,
    ``channels`` (indices into ``channel_D``). Sizes larger than ``M`` give rows with status
    ``"skipped"`` (and a warning) rather than an error. Non-finite numbers are ``None``.
    """
    if angles is None:
        raise ValueError("angles (one circle angle per sample point) are required")
    D = _check_targets(channel_D)
    m = D.shape[0]
    for o in objectives:
        if o not in OBJECTIVES:
            raise ValueError(f"objectives must be drawn from {OBJECTIVES}; got {o!r}")
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be a positive integer; got {repeats!r}")
    fuse_kw = dict(fuse_kw)
    fuse_kw.setdefault("log_every", 0)
    rng = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        size = int(size)
        for rep in range(int(repeats)):
            if size < 1 or size > m:
                msg = f"ensemble size {size} needs 1..{m} channels; skipped"
                if rep == 0:
                    log.warning(msg)
                rows += [dict(size=size, repeat=rep, objective=o, continuity=None, info_bits=None,
                              mean_similarity=None, status="skipped", message=msg, channels=[])
                         for o in objectives]
                continue
            chosen = np.sort(rng.choice(m, size=size, replace=False))
            fuse_seed = int(rng.integers(2**31 - 1))
            for o in objectives:
                res = fuse(D[chosen], objective=o, seed=fuse_seed, **fuse_kw)
                cont = continuity(res.mu, res.logvar, angles)
                rows.append(dict(
                    size=size, repeat=rep, objective=o,
                    continuity=_finite_or_none(cont),
                    info_bits=_finite_or_none(res.info_bits),
                    mean_similarity=_finite_or_none(res.mean_similarity),
                    status=res.status, message=res.message,
                    channels=[int(c) for c in chosen],
                ))
                log.info("sweep size=%d repeat=%d %s: continuity=%.3f info=%.3f bits (%s)",
                         size, rep, o, cont, res.info_bits, res.status)
    return rows
