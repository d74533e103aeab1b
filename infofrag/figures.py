"""Figures for the report: matplotlib (Agg backend), written as PNG files, never shown.

Every function takes the output ``path`` and writes one PNG atomically; when there is nothing to
draw (no hotspots, no factors, an empty curve, a failed fusion) it still writes a figure that says
so, so the report always has its pictures. Entry points:

* :func:`plot_hotspot_overview` -- OPTICS reachability above the reordered NMI matrix, hotspots
  marked, NMI with each factor beside it (the paper's figure 3 layout);
* :func:`plot_traversals` -- one image strip per hotspot representative;
* :func:`plot_per_beta` -- hotspots and fraction of informative channels in one, per beta;
* :func:`plot_fusion` -- fused means coloured by a factor, posterior std as ellipses;
* :func:`plot_objective_curve`, :func:`plot_continuity` -- the boosting curves.

The hotspot, traversal, per-beta and continuity figures also return a small dict of what they
drew (read back from the figure's artists: hotspot frames along the OPTICS ordering, row labels,
bar heights, curve points), so that tests and callers can check a picture against the result it
shows. The overview stays readable and cheap at thousands of channels: names on the axes only for
a few channels, the NMI matrix averaged over blocks of channels to at most
:data:`MAX_MATRIX_PIXELS` a side.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.ticker  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import EllipseCollection, PolyCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from .atomic import atomic_path  # noqa: E402

DPI = 120
NMI_CMAP = "viridis"
NOISE_COLOUR = "0.65"
OBJECTIVE_LABELS = {
    "nmi": "mean NMI to targets",
    "vi": "mean VI to targets (bits)",
    "info": "mean shared information I(U;V) (bits)",
    "nmi_shifted": "mean shifted NMI to targets (at most -1)",
}


def _hotspot_colour(h):
    return plt.get_cmap("tab10")(int(h) % 10)


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def _wrap(text, width=90):
    return "\n".join(textwrap.wrap(str(text), width)) if text else ""


def _message_figure(path, title, message, size=(7, 3)):
    fig, ax = plt.subplots(figsize=size)
    ax.axis("off")
    ax.set_title(title, fontsize=13)
    ax.text(0.5, 0.5, _wrap(message, 70) or "nothing to show", ha="center", va="center",
            fontsize=11, transform=ax.transAxes, wrap=True)
    _save(fig, path)


def _runs(labels):
    """Contiguous runs ``(label, start, stop)`` of labels >= 0 along an ordering."""
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] >= 0:
                runs.append((int(labels[start]), start, i))
            start = i
    return runs


# ---------------------------------------------------------------------------------- hotspots


#: The NMI matrix is drawn at most this many pixels a side: above it, channels are averaged in
#: blocks of ``ceil(n / MAX_MATRIX_PIXELS)`` consecutive channels of the OPTICS ordering (a
#: screen cannot show more, and a 3,000 x 3,000 image only makes the file large and slow).
MAX_MATRIX_PIXELS = 1000
#: Font size of the hotspot names above the reachability plot.
NAME_POINTS = 9


def _block_mean(a, k, axes):
    """Means over blocks of ``k`` consecutive entries along ``axes`` (the last block may be short)."""
    for ax in axes:
        n = a.shape[ax]
        starts = np.arange(0, n, k)
        counts = np.diff(np.append(starts, n)).astype(float)
        a = np.add.reduceat(a, starts, axis=ax)
        shape = [1] * a.ndim
        shape[ax] = len(starts)
        a = a / counts.reshape(shape)
    return a


def _block_nanmean(a, k):
    """Means over blocks of ``k`` consecutive rows of the finite entries (NaN where a block has
    none)."""
    finite = np.isfinite(a)
    sums = _block_mean(np.where(finite, a, 0.0), k, (0,))
    frac = _block_mean(finite.astype(float), k, (0,))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(frac > 0, sums / np.where(frac > 0, frac, 1.0), np.nan)


def _name_places(runs, n, axis_pixels):
    """(label, centre) of the hotspot runs to name: widest first, each only where its name does
    not overlap a name already placed (names ~0.65 em a character, 4 pixels apart)."""
    char = 0.65 * NAME_POINTS / 72 * DPI
    per_channel = axis_pixels / max(n, 1)
    placed = []
    for lab, a, b in sorted(runs, key=lambda r: (-(r[2] - r[1]), r[1])):
        centre, half = (a + b - 1) / 2, 0.5 * char * len(f"H{lab}")
        if all(abs(centre - c) * per_channel >= half + h + 4 for _, c, h in placed):
            placed.append((lab, centre, half))
    return sorted(((lab, c) for lab, c, _ in placed), key=lambda p: p[1])


def _bar_outlines(heights, labels):
    """(label, vertices) of one closed step outline per run of equal labels: bars of width 1
    centred on 0, 1, ..., n - 1."""
    out = []
    n = len(heights)
    cuts = np.flatnonzero(np.diff(labels)) + 1
    for a, b in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [n]])):
        x = np.arange(a, b) - 0.5
        tops = np.empty((2 * (b - a), 2))
        tops[0::2, 0], tops[1::2, 0] = x, x + 1
        tops[:, 1] = np.repeat(heights[a:b], 2)
        out.append((int(labels[a]), np.vstack([[a - 0.5, 0.0], tops, [b - 0.5, 0.0]])))
    return out


def _ordered_nmi(ds, order, k):
    """The symmetrised NMI matrix in ``order``, block-averaged by ``k`` (one reordered copy of the
    matrix at most; the mean of a symmetrised matrix is the symmetrised mean)."""
    idx = np.asarray(order)
    sorted_idx, back = np.unique(idx, return_inverse=True)  # read only these rows and columns, in order
    sub = np.asarray(ds["nmi"].isel(a=sorted_idx, b=sorted_idx).values, dtype=np.float64)[np.ix_(back, back)]
    if k > 1:
        sub = _block_mean(sub, k, (0, 1))
    return 0.5 * (sub + sub.T)


def _tick_texts(axis):
    """The tick labels drawn on ``axis`` (within its view)."""
    lo, hi = sorted(axis.get_view_interval())
    return [t.get_text() for t in axis.get_ticklabels()
            if t.get_visible() and t.get_text() and lo <= t.get_position()[0 if axis.axis_name == "x" else 1] <= hi]


def plot_hotspot_overview(ds, result, path, max_tick_labels: int = 40) -> dict:
    """The paper's figure 3 layout for a hotspot result of :func:`infofrag.hotspots.find_hotspots`.

    Top: OPTICS reachability along the ordering (coloured by hotspot, grey for channels in none).
    Below: the NMI matrix of the informative channels in OPTICS order with each hotspot framed in
    its colour; right of it a strip of NMI with each ground-truth factor (when the store has
    factors). One colour bar (NMI, 0..1) serves matrix and strip.

    At scale: channels are named on the axes only when there are at most ``max_tick_labels``
    (else the axes show positions along the ordering); above :data:`MAX_MATRIX_PIXELS` channels
    the matrix and the factor strip are averaged over blocks of consecutive channels (the frames
    stay at their channels' positions); where hotspots are too narrow for all their names to fit
    above the reachability plot, the widest are named and the names never overlap.

    Returns what was drawn (read back from the figure): ``n_channels``; ``boxes``, the hotspot
    frames as ``(hotspot id, start, stop)`` positions along the OPTICS ordering (stop exclusive),
    in order, read off the frames' columns (``box_rows``: their rows, ``(start, stop)``);
    ``box_names``, the hotspot names written above the reachability plot;
    ``reachability`` (the bar heights, infinite ones drawn at the top), ``matrix`` (the NMI image,
    at most :data:`MAX_MATRIX_PIXELS` a side), ``matrix_extent`` (its extent in positions along
    the ordering: pixel j covers positions ``[j * block, (j + 1) * block)``), ``block`` (channels
    per pixel), ``tick_labels`` (of the matrix's x axis),
    ``factors`` (of the strip), ``factor_strip`` (the strip's values, NaN where masked),
    ``masked_channels`` (channels at or below ``result["info_threshold"]`` bits, whose factor
    NMI is masked grey rather than shown: see :func:`infofrag.hotspots.informative_factor_nmi`)
    and ``message`` (the text shown instead, or under the matrix).
    """
    title = "Hotspots: OPTICS on the channels' " + (
        "VI" if result["distance"] == "vi" else "-log NMI") + " distance"
    order = list(result.get("optics", {}).get("ordering", []))
    if len(order) < 2:
        message = result.get("message") or "fewer than two informative channels"
        _message_figure(path, title, message, size=(8, 3))
        return {"n_channels": len(order), "boxes": [], "box_rows": [], "box_names": [],
                "reachability": [], "matrix": None, "matrix_extent": None, "block": None,
                "tick_labels": [], "factors": [], "factor_strip": None, "masked_channels": 0,
                "message": message}
    data = _overview_data(ds, result, order)
    strip_w = 0.35 * data.nf + 0.2 if data.nf else 0.01
    fam_w = 0.22 * len(data.methods) + 0.2 if data.fam is not None else 0.01
    fig = plt.figure(figsize=(7.5 + strip_w + fam_w, 9.5))
    gs = fig.add_gridspec(2, 5, height_ratios=[1, 3.2], width_ratios=[6, fam_w, strip_w, 0.25, 0.3],
                          hspace=0.06, wspace=0.08)
    ax_r = fig.add_subplot(gs[0, 0])
    ax_m = fig.add_subplot(gs[1, 0], sharex=ax_r)
    top = _draw_reachability(ax_r, data, result, title)
    im = _draw_matrix(fig, ax_m, fig.add_subplot(gs[1, 4]), ax_r, data, top, ds, max_tick_labels)
    if data.fam is not None:
        _draw_family_strip(fig.add_subplot(gs[1, 1], sharey=ax_m), data)
    ax_f = _draw_factor_strip(fig.add_subplot(gs[1, 2], sharey=ax_m), data, result) if data.nf else None
    if not data.nf:
        ax_m.text(1.01, 0.5, "no ground-truth factors", rotation=90, transform=ax_m.transAxes,
                  va="center", ha="left", fontsize=9, color="0.4")
    message = None
    if result.get("status") not in (None, "ok"):
        message = result.get("message", "")
        ax_m.text(0.5, -0.12 if data.n > max_tick_labels else -0.3, _wrap(message),
                  transform=ax_m.transAxes, ha="center", va="top", fontsize=10, color="firebrick")
    _save(fig, path)
    return {**_read_back_overview(ax_r, ax_m, ax_f, im, data.n), "masked_channels": data.masked, "message": message,
            "families": data.methods, "family_strip": data.fam}


@dataclasses.dataclass
class _Overview:
    """What the overview draws, prepared from the store and the hotspot result."""

    order: list  # the OPTICS ordering (indices into dim a)
    labels: np.ndarray  # hotspot label along it (-1: none)
    reach: np.ndarray  # reachability along it (NaN: infinite)
    n: int
    k: int  # channels per pixel of the matrix
    nmi: np.ndarray  # the (block-averaged) NMI image
    factors: list
    fnmi: np.ndarray | None  # the factor strip, NaN where masked
    masked: int  # channels masked in the strip (at or below the information threshold)
    methods: list = dataclasses.field(default_factory=list)  # the families, when more than one
    fam: np.ndarray | None = None  # [pixels, families]: the share of each pixel's channels from each

    @property
    def nf(self) -> int:
        return len(self.factors) if self.fnmi is not None else 0

    @property
    def span(self) -> int:
        return self.k * self.nmi.shape[0]  # channels the (block-averaged) image covers; >= n


def _overview_data(ds, result, order) -> _Overview:
    labels = np.asarray(result["optics"]["labels"])
    reach = np.array([np.nan if r is None else r for r in result["optics"]["reachability"]], dtype=float)
    n = len(order)
    k = max(1, math.ceil(n / MAX_MATRIX_PIXELS))
    factors = list(result.get("factors", []))
    fnmi, masked = None, 0
    if factors and "factor_nmi" in ds:
        from .hotspots import informative_factor_nmi

        # channels at or below the information threshold are masked (drawn grey), never shown
        # with the NMI of a nearly empty channel (see informative_factor_nmi)
        fnmi = informative_factor_nmi(ds["factor_nmi"].transpose("a", "factor").values,
                                      ds["info_bits"].values, float(result["info_threshold"]))[order]
        masked = int(np.isnan(fnmi).all(axis=1).sum())
        if k > 1:
            fnmi = _block_nanmean(fnmi, k)
    methods, fam = [], None
    if "method" in ds.coords:
        meth = np.asarray(ds["method"].values).astype(str)[order]
        methods = sorted(set(meth.tolist()))
        if len(methods) > 1:  # a strip per family: which channels along the ordering are its
            fam = (meth[:, None] == np.array(methods)[None, :]).astype(np.float64)
            if k > 1:
                fam = _block_nanmean(fam, k)
        else:
            methods = []
    return _Overview(order, labels, reach, n, k, _ordered_nmi(ds, order, k), factors, fnmi, masked, methods, fam)


def _draw_reachability(ax_r, data: _Overview, result, title) -> float:
    """The reachability profile: bars of width 1, drawn as one step outline per run of equal
    labels in a single collection (thousands of bar patches take seconds to lay out). Returns
    the height infinite reachabilities are drawn at."""
    n, reach = data.n, data.reach
    finite = np.isfinite(reach)
    top = np.nanmax(reach[finite]) * 1.1 if finite.any() else 1.0
    heights = np.where(finite, reach, top)
    bars = _bar_outlines(heights, data.labels)
    ax_r.add_collection(PolyCollection([v for _, v in bars], closed=True, linewidths=0, gid="reachability",
                                       facecolors=[NOISE_COLOUR if lab < 0 else _hotspot_colour(lab)
                                                   for lab, _ in bars]))
    ax_r.set_xlim(-0.5, n - 0.5)
    ax_r.scatter(np.flatnonzero(~finite), heights[~finite], marker="^", color="k", s=14,
                 label="infinite\n(start of OPTICS)", zorder=3)
    ax_r.set_ylim(0, top * 1.32)
    ax_r.set_ylabel("reachability\n(" + ("VI, bits" if result["distance"] == "vi" else "-ln NMI") + ")")
    ax_r.tick_params(labelbottom=False)
    ax_r.set_title(f"{title}\n{result.get('n_hotspots', 0)} hotspots among {n} informative channels "
                   f"({result.get('n_channels', n)} in all)", fontsize=12)
    if (~finite).any():
        ax_r.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return top


def _draw_matrix(fig, ax_m, ax_c, ax_r, data: _Overview, top, ds, max_tick_labels):
    """The NMI matrix in OPTICS order (block-averaged at scale), each hotspot framed at its
    channels and named above the reachability plot; the colour bar."""
    n, k = data.n, data.k
    im = ax_m.imshow(data.nmi, cmap=NMI_CMAP, vmin=0, vmax=1, aspect="auto",
                     interpolation="nearest" if k == 1 else "antialiased",
                     extent=(-0.5, data.span - 0.5, data.span - 0.5, -0.5))
    runs = _runs(data.labels)
    for lab, a, b in runs:
        col = _hotspot_colour(lab)
        lw_outer, lw_inner = (4.2, 2.6) if n <= 300 else (2.4, 1.4)
        for ec, lw, gid in (("black", lw_outer, None), (col, lw_inner, f"H{lab}")):
            ax_m.add_patch(Rectangle((a - 0.5, a - 0.5), b - a, b - a, fill=False, edgecolor=ec, lw=lw, gid=gid))
        ax_r.annotate("", xy=(a - 0.5, top * 1.06), xytext=(b - 0.5, top * 1.06),
                      arrowprops=dict(arrowstyle="|-|", color=col, lw=1.8, mutation_scale=3))
    for lab, centre in _name_places(runs, n, ax_r.get_position().width * fig.get_figwidth() * DPI):
        ax_r.text(centre, top * 1.12, f"H{lab}", color=_hotspot_colour(lab), ha="center", va="bottom",
                  fontsize=NAME_POINTS, fontweight="bold", gid="box name")
    ax_m.set_xlim(-0.5, n - 0.5)
    ax_m.set_ylim(n - 0.5, -0.5)
    ax_m.set_xlabel("channel, in OPTICS order" if n <= max_tick_labels else "position in the OPTICS ordering"
                    + (f" ({k} channels per pixel)" if k > 1 else ""))
    ax_m.set_ylabel("channel, in OPTICS order" if n <= max_tick_labels else "position in the OPTICS ordering")
    if n <= max_tick_labels:
        members = np.asarray(ds["member"].values).astype(str)
        chans = np.asarray(ds["channel"].values).astype(int)
        names = [f"{members[i]}:{chans[i]}" for i in data.order]
        ax_m.set_yticks(np.arange(n))
        ax_m.set_yticklabels(names, fontsize=7)
        ax_m.set_xticks(np.arange(n))
        ax_m.set_xticklabels(names, fontsize=7, rotation=90)
    else:
        for axis in (ax_m.xaxis, ax_m.yaxis):
            axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=8, integer=True))
    cb = fig.colorbar(im, cax=ax_c)
    cb.set_label("NMI" if k == 1 else f"NMI (mean over {k} x {k} channels)")
    return im


def _draw_family_strip(ax_s, data: _Overview):
    """One column per family (method): black where the channels along the ordering are its (the
    share of a pixel's channels, at scale), so a hotspot's rows show which families find it."""
    nm = len(data.methods)
    ax_s.imshow(data.fam, cmap="Greys", vmin=0, vmax=1, aspect="auto", interpolation="nearest",
                extent=(-0.5, nm - 0.5, data.span - 0.5, -0.5))
    ax_s.set_xticks(np.arange(nm))
    ax_s.set_xticklabels(data.methods, rotation=90, fontsize=8)
    ax_s.tick_params(labelleft=False, left=False)
    ax_s.set_title("family", fontsize=9)
    return ax_s


def _draw_factor_strip(ax_f, data: _Overview, result):
    """The NMI with each factor, channels at or below the information threshold masked grey."""
    nf = data.nf
    strip_cmap = plt.get_cmap(NMI_CMAP).with_extremes(bad=NOISE_COLOUR)
    ax_f.imshow(np.ma.masked_invalid(data.fnmi), cmap=strip_cmap, vmin=0, vmax=1, aspect="auto",
                interpolation="nearest", extent=(-0.5, nf - 0.5, data.span - 0.5, -0.5))
    ax_f.set_xticks(np.arange(nf))
    ax_f.set_xticklabels(data.factors, rotation=90, fontsize=9)
    ax_f.tick_params(labelleft=False, left=False)
    ax_f.set_title("NMI with\nfactor" + (f"\n(grey: <= {result['info_threshold']:g} bits)"
                                         if data.masked else ""), fontsize=9)
    return ax_f


def _read_back_overview(ax_r, ax_m, ax_f, im, n) -> dict:
    """What the overview shows, read back from the drawn figure (what the tests check)."""
    boxes, box_rows = [], []
    for patch in ax_m.patches:
        gid = patch.get_gid() or ""
        if gid.startswith("H"):
            (x, y), w, h = patch.get_xy(), patch.get_width(), patch.get_height()
            boxes.append((int(gid[1:]), int(round(x + 0.5)), int(round(x + w + 0.5))))
            box_rows.append((int(round(y + 0.5)), int(round(y + h + 0.5))))
    drawn = np.full(n, np.nan)
    for coll in ax_r.collections:
        if coll.get_gid() == "reachability":
            for path in coll.get_paths():
                v = path.vertices
                if path.codes is not None and path.codes[-1] == path.CLOSEPOLY:
                    v = v[:-1]
                tops = v[1:-1:2]  # (left edge, height) of each bar of the run
                drawn[np.rint(tops[:, 0] + 0.5).astype(int)] = tops[:, 1]
    return {
        "n_channels": n,
        "boxes": boxes,
        "box_rows": box_rows,
        "box_names": [t.get_text() for t in ax_r.texts if t.get_gid() == "box name"],
        "reachability": drawn.tolist(),
        "matrix": np.asarray(im.get_array()),
        "matrix_extent": tuple(float(e) for e in im.get_extent()),
        "block": int(round(im.get_extent()[1] + 0.5)) // np.asarray(im.get_array()).shape[1],
        "tick_labels": _tick_texts(ax_m.xaxis),
        "factors": [t.get_text() for t in ax_f.get_xticklabels()] if ax_f is not None else [],
        "factor_strip": np.asarray(ax_f.images[0].get_array().filled(np.nan)) if ax_f is not None else None,
    }


def plot_traversals(traversals: dict, path, message: str | None = None, span_label: str | None = None) -> dict:
    """One row per hotspot representative: the decoded images while its channel is swept.

    ``traversals`` maps a row label (e.g. ``"H0  m3:ch2"``) to images ``[n_steps, H, W]`` (or
    ``[n_steps, H, W, 3]``) with values in [0, 1], as :func:`infofrag.models.traverse` returns;
    a 2-D array ``[n_steps, D]`` (a non-image decoder) is drawn as one heat-map row.

    Returns what was drawn: ``rows`` (the row labels, top to bottom), ``images`` (images drawn per
    row), ``n_steps`` (columns) and ``message`` (the text shown instead, if any).
    """
    title = "Latent traversals of the hotspot representatives"
    if not traversals:
        message = message or "no hotspots: nothing to traverse"
        _message_figure(path, title, message)
        return {"rows": [], "images": [], "n_steps": 0, "message": message}
    names = list(traversals)
    n_steps = max(np.asarray(v).shape[0] for v in traversals.values())
    cell = 1.0 if n_steps <= 12 else 12.0 / n_steps
    fig, axes = plt.subplots(len(names), n_steps, figsize=(2.4 + cell * n_steps, 0.4 + 1.1 * len(names) * cell * 1.05),
                             squeeze=False, gridspec_kw=dict(wspace=0.04, hspace=0.08))
    for r, name in enumerate(names):
        imgs = np.asarray(traversals[name], dtype=float)
        for c in range(n_steps):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= imgs.shape[0]:
                ax.axis("off")
                continue
            img = imgs[c]
            if img.ndim == 1:
                img = img[None, :]
            ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest",
                      aspect="auto" if imgs.ndim == 2 else "equal")
            for s in ax.spines.values():
                s.set_color("0.7")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    axes[0, 0].set_title("low", fontsize=8, loc="left")
    axes[0, -1].set_title("high", fontsize=8, loc="right")
    sub = span_label or "channel swept from its 2nd to its 98th percentile on the sample; other channels at their mean"
    fig.suptitle(f"{title}\n{sub}", fontsize=10, y=1.0 + 0.02 / max(1, len(names)))
    if message:  # a note under the pictures (e.g. hotspots without a decoder), never over them
        fig.text(0.5, -0.02, _wrap(message, 100), ha="center", va="top", fontsize=9, color="firebrick",
                 gid="note")
    _save(fig, path)
    return {"rows": [axes[r, 0].get_ylabel() for r in range(len(names))],
            "images": [sum(len(ax.images) for ax in axes[r]) for r in range(len(names))],
            "n_steps": n_steps, "message": message}


def plot_per_group(result, path) -> dict:
    """Per method and sweep value (``result["per_group"]``): the number of hotspots present and
    the fraction of informative channels in one (the paper's hotspots against regularisation).

    Returns what was drawn: ``groups`` (the tick labels), ``n_hotspots`` (the bar heights),
    ``fraction`` (the points of the fraction curve, NaN where a group has no informative channel),
    ``counts`` (the "in hotspots/informative" notes) and ``message`` (the text shown instead).
    """
    title = "Hotspots per method and regularisation strength"
    rows = list(result.get("per_group", []))
    if not rows:
        message = result.get("message") or "no members in the store"
        _message_figure(path, title, message)
        return {"groups": [], "n_hotspots": [], "fraction": [], "counts": [], "message": message}
    labels = [r["group"] for r in rows]
    x = np.arange(len(rows))
    nh = [r["n_hotspots"] for r in rows]
    frac = [np.nan if r["fraction_in_hotspots"] is None else r["fraction_in_hotspots"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(9, 0.6 * len(rows) + 4), 3.6 + 0.06 * max(map(len, labels))))
    bars = a1.bar(x, nh, color="tab:blue")
    a1.set_ylabel("hotspots present")
    a1.yaxis.get_major_locator().set_params(integer=True)
    (curve,) = a2.plot(x, frac, "o-", color="tab:orange")
    a2.set_ylim(-0.03, 1.03)
    a2.set_ylabel("fraction of informative\nchannels in a hotspot")
    for ax in (a1, a2):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30 if len(rows) > 3 else 0, ha="right" if len(rows) > 3 else "center",
                           fontsize=8)
        ax.grid(alpha=0.3)
    for xi_, r in zip(x, rows):
        a2.annotate(f"{r['n_in_hotspots']}/{r['n_informative']}", (xi_, 0.02 if np.isnan(frac[xi_]) else frac[xi_]),
                    textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    sub = f"{result.get('n_hotspots', 0)} hotspots in all"
    if result.get("status") not in (None, "ok"):
        sub += ": " + (result.get("message") or result["status"])
    fig.suptitle(f"{title}\n{_wrap(sub, 100)}", fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    return {"groups": _tick_texts(a1.xaxis), "n_hotspots": [float(b.get_height()) for b in bars],
            "fraction": [float(v) for v in curve.get_ydata()], "counts": [t.get_text() for t in a2.texts],
            "message": result.get("message") if result.get("status") not in (None, "ok") else None}


# ---------------------------------------------------------------------------------- boosting


def plot_fusion(mu, logvar, color_values, color_label, path, message: str | None = None,
                title: str | None = None) -> None:
    """Fused posterior means coloured by ``color_values`` (e.g. a factor); 1-std ellipses.

    For ``dim > 2`` the first two dimensions are drawn (the title says so); for ``dim == 1`` the
    means are drawn against the colour value (or the sample index) with 1-std error bars.
    ``color_values`` may be ``None`` (one colour, no colour bar).
    """
    mu = np.asarray(mu, dtype=float)
    logvar = np.asarray(logvar, dtype=float)
    title = title or "Fused representation"
    if mu.ndim != 2 or mu.size == 0 or not np.isfinite(mu).all() or not np.isfinite(logvar).all():
        _message_figure(path, title, message or "no finite fused representation to draw")
        return
    n, d = mu.shape
    std = np.exp(0.5 * logvar)
    c = None if color_values is None else np.asarray(color_values, dtype=float).ravel()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    cmap = plt.get_cmap("viridis")
    if d == 1:
        y = c if c is not None else np.arange(n)
        ax.errorbar(mu[:, 0], y, xerr=std[:, 0], fmt="none", ecolor="0.7", lw=0.8, zorder=1)
        sc = ax.scatter(mu[:, 0], y, s=14, zorder=2,
                        **(dict(c=c, cmap=cmap) if c is not None else dict(color="tab:blue")))
        ax.set_xlabel("dim 0 (posterior mean, bars: 1 std)")
        ax.set_ylabel(color_label or "sample index")
        sub = "1-D representation"
    else:
        if c is not None:
            lo, hi = np.nanmin(c), np.nanmax(c)
            face = cmap((c - lo) / (hi - lo) if hi > lo else np.zeros_like(c))
        else:
            face = "tab:blue"
        ec = EllipseCollection(2 * std[:, 0], 2 * std[:, 1], np.zeros(n), units="xy", offsets=mu[:, :2],
                               offset_transform=ax.transData, facecolors=face, edgecolors="none", alpha=0.18)
        ax.add_collection(ec)
        sc = ax.scatter(mu[:, 0], mu[:, 1], s=10, edgecolors="k", linewidths=0.2, zorder=3,
                        **(dict(c=c, cmap=cmap) if c is not None else dict(color="tab:blue")))
        pad = std[:, :2].max()
        ax.set_xlim(mu[:, 0].min() - pad, mu[:, 0].max() + pad)
        ax.set_ylim(mu[:, 1].min() - pad, mu[:, 1].max() + pad)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("dim 0")
        ax.set_ylabel("dim 1")
        sub = "means (dots) and 1-std posterior ellipses"
        if d > 2:
            sub = f"first 2 of {d} dimensions: " + sub
    if c is not None:
        cb = fig.colorbar(sc, ax=ax, shrink=0.85)
        cb.set_label(color_label or "colour")
    ax.grid(alpha=0.25)
    head = f"{title} ({n} points)\n{sub}"
    if message:
        head += "\n" + _wrap(message, 70)
    ax.set_title(head, fontsize=10, color="firebrick" if message else "black")
    _save(fig, path)


def plot_objective_curve(curve, path, objective: str | None = None, message: str | None = None) -> None:
    """The boosting objective per optimisation step."""
    curve = np.asarray(list(curve), dtype=float)
    title = "Boosting objective"
    if curve.size == 0:
        _message_figure(path, title, message or "no optimisation steps were run")
        return
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(np.arange(1, curve.size + 1), curve, color="tab:blue", lw=1.4)
    ax.set_xlabel("step")
    ax.set_ylabel(OBJECTIVE_LABELS.get(objective, objective or "objective"))
    ax.grid(alpha=0.3)
    head = f"{title}: {objective or ''} ({curve.size} steps, final {curve[-1]:.4g})"
    if message:
        head += "\n" + _wrap(message, 80)
    ax.set_title(head, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_continuity(rows, path, message: str | None = None) -> dict:
    """Continuity of the fused circle against ensemble size, per objective (median, min-max band).

    ``rows`` as returned by :func:`infofrag.circle_fusion.ensemble_size_sweep`; rows whose status
    is not ``"ok"`` or whose continuity is missing are left out (and counted in the title).

    Returns what was drawn: ``curves`` {objective: {``sizes``, ``median``, ``min``, ``max``}} (read
    off the plotted lines and error bars), ``dropped`` (rows left out) and ``message``.
    """
    title = "Continuity of the fused circle vs ensemble size"
    rows = list(rows or [])
    good = [r for r in rows if r.get("status") == "ok" and r.get("continuity") is not None
            and math.isfinite(r["continuity"])]
    if not good:
        message = message or "no ensemble-size sweep was run"
        _message_figure(path, title, message)
        return {"curves": {}, "dropped": len(rows), "message": message}
    drawn = {}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    order = ("nmi", "vi", "info", "nmi_shifted")
    objectives = sorted({r["objective"] for r in good}, key=lambda o: order.index(o) if o in order else 9)
    style = {"nmi": ("tab:blue", "o", "-"), "vi": ("tab:orange", "s", "--"), "info": ("tab:green", "^", ":"),
             "nmi_shifted": ("tab:purple", "D", "-.")}
    for k, o in enumerate(objectives):
        sizes = sorted({r["size"] for r in good if r["objective"] == o})
        vals = [np.array([r["continuity"] for r in good if r["objective"] == o and r["size"] == s]) for s in sizes]
        med = np.array([np.median(v) for v in vals])
        lo = np.array([v.min() for v in vals])
        hi = np.array([v.max() for v in vals])
        col, marker, ls = style.get(o, (None, "o", "-"))
        # Objectives side by side (a small shift in log-x) so that equal values stay visible.
        x = np.asarray(sizes, dtype=float) * 1.04 ** (k - (len(objectives) - 1) / 2)
        eb = ax.errorbar(x, med, yerr=[med - lo, hi - med], color=col, marker=marker, ls=ls, capsize=3,
                         label=f"{o}: median, min-max")
        segs = eb.lines[2][0].get_segments()
        drawn[o] = {"sizes": sizes, "median": [float(v) for v in eb.lines[0].get_ydata()],
                    "min": [float(sg[0][1]) for sg in segs], "max": [float(sg[1][1]) for sg in segs]}
    ax.axhline(1.0, color="k", ls="--", lw=0.8, label="seamless (1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    all_sizes = sorted({r["size"] for r in good})
    ax.set_xticks(all_sizes)
    ax.set_xticklabels([str(s) for s in all_sizes])
    ax.minorticks_off()
    top = max(r["continuity"] for r in good)
    yt = [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 1e4, 1e5) if v <= top * 1.5]
    ax.set_yticks(yt)
    ax.set_yticklabels([f"{v:g}" for v in yt])
    ax.set_xlabel("ensemble size (channels fused)")
    ax.set_ylabel("continuity: max / 90th pct of\nneighbour Bhattacharyya distance")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    reps = max(r["repeat"] for r in good) + 1
    head = f"{title}\nmedian and min-max over {reps} repeats; 1 is a seamless circle"
    dropped = len(rows) - len(good)
    if dropped:
        head += f"\n{dropped} runs left out (skipped, diverged or undefined)"
    if message:
        head += "\n" + _wrap(message, 80)
    ax.set_title(head, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    return {"curves": drawn, "dropped": dropped, "message": message}


# ---------------------------------------------------------------------------------- whole spaces


#: at most this many members are named one by one on the whole-space figure
MAX_NAMED_MEMBERS = 60


def plot_spaces(ds, path) -> dict:
    """Whole latent spaces (``spaces.zarr``, :mod:`infofrag.store.spaces`): left, the members x
    members NMI (Monte Carlo; the fingerprint estimate, with the Monte Carlo pairs outlined, when
    only some pairs have Monte Carlo estimates) grouped by method and value, with lines between
    the groups; right,
    each group's consistency (mean off-diagonal NMI within it) with its standard error, and the
    fingerprint estimate of the same as a marker.

    Returns what was drawn: ``order`` (member names along both axes), ``boundaries`` (matrix
    positions of the group lines), ``groups`` (labels, in drawing order), ``consistency`` and
    ``consistency_se`` (bar heights and error-bar half-lengths read off the figure; NaN for a
    group of one member, drawn as no bar), ``fp_consistency``.
    """
    title = "Whole latent spaces: NMI between members (Monte Carlo)"
    M = int(ds.sizes.get("m", 0))
    if not M:
        _message_figure(path, title, "no members")
        return {"order": [], "boundaries": [], "groups": [], "consistency": [], "consistency_se": [],
                "fp_consistency": []}
    gid = np.asarray(ds["group_id"].values)
    G = int(ds.sizes["group"])
    gvalue = np.asarray(ds["group_value"].values, dtype=float)
    gorder = sorted(range(G), key=lambda k: (str(ds["group_method"].values[k]), bool(np.isnan(gvalue[k])),
                                             0.0 if np.isnan(gvalue[k]) else gvalue[k], k))
    order = [int(i) for k in gorder for i in np.flatnonzero(gid == k)]
    sizes = np.array([int(np.sum(gid == k)) for k in gorder])
    ends = np.cumsum(sizes)
    labels = [f"{ds['group_method'].values[k]}" + ("" if np.isnan(gvalue[k]) or not str(ds["group_param"].values[k])
                                                    else f"\n{ds['group_param'].values[k]} = {gvalue[k]:g}")
              for k in gorder]

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.5, 5.4), gridspec_kw={"width_ratios": [1.25, 1]})
    mc = np.asarray(ds["monte_carlo"].values, dtype=bool) if "monte_carlo" in ds else np.ones((M, M), bool)
    partial = not mc.all()
    if partial:  # Monte Carlo for some pairs only: every pair's fingerprint estimate, those pairs outlined
        title = "Whole latent spaces: NMI between members (fingerprint estimate)"
    nmi = np.asarray(ds["fp_nmi" if partial else "nmi"].values)[np.ix_(order, order)]
    im = ax.imshow(nmi, cmap=NMI_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    if partial:
        ii, jj = np.nonzero(mc[np.ix_(order, order)])
        ax.plot(jj, ii, "s", ms=max(1.0, 200.0 / len(order)), mfc="none", mec="k", mew=0.5, ls="none",
                label="pairs with Monte Carlo estimates")
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
    for b in ends[:-1]:
        ax.axhline(b - 0.5, color="white", lw=1.5)
        ax.axvline(b - 0.5, color="white", lw=1.5)
    centres = ends - sizes / 2 - 0.5
    ax.set_xticks(centres)
    ax.set_xticklabels(labels, fontsize=8)
    if len(order) <= MAX_NAMED_MEMBERS:  # each member named along the rows (groups along the columns)
        members = np.asarray(ds["member"].values).astype(str)
        ax.set_yticks(np.arange(len(order)))
        ax.set_yticklabels([members[i] for i in order], fontsize=7)
        ax.set_ylabel("member")
    else:
        ax.set_yticks(centres)
        ax.set_yticklabels(labels, fontsize=8)
    if "collapsed" in ds.coords and np.asarray(ds["collapsed"].values).any():
        gone = np.asarray(ds["collapsed"].values)[order]
        for i in np.flatnonzero(gone):  # a collapsed member's NMI is undefined: say so on its row
            ax.text(len(order) - 0.5, i, " collapsed", va="center", ha="left", fontsize=7, color="firebrick")
    ax.set_xlabel("members, grouped by method and value")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="NMI of whole latent spaces")

    cons = np.asarray(ds["group_consistency"].values, dtype=float)[gorder]
    se = np.asarray(ds["group_consistency_se"].values, dtype=float)[gorder]
    fp = np.asarray(ds["group_fp_consistency"].values, dtype=float)[gorder]
    x = np.arange(G)
    ok = np.isfinite(cons)
    per = ds.attrs.get("monte_carlo_members", "all")
    bar_label = "Monte Carlo (± se)" if str(per) == "all" else f"Monte Carlo, first {per} members (± se)"
    bars = bx.bar(x[ok], cons[ok], width=0.6, color="tab:blue", alpha=0.8, label=bar_label)
    eb = bx.errorbar(x[ok], cons[ok], yerr=np.nan_to_num(se[ok]), fmt="none", ecolor="k", capsize=4)
    bx.plot(x[np.isfinite(fp)], fp[np.isfinite(fp)], "D", color="tab:orange", ms=6, ls="none",
            label="fingerprint estimate" + ("" if str(per) == "all" else ", all members"))
    for k in x[~ok]:
        bx.text(k, 0.02, "one member:\nno pairs", ha="center", va="bottom", fontsize=8)
    bx.set_xticks(x)
    bx.set_xticklabels(labels, fontsize=8)
    bx.set_xlim(-0.6, G - 0.4)
    top = float(np.nanmax(np.append(cons + np.nan_to_num(se), fp))) if np.isfinite(np.append(cons, fp)).any() else 1.0
    bx.set_ylim(0, max(1.0, top) + 0.2)  # room for the legend above the bars
    bx.set_ylabel("consistency: mean NMI within the group")
    bx.grid(axis="y", alpha=0.3)
    bx.legend(fontsize=8, loc="upper right", ncol=2)
    a = ds.attrs
    which = "" if not partial else (f"; Monte Carlo for {a.get('monte_carlo_pairs')} pairs (within groups, "
                                    f"first {per} members of each)")
    fig.suptitle(f"{title}{which}\nMonte Carlo {a.get('repeats')} x {a.get('samples')} draws per estimate; "
                 f"N = {a.get('n_points')} sample points, information at most log2 N = "
                 f"{float(a.get('log2_n', float('nan'))):.2f} bits", fontsize=10)
    fig.tight_layout()
    drawn_cons = np.full(G, np.nan)
    drawn_se = np.full(G, np.nan)
    drawn_cons[ok] = [b.get_height() for b in bars]
    if ok.any():
        segs = eb.lines[2][0].get_segments()
        drawn_se[ok] = [0.5 * (s[1][1] - s[0][1]) for s in segs]
    _save(fig, path)
    return {"order": [str(ds["member"].values[i]) for i in order], "boundaries": [float(b - 0.5) for b in ends[:-1]],
            "groups": [lab.replace("\n", " ") for lab in labels], "consistency": drawn_cons.tolist(),
            "consistency_se": drawn_se.tolist(), "fp_consistency": fp.tolist()}
