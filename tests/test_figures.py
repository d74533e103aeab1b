"""Figures: every function writes a non-empty PNG, also when there is nothing (or little) to draw."""

import numpy as np
import pytest
import torch

from infofrag import figures
from infofrag.hotspots import find_hotspots

from test_hotspots import make_store

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
    figures.plot_per_beta(res, tmp_path / "per_beta.png")
    figures.plot_traversals({}, tmp_path / "trav.png", message=res["message"])
    for name in ("overview", "per_beta", "trav"):
        assert_png(tmp_path / f"{name}.png")


def test_per_beta(tmp_path):
    ds, _ = make_store()
    figures.plot_per_beta(find_hotspots(ds, min_samples=3), tmp_path / "per_beta.png")
    assert_png(tmp_path / "per_beta.png")
    figures.plot_per_beta({"per_beta": [], "message": "empty store"}, tmp_path / "empty.png")
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
