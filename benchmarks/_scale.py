"""What the paper-scale and zoo-scale benchmarks share: a synthetic ensemble of posteriors-only
members on the run's real fingerprint sample, the timed dry run and run, the per-stage table
from the run's own benchmark files and job logs, and each stage's floor -- its arithmetic alone,
in one process, measured in the same run.

The case. ``python -m infofrag sample`` draws the run's fingerprint sample (procedural dSprites
64 x 64, N points, its digest). Each member is a posteriors file (``.npz`` with the sample's
digest: "Models trained elsewhere" in the README), synthetic but shaped like a trained one: its
channels are noisy, warped copies of *fragments* (functions of the sample's factors: x, y, scale,
shape, orientation, a diagonal of position, and a few that only some model families find), a
fragment of its own now and then, and the rest collapsed (the prior exactly) or weak. Which
fragments a member carries, and how many channels collapse, depend on its family and its
hyperparameter's value through :class:`Grid`; the planted fragment of every channel is kept
(``truth.json``) so that the hotspots can be scored against it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
STAGES = ("encode", "fingerprint", "scores", "similarity", "gather", "hotspots", "boost", "spaces",
          "spaces_gather", "summary", "explore")


# --------------------------------------------------------------------------- the case

def standardise(v):
    v = np.asarray(v, np.float64)
    return (v - v.mean()) / (v.std() or 1.0)


def fragments(factors, names) -> dict:
    """The planted fragments: functions of the sample's factors (standardised)."""
    f = {n: factors[:, k].astype(np.float64) for k, n in enumerate(names)}
    angle = 2 * np.pi * f["orientation"] / 40.0
    shape = np.array([-1.0, 0.2, 1.0])[f["shape"].astype(int)]
    return {
        "x": standardise(f["x"]), "y": standardise(f["y"]), "scale": standardise(f["scale"]),
        "shape": standardise(shape), "orientation": standardise(np.cos(angle) + 0.5 * np.sin(2 * angle)),
        "xy": standardise(f["x"] + f["y"]),
        # fragments only some families find
        "x*shape": standardise(f["x"] * (1 + shape)), "scale-y": standardise(f["scale"] - 0.5 * f["y"]),
        "xy-ring": standardise(np.hypot(f["x"] - 15.5, f["y"] - 15.5)),
    }


@dataclass
class Grid:
    """Families x values x seeds, and how often each family finds each fragment. ``find``:
    {family: {fragment: probability}}; ``collapse``: the fraction of a member's channels that
    collapse, from the family's lowest value to its highest (linear in the value's rank)."""

    families: dict  # family -> (param, [values])
    seeds: int
    find: dict
    collapse: tuple = (0.15, 0.75)
    own: float = 0.4  # chance of a fragment of its own (a random mix of the factors)

    def members(self):
        for fam, (param, values) in self.families.items():
            for rank, value in enumerate(values):
                for seed in range(self.seeds):
                    yield fam, param, value, rank / max(1, len(values) - 1), seed


#: disentanglement_lib's unsupervised study (config/zoo.yaml): six families x six values x 50 seeds
_COMMON = {"x": 0.9, "y": 0.9, "scale": 0.6, "shape": 0.3, "orientation": 0.15, "xy": 0.2}
ZOO = Grid(
    families={"beta_vae": ("beta", [1, 2, 4, 6, 8, 16]), "annealed_vae": ("c_max", [5, 10, 25, 50, 75, 100]),
              "factor_vae": ("gamma", [10, 20, 30, 40, 50, 100]), "dip_vae_i": ("lambda_od", [1, 2, 5, 10, 20, 50]),
              "dip_vae_ii": ("lambda_od", [1, 2, 5, 10, 20, 50]), "beta_tcvae": ("beta", [1, 2, 4, 6, 8, 10])},
    seeds=50,
    find={"beta_vae": dict(_COMMON), "annealed_vae": {**_COMMON, "scale-y": 0.5},
          "factor_vae": {**_COMMON, "orientation": 0.4}, "dip_vae_i": {**_COMMON, "x*shape": 0.6},
          "dip_vae_ii": {**_COMMON, "x*shape": 0.5, "xy-ring": 0.3}, "beta_tcvae": {**_COMMON, "shape": 0.6}},
)
#: the paper's scale: one family of 300 members (the earlier benchmark's ensemble)
PAPER = Grid(families={"synthetic": ("value", [1])}, seeds=300,
             find={"synthetic": {"x": 0.9, "y": 0.9, "scale": 0.6, "shape": 0.3, "orientation": 0.2, "xy": 0.2}},
             collapse=(0.3, 0.3), own=0.5)


