"""The paper's scale after training, on this machine: 300 members x 10 channels = 3,000 channels,
a fingerprint sample of N = 1,000 (arXiv:2405.21042), from posteriors to the report.

Builds the case in a work directory: the run's fingerprint sample (``python -m infofrag sample``:
procedural dSprites 64 x 64, N points), and one posteriors file per member (``.npz`` with the
sample's digest: imported members, "Models trained elsewhere" in the README), synthetic but
shaped like a trained ensemble's so that hotspots exist -- each member has a few informative
channels, perturbed copies of base channels that many members share (x and y position, scale,
shape, orientation, a diagonal of position) or a mix of its own, and the rest weak or collapsed
(posterior ~ prior). Then a config (``config.yaml`` in the work directory: one job per channel
for the fingerprints, ``similarity.block_size`` members per block), a timed dry run, the timed
run, and the table: per stage (rule) the jobs, their total time and the stage's span, from
Snakemake's benchmark files (``results/benchmarks``), the peak memory of each stage's largest job
(exact, from the job logs; Snakemake's sampled ``max_rss`` beside it), the load on the machine.
Then what bounds a fingerprint job: process start, imports, the job's own time, Snakemake's
per-job overhead. The ``spaces`` stage (whole-space Monte Carlo per member pair) is measured on a
few pairs and extrapolated; ``--spaces`` runs it in the workflow too.

    python benchmarks/paper_scale.py --out benchmarks/results/paper_scale.md    # ~40 min on 2 cores
    python benchmarks/paper_scale.py --members 20 --work /tmp/ps20               # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _tables import write_table  # noqa: E402

PY = sys.executable
STAGES = ("encode", "scores", "fingerprint", "similarity", "gather", "hotspots", "boost", "summary",
          "spaces", "spaces_gather")


# --------------------------------------------------------------------------- the case

def standardise(v):
    v = np.asarray(v, np.float64)
    return (v - v.mean()) / (v.std() or 1.0)


def base_channels(factors, names):
    """Shared base channels: what many members learn (the hotspots to be), from the factors."""
    f = {n: factors[:, k].astype(np.float64) for k, n in enumerate(names)}
    angle = 2 * np.pi * f["orientation"] / 40.0
    return {
        "x": standardise(f["x"]), "y": standardise(f["y"]), "scale": standardise(f["scale"]),
        "shape": standardise(np.array([-1.0, 0.2, 1.0])[f["shape"].astype(int)]),
        "orientation": standardise(np.cos(angle) + 0.5 * np.sin(2 * angle)),
        "xy": standardise(f["x"] + f["y"]),
    }


#: how often a member learns each base channel (the rest: one mix of its own, sometimes)
LEARNT = {"x": 0.9, "y": 0.9, "scale": 0.6, "shape": 0.3, "orientation": 0.2, "xy": 0.2}


def member_posteriors(rng, bases, factors, d):
    """mu, logvar [N, d] of one synthetic member."""
    N = factors.shape[0]
    mu = np.zeros((N, d))
    lv = np.zeros((N, d))
    learnt = [b for b, p in LEARNT.items() if rng.random() < p]
    if rng.random() < 0.5:  # a fragment of its own: a random nonlinear mix of the factors
        w = rng.normal(size=factors.shape[1])
        learnt.append(np.tanh(standardise(factors @ w)))
    learnt = learnt[:d]
    slots = rng.permutation(d)
    for slot, base in zip(slots, learnt):
        b = bases[base] if isinstance(base, str) else base
        warp = rng.uniform(-0.2, 0.2)
        mu[:, slot] = rng.choice([-1, 1]) * rng.uniform(0.8, 1.2) * (b + warp * b ** 3 / 3) \
            + rng.uniform(0.05, 0.2) * rng.normal(size=N)
        lv[:, slot] = np.log(rng.uniform(0.05, 0.4) ** 2) + 0.1 * rng.normal(size=N)
    for slot in slots[len(learnt):]:
        if rng.random() < 0.3:  # collapsed: the prior, exactly
            continue
        mu[:, slot] = rng.uniform(0.005, 0.05) * rng.normal(size=N)  # weak: nearly the prior
        lv[:, slot] = -rng.uniform(0.0, 0.05) + 0.01 * rng.normal(size=N)
    return mu.astype(np.float32), lv.astype(np.float32)


def build(work: Path, args) -> Path:
    """Sample, posteriors files and config in ``work``; returns the config's path."""
    inputs = work / "inputs"
    (inputs / "posteriors").mkdir(parents=True, exist_ok=True)
    names = [f"syn{k:03d}" for k in range(args.members)]
    with open(ROOT / "config" / "config.yaml") as fh:
        paper = yaml.safe_load(fh)
    cfg = {
        "results_dir": "results",
        "dataset": {"name": "dsprites", "image_size": 64},
        "sample": {"n_points": args.n, "seed": 2024},
        "model": {"arch": "conv64", "latent_dim": args.channels},
        "training": paper["training"],  # required by the schema; no member is trained here
        "ensemble": {"seeds": [0], "imported": [{"name": n, "posteriors": str(inputs / "posteriors" / f"{n}.npz"),
                                   "method": "synthetic"} for n in names]},
        "similarity": {"block_size": args.block_size},
        "spaces": {"enabled": bool(args.spaces)},
        "hotspots": paper["hotspots"],
        "boost": paper["boost"],
    }
    config = work / "config.yaml"
    # the sample is drawn from the dataset and sample sections only: a config without members
    # yet would not validate, so draw it from a copy with one placeholder trained member
    draft = dict(cfg, ensemble={"betas": [1], "seeds": [0]}, similarity={"block_size": 1})
    (work / "sample_config.yaml").write_text(yaml.safe_dump(draft, sort_keys=False))
    out = subprocess.run([PY, "-m", "infofrag", "sample", str(work / "sample_config.yaml"), "--out",
                          str(inputs / "sample.npz")], cwd=ROOT, capture_output=True, text=True, check=True)
    print(out.stdout.splitlines()[0])
    z = np.load(inputs / "sample.npz")
    digest = str(z["sample_digest"])
    factors, fnames = z["factors"], [str(s) for s in z["factor_names"]]
    bases = base_channels(factors, fnames)
    rng = np.random.default_rng(args.seed)
    for n in names:
        mu, lv = member_posteriors(rng, bases, factors, args.channels)
        np.savez(inputs / "posteriors" / f"{n}.npz", mu=mu, logvar=lv, sample_digest=np.array(digest))
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return config


