"""The paper's circle demonstration: how continuous a fused circle is, and fusions of growing
sub-ensembles.

Weak learners each unroll the circle into a line torn somewhere; fusing more of them should
close the tears. :func:`continuity` measures how torn an embedding of circle points is;
:func:`ensemble_size_sweep` fuses (:func:`infofrag.boost.fuse`) random sub-ensembles of growing
size and measures each fusion.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

import infofrag
from infofrag.boost import OBJECTIVES, check_targets, fuse
from infofrag.defaults import default
from infofrag.devices import resolve_device
from infofrag.values import finite_or_none

__all__ = ["continuity", "ensemble_size_sweep"]

log = logging.getLogger(__name__)


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
    repeats: int = default("boost.repeats"),
    objectives=tuple(default("boost.objectives")),
    angles=None,
    seed: int = default("boost.seed"),
    workers: int = 1,
    **fuse_kw,
) -> list:
    """Fuse random sub-ensembles of growing size and measure the continuity of each fusion.

    ``channel_D`` ``[M, N, N]`` holds the fingerprints of the ``M`` available channels (the weak
    learners); ``angles`` ``[N]`` the circle angles of the sample points. For every size and repeat
    one random subset of channels (without replacement, drawn from ``seed``) is fused with every
    objective (the same subset for all objectives, so they compare paired); ``fuse_kw`` go to
    :func:`infofrag.boost.fuse` (``dim``, ``steps``, ``lr``, ``device``, ...).

    ``workers > 1`` runs the fusions in that many processes of one thread each (on the CPU; on a
    GPU they run one after the other in this process); the subsets and
    seeds are drawn beforehand, so the rows are those of a serial run with one thread. A fusion
    from the spectral start does not depend on its seed: a subset drawn again (every repeat at the
    largest size) is fitted once and its rows say ``same_fit_as_repeat``.

    Returns one JSON-serialisable dict per (size, repeat, objective): ``size``, ``repeat``,
    ``objective``, ``continuity``, ``info_bits``, ``mean_similarity``, ``mean_nmi``, ``mean_vi``,
    ``status``, ``message``, ``channels`` (indices into ``channel_D``). Sizes larger than ``M``
    give rows with status ``"skipped"`` (and a warning) rather than an error. Non-finite numbers
    are ``None``.
    """
    D = _check_sweep(channel_D, repeats, objectives, angles)
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    m = D.shape[0]
    fuse_kw = dict(fuse_kw)
    fuse_kw.setdefault("log_every", 0)
    seed_matters = fuse_kw.get("init") == "random"
    rng = np.random.default_rng(seed)
    rows, row_task, tasks, first_fit = [], [], [], {}
    for size in sizes:
        size = int(size)
        for rep in range(int(repeats)):
            if size < 1 or size > m:
                rows += _skipped_rows(size, rep, m, objectives)
                row_task += [None] * len(objectives)
                continue
            chosen = np.sort(rng.choice(m, size=size, replace=False))
            fuse_seed = int(rng.integers(2**31 - 1))
            for o in objectives:
                key = (tuple(chosen.tolist()), o, fuse_seed if seed_matters else None)
                row = dict(size=size, repeat=rep, objective=o, channels=[int(c) for c in chosen])
                if key in first_fit:
                    row["same_fit_as_repeat"] = first_fit[key][1]
                else:
                    first_fit[key] = (len(tasks), rep)
                    tasks.append((chosen, o, fuse_seed))
                rows.append(row)
                row_task.append(first_fit[key][0])
    results = _run_fusions(D, tasks, angles, fuse_kw, int(workers))
    for row, task in zip(rows, row_task):
        if task is None:
            continue
        row.update(results[task])
        log.info("sweep size=%d repeat=%d %s: continuity=%s info=%s bits (%s)", row["size"], row["repeat"],
                 row["objective"], row["continuity"], row["info_bits"], row["status"])
    return rows


def _run_fusions(D, tasks, angles, fuse_kw, workers) -> list:
    """The measured outcome of each ``(channels, objective, seed)`` task, in order; in
    ``workers`` processes of one thread each when ``workers > 1``."""
    if workers == 1 or len(tasks) < 2 or resolve_device(fuse_kw.get("device", "auto")).type != "cpu":
        return [_fusion_outcome(D, *task, angles, fuse_kw) for task in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork, not spawn: a spawned child re-runs the parent's main script (a Snakemake job's script
    # cannot run outside its job). torch resets its thread pools in a forked child; CUDA could
    # not be used there, so a GPU sweep stays in this process.
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx,
                             initializer=_worker_init, initargs=(D.cpu(), angles, fuse_kw)) as pool:
        return list(pool.map(_worker_fusion, tasks))


_WORKER: dict = {}


def _worker_init(D, angles, fuse_kw) -> None:
    torch.set_num_threads(1)
    _WORKER.update(D=D, angles=angles, fuse_kw=fuse_kw)


def _worker_fusion(task) -> dict:
    return _fusion_outcome(_WORKER["D"], *task, _WORKER["angles"], _WORKER["fuse_kw"])


def _check_sweep(channel_D, repeats, objectives, angles) -> torch.Tensor:
    if angles is None:
        raise ValueError("angles (one circle angle per sample point) are required")
    D = check_targets(channel_D)
    for o in objectives:
        if o not in OBJECTIVES:
            raise ValueError(f"objectives must be drawn from {OBJECTIVES}; got {o!r}")
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be a positive integer; got {repeats!r}")
    return D


def _skipped_rows(size, rep, m, objectives) -> list:
    """Rows for an ensemble size the channels cannot fill (warned about once per size)."""
    msg = f"ensemble size {size} needs 1..{m} channels; skipped"
    if rep == 0:
        log.warning(msg)
    return [dict(size=size, repeat=rep, objective=o, continuity=None, info_bits=None,
                 mean_similarity=None, mean_nmi=None, mean_vi=None, status="skipped", message=msg,
                 channels=[])
            for o in objectives]


def _fusion_outcome(D, chosen, objective, fuse_seed, angles, fuse_kw) -> dict:
    """Fuse the ``chosen`` channels with one objective; what a sweep row records of it."""
    res = fuse(D[torch.as_tensor(chosen)], objective=objective, seed=fuse_seed, **fuse_kw)
    return dict(
        continuity=finite_or_none(continuity(res.mu, res.logvar, angles)),
        info_bits=finite_or_none(res.info_bits),
        mean_similarity=finite_or_none(res.mean_similarity),
        mean_nmi=finite_or_none(res.mean_nmi),
        mean_vi=finite_or_none(res.mean_vi),
        status=res.status, message=res.message,
    )
