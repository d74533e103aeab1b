"""Incremental reruns at ensemble scale: which jobs a change plans (dry runs, counted per rule).

Runs a 50-member ensemble (5 betas x 10 seeds, blocks of 10 members, 2 channels each, a few
training steps: the job graph is what is measured, not the models) to completion in a scratch
folder, then asks Snakemake (dry run) what each kind of change would rerun. Prints a Markdown
table; --out writes it to a file.

    python benchmarks/rerun_counts.py --out benchmarks/results/reruns.md
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from workflow_utils import planned_jobs, snakemake, snapshot, write_config  # noqa: E402

BASE = dict(
    dataset__image_size=32, sample__n_points=16, model__arch="conv32", model__latent_dim=2,
    training__steps=2, training__batch_size=8, training__checkpoint_every=2, training__log_every=1,
    ensemble__betas=[1, 2, 4, 8, 16], ensemble__seeds=list(range(10)), similarity__block_size=10,
    hotspots__min_samples=3, boost__steps=5, boost__target="ensemble",
)
RULES = ["train", "encode", "scores", "fingerprint", "similarity", "gather", "spaces", "spaces_gather", "hotspots",
         "boost", "summary"]
SCENARIOS = [
    ("nothing changed", {}),
    ("one member's steps (override b4_s3)", {"ensemble__overrides": {"b4_s3": {"steps": 3}}}),
    ("one member's seed (override b4_s3)", {"ensemble__overrides": {"b4_s3": {"seed": 99}}}),
    ("one member's beta (override b4_s3)", {"ensemble__overrides": {"b4_s3": {"beta": 5.0}}}),
    ("add a beta (10 new members)", {"ensemble__betas": [1, 2, 4, 8, 16, 32]}),
    ("hotspot settings (min_samples)", {"hotspots__min_samples": 4}),
    ("boost settings (steps)", {"boost__steps": 6}),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--cores", default="2")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = snapshot(Path(tmp) / "repo")
        work = Path(tmp) / "work"
        work.mkdir()
        write_config(work, **BASE)
        t0 = time.time()
        full = planned_jobs(work, root=repo)
        snakemake(work, "--cores", args.cores, timeout=7200, root=repo)
        build = time.time() - t0
        rows = [("first run (empty results)", full)]
        for label, change in SCENARIOS:
            write_config(work, **{**BASE, **change})
            rows.append((label, planned_jobs(work, root=repo)))
        write_config(work, **BASE)
    lines = ["Dry-run job counts per rule for a 50-member ensemble (5 betas x 10 seeds, 2 channels "
             "per member, blocks of 10 members: 5 blocks, 15 shards), after one complete run "
             f"({build / 60:.1f} min for {sum(full.values())} jobs on this machine). "
             "Command: `python benchmarks/rerun_counts.py`.", "",
             "| change | " + " | ".join(RULES) + " | total |",
             "| --- | " + " | ".join("---:" for _ in RULES) + " | ---: |"]
    for label, counts in rows:
        total = sum(v for k, v in counts.items() if k != "all")
        lines.append(f"| {label} | " + " | ".join(str(counts.get(r, 0)) for r in RULES) + f" | {total} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
