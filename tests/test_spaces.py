"""Whole latent spaces (the `spaces` stage): accuracy against a plain Monte Carlo written here and
against closed forms, standard errors, shards and their assembly, groups, the figure, and the
workflow (slow)."""
import math

import numpy as np
import pytest
import xarray as xr
from scipy.special import logsumexp

from infofrag import figures, store
from infofrag.errors import StoreError
from infofrag.stages import spaces
from infofrag.store.spaces import ALL_PAIR_VARIABLES, GROUP_VARIABLES, PAIR_VARIABLES, mirrored
from helpers.runs import ROOT, planned_jobs, snakemake, write_config

LN2 = math.log(2.0)


# =========================================================================== reference

def slow_monte_carlo(mu_u, lv_u, mu_v, lv_v, n, seed, batches=20):
    """The plain estimator, one draw at a time: a data point i uniform, two independent draws
    from each space's posterior at i, the mixture densities over all N points evaluated
    directly. Returns {variable: (value, se)} like :func:`spaces.compare` (the draws cut into
    ``batches`` batches; the standard error from the batches' spread)."""
    rng = np.random.default_rng(seed)
    N = mu_u.shape[0]

    def log_q(z, mu, lv):  # log N(z; mu_j, diag exp(lv_j)) for every point j
        return -0.5 * np.sum((z - mu) ** 2 / np.exp(lv) + lv + np.log(2 * np.pi), axis=1)

    def log_p(*logs):  # log of the mixture over the N points of the product of the densities
        return logsumexp(np.sum(logs, axis=0)) - math.log(N)

    rows = []
    for _ in range(n):
        i = rng.integers(N)
        u1, u2 = (mu_u[i] + np.exp(0.5 * lv_u[i]) * rng.normal(size=mu_u.shape[1]) for _ in range(2))
        v1, v2 = (mu_v[i] + np.exp(0.5 * lv_v[i]) * rng.normal(size=mu_v.shape[1]) for _ in range(2))
        lu1, lu2 = log_q(u1, mu_u, lv_u), log_q(u2, mu_u, lv_u)
        lv1, lv2 = log_q(v1, mu_v, lv_v), log_q(v2, mu_v, lv_v)
        rows.append([lu1[i] - log_p(lu1),                                   # I(U;X)
                     lv1[i] - log_p(lv1),                                   # I(V;X)
                     lu1[i] + lu2[i] - log_p(lu1, lu2),                     # I(UU';X)
                     lv1[i] + lv2[i] - log_p(lv1, lv2),                     # I(VV';X)
                     lu1[i] + lv1[i] - log_p(lu1, lv1)])                    # I(UV;X)
    T = np.array(rows) / LN2
    per_batch = np.array([derived(b.mean(0)) for b in np.array_split(T, batches)])
    value = derived(T.mean(0))
    se = per_batch.std(0, ddof=1) / math.sqrt(batches)
    return {v: (value[k], se[k]) for k, v in enumerate(PAIR_VARIABLES)}


def derived(t):
    """[nmi, vi, i_u, i_v, i_uu, i_vv, i_joint, shared] from (i_u, i_v, i_uu, i_vv, i_joint), the
    formulas of docs/method.md."""
    i_u, i_v, i_uu, i_vv, i_uv = t
    shared = i_u + i_v - i_uv
    nmi = shared / math.sqrt((2 * i_u - i_uu) * (2 * i_v - i_vv))
    return np.array([nmi, 2 * i_uv - i_uu - i_vv, i_u, i_v, i_uu, i_vv, i_uv, shared])


