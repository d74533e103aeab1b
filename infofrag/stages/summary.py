"""Stage ``summary``: the report's front page (hotspot table, boosting, scores, provenance)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ..store import similarity as similarity_store
from ..store import spaces as spaces_store
from ..atomic import write_text
from ..provenance import find_record, read_record

STYLE = ("body{font-family:sans-serif;max-width:1100px} table{border-collapse:collapse;font-size:13px}"
         "td,th{border:1px solid #bbb;padding:3px 6px;text-align:right} th{background:#eee}"
         ".warn{color:#a40}")
SCORE_KEYS = ["member", "method", "param", "value", "seed", "scored on", "DCI classifier", "mig", "sap",
              "dci_disentanglement", "dci_completeness", "dci_informativeness"]
BOOST_KEYS = ["status", "target", "objective", "n_targets", "dim", "fused_info_bits",
              "best_single_info_bits", "mean_single_info_bits", "best_channel_info_bits", "factor_nmi"]


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    return "" if v is None else str(v)


class Page:
    """An HTML page built as a tree (text is escaped by the serialiser, never by hand)."""

    def __init__(self, title: str):
        self.html = ET.Element("html")
        head = ET.SubElement(self.html, "head")
        ET.SubElement(head, "meta", charset="utf-8")
        ET.SubElement(head, "title").text = title
        ET.SubElement(head, "style").text = STYLE
        self.body = ET.SubElement(self.html, "body")

    def add(self, tag: str, text: str = "", cls: str | None = None) -> ET.Element:
        el = ET.SubElement(self.body, tag, **({"class": cls} if cls else {}))
        el.text = text
        return el

    def table(self, rows: list, headers: list) -> None:
        t = ET.SubElement(self.body, "table")
        tr = ET.SubElement(ET.SubElement(t, "thead"), "tr")
        for h in headers:
            ET.SubElement(tr, "th").text = str(h)
        body = ET.SubElement(t, "tbody")
        for r in rows:
            tr = ET.SubElement(body, "tr")
            for h in headers:
                ET.SubElement(tr, "td").text = fmt(r.get(h))

    def code_paragraph(self, before: str, code: str, after: str = "") -> None:
        p = self.add("p", before)
        c = ET.SubElement(p, "code")
        c.text = code
        c.tail = after

    def render(self) -> str:
        return "<!DOCTYPE html>\n" + ET.tostring(self.html, encoding="unicode", method="html")


def hotspot_rows(hot: dict) -> list:
    rows = []
    for h in hot.get("hotspots", []):
        rep = h.get("representative") or {}
        row = {"id": h.get("id"), "size": h.get("size"), "fraction of members": h.get("fraction_members"),
               "bits": h.get("info_bits_mean"), "NMI within": h.get("nmi_mean"), "NMI sd": h.get("nmi_std"),
               "methods": h.get("methods"), "found by every method": h.get("found_by_every_method"),
               "representative": f"{rep.get('member')} ch{rep.get('channel')}",
               "traversal": traversal_text(h.get("traversal") or {})}
        row.update({f"NMI {f}": v for f, v in (h.get("factor_nmi") or {}).items()})
        rows.append(row)
    return rows


def family_rows(hot: dict, most: int = 50) -> list:
    """Per hotspot (the most widely found first, at most ``most``), the share of each family's
    (method's) members that hold it; empty for an ensemble of one family."""
    spots = hot.get("hotspots", [])
    methods = sorted({m for h in spots for m in (h.get("method_fraction") or {})})
    if len(methods) < 2:
        return []
    rows = []
    for h in sorted(spots, key=lambda h: (-h["n_members"], -h["size"], h["id"]))[:most]:
        frac = h.get("method_fraction") or {}
        rows.append({"hotspot": h["id"], "members": h["n_members"],
                     **{m: frac.get(m, 0.0) for m in methods}, "only": h.get("found_only_by") or ""})
    return rows


def family_sentence(hot: dict) -> str:
    spots = hot.get("hotspots", [])
    every = [str(h["id"]) for h in spots if h.get("found_by_every_method")]
    only: dict = {}
    for h in spots:
        if h.get("found_only_by"):
            only.setdefault(h["found_only_by"], []).append(str(h["id"]))
    parts = [f"found by every family: {', '.join(every) if every else 'none'}"]
    parts += [f"only by {m}: {', '.join(ids)}" for m, ids in sorted(only.items())]
    return ("The share of each family's members with a channel in the hotspot (hotspots.csv: method_fraction). "
            "Hotspots " + "; ".join(parts) + ".")


def scored_on(scores: dict) -> str:
    """Where a member's scores come from, as the summary's table says it."""
    where = {"field": "dataset points", "sample": "the fingerprint sample"}.get(scores.get("protocol"), "")
    if scores.get("status") == "too_few_points":
        return f"{where}: too few points, no scores"
    return where


def traversal_text(t: dict) -> str:
    """Which channel a hotspot's traversal draws, or why it has none."""
    if "none" in t:
        return f"none: {t['none']}"
    if not t:
        return ""
    return f"{t['member']} ch{t['channel']}" + (" (nearest with a decoder)" if t.get("note") else "")


def boost_sentence(boost: dict) -> str | None:
    fused, best = boost.get("fused_info_bits"), boost.get("best_channel_info_bits")
    if boost.get("status") != "ok" or fused is None or best is None:
        return None
    more = "more" if boost.get("more_information_than_any_channel") else "not more"
    return (f"The fused representation carries {fused:.3f} bits: {more} than any single channel of the "
            f"ensemble (best {best:.3f} bits; best of the fused targets {boost['best_single_info_bits']:.3f} bits).")


def scores_sentence(rows: list) -> str:
    """How the scores were computed (protocol, DCI classifier, points), so that they can be set
    beside published numbers."""
    kinds = {}
    for r in rows:
        if r.get("status") != "ok":
            continue
        key = (r["protocol"], r["importance"], r.get("n_train"), r.get("n_test"))
        kinds.setdefault(key, []).append(r["member"])
    if not kinds:
        return "No scores: the dataset has no ground-truth factors."
    parts = []
    for (protocol, importance, n_train, n_test), members in kinds.items():
        where = ("points drawn from the dataset and encoded by each member (disentanglement_lib's protocol)"
                 if protocol == "field" else "the fingerprint sample")
        clf = ("gradient-boosted trees (disentanglement_lib's: comparable with published DCI)" if importance == "gbt"
               else "a random forest (NOT comparable with published DCI, which use gradient-boosted trees)")
        parts.append(f"{len(members)} member(s) on {where}: {n_train} training and {n_test} test points, "
                     f"DCI importances from {clf}"
                     + (f" [{', '.join(members)}]" if protocol == "sample" else ""))
    return "Scores: " + "; ".join(parts) + "."


def provenance_rows(paths: dict) -> list:
    rows = []
    for label, path in paths.items():
        rec = read_record(find_record(path))
        rows.append({"result": label, "rule": rec["rule"], "sha256": list(rec["outputs"].values())[0][:16],
                     "inputs": len(rec["inputs"]), "git commit": (rec["code"]["git_commit"] or "")[:10],
                     "dirty": rec["code"]["git_dirty"], "package digest": rec["code"]["package_digest"],
                     "host": rec["host"], "finished": rec["finished"]})
    return rows


def run(similarity_path, hotspots_path, boost_path, score_paths: list, out_html, spaces_path=None) -> dict:
    sim = similarity_store.read(similarity_path, check=False, lazy=True)  # verified by the job; coords only
    hot = json.loads(open(hotspots_path).read())
    boost = json.loads(open(boost_path).read())
    page = Page("infofrag summary")
    page.add("h1", "infofrag summary")
    page.add("p", f"{sim.attrs['n_members']} ensemble members, {sim.attrs['n_channels']} channels, "
                  f"{hot['n_informative']} informative (more than {hot['info_threshold']:g} bits).")
    explorer = page.add("p", "Look at the fragments interactively: ")
    link = ET.SubElement(explorer, "a", href="../explore/index.html")
    link.text = "the explorer"
    link.tail = (" (explore/index.html: hotspots in the OPTICS ordering, each hotspot's channels, factors and "
                 "members, a member's channels, the fusion and whole spaces; one file that opens offline).")
    from .hotspots import collapse_message

    if collapse := collapse_message(hot):
        page.add("p", collapse, cls="warn")
    page.add("h2", "Hotspots")
    if hot.get("status") != "ok":
        page.add("p", hot.get("message") or hot.get("status", ""), cls="warn")
    rows = hotspot_rows(hot)
    if rows:
        page.table(rows, list(rows[0]))
        families = family_rows(hot)
        if families:
            page.add("h3", "Which families find each hotspot")
            page.add("p", family_sentence(hot))
            page.table(families, list(families[0]))
        if hot.get("traversal_note"):
            page.add("p", f"Traversals (hotspots/traversals.png): {hot['traversal_note']}.", cls="warn")
        if hot.get("factors"):
            page.add("p", f"NMI <factor>: the mean NMI with that factor over the hotspot's channels, every one of "
                          f"which carries more than {hot['info_threshold']:g} bits (hotspots.info_threshold); "
                          "channels at or below it are never shown with a factor NMI (a nearly empty channel's "
                          "NMI stays high until it carries nothing at all).")
    page.add("h2", "Boosting")
    if boost.get("status") != "ok":
        page.add("p", str(boost.get("message") or boost.get("status")), cls="warn")
    page.table([{k: boost.get(k) for k in BOOST_KEYS}], BOOST_KEYS)
    if sentence := boost_sentence(boost):
        page.add("p", sentence)
    page.add("h2", "Disentanglement scores per member (MIG, SAP, DCI)")
    member_info = {str(m): {"method": str(meth), "param": str(par), "value": float(v),
                            "seed": None if int(sd) < 0 else int(sd)}
                   for m, meth, par, v, sd in zip(sim["member_id"].values, sim["member_method"].values,
                                                 sim["member_param"].values, sim["member_value"].values,
                                                 sim["member_seed"].values)}
    srows = [{**(s := json.loads(open(p).read())), **member_info.get(s["member"], {}),
              "scored on": scored_on(s),
              "DCI classifier": {"gbt": "gradient boosting", "forest": "random forest"}.get(s.get("importance"), "")}
             for p in score_paths]
    page.add("p", scores_sentence(srows))
    page.table([{k: ("undefined" if r.get(k) is None and k in (r.get("undefined") or {}) else r.get(k))
                 for k in SCORE_KEYS} for r in srows], SCORE_KEYS)
    for why in sorted({w for r in srows for w in (r.get("undefined") or {}).values()}):
        page.add("p", f"undefined: {why}", cls="warn")
    if spaces_path:  # spaces.enabled
        from . import spaces

        page.add("h2", "Whole latent spaces")
        sp = spaces_store.read(spaces_path, check=False)
        page.add("p", spaces.summary_sentence(sp))
        if gone := spaces.collapsed_sentence(sp):
            page.add("p", gone, cls="warn")
        rows = spaces.summary_rows(sp)
        page.table(rows, list(rows[0]) if rows else [])
    page.add("h2", "Provenance")
    page.code_paragraph("Every result's record (*.prov.json) names its inputs by sha256; check the chain "
                        "with ", "python -m infofrag audit results/hotspots/hotspots.json --config <config>", ".")
    page.table(provenance_rows({"similarity.zarr": similarity_path, "hotspots.json": hotspots_path,
                                "boost.json": boost_path}), ["result", "rule", "sha256", "inputs",
                                                             "git commit", "dirty", "package digest",
                                                             "host", "finished"])
    write_text(out_html, page.render())
    return {}