def member_posteriors(rng, frags, factors, d, find: dict, collapse: float, own: float):
    """mu, logvar [N, d] of one synthetic member and the planted fragment of each channel
    ("own", "collapsed", "weak" or a fragment's name)."""
    N = factors.shape[0]
    mu = np.zeros((N, d))
    lv = np.zeros((N, d))
    n_live = d - int(round(collapse * d + rng.uniform(-1, 1)))
    learnt = [name for name, p in find.items() if rng.random() < p]
    rng.shuffle(learnt)
    if rng.random() < own:
        learnt.append("own")
    learnt = learnt[:max(0, n_live)]
    slots = rng.permutation(d)
    planted = ["collapsed"] * d
    for slot, name in zip(slots, learnt):
        b = standardise(np.tanh(standardise(factors @ rng.normal(size=factors.shape[1])))) if name == "own" \
            else frags[name]
        warp = rng.uniform(-0.2, 0.2)
        mu[:, slot] = rng.choice([-1, 1]) * rng.uniform(0.8, 1.2) * (b + warp * b ** 3 / 3) \
            + rng.uniform(0.05, 0.2) * rng.normal(size=N)
        lv[:, slot] = np.log(rng.uniform(0.05, 0.4) ** 2) + 0.1 * rng.normal(size=N)
        planted[slot] = name
    for slot in slots[len(learnt):n_live]:  # alive but learning nothing much: nearly the prior
        mu[:, slot] = rng.uniform(0.005, 0.05) * rng.normal(size=N)
        lv[:, slot] = -rng.uniform(0.0, 0.05) + 0.01 * rng.normal(size=N)
        planted[slot] = "weak"
    return mu.astype(np.float32), lv.astype(np.float32), planted


SHORT = {"beta_vae": "bvae", "annealed_vae": "avae", "factor_vae": "fvae", "dip_vae_i": "dip1",
         "dip_vae_ii": "dip2", "beta_tcvae": "tcvae"}


def member_name(family: str, value, seed: int, grid: Grid) -> str:
    if len(grid.families) == 1:
        return f"syn{seed:03d}"
    return f"{SHORT.get(family, family.replace('_', ''))}{format(float(value), 'g')}-s{seed:03d}"


def build(work: Path, grid: Grid, n: int, channels: int, seed: int, settings: dict) -> tuple[Path, dict]:
    """Sample, posteriors files, config (``settings``: sections to put in it) and truth in
    ``work``; returns the config's path and the truth ({member: planted fragment per channel})."""
    inputs = work / "inputs"
    (inputs / "posteriors").mkdir(parents=True, exist_ok=True)
    with open(ROOT / "config" / "config.yaml") as fh:
        paper = yaml.safe_load(fh)
    base = {"results_dir": "results", "dataset": {"name": "dsprites", "image_size": 64},
            "sample": {"n_points": n, "seed": 2024}, "model": {"arch": "conv64", "latent_dim": channels},
            "training": paper["training"]}  # required by the schema; no member is trained here
    draft = dict(base, ensemble={"betas": [1], "seeds": [0]})
    (work / "sample_config.yaml").write_text(yaml.safe_dump(draft, sort_keys=False))
    out = subprocess.run([PY, "-m", "infofrag", "sample", str(work / "sample_config.yaml"), "--out",
                          str(inputs / "sample.npz")], cwd=ROOT, capture_output=True, text=True, check=True)
    print(out.stdout.splitlines()[0], flush=True)
    z = np.load(inputs / "sample.npz")
    digest = str(z["sample_digest"])
    factors, fnames = z["factors"], [str(s) for s in z["factor_names"]]
    frags = fragments(factors, fnames)
    rng = np.random.default_rng(seed)
    imported, truth = [], {}
    for fam, param, value, rank, s in grid.members():
        name = member_name(fam, value, s, grid)
        c0, c1 = grid.collapse
        mu, lv, planted = member_posteriors(rng, frags, factors, channels, grid.find[fam], c0 + (c1 - c0) * rank,
                                            grid.own)
        path = inputs / "posteriors" / f"{name}.npz"
        np.savez(path, mu=mu, logvar=lv, sample_digest=np.array(digest))
        entry = {"name": name, "posteriors": str(path), "method": fam}
        if len(grid.families) > 1:
            entry.update(value=value, param=param, seed=s)
        imported.append(entry)
        truth[name] = {"family": fam, "value": value, "planted": planted}
    cfg = dict(base, ensemble={"seeds": [0], "imported": imported}, **settings)
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    (work / "truth.json").write_text(json.dumps(truth))
    return config, truth


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


