"""A model zoo from posteriors to the report on this machine: disentanglement_lib's unsupervised
study shaped as ``config/zoo.yaml`` has it -- six families x six values x 50 seeds = 1,800
members, 10 channels each (18,000 channels), a fingerprint sample of N = 1,000 -- as
posteriors-only imported members carrying their method, value and seed.

The members are synthetic (``benchmarks/_scale.py``): planted fragments whose recurrence
differs by family and value, and collapsed channels in realistic proportions (from 15% of a
member's channels at a family's lowest value to 75% at its highest, about 45% overall). Built in
seconds, seeded. Then the dry run (seconds, memory), the SLURM plan (``snakemake -n --profile
slurm``: submissions after training), ``python -m infofrag check-config`` (each job's memory
against this machine's), the timed run, and the table: per stage the jobs, total job time, span,
largest job's memory, and the floor (its arithmetic alone, measured here after the run) with the
ratio span / floor; the results tree's size; how well the hotspots recover the planted fragments.

    python benchmarks/zoo_scale.py --out benchmarks/results/zoo_scale.md     # about an hour on 2 cores
    python benchmarks/zoo_scale.py --seeds 5 --work /tmp/zoo5                # a quick look (180 members)

Settings the case uses and why: ``scores.importance: none`` (MIG and SAP only: DCI's classifiers
cost seconds to a minute a member, hours for 1,800; the table gives one member's cost with
each classifier); ``boost.steps: 500``; everything else the defaults or config/zoo.yaml's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import (PAPER, PY, ROOT, STAGES, ZOO, Grid, LoadMonitor, benchmark_record, build, dry_run, floors,  # noqa: E402
                    fmt_s, machine, recovery, slurm_submissions, snakemake, stage_table, tree_size)
from _tables import write_table  # noqa: E402

sys.path.insert(0, str(ROOT))


def settings_for(preset: str) -> dict:
    zoo = yaml.safe_load((ROOT / "config" / "zoo.yaml").read_text())
    return {
        "similarity": {"block_size": "auto"},
        "hotspots": zoo["hotspots"],
        "boost": {**zoo["boost"], "steps": 500},
        "scores": {"importance": "none"},
    }


def one_member_scores(results: Path, importance: str) -> float:
    """Seconds of one member's MIG, SAP and DCI with ``importance`` on the fingerprint sample."""
    from infofrag import metrics
    from infofrag.store import zarr_io

    post = sorted((results / "posteriors").glob("*.zarr"))[0]
    p = zarr_io.read_arrays(post, ("mu",))
    s = zarr_io.read_arrays(results / "sample.zarr", ("factors", "factor"))
    t0 = time.perf_counter()
    metrics.all_metrics(p["mu"], s["factors"], [str(f) for f in s["factor"]], importance=importance)
    return time.perf_counter() - t0


def open_seconds(path: Path) -> float | None:
    """Seconds until a page has loaded in headless Chromium (None without a browser)."""
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium.is_file():
        return None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        t0 = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load", timeout=120_000)
        seconds = time.perf_counter() - t0
        browser.close()
    return seconds


def snakemake_overhead(work: Path, n_jobs: int = 40) -> float:
    """A workflow of ``n_jobs`` trivial script jobs (``import numpy``, write a byte) on 2 cores:
    the mean of their benchmark files' ``s``."""
    d = work / "overhead"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "Snakefile").write_text(
        f'rule all:\n    input: expand("out/{{i}}.txt", i=range({n_jobs}))\n\n'
        'rule one:\n    output: "out/{i}.txt"\n    benchmark: "bench/{i}.tsv"\n    script: "s.py"\n')
    (d / "s.py").write_text("import numpy\nopen(snakemake.output[0], 'w').write('x')\n")
    subprocess.run([PY, "-m", "snakemake", "-s", str(d / "Snakefile"), "-d", str(d), "--cores", "2", "--quiet"],
                   capture_output=True, check=True)
    s = [float(benchmark_record(p)["s"]) for p in (d / "bench").glob("*.tsv")]
    return float(np.mean(s))


