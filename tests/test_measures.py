"""The measures' arithmetic (infofrag.measures): the one torch-free home of the Bhattacharyya
distance, the information terms of a channel, NMI/VI with the uninformative convention, and the
bound on what a channel can share. Checked against the estimators (the torch kernel), against
slow obvious formulas, and the compact (posteriors) path against the full-matrix path."""

import math

import numpy as np
import pytest

import infofrag
from infofrag import measures
from infofrag.estimators import PosteriorChannels, labels_to_distances, similarity

N = 400


def channel(sigma, seed=0, n=N):
    """One channel's posteriors: mu a smooth function of hidden points, sd ~ sigma."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3))
    mu = np.tanh(x @ rng.normal(size=3)) * 2
    lv = np.log(sigma ** 2) + 0.3 * rng.normal(size=n) / (1 + sigma)
    return mu.astype(np.float32).astype(np.float64), lv.astype(np.float32).astype(np.float64)


def factors(n=N, seed=1):
    rng = np.random.default_rng(seed)
    return np.stack([
        rng.integers(0, 3, n),                         # a few classes
        rng.integers(0, 32, n),                        # many classes
        (rng.random(n) < 0.9).astype(np.int64),        # one class holds 90% of the points
        np.zeros(n, dtype=np.int64),                   # constant: carries nothing
        np.arange(n) % 7,
    ], 1)


# sd from sharp (C ~ 0 off the diagonal) through informative to weak (nearly constant rows)
SIGMAS = [1e-3, 0.05, 0.3, 1.0, 3.0, 30.0, 1e3, 1e5]


# --------------------------------------------------------------------------- one home

def test_the_estimators_use_the_measures_constants_and_formula(root):
    """The torch kernel imports the constants and the distance formula from measures (no copy
    kept equal by a test), and the fingerprint job's code digest follows measures."""
    from infofrag import provenance as pv
    from infofrag.estimators import _bhattacharyya, _coefficients, _similarity

    assert _bhattacharyya.pair_distance is measures.pair_distance
    assert _coefficients.CENTRE_ABOVE is measures.CENTRE_ABOVE
    assert _similarity.nmi_vi is measures.nmi_vi
    assert not (root / "infofrag" / "estimators" / "_constants.py").exists()
    closure = pv.code_closure(root / "scripts" / "fingerprint.py")
    assert "infofrag.measures" in closure and "infofrag.estimators" not in closure


def test_measures_imports_no_torch(root):
    import subprocess
    import sys

    code = ("import sys; import infofrag.measures, infofrag.stages.fingerprint, infofrag.store.fingerprint; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- distances

def slow_distance(mu_i, lv_i, mu_j, lv_j):
    """The textbook formula: 1/8 (dmu)^2 / sbar + 1/2 log(sbar / sqrt(s_i s_j)), sbar = (s_i + s_j) / 2."""
    s_i, s_j = math.exp(lv_i), math.exp(lv_j)
    sbar = 0.5 * (s_i + s_j)
    return (mu_i - mu_j) ** 2 / (8 * sbar) + 0.5 * math.log(sbar / math.sqrt(s_i * s_j))


@pytest.mark.parametrize("sigma", SIGMAS)
def test_distances_are_the_estimators_and_the_textbook(sigma):
    mu, lv = channel(sigma)
    ours = measures.distances(mu, lv)
    ref = infofrag.bhattacharyya(mu[:, None], lv[:, None])
    assert ours.dtype == np.float64 and np.array_equal(ours, ours.T) and not np.diagonal(ours).any()
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-300)
    for i, j in ((0, 1), (3, 77), (50, 399)):
        assert ours[i, j] == pytest.approx(slow_distance(mu[i], lv[i], mu[j], lv[j]), rel=1e-9, abs=1e-300)


def test_distances_of_extreme_variances():
    """log-variances far apart (the large-argument log cosh) and tiny ones (the clamp)."""
    rng = np.random.default_rng(3)
    mu = rng.normal(size=60)
    lv = np.concatenate([rng.uniform(-30, 30, 20), rng.uniform(-700, -600, 20), np.zeros(20)])
    ours = measures.distances(mu, lv)
    ref = infofrag.bhattacharyya(mu[:, None], lv[:, None])
    finite = np.isfinite(ref)
    assert np.array_equal(finite, np.isfinite(ours))
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-12)