def snakemake(work: Path, config: Path, *args):
    cmd = [PY, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work), "--configfile", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def peak_rss_of(cmd) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak resident memory (MiB, of the process and its children) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    kb = next((int(x) for x in reversed(proc.stderr.strip().splitlines()) if x.strip().isdigit()), 0)
    return wall, kb / 1024, proc


def dry_run(work: Path, config: Path, *extra) -> tuple[float, float, dict, str]:
    """(seconds, peak MiB, jobs per rule, output) of a dry run."""
    cmd = [PY, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work), "--configfile", str(config),
           "-n", "--cores", "2", *extra]
    wall, mib, proc = peak_rss_of(cmd)
    text = proc.stdout + proc.stderr
    if proc.returncode:
        raise SystemExit(f"dry run failed:\n{text[-4000:]}")
    jobs = {}
    for line in text.split("Job stats:", 1)[-1].splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if m and m.group(1) not in ("total", "job"):
            jobs[m.group(1)] = int(m.group(2))
    return wall, mib, jobs, text


def slurm_submissions(work: Path, config: Path) -> tuple[int, dict, float]:
    """SLURM submissions ``snakemake -n --profile slurm`` plans, per kind (a group job is one
    submission; local rules none), and the dry run's seconds. Training is not in a
    posteriors-only case; everything here is after training."""
    wall, _, _, text = dry_run(work, config, "--profile", "slurm")
    per_kind = defaultdict(int)
    for g in re.findall(r"Group job (\w+) \(jobs in lexicogr\. order\):", text):
        per_kind[f"group {g}"] += 1
    for rule in re.findall(r"^rule (\w+):", text, re.M):  # not indented: a job of its own
        if rule != "all":  # the target: nothing to run, run locally
            per_kind[rule] += 1
    return sum(per_kind.values()), dict(per_kind), wall


# --------------------------------------------------------------------------- the table

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
DONE = re.compile(r"rule (\w+) done in ([\d.]+) s, peak memory (\d+) MiB")


def _stamp(line):
    m = LOG_TIME.match(line)
    return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if m else None


def benchmark_record(tsv: Path) -> dict | None:
    """A Snakemake benchmark file's last row by column name (``s``, ``max_rss``, ...); None when
    it holds no row."""
    lines = tsv.read_text().splitlines()
    return dict(zip(lines[0].split("\t"), lines[-1].split("\t"))) if len(lines) >= 2 else None


def stage_table(results: Path) -> dict:
    """Per rule: jobs, total s (benchmark files), span (first start to last end), the job's own
    time (Job: entry to record), exact peak memory (job logs), sampled max_rss."""
    rows = defaultdict(lambda: {"jobs": 0, "total_s": 0.0, "max_s": 0.0, "rss": 0.0, "peak": 0.0,
                                "own": 0.0, "start": None, "end": None})
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        rel = tsv.relative_to(results / "benchmarks")
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        rec = benchmark_record(tsv)
        if rec is None:
            continue
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
            done = [(ln, DONE.search(ln)) for ln in log.read_text().splitlines()]
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


def tree_size(path: Path, skip=("logs", "benchmarks")) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()
               and p.relative_to(path).parts[0] not in skip)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import importlib.metadata as md

    versions = ", ".join(f"{p} {md.version(p)}" for p in ("snakemake", "numpy", "torch", "zarr", "scikit-learn"))
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, {versions}"


def fmt_s(s):
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "–"
    return f"{s:,.0f}" if s >= 100 else f"{s:.1f}" if s >= 1 else f"{s:.2f}"


# --------------------------------------------------------------------------- floors

@dataclass
class Floor:
    seconds: float
    how: str
    extra: dict = field(default_factory=dict)