def main(argv=None, preset: str = "zoo", doc: str = __doc__, name: str = "zoo_scale.py"):
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=None, help="seeds per family and value (zoo: 50; paper: 300 members)")
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--n", type=int, default=1000, help="fingerprint sample size N")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--floor-fraction", type=float, default=None,
                   help="share of the channels (members) the quadratic floors are measured on (zoo 0.25, paper 1)")
    p.add_argument("--work", default=f"/tmp/infofrag_{preset}_scale")
    p.add_argument("--keep", action="store_true", help="reuse the work directory's case and results")
    p.add_argument("--plan-only", action="store_true", help="build the case and time the plans only")
    p.add_argument("--out", help="also write the table to this Markdown file")
    args = p.parse_args(argv)
    grid: Grid = ZOO if preset == "zoo" else PAPER
    if args.seeds is not None:
        grid = Grid(grid.families, args.seeds, grid.find, grid.collapse, grid.own)
    fraction = args.floor_fraction or (0.25 if preset == "zoo" else 1.0)

    work = Path(args.work).resolve()
    if work.exists() and not args.keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yaml"
    t0 = time.perf_counter()
    if args.keep and config.is_file():
        truth = json.loads((work / "truth.json").read_text())
    else:
        config, truth = build(work, grid, args.n, args.channels, args.seed, settings_for(preset))
    t_build = time.perf_counter() - t0
    cfg = yaml.safe_load(config.read_text())
    n_members = len(truth)
    print(f"case: {n_members} members built in {t_build:.0f} s", flush=True)

    checked = subprocess.run([PY, "-m", "infofrag", "check-config", str(config)], capture_output=True, text=True,
                             cwd=ROOT)
    plans = work / "plans.json"  # planned before the run: --keep reuses them
    if args.keep and plans.is_file():
        t_dry, mib_dry, planned, n_sub, sub_kinds, t_slurm = json.loads(plans.read_text())
    else:
        t_dry, mib_dry, planned, _ = dry_run(work, config)
        n_sub, sub_kinds, t_slurm = slurm_submissions(work, config)
        plans.write_text(json.dumps([t_dry, mib_dry, planned, n_sub, sub_kinds, t_slurm]))
    print(f"dry run: {t_dry:.1f} s, {mib_dry:.0f} MiB, planned {planned}", flush=True)
    print(f"SLURM plan: {n_sub} submissions {sub_kinds} ({t_slurm:.0f} s)", flush=True)
    if args.plan_only:
        print(checked.stdout[-3000:], checked.stderr[-2000:])
        return

    results = work / "results"
    saved = work / "run.json"  # the timed run's figures: --keep reuses them (the tables after it)
    if args.keep and saved.is_file():
        run = json.loads(saved.read_text())
        wall, load_before, load_run = run["wall"], run["load_before"], run["load_run"]
        print(f"run: {wall / 60:.1f} min (the earlier run's, from {saved})", flush=True)
    else:
        load_before = os.getloadavg()
        monitor = LoadMonitor()
        monitor.start()
        t0 = time.perf_counter()
        proc = snakemake(work, config, "--cores", str(args.cores))
        wall = time.perf_counter() - t0
        monitor.stop.set()
        (work / "snakemake.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode:
            raise SystemExit(f"the run failed after {wall:.0f} s:\n{(proc.stdout + proc.stderr)[-4000:]}")
        print(f"run: {wall / 60:.1f} min", flush=True)
        load_run = monitor.samples or [float("nan")]
        saved.write_text(json.dumps({"wall": wall, "load_before": list(load_before), "load_run": load_run}))
    rows = stage_table(results)
    size = tree_size(results)
    fl = floors(results, cfg, fraction, args.cores)
    scores_cost = {imp: one_member_scores(results, imp) for imp in ("none", "forest", "gbt")}
    overhead = snakemake_overhead(work)
    t0 = time.perf_counter()
    report = snakemake(work, config, "--report", str(work / "report.html"))
    t_report = time.perf_counter() - t0
    opened = {"summary/summary.html": open_seconds(results / "summary" / "summary.html"),
              "report.html": open_seconds(work / "report.html") if report.returncode == 0 else None,
              "explore/index.html": open_seconds(results / "explore" / "index.html")}
    hot = json.loads((results / "hotspots" / "hotspots.json").read_text())
    rec = recovery(hot, truth) if preset == "zoo" else []
    load_after = os.getloadavg()

    M = n_members * args.channels
    title = (f"A zoo from posteriors to the report: {n_members:,} members x {args.channels} channels = {M:,} channels"
             if preset == "zoo" else f"From posteriors to the report at the paper's scale: {n_members} members x "
             f"{args.channels} channels = {M:,} channels")
    lines = [
        f"# {title}, N = {args.n:,}", "",
        f"{machine()}. Load (1-minute average) {load_before[0]:.1f} before, during the run mean "
        f"{np.mean(load_run):.1f} (max {np.max(load_run):.1f}, every 15 s), {load_after[0]:.1f} after; "
        "the machine is shared, so times carry its load.", "",
        f"Built by `python benchmarks/{name}{' ' + ' '.join(argv) if argv else ''}` ({t_build:.0f} s to build "
        f"the case): posteriors-only imported members" + (" labelled with their family, value and seed"
                                                          if preset == "zoo" else "") +
        f"; `similarity.block_size: auto` ({planned.get('similarity', 0)} similarity shards), "
        f"`spaces.monte_carlo_members: auto` ({planned.get('spaces', 0)} Monte Carlo shards), "
        f"`scores.importance: {cfg['scores']['importance']}`, `boost.steps: {cfg['boost']['steps']}`; Snakemake "
        f"`--cores {args.cores}`.", "",
        f"**Posteriors to the report: {wall / 60:.1f} min.** **Dry run: {t_dry:.1f} s, {mib_dry:,.0f} MiB** "
        f"({sum(planned.values()):,} jobs). **SLURM** (`snakemake -n --profile slurm`): **{n_sub} submissions** "
        f"after training ({', '.join(f'{k} {v}' for k, v in sorted(sub_kinds.items()))}). "
        f"**Results tree: {size / 2**30:.2f} GiB** (logs and benchmarks left out).", "",
        "Per stage: jobs; total job time (the sum of Snakemake's benchmark `s`: process start to exit); span "
        "(first job's start to last job's end; stages overlap); the floor, its arithmetic alone in one process "
        f"with {args.cores} threads, measured after the run on the run's own inputs (how, below); span / floor; "
        "the largest job's peak memory (`ru_maxrss`, from its log).", "",
        "| stage | jobs | total job time (s) | span (s) | floor (s) | span / floor | longest job (s) | peak memory (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    order = [s for s in STAGES if s in rows] + sorted(set(rows) - set(STAGES))
    for rule in order:
        r = rows[rule]
        span = (r["end"] - r["start"]) if r["start"] is not None else float("nan")
        f = fl.get(rule)
        ratio = f"{span / f.seconds:.1f}" if f and f.seconds > 0 and np.isfinite(span) else "–"
        lines.append(f"| {rule} | {r['jobs']:,} | {fmt_s(r['total_s'])} | {fmt_s(span)} | "
                     f"{fmt_s(f.seconds) if f else '–'} | {ratio} | {fmt_s(r['max_s'])} | {r['peak']:,.0f} |")
    total = sum(r["total_s"] for r in rows.values())
    lines.append(f"| all | {sum(r['jobs'] for r in rows.values()):,} | {fmt_s(total)} | {fmt_s(wall)} (run) | "
                 f"{fmt_s(sum(f.seconds for f in fl.values()))} | | | {max(r['peak'] for r in rows.values()):,.0f} |")
    sim, fps = rows.get("similarity"), rows.get("fingerprint")
    if sim and fps and sim["end"] is not None and fps["end"] is not None and fl.get("similarity"):
        tail = sim["end"] - fps["end"]
        lines += ["", f"The similarity stage after its last input (the last fingerprint's end to the last shard's "
                      f"end; its span also counts shards that started early, beside the fingerprints): "
                      f"{fmt_s(tail)} s, {tail / fl['similarity'].seconds:.2f}x its floor."]
    lines += ["", "How each floor was measured:", ""] + [f"- {k}: {v.how}" for k, v in fl.items()]
    per = {k: rows[k]["total_s"] / rows[k]["jobs"] for k in ("encode", "fingerprint", "scores") if k in rows}
    lines += [
        "", "## Per job", "",
        f"Mean job time: encode {per.get('encode', 0):.2f} s, fingerprint {per.get('fingerprint', 0):.2f} s "
        f"({args.channels} channels), scores {per.get('scores', 0):.2f} s; a trivial script job (`import numpy`) "
        f"through Snakemake on the same machine: {overhead:.2f} s. One member's scores on the sample, "
        f"in this process: DCI skipped {scores_cost['none']:.2f} s, random forest {scores_cost['forest']:.1f} s, "
        f"gradient boosting (the field's) {scores_cost['gbt']:.1f} s: for {n_members:,} members "
        f"{scores_cost['forest'] * n_members / 3600:.1f} and {scores_cost['gbt'] * n_members / 3600:.1f} "
        "CPU-hours.",
        "", "## Pages", "",
        f"`snakemake --report report.html`: {t_report:.0f} s"
        + ("" if report.returncode == 0 else f" (failed: {report.stderr.strip().splitlines()[-1:]})")
        + ". Loaded in headless Chromium (`load` event): "
        + ", ".join(f"{k} {'–' if v is None else f'{v:.1f} s'}" for k, v in opened.items()) + ".",
        "", "## Memory: `python -m infofrag check-config`", "", "```",
        *(checked.stdout.strip().splitlines()[-14:] or checked.stderr.strip().splitlines()[-6:]), "```",
    ]
    lines += ["", f"## Hotspots: {hot.get('n_hotspots', 0)} found among {hot.get('n_informative', 0):,} informative "
              "channels", ""]
    if rec:
        fams = list(ZOO.families)
        lines += ["Each planted fragment (the channels planted with it that came out informative): the hotspot "
                  "that holds most of them, the share of them it holds (recall) and the share of its channels "
                  "that are them (precision); per family, the share of members planted with it -> the share "
                  "with a channel in that hotspot.", "",
                  "| fragment | channels | hotspot | size | recall | precision | "
                  + " | ".join(fams) + " |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in fams) + " |"]
        for r in rec:
            if r["hotspot"] is None:
                lines.append(f"| {r['fragment']} | {r['channels']} | none | | | | " + " | ".join("" for _ in fams) + " |")
                continue
            fam_cells = " | ".join(f"{a:.2f} -> {b:.2f}" for a, b in (r["families"][f] for f in fams))
            lines.append(f"| {r['fragment']} | {r['channels']:,} | {r['hotspot']} | {r['size']:,} | "
                         f"{r['recall']:.2f} | {r['precision']:.2f} | {fam_cells} |")
    for line in lines:
        print(line)
    if args.out:
        write_table(args.out, lines, name, argv)


if __name__ == "__main__":
    main()
