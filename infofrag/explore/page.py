"""The explorer as one HTML file: plotly's bundle, the data and figures as JSON, the page's own
script, all inline, so that it opens from disk with no server and no network request."""

from __future__ import annotations

import json
import math
import re

import numpy as np

from .script import SCRIPT

STYLE = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0 auto;max-width:1280px;padding:0 16px 40px;color:#222}
h1{font-size:22px;margin:16px 0 4px} h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:14px 0 4px} p{line-height:1.45;margin:6px 0}
.howto{background:#f5f7fa;border-left:4px solid #4c72b0;padding:8px 12px;font-size:14px}
.warn{color:#a40} .note{font-size:13px;color:#555}
#controls{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid #ddd;padding:8px 0;
  display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center;font-size:14px}
#controls label{white-space:nowrap} select,input,button{font:inherit}
#filter-count{flex-basis:100%;font-size:13px;color:#555}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #ccc;padding:3px 7px} td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#eee;position:sticky;top:0} th button{border:0;background:none;font-weight:bold;cursor:pointer;padding:0}
th[aria-sort=ascending] button::after{content:" \\25B2"} th[aria-sort=descending] button::after{content:" \\25BC"}
tr.clickable{cursor:pointer} tr.clickable:hover{background:#eef3fb} tr.selected{background:#ffeeb0}
.scroll{max-height:340px;overflow:auto;display:inline-block;vertical-align:top}
.swatch{display:inline-block;min-width:2.4em;color:#fff;font-weight:bold;text-align:center;border-radius:3px}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start} .row>div,.row>figure{flex:1 1 440px;min-width:320px}
button.link{border:0;background:none;color:#1a55b0;text-decoration:underline;cursor:pointer;padding:0}
#tooltip{position:fixed;z-index:10;max-width:460px;background:rgba(255,255,255,.96);border:1px solid #888;
  border-radius:4px;padding:6px 8px;font-size:12px;pointer-events:none;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.tip-row{margin-top:4px} figure{margin:8px 0} figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:13px;color:#555} #member-channels li{font-size:14px;margin:2px 0}
"""

HOW_TO_READ = (
    "Each channel of each ensemble member is a soft clustering of a fixed sample of data points; "
    "two channels are compared by their normalised mutual information (NMI: 0, they share nothing; "
    "1, they tell the points apart in the same way). OPTICS orders the informative channels so that "
    "channels that share information sit next to each other: in the reachability plot (top) a dip is "
    "a group of close channels (reachability is a distance, in bits of variation of information or "
    "in -ln NMI), and in the matrix below (channel x channel NMI in that order) such a group is a "
    "bright square on the diagonal. The framed squares are the hotspots: fragments of information "
    "that many members learned. Hover over a bar or a cell to name its channels; click a frame, a bar "
    "or a row of the hotspot table to see a hotspot's channels, what it encodes (its NMI with each "
    "ground-truth factor, its traversal) and the nearest other hotspot; colour, filter or find a "
    "member with the controls; drag to zoom, double-click to zoom out. Information is in bits."
)

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>infofrag explorer</title>
<style>@@STYLE@@</style>
<script>@@PLOTLY@@</script>
</head>
<body>
<header>
<h1>infofrag explorer: the information fragments of a run</h1>
<p id="run-line"></p>
<p id="run-warning" class="warn" hidden></p>
<p class="howto"><b>How to read this.</b> @@HOW_TO_READ@@</p>
</header>
<section id="controls" aria-label="colour, filter and search">
<label>Colour by <select id="colour-by"></select></label>
<label>Method <select id="filter-method"></select></label>
<label>Method and value <select id="filter-group"></select></label>
<label>Seed <select id="filter-seed"></select></label>
<label>Best factor <select id="filter-factor"></select></label>
<label>Find member <input id="member-search" list="member-names" placeholder="e.g. a member name" size="14"></label>
<datalist id="member-names"></datalist>
<button id="member-go" type="button">Find</button>
<span id="filter-count" aria-live="polite"></span>
</section>
<section id="member-result" hidden aria-live="polite">
<h3 id="member-title"></h3>
<ul id="member-channels"></ul>
</section>
<section id="overview-section">
<h2>Hotspots in the OPTICS ordering</h2>
<div id="overview"></div>
<p id="overview-note" class="note"></p>
<div id="tooltip" role="tooltip" hidden></div>
</section>
<section id="hotspots-section">
<h2>Hotspots</h2>
<p class="note">Click a row (or a frame in the matrix) to see the hotspot; click a column's name to sort.</p>
<div id="hotspot-table" class="scroll"></div>
<div id="hotspot-detail" hidden>
<h3 id="hotspot-title"></h3>
<p id="hotspot-stats"></p>
<p id="hotspot-nearest"></p>
<div class="row">
<div><h3>Its channels</h3><div id="hotspot-channels" class="scroll"></div></div>
<div id="factor-profile"></div>
</div>
<h3>Members and groups that hold it</h3><div id="hotspot-groups" class="scroll"></div>
<h3>Its traversal</h3>
<figure id="hotspot-traversal"><img id="hotspot-traversal-img" alt=""><figcaption id="hotspot-traversal-caption"></figcaption></figure>
</div>
</section>
<section id="fusion-section">
<h2>Fusion: channels fused into one representation</h2>
<p id="fusion-line"></p>
<label hidden>Colour the points by factor <select id="fusion-colour"></select></label>
<div class="row"><div id="fusion"></div><div id="objective"></div></div>
<div id="sweep"></div>
</section>
<section id="spaces-section">
<h2>Whole latent spaces: NMI between members</h2>
<p id="spaces-line" class="note">@@SPACES_LINE@@</p>
<div id="spaces"></div>
</section>
<script type="application/json" id="explore-data">@@DATA@@</script>
@@FIGURES@@
<script>@@SCRIPT@@</script>
</body>
</html>
"""


def script_json(text: str) -> str:
    """JSON made safe inside a <script> element (no "</script>", no HTML comment openers)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plotly_bundle() -> str:
    """plotly.js, minified, from the pinned plotly package (inline: no network request)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    return js.replace("</script", "<\\/script")


def numbers(values, digits: int = 4) -> list:
    """Floats rounded for the page, None where not finite (JSON has no NaN)."""
    out = np.round(np.asarray(values, dtype=np.float64), digits).tolist()
    if isinstance(out, float):
        return out if math.isfinite(out) else None
    return _finite(out)


def _finite(values):
    if isinstance(values, list):
        return [_finite(v) for v in values]
    return values if values is None or not isinstance(values, float) or math.isfinite(values) else None


def render(data: dict, figures: dict, spaces_line: str) -> str:
    """The page: ``data`` (plain JSON values for the script), ``figures`` {name: plotly JSON or None}."""
    import html

    figs = "\n".join(f'<script type="application/json" id="figure-{name}">{script_json(fig)}</script>'
                     for name, fig in figures.items() if fig is not None)
    parts = {"STYLE": STYLE, "HOW_TO_READ": html.escape(HOW_TO_READ), "SPACES_LINE": html.escape(spaces_line),
             "DATA": script_json(json.dumps(data, allow_nan=False, separators=(",", ":"))),
             "FIGURES": figs, "SCRIPT": SCRIPT, "PLOTLY": plotly_bundle()}
    # one pass: the text put in is never searched for tokens again
    return re.sub(r"@@([A-Z_]+)@@", lambda m: parts[m.group(1)], TEMPLATE)