def _timed(fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return time.perf_counter() - t0, out


def _scaled(per_unit: list, n: int) -> float:
    return float(np.mean(per_unit)) * n


def floors(results: Path, cfg: dict, fraction: float, threads: int, sample_members: int = 24) -> dict:
    """Each stage's arithmetic alone, in this process, on the run's own inputs: {stage: Floor}.

    Per-member stages (encode, fingerprint, scores): mean over ``sample_members`` members times
    the members. Similarity: the kernel on the informative channels (the bounded pairs' sums
    are negligible), on a random ``fraction`` of them, scaled by 1/fraction^2 (the products
    grow as the square). Gather: writing its store's arrays from memory. Hotspots: OPTICS on the
    informative submatrix. Boost: the fusion of the run's targets, ``fraction`` of its steps,
    scaled. Spaces: the Monte Carlo of ``sample_members`` estimated pairs, scaled to all, the
    groups' concatenations, and the fingerprint pass over every member (``fraction`` of them,
    scaled as the square)."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(ROOT))
    from infofrag import metrics
    from infofrag.estimators import PosteriorChannels, PosteriorSpaces, similarity
    from infofrag.measures import check_posteriors
    from infofrag.stages import fingerprint as fp_stage
    from infofrag.stages import spaces as sp_stage
    from infofrag.store import zarr_io

    rng = np.random.default_rng(0)
    out = {}
    posts = sorted((results / "posteriors").glob("*.zarr"))
    names = [p.name[:-5] for p in posts]
    M = len(posts)
    pick = sorted(rng.choice(M, min(sample_members, M), replace=False))
    sample = zarr_io.read_arrays(results / "sample.zarr", ("factors", "factor"))
    fnames = [str(f) for f in sample["factor"]]
    arrays = {names[k]: zarr_io.read_arrays(posts[k], ("mu", "logvar")) for k in range(M)}

    inputs = [Path(e["posteriors"]) for e in cfg["ensemble"]["imported"]]
    t = [(_timed(lambda p: check_posteriors(np.load(p)["mu"], np.load(p)["logvar"], str(p)), inputs[k])[0])
         for k in pick]
    out["encode"] = Floor(_scaled(t, M), f"read and check a posteriors file; mean of {len(pick)} x {M}")

    t = [_timed(fp_stage.fingerprints, arrays[names[k]]["mu"], arrays[names[k]]["logvar"], sample["factors"],
                fnames, names[k])[0] for k in pick]
    out["fingerprint"] = Floor(_scaled(t, M), f"a member's channel terms and factor NMI; mean of {len(pick)} x {M}")

    s = cfg.get("scores", {})
    t = [_timed(metrics.all_metrics, arrays[names[k]]["mu"], sample["factors"], fnames, seed=0,
                importance=s.get("importance", "gbt"))[0] for k in pick[:8]]
    out["scores"] = Floor(_scaled(t, M), f"MIG, SAP, DCI ({s.get('importance', 'gbt')}) on the sample; mean of "
                                         f"{len(t)} x {M}")

    sim = zarr_io.read_arrays(results / "similarity.zarr", ("info_bits",))
    hot = json.loads((results / "hotspots" / "hotspots.json").read_text())
    info = np.asarray(sim["info_bits"], dtype=np.float64)
    keep = np.flatnonzero(info > cfg["hotspots"]["info_threshold"])
    mu = np.concatenate([arrays[n]["mu"].T for n in names])
    lv = np.concatenate([arrays[n]["logvar"].T for n in names])
    part = np.sort(rng.choice(keep, max(2, int(round(fraction * len(keep)))), replace=False))
    secs, _ = _timed(similarity, PosteriorChannels(mu[part], lv[part]))
    out["similarity"] = Floor(secs * (len(keep) / len(part)) ** 2,
                              f"the kernel on {len(part):,} of the {len(keep):,} informative channels, {threads} "
                              f"threads, x ({len(keep):,}/{len(part):,})^2")

    import xarray as xr

    Mch = len(info)
    arr = np.random.default_rng(1).normal(size=(Mch, Mch))
    tmp = results.parent / "floor_gather.zarr"
    shutil.rmtree(tmp, ignore_errors=True)
    secs, _ = _timed(lambda: xr.Dataset({"v": (("a", "b"), arr)}).to_zarr(
        tmp, mode="w", encoding={"v": {"chunks": (2048, 2048)}}, consolidated=False))
    shutil.rmtree(tmp, ignore_errors=True)
    del arr
    out["gather"] = Floor(3 * secs, f"writing three {Mch:,} x {Mch:,} float64 pair variables (one timed, x 3)")

    from infofrag.hotspots import _informative_distances, _run_optics

    ds = xr.open_zarr(results / "similarity.zarr")
    hs = cfg["hotspots"]
    settings = {"min_samples": min(hs.get("min_samples", 5), max(2, len(keep) - 1)), "xi": hs.get("xi", 0.05)}
    dist = _informative_distances(ds, hs.get("distance", "vi"), keep)
    secs, _ = _timed(_run_optics, dist, {**settings, "cluster_method": "xi"})
    out["hotspots"] = Floor(secs, f"OPTICS on the {len(keep):,} informative channels' distances")
    del dist

    b = cfg["boost"]
    spots = hot.get("hotspots") or []
    if spots:
        from infofrag.boost import fuse
        from infofrag.stages.boost import choose_targets, target_distances

        targets, _ = choose_targets(None, hot, "hotspots", max_targets=b.get("max_targets", 64))
        D = target_distances(sorted((results / "fingerprints").glob("*.zarr")), targets)
        steps = max(1, int(round(fraction * b["steps"])))
        secs, _ = _timed(fuse, D, dim=b["dim"], objective=b["objective"], steps=steps, lr=b["lr"], seed=0,
                         optimizer="adam")
        out["boost"] = Floor(secs * b["steps"] / steps, f"fusing the {len(targets)} targets, {steps} of "
                                                        f"{b['steps']} steps, scaled")
        del D

    if (results / "spaces.zarr").exists():
        spc = xr.open_zarr(results / "spaces.zarr")
        est = np.asarray(spc["monte_carlo"].values)
        ii, jj = np.nonzero(np.triu(est))
        order = rng.permutation(len(ii))[:sample_members]
        members = [str(m) for m in spc["member"].values]
        sset = {k: int(cfg.get("spaces", {}).get(k, d)) for k, d in (("samples", 250), ("repeats", 10))}
        t = []
        for k in order:
            a, c = arrays[members[ii[k]]], arrays[members[jj[k]]]
            t.append(_timed(sp_stage.compare, a["mu"], a["logvar"], c["mu"], c["logvar"], seed=0,
                            names=("a", "b"), **sset)[0])
        mc = _scaled(t, len(ii))
        sub = np.sort(rng.choice(M, max(2, int(round(fraction * M))), replace=False))
        stack_mu = np.stack([arrays[names[k]]["mu"] for k in sub]).astype(np.float64)
        stack_lv = np.stack([arrays[names[k]]["logvar"] for k in sub]).astype(np.float64)
        secs, _ = _timed(similarity, PosteriorSpaces(stack_mu, stack_lv), dtype=torch.float64)
        out["spaces"] = Floor(mc, f"Monte Carlo of {len(t)} of the {len(ii):,} estimated pairs, scaled")
        out["spaces_gather"] = Floor(secs * (M / len(sub)) ** 2,
                                     f"the fingerprint pass over {len(sub)} of {M} members, x ({M}/{len(sub)})^2 "
                                     "(the groups' concatenations not included)")
    return out


# --------------------------------------------------------------------------- recovery

def recovery(hot: dict, truth: dict) -> list[dict]:
    """For each planted fragment: the hotspot holding most of its channels, the fraction of its
    informative channels there (recall), the fraction of that hotspot's channels that are it
    (precision), and per family the share of members that found it (planted) and that have a
    channel in that hotspot. ``hot``: a hotspots result (``hotspots.json``, or
    :func:`infofrag.hotspots.find_hotspots`'s)."""
    spots = hot.get("hotspots") or []
    where = {}
    for h in spots:
        for m, c in h["members"]:  # [member, channel] pairs
            where[(m, int(c))] = h["id"]
    informative = {tuple(x.rsplit("/", 1)) for x in hot.get("informative", [])}
    planted = defaultdict(list)
    for m, t in truth.items():
        for c, name in enumerate(t["planted"]):
            if name not in ("collapsed", "weak", "own") and (m, str(c)) in informative:
                planted[name].append((m, c))
    families = sorted({t["family"] for t in truth.values()})
    per_family_members = defaultdict(int)
    for t in truth.values():
        per_family_members[t["family"]] += 1
    rows = []
    for name, chans in sorted(planted.items()):
        counts = defaultdict(int)
        for mc in chans:
            if mc in where:
                counts[where[mc]] += 1
        if not counts:
            rows.append({"fragment": name, "channels": len(chans), "hotspot": None})
            continue
        hid = max(counts, key=counts.get)
        size = next(h["size"] for h in spots if h["id"] == hid)
        spot = next(h for h in spots if h["id"] == hid)
        found = defaultdict(set)
        held = defaultdict(set)
        for m, c in chans:
            found[truth[m]["family"]].add(m)
        for m, _ in spot["members"]:
            held[truth[m]["family"]].add(m)
        rows.append({"fragment": name, "channels": len(chans), "hotspot": hid, "recall": counts[hid] / len(chans),
                     "precision": counts[hid] / size, "size": size,
                     "families": {f: (len(found[f]) / per_family_members[f], len(held[f]) / per_family_members[f])
                                  for f in families}})
    return rows