# --------------------------------------------------------------------------- running

class LoadMonitor(threading.Thread):
    """The 1-minute load average every ``every`` seconds while the run lasts."""

    def __init__(self, every=15.0):
        super().__init__(daemon=True)
        self.every, self.samples, self.stop = every, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self.stop.wait(self.every)


def snakemake(work: Path, config: Path, *args, capture=True):
    cmd = [PY, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work), "--configfile", str(config),
           *args]
    return subprocess.run(cmd, capture_output=capture, text=True)


def dry_run(work, config, repeats=2):
    times, planned = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = snakemake(work, config, "-n", "--cores", "2", "--quiet", "rules")
        times.append(time.perf_counter() - t0)
        if proc.returncode:
            raise SystemExit(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        planned = proc.stdout + proc.stderr
    jobs = {}
    for line in planned.split("Job stats:", 1)[-1].splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if m and m.group(1) not in ("total", "job"):
            jobs[m.group(1)] = int(m.group(2))
    return min(times), times, jobs


# --------------------------------------------------------------------------- the table

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
DONE = re.compile(r"rule (\w+) done in ([\d.]+) s, peak memory (\d+) MiB")


def _stamp(line):
    m = LOG_TIME.match(line)
    return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if m else None


def stage_table(results: Path):
    """Per rule: jobs, total s (benchmark files), span (first start to last end), the job's own
    time (Job: entry to record), exact peak memory (job logs), sampled max_rss."""
    rows = defaultdict(lambda: {"jobs": 0, "total_s": 0.0, "max_s": 0.0, "rss": 0.0, "peak": 0.0,
                                "own": 0.0, "start": None, "end": None})
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        rel = tsv.relative_to(results / "benchmarks")
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        lines = tsv.read_text().splitlines()
        if len(lines) < 2:
            continue
        head, vals = lines[0].split("\t"), lines[-1].split("\t")
        rec = dict(zip(head, vals))
        s = float(rec["s"])
        r = rows[rule]
        r["jobs"] += 1
        r["total_s"] += s
        r["max_s"] = max(r["max_s"], s)
        try:
            r["rss"] = max(r["rss"], float(rec["max_rss"]))
        except ValueError:
            pass
        log = results / "logs" / rel.with_suffix(".log")
        if log.is_file():
            text = log.read_text().splitlines()
            done = [(ln, DONE.search(ln)) for ln in text]
            done = [(ln, m) for ln, m in done if m]
            if done:
                ln, m = done[-1]
                end = _stamp(ln)
                r["own"] += float(m.group(2))
                r["peak"] = max(r["peak"], float(m.group(3)))
                start = end - s
                r["start"] = start if r["start"] is None else min(r["start"], start)
                r["end"] = end if r["end"] is None else max(r["end"], end)
    return rows


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import importlib.metadata as md

    versions = ", ".join(f"{p} {md.version(p)}" for p in ("snakemake", "numpy", "torch", "zarr", "xarray"))
    return f"{cpu}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, " \
           f"Python {platform.python_version()}, {versions}"


# --------------------------------------------------------------------------- the fingerprint job's bounds

def best_of(cmd, repeats=5, env=None):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def job_bounds(results: Path, repeats: int):
    """Process start, the imports of a fingerprint job, the job itself run as its script runs,
    and a trivial job through Snakemake (its per-job overhead); best of ``repeats``."""
    out = {}
    out["python -c pass"] = best_of([PY, "-c", "pass"], repeats)
    job_imports = ("import sys; sys.path.insert(0, %r); import numpy; "
                   "from infofrag.stages import fingerprint; from infofrag.workflow import Job" % str(ROOT))
    out["imports of a fingerprint job (numpy, infofrag.stages.fingerprint, infofrag.workflow)"] = \
        best_of([PY, "-c", job_imports], repeats)
    out["import snakemake.iocontainers (unpickling the job's `snakemake` object)"] = \
        best_of([PY, "-c", "import snakemake.iocontainers"], repeats)
    out["(for comparison) import numpy, zarr"] = best_of([PY, "-c", "import numpy, zarr"], repeats)
    out["(for comparison) import numpy, xarray"] = best_of([PY, "-c", "import numpy, xarray"], repeats)
    out["(for comparison) import torch"] = best_of([PY, "-c", "import torch"], repeats)
    # one channel's stage in this process: compute, read, write (no provenance)
    sys.path.insert(0, str(ROOT))
    from infofrag.stages import fingerprint as fp_stage
    from infofrag.store import zarr_io

    post = sorted((results / "posteriors").glob("*.zarr"))[0]
    sample = results / "sample.zarr"
    tmp = results.parent / "fp_probe.zarr"
    times = defaultdict(lambda: float("inf"))
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = zarr_io.read_arrays(post, ("mu", "logvar"))
        s = zarr_io.read_arrays(sample, ("factors", "factor"))
        t1 = time.perf_counter()
        D = fp_stage.distances(p["mu"][:, 0], p["logvar"][:, 0]).astype(np.float32)
        t2 = time.perf_counter()
        fp_stage.channel_terms(D, s["factors"])
        t3 = time.perf_counter()
        f = fp_stage.fingerprint(p["mu"][:, 0], p["logvar"][:, 0], s["factors"], list(s["factor"]), "m", 0)
        t4 = time.perf_counter()
        from infofrag.store.fingerprint import write

        write(tmp, f)
        t5 = time.perf_counter()
        from infofrag.provenance import digest_path

        digest_path(post), digest_path(sample)
        t6 = time.perf_counter()
        for k, v in (("read the inputs (posteriors, sample factors)", t1 - t0),
                     ("Bhattacharyya distances (float64, then float32)", t2 - t1),
                     ("information terms and factor NMI (float64)", t3 - t2),
                     ("write the store", t5 - t4), ("digest the inputs (sha256)", t6 - t5)):
            times[k] = min(times[k], v)
    shutil.rmtree(tmp, ignore_errors=True)
    return out, dict(times)


def snakemake_overhead(work: Path, n_jobs: int = 40):
    """A workflow of ``n_jobs`` trivial script jobs (``import numpy``, write a byte) on 2 cores:
    the mean of their benchmark files' ``s`` and the wall time per job."""
    d = work / "overhead"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "Snakefile").write_text(
        f'rule all:\n    input: expand("out/{{i}}.txt", i=range({n_jobs}))\n\n'
        'rule one:\n    output: "out/{i}.txt"\n    benchmark: "bench/{i}.tsv"\n    script: "s.py"\n')
    (d / "s.py").write_text("import numpy\nopen(snakemake.output[0], 'w').write('x')\n")
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "snakemake", "-s", str(d / "Snakefile"), "-d", str(d), "--cores", "2", "--quiet"],
                   capture_output=True, check=True)
    wall = time.perf_counter() - t0
    s = [float(p.read_text().splitlines()[1].split("\t")[0]) for p in (d / "bench").glob("*.tsv")]
    return float(np.mean(s)), wall / n_jobs


