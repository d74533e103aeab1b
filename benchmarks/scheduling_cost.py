"""What Snakemake's own scheduling costs with many ready jobs, under the workflow's settings.

A workflow of ``--jobs`` independent jobs, each with three small input files and a ``sleep``
(no CPU of its own), run on ``--cores`` cores with the job-rate limiter lifted (as every local
run of the workflow) under each setting: how many ready jobs a round weighs
(``scheduler-subsample``) and whether input sizes are read once
(:func:`infofrag.scheduling.cache_input_sizes`). Snakemake's process time (its user + system CPU,
with its jobs' ``sleep`` and shells) and the wall time against the ideal (jobs x sleep / cores).

    python benchmarks/scheduling_cost.py --out benchmarks/results/scheduling_cost.md
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import machine  # noqa: E402

PY = sys.executable

SNAKEFILE = """
import sys
sys.path.insert(0, {root!r})
from infofrag.scheduling import cache_input_sizes, lift_local_rate_limit

rule all:
    input: expand("out/{{i}}.txt", i=range({jobs}))

rule one:
    input: "in/{{i}}.a", "in/{{i}}.b", "in/{{i}}.c"
    output: "out/{{i}}.txt"
    shell: "sleep {sleep}; touch {{output}}"

onstart:
    assert lift_local_rate_limit(workflow)
    if {cache}:
        assert cache_input_sizes(workflow)
"""

#: (label, scheduler-subsample or None, sizes read once)
SETTINGS = [
    ("weigh 100, sizes read each round (the workflow's earlier setting)", 100, False),
    ("weigh every ready job, sizes read each round (Snakemake's default)", None, False),
    ("weigh 1,000, sizes read once (the workflow's setting)", 1000, True),
    ("weigh 100, sizes read once", 100, True),
]


def run(work: Path, jobs: int, sleep: float, cores: int, subsample, cache: bool) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    (work / "in").mkdir(parents=True)
    for i in range(jobs):
        for s in "abc":
            (work / "in" / f"{i}.{s}").write_text("x" * 100)
    (work / "Snakefile").write_text(SNAKEFILE.format(root=str(ROOT), jobs=jobs, sleep=sleep, cache=cache))
    cmd = [PY, "-m", "snakemake", "--cores", str(cores), "--scheduler", "greedy", "--quiet"]
    if subsample:
        cmd += ["--scheduler-subsample", str(subsample)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed in {work}:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1200)
    ap.add_argument("--sleep", type=float, default=0.1)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/infofrag-scheduling-cost"))
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    ideal = a.jobs * a.sleep / a.cores
    lines = ["# Snakemake's scheduling cost with many ready jobs", "", machine(), "",
             f"{a.jobs:,} ready jobs, each three input files and `sleep {a.sleep}`, on {a.cores} cores, the job-rate "
             f"limiter lifted; the ideal wall time {ideal:.0f} s. CPU: Snakemake's process and its jobs "
             "(the jobs' own part, a shell and a `sleep` each, is the same in every row).", "",
             "| setting | wall (s) | wall / ideal | CPU (s) |", "| --- | ---: | ---: | ---: |"]
    for label, subsample, cache in SETTINGS:
        r = run(a.work, a.jobs, a.sleep, a.cores, subsample, cache)
        lines.append(f"| {label} | {r['wall']:.1f} | {r['wall'] / ideal:.2f} | {r['cpu']:.1f} |")
        print(lines[-1], flush=True)
    shutil.rmtree(a.work, ignore_errors=True)
    lines += ["", "Command: `python benchmarks/scheduling_cost.py" + (f" --out {a.out}`" if a.out else "`"), ""]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
