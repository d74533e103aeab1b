"""The demo's cost and findings, read from a finished demo run: what `docs/demo.md` states.

Cost: each stage's job time from the run's own benchmark files, and everything after training
as a fraction of training. Findings: informative channels per beta, the hotspots and the
factors they carry, each member's best channel for x and y, the fraction of informative
channels in a hotspot per beta (with a bootstrap interval over the members: six seeds per beta
make a single run's trend uncertain), the fusion, and the scores' ranges with the classifier
that made them.

    python benchmarks/demo_findings.py --run --out benchmarks/results/demo.md --doc docs/demo.md
        # runs the demo config in a scratch folder (a fresh run, timed), then writes the table,
        # rewrites docs/demo.md's marked block and copies the run's traversals figure beside it
    python benchmarks/demo_findings.py --results results --out /tmp/demo.md
        # reads a finished run (e.g. `make demo`'s) without running anything

The numbers are one machine's: training is deterministic on one machine with fixed library
versions, but another CPU may round differently, take another training path and find other
hotspots (docs/reliability.md, "Determinism").
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import ROOT, fmt_s, machine, stage_table  # noqa: E402
from _tables import replace_block, write_table  # noqa: E402

from infofrag.hotspots import informative_factor_nmi  # noqa: E402

BOOTSTRAP = 4000


def run_demo(config: Path, work: Path, cores: int) -> float:
    """A fresh run of ``config`` in ``work`` (results under work/results); its wall seconds."""
    cfg = yaml.safe_load(config.read_text())
    cfg["results_dir"] = "results"
    work.mkdir(parents=True, exist_ok=True)
    if (work / "results").exists():
        raise SystemExit(f"{work / 'results'} exists: give --work an empty folder (nothing is deleted)")
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
                    "--cores", str(cores), "--configfile", str(work / "config.yaml")], check=True)
    wall = time.monotonic() - t0
    (work / "run.json").write_text(json.dumps({"wall_s": wall, "cores": cores}))
    return wall


def recorded_wall(results: Path) -> float | None:
    """The wall time --run recorded beside a run's results (None for a run made otherwise)."""
    rec = results.parent / "run.json"
    return json.loads(rec.read_text())["wall_s"] if rec.is_file() else None


def cost_lines(results: Path, wall: float | None) -> tuple[list[str], dict]:
    rows = stage_table(results)
    train = rows.get("train", {}).get("total_s", 0.0)
    after = sum(r["total_s"] for rule, r in rows.items() if rule != "train")
    lines = ["| stage | jobs | job time (s) | mean per job (s) | largest job (s) | peak memory of a job (MiB, sampled) |",
             "|---|---:|---:|---:|---:|---:|"]
    order = sorted(rows, key=lambda r: (r != "train", -rows[r]["total_s"]))
    for rule in order:
        r = rows[rule]
        lines.append(f"| {rule} | {r['jobs']} | {fmt_s(r['total_s'])} | {fmt_s(r['total_s'] / r['jobs'])} "
                     f"| {fmt_s(r['max_s'])} | {r['rss']:,.0f} |")
    ratio = after / train if train else float("nan")
    lines += ["", f"Every stage other than training together: **{fmt_s(after)} s of job time, "
              f"{100 * ratio:.0f}% of training's {fmt_s(train)} s**."]
    if wall is not None:
        lines.append(f"The run's wall time: **{wall / 60:.1f} min** ({sum(r['jobs'] for r in rows.values())} jobs with a benchmark file).")
    return lines, dict(train_s=train, after_s=after, ratio=ratio, wall_s=wall)


def _members_by_beta(ds) -> dict:
    out: dict = {}
    for m, b in zip(ds["member_id"].values, ds["member_beta"].values):
        out.setdefault(float(b), []).append(str(m))
    return out


def _best(nmi: np.ndarray) -> float:
    """The largest NMI among a member's informative channels (NaN when it has none)."""
    return float(np.nanmax(nmi)) if np.isfinite(nmi).any() else float("nan")


