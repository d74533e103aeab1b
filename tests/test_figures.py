"""Figures: every function writes a non-empty PNG, also when there is nothing (or little) to draw;
what they draw matches the result they show (checked against expectations worked out here from
the result, not by the plotting code); the hotspot overview stays readable and cheap at 3,000
channels."""

import csv
import struct
import tracemalloc

import numpy as np
import pytest
import torch
import xarray as xr

from infofrag import figures
from infofrag.hotspots import find_hotspots, write_hotspots

from helpers.hotspots import make_store

torch.set_num_threads(1)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000, path
    assert not list(path.parent.glob(f".{path.name}.tmp-*"))  # written atomically, nothing left


@pytest.mark.parametrize("factors", [("x", "y"), ()])
def test_hotspot_overview(tmp_path, factors):
    ds, _ = make_store(factors=factors)
    res = find_hotspots(ds, min_samples=3)
    figures.plot_hotspot_overview(ds, res, tmp_path / "overview.png")
    assert_png(tmp_path / "overview.png")


@pytest.mark.parametrize("case", ["no_hotspots", "too_few_channels"])
def test_hotspot_figures_without_hotspots(tmp_path, case):
    if case == "no_hotspots":
        ds, _ = make_store(equidistant=True)
        res = find_hotspots(ds, min_samples=3)
    else:
        ds, _ = make_store()
        res = find_hotspots(ds, info_threshold=100.0)
    assert res["status"] == case
    figures.plot_hotspot_overview(ds, res, tmp_path / "overview.png")
    figures.plot_per_group(res, tmp_path / "per_group.png")
    figures.plot_traversals({}, tmp_path / "trav.png", message=res["message"])
    for name in ("overview", "per_group", "trav"):
        assert_png(tmp_path / f"{name}.png")


def test_per_group(tmp_path):
    ds, _ = make_store()
    figures.plot_per_group(find_hotspots(ds, min_samples=3), tmp_path / "per_group.png")
    assert_png(tmp_path / "per_group.png")
    figures.plot_per_group({"per_group": [], "message": "empty store"}, tmp_path / "empty.png")
    assert_png(tmp_path / "empty.png")


def test_traversals(tmp_path):
    rng = np.random.default_rng(0)
    trav = {"H0  m1:0": rng.random((9, 16, 16)), "H1  m4:1": rng.random((9, 16, 16)),
            "H2  rgb": rng.random((9, 8, 8, 3)), "H3  points": rng.random((9, 2))}
    figures.plot_traversals(trav, tmp_path / "trav.png")
    assert_png(tmp_path / "trav.png")


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_fusion_picture(tmp_path, dim):
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((80, dim))
    lv = np.full((80, dim), -3.0)
    figures.plot_fusion(mu, lv, rng.integers(0, 5, 80), "factor x", tmp_path / "f.png")
    assert_png(tmp_path / "f.png")
    figures.plot_fusion(mu, lv, None, "", tmp_path / "nocolour.png", message="fusion diverged at step 3")
    assert_png(tmp_path / "nocolour.png")


def test_fusion_picture_of_nothing(tmp_path):
    figures.plot_fusion(np.full((5, 2), np.nan), np.zeros((5, 2)), None, "", tmp_path / "nan.png",
                        message="diverged")
    assert_png(tmp_path / "nan.png")


def test_objective_curve(tmp_path):
    figures.plot_objective_curve(list(np.linspace(0.2, 0.9, 50)), tmp_path / "c.png", objective="nmi")
    assert_png(tmp_path / "c.png")
    figures.plot_objective_curve([], tmp_path / "empty.png", objective="vi", message="no targets")
    assert_png(tmp_path / "empty.png")


def test_continuity_plot(tmp_path):
    rows = [dict(size=s, repeat=r, objective=o, continuity=30.0 / s + r, info_bits=3.0, status="ok")
            for s in (2, 5, 20) for r in range(3) for o in ("nmi", "vi", "info")]
    rows.append(dict(size=50, repeat=0, objective="nmi", continuity=None, info_bits=None, status="skipped"))
    figures.plot_continuity(rows, tmp_path / "cont.png")
    assert_png(tmp_path / "cont.png")
    figures.plot_continuity([], tmp_path / "empty.png", message="the sweep needs circle data")
    assert_png(tmp_path / "empty.png")


# ------------------------------------------------------------------ what the figures show


def png_size(path):
    """(width, height) in pixels, from the PNG header."""
    data = path.read_bytes()[:24]
    return struct.unpack(">II", data[16:24])