@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-10, 1e-300), (np.float32, 2e-6, 2e-8)])
@pytest.mark.parametrize("sigma", [1e-3, 0.3, 3.0, 1e3])
def test_the_kernels_fast_formula_is_the_reference(sigma, dtype, rtol, atol):
    """What the similarity kernel computes distances with (one transcendental an element): the
    reference to a few units in the last place; in float32 tiny distances to 2e-8 absolute, a
    third of float32's resolution of C = exp(-D) near 1 (the kernel computes the rows whose
    tiny distances matter, nearly constant ones, in float64)."""
    mu, lv = channel(sigma, n=200)
    ref = measures.distances(mu, lv)
    r, s = np.exp(0.5 * lv).astype(dtype), np.exp(lv).astype(dtype)
    m = mu.astype(dtype)
    out, t1, t2 = (np.empty((200, 200), dtype) for _ in range(3))
    measures.fast_pair_distance(out, t1, t2, m[:, None], r[:, None], s[:, None], m[None], r[None], s[None])
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("sigma", [1e-3, 0.3, 3.0, 1e3])
def test_fast_distances_are_the_reference_and_round_to_the_same_float32(sigma):
    """What a fingerprint job computes (fast_distances): the reference to 1e-10, exactly
    symmetric, zero diagonal, and after rounding to float32 (the precision every number of the
    fingerprint is computed from) almost everywhere the same matrix."""
    mu, lv = channel(sigma, n=300)
    ref = measures.distances(mu, lv)
    fast = measures.fast_distances(mu, lv, block_rows=64)
    assert np.array_equal(fast, fast.T) and not np.diagonal(fast).any() and (fast >= 0).all()
    np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-300)
    assert np.mean(fast.astype(np.float32) == ref.astype(np.float32)) > 0.999


def test_absurd_posteriors_are_refused_naming_where():
    mu, lv = np.zeros((5, 2)), np.zeros((5, 2))
    measures.check_posteriors(mu, lv, "m")
    for name, value in (("logvar", -80.0), ("logvar", 1e30), ("mu", 1e30), ("mu", np.nan)):
        bad_mu, bad_lv = mu.copy(), lv.copy()
        (bad_lv if name == "logvar" else bad_mu)[3, 1] = value
        with pytest.raises(ValueError, match=rf"member x: {name}\[3, 1\]"):
            measures.check_posteriors(bad_mu, bad_lv, "member x")
    lv[:, 0] = measures.LOGVAR_LIMIT  # the bounds themselves are accepted
    measures.check_posteriors(mu, lv, "m")


# --------------------------------------------------------------------------- terms of one channel

