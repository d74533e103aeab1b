"""How close the similarity stage of a finished run can come to its floor, with its shards as they are.

The floor (``benchmarks/paper_scale.py``'s): the kernel on every informative channel in one process
with all the machine's threads. A run computes the same pairs as one single-thread job per block
pair (a shard), side by side: each shard computes its two blocks' distance rows (so a block's
are computed once per shard it is in), and each is a process that starts Python and imports torch.
This script measures, on the run's own fingerprints, each shard's kernel alone (one thread) and
the start of a process with the shard job's imports, then the best any scheduler could do with
those shards on the machine's cores (every assignment tried; the longest-first rule beyond 12
shards), and prints them beside the run's measured shard jobs and span.

    python benchmarks/similarity_bound.py --results /tmp/ps/results --out benchmarks/results/similarity_bound.md

``--results``: a finished run's results folder (``benchmarks/paper_scale.py --work /tmp/ps`` leaves
one in ``/tmp/ps/results``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import benchmark_record, machine, stage_table  # noqa: E402

PY = sys.executable
#: what a shard job imports before its arithmetic (scripts/similarity.py and the kernel)
SHARD_IMPORTS = "import torch; import infofrag.estimators, infofrag.stages.similarity, infofrag.workflow"


def best_makespan(times: list[float], cores: int) -> tuple[float, str]:
    """The shortest time ``cores`` workers need for indivisible jobs ``times``: exact (every
    assignment) up to 12 jobs, else the longest-first rule (within 4/3 of the exact)."""
    if len(times) <= 12:
        best = min(max(sum(t for t, w in zip(times, a) if w == c) for c in range(cores))
                   for a in itertools.product(range(cores), repeat=len(times)))
        return best, "every assignment"
    loads = [0.0] * cores
    for t in sorted(times, reverse=True):
        loads[loads.index(min(loads))] += t
    return max(loads), "longest first"


def process_start(repeats: int = 3) -> float:
    """Seconds for a fresh Python process to make a shard job's imports (the least of ``repeats``)."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", SHARD_IMPORTS], cwd=ROOT, check=True)
        out.append(time.perf_counter() - t0)
    return min(out)


def shard_inputs(results: Path) -> list[dict]:
    """Every shard of the run from its key file: its name, both blocks' members, the threshold."""
    out = []
    for key in sorted((results / ".keys" / "similarity").glob("*.json")):
        k = json.loads(key.read_text())
        out.append({"name": key.stem, "a": k["blocks"]["a"], "b": k["blocks"]["b"],
                    "threshold": None if k["bounded_below"] is None else float(k["bounded_below"])})
    if not out:
        raise SystemExit(f"{results}: no similarity shards (is it a finished run's results folder?)")
    return out


def run_members(shards: list[dict]) -> list[str]:
    """The members of the shards' blocks, each once, in block order."""
    return list(dict.fromkeys(m for s in shards for m in s["a"] + s["b"]))


def regrouped(shards: list[dict], per_block: int) -> list[dict]:
    """The run's members (in block order) in blocks of ``per_block``, and a shard per pair of
    blocks: another layout of the same channels, measured as if the run had used it."""
    members = run_members(shards)
    blocks = [members[k:k + per_block] for k in range(0, len(members), per_block)]
    return [{"name": f"block{i}__block{j}", "a": blocks[i], "b": blocks[j], "threshold": shards[0]["threshold"]}
            for i in range(len(blocks)) for j in range(i, len(blocks))]


def informative(results: Path, members: list, threshold):
    from infofrag.store import fingerprint as fingerprint_store

    mu, lv, _, fps = fingerprint_store.read_posteriors([results / "fingerprints" / f"{m}.zarr" for m in members],
                                                        check=False)
    info = np.concatenate([f.info_bits for f in fps])
    keep = np.ones(len(info), bool) if threshold is None else info > threshold
    return mu[keep], lv[keep]


