"""Boosting (model fusion): optimise a new representation to share information with channels.

A fused representation is a set of free per-sample Gaussian posteriors ``N(mu_i, diag(exp(logvar_i)))``
on the fingerprint sample (``N`` points, ``dim`` dimensions). Its Bhattacharyya fingerprint is
compared with the fingerprints of ``K`` target channels by the generalised information measures,
and the posteriors are trained with Adam (or plain SGD) to maximise the mean similarity:

* ``"nmi"``: mean generalised NMI to the targets (maximised);
* ``"vi"``: mean generalised VI to the targets in bits (minimised);
* ``"info"``: mean shared information ``I(U;V) = I_U + I_V - I_UV`` in bits (maximised);
* ``"nmi_shifted"``: the authors' NMI (maximised): their log-sum-exp omits the ``-log N`` of the
  mean, so every information term is ``log2 N`` bits lower, and their NMI is
  ``(I(U;V) - log2 N) / sqrt((H_U - log2 N)(H_V - log2 N))``. It is at most -1, and -1 only for
  identical representations. The same shift leaves VI unchanged and moves shared information by
  a constant, so ``"vi"`` and ``"info"`` are the authors' objectives as they are.

The measures are those of :func:`infofrag.bhattacharyya` and :func:`infofrag.similarity_terms`.
The optimisation steps compute them by a dedicated path for one fused channel against constant
targets (``infofrag.estimators._fusion``: the target-only terms prepared once, a hand-written
gradient, the same numbers to float32 rounding); the returned parameters are then evaluated once
with the estimators themselves, which give every reported measure.

Entry point: :func:`fuse`. The paper's circle demonstration built on it (continuity, growing
sub-ensembles) is :mod:`infofrag.circle_fusion`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

import infofrag
from infofrag.defaults import default
from infofrag.devices import resolve_device
from infofrag.estimators import DEFAULT_MIN_BITS, DIAGONAL_TOL
from infofrag.measures import empty, nmi_vi
from infofrag.estimators._fusion import FusedTerms, FusionTargets, hot_path_supports
from infofrag.values import finite_or_none

log = logging.getLogger(__name__)

OBJECTIVES = ("nmi", "vi", "info", "nmi_shifted")
OPTIMIZERS = ("adam", "sgd")

#: Default bounds of the fused log-variances (natural log of the variance), relative to means that
#: are kept centred with unit root-mean-square radius (see :func:`fuse`). The log-variance is
#: parameterised as ``lo + (hi - lo) * sigmoid(raw)``: it can never run off to -inf (zero-width
#: posteriors, exploding distances) or to posteriors much wider than the cloud of means (a collapsed,
#: uninformative representation, where the generalised NMI is ill-conditioned: its normalisation
#: ``2 I_U - I_UU`` vanishes to second order while the shared information does so to first order,
#: so an NMI ascent would otherwise happily collapse to spurious values above 1).
LOGVAR_BOUNDS = (-7.0, 0.0)

# Sign that turns each objective into a loss to minimise.
_SIGN = {"nmi": -1.0, "vi": 1.0, "info": -1.0, "nmi_shifted": -1.0}

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
            "info_bits": finite_or_none(self.info_bits),
            "mean_similarity": finite_or_none(self.mean_similarity),
            "mean_nmi": finite_or_none(self.mean_nmi),
            "mean_vi": finite_or_none(self.mean_vi),
            "mean_shared_bits": finite_or_none(self.mean_shared_bits),
            "final_objective": finite_or_none(self.curve[-1]) if self.curve else None,
            "params": dict(self.params),
        }


def check_targets(target_D) -> torch.Tensor:
    """Target fingerprints as a ``[K, N, N]`` tensor; ValueError unless they are distances."""
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


def _objective_terms(shared, h_a, h_b, n_points, min_bits=DEFAULT_MIN_BITS) -> dict:
    """Per-target measures ``[K]`` of the fused channel by objective name, from its shared
    information with each target ``[K]``, its generalised entropy ``h_a`` and the targets' ``h_b``
    ``[K]`` (bits), on ``n_points`` fingerprint points.

    Shared information and entropies are taken as the estimators computed them: re-forming them
    as differences of nearly equal informations would lose the precision of weak channels. The
    NMI follows :func:`infofrag.similarity`: a target with ``H <= min_bits`` carries nothing and
    scores 0; the fused side's ``H`` is floored there, so its gradient stays finite if it
    collapses. The shifted NMI floors ``log2 N - H`` the same way (a fused channel that tells
    every point apart has ``H = log2 N``).
    """
    never = torch.zeros_like(h_b, dtype=torch.bool)  # the fused side is floored, never "empty"
    nmi, _ = nmi_vi(shared, torch.clamp(h_a, min=min_bits), h_b, never, empty(h_b, min_bits))
    vi = h_a + h_b - 2 * shared
    log_n = math.log2(n_points)
    gap = torch.clamp(log_n - h_a, min=min_bits) * torch.clamp(log_n - h_b, min=min_bits)
    nmi_shifted = (shared - log_n) / torch.sqrt(gap)
    return {"nmi": nmi, "vi": vi, "info": shared, "nmi_shifted": nmi_shifted}


def _measures(mu, logvar, targets):
    """Fused fingerprint and the per-target measures ``{objective: [K]}`` by the estimators
    (torch, differentiable): the general path, and the final evaluation of every fusion."""
    D = infofrag.bhattacharyya(mu, logvar)
    return D, _measures_of(D, targets)


def _measures_of(D, targets) -> dict:
    """The per-target measures ``{objective: [K]}`` of a fingerprint ``D`` ``[N, N]``."""
    t = infofrag.similarity_terms(D[None], targets)
    return _objective_terms(t.shared[0], t.h_a[0], t.h_b, targets.shape[-1])


class _StepMeasures:
    """The per-target measures ``{objective: [K]}`` of the fused channel at an optimisation step,
    differentiable in ``(mu, logvar)``.

    By the dedicated path (:class:`~infofrag.estimators._fusion.FusedTerms`, the targets
    prepared once) where it applies -- float32/float64, log-variance bounds of a few units,
    prepared targets within its memory bound -- else, and for any step where it is not finite,
    by the estimators (:func:`_measures`, which retry in float64 and report what stays
    non-finite).
    """

    def __init__(self, targets, bounds, dtype):
        self.targets = targets
        self.prepared = None
        K, N = targets.shape[0], targets.shape[-1]
        if hot_path_supports(dtype, (bounds.lo, bounds.hi), K, N):
            self.prepared = FusionTargets(targets, dtype, targets.device)
        else:
            log.info("fuse: the optimisation steps use the general estimators (dtype %s, logvar bounds "
                     "(%g, %g), %d targets on %d points)", dtype, bounds.lo, bounds.hi, K, N)

    def __call__(self, mu, logvar):
        if self.prepared is not None:
            if not (torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
                raise ValueError("the fused posteriors are not finite")
            shared, h_a = FusedTerms.apply(mu, logvar, self.prepared)
            if torch.isfinite(shared).all() and torch.isfinite(h_a):
                return _objective_terms(shared, h_a, self.prepared.h_bits, self.targets.shape[-1])
        return _measures(mu, logvar, self.targets)[1]


def fuse(
    target_D,
    dim: int = default("boost.dim"),
    objective: str = default("boost.objective"),
    steps: int = default("boost.steps"),
    lr: float = default("boost.lr"),
    seed: int = default("boost.seed"),
    init=None,
    device="auto",
    log_every: int = 100,
    logvar_bounds: tuple = LOGVAR_BOUNDS,
    init_logvar: float = -3.0,
    dtype=torch.float32,
    optimizer: str = default("boost.optimizer"),
) -> FusionResult:
    """Fuse ``K`` target channels into one ``dim``-dimensional representation.

    Parameters
    ----------
    target_D : array or tensor ``[K, N, N]`` (or ``[N, N]``)
        Bhattacharyya distance matrices (fingerprints) of the target channels on the fingerprint
        sample; ``+inf`` entries (hard clusterings) are allowed, NaN is not.
    dim : dimension of the fused space.
    objective : ``"nmi"`` (maximise mean NMI), ``"vi"`` (minimise mean VI), ``"info"``
        (maximise mean shared information I(U;V) in bits) or ``"nmi_shifted"`` (maximise the
        authors' shifted NMI, see the module docstring; the default: plain NMI trades
        information for NMI in long Adam runs, the shifted one does not).
    steps, lr : number of optimisation steps and learning rate.
    init : starting point: ``"spectral"`` (default, :func:`spectral_init` of the targets),
        ``"random"`` (means ~ N(0, 1) drawn from ``seed``), or ``(mu, logvar)`` arrays ``[N, dim]``.
        Generated starts have log-variances ``init_logvar``.
    seed : seed of the random initialisation (used by ``init="random"`` only).
    device : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    log_every : log the objective every this many steps (0: never).
    logvar_bounds : ``(lo, hi)`` bounds of the fused log-variances (see :data:`LOGVAR_BOUNDS`).
    init_logvar : log-variance of generated starts. dtype : computation dtype on ``device``.
    optimizer : ``"adam"`` (default) or ``"sgd"`` (plain gradient steps of size ``lr``, no
        momentum: the authors' protocol, e.g. 20,000 steps at ``lr=3.0``).

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
    dim, steps, bounds = _check_arguments(objective, dim, steps, lr, logvar_bounds, init_logvar, optimizer)
    dev = resolve_device(device)
    targets = check_targets(target_D).to(device=dev, dtype=dtype)
    mu0, lv0 = _starting_point(init, targets, dim, seed, init_logvar)
    mu_p = mu0.to(device=dev, dtype=dtype).requires_grad_(True)
    raw_p = bounds.raw(lv0).to(device=dev, dtype=dtype).requires_grad_(True)
    measures = _StepMeasures(targets, bounds, dtype)
    curve, status, message, last_good = _optimise(mu_p, raw_p, bounds, measures, objective, steps, lr, log_every,
                                                  optimizer)
    del measures  # the prepared targets
    mu_f, lv_f, info_bits, m, message = _final_evaluation(last_good, bounds, targets, status, message)
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
        params=dict(dim=dim, objective=objective, steps=steps, lr=lr, optimizer=optimizer, seed=seed,
                    logvar_bounds=[bounds.lo, bounds.hi], init_logvar=init_logvar,
                    n_targets=int(targets.shape[0]),
                    init="spectral" if init is None else init if isinstance(init, str) else "given",
                    device=str(dev)),
    )