def expected_boxes(result):
    """The hotspot frames the overview must draw, worked out from the hotspot table: for each
    hotspot its channels' positions along the OPTICS ordering, cut into runs of consecutive
    positions, as (id, start, stop), in order along the ordering."""
    pos = {ch: p for p, ch in enumerate(result["optics"]["ordering"])}
    boxes = []
    for h in result["hotspots"]:
        ps = sorted(pos[i] for i in h["index"])
        start = ps[0]
        for prev, cur in zip(ps, ps[1:] + [None]):
            if cur != prev + 1:
                boxes.append((h["id"], start, prev + 1))
                start = cur
    return sorted(boxes, key=lambda b: b[1])


def channel_names(ds, indices):
    m, c = ds["member"].values, ds["channel"].values
    return [f"{m[i]}:{int(c[i])}" for i in indices]


@pytest.mark.parametrize("distance", ["vi", "neg_log_nmi"])
def test_overview_shows_the_hotspot_table(tmp_path, distance):
    """Frames, names, reachability, ticks and factor strip as the result and the CSV say."""
    ds, _ = make_store()
    res = find_hotspots(ds, min_samples=3, distance=distance)
    assert res["n_hotspots"] == 2
    drawn = figures.plot_hotspot_overview(ds, res, tmp_path / "overview.png")
    assert_png(tmp_path / "overview.png")
    order = res["optics"]["ordering"]
    boxes = expected_boxes(res)
    assert drawn["boxes"] == boxes and len(boxes) == 2
    assert drawn["box_rows"] == [(a, b) for _, a, b in boxes]  # square, on the diagonal
    # the table lists hotspots in the order of their frames along the ordering
    assert [b[0] for b in boxes] == [h["id"] for h in res["hotspots"]] == [0, 1]
    assert drawn["box_names"] == ["H0", "H1"]
    # each frame holds exactly the channels the hotspot table (CSV) names for that hotspot
    write_hotspots(res, tmp_path / "h.json", tmp_path / "h.csv")
    with open(tmp_path / "h.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [int(r["id"]) for r in table] == [b[0] for b in boxes]
    for row, (h, a, b) in zip(table, boxes):
        assert sorted(channel_names(ds, order[a:b])) == sorted(row["members"].split(";"))
        assert int(row["size"]) == b - a
    # the reachability bars: the result's, the infinite first one drawn above the rest
    reach = res["optics"]["reachability"]
    finite = [r for r in reach if r is not None]
    want = [max(finite) * 1.1 if r is None else r for r in reach]
    np.testing.assert_allclose(drawn["reachability"], want, rtol=1e-12)
    assert reach[0] is None
    # 18 channels: each named on the axis, in OPTICS order
    assert drawn["tick_labels"] == channel_names(ds, order)
    assert drawn["factors"] == ["x", "y"] and drawn["block"] == 1
    # the matrix is the symmetrised NMI in OPTICS order, one pixel per channel
    nmi = ds["nmi"].values
    want_m = 0.5 * (nmi + nmi.T)[np.ix_(order, order)]
    np.testing.assert_allclose(drawn["matrix"], want_m, rtol=1e-12)
    assert drawn["matrix_extent"] == (-0.5, 17.5, 17.5, -0.5)
    assert drawn["message"] is None


def test_overview_frames_a_hotspot_split_along_the_ordering(tmp_path):
    """A hotspot whose channels are not consecutive along the ordering (a denser hotspot nested
    inside it) gets one frame per run, each at its own positions."""
    ds, _ = make_store()
    order = list(range(0, 8))
    labels = [0, 0, 1, 1, 1, 0, -1, -1]
    res = {"status": "ok", "distance": "vi", "info_threshold": 0.01, "n_channels": 24, "n_hotspots": 2, "factors": ["x", "y"],
           "optics": {"ordering": order, "labels": labels, "reachability": [None] + [1.0] * 7},
           "hotspots": [{"id": 0, "index": [0, 1, 5]}, {"id": 1, "index": [2, 3, 4]}]}
    drawn = figures.plot_hotspot_overview(ds, res, tmp_path / "o.png")
    assert drawn["boxes"] == expected_boxes(res) == [(0, 0, 2), (1, 2, 5), (0, 5, 6)]
    assert drawn["box_rows"] == [(0, 2), (2, 5), (5, 6)]


def test_traversal_grid_has_one_row_per_hotspot(tmp_path):
    ds, _ = make_store()
    res = find_hotspots(ds, min_samples=3)
    rng = np.random.default_rng(0)
    trav = {}
    for h in res["hotspots"]:  # as the hotspots stage names them
        rep = h["representative"]
        trav[f"hotspot {h['id']}: {rep['member']} ch{rep['channel']}"] = rng.random((7, 8, 8))
    drawn = figures.plot_traversals(trav, tmp_path / "t.png")
    assert_png(tmp_path / "t.png")
    reps = [h["representative"] for h in res["hotspots"]]
    assert drawn["rows"] == [f"hotspot {h['id']}: {r['member']} ch{r['channel']}"
                             for h, r in zip(res["hotspots"], reps)]
    assert len(drawn["rows"]) == res["n_hotspots"] == 2
    assert drawn["images"] == [7, 7] and drawn["n_steps"] == 7 and drawn["message"] is None
    # rows of unequal length: the short row has fewer images, the grid as wide as the longest
    drawn = figures.plot_traversals({"a": rng.random((5, 4, 4)), "b": rng.random((3, 4, 4))}, tmp_path / "u.png")
    assert drawn["rows"] == ["a", "b"] and drawn["images"] == [5, 3] and drawn["n_steps"] == 5
    empty = figures.plot_traversals({}, tmp_path / "e.png", message="no hotspots")
    assert empty["rows"] == [] and empty["message"] == "no hotspots"


def test_per_group_figure_shows_the_result_numbers(tmp_path):
    ds, _ = make_store()
    res = find_hotspots(ds, min_samples=3)
    drawn = figures.plot_per_group(res, tmp_path / "b.png")
    # worked out by hand for make_store (see test_hotspots.test_per_beta_summary)
    assert drawn["groups"] == ["beta_vae beta=1", "beta_vae beta=4"]
    assert drawn["n_hotspots"] == [1.0, 2.0]
    np.testing.assert_allclose(drawn["fraction"], [3 / 9, 6 / 9], rtol=1e-12)
    assert drawn["counts"] == ["3/9", "6/9"]
    # and in general: the result's per-group rows, a group without informative channels as NaN
    res["per_group"].append({"group": "factor_vae gamma=10", "method": "factor_vae", "n_members": 1,
                             "n_channels": 4, "n_informative": 0, "n_hotspots": 0, "n_in_hotspots": 0,
                             "fraction_in_hotspots": None})
    drawn = figures.plot_per_group(res, tmp_path / "b2.png")
    rows = res["per_group"]
    assert drawn["groups"] == [r["group"] for r in rows] == ["beta_vae beta=1", "beta_vae beta=4",
                                                            "factor_vae gamma=10"]
    assert drawn["n_hotspots"] == [float(r["n_hotspots"]) for r in rows]
    assert drawn["fraction"][:2] == pytest.approx([r["fraction_in_hotspots"] for r in rows[:2]])
    assert np.isnan(drawn["fraction"][2])
    assert drawn["counts"] == [f"{r['n_in_hotspots']}/{r['n_informative']}" for r in rows]


def test_continuity_figure_shows_median_and_range(tmp_path):
    # repeats 30/s + k + {0, 1, 4}: median 30/s + k + 1 (the mean would be 30/s + k + 5/3)
    rows = [dict(size=s, repeat=r, objective=o, continuity=30.0 / s + r * r + k, info_bits=3.0, status="ok")
            for s in (2, 5, 20) for r in range(3) for k, o in enumerate(("nmi", "vi"))]
    rows.append(dict(size=50, repeat=0, objective="nmi", continuity=None, status="skipped"))
    rows.append(dict(size=5, repeat=3, objective="vi", continuity=1e9, status="diverged"))
    drawn = figures.plot_continuity(rows, tmp_path / "c.png")
    assert set(drawn["curves"]) == {"nmi", "vi"} and drawn["dropped"] == 2
    for k, o in enumerate(("nmi", "vi")):
        c = drawn["curves"][o]
        assert c["sizes"] == [2, 5, 20]
        np.testing.assert_allclose(c["median"], [15 + 1 + k, 6 + 1 + k, 1.5 + 1 + k], rtol=1e-12)
        np.testing.assert_allclose(c["min"], [15 + k, 6 + k, 1.5 + k], rtol=1e-12)
        np.testing.assert_allclose(c["max"], [15 + 4 + k, 6 + 4 + k, 1.5 + 4 + k], rtol=1e-12)


# ------------------------------------------------------------------ 3,000 channels


def big_store(M=3000, per_member=6, n_fragments=12, seed=0, factors=("x", "y", "z")):
    """A synthetic gathered store of M channels: fragments of unequal size (1 to 6 parts; NMI ~0.9
    within, ~0.06 across) hold 80 % of them, the rest are channels of their own; 5 % are
    uninformative. Returns the store, each channel's fragment (-1: none) and its information."""
    rng = np.random.default_rng(seed)
    member = np.repeat(np.arange(M // per_member), per_member)
    frag = np.full(M, -1)
    p = rng.random(M)
    sizes = np.linspace(1.0, 6.0, n_fragments)
    edges = np.concatenate([[0], np.cumsum(0.8 * sizes / sizes.sum())])  # 80 % in a fragment
    for f in range(n_fragments):
        frag[(p >= edges[f]) & (p < edges[f + 1])] = f
    noise = rng.random((M, M), dtype=np.float32)
    nmi = np.where((frag[:, None] == frag[None, :]) & (frag[:, None] >= 0), 0.9, 0.05) + 0.03 * noise
    del noise
    nmi = 0.5 * (nmi + nmi.T)
    np.fill_diagonal(nmi, 1.0)
    info = np.where(rng.random(M) < 0.05, 0.001, 1.0 + rng.random(M))
    fnmi = 0.02 + 0.9 * ((frag[:, None] % len(factors)) == np.arange(len(factors))) * (frag[:, None] >= 0)
    ds = xr.Dataset(
        {"nmi": (("a", "b"), nmi), "factor_nmi": (("a", "factor"), fnmi)},
        coords={"member": ("a", np.array([f"m{m}" for m in member])), "beta": ("a", 1.0 + member % 3),
                "seed": ("a", member), "channel": ("a", np.tile(np.arange(per_member), M // per_member)),
                "info_bits": ("a", info), "factor": ("factor", np.array(factors))},
        attrs={"n_members": M // per_member})
    return ds, frag, info


def fragment_result(ds, frag, info):
    """A hotspot result as find_hotspots would give it for ``big_store`` (fragments as hotspots,
    in fragment order along the ordering; then the channels of their own), made directly."""
    keep = np.flatnonzero(info > 0.01)
    order, labels, reach, hotspots = [], [], [], []
    for f in range(frag.max() + 1):
        idx = [int(i) for i in keep if frag[i] == f]
        order += idx
        labels += [f] * len(idx)
        reach += [None if f == 0 else 3.0] + [0.2] * (len(idx) - 1)
        hotspots.append({"id": f, "index": idx, "size": len(idx)})
    rest = [int(i) for i in keep if frag[i] < 0]
    order += rest
    labels += [-1] * len(rest)
    reach += [3.0] * len(rest)
    return {"status": "ok", "message": "", "distance": "vi", "info_threshold": 0.01, "n_channels": int(len(info)),
            "n_informative": int(len(keep)), "n_hotspots": len(hotspots), "factors": ["x", "y", "z"],
            "hotspots": hotspots, "optics": {"ordering": order, "labels": labels, "reachability": reach}}


def test_overview_at_3000_channels_is_readable_and_small(tmp_path):
    ds, frag, info = big_store()
    res = fragment_result(ds, frag, info)
    n = len(res["optics"]["ordering"])
    assert n > 2800
    tracemalloc.start()
    drawn = figures.plot_hotspot_overview(ds, res, tmp_path / "big.png")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert_png(tmp_path / "big.png")
    # memory: measured ~1.2 x the matrix's size; a bound with room (its time is measured as part
    # of the hotspots stage by benchmarks/paper_scale.py, never asserted)
    assert peak < 3 * ds["nmi"].nbytes, peak / 2**20
    # a picture a screen can show, of a file size a report can hold
    w, h = png_size(tmp_path / "big.png")
    assert w <= 2000 and h <= 2000 and (tmp_path / "big.png").stat().st_size < 2 * 2**20
    # the matrix averaged over blocks of k = ceil(n / 1000) channels: at most 1,000 pixels a side,
    # pixel j covering positions [j k, (j + 1) k) of the ordering
    k = drawn["block"]
    assert k == int(np.ceil(n / 1000)) == 3
    m = drawn["matrix"]
    assert m.shape == (int(np.ceil(n / k)),) * 2 and max(m.shape) <= 1000
    assert drawn["matrix_extent"] == (-0.5, k * m.shape[0] - 0.5, k * m.shape[0] - 0.5, -0.5)
    order = np.asarray(res["optics"]["ordering"])
    nmi = ds["nmi"].values
    for j, l in [(0, 0), (5, 40), (m.shape[0] - 1, 3), (m.shape[0] - 1, m.shape[0] - 1)]:
        rows, cols = order[j * k:(j + 1) * k], order[l * k:(l + 1) * k]
        want = 0.5 * (nmi[np.ix_(rows, cols)].mean() + nmi[np.ix_(cols, rows)].mean())
        assert m[j, l] == pytest.approx(want, rel=1e-6)
    # no channel names: a few position ticks along the ordering
    ticks = drawn["tick_labels"]
    assert 2 <= len(ticks) <= 12 and all(t.replace("\u2212", "-").lstrip("-").isdigit() for t in ticks)
    # the frames where the hotspots are, whatever the averaging; pixels inside a frame are hot
    assert drawn["boxes"] == expected_boxes(res)
    assert drawn["box_rows"] == [(a, b) for _, a, b in drawn["boxes"]]
    assert [b[0] for b in drawn["boxes"]] == list(range(12))
    for _, a, b in drawn["boxes"]:
        inside = m[-(-a // k):b // k, -(-a // k):b // k]  # pixels wholly inside the frame
        assert inside.size and inside.min() > 0.85
    names = drawn["box_names"]
    assert set(names) <= {f"H{i}" for i in range(12)} and len(names) >= 8
    assert names == sorted(names, key=lambda t: int(t[1:]))  # along the ordering
    widest = max(drawn["boxes"], key=lambda b: b[2] - b[1])
    assert f"H{widest[0]}" in names
    assert drawn["factors"] == ["x", "y", "z"]


def test_overview_names_only_the_wide_hotspots_when_there_are_many(tmp_path):
    """60 hotspots along 1,200 channels: all framed, only some named (the widest first), and no
    two names closer than about a name's width (~2.5 % of the axis)."""
    ds, frag, info = big_store(M=1200, n_fragments=60)
    res = fragment_result(ds, frag, info)
    assert all(h["size"] >= 2 for h in res["hotspots"])
    drawn = figures.plot_hotspot_overview(ds, res, tmp_path / "many.png")
    boxes = expected_boxes(res)
    assert drawn["boxes"] == boxes and len(boxes) == 60
    n = len(res["optics"]["ordering"])
    names = drawn["box_names"]
    assert 5 < len(names) < 30
    centre = {f"H{h}": (a + b - 1) / 2 for h, a, b in boxes}
    xs = [centre[t] for t in names]
    assert xs == sorted(xs) and min(np.diff(xs)) > 0.025 * n
    widest = max(boxes, key=lambda b: b[2] - b[1])
    assert f"H{widest[0]}" in names
    assert drawn["block"] == 2 and max(drawn["matrix"].shape) <= 1000


@pytest.mark.slow
def test_hotspots_table_and_overview_at_3000_channels(tmp_path):
    """End to end at 3,000 channels (OPTICS on 2,850 channels takes ~10-20 s): the table has one
    row per hotspot, each naming exactly the channels of one fragment, and the overview frames
    exactly those channels."""
    ds, frag, info = big_store()
    vi = np.where(ds["nmi"].values > 0.5, 0.2, 3.0)
    np.fill_diagonal(vi, 0.0)
    ds["vi"] = (("a", "b"), vi)
    res = find_hotspots(ds, min_samples=5)
    assert res["status"] == "ok" and res["n_hotspots"] == 12
    write_hotspots(res, tmp_path / "h.json", tmp_path / "h.csv")
    with open(tmp_path / "h.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 12
    keep = info > 0.01
    names = np.array(channel_names(ds, range(len(info))))
    fragments = {frozenset(names[(frag == f) & keep]) for f in range(12)}
    assert {frozenset(r["members"].split(";")) for r in table} == fragments
    drawn = figures.plot_hotspot_overview(ds, res, tmp_path / "big.png")
    assert drawn["boxes"] == expected_boxes(res) and len(drawn["boxes"]) == 12
    order = res["optics"]["ordering"]
    by_id = {int(row["id"]): row for row in table}  # the table lists the most widely found first
    for h, a, b in drawn["boxes"]:
        assert sorted(channel_names(ds, order[a:b])) == sorted(by_id[h]["members"].split(";"))
    assert [int(r["n_members"]) for r in table] == sorted((int(r["n_members"]) for r in table), reverse=True)