# --------------------------------------------------------------------------- spaces at scale

def spaces_probe(results: Path, pairs: int, members: int, samples=250, repeats=10):
    """Seconds per member pair of the spaces stage's Monte Carlo (``compare``, default settings,
    one thread) on this run's posteriors, and the pairs the paper's scale needs."""
    import torch

    torch.set_num_threads(1)
    from infofrag.stages.spaces import compare
    from infofrag.store import zarr_io

    posts = sorted((results / "posteriors").glob("*.zarr"))[:pairs + 1]
    arrays = [zarr_io.read_arrays(p, ("mu", "logvar")) for p in posts]
    compare(arrays[0]["mu"], arrays[0]["logvar"], arrays[1]["mu"], arrays[1]["logvar"], samples=samples,
            repeats=2, seed=0, names=("warm", "up"))
    t0 = time.perf_counter()
    for k in range(pairs):
        a, b = arrays[k], arrays[k + 1]
        compare(a["mu"], a["logvar"], b["mu"], b["logvar"], samples=samples, repeats=repeats, seed=0,
                names=(str(k), str(k + 1)))
    per_pair = (time.perf_counter() - t0) / pairs
    n_pairs = members * (members + 1) // 2
    return per_pair, n_pairs


# --------------------------------------------------------------------------- main

