"""Tests of infofrag.estimators: fingerprints, information, generalised NMI / VI."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

import infofrag
from infofrag.measures import resolution_bits
from infofrag import estimators as est

# ---------------------------------------------------------------------------------------------
# slow, obvious float64 references (the authors' per-pair way)
# ---------------------------------------------------------------------------------------------


def bhattacharyya_ref(mu, lv):
    mu = np.asarray(mu, np.float64)
    lv = np.asarray(lv, np.float64)
    s = np.exp(lv)
    sbar = (s[:, None, :] + s[None, :, :]) / 2
    D = (0.125 * ((mu[:, None, :] - mu[None, :, :]) ** 2 / sbar).sum(-1)
         + 0.5 * (np.log(sbar) - 0.5 * (lv[:, None, :] + lv[None, :, :])).sum(-1))
    np.fill_diagonal(D, 0.0)
    return D


def info_ref(d, power=1):
    return -np.mean(np.log2(np.mean(np.exp(-power * np.asarray(d, np.float64)), -1)))


def pair_ref(da, db):
    return -np.mean(np.log2(np.mean(np.exp(-(np.asarray(da, np.float64) + np.asarray(db, np.float64))), -1)))


def terms_ref(Da, Db):
    ia = np.array([info_ref(d) for d in Da])
    iaa = np.array([info_ref(d, 2) for d in Da])
    ib = np.array([info_ref(d) for d in Db])
    ibb = np.array([info_ref(d, 2) for d in Db])
    iab = np.array([[pair_ref(a, b) for b in Db] for a in Da])
    return ia, iaa, ib, ibb, iab


def similarity_ref(Da, Db):
    ia, iaa, ib, ibb, iab = terms_ref(Da, Db)
    nmi = (ia[:, None] + ib[None, :] - iab) / np.sqrt((2 * ia - iaa)[:, None] * (2 * ib - ibb)[None, :])
    vi = 2 * iab - iaa[:, None] - ibb[None, :]
    return nmi, vi, ia


def entropy_bits(labels):
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def vi_classic(a, b):
    return entropy_bits(a) + entropy_bits(b) - 2 * mutual_info_score(a, b) / math.log(2)


def random_channels(M, N, seed, weak=True):
    """1-D posteriors of M channels spanning ~0.005 bits to ~6 bits of information."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(N, 3))
    mus, lvs = [], []
    sigmas = np.geomspace(0.01, 100.0 if weak else 2.0, M)
    rng.shuffle(sigmas)
    for k in range(M):
        mu = np.tanh(x @ rng.normal(size=3)) * 2
        lv = np.log(sigmas[k] ** 2) + 0.3 * rng.normal(size=N) / (1 + sigmas[k])
        mus.append(mu)
        lvs.append(lv)
    return np.stack(mus)[:, :, None], np.stack(lvs)[:, :, None]


@pytest.fixture(scope="module")
def channels():
    mu, lv = random_channels(14, 160, seed=1)
    D = infofrag.bhattacharyya(mu, lv).astype(np.float32)  # float32 as stored by the workflow
    return mu, lv, D


# ---------------------------------------------------------------------------------------------
# bhattacharyya
# ---------------------------------------------------------------------------------------------


def test_bhattacharyya_matches_formula():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(30, 3))
    lv = rng.normal(size=(30, 3)) * 2
    D = infofrag.bhattacharyya(mu, lv)
    assert isinstance(D, np.ndarray) and D.dtype == np.float64 and D.shape == (30, 30)
    ref = bhattacharyya_ref(mu, lv)
    np.testing.assert_allclose(D, ref, rtol=1e-9, atol=1e-12)
    assert np.all(np.diag(D) == 0.0)
    assert np.array_equal(D, D.T)
    assert np.all(D >= 0)


def test_bhattacharyya_batch_dtype_and_torch():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(4, 25, 1)).astype(np.float32)
    lv = rng.normal(size=(4, 25, 1)).astype(np.float32)
    D = infofrag.bhattacharyya(mu, lv)
    assert D.shape == (4, 25, 25) and D.dtype == np.float32
    for k in range(4):
        np.testing.assert_allclose(D[k], bhattacharyya_ref(mu[k], lv[k]), rtol=2e-5, atol=1e-6)
        assert np.all(np.diag(D[k]) == 0) and np.array_equal(D[k], D[k].T)
    Dt = infofrag.bhattacharyya(torch.from_numpy(mu), torch.from_numpy(lv))
    assert isinstance(Dt, torch.Tensor) and Dt.dtype == torch.float32
    np.testing.assert_allclose(Dt.numpy(), D, rtol=1e-6, atol=1e-7)
    # small memory budget: processed in chunks, same numbers (up to SIMD-tail rounding)
    Dc = infofrag.bhattacharyya(mu, lv, max_memory=1)
    np.testing.assert_allclose(Dc, D, rtol=3e-7, atol=0)


