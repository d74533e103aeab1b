"""MIG, SAP and DCI on codes whose answer is known."""

import numpy as np
import pytest

from infofrag.metrics import all_metrics, dci, dci_importance, mig, mig_per_factor, sap, sap_per_factor

N = 600
SIZES = (4, 5, 8)


def _factors(n=N, sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


def _z(f):
    return (f - f.mean(axis=0)) / f.std(axis=0)


@pytest.fixture(scope="module")
def codes():
    """A disentangled code (one latent per factor, tiny noise, plus two noise latents), an
    entangled one (a random rotation of it), and pure noise."""
    rng = np.random.default_rng(1)
    f = _factors()
    perfect = np.concatenate([_z(f) + 0.01 * rng.normal(size=f.shape), rng.normal(size=(N, 2))], axis=1)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    rotated = perfect @ q
    noise = rng.normal(size=(N, 5))
    return f, perfect, rotated, noise


def test_mig_closed_form():
    f = np.repeat(np.arange(4), 25)
    # latent 0 is the factor itself, latent 1 is constant: the gap is the whole entropy
    assert mig(np.stack([f, np.zeros_like(f)], axis=1).astype(float), f) == pytest.approx(1.0)
    # the factor copied into two latents: no gap at all
    assert mig(np.stack([f, 2.0 * f + 1], axis=1), f) == pytest.approx(0.0, abs=1e-12)
    # a latent that only knows the factor's parity carries 1 of its 2 bits
    lat = np.stack([f % 2, np.zeros_like(f)], axis=1).astype(float)
    assert mig(lat, f) == pytest.approx(0.5)
    # a single latent
    assert mig(f[:, None].astype(float), f) == pytest.approx(1.0)


def test_mutual_information_matches_sklearn():
    from sklearn.metrics import mutual_info_score

    from infofrag.metrics import _mutual_info_bits

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 7, 500), rng.integers(0, 3, 500)
    b = np.where(rng.random(500) < 0.5, a % 3, b)
    assert _mutual_info_bits(a, b) == pytest.approx(mutual_info_score(a, b) / np.log(2))


def test_disentangled_code_scores_high(codes):
    f, perfect, _, _ = codes
    assert mig(perfect, f) > 0.9
    d = dci(perfect, f)
    assert d["disentanglement"] > 0.9 and d["completeness"] > 0.9 and d["informativeness"] > 0.95
    # SAP is the gap between the best latent and the second best, which predicts at chance
    # level: its ceiling is 1 - chance (3/4, 4/5, 7/8 here). With thresholds on the latent the
    # right latent predicts every class; disentanglement_lib's linear SVM (one threshold per
    # class against the rest) rarely predicts the middle classes, so its scores stay small.
    gaps = sap_per_factor(perfect, f, classifier="threshold")
    np.testing.assert_allclose(gaps, [0.75, 0.8, 0.875], atol=0.1)
    assert sap(perfect, f, classifier="threshold") > 0.7
    assert 0.05 < sap(perfect, f) < 0.3


def test_sap_binary_factors_reach_their_ceiling():
    rng = np.random.default_rng(2)
    f = rng.integers(0, 2, (N, 3))
    perfect = np.concatenate([f + 0.05 * rng.normal(size=f.shape), rng.normal(size=(N, 1))], axis=1)
    # the right latent predicts perfectly, the others at chance (~0.5)
    for classifier in ("svm", "threshold"):
        assert sap(perfect, f, classifier=classifier) == pytest.approx(0.5, abs=0.08)
        assert sap(rng.normal(size=(N, 4)), f, classifier=classifier) < 0.06
    with pytest.raises(ValueError, match="classifier"):
        sap(perfect, f, classifier="forest")


def test_entangled_and_noise_codes_score_low(codes):
    f, perfect, rotated, noise = codes
    for m in (mig, sap, lambda mu, f: sap(mu, f, classifier="threshold")):
        assert m(noise, f) < 0.05
        assert m(rotated, f) < 0.5 * m(perfect, f)
    d_noise, d_rot = dci(noise, f), dci(rotated, f)
    assert d_noise["disentanglement"] < 0.1 and d_noise["completeness"] < 0.1
    assert d_noise["informativeness"] < 0.35  # chance is 1/4, 1/5, 1/8
    assert d_rot["disentanglement"] < 0.4 and d_rot["completeness"] < 0.4


def test_latent_permutation_invariance(codes):
    f, perfect, rotated, _ = codes
    perm = np.array([3, 0, 4, 2, 1])
    for code in (perfect, rotated):
        assert mig(code[:, perm], f) == pytest.approx(mig(code, f), abs=1e-12)
        assert sap(code[:, perm], f) == pytest.approx(sap(code, f), abs=1e-12)
        assert sap(code[:, perm], f, classifier="threshold") == pytest.approx(
            sap(code, f, classifier="threshold"), abs=1e-12)
        a, b = dci(code[:, perm], f), dci(code, f)
        for key in a:
            assert a[key] == pytest.approx(b[key], abs=0.05)
    r, _ = dci_importance(perfect, f)
    r_perm, _ = dci_importance(perfect[:, perm], f)
    np.testing.assert_allclose(r_perm, r[perm], atol=0.05)


