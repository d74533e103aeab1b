"""Boosting speed: optimisation steps per second of infofrag.boost.fuse.

Targets are K torn 1-D circle channels (the paper's weak learners) on N fingerprint points, as
Bhattacharyya matrices [K, N, N] float32; the fused representation has ``--dim`` dimensions. One
step = fused fingerprint (``infofrag.bhattacharyya``) + ``infofrag.similarity_terms`` against all
K targets + backward + Adam update, i.e. exactly the loop of ``fuse``.

Steps/s is measured as the difference of two ``fuse`` runs (``--steps`` and 2 more than a few
warm-up steps), which cancels the fixed costs (moving targets to the device, start, final
measures); the spectral start (one dense N x N eigensolve) is timed on its own. Best of
``--repeats``: the machine may be shared.

    python benchmarks/bench_boost.py --threads 1 --out benchmarks/results/boost.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from _tables import write_table

import infofrag
from infofrag.boost import fuse, spectral_init


def targets(n: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    out = np.empty((k, n, n), dtype=np.float32)
    for j, tear in enumerate(rng.uniform(0, 2 * np.pi, k)):
        mu = np.mod(theta - tear, 2 * np.pi)[:, None]
        out[j] = infofrag.bhattacharyya(mu, np.full_like(mu, 2 * np.log(0.15)))
    return out


def timed_fuse(D, steps, objective, dim, device):
    t0 = time.perf_counter()
    res = fuse(D, dim=dim, objective=objective, steps=steps, init="random", device=device, log_every=0)
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0, res


def steps_per_second(D, steps, objective, dim, device, repeats):
    warm = 3
    timed_fuse(D, warm, objective, dim, device)  # allocator, thread pool, kernels
    best = 0.0
    for _ in range(repeats):
        t_short, _ = timed_fuse(D, warm, objective, dim, device)
        t_long, res = timed_fuse(D, warm + steps, objective, dim, device)
        if res.status != "ok":
            raise RuntimeError(f"benchmark fusion did not run cleanly: {res.message}")
        best = max(best, steps / max(t_long - t_short, 1e-9))
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="300,1000", help="comma-separated N (fingerprint points)")
    p.add_argument("--targets", type=int, default=50, help="K target channels")
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--objectives", default="nmi,vi,info")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--steps", default="30,8", help="timed steps per N (comma-separated, one per size)")
    p.add_argument("--out", default=None, help="also write the table (markdown) here")
    p.add_argument("--shared", action="store_true",
                   help="say in the header that the machine was shared with other work")
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    steps += [steps[-1]] * (len(sizes) - len(steps))
    objectives = args.objectives.split(",")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    where = (torch.cuda.get_device_name(0) if device.startswith("cuda")
             else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores visible), "
                  f"{args.threads} torch thread(s)")

    lines = [
        "# Boosting speed: `infofrag.boost.fuse` steps per second",
        "",
        f"{where}; torch {torch.__version__}; float32; {args.targets} target channels "
        f"(torn 1-D circle channels), fused dim {args.dim}.",
        ("**Shared machine** (other jobs were running): " if args.shared else "")
        + f"1-minute load average {load_before:.1f} before the run ({os.cpu_count()} cores); best of "
        f"{args.repeats} runs; each rate is the difference of two `fuse` runs, so it excludes the fixed "
        "start-up and final costs. One step = fused fingerprint + `similarity_terms` against all "
        "targets + backward + Adam.",
        "",
        "| N | K | objective | steps/s | ms/step | spectral start (s) |",
        "| ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    print("\n".join(lines), flush=True)
    for n, s in zip(sizes, steps):
        D = targets(n, args.targets)
        Dt = torch.from_numpy(D).to(device)
        t0 = time.perf_counter()
        spectral_init(Dt, args.dim)
        t_spec = time.perf_counter() - t0
        del Dt
        for objective in objectives:
            rate = steps_per_second(D, s, objective, args.dim, device, args.repeats)
            line = f"| {n} | {args.targets} | {objective} | {rate:.2f} | {1000 / rate:.0f} | {t_spec:.2f} |"
            print(line, flush=True)
            lines.append(line)
    tail = f"1-minute load average after the run: {os.getloadavg()[0]:.1f}."
    print("\n" + tail)
    lines += ["", tail]
    if args.out:
        write_table(args.out, lines, "bench_boost.py", argv)


if __name__ == "__main__":
    main()
