"""The explorer page's own script: it glues plotly's events to the tables and panels (selecting a
hotspot, colouring and filtering channels, finding a member); plotly draws everything.

Kept as a Python constant so that the rule's code digest (which covers Python modules only)
changes with it: a page built by older glue is rebuilt.
"""

SCRIPT = r"""
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const D = JSON.parse($("explore-data").textContent);
  const figure = (name) => { const node = $("figure-" + name); return node ? JSON.parse(node.textContent) : null; };
  const CONFIG = {displaylogo: false, responsive: true};
  const ch = D.channels, mem = D.members, H = D.hotspots, order = D.order, n = order.length, k = D.run.block;
  const factors = D.run.factors;
  const state = {colour: "hotspot", filters: {}, member: null, hotspot: null};
  const fmt = (v, d = 3) => (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) ? "–"
    : (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(d)) : String(v));
  const pct = (v) => v === null || v === undefined ? "–" : Math.round(100 * v) + "%";

  function node(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (value !== null && value !== undefined) el.setAttribute(key, value);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  // ---------------------------------------------------------------- channels, in words
  const memberOf = (i) => ch.member[i];
  const cid = (i) => mem.name[memberOf(i)] + "/" + ch.channel[i];
  const short = (i) => mem.name[memberOf(i)] + ":" + ch.channel[i];
  const bestFactor = (i) => ch.best[i] >= 0 ? factors[ch.best[i]] : null;
  const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
  function describe(i) {  // HTML for plotly's hover labels and the matrix's tooltip
    const m = memberOf(i);
    const sweep = mem.param[m] ? `${mem.param[m]} = ${fmt(mem.value[m], 4)}` : "no swept value";
    const seed = mem.seed[m] < 0 ? "imported" : "seed " + mem.seed[m];
    const best = bestFactor(i) === null ? "best factor: –"
      : `best factor: ${bestFactor(i)} (NMI ${fmt(ch.best_nmi[i])})`;
    const hot = ch.hotspot[i] >= 0 ? `, hotspot H${ch.hotspot[i]}` : "";
    return `<b>${esc(mem.name[m])} channel ${ch.channel[i]}</b>${hot}<br>${esc(mem.method[m])}, ${esc(sweep)}, ` +
      `${seed}<br>I(U;X) = ${fmt(ch.info[i])} bits<br>${esc(best)}`;
  }

  // ---------------------------------------------------------------- colours and filters
  const CATEGORICAL = {
    hotspot: (i) => ch.hotspot[i] >= 0 ? "H" + ch.hotspot[i] : "not in a hotspot",
    method: (i) => mem.method[memberOf(i)],
    group: (i) => mem.group[memberOf(i)],
    seed: (i) => mem.seed[memberOf(i)] < 0 ? "imported" : "seed " + mem.seed[memberOf(i)],
    factor: (i) => bestFactor(i) === null ? "no factor" : bestFactor(i),
  };
  function categoryColour(key, name, rank) {
    if (name === "not in a hotspot" || name === "no factor") return D.noise;
    if (key === "hotspot") return D.palette[Number(name.slice(1)) % D.palette.length];
    return D.palette[rank % D.palette.length];
  }
  function matches(i) {
    for (const [key, value] of Object.entries(state.filters)) {
      if (value !== "" && CATEGORICAL[key](i) !== value) return false;
    }
    return true;
  }
  const filtering = () => Object.values(state.filters).some((v) => v !== "");

  // ---------------------------------------------------------------- the overview
  const finiteReach = D.reach.filter((r) => r !== null);
  const top = finiteReach.length ? finiteReach.reduce((a, b) => Math.max(a, b)) * 1.1 : 1.0;
  const height = (p) => D.reach[p] === null ? top : D.reach[p];
  const overview = figure("overview");
  const ovDiv = $("overview");
  const runs = [];
  H.forEach((h) => h.runs.forEach(([a, b]) => runs.push([h.id, a, b])));

  // The bars are drawn as filled outlines, one path per colour (thousands of plotly bars take
  // seconds to draw); an invisible marker on each bar's top carries its hover text and clicks.
  function outline(ps) {  // the bars at positions ps (ascending) as one closed path per run
    const x = [], y = [];
    ps.forEach((p, j) => {
      if (j === 0 || ps[j - 1] !== p - 1) { if (j) { x.push(null); y.push(null); } x.push(p - 0.5); y.push(0); }
      x.push(p - 0.5, p + 0.5); y.push(height(p), height(p));
      if (j === ps.length - 1 || ps[j + 1] !== p + 1) { x.push(p + 0.5); y.push(0); }
    });
    return {x, y};
  }
  function bars(ps, name, color, opacity, legend) {
    return Object.assign({type: "scatter", mode: "lines", fill: "toself", fillcolor: color, opacity, name,
      legendgroup: name, showlegend: legend, line: {width: 0, color}, hoverinfo: "skip", xaxis: "x", yaxis: "y"},
      outline(ps));
  }
  // Above GL_ABOVE channels the bar tops are drawn by WebGL: tens of thousands of SVG markers take
  // seconds to redraw at every click.
  const GL_ABOVE = 5000;
  const all = [...Array(n).keys()];
  const topText = all.map((p) => describe(order[p]) +
    `<br>reachability ${D.reach[p] === null ? "infinite (start of OPTICS)" : fmt(D.reach[p])}`);
  function reachTraces() {
    const tops = {type: n > GL_ABOVE ? "scattergl" : "scatter", mode: "markers", x: all, y: all.map(height),
      xaxis: "x", yaxis: "y", meta: "channels", name: "channels", showlegend: false,
      customdata: all.map((p) => order[p]), text: topText, hovertemplate: "%{text}<extra></extra>",
      marker: {size: 6, opacity: 0}};
    if (state.colour.startsWith("nmi:")) {
      const f = Number(state.colour.slice(4));
      Object.assign(tops.marker, {opacity: all.map((p) => (!filtering() || matches(order[p])) ? 1 : 0.1),
        color: all.map((p) => ch.factor_nmi[order[p]][f]), colorscale: "Viridis", cmin: 0, cmax: 1,
        colorbar: {title: {text: "NMI with " + factors[f]}, len: 0.22, y: 1, yanchor: "top", thickness: 12}});
      return [bars(all, "reachability", "#d0d0d0", 1, false), tops];
    }
    const groups = new Map();
    for (const p of all) {
      const c = CATEGORICAL[state.colour](order[p]);
      if (!groups.has(c)) groups.set(c, []);
      groups.get(c).push(p);
    }
    const names = [...groups.keys()].sort((a, b) => rankOf(a) - rankOf(b) || (a < b ? -1 : a > b ? 1 : 0));
    const out = [];
    names.forEach((c, r) => {
      const colour = categoryColour(state.colour, c, r), ps = groups.get(c);
      const on = [], off = [];
      for (const p of ps) (!filtering() || matches(order[p]) ? on : off).push(p);
      out.push(bars(on, c, colour, 1, true));
      if (off.length) out.push(bars(off, c + " (filtered out)", colour, 0.15, false));
    });
    return out.concat([tops]);
  }
  function rankOf(name) {  // hotspots by id, "none" last, the rest as the ensemble lists them
    if (name === "not in a hotspot" || name === "no factor") return 1e9;
    if (state.colour === "hotspot") return Number(name.slice(1));
    if (state.colour === "factor") return factors.indexOf(name);
    const key = {method: mem.method, group: mem.group}[state.colour];
    if (key) return key.indexOf(name);
    return name === "imported" ? 1e8 : Number(name.slice(5));
  }

  function highlightTraces() {
    const out = [];
    const inf = [...Array(n).keys()].filter((p) => D.reach[p] === null);
    if (inf.length) out.push({type: "scatter", mode: "markers", x: inf, y: inf.map(() => top), xaxis: "x", yaxis: "y",
      name: "infinite reachability", marker: {symbol: "triangle-up", color: "black", size: 8}, hoverinfo: "skip"});
    if (state.member !== null) {
      const mine = channelsOf(state.member).filter((i) => ch.pos[i] >= 0);
      const ps = mine.map((i) => ch.pos[i]);
      const marker = {symbol: "square-open", color: "#ff00ff", size: 11, line: {width: 2.5}};
      out.push({type: "scatter", mode: "markers", x: ps, y: ps, xaxis: "x2", yaxis: "y2", marker,
        name: "member " + mem.name[state.member], customdata: mine.map(cid),
        text: mine.map(describe), hovertemplate: "%{text}<extra></extra>"});
      out.push({type: "scatter", mode: "markers", x: ps, y: ps.map(() => top * 1.08), xaxis: "x", yaxis: "y",
        marker: {symbol: "triangle-down", color: "#ff00ff", size: 10}, showlegend: false,
        name: "member " + mem.name[state.member] + " (reachability)", customdata: mine.map(cid),
        text: mine.map(describe), hovertemplate: "%{text}<extra></extra>"});
    }
    return out;
  }

  function shapes() {
    const thick = ["H" + state.hotspot, "outline H" + state.hotspot];
    return (overview.layout.shapes || []).map((s) => Object.assign({}, s,
      {line: Object.assign({}, s.line, {width: s.line.width + (thick.includes(s.name) ? 3.5 : 0)})}));
  }
  let revision = 0;
  function drawOverview() {
    if (n < 2) return Promise.resolve();
    const layout = Object.assign({}, overview.layout, {shapes: shapes(), uirevision: "keep", datarevision: ++revision});
    layout.yaxis = Object.assign({}, overview.layout.yaxis, {range: [0, top * 1.16], autorange: false});
    return Plotly.react(ovDiv, [...reachTraces(), overview.data[0], ...highlightTraces()], layout, CONFIG);
  }

  // hover over the matrix: a tooltip naming the channels (or the blocks) of the cell
  const tip = $("tooltip");
  const block = (v) => Math.round((v - (k - 1) / 2) / k);
  function blockWords(b) {
    const a = b * k, z = Math.min(n, a + k) - 1;
    if (k === 1) return describe(order[a]) + `<br>position ${a}`;
    return `positions ${a}–${z} (${z - a + 1} channels: ${esc(short(order[a]))} … ${esc(short(order[z]))})`;
  }
  function showTip(ev) {
    const pt = ev.points[0];
    if (!pt || pt.data.type !== "heatmap") return;
    const r = block(pt.y), c = block(pt.x);
    tip.innerHTML = `<div>${k === 1 ? "NMI" : "mean NMI"} <b>${fmt(pt.z)}</b></div>` +
      `<div class="tip-row">row: ${blockWords(r)}</div><div class="tip-row">column: ${blockWords(c)}</div>`;
    tip.hidden = false;
    const e = ev.event, w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - w - 8) + "px";
    tip.style.top = Math.min(e.clientY + 14, window.innerHeight - h - 8) + "px";
  }
  function hotspotAt(r0, r1, c0, c1) {  // the hotspot whose frame covers the most of a cell
    let best = null, most = 0;
    for (const [h, a, b] of runs) {
      const cover = Math.min(Math.min(b, r1) - Math.max(a, r0), Math.min(b, c1) - Math.max(a, c0));
      if (cover > most) { best = h; most = cover; }
    }
    return best;
  }
  function clicked(ev) {
    const pt = ev.points[0];
    if (!pt) return;
    if (pt.data.type === "heatmap") {
      const r = block(pt.y) * k, c = block(pt.x) * k;
      const h = hotspotAt(r, r + k, c, c + k);
      if (h !== null) selectHotspot(h, true);
    } else if (pt.data.meta === "channels" && ch.hotspot[pt.customdata] >= 0) {
      selectHotspot(ch.hotspot[pt.customdata], true);
    }
  }

  // ---------------------------------------------------------------- tables
  function table(holder, columns, rows, opts = {}) {
    const body = node("tbody");
    let sortKey = opts.sort || null, ascending = true;
    const heads = columns.map((c) => node("th", {scope: "col", "aria-sort": "none"},
      node("button", {type: "button", title: "sort by " + c.label, onclick: () => {
        ascending = sortKey === c.key ? !ascending : true;
        sortKey = c.key;
        render();
      }}, c.label)));
    function value(row, c) { return c.value ? c.value(row) : row[c.key]; }
    function render() {
      const sorted = rows.slice();
      const c = columns.find((x) => x.key === sortKey);
      if (c) sorted.sort((x, y) => {
        const a = value(x, c), b = value(y, c);
        const none = (v) => v === null || v === undefined;
        const cmp = none(a) ? (none(b) ? 0 : 1) : none(b) ? -1
          : (typeof a === "number" && typeof b === "number") ? a - b : String(a).localeCompare(String(b));
        return ascending ? cmp : -cmp;
      });
      heads.forEach((th, j) => th.setAttribute("aria-sort", columns[j].key === sortKey
        ? (ascending ? "ascending" : "descending") : "none"));
      body.replaceChildren(...sorted.map((row) => {
        const tr = node("tr", {dataset: opts.rowData ? opts.rowData(row) : {}},
          columns.map((c) => node("td", {class: c.num ? "num" : null}, c.show ? c.show(row) : fmt(value(row, c)))));
        if (opts.selected && opts.selected(row)) tr.classList.add("selected");
        if (opts.onclick) { tr.classList.add("clickable"); tr.tabIndex = 0;
          tr.addEventListener("click", () => opts.onclick(row));
          tr.addEventListener("keydown", (e) => { if (e.key === "Enter") opts.onclick(row); }); }
        return tr;
      }));
    }
    render();
    holder.replaceChildren(node("table", {}, node("thead", {}, node("tr", {}, heads)), body));
  }
  const channelsOf = (m) => [...Array(ch.member.length).keys()].filter((i) => ch.member[i] === m);
  function channelRow(i) {
    return {id: cid(i), i, member: mem.name[memberOf(i)], channel: ch.channel[i], method: mem.method[memberOf(i)],
      group: mem.group[memberOf(i)], seed: mem.seed[memberOf(i)], info: ch.info[i], factor: bestFactor(i),
      nmi: ch.best_nmi[i], pos: ch.pos[i] >= 0 ? ch.pos[i] : null,
      hotspot: ch.hotspot[i] >= 0 ? ch.hotspot[i] : null};
  }
  const CHANNEL_COLUMNS = [
    {key: "member", label: "member"}, {key: "channel", label: "channel", num: true},
    {key: "method", label: "method"}, {key: "group", label: "method and value"},
    {key: "seed", label: "seed", num: true, show: (r) => r.seed < 0 ? "imported" : String(r.seed)},
    {key: "info", label: "I(U;X) (bits)", num: true}, {key: "factor", label: "best factor"},
    {key: "nmi", label: "its NMI", num: true}, {key: "pos", label: "position", num: true},
  ];

  // ---------------------------------------------------------------- hotspots
  const bestOf = (h) => {
    let best = null;
    for (const f of factors) if (h.factor_nmi[f] !== null && h.factor_nmi[f] !== undefined
      && (best === null || h.factor_nmi[f] > h.factor_nmi[best])) best = f;
    return best;
  };
  function hotspotTable() {
    if (!H.length) { $("hotspot-table").replaceChildren(node("p", {class: "warn"}, D.run.message)); return; }
    table($("hotspot-table"), [
      {key: "id", label: "hotspot", num: true, show: (h) => node("span", {class: "swatch",
        style: "background:" + D.palette[h.id % D.palette.length]}, "H" + h.id)},
      {key: "size", label: "channels", num: true},
      {key: "n_members", label: "members", num: true},
      {key: "fraction_members", label: "of all members", num: true, show: (h) => pct(h.fraction_members)},
      {key: "nmi_mean", label: "NMI within (mean ± sd)", num: true, show: (h) => `${fmt(h.nmi_mean)} ± ${fmt(h.nmi_std)}`},
      {key: "info_bits_mean", label: "I(U;X) mean (bits)", num: true},
      {key: "best", label: "best factor (NMI)", value: (h) => bestOf(h),
        show: (h) => bestOf(h) === null ? "–" : `${bestOf(h)} (${fmt(h.factor_nmi[bestOf(h)])})`},
      {key: "rep", label: "representative", value: (h) => h.representative.member + ":" + h.representative.channel},
      {key: "nearest", label: "nearest hotspot (mean NMI)", value: (h) => h.nearest ? h.nearest.nmi : null,
        show: (h) => h.nearest ? `H${h.nearest.id} (${fmt(h.nearest.nmi)})` : "–"},
    ], H, {sort: "id", rowData: (h) => ({hotspot: String(h.id)}), selected: (h) => h.id === state.hotspot,
      onclick: (h) => selectHotspot(h.id, false)});
  }

  function selectHotspot(id, fromPlot) {
    const h = H[id];
    state.hotspot = id;
    document.querySelectorAll("#hotspot-table tr[data-hotspot]").forEach((tr) =>
      tr.classList.toggle("selected", tr.dataset.hotspot === String(id)));
    const panel = $("hotspot-detail");
    panel.hidden = false;
    panel.dataset.hotspot = String(id);
    $("hotspot-title").textContent = `Hotspot H${id}: ${h.size} channels from ${h.n_members} members ` +
      `(${pct(h.fraction_members)} of the ensemble)`;
    $("hotspot-stats").textContent = `NMI between its channels ${fmt(h.nmi_mean)} ± ${fmt(h.nmi_std)}; ` +
      `I(U;X) ${fmt(h.info_bits_mean)} bits on average (${fmt(h.info_bits_min)} to ${fmt(h.info_bits_max)}); ` +
      `representative (medoid) ${h.representative.member} channel ${h.representative.channel}; ` +
      (h.found_by_every_method ? "found by every method." : "not found by every method.");
    const near = $("hotspot-nearest");
    near.replaceChildren(h.nearest === null ? "No other hotspot to compare with." : node("span", {},
      "Nearest other hotspot by mean NMI between their channels: ",
      node("button", {type: "button", class: "link", onclick: () => selectHotspot(h.nearest.id, false)},
        "H" + h.nearest.id), ` (mean NMI ${fmt(h.nearest.nmi)}; within H${id}: ${fmt(h.nmi_mean)})`));
    table($("hotspot-channels"), CHANNEL_COLUMNS, h.channels.map(channelRow),
      {sort: "pos", rowData: (r) => ({channelId: r.id})});
    table($("hotspot-groups"), [
      {key: "group", label: "method and value"}, {key: "holding", label: "members holding it", num: true},
      {key: "of", label: "members of the group", num: true},
      {key: "fraction", label: "fraction", num: true, show: (g) => pct(g.fraction)},
      {key: "members", label: "which", show: (g) => g.members.join(", ")}], h.groups, {sort: "group"});
    profile(h);
    const img = $("hotspot-traversal-img"), cap = $("hotspot-traversal-caption");
    if (h.traversal) {
      img.src = h.traversal; img.alt = `latent traversal of hotspot H${id}'s representative`;
      cap.textContent = `Traversal of ${h.representative.member} channel ${h.representative.channel}: ` +
        "the channel swept from its 2nd to its 98th percentile on the sample, the other channels at their mean.";
    } else if (D.traversal.whole) {
      img.src = D.traversal.whole; img.alt = "latent traversals of every hotspot's representative";
      cap.textContent = (D.traversal.note || "") + ` Hotspot H${id}'s row is labelled "hotspot ${id}".`;
    }
    drawOverview();
    if (!fromPlot) panel.scrollIntoView({block: "nearest"});
  }

  function profile(h) {
    if (!factors.length) { $("factor-profile").replaceChildren(node("p", {}, "The data have no ground-truth factors.")); return; }
    const traces = [{type: "bar", x: factors, y: factors.map((f) => h.factor_nmi[f]), name: "hotspot mean",
      marker: {color: D.palette[h.id % D.palette.length]}, hovertemplate: "%{x}: mean NMI %{y:.3f}<extra></extra>"}];
    traces.push({type: "scatter", mode: "markers", name: "each channel",
      x: h.channels.flatMap(() => factors), y: h.channels.flatMap((i) => ch.factor_nmi[i]),
      text: h.channels.flatMap((i) => factors.map(() => short(i))), marker: {color: "black", size: 6, opacity: 0.7},
      hovertemplate: "%{text}: NMI with %{x} %{y:.3f}<extra></extra>"});
    Plotly.react($("factor-profile"), traces, {template: overview && overview.layout.template, height: 300,
      margin: {l: 60, r: 10, t: 30, b: 50}, title: {text: "What it encodes: NMI with each factor", font: {size: 13}},
      yaxis: {title: {text: "NMI (0 to 1)"}, range: [0, 1.05]}, xaxis: {title: {text: "ground-truth factor"}},
      legend: {orientation: "h", y: -0.3}}, CONFIG);
  }

  // ---------------------------------------------------------------- controls
  function options(select, values, label) {
    select.replaceChildren(node("option", {value: ""}, label), ...values.map((v) => node("option", {value: v}, v)));
  }
  const distinct = (values) => [...new Set(values)];
  function controls() {
    const colour = $("colour-by");
    const choices = [["hotspot", "hotspot"], ["method", "method"], ["group", "method and value"], ["seed", "seed"]];
    if (factors.length) choices.push(["factor", "best factor"], ...factors.map((f, j) => ["nmi:" + j, "NMI with " + f]));
    colour.replaceChildren(...choices.map(([v, t]) => node("option", {value: v}, t)));
    colour.addEventListener("change", () => { state.colour = colour.value; drawOverview(); });
    const filters = {method: distinct(mem.method), group: distinct(mem.group),
      seed: distinct(mem.seed.map((s) => s < 0 ? "imported" : "seed " + s)), factor: factors.concat(["no factor"])};
    for (const [key, values] of Object.entries(filters)) {
      const select = $("filter-" + key);
      options(select, values, "all");
      select.addEventListener("change", () => { state.filters[key] = select.value; drawOverview(); filterCount(); });
    }
    $("member-names").replaceChildren(...mem.name.map((m) => node("option", {value: m})));
    const search = $("member-search");
    search.addEventListener("change", () => findMember(search.value));
    search.addEventListener("keydown", (e) => { if (e.key === "Enter") findMember(search.value); });
    $("member-go").addEventListener("click", () => findMember(search.value));
  }
  function filterCount() {
    const out = $("filter-count");
    if (!filtering()) { out.textContent = ""; return; }
    const shown = order.filter(matches);
    const inHot = shown.filter((i) => ch.hotspot[i] >= 0);
    out.textContent = `${shown.length} of the ${n} channels in the plot match (${inHot.length} in a hotspot, ` +
      `${distinct(inHot.map((i) => ch.hotspot[i])).length} hotspots); the others are faded.`;
  }

  function findMember(text) {
    const name = text.trim();
    const result = $("member-result");
    result.hidden = false;
    const m = mem.name.indexOf(name);
    if (m < 0) {
      state.member = null;
      $("member-title").textContent = name ? `No member named "${name}"` : "Type a member's name";
      $("member-channels").replaceChildren();
      result.dataset.member = "";
      drawOverview();
      return;
    }
    state.member = m;
    result.dataset.member = name;
    const mine = channelsOf(m);
    const shown = mine.filter((i) => ch.pos[i] >= 0);
    $("member-title").textContent = `Member ${name} (${mem.group[m]}, ${mem.seed[m] < 0 ? "imported" : "seed " + mem.seed[m]}): ` +
      `${mine.length} channels, ${shown.length} in the plots (magenta squares on the matrix's diagonal, ` +
      "triangles above the reachability)";
    $("member-channels").replaceChildren(...mine.map((i) => {
      const words = ch.pos[i] >= 0
        ? `position ${ch.pos[i]}, ${ch.hotspot[i] >= 0 ? "hotspot H" + ch.hotspot[i] : "in no hotspot"}`
        : `at or below the ${D.run.info_threshold}-bit information threshold: not in the plots`;
      const li = node("li", {dataset: {channelId: cid(i), highlighted: ch.pos[i] >= 0 ? "yes" : "no"}},
        `channel ${ch.channel[i]}: ${fmt(ch.info[i])} bits, ${words}`,
        bestFactor(i) === null ? "" : `, best factor ${bestFactor(i)} (NMI ${fmt(ch.best_nmi[i])})`);
      if (ch.hotspot[i] >= 0) li.append(" ", node("button", {type: "button", class: "link",
        onclick: () => selectHotspot(ch.hotspot[i], false)}, "show H" + ch.hotspot[i]));
      return li;
    }));
    drawOverview();
  }

  // ---------------------------------------------------------------- fusion and whole spaces
  function fusion() {
    const F = D.fusion, done = [];
    $("fusion-line").textContent = F.sentence;
    const fig = figure("fusion");
    if (fig) {
      const select = $("fusion-colour");
      select.replaceChildren(...F.factors.map((f, j) => node("option", {value: String(j)}, f)));
      select.value = String(F.first);
      select.parentElement.hidden = F.factors.length < 2;
      select.addEventListener("change", () => {
        const f = Number(select.value);
        const update = {"marker.color": [F.colours[f]], "marker.colorbar.title.text": F.factors[f]};
        if (F.dim === 1) update.y = [F.colours[f]];
        Plotly.restyle($("fusion"), update, [0]);
        if (F.dim === 1) Plotly.relayout($("fusion"), {"yaxis.title.text": F.factors[f]});
      });
      done.push(Plotly.newPlot($("fusion"), fig.data, fig.layout, CONFIG));
    } else { $("fusion").hidden = true; }
    for (const name of ["objective", "sweep", "spaces"]) {
      const f = figure(name);
      if (f) done.push(Plotly.newPlot($(name), f.data, f.layout, CONFIG));
      else $(name).hidden = true;
    }
    return done;
  }

  // ---------------------------------------------------------------- start
  $("run-line").textContent = D.run.sentence;
  $("overview-note").textContent = D.run.overview_note;
  if (D.run.warning) { $("run-warning").textContent = D.run.warning; $("run-warning").hidden = false; }
  controls();
  hotspotTable();
  const done = fusion();
  if (n >= 2) {
    done.push(drawOverview().then(() => {
      ovDiv.on("plotly_hover", showTip);
      ovDiv.on("plotly_unhover", () => { tip.hidden = true; });
      ovDiv.on("plotly_click", clicked);
    }));
  } else { ovDiv.hidden = true; }
  Promise.all(done).then(() => {  // every plot drawn: what tests and benchmarks wait for
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = "yes";
  });
})();
"""