def test_bhattacharyya_extreme_posteriors_stay_finite():
    # tiny variances, far means, huge variance ratios: no NaN, distances may be huge
    mu = np.array([[0.0], [1e3], [1e-9], [5.0]])
    lv = np.array([[-60.0], [-60.0], [40.0], [-60.0]])
    for dtype in (np.float32, np.float64):
        D = infofrag.bhattacharyya(mu.astype(dtype), lv.astype(dtype))
        assert not np.isnan(D).any()
        assert np.all(D >= 0) and np.all(np.diag(D) == 0)
        nmi, vi = infofrag.similarity(D[None].astype(np.float32))
        assert np.isfinite(nmi).all() and np.isfinite(vi).all()


def test_bhattacharyya_gradcheck():
    torch.manual_seed(0)
    mu = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    lv = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m, v: infofrag.bhattacharyya(m, v), (mu, lv))


# ---------------------------------------------------------------------------------------------
# information, labels
# ---------------------------------------------------------------------------------------------


def test_information_matches_reference(channels):
    _, _, D = channels
    info = infofrag.information(D)
    assert info.shape == (D.shape[0],) and info.dtype == np.float64
    np.testing.assert_allclose(info, [info_ref(d) for d in D], rtol=0, atol=1e-10)
    single = infofrag.information(D[3])
    assert np.ndim(single) == 0 and abs(float(single) - info[3]) < 1e-12
    it = infofrag.information(torch.from_numpy(D))
    assert isinstance(it, torch.Tensor) and it.dtype == torch.float64
    np.testing.assert_allclose(it.numpy(), info, rtol=0, atol=1e-12)


def test_labels_to_distances_and_entropy():
    labels = np.array([0, 0, 1, 2, 2, 2])
    D = infofrag.labels_to_distances(labels)
    assert D.shape == (6, 6) and D.dtype == np.float64
    assert infofrag.labels_to_distances(labels, dtype=np.float32).dtype == np.float32
    same = labels[:, None] == labels[None, :]
    assert np.all(D[same] == 0) and np.all(np.isposinf(D[~same]))
    assert abs(infofrag.information(D) - entropy_bits(labels)) < 1e-12
    batch = infofrag.labels_to_distances(np.stack([labels, labels[::-1]]))
    assert batch.shape == (2, 6, 6)
    Dt = infofrag.labels_to_distances(torch.tensor(labels))
    assert isinstance(Dt, torch.Tensor) and torch.equal(Dt, torch.from_numpy(D))
    assert infofrag.labels_to_distances([1.0, 2.0, 1.0]).shape == (3, 3)  # integral floats


# ---------------------------------------------------------------------------------------------
# similarity: exact limits
# ---------------------------------------------------------------------------------------------

LABEL_SETS = {
    "2x3": (2, 3),
    "3x7": (3, 7),
    "5x5": (5, 5),
    "2x20": (2, 20),
    "12x40": (12, 40),
}


@pytest.mark.parametrize("name", sorted(LABEL_SETS))
def test_hard_clustering_limit_matches_sklearn(name):
    ka, kb = LABEL_SETS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    N = 300
    a = rng.integers(0, ka, size=N)
    # b: partly dependent on a, with a different number of clusters
    b = np.where(rng.uniform(size=N) < 0.6, a % kb, rng.integers(0, kb, size=N))
    nmi_want = normalized_mutual_info_score(a, b, average_method="geometric")
    vi_want = vi_classic(a, b)
    Da = infofrag.labels_to_distances(a)[None]  # float64: exact to rounding
    Db = infofrag.labels_to_distances(b)[None]
    nmi, vi = infofrag.similarity(Da, Db)
    assert abs(nmi[0, 0] - nmi_want) < 1e-12 and abs(vi[0, 0] - vi_want) < 1e-11
    # the symmetric path over both
    nmi2, vi2 = infofrag.similarity(np.concatenate([Da, Db]))
    assert abs(nmi2[0, 1] - nmi_want) < 1e-12 and abs(vi2[0, 1] - vi_want) < 1e-11
    assert nmi2[0, 0] == 1.0 and vi2[0, 0] == 0.0
    # float32: hard clusterings repeat the same values over whole clusters, so float32 rounding
    # (~1e-7 relative in the Gram sums and logs) does not average out: ~1e-6 of VI's few bits
    for args in ((Da.astype(np.float32), Db.astype(np.float32)),
                 (np.concatenate([Da, Db]).astype(np.float32),)):
        n32, v32 = infofrag.similarity(*args)
        assert abs(n32[0, -1] - nmi_want) < 3e-6 and abs(v32[0, -1] - vi_want) < 5e-6


def test_hard_clustering_many_labelings_at_once():
    rng = np.random.default_rng(5)
    N = 400
    base = rng.integers(0, 8, size=N)
    labels = [base, base // 2, base % 3, rng.integers(0, 4, size=N), rng.integers(0, 50, size=N),
              (base + rng.integers(0, 2, size=N)) % 8, np.zeros(N, int)]
    L = np.stack(labels)
    nmi, vi = infofrag.similarity(infofrag.labels_to_distances(L))
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            # scikit-learn's conventions for single-cluster labelings included (1 if both, 0 if one)
            assert abs(nmi[i, j] - normalized_mutual_info_score(a, b, average_method="geometric")) < 1e-12, (i, j)
            assert abs(vi[i, j] - vi_classic(a, b)) < 1e-11, (i, j)


