"""Benchmark: `infofrag.similarity` against the per-pair numpy loop, and against torch.matmul.

Run from the repository root::

    python benchmarks/bench_similarity.py --out benchmarks/results/similarity.md

For each (M channels, N points) it builds realistic fingerprints (Bhattacharyya distances of
random 1-D posteriors spanning collapsed, weak and informative channels; float32, as stored by
the workflow), then, in one process per configuration and on the same inputs:

* times ``similarity(D)`` (all M x M pairs, numpy in/out; best of ``--repeat`` runs);
* times the authors' per-pair loop -- one ``np.mean(np.exp(-(D_a + D_b)), -1)`` per pair, then
  ``-mean(log2(...))`` -- on a random subset of pairs, and extrapolates to the
  M (M + 1) / 2 pair evaluations plus M single-channel evaluations that the M x M result needs
  (the loop is credited with using the symmetry too);
* measures torch.matmul's multiply-add rate on the same problem shape (a batch of
  [M, N] x [N, M] float32 products, one per sample row; best of several);
* records the peak resident memory (VmHWM, reset just before the call; includes the
  M x N x N float32 input, which is resident throughout).

MACs are counted as the useful work of the symmetric result: each unordered pair of channels
once, including self-pairs: M (M + 1) / 2 * N^2. The blocked algorithm actually executes a bit
more (whole diagonal blocks); torch.matmul's rate is for the full product, M^2 N per row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

CONFIGS = [(100, 300), (250, 300), (500, 300), (100, 1000), (250, 1000), (500, 1000)]


def make_fingerprints(M, N, seed=0):
    """M one-channel fingerprints [M, N, N] float32 with a spread of informativeness."""
    import infofrag

    rng = np.random.default_rng(seed)
    factors = rng.uniform(-1, 1, size=(N, 5))
    D = np.empty((M, N, N), dtype=np.float32)
    step = 16
    for k0 in range(0, M, step):
        k1 = min(M, k0 + step)
        mus, lvs = [], []
        for _ in range(k0, k1):
            kind = rng.uniform()
            if kind < 0.2:  # collapsed channel: posterior ~ prior for every point
                mu = 0.01 * rng.normal(size=N)
                lv = -0.01 + 0.01 * rng.normal(size=N)
            else:  # a soft encoding of a random nonlinear projection of the factors
                proj = factors @ rng.normal(size=5)
                mu = np.tanh(proj) * 2.0
                sigma = 10 ** rng.uniform(-2.0, 0.7)
                lv = np.log(sigma ** 2) + 0.3 * rng.normal(size=N)
            mus.append(mu)
            lvs.append(lv)
        D[k0:k1] = infofrag.bhattacharyya(np.stack(mus)[:, :, None].astype(np.float32),
                                          np.stack(lvs)[:, :, None].astype(np.float32), device="cpu")
    return D


def loop_pair(Da, Db):
    """The authors' way: one vectorised numpy evaluation per pair."""
    return -np.mean(np.log2(np.mean(np.exp(-(Da + Db)), -1)))


def loop_single(Da):
    return -np.mean(np.log2(np.mean(np.exp(-Da), -1)))


