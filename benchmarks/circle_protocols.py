"""The circle fusion under the authors' protocol, the log2 N shift of their NMI, and the tables of
docs/replication.md section 4.4.

Reads a finished run of ``config/circle_authors.yaml`` (the workflow's ensemble-size sweep: plain
SGD, lr 3, 20,000 steps; objectives NMI, VI and shared information) and fuses the same
sub-ensembles again (same sizes, repeats and seed, so the same subsets; checked):

* ``sgd-20000 nmi_shifted``: the authors' protocol with their NMI, every information term lowered
  by log2 N (their log-sum-exp omits the -log N);
* ``adam-200``: this project's earlier protocol (``config/circle.yaml``: Adam, lr 0.05, 200 steps)
  with NMI, VI and shared information;
* ``adam-1500``: Adam run long (1,500 steps) with NMI and with the shifted NMI, where NMI alone was
  seen to trade information for NMI.

Then prints, and with ``--markdown FILE`` writes into FILE's ``circle-authors`` block, per size:
continuity (median and min-max over the repeats), the fused information and mean NMI to the
targets, per protocol and objective; ``--figure`` draws the continuity of the authors' protocol
per objective::

    python benchmarks/circle_protocols.py results/circle-authors --config config/circle_authors.yaml \\
        --markdown docs/replication.md --figure docs/figures/circle_authors_continuity.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _tables  # noqa: E402
from infofrag import circle_fusion, figures, store  # noqa: E402

# (label, fuse settings, objectives) fused here besides the workflow's own sweep.
EXTRA = [
    ("sgd-20000", dict(optimizer="sgd", lr=3.0, steps=20000), ("nmi_shifted",)),
    ("adam-200", dict(optimizer="adam", lr=0.05, steps=200), ("nmi", "vi", "info")),
    ("adam-1500", dict(optimizer="adam", lr=0.05, steps=1500), ("nmi", "nmi_shifted")),
]
NAMES = {"nmi": "NMI", "vi": "VI", "info": "shared info", "nmi_shifted": "shifted NMI"}


def load(results: Path, info_threshold: float):
    """The informative channels' fingerprints [M, N, N], the sample's angles and the workflow's
    sweep rows."""
    sim = store.similarity.read(results / "similarity.zarr")
    sample = store.sample.read(results / "sample.zarr")
    keep = [str(c) for c, b in zip(sim["channel_id"].values, sim["info_bits"].values) if b > info_threshold]
    paths = [results / "fingerprints" / c.rsplit("/", 1)[0] / f"ch{c.rsplit('/', 1)[1]}.zarr" for c in keep]
    D, _ = store.fingerprint.read_distances(paths)
    boost = json.loads((results / "boost" / "boost.json").read_text())
    return D, np.arctan2(sample.x[:, 1], sample.x[:, 0]), boost.get("sweep", [])


def summarise(rows, protocol):
    """{(protocol, objective, size): (continuities, info bits, mean NMIs)} of the rows that ran."""
    out = {}
    for r in rows:
        if r["status"] != "ok":
            continue
        key = (protocol, r["objective"], r["size"])
        c, b, n = out.setdefault(key, ([], [], []))
        c.append(r["continuity"] if r["continuity"] is not None else float("inf"))
        b.append(r["info_bits"])
        n.append(r.get("mean_nmi"))
    return out


def spread(values, fmt="{:.1f}"):
    v = np.asarray([x for x in values if x is not None], float)
    if v.size == 0:
        return "-"
    med = fmt.format(np.median(v))
    return med if v.min() == v.max() else f"{med} ({fmt.format(v.min())}-{fmt.format(v.max())})"


def tables(summary, sizes, seconds, n_channels, n_points, config_name):
    cols = [("sgd-20000", o) for o in ("nmi", "vi", "info", "nmi_shifted")]
    lines = [f"{n_channels} informative channels, N = {n_points} fingerprint points; "
             f"median (min-max) over the repeats, `{config_name}`.", "",
             "Continuity (1 = seamless) with the authors' protocol (plain SGD, lr 3, 20,000 steps):", "",
             "| ensemble size | " + " | ".join(NAMES[o] for _, o in cols) + " |",
             "|---:|" + "---|" * len(cols)]
    for s in sizes:
        lines.append(f"| {s} | " + " | ".join(spread(summary.get((p, o, s), ([],))[0]) for p, o in cols) + " |")
    lines += ["", "Fused information (bits) and mean NMI to the targets, same fusions:", "",
              "| ensemble size | " + " | ".join(f"{NAMES[o]}: bits" for _, o in cols) + " | "
              + " | ".join(f"{NAMES[o]}: NMI" for _, o in cols) + " |",
              "|---:|" + "---|" * (2 * len(cols))]
    for s in sizes:
        cells = [spread(summary.get((p, o, s), ([], []))[1], "{:.2f}") for p, o in cols]
        cells += [spread(summary.get((p, o, s), ([], [], []))[2], "{:.3f}") for p, o in cols]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    trade = [("adam-200", "nmi"), ("adam-1500", "nmi"), ("adam-1500", "nmi_shifted"),
             ("sgd-20000", "nmi"), ("sgd-20000", "nmi_shifted")]
    lines += ["", "Long runs and the shift: continuity / fused bits (medians) per protocol and objective:", "",
              "| ensemble size | " + " | ".join(f"{p} {NAMES[o]}" for p, o in trade) + " |",
              "|---:|" + "---|" * len(trade)]
    for s in sizes:
        cells = []
        for p, o in trade:
            c, b, _ = summary.get((p, o, s), ([], [], []))
            cells.append(f"{np.median(c):.1f} / {np.median(b):.2f}" if c else "-")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += ["", "Adam 200 steps (the earlier protocol) on the same subsets, continuity:", "",
              "| ensemble size | " + " | ".join(NAMES[o] for o in ("nmi", "vi", "info")) + " |", "|---:|---|---|---|"]
    for s in sizes:
        lines.append(f"| {s} | " + " | ".join(spread(summary.get(("adam-200", o, s), ([],))[0])
                                             for o in ("nmi", "vi", "info")) + " |")
    lines += ["", "Time of the fusions run by this script (2 worker processes): "
              + ", ".join(f"{k} {v / 60:.1f} min" for k, v in seconds.items()) + "."]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="results_dir of a finished config/circle_authors.yaml run")
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "circle_authors.yaml")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--markdown", type=Path, help="write the tables into this file's circle-authors block")
    ap.add_argument("--figure", type=Path, help="continuity of the authors' protocol per objective (PNG)")
    args = ap.parse_args()
    cfg = yaml.safe_load(args.config.read_text())
    b = cfg["boost"]
    D, angles, workflow_rows = load(args.results, cfg["hotspots"]["info_threshold"])
    if not workflow_rows:
        raise SystemExit(f"{args.results}/boost/boost.json has no ensemble-size sweep")
    sizes = b["ensemble_sizes"]
    common = dict(sizes=sizes, repeats=b["repeats"], angles=angles, seed=b["seed"], dim=b["dim"],
                  workers=args.workers)
    summary = summarise(workflow_rows, "sgd-20000")
    authors_rows = list(workflow_rows)  # every objective under the authors' protocol, for the figure
    seconds = {}
    subsets = {(r["size"], r["repeat"]): r["channels"] for r in workflow_rows if r["status"] == "ok"}
    for label, fuse_kw, objectives in EXTRA:
        t0 = time.perf_counter()
        rows = circle_fusion.ensemble_size_sweep(D, objectives=objectives, **common, **fuse_kw)
        seconds[f"{label} ({', '.join(NAMES[o] for o in objectives)})"] = time.perf_counter() - t0
        for r in rows:  # the same sub-ensembles as the workflow's sweep
            if r["status"] == "ok" and subsets.get((r["size"], r["repeat"])) != r["channels"]:
                raise SystemExit(f"subset of size {r['size']} repeat {r['repeat']} differs from the workflow's")
        summary.update(summarise(rows, label))
        print(f"{label}: {seconds[list(seconds)[-1]]:.0f} s", flush=True)
        if label == "sgd-20000":
            authors_rows += rows
    lines = tables(summary, sizes, seconds, D.shape[0], D.shape[-1], os.path.relpath(args.config, ROOT))
    print("\n".join(lines))
    if args.markdown:
        _tables.replace_block(args.markdown, "circle-authors", lines)
    if args.figure:
        figures.plot_continuity(authors_rows, args.figure)


if __name__ == "__main__":
    main()
