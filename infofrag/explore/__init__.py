"""The explorer of a run: one self-contained HTML page (``explore/index.html``) to look at the
fragments a run found, opened from disk with no server and no network request.

It shows the OPTICS reachability over the channel x channel NMI in OPTICS order with the hotspots
framed (zoom, pan, hover names the channels); a hotspot's channels, factor-NMI profile, the
members and groups that hold it, its traversal and its nearest other hotspot; colouring and
filtering channels by method, value, seed or factor and finding a member's channels; the fused
representation (points by factor, objective curve, ensemble-size sweep); whole latent spaces
member x member. plotly draws it (its bundle inline); :mod:`.script` glues events to tables.

Entry point: :func:`build` (file paths in, a page out, a few numbers of what was written back).
At scale the channel matrix is averaged over blocks of consecutive channels of the ordering,
at most :data:`~.data.MAX_CELLS` cells a side, read from the store one chunk at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..store import fused as fused_store
from ..store import sample as sample_store
from ..atomic import write_text
from ..errors import StoreError
from . import data as d
from . import page, plots, traversal

__all__ = ["build"]


def build(similarity_path, hotspots_path, traversals_path, boost_path, fused_path, sample_path, out_html,
          spaces_path=None, max_cells: int = d.MAX_CELLS) -> dict:
    """Write the explorer of a run to ``out_html``; return what it holds: ``bytes`` (the page's
    size), ``n_channels`` (in the store), ``n_shown`` (in the OPTICS ordering: the informative
    ones), ``block`` (channels per heatmap cell, 1 below ``max_cells``), ``n_hotspots``,
    ``traversal_rows`` (whether each hotspot got its own traversal row) and ``spaces_block``.

    Inputs are a run's results (already verified by the job that calls this): ``similarity.zarr``,
    ``hotspots/hotspots.json`` and ``traversals.png``, ``boost/boost.json`` and ``fused.zarr``,
    ``sample.zarr`` and, when the run compared whole spaces, ``spaces.zarr``.
    """
    hot = d.read_json(hotspots_path, d.HOTSPOT_KEYS)
    boost = d.read_json(boost_path, ("status",))
    with d.open_lazy(similarity_path) as ds:
        members, channels = d.read_channels(ds, similarity_path, float(hot["info_threshold"]))
        if len(channels.ids) != hot["n_channels"]:
            raise StoreError(f"'{hotspots_path}' describes {hot['n_channels']} channels, '{similarity_path}' "
                                   f"holds {len(channels.ids)} (results of two different runs?)")
        label = d.hotspot_of_channel(hot, channels, hotspots_path)
        order, reach = d.check_ordering(hot, len(channels.ids), hotspots_path)
        k = d.block_size(len(order), max_cells)
        nmi = ds["nmi"].variable
        matrix, between = d.ordered_block_means(
            lambda r0, r1, c0, c1: nmi[r0:r1, c0:c1].values, len(channels.ids), d.tile_size(ds), order, k,
            label, len(hot["hotspots"]))
    rows, note = traversal.hotspot_rows(traversals_path, len(hot["hotspots"]))
    spaces_view = d.spaces_view(spaces_path, max_cells) if spaces_path else None
    data = page_data(hot, members, channels, label, order, reach, k, between, rows, note, traversals_path)
    data["fusion"], fusion_figures = fusion(boost, fused_path, sample_path)
    colours = plots.palette()
    ordered_labels = label[order] if order else np.zeros(0, dtype=np.int64)
    figures = {"overview": plots.overview(matrix, len(order), k, d.runs(ordered_labels), hot["distance"], colours)
               if len(order) >= 2 else None,
               **fusion_figures,
               "spaces": plots.spaces(spaces_view) if spaces_view else None}
    html = page.render(data, figures, spaces_sentence(spaces_view, spaces_path))
    write_text(out_html, html)
    return {"bytes": len(html.encode()), "n_channels": len(channels.ids), "n_shown": len(order), "block": k,
            "n_hotspots": len(hot["hotspots"]), "traversal_rows": bool(rows),
            "spaces_block": spaces_view["block"] if spaces_view else None}


def page_data(hot, members, channels, label, order, reach, k, between, rows, note, traversals_path) -> dict:
    """What the page's script reads: the run, members, channels and hotspots as plain JSON values."""
    fnmi = channels.factor_nmi
    has = np.isfinite(fnmi).any(axis=1) if fnmi.shape[1] else np.zeros(len(label), dtype=bool)
    best = np.where(has, np.argmax(np.where(np.isfinite(fnmi), fnmi, -1.0), axis=1), -1) if fnmi.shape[1] \
        else np.full(len(label), -1)
    best_nmi = np.where(best >= 0, fnmi[np.arange(len(label)), np.maximum(best, 0)], np.nan) if fnmi.shape[1] \
        else np.full(len(label), np.nan)
    pos = np.full(len(label), -1, dtype=np.int64)
    pos[order] = np.arange(len(order))
    index = {cid: i for i, cid in enumerate(channels.ids)}
    nearest = d.nearest_hotspots(between)
    ordered = label[order] if order else np.zeros(0, dtype=np.int64)
    runs_of = {}
    for h, a, b in d.runs(ordered):
        runs_of.setdefault(h, []).append([a, b])
    hotspots = []
    for h in hot["hotspots"]:
        hid = int(h["id"])
        rep = h["representative"]
        hotspots.append({
            "id": hid, "size": h["size"], "n_members": h["n_members"], "fraction_members": h["fraction_members"],
            "nmi_mean": h["nmi_mean"], "nmi_std": h["nmi_std"], "info_bits_mean": h["info_bits_mean"],
            "info_bits_min": h.get("info_bits_min"), "info_bits_max": h.get("info_bits_max"),
            "factor_nmi": h["factor_nmi"], "found_by_every_method": h["found_by_every_method"],
            "representative": {"member": rep["member"], "channel": rep["channel"]},
            "channels": [index[f"{m}/{c}"] for m, c in h["members"]],
            "runs": runs_of.get(hid, []), "groups": d.groups_holding(h, members),
            "nearest": None if nearest[hid] is None else {"id": nearest[hid][0], "nmi": round(nearest[hid][1], 4)},
            "traversal": rows[hid] if rows else None})
    n_inf = int(hot["n_informative"])
    sentence = (f"{len(members.name)} ensemble members, {len(label)} channels, {n_inf} informative (more than "
                f"{hot['info_threshold']:g} bits; the others are in no plot), {len(hot['hotspots'])} hotspots "
                f"({int((label >= 0).sum())} channels in one). Hotspots: {hot['message']}")
    overview_note = ("One row and one column per channel." if k == 1 else
                     f"{len(order)} channels: each cell of the matrix is the mean NMI of a block of {k} x {k} "
                     "consecutive channels of the ordering (frames and bars stay at their channels' positions); "
                     "zoom in to see where a hotspot starts and ends, hover for the block's channels.")
    warning = None if hot["status"] == "ok" else f"No hotspots ({hot['status']}): {hot['message']}"
    return {
        "run": {"sentence": sentence, "overview_note": overview_note, "warning": warning, "status": hot["status"],
                "message": hot["message"], "info_threshold": hot["info_threshold"], "distance": hot["distance"],
                "factors": channels.factor_names, "block": k, "n_shown": len(order)},
        "palette": plots.palette(), "noise": plots.NOISE_COLOUR,
        "members": {"name": members.name, "method": members.method, "param": members.param,
                    "value": page.numbers(members.value), "seed": members.seed, "group": members.group},
        "channels": {"member": channels.member.tolist(), "channel": channels.channel.tolist(),
                     "info": page.numbers(channels.info_bits), "hotspot": label.tolist(), "pos": pos.tolist(),
                     "best": [int(b) for b in best], "best_nmi": page.numbers(best_nmi),
                     "factor_nmi": page.numbers(fnmi) if fnmi.shape[1] else [[] for _ in label]},
        "order": order, "reach": page.numbers(reach),
        "hotspots": hotspots,
        "traversal": {"whole": None if rows else traversal.whole_figure(traversals_path), "note": note},
    }