def test_self_similarity_and_symmetry(channels):
    _, _, D = channels
    nmi, vi = infofrag.similarity(D)
    assert np.array_equal(nmi, nmi.T) and np.array_equal(vi, vi.T)
    assert np.all(np.diag(nmi) == 1.0) and np.all(np.diag(vi) == 0.0)
    # the same channels through the D_b path: NMI(U, U) = 1 and VI = 0 up to rounding
    nmi_ab, vi_ab = infofrag.similarity(D, D.copy())
    np.testing.assert_allclose(np.diag(nmi_ab), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.diag(vi_ab), 0.0, atol=1e-6)
    # swapping the arguments transposes
    nmi_ba, vi_ba = infofrag.similarity(D[5:], D[:5])
    np.testing.assert_allclose(nmi_ba, nmi_ab[:5, 5:].T, atol=1e-6)  # GEMM rounding only
    np.testing.assert_allclose(vi_ba, vi_ab[:5, 5:].T, atol=1e-6)
    np.testing.assert_allclose(nmi_ab, nmi, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# similarity: precision against the slow float64 per-pair computation
# ---------------------------------------------------------------------------------------------


def test_agrees_with_float64_per_pair_reference(channels):
    _, _, D = channels
    nmi_ref, vi_ref, info = similarity_ref(D, D)
    assert info.min() < 0.01 < info.max() and info.max() > 4  # a real range of channels
    floor = resolution_bits(D.shape[-1])  # below it the convention applies, not the ratio
    ok = (info > floor)[:, None] & (info > floor)[None, :]
    nmi, vi = infofrag.similarity(D)
    assert np.abs(nmi - nmi_ref)[ok].max() < 1e-5
    assert np.abs(vi - vi_ref).max() < 1e-5
    t = infofrag.similarity_terms(D)
    ia, iaa, _, _, iab = terms_ref(D, D)
    np.testing.assert_allclose(t.i_a, ia, atol=1e-7)
    np.testing.assert_allclose(t.i_aa, iaa, atol=1e-6)
    np.testing.assert_allclose(t.i_ab, iab, atol=1e-6)
    np.testing.assert_array_equal(t.i_b, t.i_a)
    np.testing.assert_array_equal(t.i_bb, t.i_aa)


def test_agrees_with_reference_on_the_Db_path(channels):
    _, _, D = channels
    Da, Db = D[:6], D[6:]
    nmi_ref, vi_ref, _ = similarity_ref(Da, Db)
    ia, iaa, ib, ibb, iab = terms_ref(Da, Db)
    floor = resolution_bits(D.shape[-1])
    ok = (ia > floor)[:, None] & (ib > floor)[None, :]
    nmi, vi = infofrag.similarity(Da, Db)
    assert nmi.shape == (6, D.shape[0] - 6)
    assert np.abs(nmi - nmi_ref)[ok].max() < 1e-5
    assert np.abs(vi - vi_ref).max() < 1e-5
    t = infofrag.similarity_terms(Da, Db)
    for got, want in zip(t, (ia, iaa, ib, ibb, iab)):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("as_torch", [False, True])
@pytest.mark.parametrize("pairs", ["within", "across"])
def test_return_terms_is_the_same_computation(channels, pairs, as_torch):
    """similarity(..., return_terms=True) == (similarity(...), similarity_terms(...)), exactly."""
    _, _, D = channels
    args = (D,) if pairs == "within" else (D[:6], D[6:])
    if as_torch:
        args = tuple(torch.from_numpy(a) for a in args)
    nmi, vi, terms = infofrag.similarity(*args, return_terms=True)
    want_nmi, want_vi = infofrag.similarity(*args)
    want_terms = infofrag.similarity_terms(*args)
    assert type(nmi) is type(want_nmi)
    for got, want in zip((nmi, vi, *terms), (want_nmi, want_vi, *want_terms)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_weak_channels_precision():
    """Channels around 0.01 bits (2 I_U - I_UU ~ 1e-4) still agree to 1e-5 in NMI."""
    rng = np.random.default_rng(7)
    N = 300
    x = rng.uniform(-1, 1, size=N)
    mus = np.stack([np.sin(2 * x + p) for p in np.linspace(0, 1.5, 6)])[:, :, None]
    lvs = np.full_like(mus, np.log(3.5 ** 2))
    D = infofrag.bhattacharyya(mus, lvs).astype(np.float32)
    nmi_ref, vi_ref, info = similarity_ref(D, D)
    assert 0.005 < info.min() and info.max() < 0.05
    nmi, vi = infofrag.similarity(D, min_bits=0.0)  # the ratio, below the floor too
    ok = (info > 0.01)[:, None] & (info > 0.01)[None, :]
    assert ok.sum() > 4
    assert np.abs(nmi - nmi_ref)[ok].max() < 1e-5
    assert np.abs(vi - vi_ref).max() < 1e-7


def _info_terms_longdouble(Da, Db):
    """I_U, I_UU and I_UV in extended precision, from C - 1 = expm1(-D) (exact to rounding)."""
    Da, Db = (np.asarray(D, np.longdouble) for D in (Da, Db))
    info = lambda D: -np.mean(np.log1p(np.mean(np.expm1(-D), -1)), -1) / np.log(np.longdouble(2))  # noqa: E731
    return (info(Da), info(2 * Da), info(Da[:, None] + Db[None, :]))


def test_weak_channel_information_keeps_relative_precision():
    """Channels from 1e-7 to 1e-2 bits: I_U, I_UU and I_UV from float32 fingerprints agree with an
    extended-precision reference to 1e-7 relative (a coefficient C ~ 1 in float32 has only 6e-8
    absolute precision: computed from C the smallest of these were 10-30% off), and the
    differentiable path and information() (float64) give the same numbers."""
    rng = np.random.default_rng(5)
    N = 150
    x = rng.uniform(-1, 1, size=N)
    mu = np.stack([s * np.sin(2 * x + p) for s, p in zip([1e-3, 1e-2, 0.03, 0.1, 0.3], range(5))])
    D = infofrag.bhattacharyya(mu[:, :, None], np.zeros_like(mu)[:, :, None]).astype(np.float32)
    i_a, i_aa, i_ab = _info_terms_longdouble(D, D)
    assert i_a.min() < 1e-6 and i_a.max() > 5e-3
    for t in (infofrag.similarity_terms(D),
              infofrag.similarity_terms(D[:2], D[2:]),
              infofrag.similarity_terms(torch.from_numpy(D).requires_grad_(True))):
        t = [v.detach().numpy() if isinstance(v, torch.Tensor) else v for v in t]
        if t[0].shape[0] == 2:  # the D_b path: the a-terms of two channels, the b-terms of three
            np.testing.assert_allclose(t[2], i_a[2:].astype(float), rtol=1e-7)
            np.testing.assert_allclose(t[4], i_ab[:2, 2:].astype(float), rtol=1e-7)
            i = slice(0, 2)
        else:
            np.testing.assert_allclose(t[4], i_ab.astype(float), rtol=1e-7)
            i = slice(None)
        np.testing.assert_allclose(t[0], i_a[i].astype(float), rtol=1e-7)
        np.testing.assert_allclose(t[1], i_aa[i].astype(float), rtol=1e-6)
    np.testing.assert_allclose(infofrag.information(D), i_a.astype(float), rtol=1e-12)


def test_information_terms_do_not_depend_on_the_order_of_the_sample():
    """Reordering the sample points (rows and columns alike) reorders the additions inside every
    row sum. A weak channel's rows are summed (from C - 1) in float64, so its I_U moves only by
    float64 rounding -- not by whole float32 steps of C ~ 1, which were percent of its value and
    made two otherwise identical runs (another summation order) disagree; an informative
    channel's rows are float32 sums, precise to float32 rounding."""
    rng = np.random.default_rng(9)
    N = 200
    x = rng.uniform(-1, 1, size=N)
    mu = np.stack([s * np.cos(3 * x + s) for s in (3e-3, 0.05, 2.0)])[:, :, None]
    D = infofrag.bhattacharyya(mu, np.zeros_like(mu)).astype(np.float32)
    i_a = infofrag.similarity_terms(D).i_a
    assert i_a[0] < 1e-5 < i_a[1] < 0.01 < 0.5 < i_a[2]
    for seed in range(3):
        p = np.random.default_rng(seed).permutation(N)
        got = infofrag.similarity_terms(D[:, p][:, :, p]).i_a
        np.testing.assert_allclose(got[:2], i_a[:2], rtol=1e-12)
        np.testing.assert_allclose(got[2], i_a[2], rtol=1e-7)


def test_far_apart_posteriors_no_nan():
    """Heavily non-overlapping channels: coefficients underflow; results stay finite and right."""
    rng = np.random.default_rng(3)
    N = 120
    mu = rng.uniform(0, 100, size=(4, N, 1))
    lv = np.log(np.array([1e-6, 1e-3, 0.5, 30.0]) ** 2)[:, None, None] + 0 * mu
    D = infofrag.bhattacharyya(mu, lv).astype(np.float32)
    assert D.max() > 1e6
    nmi, vi = infofrag.similarity(D)
    t = infofrag.similarity_terms(D)
    for arr in (nmi, vi, *t):
        assert np.isfinite(arr).all()
    nmi_ref, vi_ref, info = similarity_ref(D, D)
    ok = (info > 0.01)[:, None] & (info > 0.01)[None, :]
    assert np.abs(nmi - nmi_ref)[ok].max() < 1e-5
    assert np.abs(vi - vi_ref).max() < 1e-5
    assert abs(t.i_a[0] - math.log2(N)) < 1e-6  # perfectly separated: log2 N bits


def test_chunking_does_not_change_results(channels):
    _, _, D = channels
    nmi, vi = infofrag.similarity(D)
    for rows in (1, 7):
        n2, v2 = infofrag.similarity(D, chunk_rows=rows)
        np.testing.assert_allclose(n2, nmi, atol=1e-6)
        np.testing.assert_allclose(v2, vi, atol=1e-6)
    n3, v3 = infofrag.similarity(D[:4], D[4:], chunk_rows=3)
    np.testing.assert_allclose(n3, nmi[:4, 4:], atol=1e-6)


def test_parallel_workers_match_one_worker(channels):
    """With several intra-op threads, row chunks go to independent single-threaded workers."""
    _, _, D = channels
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        n1, v1 = infofrag.similarity(D, chunk_rows=16)
        t1 = infofrag.similarity_terms(D[:5], D[5:], chunk_rows=16)
        torch.set_num_threads(2)
        n2, v2 = infofrag.similarity(D, chunk_rows=16)
        t2 = infofrag.similarity_terms(D[:5], D[5:], chunk_rows=16)
        assert torch.get_num_threads() == 2  # restored after the workers
        bad = D.copy()
        bad[3, 150, 7] = -1.0  # in the last chunk
        with pytest.raises(ValueError, match=r"D_a contains negative values \(first at D_a\[3, 150, 7\]"):
            infofrag.similarity(bad, chunk_rows=16)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(prev)
    np.testing.assert_allclose(n2, n1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v2, v1, rtol=0, atol=1e-12)
    for a, b in zip(t1, t2):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # deterministic for a given number of threads
    torch.set_num_threads(2)
    try:
        n3, _ = infofrag.similarity(D, chunk_rows=16)
    finally:
        torch.set_num_threads(prev)
    np.testing.assert_array_equal(n3, n2)


def test_grouped_rows_same_for_any_number_of_workers(channels):
    """With one-row chunks the Gram rows are summed in groups of chunks; a group is never split
    between workers, so one and two workers agree to float64 rounding, and the grouped sums agree
    with one chunk of all rows to float32 rounding."""
    from infofrag.estimators import _fast

    _, _, D = channels
    N = D.shape[-1]
    S = _fast._plan_layout(D.shape[0], D.shape[0], True).size
    groups = _fast._group_chunks(list(range(N)), 1, S, torch.float32, torch.device("cpu"))
    assert len(groups) >= _fast._MIN_GROUPS and max(map(len, groups)) > 1  # grouping happens here
    assert [i for g in groups for i in g] == list(range(N))
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        n1, v1 = infofrag.similarity(D, chunk_rows=1)
        torch.set_num_threads(2)
        n2, v2 = infofrag.similarity(D, chunk_rows=1)
    finally:
        torch.set_num_threads(prev)
    np.testing.assert_allclose(n2, n1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v2, v1, rtol=0, atol=1e-12)
    nall, vall = infofrag.similarity(D, chunk_rows=N)
    np.testing.assert_allclose(n1, nall, rtol=0, atol=1e-6)
    np.testing.assert_allclose(v1, vall, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# uninformative channels: the documented convention
# ---------------------------------------------------------------------------------------------


def test_uninformative_channels_convention(channels):
    _, _, D = channels
    N = D.shape[-1]
    informative = D[:2]
    collapsed = np.zeros((2, N, N), np.float32)  # every posterior identical: H = 0 exactly
    nearly = np.full((1, N, N), 1e-12, np.float32)  # H ~ 1e-25 bits
    np.fill_diagonal(nearly[0], 0.0)
    stack = np.concatenate([informative, collapsed, nearly])
    nmi, vi = infofrag.similarity(stack)
    assert np.isfinite(nmi).all() and np.isfinite(vi).all()
    unin = [2, 3, 4]
    for i in unin:
        for j in unin:
            assert nmi[i, j] == 1.0  # two channels that carry nothing: the same trivial clustering
            assert abs(vi[i, j]) < 1e-12
        for j in (0, 1):
            assert nmi[i, j] == 0.0 and nmi[j, i] == 0.0
    # VI is never replaced: VI(informative, collapsed) = the informative channel's 2 I_U - I_UU
    t = infofrag.similarity_terms(stack)
    H = 2 * t.i_a - t.i_aa
    np.testing.assert_allclose(vi[0, 2], H[0], atol=1e-9)
    assert abs(H[2]) == 0.0
    # min_bits moves the threshold
    nmi_hi, _ = infofrag.similarity(stack, min_bits=1e6)
    assert np.all(nmi_hi == 1.0)


@pytest.mark.parametrize("sigma", [10.0, 30.0])
def test_nearly_uninformative_channels_nmi_is_accurate(sigma):
    """I ~ 2e-3 / 2e-4 bits, H = 2 I_U - I_UU ~ 1e-6 / 2e-8 bits: the ill-conditioned NMI of the
    issue, still within 1e-5 of the float64 computation (above the default min_bits)."""
    rng = np.random.default_rng(11)
    N = 300
    x = rng.uniform(-1, 1, size=N)
    mu = np.stack([x, x + 0.3 * rng.normal(size=N), np.sin(3 * x)])[:, :, None]
    D = infofrag.bhattacharyya(mu, np.full_like(mu, np.log(sigma ** 2))).astype(np.float32)
    t = infofrag.similarity_terms(D.astype(np.float64))
    H = 2 * t.i_a - t.i_aa
    assert np.all(H > est.DEFAULT_MIN_BITS) and np.all(H < 1e-5)
    nmi, vi = infofrag.similarity(D, min_bits=0.0)  # below the resolution floor: computed, on request
    nmi64, vi64 = infofrag.similarity(D.astype(np.float64), min_bits=0.0)
    assert np.abs(nmi - nmi64).max() < 1e-5
    assert np.abs(vi - vi64).max() < 1e-10
    assert 0.7 < nmi[0, 1] < 0.8  # a meaningful value, not noise


# ---------------------------------------------------------------------------------------------
# torch: parity, devices, gradients
# ---------------------------------------------------------------------------------------------


def test_torch_numpy_parity(channels):
    _, _, D = channels
    nmi, vi = infofrag.similarity(D)
    nt, vt = infofrag.similarity(torch.from_numpy(D))
    assert isinstance(nt, torch.Tensor) and nt.dtype == torch.float64 and nt.device.type == "cpu"
    np.testing.assert_array_equal(nt.numpy(), nmi)
    np.testing.assert_array_equal(vt.numpy(), vi)
    # the differentiable path gives the same numbers (up to float32 rounding, which matters
    # only for the NMI of channels far below 0.01 bits)
    Dg = torch.from_numpy(D).requires_grad_(True)
    ng, vg = infofrag.similarity(Dg)
    assert ng.requires_grad
    info = infofrag.information(D)
    ok = (info > 0.01)[:, None] & (info > 0.01)[None, :]
    assert np.abs(ng.detach().numpy() - nmi)[ok].max() < 1e-6
    assert np.abs(ng.detach().numpy() - nmi).max() < 1e-4
    np.testing.assert_allclose(vg.detach().numpy(), vi, atol=1e-6)
    tg = infofrag.similarity_terms(Dg[:3], Dg[3:])
    t = infofrag.similarity_terms(D[:3], D[3:])
    for a, b in zip(tg, t):
        np.testing.assert_allclose(a.detach().numpy(), b, atol=1e-6)


def test_similarity_gradcheck():
    torch.manual_seed(1)
    N = 6
    mu = torch.randn(3, N, 1, dtype=torch.float64)
    lv = torch.randn(3, N, 1, dtype=torch.float64) * 0.5

    def f(m, v):
        D = infofrag.bhattacharyya(m, v)
        nmi, vi = infofrag.similarity(D[:1], D[1:])
        t = infofrag.similarity_terms(D)
        return nmi, vi, t.i_ab, t.i_a

    assert torch.autograd.gradcheck(f, (mu.requires_grad_(), lv.requires_grad_()))


def test_gradient_ascent_increases_nmi_to_a_target():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    N = 64
    x = rng.uniform(-1, 1, size=N)
    target = infofrag.bhattacharyya(np.sin(3 * x)[:, None], np.full((N, 1), np.log(0.05)))
    target = torch.tensor(target, dtype=torch.float32)[None]
    mu = (0.1 * torch.randn(N, 1)).requires_grad_()
    lv = torch.full((N, 1), -1.0, requires_grad=True)
    opt = torch.optim.Adam([mu, lv], lr=0.05)

    def nmi_now():
        D = infofrag.bhattacharyya(mu, lv)[None]
        return infofrag.similarity(D, target, min_bits=0.0)[0][0, 0]

    start = float(nmi_now().detach())
    for _ in range(60):
        opt.zero_grad()
        loss = -nmi_now()
        loss.backward()
        assert torch.isfinite(mu.grad).all() and torch.isfinite(lv.grad).all()
        opt.step()
    end = float(nmi_now().detach())
    assert end > start + 0.3 and end > 0.6, (start, end)


# ---------------------------------------------------------------------------------------------
# bad input: ValueError naming the argument and the problem
# ---------------------------------------------------------------------------------------------


def _good(N=5, M=2):
    D = np.abs(np.random.default_rng(0).normal(size=(M, N, N))).astype(np.float32)
    D = D + D.transpose(0, 2, 1)
    for k in range(M):
        np.fill_diagonal(D[k], 0)
    return D


def _with(D, idx, value):
    D = D.copy()
    D[idx] = value
    return D


BAD_SIMILARITY = [
    ("nan", lambda: (_with(_good(), (0, 1, 2), np.nan), None), "D_a", "NaN"),
    ("neg_inf", lambda: (_with(_good(), (1, 3, 2), -np.inf), None), "D_a", "-inf"),
    ("negative", lambda: (_with(_good(), (0, 0, 4), -0.5), None), "D_a", "negative"),
    ("tiny_negative", lambda: (_with(_good(), (0, 0, 4), -1e-12), None), "D_a", "negative"),
    ("diagonal", lambda: (_with(_good(), (1, 2, 2), 0.3), None), "D_a", "diagonal"),
    ("nan_diagonal", lambda: (_with(_good(), (1, 2, 2), np.nan), None), "D_a", "diagonal"),
    ("non_square", lambda: (np.zeros((2, 4, 5), np.float32), None), "D_a", "square"),
    ("n_lt_2", lambda: (np.zeros((2, 1, 1), np.float32), None), "D_a", "N >= 2"),
    ("rank_2", lambda: (_good()[0], None), "D_a", "3 dimensions"),
    ("rank_4", lambda: (_good()[None], None), "D_a", "3 dimensions"),
    ("complex", lambda: (_good().astype(np.complex64), None), "D_a", "real"),
    ("b_nan", lambda: (_good(), _with(_good(M=3), (2, 1, 0), np.nan)), "D_b", "NaN"),
    ("b_negative", lambda: (_good(), _with(_good(M=3), (2, 1, 0), -1.0)), "D_b", "negative"),
    ("b_mismatched_n", lambda: (_good(N=5), _good(N=6)), "D_b", "same N"),
    ("b_rank", lambda: (_good(), _good()[0]), "D_b", "3 dimensions"),
    ("b_non_square", lambda: (_good(), np.zeros((1, 5, 4), np.float32)), "D_b", "square"),
]


@pytest.mark.parametrize("case", BAD_SIMILARITY, ids=[c[0] for c in BAD_SIMILARITY])
@pytest.mark.parametrize("kind", ["numpy", "torch", "torch_grad"])
def test_similarity_rejects_bad_input(case, kind):
    _, make, name, problem = case
    Da, Db = make()
    if kind != "numpy":
        Da = torch.from_numpy(Da)
        Db = None if Db is None else torch.from_numpy(Db)
        if kind == "torch_grad" and Da.is_floating_point():
            Da.requires_grad_(True)
    for fn in (infofrag.similarity, infofrag.similarity_terms):
        with pytest.raises(ValueError) as err:
            fn(Da, Db)
        assert name in str(err.value) and problem in str(err.value), str(err.value)


@pytest.mark.parametrize("bad,problem", [
    (lambda D: _with(D, (0, 1, 2), np.nan), "NaN"),
    (lambda D: _with(D, (0, 1, 2), -np.inf), "-inf"),
    (lambda D: _with(D, (0, 1, 2), -2.0), "negative"),
    (lambda D: D[0, 0], "[..., N, N]"),
    (lambda D: D[:, :, :3], "square"),
    (lambda D: D[:, :1, :1], "N >= 2"),
])
def test_information_rejects_bad_input(bad, problem):
    with pytest.raises(ValueError) as err:
        infofrag.information(bad(_good()))
    assert "D" in str(err.value) and problem in str(err.value)


@pytest.mark.parametrize("args,name,problem", [
    ((np.array([[0.0], [np.nan]]), np.zeros((2, 1))), "mu", "finite"),
    ((np.zeros((2, 1)), np.array([[0.0], [np.inf]])), "logvar", "finite"),
    ((np.zeros((3, 2)), np.zeros((3, 1))), "logvar", "shape"),
    ((np.zeros((1, 2)), np.zeros((1, 2))), "mu", "N >= 2"),
    ((np.zeros(3), np.zeros(3)), "mu", "[..., N, d]"),
    ((np.zeros((3, 0)), np.zeros((3, 0))), "mu", "d >= 1"),
])
def test_bhattacharyya_rejects_bad_input(args, name, problem):
    with pytest.raises(ValueError) as err:
        infofrag.bhattacharyya(*args)
    assert name in str(err.value) and problem in str(err.value)


@pytest.mark.parametrize("labels,problem", [
    (np.array([0.5, 1.0, 2.0]), "integer"),
    (np.array([0.0, np.nan]), "integer"),
    (np.array([3]), "N >= 2"),
    (np.array(["a", "b"]), "integer"),
])
def test_labels_to_distances_rejects_bad_input(labels, problem):
    with pytest.raises(ValueError) as err:
        infofrag.labels_to_distances(labels)
    assert "labels" in str(err.value) and problem in str(err.value)


def test_bad_keywords():
    D = _good()
    with pytest.raises(ValueError, match="chunk_rows"):
        infofrag.similarity(D, chunk_rows=0)
    with pytest.raises(ValueError, match="dtype"):
        infofrag.similarity(D, dtype=np.int32)


def test_empty_stack():
    D = _good()
    nmi, vi = infofrag.similarity(D[:0], D)
    assert nmi.shape == (0, 2) and vi.shape == (0, 2)


def test_mixed_precision_inputs_are_promoted():
    """float32 fingerprints against float64 hard clusterings (the fingerprint rule's factor NMI)."""
    rng = np.random.default_rng(3)
    mu = rng.normal(size=(2, 40, 1))
    D32 = infofrag.bhattacharyya(mu, np.full_like(mu, -3.0)).astype(np.float32)
    F64 = infofrag.labels_to_distances(rng.integers(0, 4, size=(3, 40)))
    nmi, vi = infofrag.similarity(D32, F64)
    nmi64, vi64 = infofrag.similarity(D32.astype(np.float64), F64)
    np.testing.assert_allclose(nmi, nmi64, atol=1e-12)
    np.testing.assert_allclose(vi, vi64, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# float32 fingerprints computed in float64
# ---------------------------------------------------------------------------------------------


def _weak_and_informative_float32(N=120, seed=13):
    """float32 fingerprints of channels from ~1e-5 bits (centred rows) to several bits."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=N)
    mu = np.stack([s * np.sin(2 * x + s) for s in (3e-3, 0.1, 1.0, 20.0)])[:, :, None]
    return infofrag.bhattacharyya(mu, np.zeros_like(mu)).astype(np.float32)


@pytest.mark.parametrize("as_torch", [False, True])
def test_float32_fingerprints_with_dtype_float64(as_torch):
    """dtype=float64 on float32 input computes in float64: the same numbers as float64 input."""
    D = _weak_and_informative_float32()
    conv = (lambda a: torch.from_numpy(a)) if as_torch else (lambda a: a)  # noqa: E731
    for args in ((D,), (D[:2], D[2:])):
        got = infofrag.similarity_terms(*map(conv, args), dtype=np.float64)
        want = infofrag.similarity_terms(*(conv(a.astype(np.float64)) for a in args))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_float64_retry_of_float32_input(monkeypatch):
    """A float32 run with a non-finite sum is recomputed in float64 from the float32 input."""
    from infofrag.estimators import _similarity

    D = _weak_and_informative_float32()
    real = _similarity._fast_terms
    dtypes = []

    def first_overflows(Da, Db, chunk_rows, max_memory, dtype, device):
        dtypes.append(dtype)
        out = real(Da, Db, chunk_rows, max_memory, dtype, device)
        if dtype == torch.float32:
            out = (out[0] * math.inf,) + tuple(out[1:])
        return out

    monkeypatch.setattr(_similarity, "_fast_terms", first_overflows)
    for args in ((D,), (D[:2], D[2:])):
        dtypes.clear()
        nmi, vi = infofrag.similarity(*args)
        assert dtypes == [torch.float32, torch.float64]
        want_nmi, want_vi = infofrag.similarity(*(a.astype(np.float64) for a in args))
        np.testing.assert_array_equal(nmi, want_nmi)
        np.testing.assert_array_equal(vi, want_vi)


# ---------------------------------------------------------------------------------------------
# the fast path's channel order: expected-centred channels first
# ---------------------------------------------------------------------------------------------


def _channels_of_every_row_kind(N=200, seed=21):
    """float64 fingerprints whose channels the fast path gets right or wrong on its sample rows:
    weak (every row centred), informative (none), a dense cluster with 5 outliers away from the
    sample rows (classified centred; the outliers' rows are not), and a cluster of 85% of the
    points with the sample rows among the rest (classified uncentred; the cluster's rows are
    centred)."""
    from infofrag.estimators._coefficients import _weak_first  # noqa: F401  (the sample rows below)

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, N)
    sample = np.unique(np.linspace(0, N - 1, 8).round().astype(int))
    outliers = np.array([10, 11, 12, 13, 14])
    spread = np.concatenate([sample, rng.choice(np.setdiff1d(np.arange(N), sample), 22, replace=False)])
    mus, sds = [], []
    mus.append(0.05 * np.sin(3 * x)); sds.append(1.0)  # weak
    mus.append(4 * x); sds.append(0.1)  # informative
    m = 0.01 * x
    m[outliers] = 10 + x[outliers]
    mus.append(m); sds.append(0.3)  # centred but for the outliers
    m = 0.01 * x
    m[spread] = 3 * np.sign(x[spread]) + 2 * x[spread]
    mus.append(m); sds.append(0.2)  # uncentred on the sample rows, centred in the cluster
    mus.append(0.2 * np.cos(2 * x)); sds.append(1.0)  # weak
    mu = np.stack(mus)[:, :, None]
    lv = np.log(np.asarray(sds)[:, None, None] ** 2) + 0 * mu
    return infofrag.bhattacharyya(mu, lv), sample, outliers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_expected_centred_channels_first_give_the_same_numbers(dtype, monkeypatch):
    """The fast path puts the channels whose sample rows are all nearly constant first (computed
    from expm1) and recomputes the rows that turn out otherwise, both ways; the results are those
    of D's own order (float32: to GEMM rounding; float64: to float64 rounding)."""
    from infofrag.estimators import _coefficients, _fast

    D, sample, outliers = _channels_of_every_row_kind()
    D = D.astype(dtype)
    N = D.shape[-1]
    C = np.exp(-D.astype(np.float64))
    centred = C.mean(-1) > 0.8  # [channel, row]
    assert centred[0].all() and not centred[1].any() and centred[4].all()
    assert centred[2, sample].all() and not centred[2, outliers].any()
    assert not centred[3, sample].any() and centred[3].sum() > 0.8 * N
    from infofrag.estimators._sources import DenseRows

    order, n_weak = _coefficients._weak_first(DenseRows(torch.from_numpy(D), "D"),
                                              _coefficients._max_distance(torch.float32, N), torch.device("cpu"))
    assert n_weak == 3 and list(order) == [0, 2, 4, 1, 3]
    tol = dict(rtol=1e-6, atol=1e-9) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    for args in ((D,), (D[:2], D[2:]), (D[3:], D[:3])):
        for rows in (None, 7):
            got = infofrag.similarity_terms(*args, chunk_rows=rows)
            with monkeypatch.context() as m:
                m.setattr(_fast, "_REORDER", False)
                want = infofrag.similarity_terms(*args, chunk_rows=rows)
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, **tol)