@dataclass(frozen=True)
class _Bounds:
    """The bounded log-variance parameterisation ``lo + (hi - lo) * sigmoid(raw)``."""

    lo: float
    hi: float

    def logvar(self, raw):
        return self.lo + (self.hi - self.lo) * torch.sigmoid(raw)

    def raw(self, logvar):
        """The inverse, for log-variances pulled just inside the bounds."""
        frac = ((logvar - self.lo) / (self.hi - self.lo)).clamp(1e-4, 1 - 1e-4)
        return torch.logit(frac)


def _check_arguments(objective, dim, steps, lr, logvar_bounds, init_logvar, optimizer):
    """``dim`` and ``steps`` as ints and the log-variance bounds; ValueError for anything invalid."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; got {objective!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
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
    return int(dim), int(steps), _Bounds(lo, hi)


def _starting_point(init, targets, dim, seed, init_logvar):
    """Starting ``(mu, logvar)``, float64 ``[N, dim]`` on the CPU, means centred with unit RMS radius.

    The measures are invariant to a joint rescaling of means and standard deviations, so a given
    ``init`` is rescaled to that radius and its log-variances shifted to match.
    """
    n = targets.shape[-1]
    if isinstance(init, str) or init is None:
        init = "spectral" if init is None else init
        if init == "spectral":
            mu0 = spectral_init(targets, dim).cpu()
        elif init == "random":
            gen = torch.Generator().manual_seed(int(seed))
            mu0 = torch.randn(n, dim, generator=gen, dtype=torch.float64)
        else:
            raise ValueError(f"init must be 'spectral', 'random' or (mu, logvar) arrays; got {init!r}")
        return _normalise(mu0), torch.full((n, dim), float(init_logvar), dtype=torch.float64)
    mu0, lv0 = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in init)
    if mu0.shape != (n, dim) or lv0.shape != (n, dim):
        raise ValueError(
            f"init must be (mu, logvar) of shape [{n}, {dim}]; got {tuple(mu0.shape)}, {tuple(lv0.shape)}"
        )
    if not (torch.isfinite(mu0).all() and torch.isfinite(lv0).all()):
        raise ValueError("init contains non-finite values")
    mu0, scale = _normalise(mu0, return_scale=True)
    return mu0, lv0 - 2 * torch.log(scale)


def _optimise(mu_p, raw_p, bounds, measures, objective, steps, lr, log_every, optimizer):
    """Adam (or plain SGD) on the parameters, stopped by the first non-finite objective or gradient.

    Returns ``(curve, status, message, (mu, raw))`` with the last parameters whose objective and
    gradient were finite.
    """
    make = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
    opt = make([mu_p, raw_p], lr=lr)
    curve: list = []
    last_good = (mu_p.detach().clone(), raw_p.detach().clone())
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        value, failure = _objective_and_gradient(mu_p, raw_p, bounds, measures, objective, step)
        if failure:
            what, detail = failure
            message = (f"{what} at step {step} (lr={lr}){detail}; "
                       "returning the parameters from before that step")
            log.warning("fusion diverged: %s", message)
            return curve, "diverged", message, last_good
        curve.append(value)
        last_good = (mu_p.detach().clone(), raw_p.detach().clone())
        opt.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            log.info("fuse step %d/%d: mean %s = %.4f", step + 1, steps, objective, curve[-1])
    # Parameters after the last step were never evaluated: check them like any other step.
    return curve, "ok", f"{steps} steps", _final_params_if_finite(mu_p, raw_p, last_good)


def _objective_and_gradient(mu_p, raw_p, bounds, measures, objective, step):
    """The mean objective (a float) with its gradient in the parameters' ``.grad``, or ``None``
    and ``(what went wrong, detail)``."""
    try:
        terms = measures(_normalise(mu_p), bounds.logvar(raw_p))
    except (ValueError, FloatingPointError) as exc:
        # The estimators refuse non-finite posteriors and report non-finite intermediates;
        # the inputs were checked, so after step 0 this is the optimisation diverging.
        if step == 0:
            raise
        return None, (f"objective {objective} could not be evaluated", f": {exc}")
    value = terms[objective].mean()
    if not torch.isfinite(value):
        return None, (f"objective {objective} became non-finite ({value.item()})", "")
    (_SIGN[objective] * value).backward()
    if not (torch.isfinite(mu_p.grad).all() and torch.isfinite(raw_p.grad).all()):
        return None, (f"gradient of objective {objective} became non-finite", "")
    return value.item(), None


def _final_evaluation(last_good, bounds, targets, status, message):
    """The returned parameters ``(mu, logvar)``, their information, their three mean measures and
    the message; NaN measures (and a note) where a diverged run's parameters cannot be evaluated."""
    mu_f, raw_f = last_good
    with torch.no_grad():
        mu_f, lv_f = _normalise(mu_f), bounds.logvar(raw_f)
        try:
            D, terms = _measures(mu_f, lv_f, targets)
            info_bits = float(infofrag.information(D))
            m = {o: float(v.mean()) for o, v in terms.items()}
        except (ValueError, FloatingPointError) as exc:
            if status == "ok":
                raise
            info_bits, m = math.nan, dict.fromkeys(OBJECTIVES, math.nan)
            message += f"; the returned parameters could not be evaluated either ({exc})"
    return mu_f, lv_f, info_bits, m, message


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