@pytest.mark.parametrize("sigma", SIGMAS)
def test_information_terms_are_the_estimators(sigma):
    mu, lv = channel(sigma)
    D = measures.distances(mu, lv).astype(np.float32)
    t = measures.channel_terms(D)
    t32 = infofrag.similarity_terms(D[None])  # as the workflow computed them: float32 products
    t64 = infofrag.similarity_terms(D[None].astype(np.float64))
    np.testing.assert_allclose(t.info_bits, t64.i_a[0], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(t.self_info_bits, t64.i_aa[0], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(t.h_bits, t64.h_a[0], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(t.info_bits, t32.i_a[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(t.self_info_bits, t32.i_aa[0], rtol=1e-6, atol=1e-6)
    # weak channels keep their relative precision (no difference of numbers near 1)
    assert abs(t.info_bits - t64.i_a[0]) <= 1e-9 * abs(t64.i_a[0]) + 1e-300


def test_collapsed_channel_carries_nothing():
    D = np.zeros((N, N), np.float32)
    t = measures.channel_terms(D, factors())
    assert t.info_bits == 0.0 and t.self_info_bits == 0.0 and t.h_bits == 0.0 and t.bound_bits == 0.0
    ref_nmi, ref_vi = infofrag.similarity(D[None], labels_to_distances(factors().T))
    np.testing.assert_array_equal(t.factor_nmi, ref_nmi[0])  # 0 against informative factors, 1 against the constant
    np.testing.assert_allclose(t.factor_vi, ref_vi[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_factor_nmi_and_vi_are_the_estimators(sigma):
    mu, lv = channel(sigma, seed=5)
    f = factors()
    mu = mu + 0.5 * f[:, 0]  # some information about a factor
    D = measures.distances(mu, lv).astype(np.float32)
    t = measures.channel_terms(D, f)
    ref_nmi, ref_vi = infofrag.similarity(D[None], labels_to_distances(f.T))  # float64, as the job did
    np.testing.assert_allclose(t.factor_nmi, ref_nmi[0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(t.factor_vi, ref_vi[0], rtol=1e-9, atol=1e-10)


def test_nmi_convention_is_one_function():
    """Both empty: 1 (the fusion's objective passes 0); one empty: 0; VI always computed."""
    shared = np.array([0.2, 0.0, 0.0])
    h_u, h_v = np.array([0.5, 0.0, 0.0]), np.array([0.4, 0.3, 0.0])
    info_u, info_v = np.array([1.0, 0.001, 0.0]), np.array([1.0, 0.8, 0.0])
    eu, ev = measures.empty(info_u, 1000), measures.empty(info_v, 1000)
    nmi, vi = measures.nmi_vi(shared, h_u, h_v, eu, ev)
    np.testing.assert_allclose(nmi, [0.2 / math.sqrt(0.2), 0.0, 1.0])
    np.testing.assert_allclose(vi, [0.5, 0.3, 0.0])
    nmi0, _ = measures.nmi_vi(shared, h_u, h_v, eu, ev, both_empty=0.0)
    assert nmi0[2] == 0.0


def test_the_floor_is_the_information_of_singling_one_point_out():
    """resolution_bits(N) is the information of the hard clustering {one point, the rest}: the
    least a clustering of N points carries, computed here by the estimators themselves."""
    for n in (10, 64, 1000):
        labels = np.zeros(n, dtype=int)
        labels[0] = 1
        t = infofrag.similarity_terms(labels_to_distances(labels)[None])
        assert measures.resolution_bits(n) == pytest.approx(t.i_a[0], rel=1e-12)
    assert measures.resolution_bits(1000) == pytest.approx(0.0114, abs=1e-4)


def test_nearly_empty_channels_take_the_convention_everywhere():
    """Two channels carrying less than the sample resolves (~5e-4 bits each, as in a demo's
    collapsed-but-not-quite dimensions) have NMI 1 with each other and 0 with an informative one,
    in the estimators and in a fingerprint's factor NMI alike; just above the floor it is
    computed (min_bits=0 computes it below too)."""
    rng = np.random.default_rng(2)
    n = 300
    x = rng.uniform(-1, 1, n)
    weak = [(0.06 * x, np.zeros(n)), (0.06 * np.sin(2 * x), np.zeros(n))]
    strong = (3 * x, np.full(n, -2.0))
    D = np.stack([measures.distances(m, v) for m, v in weak + [strong]]).astype(np.float32)
    t = infofrag.similarity_terms(D)
    floor = measures.resolution_bits(n)
    assert np.all(t.i_a[:2] < floor) and t.i_a[2] > floor
    nmi, _ = infofrag.similarity(D)
    assert nmi[0, 1] == 1.0 and nmi[0, 2] == 0.0 and nmi[1, 2] == 0.0
    raw, _ = infofrag.similarity(D, min_bits=0.0)
    assert 0.0 < abs(raw[0, 1]) < 1.0  # a ratio of two nearly empty channels' rounding
    factors = (x > 0).astype(int)[:, None]
    ct = measures.channel_terms(D[0], factors)
    assert ct.factor_nmi[0] == 0.0  # the factor carries 1 bit, the channel less than the floor


# --------------------------------------------------------------------------- the bound (item: no N^2 work)

def _pair_shared(mu, lv):
    """Exact shared information I(U;V) of every pair, by the kernel on the full matrices."""
    D = np.stack([measures.distances(m, v) for m, v in zip(mu, lv)])
    return infofrag.similarity_terms(D).shared


@pytest.mark.parametrize("spread", [0.002, 0.01, 0.05, 0.2, 1.0])
def test_a_channels_bound_holds_against_any_channel(spread):
    """|I(U;V)| <= bound_bits(U) for weak U (just under and over the usual 0.01-bit threshold)
    against sharp, informative, weak and collapsed channels V, and it tightens as U weakens."""
    rng = np.random.default_rng(7)
    n = 300
    x = rng.uniform(-1, 1, n)
    weak_mu, weak_lv = spread * np.sin(3 * x), np.full(n, 0.0)
    others = [(x * 5, np.full(n, -8.0)), (x, np.full(n, -2.0)), (np.cos(4 * x), np.full(n, -1.0)),
              (0.01 * x, np.zeros(n)), (np.zeros(n), np.zeros(n)), (-spread * np.sin(3 * x), np.zeros(n))]
    mu = np.stack([weak_mu] + [o[0] for o in others])
    lv = np.stack([weak_lv] + [o[1] for o in others])
    shared = _pair_shared(mu, lv)[0, 1:]
    t = measures.channel_terms(measures.distances(weak_mu, weak_lv).astype(np.float32))
    assert np.all(np.abs(shared) <= t.bound_bits + 1e-12), (shared, t.bound_bits)
    # the bound is of the order of the channel's information, not of the other channel's
    assert t.bound_bits <= 40 * max(t.info_bits, 1e-6) ** 0.5


def test_bound_of_an_informative_channel_is_infinite():
    mu, lv = channel(0.05)
    t = measures.channel_terms(measures.distances(mu, lv).astype(np.float32))
    assert t.bound_bits == math.inf and t.info_bits > 1


# --------------------------------------------------------------------------- compact = full matrices

def _mixed(n=N, m=24, seed=3):
    """Sharp, informative, weak and collapsed channels."""
    rng = np.random.default_rng(seed)
    mu, lv = np.zeros((m, n)), np.zeros((m, n))
    for k in range(m):
        kind = k % 4
        if kind == 0:
            mu[k], lv[k] = rng.normal(size=n), np.log(rng.uniform(0.05, 0.4, size=n) ** 2)
        elif kind == 1:
            mu[k], lv[k] = 0.05 * rng.normal(size=n), -0.02 + 0.01 * rng.normal(size=n)
        elif kind == 2:
            mu[k], lv[k] = np.sin(np.linspace(0, 6, n)) * 3, np.full(n, -9.0)
        # kind 3: collapsed (the prior)
    return mu.astype(np.float32).astype(np.float64), lv.astype(np.float32).astype(np.float64)


def test_compact_path_equals_the_full_matrix_path():
    """Posteriors in, distances computed where used, against the float32 matrices a fingerprint
    used to store: NMI, VI, joint information and information terms equal to float32 rounding
    (stated tolerances: 1e-6 absolute on NMI, 1e-6 bits on VI and I(UV;X), 1e-7 relative on I(U;X))."""
    mu, lv = _mixed()
    D = np.stack([measures.distances(a, b).astype(np.float32) for a, b in zip(mu, lv)])
    n0, v0, t0 = similarity(D, return_terms=True)
    n1, v1, t1 = similarity(PosteriorChannels(mu, lv), return_terms=True)
    np.testing.assert_allclose(n1, n0, rtol=0, atol=1e-6)
    np.testing.assert_allclose(v1, v0, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t1.i_ab, t0.i_ab, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t1.i_a, t0.i_a, rtol=1e-7, atol=1e-12)
    # two different stacks
    n2, v2 = similarity(D[:10], D[10:])
    n3, v3 = similarity(PosteriorChannels(mu[:10], lv[:10]), PosteriorChannels(mu[10:], lv[10:]))
    np.testing.assert_allclose(n3, n2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(v3, v2, rtol=0, atol=1e-6)


def test_posterior_channels_give_their_distances_and_refuse_bad_input():
    mu, lv = _mixed(n=50, m=4)
    ch = PosteriorChannels(mu, lv)
    np.testing.assert_array_equal(ch.distances(2), measures.distances(mu[2], lv[2]))
    with pytest.raises(ValueError, match=r"logvar\[1, 3\]"):
        bad = lv.copy()
        bad[1, 3] = -100.0
        PosteriorChannels(mu, bad)
    with pytest.raises(ValueError, match="same N"):
        similarity(ch, PosteriorChannels(mu[:, :40], lv[:, :40]))


def test_compact_rows_that_turn_out_otherwise_than_expected():
    """The kernel guesses from a few sample rows which channels have nearly constant rows; rows
    that turn out otherwise are computed again from the posteriors, both ways: the same numbers
    as the full-matrix path."""
    from infofrag.estimators import _coefficients

    n = 120
    sample = np.unique(np.linspace(0, n - 1, 8).round().astype(int))
    rest = np.setdiff1d(np.arange(n), sample)
    rng = np.random.default_rng(5)
    # expected centred, a few rows are not: nearly equal posteriors but for four far outliers
    mu0 = 0.01 * rng.normal(size=n)
    mu0[rest[:4]] = [30.0, -30.0, 60.0, -60.0]
    # expected uncentred, most rows are centred: the sample rows' points spread far apart, the
    # others in one tight cluster
    mu1 = 0.01 * rng.normal(size=n)
    mu1[sample] = 40.0 * np.arange(1, len(sample) + 1)
    mu = np.stack([mu0, mu1, rng.normal(size=n)])
    lv = np.full_like(mu, -2.0)
    ch = PosteriorChannels(mu, lv)
    import torch

    cap = _coefficients._max_distance(torch.float32, n)
    order, n_weak = _coefficients._weak_first(ch, cap, torch.device("cpu"))
    assert n_weak == 1 and (order is None or order[0] == 0)
    D = np.stack([measures.distances(a, b).astype(np.float32) for a, b in zip(mu, lv)])
    C = np.exp(-D.astype(np.float64)).mean(-1)
    assert (C[0] > 0.8).sum() >= n - 4 and (C[0] <= 0.8).sum() == 4
    assert (C[1, rest] > 0.8).all() and not (C[1, sample] > 0.8).any()
    for args_c, args_d in (((ch,), (D,)), ((PosteriorChannels(mu[:1], lv[:1]), PosteriorChannels(mu[1:], lv[1:])),
                                           (D[:1], D[1:]))):
        for rows in (None, 7):
            got = infofrag.similarity_terms(*args_c, chunk_rows=rows)
            want = infofrag.similarity_terms(*args_d, chunk_rows=rows)
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
