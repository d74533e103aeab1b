"""Tests of infofrag.synthetic (the nine spaces of the paper's section 4.1, CKA) and of a reduced
run of benchmarks/synthetic_spaces.py."""

import json
import math

import numpy as np
import pytest

import infofrag
from helpers.scripts import load_benchmark
from infofrag.synthetic import (N_POINTS, SPACE_NAMES, kernel_cka, linear_cka, positions, square_spiral,
                                synthetic_spaces)


@pytest.fixture(scope="module")
def spaces():
    return synthetic_spaces()


@pytest.fixture(scope="module")
def script():
    return load_benchmark("synthetic_spaces")


EXPECTED_DIMS = {"spiral_sharp": 2, "spiral_mid": 2, "spiral_blurred": 2, "square_spiral": 2,
                 "square_spiral_tight": 2, "line": 1, "clusters_quartile": 2, "clusters_side": 1,
                 "clusters_overlap": 2}


def test_spaces_have_the_stated_shapes(spaces):
    assert tuple(spaces) == SPACE_NAMES and len(spaces) == 9
    for name, s in spaces.items():
        assert s.name == name
        assert s.mu.shape == (N_POINTS, EXPECTED_DIMS[name]) == s.logvar.shape
        assert s.dim == EXPECTED_DIMS[name]
        assert np.all(np.isfinite(s.mu))
        np.testing.assert_array_equal(s.logvar, 2 * np.log(s.sigma))
    t = positions()
    # the round spirals share their means and differ in width only
    for n in ("spiral_mid", "spiral_blurred"):
        np.testing.assert_array_equal(spaces[n].mu, spaces["spiral_sharp"].mu)
    assert spaces["spiral_sharp"].sigma < spaces["spiral_mid"].sigma < spaces["spiral_blurred"].sigma
    r = np.hypot(*spaces["spiral_sharp"].mu.T)
    np.testing.assert_allclose(r, 0.25 + 0.75 * t, rtol=1e-12)
    np.testing.assert_allclose(spaces["line"].mu[:, 0], 2 * t - 1)
    # discrete clusterings: points sit exactly on a few centres
    q = spaces["clusters_quartile"].mu
    centres, counts = np.unique(q, axis=0, return_counts=True)
    assert len(centres) == 4 and set(counts) == {N_POINTS // 4}
    # ... one per quartile of t, visited in order around the square
    order = np.argsort(t)
    for k in range(4):
        assert len(np.unique(q[order[16 * k:16 * (k + 1)]], axis=0)) == 1
    assert set(np.unique(spaces["clusters_side"].mu)) == {-1.0, 1.0}
    np.testing.assert_array_equal(spaces["clusters_side"].mu[:, 0], np.where(np.cos(4 * np.pi * t) > 0, 1.0, -1.0))
    np.testing.assert_array_equal(spaces["clusters_overlap"].mu, q)


def test_spaces_are_deterministic(spaces):
    again = synthetic_spaces(N_POINTS, 0)
    other = synthetic_spaces(N_POINTS, 1)
    for name in SPACE_NAMES:
        assert spaces[name].mu.tobytes() == again[name].mu.tobytes()
        assert spaces[name].logvar.tobytes() == again[name].logvar.tobytes()
    assert not np.array_equal(spaces["line"].mu, other["line"].mu)
    assert synthetic_spaces(16, 3)["line"].mu.shape == (16, 1)
    for bad in (10, 4, 64.0, True):
        with pytest.raises(ValueError, match="n_points"):
            synthetic_spaces(bad)


def test_square_spiral_follows_its_path():
    # starts at the origin; the first segment goes east, the second north (lengths 1, 1 / turns)
    pts = square_spiral(np.array([0.0, 1 / 40, 2 / 40, 3 / 40]), 2)  # total length 20 -> 0.5 per step
    np.testing.assert_allclose(pts, [[0, 0], [0.25, 0], [0.5, 0], [0.5, 0.25]], atol=1e-12)
    # arc length is proportional to t: equal steps in t are equal steps along the curve
    t = np.linspace(0, 1, 2001)
    for turns in (2, 3):
        p = square_spiral(t, turns)
        steps = np.abs(np.diff(p, axis=0)).sum(1)  # the curve is axis-parallel: L1 = arc length
        total = 2 * sum(range(1, 2 * turns + 1)) / turns
        np.testing.assert_allclose(steps, total / 2000, rtol=1e-9)
        assert np.abs(p).max() <= 1.0 + 1e-12


def _slow_linear_cka(X, Y):
    """The obvious implementation: HSIC of the linear kernels with an explicit centring matrix."""
    X = np.asarray(X, float).reshape(len(X), -1)
    Y = np.asarray(Y, float).reshape(len(Y), -1)
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T

    def hsic(A, B):
        return np.trace(A @ H @ B @ H) / (n - 1) ** 2

    return hsic(K, L) / math.sqrt(hsic(K, K) * hsic(L, L))


def test_linear_cka_matches_the_slow_implementation(spaces):
    rng = np.random.default_rng(0)
    for p, q in ((1, 1), (2, 3), (5, 2)):
        X, Y = rng.normal(size=(30, p)), rng.normal(size=(30, q)) + 0.5 * rng.normal(size=(30, 1))
        assert linear_cka(X, Y) == pytest.approx(_slow_linear_cka(X, Y), rel=1e-10, abs=1e-13)
        assert kernel_cka(X @ X.T, Y @ Y.T) == pytest.approx(linear_cka(X, Y), rel=1e-10, abs=1e-13)
    for a in SPACE_NAMES:
        for b in ("spiral_sharp", "line", "clusters_side"):
            assert linear_cka(spaces[a].mu, spaces[b].mu) == pytest.approx(
                _slow_linear_cka(spaces[a].mu, spaces[b].mu), rel=1e-10, abs=1e-13)


def test_linear_cka_is_one_for_itself_and_invariant(spaces):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    Y = X[:, :2] ** 2 + rng.normal(size=(40, 2))
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    base = linear_cka(X, Y)
    assert linear_cka(X, X) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(X, Y) == pytest.approx(linear_cka(Y, X), abs=1e-14)
    assert linear_cka(X @ Q, Y) == pytest.approx(base, rel=1e-10)           # rotation
    assert linear_cka(7.5 * X, 0.01 * Y) == pytest.approx(base, rel=1e-10)  # isotropic scaling
    assert linear_cka(X + 3.0, Y - 1.0) == pytest.approx(base, rel=1e-10)   # translation
    assert 0.0 <= base <= 1.0
    for s in spaces.values():
        assert linear_cka(s.mu, s.mu) == pytest.approx(1.0, abs=1e-12)
        if s.dim == 2:
            R = np.array([[0.6, -0.8], [0.8, 0.6]])
            assert linear_cka(s.mu @ R * 3.0, spaces["line"].mu) == pytest.approx(
                linear_cka(s.mu, spaces["line"].mu), rel=1e-10, abs=1e-13)
    with pytest.raises(ValueError, match="constant"):
        linear_cka(np.ones((10, 2)), X[:10])
    with pytest.raises(ValueError, match="same N"):
        linear_cka(X, Y[:10])
    with pytest.raises(ValueError, match="N x N"):
        kernel_cka(np.eye(3), np.eye(4))


def test_discrete_clustering_fingerprints(spaces):
    D = np.stack([infofrag.bhattacharyya(spaces[n].mu, spaces[n].logvar, dtype="float64")
                  for n in ("clusters_quartile", "clusters_side")])
    # a hard clustering: C = exp(-D) is 1 within a cluster and (below 1e-80) 0 across
    labels = np.unique(spaces["clusters_quartile"].mu, axis=0, return_inverse=True)[1].ravel()
    np.testing.assert_allclose(np.exp(-D[0]), np.exp(-infofrag.labels_to_distances(labels)), rtol=0, atol=1e-80)
    assert float(infofrag.information(D[0])) == pytest.approx(2.0, abs=1e-12)
    # NMI of each clustering against itself (computed, not the all-pairs diagonal convention)
    nmi, vi = infofrag.similarity(D, D)
    np.testing.assert_allclose(np.diag(nmi), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.diag(vi), 0.0, atol=1e-12)


def test_replace_block(script, tmp_path):
    md = tmp_path / "r.md"
    md.write_text(f"intro\n{script.BEGIN}\nold\n{script.END}\noutro\n")
    script.replace_block(md, ["new", "lines"])
    assert md.read_text() == f"intro\n{script.BEGIN}\nnew\nlines\n{script.END}\noutro\n"
    md.write_text("no markers\n")
    with pytest.raises(SystemExit, match="needs exactly one"):
        script.replace_block(md, ["x"])


def test_reduced_pipeline_computes_every_measure(script):
    res = script.compute(n_points=16, seed=0, mc_samples=40, mc_repeats=2, mc_seed=0)
    M = len(SPACE_NAMES)
    for key in ("nmi_fp", "vi_fp", "nmi_mc", "nmi_mc_se", "vi_mc", "vi_mc_se", "cka_linear", "cka_bhatt"):
        assert res[key].shape == (M, M) and np.all(np.isfinite(res[key])), key
        np.testing.assert_allclose(res[key], res[key].T, atol=1e-12, err_msg=key)
    assert np.all(res["nmi_mc_se"][~np.eye(M, dtype=bool)] >= 0)
    np.testing.assert_allclose(np.diag(res["cka_linear"]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.diag(res["cka_bhatt"]), 1.0, atol=1e-12)
    # the hard clusterings are exact under both estimators
    q = SPACE_NAMES.index("clusters_quartile")
    assert res["i_fp"][q] == pytest.approx(2.0, abs=1e-12)
    assert res["i_mc"][q, 0] == pytest.approx(2.0, abs=1e-9)
    S = res["spearman"]
    assert S.shape == (6, 6) and np.allclose(S, S.T) and np.allclose(np.diag(S), 1.0)
    assert np.all(np.abs(S) <= 1.0 + 1e-12)
    assert len(script.off_diagonal(res["nmi_fp"])) == M * (M - 1) // 2


def test_reduced_run_writes_tables_and_figure(script, tmp_path):
    md = tmp_path / "replication.md"
    md.write_text(f"# title\n\n{script.BEGIN}\nold\n{script.END}\n\ntail\n")
    fig = tmp_path / "figures" / "synthetic_spaces.png"
    _, seconds, lines = script.run(n_points=16, mc_samples=20, mc_repeats=2, markdown_path=md, figure_path=fig,
                                   json_path=tmp_path / "r.json", command="reduced")
    text = md.read_text()
    assert text.startswith("# title\n\n" + script.BEGIN) and text.endswith(script.END + "\n\ntail\n")
    assert "old" not in text and "| **sharp** |" in text and "Spearman" in text
    assert "figures/synthetic_spaces.png" in text and f"in **{seconds:.0f} s**" in text
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # writing again replaces the block instead of adding another
    script.replace_block(md, lines)
    assert md.read_text() == text
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["names"] == list(SPACE_NAMES) and len(saved["spearman"]) == 6
