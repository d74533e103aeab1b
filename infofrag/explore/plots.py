"""The explorer's static figures as plotly figures (JSON); the page's script adds what changes
with the reader's choices (the reachability bars by colour, highlights, a hotspot's profile).

Conventions of :mod:`infofrag.figures`: NMI on viridis from 0 to 1, hotspots in tab10's colours
by id (channels in none grey), information in bits.
"""

from __future__ import annotations

import math

import numpy as np

TEMPLATE = "plotly_white"
NMI_SCALE = "Viridis"
FONT = dict(family="DejaVu Sans, Arial, sans-serif", size=12)
#: width of a hotspot's frame in the matrix (pixels; the page's script thickens the selected one)
FRAME_WIDTH = 2.5


def palette() -> list:
    """tab10 as hex: hotspot h is drawn in colour h % 10 (as in infofrag.figures)."""
    import matplotlib
    from matplotlib.colors import to_hex

    return [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]


#: channels in no hotspot (infofrag.figures.NOISE_COLOUR, 0.65 grey)
NOISE_COLOUR = "#a6a6a6"


def _json(fig) -> str:
    return fig.to_json()


def overview(z: np.ndarray, n: int, k: int, hotspot_runs: list, distance: str, colours: list) -> str:
    """Reachability (top; its bars come from the page's script) over the channel x channel NMI in
    OPTICS order (z: block means, ``k`` positions a cell), one frame per run of a hotspot."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.24, 0.76], vertical_spacing=0.025)
    what = "NMI" if k == 1 else f"mean NMI of {k} x {k} channels"
    fig.add_trace(go.Heatmap(z=np.asarray(z, dtype=np.float32), x0=(k - 1) / 2, dx=k, y0=(k - 1) / 2, dy=k,
                             zmin=0, zmax=1, colorscale=NMI_SCALE, hoverinfo="none", name="NMI",
                             colorbar=dict(title=dict(text=what, side="right"), len=0.74, y=0.0,
                                           yanchor="bottom", thickness=14)), row=2, col=1)
    # each frame is a black one under the coloured one (visible on any NMI); set in one go (plotly
    # validates every add_shape call: seconds for hundreds of frames)
    fig.update_layout(
        shapes=[dict(type="rect", x0=a - 0.5, x1=b - 0.5, y0=a - 0.5, y1=b - 0.5, xref="x2", yref="y2",
                     line=dict(color=colour, width=width), name=name)
                for h, a, b in hotspot_runs
                for name, colour, width in ((f"outline H{h}", "black", FRAME_WIDTH + 2.5),
                                            (f"H{h}", colours[h % len(colours)], FRAME_WIDTH))],
        annotations=[dict(x=centre, y=1.0, xref="x", yref="y domain", yanchor="bottom", text=f"<b>H{h}</b>",
                          showarrow=False, font=dict(color=colours[h % len(colours)], size=11))
                     for h, centre in _named_runs(hotspot_runs, n)])
    units = "VI, bits" if distance == "vi" else "-ln NMI"
    axis = "channel position in the OPTICS ordering" + ("" if k == 1 else f" ({k} channels a cell)")
    fig.update_xaxes(range=[-0.5, n - 0.5], row=1, col=1)
    fig.update_xaxes(title_text=axis, range=[-0.5, n - 0.5], row=2, col=1)
    fig.update_yaxes(title_text=f"reachability<br>({units})", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="channel position in the OPTICS ordering", autorange=False,
                     range=[n - 0.5, -0.5], row=2, col=1)
    fig.update_layout(template=TEMPLATE, font=FONT, height=860, margin=dict(l=80, r=20, t=60, b=60),
                      bargap=0, barmode="overlay", hovermode="closest", dragmode="zoom",
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, title=dict(text="colour: ")))
    return _json(fig)


def _named_runs(hotspot_runs: list, n: int) -> list:
    """(hotspot, centre) of the runs to name above the reachability plot: widest first, each where
    its name keeps 4 % of the axis from names already placed (and each hotspot once)."""
    placed, named = [], set()
    for h, a, b in sorted(hotspot_runs, key=lambda r: (-(r[2] - r[1]), r[1])):
        centre = (a + b - 1) / 2
        if h not in named and all(abs(centre - c) >= 0.04 * n for _, c in placed):
            placed.append((h, centre))
            named.add(h)
    return sorted(placed, key=lambda p: p[1])


#: above this many members the spaces view's hover leaves out the standard errors (or the Monte
#: Carlo values): they would double the view's weight in the page (1 MB at 500 members)
MAX_SE_MEMBERS = 200


def spaces(view: dict) -> str:
    """Whole latent spaces: member x member NMI (Monte Carlo), grouped by method and value, lines
    between the groups."""
    import plotly.graph_objects as go

    names, k, z = view["order"], view["block"], view["nmi"]
    m = len(names)
    what = f"NMI ({view['estimate']})"
    common = dict(zmin=0, zmax=1, colorscale=NMI_SCALE)
    if k > 1:
        starts = list(range(0, m, k))
        labels = [f"{names[s]} .. {names[min(m, s + k) - 1]}" for s in starts]
        heat = go.Heatmap(z=np.asarray(z, np.float32), x=labels, y=labels, **common,
                          hovertemplate=f"members %{{y}}<br>vs %{{x}}<br>mean {what} %{{z:.3f}}<extra></extra>",
                          colorbar=dict(title=dict(text=f"mean {what}<br>of {k} x {k} members")))
    elif view["se"] is not None and m <= MAX_SE_MEMBERS:
        heat = go.Heatmap(z=np.asarray(z, np.float32), x=names, y=names, customdata=np.asarray(view["se"], np.float32),
                          hovertemplate="%{y} vs %{x}<br>NMI %{z:.3f} ± %{customdata:.3f} (Monte Carlo se)"
                                        "<extra></extra>", colorbar=dict(title=dict(text=what)), **common)
    elif view["monte_carlo"] is not None and m <= MAX_SE_MEMBERS:
        heat = go.Heatmap(z=np.asarray(z, np.float32), x=names, y=names,
                          customdata=np.asarray(view["monte_carlo"], np.float32),
                          hovertemplate="%{y} vs %{x}<br>NMI %{z:.3f} (fingerprint); Monte Carlo %{customdata:.3f}"
                                        "<extra></extra>", colorbar=dict(title=dict(text=what)), **common)
    else:
        heat = go.Heatmap(z=np.asarray(z, np.float32), x=names, y=names, colorbar=dict(title=dict(text=what)),
                          hovertemplate=f"%{{y}} vs %{{x}}<br>{what} %{{z:.3f}}<extra></extra>", **common)
    fig = go.Figure(heat)
    ends = np.cumsum(view["sizes"])
    for e in ends[:-1]:
        pos = e / k - 0.5
        fig.add_hline(y=pos, line=dict(color="white", width=2))
        fig.add_vline(x=pos, line=dict(color="white", width=2))
    centres = (ends - np.asarray(view["sizes"]) / 2) / k - 0.5
    ticks = dict(tickmode="array", tickvals=centres.tolist(), ticktext=view["groups"])
    fig.update_xaxes(title_text="members, grouped by method and value", **ticks)
    fig.update_yaxes(autorange="reversed", **ticks)
    side = min(760, 260 + 12 * len(z))
    fig.update_layout(template=TEMPLATE, font=FONT, height=side, width=side + 160,
                      margin=dict(l=140, r=20, t=30, b=80))
    return _json(fig)


def fusion(mu: np.ndarray, colour: np.ndarray | None, colour_name: str) -> str:
    """The fused representation's sample points (means), coloured by one factor (the page's
    script switches the factor); one dimension is drawn against the factor's value."""
    import plotly.graph_objects as go

    mu = np.asarray(mu, dtype=np.float64)
    one = mu.shape[1] == 1
    x = mu[:, 0]
    y = (colour if colour is not None else np.zeros(len(mu))) if one else mu[:, 1]
    marker = dict(size=6, opacity=0.85)
    if colour is not None:
        marker.update(color=np.asarray(colour, dtype=np.float64), colorscale=NMI_SCALE, showscale=True,
                      colorbar=dict(title=dict(text=colour_name)))
    fig = go.Figure(go.Scatter(x=x, y=y, mode="markers", marker=marker, name="sample points",
                               customdata=np.arange(len(mu)),
                               hovertemplate="point %{customdata}<br>(%{x:.3f}, %{y:.3f})<extra></extra>"))
    fig.update_xaxes(title_text="fused dimension 1 (posterior mean)")
    fig.update_yaxes(title_text=(colour_name or "") if one else "fused dimension 2 (posterior mean)",
                     **({} if one else {"scaleanchor": "x", "scaleratio": 1}))
    fig.update_layout(template=TEMPLATE, font=FONT, height=480, margin=dict(l=70, r=20, t=30, b=60))
    return _json(fig)