def _rss_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def run_one(M, N, repeat, loop_seconds, seed, threads=None):
    import torch

    import infofrag

    if threads:
        torch.set_num_threads(threads)
    D = make_fingerprints(M, N, seed)
    res = {"M": M, "N": N, "threads": torch.get_num_threads(), "input_bytes": D.nbytes,
           "load_before": os.getloadavg()[0]}

    # ours (first call also warms up); peak memory measured on the first call
    reset_ok = _rss_reset()
    t0 = time.perf_counter()
    nmi, vi = infofrag.similarity(D, device="cpu")
    times = [time.perf_counter() - t0]
    res["peak_rss"] = _vm("VmHWM") if reset_ok else None
    res["peak_rss_kind"] = "VmHWM reset before the call" if reset_ok else "unavailable"
    assert np.isfinite(nmi).all() and np.isfinite(vi).all()

    # torch.matmul on the same problem shape: per sample row, [M, N] x [N, M]
    rows = max(1, min(N, (24 * 2**20) // (M * N * 4)))
    X = torch.rand(rows, M, N)
    out = torch.empty(rows, M, M)
    torch.matmul(X, X.transpose(1, 2), out=out)
    mm_times = []
    reps = max(1, int(0.5 / max(1e-9, 2 * rows * M * M * N / 100e9)))

    def time_matmul():
        t = time.perf_counter()
        for _ in range(reps):
            torch.matmul(X, X.transpose(1, 2), out=out)
        mm_times.append((time.perf_counter() - t) / reps)

    # interleave repeats of ours with matmul timings so both see the same machine load
    time_matmul()
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        infofrag.similarity(D, device="cpu")
        times.append(time.perf_counter() - t0)
        time_matmul()
    time_matmul()
    res["t_ours"] = min(times)
    res["t_ours_all"] = times
    macs = M * (M + 1) / 2 * N * N
    res["gmacs_ours"] = macs / res["t_ours"] / 1e9
    res["gmacs_matmul"] = rows * M * M * N / min(mm_times) / 1e9
    del X, out

    # the per-pair loop on a random subset of pairs (self-pairs included), extrapolated
    rng = np.random.default_rng(seed + 1)
    n_eval = M * (M + 1) // 2 + M
    done, t_loop = 0, 0.0
    for _ in range(3):  # single-channel evaluations are timed too
        t0 = time.perf_counter()
        loop_single(D[rng.integers(M)])
        t_loop += time.perf_counter() - t0
        done += 1
    while t_loop < loop_seconds and done < n_eval:
        a, b = rng.integers(M, size=2)
        t0 = time.perf_counter()
        loop_pair(D[a], D[b])
        t_loop += time.perf_counter() - t0
        done += 1
    res["loop_evals_timed"] = done
    res["t_loop"] = t_loop / done * n_eval
    res["loop_extrapolated"] = done < n_eval
    res["speedup"] = res["t_loop"] / res["t_ours"]
    res["load_after"] = os.getloadavg()[0]
    return res


def table(results):
    lines = []
    lines.append("| M | N | threads | time ours (s) | time loop (s) | speed-up | GMAC/s ours | GMAC/s matmul "
                 "| fraction, pairs once | fraction, M²N² count | peak memory (GiB) | input (GiB) | load avg |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        loop = f"{r['t_loop']:.1f}" + (" (extrap.)" if r["loop_extrapolated"] else "")
        peak = f"{r['peak_rss'] / 2**30:.2f}" if r.get("peak_rss") else "n/a"
        lines.append(
            f"| {r['M']} | {r['N']} | {r['threads']} | {r['t_ours']:.3f} | {loop} | {r['speedup']:.0f}x | "
            f"{r['gmacs_ours']:.1f} | {r['gmacs_matmul']:.1f} | {r['gmacs_ours'] / r['gmacs_matmul']:.0%} | "
            f"{r['gmacs_ours'] / r['gmacs_matmul'] * 2 * r['M'] / (r['M'] + 1):.0%} | "
            f"{peak} | {r['input_bytes'] / 2**30:.2f} | {r['load_before']:.1f}-{r['load_after']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(f"{m}x{n}" for m, n in CONFIGS),
                    help="comma-separated MxN list (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of ours per config (best is reported)")
    ap.add_argument("--loop-seconds", type=float, default=3.0, help="time budget of the timed loop subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", default="",
                    help="comma-separated torch thread counts, each configuration run with each "
                         "(default: torch's default)")
    ap.add_argument("--shared", action="store_true",
                    help="say in the table header that the machine was shared with other work")
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one config, print JSON
    args = ap.parse_args(argv)

    if args.one:
        M, N = map(int, args.one.split("x"))
        threads = int(args.threads) if args.threads else None
        print(json.dumps(run_one(M, N, args.repeat, args.loop_seconds, args.seed, threads)))
        return

    results = []
    load_start = os.getloadavg()
    for spec in args.configs.split(","):
        for threads in (args.threads.split(",") if args.threads else [""]):
            # one process per configuration: independent peak-memory figures
            cmd = [sys.executable, os.path.abspath(__file__), "--one", spec, "--repeat", str(args.repeat),
                   "--loop-seconds", str(args.loop_seconds), "--seed", str(args.seed), "--threads", threads]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results.append(r)
            runs = ", ".join(f"{t:.3f}" for t in r["t_ours_all"])
            print(f"M={r['M']} N={r['N']} threads={r['threads']}: ours {r['t_ours']:.3f}s (runs {runs}), "
                  f"loop {r['t_loop']:.1f}s ({r['loop_evals_timed']} evaluations timed), "
                  f"{r['gmacs_ours']:.1f} vs matmul {r['gmacs_matmul']:.1f} GMAC/s", file=sys.stderr, flush=True)
    load_end = os.getloadavg()

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    note = []
    cmdline = " ".join(["python benchmarks/bench_similarity.py"] + list(sys.argv[1:] if argv is None else argv))
    threads = sorted({r["threads"] for r in results})
    note.append(f"`{cmdline}` on {cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
                f"({' or '.join(map(str, threads))} intra-op threads, column threads: torch.matmul uses "
                "them; `similarity` runs as many independent single-threaded workers), numpy "
                f"{np.__version__}, float32 fingerprints. 1-minute load average {load_start[0]:.1f} "
                f"(5-minute {load_start[1]:.1f}) at the start, {load_end[0]:.1f} ({load_end[1]:.1f}) "
                "at the end; per configuration in the last column.")
    if args.shared:
        note.append("**The machine was shared with other concurrent work while this ran: absolute times "
                    "are noisy; ratios (speed-up, fraction) compare timings taken in the same process "
                    "on the same inputs.**")
    note.append("Time ours: `infofrag.similarity(D)` for all M x M pairs (best of "
                f"{args.repeat}). Time loop: the per-pair numpy loop (one "
                "`np.mean(np.exp(-(D_a + D_b)), -1)` per pair), timed on a random subset of pairs for "
                f"about {args.loop_seconds:g} s and extrapolated to the M(M+1)/2 pair + M single-channel "
                "evaluations the result needs (marked extrap.).")
    note.append("MACs: GMAC/s ours counts the useful work, each unordered pair of channels once, "
                "self-pairs included: M(M+1)/2 * N^2 multiply-adds (the blocked products execute ~10% "
                "more: whole diagonal squares of 32 channels, padding to multiples of 8 channels). "
                "GMAC/s matmul: torch.matmul on a batch of [M, N] x [N, M] float32 products (the full "
                "product per sample row), M^2 N per row, measured in the same process between the runs "
                "of ours (best of several). 'Fraction, pairs once' = ours / matmul. 'Fraction, M²N² "
                "count' credits ours with the M^2 N^2 multiply-adds of the full M x M product, as a "
                "straightforward batched implementation executes them (it computes every pair twice); "
                "it is the first fraction times 2M/(M+1).")
    note.append("Peak memory: peak resident set size of the benchmark process during the call "
                "(Linux VmHWM, reset just before it), which includes the resident M x N x N float32 "
                "input (column input) and the Python/torch runtime. Load avg: the machine's 1-minute "
                "load average before and after the configuration ran (2 cores).")
    text = "\n\n".join(note) + "\n\n" + table(results) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write("# `similarity` benchmark\n\n" + text)


if __name__ == "__main__":
    main()