def fraction_interval(in_hotspot: dict, informative: dict, members: list[str], rng) -> tuple[float, float, float]:
    """The fraction of informative channels in a hotspot over ``members``, and its 90% bootstrap
    interval when the members are resampled (the hotspots held fixed)."""
    n_in = np.array([in_hotspot.get(m, 0) for m in members], float)
    n_inf = np.array([informative.get(m, 0) for m in members], float)
    point = n_in.sum() / n_inf.sum() if n_inf.sum() else float("nan")
    draws = rng.integers(0, len(members), size=(BOOTSTRAP, len(members)))
    den = n_inf[draws].sum(axis=1)
    fr = np.where(den > 0, n_in[draws].sum(axis=1) / np.maximum(den, 1), np.nan)
    lo, hi = np.nanpercentile(fr, [5, 95])
    return float(point), float(lo), float(hi)


def findings_lines(results: Path) -> tuple[list[str], dict]:
    import xarray as xr

    ds = xr.open_zarr(results / "similarity.zarr")
    hs = json.loads((results / "hotspots" / "hotspots.json").read_text())
    boost = json.loads((results / "boost" / "boost.json").read_text())
    threshold = float(hs["info_threshold"])
    member = ds["member"].values.astype(str)
    info = ds["info_bits"].values
    beta = ds["beta"].values
    factors = [str(f) for f in ds["factor"].values]
    # as every table of the workflow shows it: NaN for channels at or below the threshold (a weak
    # channel's NMI would rank with a strong one's)
    fnmi = informative_factor_nmi(ds["factor_nmi"].transpose("a", "factor").values, info, threshold)
    by_beta = _members_by_beta(ds)
    informative = info > threshold
    per_member_inf: dict = {}
    for m, ok in zip(member, informative):
        per_member_inf[m] = per_member_inf.get(m, 0) + int(ok)
    in_hot: dict = {}
    for h in hs["hotspots"]:
        for m, _ in h["members"]:
            in_hot[m] = in_hot.get(m, 0) + 1
    lines = [f"- **{int(informative.sum())} of {len(info)} channels carry more than {threshold:g} bits** "
             f"(up to {np.nanmax(info):.2f} bits); per beta: "
             + ", ".join(f"beta {b:g}: {int(informative[beta == b].sum())}" for b in sorted(by_beta)) + "."]
    lines.append(f"- **{hs['n_hotspots']} hotspots** ({hs['params']['distance']}, min_samples "
                 f"{hs['params']['min_samples']}): {hs['message']}.")
    lines += ["", "| hotspot | channels | members | betas | mean bits | within-hotspot NMI | "
              + " | ".join(f"NMI with {f}" for f in factors) + " |",
              "|---:|---:|---:|---|---:|---|" + "---:|" * len(factors)]
    for h in hs["hotspots"]:
        fn = h.get("factor_nmi") or {}
        lines.append(f"| {h['id']} | {h['size']} | {h['n_members']} | {', '.join(f'{b:g}' for b in h['betas'])} "
                     f"| {h['info_bits_mean']:.2f} | {h['nmi_mean']:.2f} +- {h['nmi_std']:.2f} | "
                     + " | ".join(f"{fn.get(f, float('nan')):.2f}" for f in factors) + " |")
    stats: dict = {"n_informative": int(informative.sum()), "n_hotspots": int(hs["n_hotspots"])}
    if "x" in factors and "y" in factors:
        ix, iy = factors.index("x"), factors.index("y")
        lines += ["", "Each member's best channel for x and for y (NMI); both above 0.5:"]
        for b in sorted(by_beta):
            best = []
            for m in by_beta[b]:
                rows = member == m
                best.append((m, _best(fnmi[rows, ix]), _best(fnmi[rows, iy])))
            both = sum(1 for _, x, y in best if x > 0.5 and y > 0.5)
            stats[f"both_above_half_beta{b:g}"] = both
            lines.append(f"- beta {b:g}: {both} of {len(best)} members ("
                         + "; ".join(f"{m} {x:.2f} / {y:.2f}" for m, x, y in best) + ")")
    rng = np.random.default_rng(0)
    lines += ["", "Fraction of informative channels in a hotspot (90% interval: members resampled, "
              f"{BOOTSTRAP} draws, the hotspots held fixed):"]
    for b in sorted(by_beta):
        point, lo, hi = fraction_interval(in_hot, per_member_inf, by_beta[b], rng)
        stats[f"fraction_beta{b:g}"] = point
        lines.append(f"- beta {b:g}: {point:.2f} ({lo:.2f}-{hi:.2f})")
    fn = boost.get("factor_nmi") or {}
    lines += ["", f"- Fusion ({boost.get('target')}, {boost.get('objective')}, {boost.get('dim')}-D, "
              f"{boost.get('n_targets')} targets): **{boost['fused_info_bits']:.2f} bits**, the best single "
              f"channel {boost['best_channel_info_bits']:.2f} bits; NMI with "
              + ", ".join(f"{f} {v:.2f}" for f, v in fn.items()) + "."]
    stats["fused_bits"] = boost["fused_info_bits"]
    lines += ["", scores_line(results)]
    # pairs with a channel that carries no information: NMI undefined, stored as NaN
    lines.append(f"- NMI undefined (NaN: one of the two channels carries no information): "
                 f"{int(np.isnan(ds['nmi'].values).sum())} of {ds['nmi'].size} pairs.")
    return lines, stats


