"""Hotspots: OPTICS on the gathered similarity store, the hotspot table, latent traversals."""

import csv
import json
import math

import numpy as np
import pytest
import torch
import xarray as xr

import infofrag
from infofrag.hotspots import channel_distances, find_hotspots, write_hotspots
from infofrag.models import traverse

torch.set_num_threads(1)

from helpers.hotspots import BETAS, MEMBERS, make_store  # noqa: F401


def reference_distances(ds, distance):
    """The documented distances, element by element in plain Python (independent of the code):
    VI clipped at 0, or -ln NMI with NMI clipped to [1e-12, 1]; each pair's two entries
    averaged; zero diagonal."""
    raw = ds["vi" if distance == "vi" else "nmi"].values.tolist()
    if distance == "vi":
        f = lambda v: max(v, 0.0)  # noqa: E731
    else:
        f = lambda v: -math.log(min(max(v, 1e-12), 1.0))  # noqa: E731
    M = len(raw)
    return [[0.0 if i == j else 0.5 * (f(raw[i][j]) + f(raw[j][i])) for j in range(M)] for i in range(M)]


def by_members(result):
    return {frozenset(map(tuple, h["members"])): h for h in result["hotspots"]}


@pytest.mark.parametrize("distance", ["vi", "neg_log_nmi"])
def test_finds_the_recurring_fragments(distance):
    ds, group = make_store()
    res = find_hotspots(ds, distance=distance, min_samples=3, xi=0.05)
    assert res["status"] == "ok", res["message"]
    A = frozenset((f"m{m}", 0) for m in range(6))
    B = frozenset((f"m{m}", 1) for m in (3, 4, 5))
    hs = by_members(res)
    assert set(hs) == {A, B}
    a, b = hs[A], hs[B]
    assert a["size"] == 6 and a["n_members"] == 6 and a["fraction_members"] == 1.0
    assert b["size"] == 3 and b["n_members"] == 3 and b["fraction_members"] == 0.5
    assert a["betas"] == [1.0, 4.0] and b["betas"] == [4.0]
    assert 0.9 <= a["nmi_mean"] <= 0.93 and 0 < a["nmi_std"] < 0.03
    info = ds["info_bits"].values
    assert a["info_bits_mean"] == pytest.approx(info[a["index"]].mean())
    assert a["info_bits_min"] <= a["info_bits_mean"] <= a["info_bits_max"]
    assert a["factor_nmi"] == pytest.approx({"x": 0.8, "y": 0.02})
    assert b["factor_nmi"] == pytest.approx({"x": 0.02, "y": 0.7})
    # The representative is the medoid: least summed distance to the rest of its hotspot,
    # the distances worked out here from the store (not with channel_distances).
    d = reference_distances(ds, distance)
    for h in (a, b):
        idx = h["index"]
        sums = [sum(d[i][j] for j in idx) for i in idx]
        assert h["representative"]["index"] == idx[sums.index(min(sums))]
        rep = h["representative"]
        assert [rep["member"], rep["channel"]] in h["members"]
    # The collapsed channels (ch2) never enter OPTICS.
    assert res["n_informative"] == 18 and len(res["optics"]["ordering"]) == 18
    assert not any(ds["channel"].values[i] == 2 for i in res["optics"]["ordering"])
    json.dumps(res, allow_nan=False)


def test_per_beta_summary():
    ds, _ = make_store()
    res = find_hotspots(ds, min_samples=3)
    rows = {r["beta"]: r for r in res["per_beta"]}
    # beta 1: informative ch0, ch1, ch3 of 3 members; only ch0 (A) is in a hotspot.
    assert rows[1.0]["n_hotspots"] == 1 and rows[1.0]["n_informative"] == 9
    assert rows[1.0]["fraction_in_hotspots"] == pytest.approx(3 / 9)
    # beta 4: A and B.
    assert rows[4.0]["n_hotspots"] == 2 and rows[4.0]["fraction_in_hotspots"] == pytest.approx(6 / 9)
    assert rows[4.0]["n_members"] == 3