def measure(results: Path, cores: int, per_block: int | None = None) -> dict:
    """``per_block``: measure blocks of that many members instead of the run's own shards."""
    import torch

    from infofrag.estimators import PosteriorChannels, similarity

    shards = shard_inputs(results)
    if per_block:
        shards = regrouped(shards, per_block)
    stages = {} if per_block else stage_table(results)
    table = stages.get("similarity")
    jobs = {tsv.stem: float(rec["s"]) for tsv in (results / "benchmarks" / "similarity").glob("*.tsv")
            if (rec := benchmark_record(tsv)) is not None}
    cache = {}

    def channels(members, threshold):
        key = (tuple(members), threshold)
        if key not in cache:
            cache[key] = informative(results, members, threshold)
        return cache[key]

    torch.set_num_threads(1)
    rows = []
    for s in shards:
        a = channels(s["a"], s["threshold"])
        same = s["a"] == s["b"]
        b = a if same else channels(s["b"], s["threshold"])
        t0 = time.perf_counter()
        similarity(PosteriorChannels(*a), None if same else PosteriorChannels(*b), return_terms=True)
        rows.append({**s, "rows": len(a[0]), "cols": len(b[0]), "same": same,
                     "kernel": time.perf_counter() - t0, "job": None if per_block else jobs.get(s["name"])})
    torch.set_num_threads(cores)
    mu, lv = channels(run_members(shards), shards[0]["threshold"])
    t0 = time.perf_counter()
    similarity(PosteriorChannels(mu, lv))
    floor = time.perf_counter() - t0
    start = process_start()
    kernel_only = best_makespan([r["kernel"] for r in rows], cores)
    with_start = best_makespan([r["kernel"] + start for r in rows], cores)
    span = None if table is None or table["start"] is None else table["end"] - table["start"]
    fps = stages.get("fingerprint")
    tail = None if span is None or fps is None or fps["end"] is None else table["end"] - fps["end"]
    return {"rows": rows, "floor": floor, "n_informative": len(mu), "start": start, "kernel_only": kernel_only,
            "with_start": with_start, "span": span, "tail": tail, "cores": cores, "per_block": per_block}


def report(m: dict, results: Path) -> str:
    f, c = m["floor"], m["cores"]
    lines = [
        "# The similarity stage against its floor: what the shard layout allows", "",
        machine(), "",
        f"On the finished run in `{results}`: {len(m['rows'])} shards"
        + (f" (not the run's: its members in blocks of {m['per_block']})" if m["per_block"] else "")
        + f", {m['n_informative']:,} informative channels. "
        f"**Floor** (the kernel on all of them in one process, {c} threads): **{f:.1f} s**. "
        f"A process that makes a shard job's imports (`{SHARD_IMPORTS}`): **{m['start']:.2f} s** (least of 3).", "",
        "| shard | channels (rows x cols) | pairs computed | kernel alone, 1 thread (s) | shard job in the run (s) "
        "| job - kernel (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in m["rows"]:
        pairs = r["rows"] * (r["rows"] + 1) // 2 if r["same"] else r["rows"] * r["cols"]
        job = "–" if r["job"] is None else f"{r['job']:.1f}"
        gap = "–" if r["job"] is None else f"{r['job'] - r['kernel']:.1f}"
        lines.append(f"| {r['name']} | {r['rows']:,} x {r['cols']:,} | {pairs:,} | {r['kernel']:.1f} | {job} | {gap} |")
    kern = sum(r["kernel"] for r in m["rows"])
    jobs = [r["job"] for r in m["rows"] if r["job"] is not None]
    every = len(jobs) == len(m["rows"])
    lines += [
        f"| all | | | {kern:.1f} ({kern / (f * c):.2f}x the floor's {c}-thread work) | "
        + (f"{sum(jobs):.1f} | {sum(jobs) - kern:.1f} |" if every else "– | – |"), "",
        "| schedule of these shards on {} cores | span (s) | / floor |".format(c),
        "| --- | ---: | ---: |",
        f"| best, kernels alone ({m['kernel_only'][1]}) | {m['kernel_only'][0]:.1f} | "
        f"{m['kernel_only'][0] / f:.2f} |",
        f"| best, each kernel + a process start ({m['with_start'][1]}) | {m['with_start'][0]:.1f} | "
        f"{m['with_start'][0] / f:.2f} |",
    ]
    if m["span"] is not None:
        lines.append(f"| measured in the run (first shard's start to last shard's end) | {m['span']:.1f} | "
                     f"{m['span'] / f:.2f} |")
    if m["tail"] is not None:
        lines.append(f"| measured in the run, after its last input (last fingerprint's end to last shard's end) | "
                     f"{m['tail']:.1f} | {m['tail'] / f:.2f} |")
    opt = f" --block-members {m['per_block']}" if m["per_block"] else ""
    lines += ["", f"Command: `python benchmarks/similarity_bound.py --results {results}{opt}`", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, required=True, help="a finished run's results folder")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores of the run (default: this machine's)")
    ap.add_argument("--block-members", type=int, help="measure another layout: the run's members in blocks of "
                    "this many (default: the run's own shards)")
    ap.add_argument("--out", type=Path, help="also write the table here")
    a = ap.parse_args(argv)
    text = report(measure(a.results.resolve(), a.cores, a.block_members), a.results)
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