def fmt_s(s):
    return f"{s:,.0f}" if s >= 100 else f"{s:.1f}" if s >= 1 else f"{s:.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=300)
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--n", type=int, default=1000, help="fingerprint sample size N")
    p.add_argument("--block-size", type=int, default=30, help="similarity.block_size (members per block)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--spaces", action="store_true", help="run the spaces stage in the workflow too")
    p.add_argument("--spaces-pairs", type=int, default=4, help="member pairs timed for the spaces estimate")
    p.add_argument("--repeats", type=int, default=5, help="best of, for the start-up timings")
    p.add_argument("--work", default="/tmp/infofrag_paper_scale")
    p.add_argument("--keep", action="store_true", help="reuse the work directory's inputs and results")
    p.add_argument("--scheduler", default=None, help="Snakemake's --scheduler (default: Snakemake's)")
    p.add_argument("--plan-only", action="store_true", help="build the case and time the dry run only")
    p.add_argument("--out", help="also write the table to this Markdown file")
    args = p.parse_args(argv)

    work = Path(args.work).resolve()
    if work.exists() and not args.keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    config = work / "config.yaml"
    if not (args.keep and config.is_file()):
        config = build(work, args)
    t_build = time.perf_counter() - t0
    t_dry, dry_times, planned = dry_run(work, config)
    print(f"dry run: {t_dry:.1f} s (runs {', '.join(f'{t:.1f}' for t in dry_times)}), planned {planned}")
    if args.plan_only:
        return

    monitor = LoadMonitor()
    monitor.start()
    cmd = ["--cores", str(args.cores)] + (["--scheduler", args.scheduler] if args.scheduler else [])
    t0 = time.perf_counter()
    proc = snakemake(work, config, *cmd, capture=True)
    wall = time.perf_counter() - t0
    monitor.stop.set()
    (work / "snakemake.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode:
        raise SystemExit(f"the run failed after {wall:.0f} s:\n{(proc.stdout + proc.stderr)[-4000:]}")
    print(f"run: {wall:.0f} s")
    load_run = monitor.samples or [float("nan")]

    results = work / "results"
    rows = stage_table(results)
    bounds, inner = job_bounds(results, args.repeats)
    ovh_s, ovh_wall = snakemake_overhead(work)
    per_pair, n_pairs = spaces_probe(results, args.spaces_pairs, args.members)
    load_after = os.getloadavg()

    M = args.members * args.channels
    fp = rows.get("fingerprint", {})
    lines = [
        f"# From posteriors to the report at the paper's scale: {args.members} members x "
        f"{args.channels} channels = {M:,} channels, N = {args.n:,}",
        "",
        f"{machine()}. Load (1-minute average) {load_before[0]:.1f} before, during the run mean "
        f"{np.mean(load_run):.1f} (max {np.max(load_run):.1f}, every 15 s), {load_after[0]:.1f} after; "
        "the machine is shared.",
        "",
        f"The case: imported members, one synthetic posteriors file each (`.npz` with the sample's "
        f"digest) on procedural dSprites 64 x 64; `similarity.block_size` {args.block_size} "
        f"({-(-args.members // args.block_size)} blocks, {planned.get('similarity', 0)} similarity shards); "
        f"`spaces.enabled: {str(bool(args.spaces)).lower()}`; Snakemake `--cores {args.cores}`"
        + (f" `--scheduler {args.scheduler}`" if args.scheduler else "") + f". Building it took {t_build:.0f} s.",
        "",
        f"**Run, posteriors to the report: {wall / 60:.1f} min** (target 60 min). "
        f"**Dry run: {t_dry:.1f} s** (best of {len(dry_times)}: {', '.join(f'{t:.1f}' for t in dry_times)} s; target 30 s).",
        "",
        "Per stage: jobs; total job time (the sum of Snakemake's benchmark `s`: process start to exit); "
        "the stage's span (first job's start to last job's end; stages overlap); the longest job; "
        "peak memory of the stage's largest job, exact (`ru_maxrss` of the job's process, from its "
        "log) and as Snakemake's benchmark samples it (`max_rss`: every 0.5 s, then every 30 s; NA "
        "or a wrapper's few MB for jobs shorter than a sample).",
        "",
        "| stage | jobs | total job time (s) | span (s) | longest job (s) | peak memory (MiB) | max_rss sampled (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    order = [s for s in STAGES if s in rows] + sorted(set(rows) - set(STAGES))
    for rule in order:
        r = rows[rule]
        span = (r["end"] - r["start"]) if r["start"] is not None else float("nan")
        lines.append(f"| {rule} | {r['jobs']:,} | {fmt_s(r['total_s'])} | {fmt_s(span)} | {fmt_s(r['max_s'])} | "
                     f"{r['peak']:,.0f} | {r['rss']:,.0f} |")
    total = sum(r["total_s"] for r in rows.values())
    lines.append(f"| all | {sum(r['jobs'] for r in rows.values()):,} | {fmt_s(total)} | {fmt_s(wall)} (run) | | "
                 f"{max(r['peak'] for r in rows.values()):,.0f} | |")
    if not args.spaces:
        lines += ["", f"`spaces` is not in the run (`spaces.enabled: false`): its Monte Carlo at the default "
                  f"setting (10 x 250 draws a pair) costs {per_pair:.2f} s per member pair here (one thread, "
                  f"mean of {args.spaces_pairs} pairs), and the paper's scale has {n_pairs:,} pairs (each "
                  f"member with itself included): {per_pair * n_pairs / 3600:.1f} CPU-hours, "
                  f"{per_pair * n_pairs / args.cores / 3600:.1f} h on {args.cores} cores, beyond the hour on "
                  "its own. A cheaper setting trades standard errors for time linearly (samples x repeats)."]
    else:
        lines += ["", f"`spaces` ran in the workflow; its Monte Carlo costs {per_pair:.2f} s per member pair here "
                  f"({n_pairs:,} pairs)."]
    n_fp = fp.get("jobs", 0) or 1
    lines += [
        "",
        "## One fingerprint job",
        "",
        f"Mean over the run's {n_fp:,} fingerprint jobs: **{fp.get('total_s', 0) / n_fp:.2f} s** per job "
        f"(Snakemake's benchmark `s`, process start to exit, imports included; longest "
        f"{fp.get('max_s', 0):.2f} s; target 1 s), of which {fp.get('own', 0) / n_fp:.2f} s inside the job's "
        "`Job` (input checks, the stage, the record). Run as 2 at a time on 2 cores.",
        "",
        f"What bounds it (best of {args.repeats}, this machine, at the load above):",
        "",
        "| part | s |",
        "| --- | ---: |",
    ]
    lines += [f"| {k} | {v:.3f} |" for k, v in bounds.items()]
    lines += [f"| in the job: {k} | {v:.3f} |" for k, v in inner.items()]
    lines += [f"| a trivial script job (`import numpy`) through Snakemake, 40 on 2 cores: its benchmark `s` | {ovh_s:.3f} |",
              f"| the same: the run's wall time per job (2 at a time) | {ovh_wall:.3f} |"]
    for line in lines:
        print(line)
    if args.out:
        write_table(args.out, lines, "paper_scale.py", argv)


if __name__ == "__main__":
    main()