OBJECTIVE_LABELS = {"nmi": "mean NMI to targets", "vi": "mean VI to targets (bits)",
                    "info": "mean shared information I(U;V) (bits)",
                    "nmi_shifted": "mean shifted NMI to targets (at most -1)"}


def objective(curve, name: str) -> str:
    """The fusion's objective at every step of its gradient ascent."""
    import plotly.graph_objects as go

    curve = np.asarray(curve, dtype=np.float64)
    fig = go.Figure(go.Scatter(x=np.arange(1, curve.size + 1), y=curve, mode="lines", name=name,
                               hovertemplate="step %{x}: %{y:.4g}<extra></extra>"))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=OBJECTIVE_LABELS.get(name, name or "objective"))
    fig.update_layout(template=TEMPLATE, font=FONT, height=340, margin=dict(l=70, r=20, t=30, b=60))
    return _json(fig)


def sweep(rows: list) -> str | None:
    """Continuity of the fused circle against ensemble size, per objective: the median over
    repeats with its min-max range (rows of :func:`infofrag.circle_fusion.ensemble_size_sweep`)."""
    import plotly.graph_objects as go

    good = [r for r in rows if r.get("status") == "ok" and r.get("continuity") is not None
            and math.isfinite(r["continuity"])]
    if not good:
        return None
    fig = go.Figure()
    for o in dict.fromkeys(r["objective"] for r in good):
        sizes = sorted({r["size"] for r in good if r["objective"] == o})
        vals = [np.array([r["continuity"] for r in good if r["objective"] == o and r["size"] == s]) for s in sizes]
        med = np.array([np.median(v) for v in vals])
        fig.add_trace(go.Scatter(x=sizes, y=med, mode="lines+markers", name=f"{o}: median, min-max",
                                 error_y=dict(type="data", symmetric=False,
                                              array=[float(v.max()) for v in vals] - med,
                                              arrayminus=med - [float(v.min()) for v in vals]),
                                 hovertemplate=f"{o}: %{{x}} channels, median continuity %{{y:.3g}}<extra></extra>"))
    fig.add_hline(y=1.0, line=dict(color="black", dash="dash", width=1), annotation_text="seamless (1)")
    fig.update_xaxes(type="log", title_text="ensemble size (channels fused)")
    fig.update_yaxes(type="log", title_text="continuity: max / 90th pct of<br>neighbour Bhattacharyya distance")
    fig.update_layout(template=TEMPLATE, font=FONT, height=380, margin=dict(l=90, r=20, t=30, b=60))
    return _json(fig)
