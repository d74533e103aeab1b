"""MIG, SAP and DCI on codes whose answer is known; the scores stage's protocols; per-channel
factor NMI shown only for informative channels."""

import json

import numpy as np
import pytest

from infofrag.metrics import (
    all_metrics,
    all_metrics_split,
    dci,
    dci_importance,
    importance_model,
    mig,
    mig_per_factor,
    sap,
    sap_per_factor,
)

SCORE_KEYS = ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness")

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
    for importance in ("gbt", "forest"):
        d = dci(perfect, f, importance=importance)
        assert d["disentanglement"] > 0.9 and d["completeness"] > 0.9 and d["informativeness"] > 0.95
        assert d["undefined"] == {}
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


# SAP's linear SVM, solved exactly: scikit-learn's LinearSVC is the reference

def _svm_case(n, k, seed, spread):
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=rng.dirichlet(np.ones(k)))  # unbalanced classes
    y[:k] = np.arange(k)  # every class present
    return y + spread * rng.normal(size=n), y


@pytest.mark.parametrize("k", [2, 3, 8, 32])
@pytest.mark.parametrize("spread", [0.1, 3.0])
def test_sap_svm_is_liblinears_problem_solved_exactly(k, spread):
    """The minimiser of LinearSVC(C=0.01, class_weight="balanced")'s problem: scikit-learn run to
    a tolerance of 1e-12 lands on the same weights and intercepts, for two classes (one problem)
    and more (one per class), sharp and noisy latents."""
    import warnings

    from sklearn.svm import LinearSVC

    from infofrag.metrics import SAP_C, linear_svm_1d, predict_svm_1d

    x, y = _svm_case(700, k, seed=k, spread=spread)
    classes, w, b = linear_svm_1d(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LinearSVC(C=SAP_C, class_weight="balanced", tol=1e-12, max_iter=100_000).fit(x[:, None], y)
    np.testing.assert_array_equal(classes, ref.classes_)
    np.testing.assert_allclose(w, ref.coef_[:, 0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b, ref.intercept_, rtol=1e-6, atol=1e-9)
    grid = np.linspace(x.min() - 1, x.max() + 1, 997)  # away from near-ties, the same predictions
    decision = ref.decision_function(grid[:, None])
    decision = decision[:, None] if decision.ndim == 1 else decision
    top = np.sort(decision, axis=1)
    clear = np.abs(top[:, -1] - (top[:, -2] if k > 2 else 0.0)) > 1e-6
    np.testing.assert_array_equal(predict_svm_1d((classes, w, b), grid)[clear], ref.predict(grid[:, None])[clear])


def test_sap_agrees_with_scikit_learns_stopped_solver_to_a_test_point_or_two():
    """scikit-learn stops liblinear at a relative tolerance of 1e-4, near the minimiser: per
    factor its SAP differs from the exact one by at most two held-out points (measured: 8 of 100
    cases differ, by one or two points)."""
    import warnings

    from sklearn.svm import LinearSVC

    from infofrag import metrics

    rng = np.random.default_rng(5)
    for case in range(6):
        n = int(rng.integers(200, 1200))
        f = np.stack([rng.integers(0, k, n) for k in (2, 6, 32)], axis=1)
        mu = np.concatenate([f + rng.normal(scale=[0.05, 0.5, 3.0][case % 3], size=f.shape),
                             rng.normal(size=(n, 2))], axis=1)
        m, fc, varying = metrics._check(mu, f, 4)
        train, test = metrics._split(n, 0, metrics.TRAIN_FRACTION)
        ref = np.zeros((m.shape[1], fc.shape[1]))
        for j in range(fc.shape[1]):
            for i in range(m.shape[1]):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf = LinearSVC(C=metrics.SAP_C, class_weight="balanced").fit(m[train, i:i + 1], fc[train, j])
                ref[i, j] = np.mean(clf.predict(m[test, i:i + 1]) == fc[test, j])
        exact = metrics._sap_matrix(m, fc, varying, train, test, 0)
        gap = np.abs(metrics._top_two_gap(exact) - metrics._top_two_gap(ref))
        assert gap.max() * len(test) <= 2 + 1e-9, (case, gap * len(test))


def test_scores_without_dci_import_no_scikit_learn():
    """MIG and SAP alone (``importance: none``, the demo's and a zoo's setting) are numpy only:
    importing scikit-learn cost more than a member's whole scores."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from infofrag import metrics; rng = np.random.default_rng(0); "
            "f = rng.integers(0, 4, (300, 2)); mu = f + rng.normal(size=f.shape); "
            "metrics.all_metrics(mu, f, ['a', 'b'], importance='none'); "
            "assert not [m for m in sys.modules if m.startswith('sklearn')], 'scikit-learn imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_entangled_and_noise_codes_score_low(codes):
    f, perfect, rotated, noise = codes
    for m in (mig, sap, lambda mu, f: sap(mu, f, classifier="threshold")):
        assert m(noise, f) < 0.05
        assert m(rotated, f) < 0.5 * m(perfect, f)
    d_noise, d_rot = dci(noise, f, importance="forest"), dci(rotated, f, importance="forest")
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
        a, b = dci(code[:, perm], f, importance="forest"), dci(code, f, importance="forest")
        for key in ("disentanglement", "completeness", "informativeness"):
            assert a[key] == pytest.approx(b[key], abs=0.05)
    r, _ = dci_importance(perfect, f, importance="forest")
    r_perm, _ = dci_importance(perfect[:, perm], f, importance="forest")
    np.testing.assert_allclose(r_perm, r[perm], atol=0.05)


def test_values_in_unit_interval_and_deterministic():
    rng = np.random.default_rng(3)
    f = _factors(300, (2, 3, 6), seed=3)
    for code in (rng.normal(size=(300, 4)),
                 np.concatenate([_z(f)[:, :2] ** 3, rng.normal(size=(300, 2))], axis=1),
                 rng.integers(0, 3, (300, 3)).astype(np.float32)):
        a = all_metrics(code, f, ("a", "b", "c"), seed=5, importance="forest")
        b = all_metrics(code, f, ("a", "b", "c"), seed=5, importance="forest")
        assert a == b
        for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
            assert 0.0 <= a[key] <= 1.0 and np.isfinite(a[key]), (key, a[key])
        for per in a["per_factor"].values():
            assert all(0.0 <= v <= 1.0 for v in per.values())


def test_dead_latents_and_constant_factors(codes):
    f, perfect, _, _ = codes
    dead = np.concatenate([perfect, np.zeros((N, 2)), np.full((N, 1), 3.0)], axis=1)
    res = all_metrics(dead, f, ("a", "b", "c"), importance="forest")
    assert all(np.isfinite(res[k]) for k in SCORE_KEYS) and res["undefined"] == {}
    assert res["mig"] == pytest.approx(mig(perfect, f), abs=1e-12)
    assert res["dci_disentanglement"] > 0.9
    # a constant factor is left out: the scores are those of the other factors
    fc = np.concatenate([f, np.full((N, 1), 7)], axis=1)
    with_const = all_metrics(perfect, fc, ("a", "b", "c", "const"), importance="forest")
    without = all_metrics(perfect, f, ("a", "b", "c"), importance="forest")
    assert with_const == without
    assert set(with_const["per_factor"]) == {"a", "b", "c"}
    # all latents dead: zero scores, no NaN
    zero = all_metrics(np.zeros((N, 3)), f, ("a", "b", "c"), importance="forest")
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness"):
        assert zero[key] == pytest.approx(0.0, abs=1e-9), key
    assert 0.0 < zero["dci_informativeness"] < 0.35


def test_single_factor_and_single_latent_are_undefined_not_one():
    """One varying factor: DCI disentanglement would be 1 whatever the code (collapsed ones
    included); one latent: completeness would be 1. Both are reported as undefined, with why."""
    f = np.repeat(np.arange(3), 200)
    rng = np.random.default_rng(4)
    lat = np.stack([f + 0.01 * rng.normal(size=f.size), rng.normal(size=f.size)], axis=1)
    for code in (lat, np.zeros_like(lat), rng.normal(size=lat.shape)):  # good, collapsed, noise
        res = all_metrics(code, f, ("only",), importance="forest")
        assert res["dci_disentanglement"] is None
        assert "only one factor varies" in res["undefined"]["dci_disentanglement"]
        assert res["dci_completeness"] is not None and "dci_completeness" not in res["undefined"]
        d = dci(code, f, importance="forest")
        assert np.isnan(d["disentanglement"]) and "disentanglement" in d["undefined"]
        json.dumps(res, allow_nan=False)  # None, never NaN, in what the stage writes
    res = all_metrics(lat, f, ("only",), importance="forest")
    assert res["mig"] > 0.9 and res["dci_completeness"] > 0.9
    # a constant second factor leaves one varying factor: still undefined
    res = all_metrics(lat, np.stack([f, np.zeros_like(f)], axis=1), ("a", "const"), importance="forest")
    assert res["dci_disentanglement"] is None
    # one latent, two factors: completeness undefined, disentanglement defined
    two = np.stack([f, rng.integers(0, 2, f.size)], axis=1)
    for code in (lat[:, :1], np.zeros((f.size, 1))):
        res = all_metrics(code, two, ("a", "b"), importance="forest")
        assert res["dci_completeness"] is None
        assert "single latent" in res["undefined"]["dci_completeness"]
        assert res["dci_disentanglement"] is not None and np.isfinite(res["dci_disentanglement"])
        assert np.isnan(dci(code, two, importance="forest")["completeness"])
    # both at once
    res = all_metrics(lat[:, :1], f, ("only",), importance="forest")
    assert res["dci_disentanglement"] is None and res["dci_completeness"] is None
    assert set(res["undefined"]) == {"dci_disentanglement", "dci_completeness"}


def test_all_metrics_keys_and_labels():
    f = _factors(200, (3, 4), seed=5)
    # arbitrary label values (negative, sparse) are classes all the same
    relabelled = np.stack([f[:, 0] * 10 - 5, f[:, 1] + 100], axis=1)
    code = np.concatenate([_z(f), np.random.default_rng(5).normal(size=(200, 1))], axis=1)
    a = all_metrics(code, f, ["shape", "size"], importance="forest")
    assert set(a) == {"mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness",
                      "undefined", "dci_importance", "per_factor"}
    assert set(a["per_factor"]) == {"shape", "size"}
    assert set(a["per_factor"]["shape"]) == {"mig", "sap", "dci_informativeness"}
    assert set(a["dci_importance"]) == {"shape", "size"} and len(a["dci_importance"]["shape"]) == 3
    assert all_metrics(code, relabelled, ["shape", "size"], importance="forest") == a
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


# ---------------------------------------------------------------------------------------------
# DCI's classifier, pinned: disentanglement_lib's gradient-boosted trees, and the forest
# ---------------------------------------------------------------------------------------------


def _fixed_code():
    """90 points, two binary factors, three latents (a noisy copy of each factor, pure noise)."""
    rng = np.random.default_rng(11)
    n = 90
    f = np.stack([np.arange(n) % 2, (np.arange(n) // 2) % 2], axis=1)
    mu = np.stack([f[:, 0] + 0.5 * rng.normal(size=n), f[:, 1] + 0.7 * rng.normal(size=n),
                   rng.normal(size=n)], axis=1)
    return np.round(mu, 3), f


def test_dci_classifier_settings_are_disentanglement_libs():
    """disentanglement_lib fits GradientBoostingClassifier() at scikit-learn's defaults: these,
    written out here so that a changed setting (ours or a new scikit-learn default) fails."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    gbt = importance_model("gbt", seed=3)
    assert type(gbt) is GradientBoostingClassifier
    expected = {"loss": "log_loss", "learning_rate": 0.1, "n_estimators": 100, "subsample": 1.0,
                "min_samples_split": 2, "min_samples_leaf": 1, "min_weight_fraction_leaf": 0.0,
                "max_depth": 3, "min_impurity_decrease": 0.0, "max_features": None, "max_leaf_nodes": None,
                "n_iter_no_change": None, "ccp_alpha": 0.0, "init": None, "warm_start": False,
                "random_state": 3}
    params = gbt.get_params()
    assert {k: params[k] for k in expected} == expected
    # scikit-learn's own defaults are still disentanglement_lib's configuration
    defaults = GradientBoostingClassifier().get_params()
    assert {k: defaults[k] for k in expected if k != "random_state"} == {
        k: v for k, v in expected.items() if k != "random_state"}
    forest = importance_model("forest", seed=3)
    assert type(forest) is RandomForestClassifier
    fp = forest.get_params()
    assert (fp["n_estimators"], fp["max_features"], fp["min_samples_leaf"], fp["bootstrap"], fp["random_state"]) \
        == (50, None, 5, True, 3)
    with pytest.raises(ValueError, match="importance"):
        importance_model("svm")
    with pytest.raises(ValueError, match="importance"):
        dci(*_fixed_code(), importance="hist")


def test_dci_importances_match_reference_values():
    """The importance matrix on fixed data, against values computed once with the pinned
    classifiers: a different regressor or any changed setting moves them."""
    mu, f = _fixed_code()
    r, acc = dci_importance(mu, f, seed=0, importance="gbt")
    np.testing.assert_allclose(r, [[0.6988517459656435, 0.10841136055635409],
                                   [0.11869938842173938, 0.6928838546850619],
                                   [0.1824488656126172, 0.19870478475858408]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(acc, [28 / 30, 21 / 30], rtol=0, atol=1e-12)
    r, acc = dci_importance(mu, f, seed=0, importance="forest")
    np.testing.assert_allclose(r, [[0.8313138177735611, 0.12951060205884307],
                                   [0.0414386308875295, 0.8230481122221114],
                                   [0.1272475513389093, 0.047441285719045385]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(acc, [29 / 30, 25 / 30], rtol=0, atol=1e-12)
    # the default classifier is the gradient-boosted one
    assert np.array_equal(dci_importance(mu, f, seed=0)[0], dci_importance(mu, f, seed=0, importance="gbt")[0])


def test_split_protocol_fits_on_training_and_scores_on_test_points():
    """all_metrics_split: MIG on the training points alone; SAP and DCI fitted on the training
    points and scored on the test points (a test set whose code is scrambled scores at chance)."""
    rng = np.random.default_rng(6)
    f_train, f_test = _factors(400, (3, 4), seed=6), _factors(200, (3, 4), seed=7)
    code = lambda f: np.concatenate([_z(f) + 0.01 * rng.normal(size=f.shape), rng.normal(size=(len(f), 1))], axis=1)
    mu_train, mu_test = code(f_train), code(f_test)
    res = all_metrics_split(mu_train, f_train, mu_test, f_test, ("a", "b"), importance="forest")
    assert res["mig"] == pytest.approx(mig(mu_train, f_train), abs=1e-12)
    assert res["dci_informativeness"] > 0.95 and res["dci_disentanglement"] > 0.9
    scrambled = mu_test[rng.permutation(len(mu_test))]
    bad = all_metrics_split(mu_train, f_train, scrambled, f_test, ("a", "b"), importance="forest")
    assert bad["mig"] == res["mig"]  # MIG never sees the test points
    assert bad["dci_informativeness"] < 0.45 and bad["sap"] < 0.1
    # the importances come from the training points alone: equal for any test set
    assert bad["dci_importance"] == res["dci_importance"]
    with pytest.raises(ValueError, match="mu_train"):
        all_metrics_split(mu_train, f_train, mu_test[:, :2], f_test, ("a", "b"))


# ---------------------------------------------------------------------------------------------
# The scores stage: which protocol, classifier and points, said in its output
# ---------------------------------------------------------------------------------------------

CIRCLE = {"name": "circle", "n_points": 1000, "angle_bins": 12}
W = np.array([[1.0, 0.3, 0.0], [0.2, -1.0, 0.0]])  # a fixed "encoder" of circle points: 3 latents


@pytest.fixture()
def circle_run(tmp_path):
    """A fingerprint sample of the circle and a member's posteriors on it (by the fixed map W)."""
    from infofrag import data, store

    ds = data.make_dataset(CIRCLE)
    drawn = data.draw_sample(ds, 150, 1)  # the smallest sample the sample protocol scores
    store.sample.write(tmp_path / "sample.zarr", drawn, ds)
    mu = drawn["x"] @ W
    store.posteriors.write(tmp_path / "post.zarr", mu, np.full_like(mu, -2.0), "m1")
    return tmp_path, ds, drawn


def _run_scores(tmp_path, monkeypatch=None, **kw):
    from infofrag.stages import scores

    if monkeypatch is not None:  # the member's encoder is the fixed map W
        monkeypatch.setattr(scores, "member_encoder", lambda member, model_path=None, imported_path=None:
                            None if member.get("kind") == "posteriors" else (lambda x: x @ W))
    out = tmp_path / "scores.json"
    extra = scores.run(tmp_path / "post.zarr", tmp_path / "sample.zarr", out, **kw)
    return json.loads(out.read_text()), extra


def test_scores_stage_field_protocol_is_recorded(circle_run, monkeypatch):
    from infofrag import metrics
    from infofrag.stages import scores

    tmp_path, ds, _ = circle_run
    settings = {"protocol": "field", "n_train": 500, "n_test": 250, "importance": "forest", "seed": 3}
    res, extra = _run_scores(tmp_path, monkeypatch, settings=settings, dataset=CIRCLE, member={"name": "m1"})
    assert res["status"] == "ok" and res["protocol"] == res["requested_protocol"] == "field"
    assert (res["n_train"], res["n_test"], res["n_mig"], res["seed"]) == (500, 250, 500, 3)
    assert res["importance"] == "forest" and res["importance_model"] == "RandomForestClassifier"
    assert res["importance_settings"] == metrics.FOREST_SETTINGS and res["sap_classifier"] == "svm"
    assert "drawn from the dataset" in res["points"] and "protocol_note" not in res
    assert extra["protocol"] == "field" and "seconds" in extra and "seconds" not in res
    # the points: drawn from the dataset by the seed, disjoint, encoded by the member
    tr, te, note = scores.field_points(ds, 500, 250, 3)
    assert note is None and len(set(tr) | set(te)) == 750
    assert res["mig"] == pytest.approx(metrics.mig(ds.get(tr) @ W, ds.factors(tr)), abs=1e-12)
    # one factor (the angle): disentanglement undefined, and said so
    assert res["dci_disentanglement"] is None and "dci_disentanglement" in res["undefined"]
    assert res["dci_completeness"] is not None
    # deterministic: the same settings give the same file
    again, _ = _run_scores(tmp_path, monkeypatch, settings=settings, dataset=CIRCLE, member={"name": "m1"})
    assert again == res


def test_scores_stage_defaults_are_the_fields_and_shrink_to_a_small_dataset(circle_run, monkeypatch):
    from infofrag import metrics
    from infofrag.stages import scores

    # the field's points and its classifier: one default, in the schema, for the library too
    from infofrag.defaults import section

    assert section("scores") == {"protocol": "field", "n_train": 10000, "n_test": 5000, "importance": "gbt",
                                 "seed": 0}
    tmp_path, _, _ = circle_run
    res, _ = _run_scores(tmp_path, monkeypatch, settings={}, dataset=CIRCLE, member={"name": "m1"})
    assert res["importance"] == "gbt" and res["importance_model"] == "GradientBoostingClassifier"
    # the circle has 1,000 points, fewer than 10,000 + 5,000: all of them, split 2 : 1
    assert res["protocol"] == "field" and (res["n_train"], res["n_test"]) == (667, 333)
    assert "1000 points" in res["protocol_note"]
    # the schema says the same
    from infofrag.config import load_schema

    props = load_schema()["properties"]["scores"]["properties"]
    assert set(props["importance"]["enum"]) == set(metrics.IMPORTANCES)


def test_scores_stage_sample_protocol_and_posteriors_only_members(circle_run, monkeypatch):
    tmp_path, _, drawn = circle_run
    res, _ = _run_scores(tmp_path, settings={"protocol": "sample", "importance": "forest"})
    assert res["protocol"] == res["requested_protocol"] == "sample"
    assert (res["n_train"], res["n_test"], res["n_mig"]) == (100, 50, 150)
    assert res["points"] == "the fingerprint sample" and "protocol_note" not in res
    from infofrag import metrics

    assert res["mig"] == pytest.approx(metrics.mig(drawn["x"] @ W, drawn["factors"]), abs=1e-6)
    # an imported member given only as posteriors has no encoder: the fingerprint sample, said so
    member = {"name": "m1", "kind": "posteriors", "posteriors": "m1.npz"}
    fallback, extra = _run_scores(tmp_path, monkeypatch, settings={"importance": "forest"}, dataset=CIRCLE,
                                  member=member)
    assert fallback["requested_protocol"] == "field" and fallback["protocol"] == "sample"
    assert "imported as posteriors" in fallback["protocol_note"] and extra["protocol"] == "sample"
    assert {k: fallback[k] for k in SCORE_KEYS} == {k: res[k] for k in SCORE_KEYS}
    with pytest.raises(ValueError, match="scores.protocol"):
        _run_scores(tmp_path, settings={"protocol": "published"})
    with pytest.raises(ValueError, match="needs the member"):
        _run_scores(tmp_path, settings={"protocol": "field"})
    with pytest.raises(ValueError, match="needs the dataset"):
        _run_scores(tmp_path, monkeypatch, settings={"protocol": "field"}, member={"name": "m1"})


def test_a_sample_too_small_for_the_metrics_is_said_so_not_scored(tmp_path):
    """149 points under the sample protocol: no MIG, SAP or DCI of 0.0 but a status naming the
    minimum (100 training, 50 test points)."""
    from infofrag import data, store

    ds = data.make_dataset(CIRCLE)
    drawn = data.draw_sample(ds, 149, 1)
    store.sample.write(tmp_path / "sample.zarr", drawn, ds)
    mu = drawn["x"] @ W
    store.posteriors.write(tmp_path / "post.zarr", mu, np.full_like(mu, -2.0), "m1")
    res, _ = _run_scores(tmp_path, settings={"protocol": "sample"})
    assert res["status"] == "too_few_points" and "mig" not in res, res
    assert "149 points, fewer than the 150" in res["message"] and "100 training, 50 test" in res["message"]


def test_scores_stage_without_factors(tmp_path):
    from infofrag import data, store

    ds = data.make_dataset(CIRCLE)
    drawn = data.draw_sample(ds, 30, 0)
    drawn.update(factors=np.zeros((30, 0), dtype=np.int64), factor_names=())
    store.sample.write(tmp_path / "sample.zarr", drawn, ds)
    store.posteriors.write(tmp_path / "post.zarr", drawn["x"], np.zeros_like(drawn["x"]), "m1")
    res, _ = _run_scores(tmp_path, settings={"protocol": "field"}, dataset=CIRCLE, member={"name": "m1"})
    assert res == {"member": "m1", "status": "no_factors", "message": "the dataset has no ground-truth factors"}


@pytest.mark.slow
def test_scores_stage_field_protocol_with_a_trained_member(tmp_path):
    """The real path: a trained member's checkpoint encodes points drawn from the dataset."""
    from infofrag import data, metrics, store, train
    from infofrag.stages import scores

    ds = data.make_dataset(CIRCLE)
    member = {"name": "b1_s0", "seed": 0, "arch": "mlp", "latent_dim": 2, "steps": 20, "batch_size": 64,
              "lr": 0.01, "checkpoint_every": 20, "log_every": 20, "beta": 1.0}
    ckpt = tmp_path / "model.pt"
    train.train_member(ds, member, checkpoint=str(ckpt), log=str(tmp_path / "log.csv"), resume_dir=None,
                       progress=False)
    drawn = data.draw_sample(ds, 60, 1)
    store.sample.write(tmp_path / "sample.zarr", drawn, ds)
    model, _ = train.load_model(ckpt)
    mu, lv = train.encode(model, drawn["x"])
    store.posteriors.write(tmp_path / "post.zarr", mu, lv, "b1_s0")
    res, _ = _run_scores(tmp_path, settings={"n_train": 300, "n_test": 150, "importance": "gbt"}, dataset=CIRCLE,
                         member=member, model_path=ckpt)
    assert res["protocol"] == "field" and res["importance"] == "gbt" and res["n_train"] == 300
    assert res["importance_model"] == "GradientBoostingClassifier" and res["importance_settings"] == {
        **metrics.GBT_SETTINGS}
    tr, _, _ = scores.field_points(ds, 300, 150, 0)
    assert res["mig"] == pytest.approx(metrics.mig(train.encode(model, ds.get(tr))[0], ds.factors(tr)), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Per-channel factor NMI shown to users: only channels above the information threshold
# ---------------------------------------------------------------------------------------------


def _weak_channel_store():
    """Six members x 3 channels: channel 0 carries x (2 bits; NMI with x 0.9), channel 1 y
    (1.5 bits; NMI with y 0.8), channel 2 almost nothing (0.001 bits) yet NMI 0.6 with x, as a
    nearly empty channel's generalised NMI stays until it carries nothing at all."""
    import xarray as xr

    rng = np.random.default_rng(0)
    member, channel, info, group = [], [], [], []
    for m in range(6):
        for c in range(3):
            member.append(f"m{m}")
            channel.append(c)
            info.append([2.0, 1.5, 0.001][c] + [0.01, 0.01, 0.001][c] * rng.random())
            group.append(c)
    group = np.array(group)
    M = len(member)
    same = group[:, None] == group[None, :]
    nmi = np.where(same, 0.9, 0.05) + 0.02 * rng.random((M, M))
    nmi = 0.5 * (nmi + nmi.T)
    vi = np.where(same, 0.2, 3.0) + 0.05 * rng.random((M, M))
    vi = 0.5 * (vi + vi.T)
    np.fill_diagonal(nmi, 1.0)
    np.fill_diagonal(vi, 0.0)
    fnmi = np.array([[[0.9, 0.05], [0.05, 0.8], [0.6, 0.1]][c] for c in group])
    return xr.Dataset(
        {"nmi": (("a", "b"), nmi), "vi": (("a", "b"), vi), "factor_nmi": (("a", "factor"), fnmi)},
        coords={"a": np.arange(M), "b": np.arange(M), "factor": ["x", "y"], "member": ("a", member),
                "channel": ("a", channel), "info_bits": ("a", np.array(info)), "beta": ("a", np.full(M, 1.0)),
                "seed": ("a", np.repeat(np.arange(6), 3))},
        attrs={"n_members": 6},
    )


def test_informative_factor_nmi_masks_channels_at_or_below_the_threshold():
    from infofrag.hotspots import informative_factor_nmi

    fn = np.array([[0.9, 0.1], [0.6, 0.6], [0.5, 0.2], [0.7, 0.0]])
    out = informative_factor_nmi(fn, [2.0, 0.001, 0.01, np.nan], 0.01)
    np.testing.assert_array_equal(out[0], fn[0])
    assert np.isnan(out[1:]).all()  # below, at the threshold, NaN information
    assert fn[1, 0] == 0.6  # the input is not changed
    with pytest.raises(ValueError, match="factor_nmi"):
        informative_factor_nmi(fn, [1.0, 2.0], 0.01)


def test_hotspot_table_and_overview_never_show_uninformative_channels(tmp_path):
    from infofrag.figures import plot_hotspot_overview
    from infofrag.hotspots import find_hotspots, hotspot_rows

    ds = _weak_channel_store()
    res = find_hotspots(ds, info_threshold=0.01, min_samples=3)
    assert res["n_informative"] == 12
    # the hotspot table: x and y, each at the NMI of its informative channels; the weak
    # channels' 0.6 with x is in no mean
    cols, rows = hotspot_rows(res)
    by_x = sorted(rows, key=lambda r: -r["nmi_x"])
    assert [round(r["nmi_x"], 3) for r in by_x] == [0.9, 0.05]
    assert all(not (int(ch) == 2) for h in res["hotspots"] for _, ch in h["members"])
    drawn = plot_hotspot_overview(ds, res, tmp_path / "overview.png")
    assert drawn["masked_channels"] == 0 and drawn["factor_strip"].shape == (12, 2)
    assert np.nanmax(drawn["factor_strip"][:, 0]) == pytest.approx(0.9) and 0.6 not in drawn["factor_strip"]
    # handed an ordering with the weak channels in it (a result of a lower threshold, relabelled),
    # the strip masks them rather than ranking their 0.6 above informative channels' NMI
    low = find_hotspots(ds, info_threshold=0.0, min_samples=3)
    assert len(low["optics"]["ordering"]) == 18
    low["info_threshold"] = 0.01
    drawn = plot_hotspot_overview(ds, low, tmp_path / "overview_low.png")
    weak = [i for i, a in enumerate(low["optics"]["ordering"]) if int(ds["channel"].values[a]) == 2]
    assert drawn["masked_channels"] == 6 and len(weak) == 6
    assert np.isnan(drawn["factor_strip"][weak]).all()
    assert np.isfinite(np.delete(drawn["factor_strip"], weak, axis=0)).all()


def test_importance_none_skips_dci_and_says_so():
    """scores.importance none: MIG and SAP as with a classifier, DCI not computed (None) and the
    reason given for each of its numbers; no classifier is fitted."""
    from infofrag import metrics

    rng = np.random.default_rng(0)
    f = np.stack([rng.integers(0, 4, 300), rng.integers(0, 3, 300)], 1)
    mu = np.stack([f[:, 0] + 0.1 * rng.normal(size=300), f[:, 1] + 0.1 * rng.normal(size=300)], 1)
    full = metrics.all_metrics(mu, f, ("a", "b"), importance="forest")
    none = metrics.all_metrics(mu, f, ("a", "b"), importance="none")
    assert none["mig"] == full["mig"] and none["sap"] == full["sap"]
    assert none["dci_disentanglement"] is None and none["dci_informativeness"] is None and none["dci_importance"] == {}
    assert none["undefined"]["dci_completeness"] == metrics.NOT_COMPUTED
    with pytest.raises(ValueError, match="no classifier"):
        metrics.importance_model("none")
