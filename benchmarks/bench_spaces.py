"""Whole latent spaces: what one pair of members costs, and where the fingerprint estimate holds.

1. **Cost** of one pair of members (the work of the ``spaces`` rule per pair): the Monte Carlo
   comparison :func:`infofrag.stages.spaces.compare` (repeats x samples draws: the default
   10 x 250, and the paper's 5 x 2,000) and the fingerprint estimate (the whole-space
   Bhattacharyya matrix of each member, then :func:`infofrag.similarity` of the pair), at N
   sample points and d latent dimensions; one torch thread, best of ``--best-of`` runs (the
   machine may be shared; the load average is printed).
2. **Accuracy**, at N = 1,000 and d = 10: pairs of whole spaces of VAE-like members (a few
   informative channels of one hidden 3-d position, the others collapsed; V sees another
   projection of it plus a feature of its own) as the posterior noise shrinks: I(U;X), NMI and
   VI by Monte Carlo (default settings, mean ± standard error) and by fingerprint, next to the
   ceiling log2 N.

    python benchmarks/bench_spaces.py --out benchmarks/results/spaces.md
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch
from _tables import write_table

import infofrag
from infofrag.stages import spaces


def member(N: int, d: int, sigma: float, seed: int, t: np.ndarray, own: bool = False):
    """A VAE-like whole space: 4 informative channels (random projections of the hidden
    position t, posterior sd ``sigma``; with ``own``, the last of them a feature of its own,
    unrelated to t), the other d - 4 collapsed (mean ~0, variance ~1)."""
    rng = np.random.default_rng(seed)
    k = min(4, d)
    mu = np.zeros((N, d))
    lv = np.zeros((N, d))
    A = rng.normal(size=(t.shape[1], k))
    A /= np.linalg.norm(A, axis=0)
    z = (t - t.mean(0)) @ A
    z /= z.std(0)
    if own:
        z[:, -1] = rng.normal(size=N)
    mu[:, :k] = z
    lv[:, :k] = 2 * math.log(sigma)
    mu[:, k:] = 0.02 * rng.normal(size=(N, d - k))
    lv[:, k:] = -0.02 * rng.uniform(size=(N, d - k))
    return mu, lv


def fingerprint_pair(U, V):
    Du = spaces.space_fingerprint(*U, device="cpu")[None]
    Dv = spaces.space_fingerprint(*V, device="cpu")[None]
    return spaces.fingerprint_terms(Du, Dv)


def best_time(fn, best_of):
    out = math.inf
    for _ in range(best_of):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def cost_table(sizes, dims, settings, best_of):
    rows = []
    for N in sizes:
        t = np.random.default_rng(0).uniform(size=(N, 3))
        for d in dims:
            U = member(N, d, 0.3, 1, t)
            V = member(N, d, 0.3, 2, t, own=True)
            row = [N, d]
            for repeats, samples in settings:
                sec = best_time(lambda: spaces.compare(*U, *V, samples=samples, repeats=repeats, seed=0,
                                                       names=("u", "v"), device="cpu"), best_of)
                row += [sec, 1e3 * sec / (repeats * samples)]
            row.append(best_time(lambda: fingerprint_pair(U, V), best_of))
            rows.append(row)
            print("cost", row, flush=True)
    return rows


def accuracy_table(N, d, sigmas, samples, repeats):
    t = np.random.default_rng(0).uniform(size=(N, 3))
    rows = []
    for sigma in sigmas:
        U = member(N, d, sigma, 1, t)
        V = member(N, d, sigma, 2, t, own=True)
        mc = spaces.compare(*U, *V, samples=samples, repeats=repeats, seed=0, names=("u", "v"), device="cpu")
        fp = fingerprint_pair(U, V)
        rows.append((sigma, mc, {k: float(np.asarray(v)[0, 0]) for k, v in fp.items()}))
        print("accuracy", sigma, {k: v for k, v in mc.items() if k in ("i_u", "nmi", "vi")}, flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    p.add_argument("--dims", type=int, nargs="+", default=[3, 10])
    p.add_argument("--best-of", type=int, default=2)
    p.add_argument("--sigmas", type=float, nargs="+", default=[2.0, 1.0, 0.5, 0.25, 0.1, 0.03])
    p.add_argument("--out", default=None, help="also write the tables to this Markdown file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    settings = [(10, 250), (5, 2000)]
    load0 = os.getloadavg()[0]
    cost = cost_table(args.sizes, args.dims, settings, args.best_of)
    acc = accuracy_table(1000, 10, args.sigmas, 250, 10)
    load1 = os.getloadavg()[0]

    lines = ["# Whole latent spaces: cost per pair of members, and fingerprint vs Monte Carlo", "",
             f"CPU ({platform.machine()}, {os.cpu_count()} cores visible), 1 torch thread; torch "
             f"{torch.__version__}; best of {args.best_of} runs; 1-minute load average {load0:.1f} before, "
             f"{load1:.1f} after (the machine is shared).", "",
             "## Cost of one pair", "",
             "Monte Carlo: `infofrag.stages.spaces.compare` (all eight terms with standard errors), "
             "repeats x samples draws. Fingerprint: both members' whole-space Bhattacharyya matrices "
             "(float64) and `infofrag.similarity` of the pair. A shard of a x b members costs a x b "
             "pairs (a block against itself a (a + 1) / 2) plus one fingerprint per member.", "",
             "| N | d | MC 10 x 250 (s) | ms/draw | MC 5 x 2,000 (s) | ms/draw | fingerprint (s) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for N, d, s1, m1, s2, m2, f in cost:
        lines.append(f"| {N} | {d} | {s1:.3f} | {m1:.3f} | {s2:.3f} | {m2:.3f} | {f:.3f} |")
    lines += ["", "## Fingerprint vs Monte Carlo (N = 1,000, d = 10)", "",
              f"Two VAE-like members (4 informative channels each, 6 collapsed; V has a feature of its "
              f"own) as the posterior sd of the informative channels shrinks. Monte Carlo 10 x 250 "
              f"(mean ± se); the ceiling of every information here is log2 N = {math.log2(1000):.2f} bits.", "",
              "| sd | I(U;X) MC | I(U;X) fp | I(UV;X) MC | I(UV;X) fp | NMI MC | NMI fp | VI MC | VI fp |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for sigma, mc, fp in acc:
        def pm(v, k=3):
            return f"{mc[v][0]:.{k}f} ± {mc[v][1]:.{k}f}"
        lines.append(f"| {sigma:g} | {pm('i_u', 2)} | {fp['fp_i_u']:.2f} | {pm('i_joint', 2)} | "
                     f"{fp['fp_i_joint']:.2f} | {pm('nmi')} | {fp['fp_nmi']:.3f} | {pm('vi', 2)} | {fp['fp_vi']:.2f} |")
    print("\n".join(lines))
    if args.out:
        write_table(args.out, lines, "bench_spaces.py", argv)


if __name__ == "__main__":
    main()