def test_write_hotspots_json_and_csv(tmp_path):
    ds, _ = make_store()
    res = find_hotspots(ds, min_samples=3)
    write_hotspots(res, tmp_path / "h.json", tmp_path / "h.csv")
    back = json.loads((tmp_path / "h.json").read_text())
    assert back["status"] == "ok" and back["n_hotspots"] == 2 and back["info_threshold"] == 0.01
    with open(tmp_path / "h.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    assert {"nmi_x", "nmi_y", "representative_member", "fraction_members", "members"} <= set(rows[0])
    assert {r["betas"] for r in rows} == {"1;4", "4"}


def test_too_few_channels_is_a_result_not_an_error(tmp_path):
    ds, _ = make_store()
    res = find_hotspots(ds, info_threshold=10.0)
    assert res["status"] == "too_few_channels"
    assert "0 of 24 channels" in res["message"]
    assert res["hotspots"] == [] and res["optics"]["ordering"] == []
    assert all(r["fraction_in_hotspots"] is None for r in res["per_beta"])
    # Fewer informative channels than min_samples.
    res = find_hotspots(ds, info_threshold=1.9, min_samples=10)
    assert res["status"] == "too_few_channels" and "min_samples=10" in res["message"]
    write_hotspots(res, tmp_path / "h.json", tmp_path / "h.csv")
    assert json.loads((tmp_path / "h.json").read_text())["status"] == "too_few_channels"
    assert (tmp_path / "h.csv").read_text().startswith("id,size,")


def test_no_structure_gives_no_hotspots():
    ds, _ = make_store(equidistant=True)
    res = find_hotspots(ds, min_samples=3)
    assert res["status"] == "no_hotspots"
    assert "OPTICS found no cluster among 18" in res["message"]
    assert len(res["optics"]["ordering"]) == 18 and set(res["optics"]["labels"]) == {-1}
    json.dumps(res, allow_nan=False)


def test_no_factors_and_n_members_from_the_store():
    ds, _ = make_store(factors=())
    del ds.attrs["n_members"]
    ds = ds.isel(a=slice(0, 20), b=slice(0, 20))  # member m5 gone
    res = find_hotspots(ds, min_samples=3)
    assert res["status"] == "ok" and res["factors"] == [] and res["n_members"] == 5
    assert all(h["factor_nmi"] == {} for h in res["hotspots"])
    a = [h for h in res["hotspots"] if h["size"] == 5][0]
    assert a["fraction_members"] == 1.0


def test_dbscan_extraction_and_argument_checks():
    ds, _ = make_store()
    res = find_hotspots(ds, min_samples=3, cluster_method="dbscan", eps=1.0)
    assert res["status"] == "ok" and res["n_hotspots"] == 2
    with pytest.raises(ValueError, match="eps is required"):
        find_hotspots(ds, cluster_method="dbscan")
    with pytest.raises(ValueError, match="distance"):
        find_hotspots(ds, distance="euclidean")
    bad = ds.copy()
    bad["vi"] = bad["vi"].copy()
    bad["vi"].values[0, 4] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        find_hotspots(bad, min_samples=3)


def test_nan_information_counts_as_uninformative():
    ds, _ = make_store()
    info = ds["info_bits"].values.copy()
    info[0] = np.nan
    ds = ds.assign_coords(info_bits=("a", info))
    res = find_hotspots(ds, min_samples=3)
    assert res["n_informative"] == 17 and 0 not in res["optics"]["ordering"]


def test_channel_distances_hygiene():
    ds, _ = make_store()
    nmi = ds["nmi"].values.copy()
    nmi[0, 1], nmi[1, 0] = 0.0, 1e-3  # asymmetric, and one zero NMI
    ds["nmi"] = (("a", "b"), nmi)
    for kind in ("vi", "neg_log_nmi"):
        d = channel_distances(ds, kind)
        assert np.isfinite(d).all() and (d >= 0).all()
        np.testing.assert_array_equal(d, d.T)
        np.testing.assert_array_equal(np.diag(d), 0)


def tiny_store(nmi, vi):
    M = len(nmi)
    return xr.Dataset(
        {"nmi": (("a", "b"), np.array(nmi, dtype=float)), "vi": (("a", "b"), np.array(vi, dtype=float))},
        coords={"member": ("a", [f"m{i}" for i in range(M)]), "channel": ("a", [0] * M),
                "info_bits": ("a", [1.0] * M)},
    )


def test_channel_distances_pinned_values():
    """Each documented case with its number worked out by hand: -ln (not log2, not 1 - NMI),
    the floor 1e-12 (-ln 1e-12 = 27.631021115928547), NMI above 1 clipped to 1, VI clipped at
    0, the two entries of a pair averaged after the transformation, the diagonal zero."""
    nmi = [
        [0.97, 0.5, 0.25, 0.0, 1.02],
        [0.25, 1.0, math.exp(-1), -0.1, 1e-13],
        [0.25, math.exp(-1), 1.0, 0.5, 0.5],
        [0.0, -0.1, 0.5, 1.0, 0.9],
        [1.02, 1e-13, 0.5, 0.9, 1.0 + 1e-9],
    ]
    vi = [
        [-1e-9, 2.5, -0.2, 0.0, 3.0],
        [2.5, 0.4, 1.25, 7.0, -0.3],
        [1.0, 1.25, 0.0, 0.5, 0.75],
        [0.0, 7.0, 0.5, 0.0, 0.125],
        [3.0, -0.3, 0.75, 0.125, 0.0],
    ]
    ds = tiny_store(nmi, vi)
    ln2, floor = 0.6931471805599453, 27.631021115928547
    want_nmi = np.array([
        [0.0, 1.5 * ln2, 2 * ln2, floor, 0.0],  # (0, 1): (ln 2 + ln 4) / 2, NMI 1.02 -> 1 -> 0
        [1.5 * ln2, 0.0, 1.0, floor, floor],  # ln e = 1; -0.1 and 1e-13 are floored
        [2 * ln2, 1.0, 0.0, ln2, ln2],
        [floor, floor, ln2, 0.0, -math.log(0.9)],
        [0.0, floor, ln2, -math.log(0.9), 0.0],
    ])
    want_vi = np.array([
        [0.0, 2.5, 0.5, 0.0, 3.0],  # (0, 2): (max(-0.2, 0) + 1.0) / 2
        [2.5, 0.0, 1.25, 7.0, 0.0],
        [0.5, 1.25, 0.0, 0.5, 0.75],
        [0.0, 7.0, 0.5, 0.0, 0.125],
        [3.0, 0.0, 0.75, 0.125, 0.0],
    ])
    np.testing.assert_allclose(channel_distances(ds, "neg_log_nmi"), want_nmi, rtol=1e-14, atol=0)
    np.testing.assert_allclose(channel_distances(ds, "vi"), want_vi, rtol=1e-14, atol=0)
    assert -math.log(1e-12) == pytest.approx(floor, rel=1e-15)
    # and the same numbers element by element from the documented formulas
    for kind in ("vi", "neg_log_nmi"):
        np.testing.assert_allclose(channel_distances(ds, kind), reference_distances(ds, kind), rtol=1e-14, atol=0)


def test_channel_distances_of_a_random_store_match_the_formulas():
    ds, _ = make_store(seed=3)
    for kind in ("vi", "neg_log_nmi"):
        np.testing.assert_allclose(channel_distances(ds, kind), reference_distances(ds, kind), rtol=1e-14, atol=0)


@pytest.mark.parametrize("distance,medoid_a,medoid_b", [("vi", "m2", "m5"), ("neg_log_nmi", "m4", "m3")])
def test_representative_is_the_medoid_by_design(distance, medoid_a, medoid_b):
    """A store in which the medoid of each hotspot is known by construction, and differs with
    the distance: in fragment A channel m2:0 has VI 0.1 to the other A channels (the rest are
    0.2..0.25 apart), m4:0 has NMI 0.99 to them (the rest 0.90..0.93); in fragment B, m5:1 has
    the small VI and m3:1 the high NMI. So the VI medoids are m2:0 and m5:1, the -ln NMI medoids
    m4:0 and m3:1 (summed distance to the rest: 0.5 against >= 0.9 bits, 0.05 against >= 0.3).

    A decoy in A for the VI: m2:0 is 0.3 from m5:0 (summed VI 4 x 0.1 + 0.3 = 0.7), and m0:0 is
    0.16 from every A channel but m2:0 (summed VI 0.1 + 4 x 0.16 = 0.74, largest VI 0.16). So the
    medoid (least sum) is m2:0, while the channel with the least largest distance would be m0:0.
    """
    ds, _ = make_store()
    members = ds["member"].values.tolist()
    chans = ds["channel"].values.tolist()
    pos = {(m, c): k for k, (m, c) in enumerate(zip(members, chans))}
    A = [pos[(f"m{m}", 0)] for m in range(6)]
    B = [pos[(f"m{m}", 1)] for m in (3, 4, 5)]
    vi, nmi = ds["vi"].values.copy(), ds["nmi"].values.copy()
    for group, by_vi, by_nmi in ((A, "m2", "m4"), (B, "m5", "m3")):
        c = chans[group[0]]
        for other in group:
            for k, value, arr in ((pos[(by_vi, c)], 0.1, vi), (pos[(by_nmi, c)], 0.99, nmi)):
                if other != k:
                    arr[k, other] = arr[other, k] = value
    for m in (1, 3, 4, 5):
        vi[pos[("m0", 0)], pos[(f"m{m}", 0)]] = vi[pos[(f"m{m}", 0)], pos[("m0", 0)]] = 0.16
    vi[pos[("m2", 0)], pos[("m5", 0)]] = vi[pos[("m5", 0)], pos[("m2", 0)]] = 0.3
    ds["vi"] = (("a", "b"), vi)
    ds["nmi"] = (("a", "b"), nmi)
    if distance == "vi":
        sums = {m: sum(vi[pos[(m, 0)], k] for k in A if k != pos[(m, 0)]) for m in MEMBERS}
        assert sums["m2"] == pytest.approx(0.7) and sums["m0"] == pytest.approx(0.74)
        assert min(sums, key=sums.get) == "m2"
    res = find_hotspots(ds, distance=distance, min_samples=3)
    hs = by_members(res)
    a = hs[frozenset((f"m{m}", 0) for m in range(6))]
    b = hs[frozenset((f"m{m}", 1) for m in (3, 4, 5))]
    assert (a["representative"]["member"], a["representative"]["channel"]) == (medoid_a, 0)
    assert (b["representative"]["member"], b["representative"]["channel"]) == (medoid_b, 1)
    assert a["representative"]["index"] == pos[(medoid_a, 0)]
    assert b["representative"]["index"] == pos[(medoid_b, 1)]


def test_end_to_end_with_the_estimators():
    """Channels built from posteriors, compared with infofrag.similarity, then OPTICS."""
    rng = np.random.default_rng(0)
    n = 60
    x, y = rng.random(n), rng.random(n)
    mus, lvs, members, chans = [], [], [], []
    for m in range(5):
        # every member has a noisy copy of x; odd members also of y; and a channel of noise.
        for c, base in enumerate([x, y if m % 2 else rng.random(n), rng.random(n)]):
            mus.append(base + 0.02 * rng.standard_normal(n))
            lvs.append(np.full(n, 2 * np.log(0.1)))
            members.append(f"m{m}")
            chans.append(c)
    mu = np.stack(mus)[:, :, None]
    lv = np.stack(lvs)[:, :, None]
    D = infofrag.bhattacharyya(mu, lv)  # [M, N, N]
    nmi, vi = infofrag.similarity(D)
    info = infofrag.information(D)
    M = len(members)
    ds = xr.Dataset(
        {"nmi": (("a", "b"), np.asarray(nmi)), "vi": (("a", "b"), np.asarray(vi))},
        coords={"member": ("a", members), "channel": ("a", chans), "beta": ("a", [1.0] * M),
                "seed": ("a", list(range(M))), "info_bits": ("a", np.asarray(info))},
        attrs={"n_members": 5},
    )
    res = find_hotspots(ds, min_samples=2, xi=0.1)
    assert res["status"] == "ok", res["message"]
    hs = by_members(res)
    assert frozenset((f"m{m}", 0) for m in range(5)) in hs
    json.dumps(res, allow_nan=False)


# ----------------------------------------------------------------------------------- traverse


class LinearDecoder(torch.nn.Module):
    """decode(z) -> logits [n, 1, 4, 4]: pixel k responds to latent k % d."""

    def __init__(self, d=3):
        super().__init__()
        w = torch.zeros(d, 16)
        for k in range(16):
            w[k % d, k] = 1.0
        self.w = torch.nn.Parameter(w)

    def decode(self, z):
        return (z @ self.w).reshape(-1, 1, 4, 4)


def test_traverse_sweeps_one_channel():
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((200, 3)).astype(np.float32) * np.array([1.0, 2.0, 3.0], np.float32)
    model = LinearDecoder(3)
    model.train()
    imgs = traverse(model, mu, channel=1, n_steps=7)
    assert imgs.shape == (7, 4, 4) and imgs.dtype == np.float32
    assert (imgs > 0).all() and (imgs < 1).all()
    flat = imgs.reshape(7, 16)
    swept = flat[:, 1::3]  # pixels driven by channel 1
    assert (np.diff(swept, axis=0) > 0).all()
    lo, hi = np.percentile(mu[:, 1], [2, 98])
    np.testing.assert_allclose(torch.logit(torch.tensor(swept[[0, -1], 0])).numpy(), [lo, hi], rtol=1e-4)
    fixed = flat[:, 0::3]  # pixels of channel 0: at its mean throughout
    np.testing.assert_allclose(fixed, fixed[0:1].repeat(7, 0))
    assert model.training  # the model's mode is restored
    explicit = traverse(model, mu, channel=2, n_steps=3, span=(-1.0, 1.0))
    np.testing.assert_allclose(explicit.reshape(3, 16)[:, 2], 1 / (1 + np.exp([1.0, 0.0, -1.0])), rtol=1e-5)
    with pytest.raises(ValueError, match="channel"):
        traverse(model, mu, channel=3)


@pytest.mark.parametrize("arch,shape,expected", [("conv32", (1, 32, 32), (5, 32, 32)), ("mlp", (2,), (5, 2))])
def test_traverse_with_a_project_model(arch, shape, expected):
    from infofrag.models import build_model

    torch.manual_seed(0)
    model = build_model(arch, shape, 3)
    mu = np.random.default_rng(1).standard_normal((50, 3)).astype(np.float32)
    out = traverse(model, mu, channel=0, n_steps=5, likelihood=model.likelihood)
    assert out.shape == expected and np.isfinite(out).all()
    if model.likelihood == "bernoulli":
        assert (out >= 0).all() and (out <= 1).all()


def test_each_hotspot_says_which_families_find_it(tmp_path):
    """Two families (m0-m2 one, m3-m5 another): hotspot A, in every member, is found by both
    (all of each family's members); B only by the second; the table lists the most widely found
    first, with these columns."""
    ds, _ = make_store()
    methods = np.where(np.isin(ds["member"].values, ["m0", "m1", "m2"]), "beta_vae", "factor_vae")
    ds = ds.assign_coords(method=("a", methods))
    res = find_hotspots(ds, min_samples=3)
    hs = sorted(res["hotspots"], key=lambda h: -h["size"])
    a, b = hs
    assert a["method_fraction"] == {"beta_vae": 1.0, "factor_vae": 1.0} and a["found_by_every_method"]
    assert a["found_only_by"] is None
    assert b["method_fraction"] == {"factor_vae": 1.0} and b["found_only_by"] == "factor_vae"
    from infofrag.hotspots import hotspot_rows

    _, rows = hotspot_rows(res)
    assert [r["id"] for r in rows] == [a["id"], b["id"]]
    assert rows[1]["found_only_by"] == "factor_vae" and rows[0]["method_fraction"] == "beta_vae:1.000;factor_vae:1.000"
    # the overview: a strip per family beside the matrix, each channel along the ordering its own
    from infofrag.figures import plot_hotspot_overview

    drawn = plot_hotspot_overview(ds, res, tmp_path / "overview.png")
    assert drawn["families"] == ["beta_vae", "factor_vae"] and drawn["family_strip"].shape == (18, 2)
    along = methods[np.asarray(res["optics"]["ordering"])]
    np.testing.assert_array_equal(drawn["family_strip"][:, 1], (along == "factor_vae").astype(float))


@pytest.mark.parametrize("n,block", [(1, 4), (7, 3), (10, 5), (33, 8), (40, 1024)])
def test_symmetrise_in_place_is_the_same_numbers(n, block):
    """The hotspots' in-place symmetrisation (no second dense matrix) gives 0.5 * (a + a.T) to
    the last bit, whatever the block size."""
    from infofrag.hotspots import symmetrise

    a = np.random.default_rng(n).normal(size=(n, n))
    want = 0.5 * (a + a.T)
    got = symmetrise(a.copy(), block=block)
    assert np.array_equal(got, want)