def scores_line(results: Path) -> str:
    recs = [json.loads(p.read_text()) for p in sorted((results / "scores").glob("*.json"))]
    recs = [r for r in recs if r.get("status") == "ok"]
    if not recs:
        return "- No member was scored."

    def rng_of(key):
        vals = [r[key] for r in recs if isinstance(r.get(key), (int, float))]
        return f"{min(vals):.3f}-{max(vals):.3f}" if vals else "not computed"

    imp = sorted({r.get("importance", "?") for r in recs})
    pts = sorted({(r.get("n_train"), r.get("n_test")) for r in recs})
    return (f"- Scores per member ({len(recs)} members, protocol {recs[0].get('protocol')}, "
            f"{', '.join(f'{a:,} + {b:,}' for a, b in pts)} points): MIG {rng_of('mig')}, SAP {rng_of('sap')}, "
            f"DCI disentanglement {rng_of('dci_disentanglement')} (classifier: {', '.join(imp)}"
            + ("; only `gbt` compares with published DCI values" if imp != ["gbt"] else "") + ").")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config" / "demo.yaml"))
    ap.add_argument("--results", help="a finished run's results folder (default: the run made by --run)")
    ap.add_argument("--run", action="store_true", help="run the config first, in --work")
    ap.add_argument("--work", help="--run's folder (default: a new temporary folder, kept)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", help="write the table here (Markdown)")
    ap.add_argument("--doc", help="rewrite this document's demo-findings block")
    args = ap.parse_args()
    wall = None
    if args.run:
        work = Path(args.work or tempfile.mkdtemp(prefix="infofrag-demo-"))
        wall = run_demo(Path(args.config), work, args.cores)
        results = work / "results"
    elif args.results:
        results = Path(args.results)
        wall = recorded_wall(results)
    else:
        raise SystemExit("give --results (a finished run) or --run")
    cost, cstats = cost_lines(results, wall)
    found, fstats = findings_lines(results)
    lines = ["## Cost", "", *cost, "", "## Findings", "", *found, "",
             f"Machine: {machine()}. Peak memory of this script: "
             f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB."]
    print("\n".join(lines))
    print(json.dumps({**cstats, **fstats}))
    if args.out:
        write_table(args.out, [f"# The demo (`{Path(args.config).name}`): cost and findings", "", *lines],
                    "demo_findings.py")
    if args.doc:
        replace_block(args.doc, "demo-findings", [*found, "", *cost])
        figure = Path(args.doc).parent / "figures" / "demo_traversals.png"
        shutil.copyfile(results / "hotspots" / "traversals.png", figure)
        print(f"wrote {args.doc}'s block and {figure}")


if __name__ == "__main__":
    main()