def test_values_in_unit_interval_and_deterministic():
    rng = np.random.default_rng(3)
    f = _factors(300, (2, 3, 6), seed=3)
    for code in (rng.normal(size=(300, 4)),
                 np.concatenate([_z(f)[:, :2] ** 3, rng.normal(size=(300, 2))], axis=1),
                 rng.integers(0, 3, (300, 3)).astype(np.float32)):
        a = all_metrics(code, f, ("a", "b", "c"), seed=5)
        b = all_metrics(code, f, ("a", "b", "c"), seed=5)
        assert a == b
        for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
            assert 0.0 <= a[key] <= 1.0 and np.isfinite(a[key]), (key, a[key])
        for per in a["per_factor"].values():
            assert all(0.0 <= v <= 1.0 for v in per.values())


def test_dead_latents_and_constant_factors(codes):
    f, perfect, _, _ = codes
    dead = np.concatenate([perfect, np.zeros((N, 2)), np.full((N, 1), 3.0)], axis=1)
    res = all_metrics(dead, f, ("a", "b", "c"))
    assert all(np.isfinite(v) for k, v in res.items() if k != "per_factor")
    assert res["mig"] == pytest.approx(mig(perfect, f), abs=1e-12)
    assert res["dci_disentanglement"] > 0.9
    # a constant factor is left out: the scores are those of the other factors
    fc = np.concatenate([f, np.full((N, 1), 7)], axis=1)
    with_const = all_metrics(perfect, fc, ("a", "b", "c", "const"))
    without = all_metrics(perfect, f, ("a", "b", "c"))
    assert with_const == without
    assert set(with_const["per_factor"]) == {"a", "b", "c"}
    # all latents dead: zero scores, no NaN
    zero = all_metrics(np.zeros((N, 3)), f, ("a", "b", "c"))
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness"):
        assert zero[key] == pytest.approx(0.0, abs=1e-9), key
    assert 0.0 < zero["dci_informativeness"] < 0.35


def test_single_factor_and_single_latent():
    f = np.repeat(np.arange(3), 200)
    rng = np.random.default_rng(4)
    lat = np.stack([f + 0.01 * rng.normal(size=f.size), rng.normal(size=f.size)], axis=1)
    res = all_metrics(lat, f, ("only",))
    assert res["dci_disentanglement"] == pytest.approx(1.0)  # one factor: trivially
    assert res["mig"] > 0.9 and res["dci_completeness"] > 0.9
    res = all_metrics(lat[:, :1], np.stack([f, rng.integers(0, 2, f.size)], axis=1), ("a", "b"))
    assert res["dci_completeness"] == pytest.approx(1.0)  # one latent: trivially
    assert all(np.isfinite(v) for k, v in res.items() if k != "per_factor")


def test_all_metrics_keys_and_labels():
    f = _factors(200, (3, 4), seed=5)
    # arbitrary label values (negative, sparse) are classes all the same
    relabelled = np.stack([f[:, 0] * 10 - 5, f[:, 1] + 100], axis=1)
    code = np.concatenate([_z(f), np.random.default_rng(5).normal(size=(200, 1))], axis=1)
    a = all_metrics(code, f, ["shape", "size"])
    assert set(a) == {"mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness",
                      "per_factor"}
    assert set(a["per_factor"]) == {"shape", "size"}
    assert set(a["per_factor"]["shape"]) == {"mig", "sap", "dci_informativeness"}
    assert all_metrics(code, relabelled, ["shape", "size"]) == a
    np.testing.assert_allclose(mig_per_factor(code, f), [a["per_factor"]["shape"]["mig"], a["per_factor"]["size"]["mig"]])
    # 1-D factors are one factor
    assert mig(code, f[:, 0]) == pytest.approx(a["per_factor"]["shape"]["mig"])


@pytest.mark.parametrize(
    "mu, factors, problem",
    [
        (np.zeros((10, 2)), np.zeros((9, 1), int), "factors"),
        (np.zeros(10), np.zeros((10, 1), int), "mu"),
        (np.full((10, 2), np.nan), np.arange(10)[:, None] % 2, "mu"),
        (np.zeros((10, 0)), np.arange(10)[:, None] % 2, "mu"),
        (np.zeros((10, 2)), np.zeros((10, 0), int), "factors"),
        (np.zeros((10, 2)), np.zeros((10, 2), int), "constant"),
        (np.zeros((10, 2)), np.linspace(0, 1, 10)[:, None], "integer"),
        (np.zeros((10, 2)), np.array(list("ababababab"))[:, None], "integer"),
        (np.zeros((3, 2)), np.array([[0], [1], [0]]), "at least 4"),
    ],
)
def test_bad_input(mu, factors, problem):
    with pytest.raises(ValueError, match=problem):
        all_metrics(mu, factors, ["f"] * np.asarray(factors).reshape(len(factors), -1).shape[1])


def test_bad_factor_names():
    f = _factors(50, (2, 3))
    with pytest.raises(ValueError, match="factor_names"):
        all_metrics(np.random.default_rng(0).normal(size=(50, 2)), f, ["a"])