def soft_spaces(N=40, seed=0):
    """Two soft spaces over one hidden position t in [0, 1]^2: U sees both coordinates (2-d), V
    the first and a noisy fold of the second (3-d, one channel collapsed)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(size=(N, 2))
    mu_u = np.stack([4 * t[:, 0], 3 * t[:, 1]], 1)
    lv_u = np.stack([np.full(N, -1.0), np.full(N, -0.5)], 1)
    mu_v = np.stack([3 * t[:, 0] + 0.3 * rng.normal(size=N), 3 * np.abs(t[:, 1] - 0.5), 0.01 * rng.normal(size=N)], 1)
    lv_v = np.stack([np.full(N, -1.5), np.full(N, -1.0), np.zeros(N)], 1)
    return mu_u, lv_u, mu_v, lv_v


def hard_space(labels, spread=100.0, logvar=-10.0):
    """A hard clustering as a 1-d posterior space: every point of a cluster has the same, very
    narrow posterior; clusters far apart."""
    labels = np.asarray(labels)
    return spread * labels[:, None].astype(float), np.full((len(labels), 1), logvar)


def classic(a, b):
    """Classic entropies (bits), mutual information, geometric NMI and VI of two labelings."""
    def H(x):
        _, c = np.unique(x, return_counts=True, axis=0)
        p = c / c.sum()
        return float(-(p * np.log2(p)).sum())
    ha, hb, hab = H(a), H(b), H(np.stack([a, b], 1))
    mi = ha + hb - hab
    return {"h_a": ha, "h_b": hb, "h_ab": hab, "mi": mi, "nmi": mi / math.sqrt(ha * hb), "vi": ha + hb - 2 * mi}


# =========================================================================== accuracy

def test_against_a_plain_monte_carlo(one_torch_thread):
    """Every term, NMI and VI agree with the plain, one-draw-at-a-time estimator within their
    combined standard errors (4 sigma), on soft spaces of different dimensions."""
    mu_u, lv_u, mu_v, lv_v = soft_spaces()
    fast = spaces.compare(mu_u, lv_u, mu_v, lv_v, samples=2000, repeats=10, seed=3, names=("u", "v"))
    slow = slow_monte_carlo(mu_u, lv_u, mu_v, lv_v, n=8000, seed=4)
    for v in PAIR_VARIABLES:
        (a, sa), (b, sb) = fast[v], slow[v]
        assert sa > 0 and sb > 0, v
        assert abs(a - b) <= 4 * math.hypot(sa, sb), (v, a, sa, b, sb)
    # the check above is not about zeros or ceilings: U's information is many standard errors
    # above 0 and below log2 N, and the spaces share part of it (NMI many standard errors
    # inside (0, 1))
    (i_u, se_u), (nmi, se_nmi) = fast["i_u"], fast["nmi"]
    assert 10 * se_u < i_u < math.log2(40) - 10 * se_u, fast["i_u"]
    assert 10 * se_nmi < nmi < 1 - 10 * se_nmi, fast["nmi"]


def test_identical_spaces_have_nmi_one_and_vi_zero(one_torch_thread):
    mu, lv, _, _ = soft_spaces()
    est = spaces.compare(mu, lv, mu, lv, samples=1000, repeats=10, seed=0, names=("u", "u"))
    nmi, se = est["nmi"]
    assert abs(nmi - 1.0) <= 4 * se and se < 0.02, est["nmi"]
    vi, vi_se = est["vi"]
    assert 0.0 <= vi <= 4 * vi_se, est["vi"]
    # U against itself: both sides estimate the same information
    assert abs(est["i_u"][0] - est["i_v"][0]) <= 4 * math.hypot(est["i_u"][1], est["i_v"][1])
    fp = spaces.fingerprint_terms(spaces.space_fingerprint(mu, lv)[None])
    assert fp["fp_nmi"][0, 0] == 1.0 and fp["fp_vi"][0, 0] == 0.0


def test_a_space_without_information_is_collapsed_nmi_undefined_vi_the_entropy(one_torch_thread):
    """V's posterior is the same at every point: it carries nothing (I(V;X) = 0 for every draw):
    it is named collapsed, its NMI with U is undefined (NaN, not a number drawn from noise), and
    VI = H(U); for U a hard clustering into 4 equal clusters H(U) = I(U;X) = 2 bits exactly."""
    labels = np.repeat(np.arange(4), 10)
    mu_u, lv_u = hard_space(labels)
    mu_v, lv_v = np.full((40, 2), 0.3), np.full((40, 2), -1.0)
    est = spaces.compare(mu_u, lv_u, mu_v, lv_v, samples=400, repeats=5, seed=0, names=("u", "v"))
    assert est["i_v"][0] == pytest.approx(0.0, abs=1e-12) and est["i_vv"][0] == pytest.approx(0.0, abs=1e-12)
    assert est["collapsed"] == (False, True)
    assert math.isnan(est["nmi"][0]) and math.isnan(est["nmi"][1])
    assert est["i_u"][0] == pytest.approx(2.0, abs=1e-12)
    assert est["vi"][0] == pytest.approx(2.0, abs=1e-12)
    # the same with a soft U: VI = H(U) = 2 I(U;X) - I(UU';X) of the same draws
    mu_s, lv_s, _, _ = soft_spaces()
    est = spaces.compare(mu_s, lv_s, mu_v, lv_v, samples=400, repeats=5, seed=0, names=("u", "v"))
    assert math.isnan(est["nmi"][0])
    assert est["vi"][0] == pytest.approx(2 * est["i_u"][0] - est["i_uu"][0], abs=1e-9)


def test_independent_informative_spaces_share_nothing(one_torch_thread):
    """U and V are hard clusterings by two independent labels of a 4 x 3 grid (5 points per cell):
    NMI 0, VI = log2 4 + log2 3, I(UV;X) = log2 12, exactly, with no sampling error."""
    a, b = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
    a, b = np.repeat(a.ravel(), 5), np.repeat(b.ravel(), 5)
    est = spaces.compare(*hard_space(a), *hard_space(b), samples=600, repeats=4, seed=1, names=("u", "v"))
    assert est["nmi"][0] == pytest.approx(0.0, abs=1e-12)
    assert est["vi"][0] == pytest.approx(math.log2(12), abs=1e-12)
    assert est["i_joint"][0] == pytest.approx(math.log2(12), abs=1e-12)
    assert max(se for _, se in est.values()) < 1e-12


@pytest.mark.parametrize("seed", [0, 1])
def test_hard_clustering_limit_is_the_classic_nmi_and_vi(seed, one_torch_thread):
    """Well separated clusters of unequal sizes with tiny variances: I(U;X) is the entropy of the
    labels, I(UV;X) their joint entropy, NMI the classic (geometric) NMI and VI the classic VI,
    by Monte Carlo (every point drawn equally often: samples a multiple of N) and by fingerprint."""
    from sklearn.metrics import normalized_mutual_info_score

    rng = np.random.default_rng(seed)
    N = 60
    la = rng.choice(5, size=N, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    lb = (la + rng.choice(3, size=N, p=[0.6, 0.3, 0.1])) % 3  # dependent on la, imperfectly
    ref = classic(la, lb)
    assert 0.05 < ref["nmi"] < 0.95
    assert ref["nmi"] == pytest.approx(normalized_mutual_info_score(la, lb, average_method="geometric"), abs=1e-12)
    ua, ub = hard_space(la), hard_space(lb)
    est = spaces.compare(*ua, *ub, samples=3 * N, repeats=3, seed=seed, names=("a", "b"))
    want = {"i_u": ref["h_a"], "i_v": ref["h_b"], "i_uu": ref["h_a"], "i_vv": ref["h_b"], "i_joint": ref["h_ab"],
            "shared": ref["mi"], "nmi": ref["nmi"], "vi": ref["vi"]}
    for v, w in want.items():
        assert est[v][0] == pytest.approx(w, abs=1e-9), v
        assert est[v][1] < 1e-9, v
    fp = spaces.fingerprint_terms(spaces.space_fingerprint(*ua)[None], spaces.space_fingerprint(*ub)[None])
    for v, w in want.items():
        assert float(fp[f"fp_{v}"][0, 0]) == pytest.approx(w, abs=1e-9), v


def test_standard_error_shrinks_as_one_over_sqrt_samples(one_torch_thread):
    """16 times the draws: standard errors 4 times smaller (their geometric mean over the eight
    quantities within 20%, each within a factor 1.7: a standard error from 40 repeats is itself
    uncertain by about 11%), and the two estimates agree within their errors."""
    mu_u, lv_u, mu_v, lv_v = soft_spaces(N=50, seed=2)
    small = spaces.compare(mu_u, lv_u, mu_v, lv_v, samples=150, repeats=40, seed=5, names=("u", "v"))
    large = spaces.compare(mu_u, lv_u, mu_v, lv_v, samples=2400, repeats=40, seed=6, names=("u", "v"))
    ratios = np.array([small[v][1] / large[v][1] for v in PAIR_VARIABLES])
    assert math.exp(np.log(ratios).mean()) == pytest.approx(4.0, rel=0.2), ratios
    assert np.all((ratios > 4 / 1.7) & (ratios < 4 * 1.7)), dict(zip(PAIR_VARIABLES, ratios))
    for v in PAIR_VARIABLES:
        assert abs(small[v][0] - large[v][0]) <= 4 * math.hypot(small[v][1], large[v][1]), v


def test_the_fingerprint_of_a_space_is_the_sum_of_its_channels_and_a_lower_bound():
    """Exact additivity over the channels of a diagonal Gaussian; and the fingerprint information
    (the Bhattacharyya pairwise estimator) does not exceed the Monte Carlo one."""
    import infofrag

    mu_u, lv_u, _, _ = soft_spaces()
    D = spaces.space_fingerprint(mu_u, lv_u)
    per_channel = infofrag.bhattacharyya(mu_u.T[:, :, None], lv_u.T[:, :, None], dtype=np.float64)
    np.testing.assert_allclose(D, per_channel.sum(0), rtol=1e-12, atol=1e-12)
    est = spaces.compare(mu_u, lv_u, mu_u, lv_u, samples=1000, repeats=10, seed=0, names=("u", "u"))
    fp = float(infofrag.information(D[None])[0])
    assert fp <= est["i_u"][0] + 4 * est["i_u"][1]
    assert fp > 0.5 * est["i_u"][0]


def test_draw_seeds_depend_on_seed_names_and_repeat():
    seeds = {spaces.draw_seed(s, a, b, r) for s in (0, 1) for a, b in (("x", "y"), ("y", "x")) for r in range(3)}
    assert len(seeds) == 12 and all(0 <= s < 2**63 for s in seeds)
    assert spaces.draw_seed(0, "x", "y", 0) == spaces.draw_seed(0, "x", "y", 0)


def test_compare_needs_two_repeats():
    mu_u, lv_u, mu_v, lv_v = soft_spaces()
    with pytest.raises(ValueError, match="repeats"):
        spaces.compare(mu_u, lv_u, mu_v, lv_v, samples=10, repeats=1, seed=0)


def test_consistency_hand_worked():
    nmi = np.array([[1.0, 0.5, 0.6], [0.5, 1.0, 0.7], [0.6, 0.7, 1.0]])
    mean, se = spaces.consistency(nmi, np.zeros((3, 3)))
    # leave-one-out means are the one pair without that member: 0.7, 0.6, 0.5
    assert mean == pytest.approx(0.6) and se == pytest.approx(math.sqrt(2 / 3 * 0.02))
    assert spaces.consistency(nmi[:2, :2], np.array([[0, 0.03], [0.03, 0]])) == pytest.approx((0.5, 0.03))
    assert all(math.isnan(x) for x in spaces.consistency(np.ones((1, 1)), np.zeros((1, 1))))


def test_mirrored_names():
    assert [mirrored(v) for v in ("i_u", "i_v_se", "fp_i_uu", "fp_i_vv", "nmi", "shared_se", "fp_i_joint")] == \
        ["i_v", "i_u_se", "fp_i_vv", "fp_i_uu", "nmi", "shared_se", "fp_i_joint"]
    assert sorted(mirrored(v) for v in ALL_PAIR_VARIABLES) == sorted(ALL_PAIR_VARIABLES)


# =========================================================================== shards and gather

SETTINGS = {"samples": 120, "repeats": 3, "seed": 11}


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """Posterior stores of 5 members in 2 groups and 2 blocks, A = (g1_s0, g1_s1, g1_s2) and
    B = (g2_s0, g2_s1), their 3 shards and the gathered store. g1's members are soft spaces of
    one hidden position; g2_s0 and g2_s1 hard clusterings by two independent labels (4 and 3
    clusters), so g2's concatenation carries exactly log2 12 bits, log2 3 more than its best
    member."""
    tmp = tmp_path_factory.mktemp("spaces")
    N = 60
    rng = np.random.default_rng(0)
    t = rng.uniform(size=N)
    a, b = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
    a, b = np.repeat(a.ravel(), 5), np.repeat(b.ravel(), 5)
    posts = {}
    for s in range(3):
        mu = np.stack([3 * t + 0.2 * rng.normal(size=N), rng.normal(size=N) * 0.01], 1)
        posts[f"g1_s{s}"] = (mu, np.stack([np.full(N, -1.0 - s * 0.3), np.zeros(N)], 1))
    posts["g2_s0"] = hard_space(a)
    posts["g2_s1"] = hard_space(b)
    paths = {}
    for m, (mu, lv) in posts.items():
        paths[m] = str(tmp / f"{m}.zarr")
        store.posteriors.write(paths[m], mu, lv, m)
        back = store.posteriors.read(paths[m], check=False)  # float32, as the stage reads them
        posts[m] = (back.mu, back.logvar)
    labels = {m: {"method": "fake", "param": "p", "value": float(m[1]), "seed": int(m[-1])} for m in posts}
    blocks = {"A": ["g1_s0", "g1_s1", "g1_s2"], "B": ["g2_s0", "g2_s1"]}
    shards = []
    for x, y in (("A", "A"), ("A", "B"), ("B", "B")):
        out = tmp / f"{x}__{y}.zarr"
        spaces.run([paths[m] for m in blocks[x]], [paths[m] for m in blocks[y]], x, y, SETTINGS, out)
        shards.append(str(out))
    ds = spaces.gather(labels, {m: 2 if m.startswith("g1") else 1 for m in posts}, list(paths.values()), shards,
                       SETTINGS, tmp / "spaces.zarr")
    return {"tmp": tmp, "posts": posts, "paths": paths, "labels": labels, "shards": shards, "ds": ds}


def test_gathered_store_layout(ensemble):
    ds = store.spaces.read(ensemble["tmp"] / "spaces.zarr", check=False)  # no provenance record here
    names = list(ensemble["posts"])
    assert ds.sizes["m"] == ds.sizes["n"] == 5 and ds.sizes["group"] == 2
    assert list(ds["member"].values) == names
    for v in ALL_PAIR_VARIABLES + GROUP_VARIABLES:
        assert v in ds
    for c in ("member", "method", "param", "value", "seed", "latent_dim", "group_id", "info_bits", "info_bits_se",
              "fp_info_bits", "group_method", "group_param", "group_value", "group_size", "group_best"):
        assert c in ds.coords, c
    assert list(ds["group_size"].values) == [3, 2] and list(ds["group_id"].values) == [0, 0, 0, 1, 1]
    assert ds.attrs["samples"] == 120 and ds.attrs["repeats"] == 3 and ds.attrs["n_points"] == 60
    assert ds.attrs["log2_n"] == pytest.approx(math.log2(60))
    for v in ("nmi", "vi", "i_joint", "shared", "nmi_se", "fp_nmi", "fp_vi", "fp_i_joint"):
        np.testing.assert_array_equal(ds[v].values, ds[v].values.T, err_msg=v)
    off = ~np.eye(5, dtype=bool)  # on the diagonal i_u and i_v are two estimates of one information
    for v in ("i_u", "i_uu", "i_u_se"):
        np.testing.assert_array_equal(ds[v].values[off], ds[mirrored(v)].values.T[off], err_msg=v)
    np.testing.assert_array_equal(ds["fp_i_u"].values, ds["fp_i_v"].values.T)
    assert np.all(np.isfinite(np.stack([ds[v].values for v in ALL_PAIR_VARIABLES])))


def test_every_pair_is_the_direct_comparison(ensemble):
    """Each gathered entry, in either orientation, is compare() of its two members (same seeds:
    the pair's numbers do not depend on the shard), and the fingerprint part one similarity of all
    whole-space fingerprints at once."""
    import infofrag

    ds, posts = ensemble["ds"], ensemble["posts"]
    names = list(posts)
    for i, a in enumerate(names):
        for j, b in enumerate(names[i:], start=i):
            est = spaces.compare(*posts[a], *posts[b], names=(a, b), **SETTINGS)
            assert est.pop("collapsed") == (False, False)
            for v, (val, se) in est.items():
                assert ds[v].values[i, j] == val and ds[f"{v}_se"].values[i, j] == se, (a, b, v)
                if i != j:
                    assert ds[mirrored(v)].values[j, i] == val, (b, a, v)
    D = np.stack([spaces.space_fingerprint(*posts[m]) for m in names])
    nmi, vi, t = infofrag.similarity(D, return_terms=True)
    np.testing.assert_allclose(ds["fp_nmi"].values, nmi, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds["fp_i_joint"].values, t.i_ab, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds["fp_info_bits"].values, t.i_a, rtol=1e-12)
    np.testing.assert_array_equal(ds["info_bits"].values, np.diag(ds["i_u"].values))


def test_groups(ensemble):
    """g2's concatenation (two independent hard clusterings, 4 and 3 clusters) carries log2 12
    bits, log2 3 more than its best member, exactly; its consistency is their NMI, 0. g1's
    consistency is the mean of its three pairs, with a jackknife standard error."""
    ds = ensemble["ds"]
    g2 = ds.isel(group=1)
    assert str(g2["group_best"].values) == "g2_s0"
    assert float(g2["group_info"]) == pytest.approx(math.log2(12), abs=1e-9)
    assert float(g2["group_best_info"]) == pytest.approx(2.0, abs=1e-9)
    assert float(g2["group_excess"]) == pytest.approx(math.log2(3), abs=1e-9)
    assert float(g2["group_excess_se"]) < 1e-9
    assert float(g2["group_fp_info"]) == pytest.approx(math.log2(12), abs=1e-9)
    assert float(g2["group_consistency"]) == pytest.approx(0.0, abs=1e-12)
    g1 = ds.isel(group=0)
    nmi = ds["nmi"].values[:3, :3]
    assert float(g1["group_consistency"]) == pytest.approx((nmi[0, 1] + nmi[0, 2] + nmi[1, 2]) / 3)
    assert float(g1["group_consistency_se"]) == pytest.approx(spaces.consistency(nmi, nmi * 0)[1])
    # the concatenation of soft spaces of one position: more than the best member, less than log2 N
    assert float(g1["group_info"]) > float(g1["group_best_info"]) and float(g1["group_excess"]) > 0
    assert float(g1["group_excess"]) > 3 * float(g1["group_excess_se"])
    assert float(g1["group_info"]) < math.log2(60)


def test_gather_names_a_missing_or_foreign_shard(ensemble, tmp_path):
    kw = dict(labels=ensemble["labels"], latent_dims={m: 1 for m in ensemble["labels"]},
              posterior_paths=list(ensemble["paths"].values()), settings=SETTINGS)
    with pytest.raises(StoreError, match="no value .*g1_s0 x g2_s0"):
        spaces.gather(shard_paths=[ensemble["shards"][0], ensemble["shards"][2]], out_store=tmp_path / "x.zarr", **kw)
    with pytest.raises(StoreError, match="other settings"):
        spaces.gather(shard_paths=ensemble["shards"], out_store=tmp_path / "y.zarr",
                      **{**kw, "settings": {**SETTINGS, "samples": 121}})
    labels = {m: v for m, v in ensemble["labels"].items() if m != "g2_s1"}
    with pytest.raises(StoreError, match="g2_s1"):
        spaces.gather(shard_paths=ensemble["shards"], out_store=tmp_path / "z.zarr", **{**kw, "labels": labels})


def test_members_without_a_swept_value(ensemble, tmp_path):
    """Imported members (no method value, no seed: Member.labels() gives None) form one group per
    method, stored as value NaN and seed -1 like similarity.zarr; the figure and the summary
    name the group by its method alone."""
    labels = dict(ensemble["labels"])
    for m in ("g2_s0", "g2_s1"):
        labels[m] = {"method": "imported", "param": None, "value": None, "seed": None}
    ds = spaces.gather(labels, {m: 1 for m in labels}, list(ensemble["paths"].values()), ensemble["shards"],
                       SETTINGS, tmp_path / "spaces.zarr")
    assert list(ds["seed"].values) == [0, 1, 2, -1, -1] and np.isnan(ds["value"].values[3])
    assert list(ds["group_method"].values) == ["fake", "imported"] and np.isnan(ds["group_value"].values[1])
    assert float(ds["group_excess"].values[1]) == pytest.approx(math.log2(3), abs=1e-9)
    out = figures.plot_spaces(ds, tmp_path / "spaces.png")
    assert out["groups"] == ["fake p = 1", "imported"]
    assert [r["value"] for r in spaces.summary_rows(ds)] == ["p = 1", ""]


def test_figure_draws_the_groups(ensemble, tmp_path):
    ds = ensemble["ds"]
    out = figures.plot_spaces(ds, tmp_path / "spaces.png")
    assert (tmp_path / "spaces.png").stat().st_size > 1000
    assert out["order"] == list(ds["member"].values) and out["boundaries"] == [2.5]
    assert out["groups"] == ["fake p = 1", "fake p = 2"]
    np.testing.assert_allclose(out["consistency"], ds["group_consistency"].values)
    np.testing.assert_allclose(out["consistency_se"], ds["group_consistency_se"].values, atol=1e-12)
    # groups sorted by method, then value, whatever the store order
    flipped = ds.assign_coords(group_value=("group", [5.0, 2.0]))
    out = figures.plot_spaces(flipped, tmp_path / "flipped.png")
    assert out["order"][:2] == ["g2_s0", "g2_s1"] and out["boundaries"] == [1.5]


def test_summary_rows(ensemble):
    rows = spaces.summary_rows(ensemble["ds"])
    assert [r["members"] for r in rows] == [3, 2] and rows[1]["best member"] == "g2_s0"
    assert rows[1]["excess over best"] == pytest.approx(math.log2(3), abs=1e-9)
    assert "log2 N = 5.91" in spaces.summary_sentence(ensemble["ds"])


# =========================================================================== config, DAG

def test_config_defaults_and_checks():
    import yaml

    from infofrag import config as ifc
    from infofrag.errors import ConfigError

    assert ifc.load_config(ROOT / "config" / "test.yaml")["spaces"] == \
        {"enabled": True, "samples": 250, "repeats": 10, "seed": 0, "monte_carlo_members": "auto"}
    raw = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    with pytest.raises(ConfigError, match="spaces.repeats"):
        ifc.validate({**raw, "spaces": {"repeats": 1}})
    with pytest.raises(ConfigError, match="spaces"):
        ifc.validate({**raw, "spaces": {"sample": 100}})
    with pytest.raises(ConfigError, match="spaces.monte_carlo_members"):
        ifc.validate({**raw, "spaces": {"monte_carlo_members": 1}})


def test_the_monte_carlo_plan():
    """`all` (and `auto` up to 100 members): every pair, every block pair a shard. A number k:
    the pairs within each group among its first k members by seed; only block pairs holding
    such pairs are shards; adding seeds changes nothing already chosen. `auto` beyond 100
    members: 5 per group."""
    import yaml

    from infofrag import config as ifc

    raw = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    raw["ensemble"] = {"betas": [1, 4, 8], "seeds": list(range(6))}
    raw["similarity"]["block_size"] = 4
    everyone = ifc.ensemble(ifc.validate(raw))
    assert everyone.spaces.cross_groups and len(everyone.spaces.members) == 18
    assert everyone.spaces.pairs == everyone.pairs
    raw["spaces"] = {"monte_carlo_members": 3}
    ens = ifc.ensemble(ifc.validate(raw))
    plan = ens.spaces
    assert plan.members == tuple(f"b{b}_s{s}" for b in (1, 4, 8) for s in range(3))
    assert not plan.cross_groups and plan.per_group == 3
    # groups of 6 in blocks of 4: b1-0 (s0-s3), b1-1 (s4, s5), ...; the chosen members all sit in
    # each group's first block, so the shards are those blocks against themselves
    assert plan.pairs == [("b1-0", "b1-0"), ("b4-0", "b4-0"), ("b8-0", "b8-0")]
    assert plan.blocks["b1-0"] == ("b1_s0", "b1_s1", "b1_s2") and plan.blocks["b1-1"] == ()
    groups = {n: m.group for n, m in ens.members.items()}
    assert plan.estimated(groups, "b1_s0", "b1_s2") and not plan.estimated(groups, "b1_s0", "b4_s0")
    assert not plan.estimated(groups, "b1_s0", "b1_s3")
    raw["ensemble"]["seeds"] = list(range(9))
    assert ifc.ensemble(ifc.validate(raw)).spaces.members == plan.members
    raw["ensemble"] = {"betas": list(range(1, 12)), "seeds": list(range(10))}
    raw["spaces"] = {"monte_carlo_members": "auto"}
    auto = ifc.ensemble(ifc.validate(raw)).spaces
    assert auto.per_group == ifc.AUTO_MC_MEMBERS == 5 and len(auto.members) == 55


def test_gather_with_monte_carlo_within_groups_only(ensemble, tmp_path):
    """Pairs within groups among their first two members: the shards hold only those; the
    gathered store has them (and `monte_carlo` says which), the fingerprint estimate of every
    pair equal to the full run's, the groups' fingerprint consistency over all their members."""
    full = ensemble["ds"]
    paths = ensemble["paths"]
    groups = {m: m[:2] for m in paths}
    chosen = ["g1_s0", "g1_s1", "g2_s0", "g2_s1"]
    shard = tmp_path / "A__A.zarr"
    spaces.run([paths[m] for m in chosen], [paths[m] for m in chosen], "A", "A", SETTINGS, shard, groups=groups)
    sh = store.spaces.read_shard(shard, check=False)
    assert int(sh["monte_carlo"].values.sum()) == 8  # 2 groups x (2 self pairs + one pair in both orders)
    mc = {"members": chosen, "cross_groups": False, "per_group": 2}
    ds = spaces.gather(ensemble["labels"], {m: 2 if m.startswith("g1") else 1 for m in paths}, list(paths.values()),
                       [str(shard)], SETTINGS, tmp_path / "spaces.zarr", monte_carlo=mc)
    names = list(paths)
    est = ds["monte_carlo"].values
    want = np.array([[a in chosen and b in chosen and a[:2] == b[:2] for b in names] for a in names])
    np.testing.assert_array_equal(est, want)
    assert ds.attrs["monte_carlo_pairs"] == 6 and ds.attrs["monte_carlo_members"] == 2  # unordered, self included
    nmi = ds["nmi"].values
    assert np.isnan(nmi[~est]).all() and np.isfinite(nmi[est]).all()
    np.testing.assert_array_equal(nmi[est], full["nmi"].values[est])  # same draws, seeded by the pair
    np.testing.assert_allclose(ds["fp_nmi"].values, full["fp_nmi"].values, rtol=0, atol=1e-12)
    assert float(ds["group_fp_consistency"].values[0]) == pytest.approx(float(full["group_fp_consistency"].values[0]))
    # g1's Monte Carlo consistency: its two chosen members' pair
    assert float(ds["group_consistency"].values[0]) == pytest.approx(nmi[0, 1])
    # the figure: the fingerprint matrix with the Monte Carlo pairs outlined, the bars over the chosen members
    from infofrag import figures

    drawn = figures.plot_spaces(ds, tmp_path / "spaces.png")
    assert (tmp_path / "spaces.png").read_bytes()[:4] == b"\x89PNG"
    assert drawn["consistency"][0] == pytest.approx(nmi[0, 1])
    # a shard that misses a chosen pair is named
    with pytest.raises(StoreError, match="no value"):
        spaces.gather(ensemble["labels"], {m: 2 if m.startswith("g1") else 1 for m in paths}, list(paths.values()),
                      [str(shard)], SETTINGS, tmp_path / "x.zarr",
                      monte_carlo={"members": chosen + ["g1_s2"], "cross_groups": False, "per_group": 3})


def test_memory_estimates_cover_the_rules():
    from infofrag import config as ifc
    from infofrag import resources

    cfg = ifc.load_config(ROOT / "config" / "config.yaml")
    mem = resources.mem_mb(cfg, ifc.members(cfg))
    assert 2000 <= mem["spaces"] < 4000 and 2000 <= mem["spaces_gather"] < 4000


def test_dag_has_spaces_only_when_enabled(tmp_path):
    write_config(tmp_path)
    jobs = planned_jobs(tmp_path)
    # config/test.yaml: 4 members in 4 blocks of one, 10 block pairs
    assert jobs["spaces"] == 10 and jobs["spaces_gather"] == 1, jobs
    write_config(tmp_path, spaces__enabled=False)
    jobs = planned_jobs(tmp_path)
    assert "spaces" not in jobs and "spaces_gather" not in jobs and jobs["summary"] == 1, jobs


# =========================================================================== workflow (slow)

@pytest.fixture
def run(finished_run):
    """The session's complete run of config/test.yaml (2 betas x 2 seeds, 3 channels, blocks of 1)."""
    return finished_run


@pytest.mark.slow
def test_workflow_spaces_store(run):
    res = run / "results"
    ds = xr.open_zarr(res / "spaces.zarr")
    assert ds.sizes["m"] == ds.sizes["n"] == 4 and ds.sizes["group"] == 2
    assert list(ds["member"].values) == ["b1_s0", "b1_s1", "b4_s0", "b4_s1"]
    assert list(ds["group_value"].values) == [1.0, 4.0] and list(ds["group_size"].values) == [2, 2]
    for v in ("nmi", "vi", "i_joint", "shared", "fp_nmi", "fp_vi"):
        np.testing.assert_array_equal(ds[v].values, ds[v].values.T, err_msg=v)
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_array_equal(ds["i_u"].values[off], ds["i_v"].values.T[off])
    nmi, se = np.diag(ds["nmi"].values), np.diag(ds["nmi_se"].values)
    assert np.all(np.abs(nmi - 1.0) <= 4 * se + 1e-3), (nmi, se)
    assert np.all(se < 0.02) and np.all(np.diag(ds["fp_nmi"].values) == 1.0)
    # whole spaces carry most of log2 N = 6 bits here; never more (within their errors), and
    # the fingerprint estimate is a lower bound of the Monte Carlo one
    log2n = ds.attrs["log2_n"]
    assert log2n == 6.0
    info, info_se = ds["info_bits"].values, ds["info_bits_se"].values
    assert np.all(info <= log2n + 4 * info_se) and np.all(info > 4.0)
    assert np.all(ds["fp_info_bits"].values <= info + 4 * info_se)
    assert np.all(ds["group_info"].values >= ds["group_best_info"].values)
    for png in ("spaces/spaces.png",):
        assert (res / png).stat().st_size > 1000
    assert (res / "spaces.zarr.prov.json").is_file()
    assert "Whole latent spaces" in (res / "summary" / "summary.html").read_text()


@pytest.mark.slow
def test_workflow_fingerprint_close_to_monte_carlo_far_from_log2n(run):
    """Far from log2 N the cheap estimate holds: the run's single channels as one-dimensional
    spaces (2-3.6 bits of the 6) against each other, fingerprint vs Monte Carlo: NMI within 0.1,
    information at most 0.5 bits below (the fingerprint is a lower bound). Whole spaces of the run
    that are as far from log2 N (none at this size) are held to the same."""
    res = run / "results"
    ds = xr.open_zarr(res / "spaces.zarr")
    names = list(ds["member"].values)
    posts = {m: store.posteriors.read(res / "posteriors" / f"{m}.zarr", check=False) for m in names}
    log2n = ds.attrs["log2_n"]
    channels = [(m, c) for m in names for c in range(3)]
    checked = 0
    for k, (a, ca) in enumerate(channels):
        for b, cb in channels[k + 1:k + 4]:
            U = posts[a].mu[:, [ca]], posts[a].logvar[:, [ca]]
            V = posts[b].mu[:, [cb]], posts[b].logvar[:, [cb]]
            mc = spaces.compare(*U, *V, samples=250, repeats=10, seed=0, names=(a, ca, b, cb))
            if max(mc["i_u"][0], mc["i_v"][0]) > log2n - 1.5:
                continue
            fp = spaces.fingerprint_terms(spaces.space_fingerprint(*U)[None], spaces.space_fingerprint(*V)[None])
            assert abs(float(fp["fp_nmi"][0, 0]) - mc["nmi"][0]) < 0.1, (a, ca, b, cb)
            for v in ("i_u", "i_v", "i_joint"):
                gap = mc[v][0] - float(fp[f"fp_{v}"][0, 0])
                assert -4 * mc[v][1] <= gap <= 0.5, (a, ca, b, cb, v, gap)
            checked += 1
    assert checked >= 10
    far = (ds["info_bits"].values[:, None] < log2n - 1.5) & (ds["info_bits"].values[None, :] < log2n - 1.5)
    assert np.all(np.abs(ds["fp_nmi"].values - ds["nmi"].values)[far] < 0.1)


@pytest.mark.slow
def test_workflow_changing_one_member_reruns_only_its_space_shards(run_copy):
    run = run_copy  # a private copy: the test rewrites its config
    write_config(run, ensemble__overrides={"b4_s1": {"steps": 45}})
    try:
        jobs = planned_jobs(run)
    finally:
        write_config(run)
    # b4_s1 is alone in block b4-1 of 4 blocks: the shards that contain it are 4 of 10
    assert jobs["spaces"] == 4 and jobs["spaces_gather"] == 1 and jobs["summary"] == 1, jobs
    write_config(run, spaces__samples=300)
    try:
        jobs = planned_jobs(run)
    finally:
        write_config(run)
    # the shards, their gather and the pages that show whole spaces (summary, explorer)
    assert jobs == {"spaces": 10, "spaces_gather": 1, "summary": 1, "explore": 1, "all": 1}, jobs
    write_config(run, spaces__enabled=False)
    try:
        jobs = planned_jobs(run)
    finally:
        write_config(run)
    assert "spaces" not in jobs and "spaces_gather" not in jobs, jobs
    assert planned_jobs(run) == {}


def test_a_collapsed_member_is_gathered_named_and_left_out_of_its_groups_consistency(tmp_path):
    """A member whose posterior is the same at every point: the gathered store has it (its NMIs
    NaN, by design, not a missing shard), marks it collapsed, and its group's consistency is that
    of the others."""
    N = 60
    rng = np.random.default_rng(3)
    t = rng.uniform(size=N)
    posts = {f"g1_s{s}": (np.stack([3 * t + 0.2 * rng.normal(size=N)], 1), np.full((N, 1), -1.0))
             for s in range(2)}
    posts["g1_s2"] = (np.full((N, 1), 0.5), np.full((N, 1), -1.0))
    paths = {}
    for m, (mu, lv) in posts.items():
        paths[m] = str(tmp_path / f"{m}.zarr")
        store.posteriors.write(paths[m], mu, lv, m)
    labels = {m: {"method": "fake", "param": "p", "value": 1.0, "seed": int(m[-1])} for m in posts}
    shard = tmp_path / "A__A.zarr"
    spaces.run(list(paths.values()), list(paths.values()), "A", "A", SETTINGS, shard)
    ds = spaces.gather(labels, {m: 1 for m in posts}, list(paths.values()), [str(shard)], SETTINGS,
                       tmp_path / "spaces.zarr")
    assert list(ds["collapsed"].values) == [False, False, True]
    nmi = ds["nmi"].values
    assert np.isnan(nmi[2]).all() and np.isnan(nmi[:, 2]).all() and np.isfinite(nmi[:2, :2]).all()
    assert float(ds["group_consistency"].values[0]) == pytest.approx(nmi[0, 1])
    assert "g1_s2" in spaces.collapsed_sentence(ds)
