"""Hotspots of a finished run, per group (method and value): the tables of docs/replication.md.

For a results directory of the workflow (``hotspots/hotspots.json``, ``similarity.zarr``):

- per group (a method and a value of its swept hyperparameter, e.g. ``beta_vae beta=4``): members,
  informative channels (above the run's ``hotspots.info_threshold``), hotspots present, the
  fraction of informative channels in a hotspot;
- per hotspot: size, members, which groups and methods it holds members of, its information, its
  NMI with each ground-truth factor (the factor it carries in bold), the representative;
- the best single-channel NMI with each factor per group (means over members), which says what
  the members learned beyond the hotspots;
- the supervised scores per group (MIG, SAP, DCI: mean and spread over members, from
  ``scores/<member>.json``), with the protocol and classifier they were computed with;
- where the run compared whole latent spaces (``spaces.zarr``), each group's information,
  consistency and excess, and the mean NMI between every two groups' members.

The tables are printed and, with ``--markdown FILE --block NAME``, written into FILE between
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``, so that rerunning regenerates them::

    python benchmarks/replication_hotspots.py results/replication-beta --block hotspots-beta \\
        --markdown docs/replication.md --figure docs/figures/replication_beta_traversals.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _tables  # noqa: E402


def fmt(v, digits=2):
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def group_table(hot: dict) -> list[str]:
    lines = ["| group | members | informative channels | hotspots present | in a hotspot |",
             "|---|---:|---:|---:|---:|"]
    for r in hot["per_group"]:
        frac = r["fraction_in_hotspots"]
        lines.append(f"| {r['group']} | {r['n_members']} | {r['n_informative']} of {r['n_channels']} | "
                     f"{r['n_hotspots']} | {r['n_in_hotspots']}" + (f" ({fmt(frac)})" if frac is not None else "") + " |")
    return lines


def hotspot_table(hot: dict) -> list[str]:
    factors = hot.get("factors", [])
    head = "| hotspot | channels | members | groups | bits | " + " | ".join(f"NMI {f}" for f in factors) + \
        " | representative |"
    lines = [head, "|" + "---|" * (6 + len(factors))]
    for h in hot["hotspots"]:
        fn = h["factor_nmi"]
        best = max(factors, key=lambda f: -1 if fn.get(f) is None else fn[f]) if factors else None
        cells = [f"**{fmt(fn.get(f))}**" if f == best else fmt(fn.get(f)) for f in factors]
        rep = h["representative"]
        lines.append(f"| {h['id']} | {h['size']} | {h['n_members']} | {'; '.join(h['groups'])} | "
                     f"{fmt(h['info_bits_mean'])} | " + " | ".join(cells) + f" | {rep['member']} ch{rep['channel']} |")
    return lines


def best_factor_table(sim, threshold: float) -> list[str]:
    """Per group: the mean over its members of each factor's best NMI among the member's
    informative channels (what was learned, hotspot or not)."""
    factors = [str(f) for f in sim["factor"].values]
    groups = [f"{m} {p}={v:g}" if p else m for m, p, v in
              zip(sim["method"].values, sim["param"].values, sim["value"].values)]
    info = sim["info_bits"].values
    fn = sim["factor_nmi"].values
    members = sim["member"].values
    lines = ["| group | " + " | ".join(f"best NMI {f}" for f in factors) + " |", "|---|" + "---:|" * len(factors)]
    for g in dict.fromkeys(groups):
        rows = []
        for m in dict.fromkeys(members[np.array(groups) == g]):
            at = (members == m) & (info > threshold)
            if at.any():
                rows.append(np.nanmax(fn[at], axis=0))
        if not rows:  # no member of the group has an informative channel: nothing to show
            lines.append(f"| {g} | " + " | ".join("no informative channel" for _ in factors) + " |")
            continue
        mean = np.mean(rows, axis=0)
        lines.append(f"| {g} | " + " | ".join(fmt(v) for v in mean) + " |")
    return lines


def spaces_tables(results: Path) -> list[str]:
    """Whole latent spaces (``spaces.zarr``, Monte Carlo): per group its members' information,
    their agreement with each other and what concatenating them adds; then the mean NMI between
    the members of every two groups (within a group: distinct members only)."""
    import xarray as xr

    path = results / "spaces.zarr"
    if not path.is_dir():
        return []
    ds = xr.open_zarr(path)
    label = [f"{m} {p}={v:g}" if p else str(m) for m, p, v in
             zip(ds["group_method"].values, ds["group_param"].values, ds["group_value"].values)]
    gid = ds["group_id"].values
    info = ds["info_bits"].values
    out = [f"Whole latent spaces (Monte Carlo, {ds.attrs['repeats']} x {ds.attrs['samples']} draws a pair, "
           f"N = {ds.attrs['n_points']}): per group, each member's I(Z;X) (mean, min-max), the mean NMI between "
           "its members, the information of all its members concatenated, and its excess over the best member.",
           "", "| group | bits per member | NMI within | bits, concatenated | excess over best |",
           "|---|---:|---:|---:|---:|"]
    for k, g in enumerate(label):
        v = info[gid == k]
        out.append(f"| {g} | {v.mean():.2f} ({v.min():.2f}-{v.max():.2f}) | "
                   f"{float(ds['group_consistency'][k]):.2f} ± {float(ds['group_consistency_se'][k]):.2f} | "
                   f"{float(ds['group_info'][k]):.2f} | {float(ds['group_excess'][k]):.2f} |")
    nmi = ds["nmi"].values
    out += ["", "Mean NMI between the whole spaces of two groups' members (Monte Carlo):", "",
            "| | " + " | ".join(label) + " |", "|---|" + "---:|" * len(label)]
    for a in range(len(label)):
        cells = []
        for b in range(len(label)):
            block = nmi[np.ix_(gid == a, gid == b)]
            if a == b:
                block = block[~np.eye(len(block), dtype=bool)]
            cells.append(fmt(float(np.nanmean(block))) if block.size else "")
        out.append(f"| {label[a]} | " + " | ".join(cells) + " |")
    return out


SCORES = ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness")


def scores_table(sim, results: Path) -> list[str]:
    """Per group: mean (min-max) over members of each supervised score; undefined scores are
    left out of the mean and counted."""
    members = [str(m) for m in sim["member_id"].values]
    groups = [f"{m} {p}={v:g}" if p else m for m, p, v in
              zip(sim["member_method"].values, sim["member_param"].values, sim["member_value"].values)]
    rows = {m: json.loads(f.read_text()) for m in members if (f := results / "scores" / f"{m}.json").is_file()}
    ok = {m: r for m, r in rows.items() if r.get("status") == "ok"}
    if not ok:
        return []
    how = sorted({(r.get("protocol"), r.get("importance"), r.get("n_train"), r.get("n_test")) for r in ok.values()},
                 key=str)
    out = ["Scores (" + "; ".join(f"protocol {p}, DCI importances from {'gradient-boosted trees' if i == 'gbt' else 'a random forest'}"
                                   f", {a} training and {b} test points" for p, i, a, b in how) +
           "): mean (min-max) over the group's members.", "",
           "| group | " + " | ".join(SCORES) + " |", "|---|" + "---:|" * len(SCORES)]
    for g in dict.fromkeys(groups):
        cells = []
        for key in SCORES:
            vals = [ok[m][key] for m, gm in zip(members, groups) if gm == g and m in ok and ok[m].get(key) is not None]
            cells.append(f"{np.mean(vals):.2f} ({min(vals):.2f}-{max(vals):.2f})" if vals else "undefined")
        lines_g = f"| {g} | " + " | ".join(cells) + " |"
        out.append(lines_g)
    return out


def methods_line(hot: dict) -> list[str]:
    """One line per hotspot: which methods hold how many of its members."""
    return [f"- hotspot {h['id']} ({h['n_members']} members): "
            + ", ".join(f"{m} {n}" for m, n in sorted(h["methods"].items()))
            + (" (every method)" if h.get("found_by_every_method") else "") for h in hot["hotspots"]]


def tables(results: Path, brief: bool = False) -> list[str]:
    import xarray as xr

    hot = json.loads((results / "hotspots" / "hotspots.json").read_text())
    sim = xr.open_zarr(results / "similarity.zarr")
    out = [f"{hot['n_channels']} channels of {hot['n_members']} members, {hot['n_informative']} above "
           f"{hot['info_threshold']:g} bits; {hot['n_hotspots']} hotspots ({hot['distance']}, "
           f"min_samples {hot['params']['min_samples']}).", "", *group_table(hot), ""]
    if brief:
        return out + methods_line(hot)
    if hot["hotspots"]:
        out += [*hotspot_table(hot), ""]
    out += [*best_factor_table(sim, hot["info_threshold"])]
    scores = scores_table(sim, results)
    if scores:
        out += ["", *scores]
    spaces = spaces_tables(results)
    if spaces:
        out += ["", *spaces]
    fusion = fusion_line(results)
    if fusion:
        out += ["", fusion]
    return out


def fusion_line(results: Path) -> str | None:
    """The boost stage's result in one sentence, where it fused something."""
    path = results / "boost" / "boost.json"
    if not path.is_file():
        return None
    b = json.loads(path.read_text())
    if b.get("status") != "ok":
        return f"Fusion: {b.get('status')} ({b.get('message')})."
    fn = ", ".join(f"{k} {v:.2f}" for k, v in (b.get("factor_nmi") or {}).items() if v is not None)
    return (f"Fusion ({b['target']}: {b['n_targets']} channels into {b['dim']}-D, objective {b['objective']}, "
            f"{b['fusion']['steps_run']} steps): {b['fused_info_bits']:.2f} bits, against {b['best_channel_info_bits']:.2f} "
            f"for the best single channel and {b['best_single_info_bits']:.2f} for the best fused target"
            + (f"; NMI with the factors: {fn}" if fn else "") + ".")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, help="a results directory of a finished run")
    ap.add_argument("--markdown", type=Path, help="write the tables into this file's marked block")
    ap.add_argument("--block", help="the block's name (<!-- NAME:begin --> ... <!-- NAME:end -->)")
    ap.add_argument("--figure", type=Path, help="copy the run's traversals figure here")
    ap.add_argument("--brief", action="store_true",
                    help="only the per-group table and which methods hold each hotspot (for the README)")
    args = ap.parse_args(argv)
    lines = tables(args.results, brief=args.brief)
    print("\n".join(lines))
    if args.markdown:
        _tables.replace_block(args.markdown, args.block, lines)
    if args.figure:
        shutil.copyfile(args.results / "hotspots" / "traversals.png", args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