def fusion(boost: dict, fused_path, sample_path) -> tuple[dict, dict]:
    """The fusion's numbers for the page, and its figures (points by factor, objective, sweep)."""
    fused = fused_store.read(fused_path, check=False)  # verified by the job
    sample = sample_store.read(sample_path, check=False)
    mu = np.asarray(fused["mu"].values, dtype=np.float64)
    names = list(sample.factor_names)
    ok = boost.get("status") == "ok"
    if ok:
        sentence = (f"{boost.get('n_targets')} target channels ({boost.get('target')}) fused into {mu.shape[1]} "
                    f"dimension(s) by gradient ascent on {boost.get('objective')}: the fused representation carries "
                    f"{_bits(boost.get('fused_info_bits'))} bits, the best single channel of the ensemble "
                    f"{_bits(boost.get('best_channel_info_bits'))} bits and the best target "
                    f"{_bits(boost.get('best_single_info_bits'))} bits."
                    + ("" if not boost.get("factor_nmi") else " NMI with each factor: " + ", ".join(
                        f"{f} {v:.3f}" for f, v in boost["factor_nmi"].items() if v is not None) + "."))
    else:
        sentence = f"No fusion ({boost.get('status')}): {boost.get('message')}"
    sweep_rows = boost.get("sweep") or []
    if boost.get("sweep_message"):
        sentence += f" Ensemble-size sweep: {boost['sweep_message']}"
    colours = [sample.factors[:, j].tolist() for j in range(len(names))]
    first = names.index("x") if "x" in names else 0  # as the boost stage's fused.png
    figures = {"fusion": plots.fusion(mu, sample.factors[:, first] if names else None, names[first] if names else "")
               if ok and mu.shape[1] >= 1 else None,
               "objective": plots.objective(fused["objective"].values, str(fused.attrs.get("objective_name", "")))
               if ok and fused["objective"].size else None,
               "sweep": plots.sweep(sweep_rows)}
    return {"sentence": sentence, "factors": names, "colours": colours, "first": first, "dim": int(mu.shape[1])}, figures


def _bits(v) -> str:
    return "–" if v is None else f"{float(v):.3f}"


def spaces_sentence(view, path) -> str:
    if view is None:
        return "This run did not compare whole latent spaces (spaces.enabled: false)."
    where = "" if view["block"] == 1 else (f" Each cell is the mean over a block of {view['block']} x "
                                            f"{view['block']} members in this order.")
    small = len(view["order"]) <= plots.MAX_SE_MEMBERS and view["block"] == 1
    if view["estimate"] == "Monte Carlo":
        what = "The Monte Carlo NMI" + (" (hover: the members and the standard error)" if small else "")
    else:
        what = ("The fingerprint estimate of the NMI (the Monte Carlo estimate covers some members only"
                + ("; hover: it, where there is one" if small else "") + ")")
    return (f"{what} between the whole latent spaces of every two members ({len(view['order'])} members, from "
            f"{Path(path).name}), grouped by method and value; white lines separate the groups.{where}")
