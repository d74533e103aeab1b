"""Boosting speed: optimisation steps of infofrag.boost.fuse against a bare PyTorch expression of
the same objective, and the authors' 20,000-step plain-SGD protocol.

Targets are K torn 1-D circle channels (the paper's weak learners) on N fingerprint points, as
Bhattacharyya matrices [K, N, N] float32; the fused representation has ``--dim`` dimensions. One
step of ``fuse`` = fused fingerprint + its shared information and entropy against all K targets
(the dedicated path of ``infofrag.estimators._fusion``) + backward + Adam update.

The bare expression (``bare_objective``) is the straightforward torch code of the same objective
on the same inputs, with autograd and the same parameterisation and optimiser::

    D   = sum_d 1/8 (mu_i - mu_j)^2 / sbar + 1/2 (log sbar - (lv_i + lv_j) / 2),  sbar = (s_i + s_j) / 2
    C   = exp(-D)
    I_F = -mean_i log2 mean_j C_ij;   H_F = 2 I_F + mean_i log2 mean_j C_ij^2
    P   = einsum('ij,kij->ki', C, C_k) / N                 (C_k = exp(-D_k) of the K targets)
    I(F;V_k) = I_F + I_k + mean_i log2 P_ki;  NMI_k = I(F;V_k) / sqrt(H_F H_k)

with everything that depends on the targets only (C_k, I_k, H_k) computed once, outside the
loop; VI and shared information likewise. It has none of the estimators' precision measures
(centred rows, float64 sums): it is the speed reference, not a correct alternative.

Steps/s of ``fuse`` is the difference of two ``fuse`` runs (``--steps`` and a few warm-up steps
more), which cancels the fixed costs (preparing the targets, the start, the final measures); the
bare loop is timed without its one-off target terms; both best of ``--repeats``, interleaved. The
ratio compares the two measured in the same run. The machine may be shared: the 1-minute load
average is recorded before and after.

    python benchmarks/bench_boost.py --threads 1 --out benchmarks/results/boost.md
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
from infofrag import boost
from infofrag.boost import fuse, spectral_init


def targets(n: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    out = np.empty((k, n, n), dtype=np.float32)
    for j, tear in enumerate(rng.uniform(0, 2 * np.pi, k)):
        mu = np.mod(theta - tear, 2 * np.pi)[:, None]
        out[j] = infofrag.bhattacharyya(mu, np.full_like(mu, 2 * np.log(0.15)))
    return out


def timed_fuse(D, steps, objective, dim, device, **kw):
    t0 = time.perf_counter()
    res = fuse(D, dim=dim, objective=objective, steps=steps, init="random", device=device, log_every=0, **kw)
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0, res


# ------------------------------------------------------------------------------ the bare expression


def bare_targets(D):
    """The target-only terms, once: C_k = exp(-D_k), I_k and H_k (bits)."""
    Ck = torch.exp(-D)
    i_k = -torch.log2(Ck.mean(-1)).mean(-1)
    h_k = 2 * i_k + torch.log2((Ck * Ck).mean(-1)).mean(-1)
    return Ck, i_k, h_k


def bare_objective(mu, lv, Ck, i_k, h_k, objective):
    s = torch.exp(lv)
    sbar = 0.5 * (s[:, None, :] + s[None, :, :])
    diff = mu[:, None, :] - mu[None, :, :]
    D = (0.125 * diff * diff / sbar + 0.5 * (torch.log(sbar) - 0.5 * (lv[:, None, :] + lv[None, :, :]))).sum(-1)
    C = torch.exp(-D)
    i_f = -torch.log2(C.mean(1)).mean()
    h_f = 2 * i_f + torch.log2((C * C).mean(1)).mean()
    P = torch.einsum("ij,kij->ki", C, Ck) / C.shape[0]
    shared = i_f + i_k + torch.log2(P).mean(1)
    if objective == "nmi":
        return (shared / torch.sqrt(h_f * h_k)).mean()
    if objective == "vi":
        return (h_f + h_k - 2 * shared).mean()
    return shared.mean()


def bare_seconds_per_step(D, steps, objective, dim, device, lr=0.05):
    """The bare loop: same parameterisation (centred unit-RMS means, bounded log-variances), same
    random start, Adam; timed without the one-off target terms."""
    Dt = torch.from_numpy(D).to(device)
    with torch.no_grad():
        Ck, i_k, h_k = bare_targets(Dt)
    n = D.shape[-1]
    gen = torch.Generator().manual_seed(0)
    mu_p = torch.randn(n, dim, generator=gen).to(device).requires_grad_(True)
    bounds = boost._Bounds(*boost.LOGVAR_BOUNDS)
    raw_p = bounds.raw(torch.full((n, dim), -3.0)).to(device).requires_grad_(True)
    opt = torch.optim.Adam([mu_p, raw_p], lr=lr)
    sign = 1.0 if objective == "vi" else -1.0

    def step():
        opt.zero_grad(set_to_none=True)
        value = bare_objective(boost._normalise(mu_p), bounds.logvar(raw_p), Ck, i_k, h_k, objective)
        (sign * value).backward()
        opt.step()
        return value.item()

    for _ in range(2):  # warm-up
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


# --------------------------------------------------------------------------------------- the runs


def rates(D, steps, objective, dim, device, repeats):
    """(seconds per step of fuse, seconds per step of the bare loop), each the best of ``repeats``,
    measured alternately."""
    warm = 3
    timed_fuse(D, warm, objective, dim, device)  # allocator, thread pool, kernels
    ours, bare = math.inf, math.inf
    for _ in range(repeats):
        t_short, _ = timed_fuse(D, warm, objective, dim, device)
        t_long, res = timed_fuse(D, warm + steps, objective, dim, device)
        if res.status != "ok":
            raise RuntimeError(f"benchmark fusion did not run cleanly: {res.message}")
        ours = min(ours, max(t_long - t_short, 1e-9) / steps)
        bare = min(bare, bare_seconds_per_step(D, steps, objective, dim, device))
    return ours, bare


def sgd_protocol(n, k, steps, lr, dim, device):
    """The authors' protocol: ``steps`` plain-SGD steps (default start, NMI), end to end."""
    D = targets(n, k, seed=1)
    t0 = time.perf_counter()
    res = fuse(D, dim=dim, objective="nmi", steps=steps, lr=lr, optimizer="sgd", device=device, log_every=0)
    return time.perf_counter() - t0, res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="300,1000", help="comma-separated N (fingerprint points)")
    p.add_argument("--targets", type=int, default=50, help="K target channels")
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--objectives", default="nmi,vi,info")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", default="30,8", help="timed steps per N (comma-separated, one per size)")
    p.add_argument("--sgd-steps", type=int, default=20000, help="steps of the plain-SGD protocol (0: skip)")
    p.add_argument("--sgd-size", type=int, default=200, help="N of the plain-SGD protocol")
    p.add_argument("--sgd-lr", type=float, default=3.0)
    p.add_argument("--out", default=None, help="also write the table (markdown) here")
    p.add_argument("--shared", action="store_true",
                   help="say in the header that the machine was shared with other work")
    args = p.parse_args(argv)
    load_before = os.getloadavg()
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
        "# Boosting speed: `infofrag.boost.fuse` against a bare PyTorch expression",
        "",
        f"{where}; torch {torch.__version__}; float32; {args.targets} target channels "
        f"(torn 1-D circle channels), fused dim {args.dim}.",
        ("**Shared machine** (other jobs were running): " if args.shared else "")
        + f"load average (1, 5, 15 min) {load_before[0]:.1f}, {load_before[1]:.1f}, {load_before[2]:.1f} "
        f"before the run ({os.cpu_count()} cores).",
        "",
        "One step of `fuse` = fused fingerprint + its shared information and entropy against all "
        "targets (dedicated path) + backward + Adam; its rate is the difference of two `fuse` runs "
        "(no start-up or final costs). *Bare* = the straightforward torch expression of the same "
        "objective (`bare_objective` in the script: textbook Bhattacharyya formula, `C = exp(-D)`, "
        "`einsum('ij,kij->ki', C, C_k)` against the targets' coefficients computed once, log2 "
        "means, NMI / VI / shared information; autograd; same parameterisation and Adam), timed "
        f"without its one-off target terms. Best of {args.repeats}, alternating; ratio = ours / bare "
        "(below 1: ours is faster).",
        "",
        "| N | K | objective | ours ms/step | bare ms/step | ratio | ours steps/s | spectral start (s) |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
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
            ours, bare = rates(D, s, objective, args.dim, device, args.repeats)
            line = (f"| {n} | {args.targets} | {objective} | {1000 * ours:.1f} | {1000 * bare:.1f} | "
                    f"{ours / bare:.2f} | {1 / ours:.1f} | {t_spec:.2f} |")
            print(line, flush=True)
            lines.append(line)
    if args.sgd_steps:
        t, res = sgd_protocol(args.sgd_size, args.targets, args.sgd_steps, args.sgd_lr, args.dim, device)
        tail = [
            "",
            f"The authors' protocol: {args.sgd_steps:,} plain-SGD steps (`optimizer=\"sgd\"`, lr "
            f"{args.sgd_lr:g}, objective nmi, spectral start, dim {args.dim}) at N = {args.sgd_size}, "
            f"K = {args.targets}, end to end (preparing the targets, the start, every step, the final "
            f"measures): **{t:.1f} s** ({1000 * t / args.sgd_steps:.2f} ms/step); status {res.status}, "
            f"mean NMI {res.curve[0]:.4f} at the start, {res.mean_nmi:.4f} at the end.",
        ]
        print("\n".join(tail), flush=True)
        lines += tail
    load_after = os.getloadavg()
    tail = (f"Load average (1, 5, 15 min) after the run: {load_after[0]:.1f}, {load_after[1]:.1f}, "
            f"{load_after[2]:.1f}.")
    print("\n" + tail)
    lines += ["", tail]
    if args.out:
        write_table(args.out, lines, "bench_boost.py", argv)


if __name__ == "__main__":
    main()
