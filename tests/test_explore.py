"""The explorer (infofrag.explore): what its page holds, checked against the run it shows, and the
page itself in a real browser (Debian's Chromium, headless): it loads from disk with no console
error and no network request, a click on a hotspot shows exactly that hotspot's channels, the
member search highlights exactly that member's channels, and the screen is not blank."""
import json
import os
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from helpers.browser import (copy_results, hotspot_channel_ids, open_page, plot_point, screenshot_stats,
                             synthetic_nmi, synthetic_run)
from infofrag import explore
from infofrag.errors import StoreError
from infofrag.explore import data as xd
from infofrag.explore import traversal

#: a finished run of config/test.yaml to use instead of the suite's own (saves building one when
#: developing): the path of its results folder
RESULTS_ENV = "INFOFRAG_TEST_RESULTS"
#: plotly takes two clicks within 300 ms for a double click; the tests' clicks are further apart
DOUBLE_CLICK_MS = 400


def _inputs(run: Path) -> dict:
    return {"similarity_path": run / "similarity.zarr", "hotspots_path": run / "hotspots" / "hotspots.json",
            "traversals_path": run / "hotspots" / "traversals.png", "boost_path": run / "boost" / "boost.json",
            "fused_path": run / "boost" / "fused.zarr", "sample_path": run / "sample.zarr",
            "spaces_path": (run / "spaces.zarr") if (run / "spaces.zarr").exists() else None}


@pytest.fixture(scope="module")
def test_run(tmp_path_factory, request) -> Path:
    """A private copy of the results of a finished run of the test config (the suite's own, or
    the one ``INFOFRAG_TEST_RESULTS`` names)."""
    dest = tmp_path_factory.mktemp("explore") / "results"
    given = os.environ.get(RESULTS_ENV)
    return copy_results(Path(given) if given else request.getfixturevalue("finished_run") / "results", dest)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """A synthetic run of 120 channels (12 members, 6 hotspots), written by the stores' writers."""
    root = tmp_path_factory.mktemp("explore120")
    synthetic_run(root, 120)
    return root


def _build(run: Path) -> tuple[Path, dict]:
    html = run / "explore" / "index.html"
    return html, explore.build(**_inputs(run), out_html=html)


@pytest.fixture(scope="module")
def built(test_run) -> tuple[Path, dict]:
    """The explorer of the test config's run."""
    return _build(test_run)


@pytest.fixture(scope="module", params=["synthetic", pytest.param("test config", marks=pytest.mark.slow)])
def any_run(request) -> tuple[Path, Path, dict]:
    """(results, page, what build returned) of the synthetic run and of the test config's run."""
    run = request.getfixturevalue("small_run" if request.param == "synthetic" else "test_run")
    return (run, *_build(run))


def page_data(html: Path) -> dict:
    text = html.read_text()
    return json.loads(re.search(r'<script type="application/json" id="explore-data">(.*?)</script>', text,
                                re.S).group(1))


def page_figure(html: Path, name: str) -> dict:
    text = html.read_text()
    return json.loads(re.search(rf'<script type="application/json" id="figure-{name}">(.*?)</script>', text,
                                re.S).group(1))


def decode(array) -> np.ndarray:
    """A plotly JSON array (plain or base64 typed) as numpy."""
    import base64

    if isinstance(array, dict):
        out = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
        return out.reshape([int(s) for s in str(array["shape"]).split(",")]) if "shape" in array else out
    return np.asarray(array, dtype=float)


# ------------------------------------------------------------------------------ the numbers


