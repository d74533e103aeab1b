"""Rule `summary`: the report's front page (hotspot table, boosting, scores, provenance)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import html
import json
from pathlib import Path

import xarray as xr

from infofrag.provenance import find_record, read_record
from infofrag.store import atomic_path
from infofrag.workflow import Job


def table(rows, headers):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(h)))}</td>" for h in headers) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return "" if v is None else str(v)


with Job(snakemake) as job:
    hot = json.loads(Path(snakemake.input.hotspots).read_text())
    boost = json.loads(Path(snakemake.input.boost).read_text())
    sim = xr.open_zarr(snakemake.input.similarity)
    parts = ["<html><head><meta charset='utf-8'><title>infofrag summary</title><style>"
             "body{font-family:sans-serif;max-width:1100px} table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #bbb;padding:3px 6px;text-align:right} th{background:#eee}"
             ".warn{color:#a40}</style></head><body>"]
    parts.append(f"<h1>infofrag summary</h1><p>{sim.attrs['n_members']} ensemble members, "
                 f"{sim.attrs['n_channels']} channels, "
                 f"{int((sim['info_bits'].values > hot.get('info_threshold', 0.01)).sum())} informative.</p>")
    parts.append("<h2>Hotspots</h2>")
    if hot.get("status") != "ok":
        parts.append(f"<p class='warn'>{html.escape(hot.get('message', hot.get('status', '')))}</p>")
    rows = []
    for h in hot.get("hotspots", []):
        rep = h.get("representative") or {}
        row = {"id": h.get("id"), "size": h.get("size"), "fraction of members": h.get("fraction_members"),
               "bits": h.get("info_bits_mean"), "NMI within": h.get("nmi_mean"), "NMI sd": h.get("nmi_std"),
               "betas": h.get("betas"), "representative": f"{rep.get('member')} ch{rep.get('channel')}"}
        row.update({f"NMI {f}": v for f, v in (h.get("factor_nmi") or {}).items()})
        rows.append(row)
    if rows:
        parts.append(table(rows, list(rows[0])))
    parts.append("<h2>Boosting</h2>")
    if boost.get("status") != "ok":
        parts.append(f"<p class='warn'>{html.escape(str(boost.get('message', boost.get('status'))))}</p>")
    boost_keys = ["status", "target", "objective", "n_targets", "dim", "fused_info_bits",
                  "best_single_info_bits", "mean_single_info_bits", "best_channel_info_bits", "factor_nmi"]
    parts.append(table([{k: boost.get(k) for k in boost_keys}], boost_keys))
    fused_bits, best_bits = boost.get("fused_info_bits"), boost.get("best_channel_info_bits")
    if boost.get("status") == "ok" and fused_bits is not None and best_bits is not None:
        more = boost.get("more_information_than_any_channel")
        parts.append(f"<p>The fused representation carries {fused_bits:.3f} bits: "
                     f"{'more' if more else 'not more'} than any single channel of the ensemble "
                     f"(best {best_bits:.3f} bits; best of the fused targets "
                     f"{boost['best_single_info_bits']:.3f} bits).</p>")
    parts.append("<h2>Disentanglement scores per member (MIG, SAP, DCI)</h2>")
    srows = [json.loads(Path(p).read_text()) for p in snakemake.input.scores]
    keys = ["member", "beta", "seed", "mig", "sap", "dci_disentanglement", "dci_completeness",
            "dci_informativeness"]
    parts.append(table(srows, keys))
    parts.append("<h2>Provenance</h2><p>Every result's record (<code>*.prov.json</code>) names its inputs "
                 "by sha256; check the chain with <code>python -m infofrag audit "
                 "results/hotspots/hotspots.json --config &lt;config&gt;</code>.</p>")
    prov_rows = []
    for path in [snakemake.input.similarity, snakemake.input.hotspots, snakemake.input.boost]:
        rec = read_record(find_record(path))
        prov_rows.append({"result": path, "rule": rec["rule"], "sha256": list(rec["outputs"].values())[0][:16],
                          "inputs": len(rec["inputs"]), "git commit": (rec["code"]["git_commit"] or "")[:10],
                          "dirty": rec["code"]["git_dirty"], "package digest": rec["code"]["package_digest"],
                          "host": rec["host"], "finished": rec["finished"]})
    parts.append(table(prov_rows, list(prov_rows[0])))
    parts.append("</body></html>")
    with atomic_path(snakemake.output.html) as tmp:
        tmp.write_text("\n".join(parts))