def direct_block_means(nmi, order, k, hotspot):
    """What ordered_block_means must give, computed on the whole matrix in memory."""
    sub = nmi[np.ix_(order, order)]
    both = np.stack([sub, sub.T])
    n = len(order)
    nb = -(-n // k)
    out = np.full((nb, nb), np.nan)
    for r in range(nb):
        for c in range(nb):
            cell = both[:, r * k:(r + 1) * k, c * k:(c + 1) * k]
            if np.isfinite(cell).any():
                out[r, c] = np.nanmean(cell)
    H = hotspot.max() + 1
    between = np.full((H, H), np.nan)
    for a in range(H):
        for b in range(H):
            ia, ib = np.flatnonzero(hotspot == a), np.flatnonzero(hotspot == b)
            cell = np.stack([nmi[np.ix_(ia, ib)], nmi[np.ix_(ib, ia)].T])
            between[a, b] = np.nanmean(cell)
    return out, between


@pytest.mark.parametrize("k,tile", [(1, (7, 11)), (5, (16, 16)), (7, (300, 300)), (3, (90, 4))])
def test_block_means_are_those_of_the_whole_matrix(k, tile):
    """Streamed one tile at a time, in OPTICS order, averaged by blocks, NaN (pairs not computed)
    counting for nothing: the same as on the whole matrix; asymmetric input is symmetrised."""
    rng = np.random.default_rng(1)
    M = 90
    nmi = rng.random((M, M))
    nmi[rng.random((M, M)) < 0.05] = np.nan
    nmi[5, :] = np.nan  # a row with no finite entry
    order = rng.permutation(M)[:70]
    hotspot = np.full(M, -1)
    hotspot[order[3:12]] = 0
    hotspot[order[20:24]] = 1
    hotspot[order[30:50]] = 2
    hotspot[order[52:55]] = 1  # a hotspot in two runs of the ordering
    matrix, between = xd.ordered_block_means(lambda r0, r1, c0, c1: nmi[r0:r1, c0:c1], M, tile, order.tolist(), k,
                                             hotspot, 3)
    expected, expected_between = direct_block_means(nmi, order, k, hotspot)
    np.testing.assert_allclose(matrix, expected, rtol=1e-12)
    np.testing.assert_allclose(between, expected_between, rtol=1e-12)
    assert matrix.shape == (-(-70 // k),) * 2
    np.testing.assert_array_equal(np.isnan(matrix), np.isnan(matrix.T))


def test_heatmap_is_exact_up_to_max_cells_then_blocks_of_ceil_n_over_max():
    assert [xd.block_size(n, 600) for n in (2, 600, 601, 1200, 1201, 3000, 17097)] == [1, 1, 2, 2, 3, 5, 29]


def test_nearest_hotspot_is_the_highest_mean_nmi_to_another():
    between = np.array([[0.9, 0.2, 0.4], [0.2, 0.8, np.nan], [0.4, np.nan, 0.7]])
    assert xd.nearest_hotspots(between) == [(2, 0.4), (0, 0.2), (0, 0.4)]
    assert xd.nearest_hotspots(np.array([[0.9]])) == [None]


# ------------------------------------------------------------------------------ the page, read back


def test_page_is_one_offline_file_under_10_mb(any_run):
    _, html, result = any_run
    text = html.read_text()
    assert result["bytes"] == len(text.encode()) < 10 * 2**20
    # nothing fetched: no element loads a file or a URL (plotly's bundle is inline)
    assert re.findall(r"<(?:script|link|img|iframe)[^>]*\s(?:src|href)=", text, re.I) == []
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, re.S)
    assert any("Plotly" in body and len(body) > 3_000_000 for attrs, body in scripts if not attrs)
    assert "How to read this." in text


def test_page_data_are_the_runs(any_run):
    """Every hotspot's channels are those hotspots.json lists; the ordering, reachability and
    channel coordinates are those of the run; groups holding a hotspot are hotspots.json's."""
    from infofrag import store

    test_run, html, result = any_run
    data = page_data(html)
    hot = json.loads((test_run / "hotspots" / "hotspots.json").read_text())
    sim = store.similarity.read(test_run / "similarity.zarr", check=False)
    ids = [f"{data['members']['name'][m]}/{c}" for m, c in zip(data["channels"]["member"], data["channels"]["channel"])]
    assert ids == [str(c) for c in sim["channel_id"].values]
    assert data["order"] == hot["optics"]["ordering"]
    assert result == {"bytes": result["bytes"], "n_channels": hot["n_channels"], "n_shown": len(hot["optics"]["ordering"]),
                      "block": 1, "n_hotspots": hot["n_hotspots"], "traversal_rows": True,
                      "spaces_block": 1 if (test_run / "spaces.zarr").exists() else None}
    truth = hotspot_channel_ids(test_run / "hotspots" / "hotspots.json")
    assert len(data["hotspots"]) == hot["n_hotspots"] > 0
    for h in data["hotspots"]:
        assert {ids[i] for i in h["channels"]} == truth[h["id"]]
        assert {g["group"] for g in h["groups"]} == set(hot["hotspots"][h["id"]]["groups"])
        assert sum(g["holding"] for g in h["groups"]) == hot["hotspots"][h["id"]]["n_members"]
        assert h["traversal"].startswith("data:image/png;base64,")
    # the matrix is the run's NMI in OPTICS order (exact at this size), symmetrised
    fig = page_figure(html, "overview")
    z = decode(fig["data"][0]["z"])
    nmi = np.asarray(sim["nmi"].values)[np.ix_(hot["optics"]["ordering"], hot["optics"]["ordering"])]
    np.testing.assert_allclose(z, np.where(np.isnan(nmi), nmi.T, np.where(np.isnan(nmi.T), nmi, 0.5 * (nmi + nmi.T))),
                               rtol=1e-6)
    # one frame per run of a hotspot along the ordering, in its colour
    frames = [(s["name"], s["x0"] + 0.5, s["x1"] + 0.5) for s in fig["layout"]["shapes"] if s["name"].startswith("H")]
    assert [s["name"] for s in fig["layout"]["shapes"] if not s["name"].startswith("H")] == \
        [f"outline {name}" for name, _, _ in frames]
    labels = hot["optics"]["labels"]
    assert frames == [(f"H{h}", a, b) for h, a, b in xd.runs(labels)]


def test_nearest_hotspot_agrees_with_the_store(any_run):
    from infofrag import store

    test_run, html, _ = any_run
    data = page_data(html)
    sim = store.similarity.read(test_run / "similarity.zarr", check=False)
    nmi = np.asarray(sim["nmi"].values)
    chans = [h["channels"] for h in data["hotspots"]]
    for h in data["hotspots"]:
        means = {o["id"]: np.nanmean(np.concatenate([nmi[np.ix_(h["channels"], chans[o["id"]])].ravel(),
                                                     nmi[np.ix_(chans[o["id"]], h["channels"])].ravel()]))
                 for o in data["hotspots"] if o["id"] != h["id"]}
        best = max(means, key=means.get)
        assert h["nearest"]["id"] == best and h["nearest"]["nmi"] == pytest.approx(means[best], abs=1e-4)


def test_traversal_rows_are_the_hotspots_rows(any_run, tmp_path):
    """One row of pictures per hotspot, in order; when the rows and the hotspots do not match,
    no row is given to a hotspot (the whole figure is shown, and the page says why)."""
    test_run = any_run[0]
    png = test_run / "hotspots" / "traversals.png"
    n = len(json.loads((test_run / "hotspots" / "hotspots.json").read_text())["hotspots"])
    rows, note = traversal.hotspot_rows(png, n)
    assert len(rows) == n and note is None
    bands = traversal.tile_bands(traversal.read_png(png))
    assert len(bands) == n and all(b0 < a1 for (_, b0), (a1, _) in zip(bands, bands[1:]))
    rows, note = traversal.hotspot_rows(png, n + 1)
    assert rows == [] and f"{n} row(s) of pictures for {n + 1} hotspot(s)" in note
    from infofrag import figures

    figures.plot_traversals({}, tmp_path / "none.png", message="the data are not images")
    assert traversal.hotspot_rows(tmp_path / "none.png", 1)[0] == []


def test_bad_input_names_the_file(small_run, tmp_path):
    inputs = _inputs(small_run)
    hot = json.loads(inputs["hotspots_path"].read_text())
    other = dict(hot, hotspots=[dict(hot["hotspots"][0], members=[["zz_s9", 0]])])
    bad = tmp_path / "hotspots.json"
    bad.write_text(json.dumps(other))
    with pytest.raises(StoreError, match=rf"'{re.escape(str(bad))}'.*'zz_s9/0'.*does not hold"):
        explore.build(**dict(inputs, hotspots_path=bad), out_html=tmp_path / "x.html")
    bad.write_text(json.dumps({k: v for k, v in hot.items() if k != "optics"}))
    with pytest.raises(StoreError, match=rf"'{re.escape(str(bad))}' has no 'optics'"):
        explore.build(**dict(inputs, hotspots_path=bad), out_html=tmp_path / "x.html")
    bad.write_text("{not json")
    with pytest.raises(StoreError, match=re.escape(str(bad))):
        explore.build(**dict(inputs, hotspots_path=bad), out_html=tmp_path / "x.html")
    missing = tmp_path / "nowhere.zarr"
    with pytest.raises(StoreError, match=re.escape(str(missing))):
        explore.build(**dict(inputs, similarity_path=missing), out_html=tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


# ------------------------------------------------------------------------------ scale


@pytest.fixture(scope="module")
def run_3000(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("explore3000")
    run = synthetic_run(root, 3000, per_member=6, n_fragments=12)
    result = explore.build(**run["paths"], out_html=root / "index.html")
    return {**run, "html": root / "index.html", "result": result}


@pytest.mark.slow
def test_3000_channels_average_blocks_of_5_and_the_page_stays_small(run_3000):
    """The paper's scale: 2,851 informative channels drawn as 571 x 571 cells of 5 x 5 channels
    (the means of the matrix's own blocks), the whole page under 9 MiB (plotly's bundle is 4.6)."""
    result, html = run_3000["result"], run_3000["html"]
    n = int(run_3000["informative"].sum())
    assert result["block"] == 5 and result["n_shown"] == n
    assert result["bytes"] < 9 * 2**20
    fig = page_figure(html, "overview")
    heat = fig["data"][0]
    z = decode(heat["z"])
    assert z.shape == (-(-n // 5),) * 2 and (heat["x0"], heat["dx"]) == (2, 5)
    order = page_data(html)["order"]
    rows = np.asarray(order[:5])
    expected = np.nanmean(synthetic_nmi(rows, np.asarray(order[10:15]), run_3000["fragment"], run_3000["informative"]))
    assert z[0, 2] == pytest.approx(expected, rel=1e-6)
    for h in page_data(html)["hotspots"]:
        assert {run_3000["ids"][i] for i in h["channels"]} == {f"{m}/{c}" for m, c in run_3000["hotspots"][h["id"]]["members"]}


@pytest.mark.slow
def test_18000_channels_build_in_bounded_memory(tmp_path):
    """18,000 channels in the gather stage's 2,048 x 2,048 chunks: the NMI matrix (2.4 GiB in
    float64) is never held, the build's peak stays under 256 MiB (one chunk is 32 MiB); the
    heatmap at 590 x 590 cells of 29 x 29 channels, the page under 10 MiB."""
    run = synthetic_run(tmp_path, 18000, per_member=10, n_fragments=30, spaces=False)
    full = 18000 ** 2 * 8
    tracemalloc.start()
    try:
        result = explore.build(**run["paths"], out_html=tmp_path / "index.html")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 2**20 < full / 9, peak / 2**20
    assert result["block"] == 29 and result["bytes"] < 10 * 2**20
    assert decode(page_figure(tmp_path / "index.html", "overview")["data"][0]["z"]).shape == (590, 590)


# ------------------------------------------------------------------------------ in a browser


def _check_clean(session):
    assert session.console_errors == []
    assert session.remote_requests == []
    assert session.requests and all(u.startswith(("file:", "data:")) for u in session.requests)


@pytest.mark.slow
def test_page_loads_from_disk_with_no_error_and_no_request(built):
    html, _ = built
    with open_page(html) as s:
        _check_clean(s)
        stats = screenshot_stats(s.page.screenshot())
        assert stats["non_white"] > 0.15 and stats["colours"] > 300, stats
        assert s.page.evaluate("document.getElementById('overview').data.length") > 3
        # the whole-spaces, fusion and objective plots are drawn too
        for div in ("spaces", "fusion", "objective"):
            assert s.page.evaluate(f"document.querySelector('#{div} .main-svg') !== null"), div


@pytest.mark.slow
def test_clicking_a_hotspot_shows_exactly_its_channels(built, test_run):
    """A real mouse click inside each hotspot's frame in the matrix, then a click on its row of the
    table: the channel table lists exactly the channels hotspots.json lists for it."""
    html, _ = built
    truth = hotspot_channel_ids(test_run / "hotspots" / "hotspots.json")
    fig = page_figure(html, "overview")
    frames = {}
    for s in fig["layout"]["shapes"]:
        if s["name"].startswith("H"):
            frames.setdefault(int(s["name"][1:]), (s["x0"], s["x1"]))
    with open_page(html) as s:
        page = s.page
        for h, (a, b) in frames.items():
            # two clicks within plotly's double-click delay (300 ms) are a double click (zoom out)
            page.wait_for_timeout(DOUBLE_CLICK_MS)
            page.mouse.click(*plot_point(page, "overview", (a + b) / 2, (a + b) / 2))
            page.wait_for_selector(f"#hotspot-detail[data-hotspot='{h}']", state="attached")
            shown = page.eval_on_selector_all("#hotspot-channels tbody tr", "rows => rows.map(r => r.dataset.channelId)")
            assert sorted(shown) == sorted(truth[h])
            assert page.inner_text("#hotspot-title").startswith(f"Hotspot H{h}:")
        for h in truth:
            page.click(f"#hotspot-table tr[data-hotspot='{h}']")
            page.wait_for_selector(f"#hotspot-detail[data-hotspot='{h}']", state="attached")
            shown = page.eval_on_selector_all("#hotspot-channels tbody tr", "rows => rows.map(r => r.dataset.channelId)")
            assert sorted(shown) == sorted(truth[h])
            assert page.get_attribute("#hotspot-traversal-img", "src").startswith("data:image/png")
        # sorting by a column keeps the same channels, in that column's order
        page.click("#hotspot-channels th:nth-child(6) button")
        bits = page.eval_on_selector_all("#hotspot-channels tbody tr td:nth-child(6)",
                                         "cells => cells.map(c => Number(c.textContent))")
        assert bits == sorted(bits) and len(bits) == len(truth[h])
        _check_clean(s)


@pytest.mark.slow
def test_member_search_highlights_exactly_its_channels(built, test_run):
    from infofrag import store

    html, _ = built
    sim = store.similarity.read(test_run / "similarity.zarr", check=False)
    order = json.loads((test_run / "hotspots" / "hotspots.json").read_text())["optics"]["ordering"]
    ids = [str(c) for c in sim["channel_id"].values]
    member = str(sim["member_id"].values[1])
    own = [i for i, m in enumerate(sim["member"].values) if str(m) == member]
    with open_page(html) as s:
        page = s.page
        page.fill("#member-search", member)
        page.press("#member-search", "Enter")
        page.wait_for_selector("#member-channels li")
        listed = page.eval_on_selector_all("#member-channels li", "li => li.map(x => x.dataset.channelId)")
        assert listed == [ids[i] for i in own]
        traces = page.evaluate("""() => document.getElementById('overview').data
            .filter(t => t.name && t.name.startsWith('member ')).map(t => [t.name, t.xaxis, t.customdata, t.x])""")
        matrix = [t for t in traces if t[1] == "x2"]
        assert len(matrix) == 1 and matrix[0][0] == f"member {member}"
        assert sorted(matrix[0][2]) == sorted(ids[i] for i in own if i in order)
        assert sorted(matrix[0][3]) == sorted(order.index(i) for i in own if i in order)
        page.fill("#member-search", "no_such_member")
        page.press("#member-search", "Enter")
        page.wait_for_selector("#member-title:has-text('No member named')")
        assert page.evaluate("document.getElementById('overview').data.filter(t => (t.name || '').startsWith('member ')).length") == 0
        _check_clean(s)


@pytest.mark.slow
def test_hover_names_the_channels_and_controls_recolour_and_filter(built, test_run):
    from infofrag import store

    html, _ = built
    sim = store.similarity.read(test_run / "similarity.zarr", check=False)
    order = json.loads((test_run / "hotspots" / "hotspots.json").read_text())["optics"]["ordering"]
    row, col = order[0], order[1]
    with open_page(html) as s:
        page = s.page
        page.mouse.move(*plot_point(page, "overview", 1, 0))
        page.wait_for_selector("#tooltip:not([hidden])")
        tip = page.inner_text("#tooltip")
        for i in (row, col):
            assert f"{sim['member'].values[i]} channel {int(sim['channel'].values[i])}" in tip
        assert "bits" in tip and "best factor" in tip
        page.select_option("#colour-by", "method")
        legend = page.evaluate("""() => document.getElementById('overview').data
            .filter(t => t.showlegend && t.xaxis === 'x' && t.fill === 'toself').map(t => t.name)""")
        assert sorted(legend) == sorted(set(str(m) for m in np.asarray(sim["method"].values)[order]))
        seed = int(sim["seed"].values[order[0]])
        page.select_option("#filter-seed", f"seed {seed}")
        expected = sum(int(sim["seed"].values[i]) == seed for i in order)
        assert page.inner_text("#filter-count").startswith(f"{expected} of the {len(order)} channels")
        _check_clean(s)


@pytest.mark.slow
def test_3000_channels_load_and_select_in_a_browser(run_3000):
    with open_page(run_3000["html"]) as s:
        _check_clean(s)
        s.page.click("#hotspot-table tr[data-hotspot='3']")
        s.page.wait_for_selector("#hotspot-detail[data-hotspot='3']", state="attached")
        shown = s.page.eval_on_selector_all("#hotspot-channels tbody tr", "rows => rows.map(r => r.dataset.channelId)")
        assert sorted(shown) == sorted(f"{m}/{c}" for m, c in run_3000["hotspots"][3]["members"])
        assert screenshot_stats(s.page.screenshot())["colours"] > 300


@pytest.mark.slow
def test_the_workflow_writes_the_explorer(finished_run):
    """The rule's page in a finished run of the test config: there, linked from the summary page,
    offline, and it shows the run's hotspots."""
    html = finished_run / "results" / "explore" / "index.html"
    assert html.is_file() and (finished_run / "results" / "explore" / "index.html.prov.json").is_file()
    summary = finished_run / "results" / "summary" / "summary.html"
    links = re.findall(r'href="([^"]*explore[^"]*)"', summary.read_text())
    assert [(summary.parent / link).resolve() for link in links] == [html.resolve()]
    truth = hotspot_channel_ids(finished_run / "results" / "hotspots" / "hotspots.json")
    data = page_data(html)
    ids = [f"{data['members']['name'][m]}/{c}" for m, c in zip(data["channels"]["member"], data["channels"]["channel"])]
    assert {h["id"]: {ids[i] for i in h["channels"]} for h in data["hotspots"]} == truth
    with open_page(html) as s:
        _check_clean(s)
        assert screenshot_stats(s.page.screenshot())["non_white"] > 0.15


def test_the_ensemble_size_sweep_is_drawn_when_the_run_has_one(small_run, tmp_path):
    """A circle run's sweep (rows as infofrag.circle_fusion.ensemble_size_sweep writes them into
    boost.json): one curve per objective, the median over repeats with its min-max range; rows
    that failed are left out; a run without a sweep has no sweep figure."""
    inputs = _inputs(small_run)
    boost = json.loads(inputs["boost_path"].read_text())
    rows = [{"size": s, "repeat": r, "objective": o, "status": "ok", "continuity": c}
            for o, base in (("nmi", 10.0), ("vi", 20.0)) for s in (2, 4)
            for r, c in enumerate((base / s, 2 * base / s, 3 * base / s))]
    rows.append({"size": 8, "repeat": 0, "objective": "nmi", "status": "diverged", "continuity": None})
    path = tmp_path / "boost.json"
    path.write_text(json.dumps(dict(boost, sweep=rows)))
    html = tmp_path / "index.html"
    explore.build(**dict(inputs, boost_path=path), out_html=html)
    fig = page_figure(html, "sweep")
    curves = {t["name"]: t for t in fig["data"]}
    assert sorted(curves) == ["nmi: median, min-max", "vi: median, min-max"]
    nmi = curves["nmi: median, min-max"]
    assert list(decode(nmi["x"])) == [2, 4] and list(decode(nmi["y"])) == [10.0, 5.0]
    np.testing.assert_allclose(decode(nmi["error_y"]["array"]), [5.0, 2.5])
    np.testing.assert_allclose(decode(nmi["error_y"]["arrayminus"]), [5.0, 2.5])
    explore.build(**inputs, out_html=tmp_path / "plain.html")
    assert 'id="figure-sweep"' not in (tmp_path / "plain.html").read_text()


def _without_hotspots(run: Path, tmp_path: Path, status: str) -> dict:
    """The run's inputs with a hotspot result that found none: OPTICS ran and found no cluster
    (``no_hotspots``), or too few channels carry information to run it (``too_few_channels``)."""
    from infofrag import figures

    hot = json.loads((run / "hotspots" / "hotspots.json").read_text())
    hot.update(status=status, message=f"{status}: nothing to show", n_hotspots=0, hotspots=[])
    hot["optics"]["labels"] = [-1] * len(hot["optics"]["ordering"])
    if status == "too_few_channels":
        hot["optics"] = {"ordering": [], "reachability": [], "labels": [], "core_distances": []}
    (tmp_path / "hotspots.json").write_text(json.dumps(hot))
    figures.plot_traversals({}, tmp_path / "traversals.png", message=hot["message"])
    return dict(_inputs(run), hotspots_path=tmp_path / "hotspots.json", traversals_path=tmp_path / "traversals.png")


@pytest.mark.parametrize("status", ["no_hotspots", "too_few_channels"])
def test_a_run_without_hotspots_has_a_page_that_says_why(small_run, tmp_path, status):
    result = explore.build(**_without_hotspots(small_run, tmp_path, status), out_html=tmp_path / "index.html")
    data = page_data(tmp_path / "index.html")
    assert result["n_hotspots"] == 0 and data["hotspots"] == []
    assert data["run"]["warning"] == f"No hotspots ({status}): {status}: nothing to show"
    assert ('id="figure-overview"' in (tmp_path / "index.html").read_text()) == (status == "no_hotspots")


@pytest.mark.slow
def test_a_page_without_hotspots_loads_with_no_error(small_run, tmp_path):
    for status in ("no_hotspots", "too_few_channels"):
        html = tmp_path / status / "index.html"
        (tmp_path / status).mkdir()
        explore.build(**_without_hotspots(small_run, tmp_path / status, status), out_html=html)
        with open_page(html) as s:
            _check_clean(s)
            assert s.page.inner_text("#run-warning").startswith(f"No hotspots ({status})")
            assert s.page.inner_text("#hotspot-table") == f"{status}: nothing to show"


def test_whole_spaces_grouped_by_method_and_value_and_averaged_at_scale(small_run):
    """Members grouped by method, then value; above max_cells members, blocks of ceil(m / max)
    members averaged (the hover then names the block's first and last member)."""
    from infofrag import store

    sp = store.spaces.read(small_run / "spaces.zarr", check=False)
    exact = xd.spaces_view(small_run / "spaces.zarr")
    groups = [(str(sp["method"].values[i]), float(sp["value"].values[i])) for i in range(sp.sizes["m"])]
    names = [str(n) for n in sp["member"].values]
    assert exact["order"] == sorted(names, key=lambda n: (groups[names.index(n)], names.index(n)))
    assert exact["groups"] == ["beta_tcvae beta=1", "beta_tcvae beta=4", "beta_vae beta=1", "beta_vae beta=4"]
    idx = [names.index(n) for n in exact["order"]]
    np.testing.assert_array_equal(exact["nmi"], np.asarray(sp["nmi"].values)[np.ix_(idx, idx)])
    blocks = xd.spaces_view(small_run / "spaces.zarr", max_cells=5)
    assert blocks["block"] == 3 and blocks["nmi"].shape == (4, 4)
    assert blocks["nmi"][1, 2] == pytest.approx(exact["nmi"][3:6, 6:9].mean())
    fig = json.loads(explore.plots.spaces(blocks))
    assert fig["data"][0]["x"][0] == f"{exact['order'][0]} .. {exact['order'][2]}"


def test_whole_spaces_fall_back_to_the_fingerprint_estimate_where_monte_carlo_is_partial(small_run, tmp_path):
    """Monte Carlo run for some members only (NaN elsewhere): the view shows the fingerprint
    estimate, complete, and the Monte Carlo values where there are some; and says so."""
    from infofrag import store

    sp = store.spaces.read(small_run / "spaces.zarr", check=False)
    nmi = np.asarray(sp["nmi"].values).copy()
    nmi[:, 5:] = nmi[5:, :] = np.nan
    partial = sp.assign(nmi=(("m", "n"), nmi), fp_nmi=(("m", "n"), np.asarray(sp["fp_nmi"].values) * 0.9))
    store.spaces.write(tmp_path / "spaces.zarr", partial)
    view = xd.spaces_view(tmp_path / "spaces.zarr")
    idx = [[str(n) for n in sp["member"].values].index(n) for n in view["order"]]
    assert view["estimate"] == "fingerprint" and view["se"] is None
    np.testing.assert_array_equal(view["nmi"], np.asarray(partial["fp_nmi"].values)[np.ix_(idx, idx)])
    np.testing.assert_array_equal(view["monte_carlo"], nmi[np.ix_(idx, idx)])
    assert "fingerprint estimate" in explore.spaces_sentence(view, tmp_path / "spaces.zarr")
    assert "Monte Carlo %{customdata:.3f}" in json.loads(explore.plots.spaces(view))["data"][0]["hovertemplate"]
    assert xd.spaces_view(small_run / "spaces.zarr")["estimate"] == "Monte Carlo"
