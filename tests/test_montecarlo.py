"""Tests of infofrag.montecarlo: whole-space information, NMI and VI with standard errors."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import infofrag
from infofrag.montecarlo import Estimate, MonteCarloResult

N = 160


@pytest.fixture(scope="module")
def classes():
    return np.random.default_rng(0).permutation(np.arange(N) % 4)


@pytest.fixture(scope="module")
def spaces(classes):
    """Synthetic latent spaces over the same N data points, whose content one can reason about.

    Each data point has a position t on a curve and a class c (4 classes, independent of t).
    """
    rng = np.random.default_rng(1)
    t = rng.uniform(size=N)
    c = classes  # 4 equal classes

    def const(shape, sigma):
        return np.full(shape, np.log(sigma ** 2))

    theta = 3 * np.pi * t
    spiral = np.stack([(1 + t) * np.cos(theta), (1 + t) * np.sin(theta)], 1) * 2
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    return {
        # a line: t, finely resolved; the same line, coarsely resolved
        "line": (4 * t[:, None], const((N, 1), 0.1)),
        "line_coarse": (4 * t[:, None], const((N, 1), 0.6)),
        # a spiral in 2-D: t again, resolved even better (the curve is longer)
        "spiral": (spiral, const((N, 2), 0.1)),
        # discrete blobs: exactly the class (2 bits), and a blurred version of it
        "blobs": (centres[c] + 0.01 * rng.normal(size=(N, 2)), const((N, 2), 0.3)),
        "blobs_blurred": (0.35 * centres[c], const((N, 2), 0.8)),
        # unrelated noise: identifies points, but says nothing about t or c
        "noise": (rng.normal(size=(N, 1)), const((N, 1), 0.4)),
    }


def fingerprint(space):
    return infofrag.bhattacharyya(*space)


def test_blobs_carry_two_bits(spaces):
    r = infofrag.monte_carlo(*spaces["blobs"], n_samples=4000, seed=0)
    assert isinstance(r, MonteCarloResult) and isinstance(r.i_a, Estimate)
    assert abs(r.i_a.value - 2.0) < 4 * r.i_a.se + 1e-3
    # hard clustering: two draws carry exactly what one does, so 2 I_U - I_UU = I_U
    assert abs((2 * r.i_a.value - r.i_aa.value) - 2.0) < 0.02
    assert r.i_b is None and r.nmi is None and r.vi is None
    assert abs(infofrag.information(fingerprint(spaces["blobs"])) - 2.0) < 1e-3


def test_rank_agreement_information(spaces):
    names = sorted(spaces)
    mc = [infofrag.monte_carlo(*spaces[k], n_samples=3000, seed=1).i_a.value for k in names]
    fp = [float(infofrag.information(fingerprint(spaces[k]))) for k in names]
    rho = spearmanr(mc, fp).correlation
    assert rho == pytest.approx(1.0), dict(zip(names, zip(mc, fp)))
    # the fingerprint's Bhattacharyya estimate is a lower bound of I(U;X) (X uniform on the sample)
    for m, f, k in zip(mc, fp, names):
        assert f <= m + 0.05, k


def test_rank_agreement_nmi(spaces):
    names = sorted(spaces)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    mc, fp = {}, {}
    for a, b in pairs:
        r = infofrag.monte_carlo(*spaces[a], *spaces[b], n_samples=1500, seed=2)
        mc[a, b] = r.nmi.value
        nmi, _ = infofrag.similarity(fingerprint(spaces[a])[None], fingerprint(spaces[b])[None])
        fp[a, b] = float(nmi[0, 0])
    rho = spearmanr([mc[p] for p in pairs], [fp[p] for p in pairs]).correlation
    assert rho > 0.9, {p: (mc[p], fp[p]) for p in pairs}
    # under both estimators: spaces that encode the same thing are similar, unrelated ones are
    # not (the spiral resolves single points so well that it shares ~0.3 with any space that
    # tells points apart: a finite-sample effect both estimators agree on)
    related = [("line", "line_coarse"), ("line", "spiral"), ("line_coarse", "spiral"), ("blobs", "blobs_blurred")]
    for values in (mc, fp):
        assert min(values[p] for p in related) > 0.5
        assert max(values[p] for p in pairs if p not in related and "spiral" not in p) < 0.12


def test_self_comparison(spaces):
    r = infofrag.monte_carlo(*spaces["line"], *spaces["line"], n_samples=3000, seed=3)
    assert abs(r.nmi.value - 1.0) < 4 * r.nmi.se + 1e-3
    assert abs(r.vi.value) < 4 * r.vi.se + 1e-3
    # I(UV;X) of two independent draws is the two-draw term I_UU
    assert abs(r.i_ab.value - r.i_aa.value) < 4 * math.hypot(r.i_ab.se, r.i_aa.se)


def test_standard_errors_are_honest(spaces):
    """Spread of estimates over seeds matches the reported standard errors."""
    res = [infofrag.monte_carlo(*spaces["line_coarse"], *spaces["spiral"], n_samples=600, seed=s)
           for s in range(12)]
    for field in ("i_a", "i_ab", "vi", "nmi"):
        values = np.array([getattr(r, field).value for r in res])
        ses = np.array([getattr(r, field).se for r in res])
        spread = values.std(ddof=1)
        # stratified sampling makes the i.i.d. standard error conservative; allow noise in both
        assert 0.3 * ses.mean() < spread < 2.0 * ses.mean(), (field, spread, ses.mean())
    big = infofrag.monte_carlo(*spaces["line_coarse"], *spaces["spiral"], n_samples=4 * 600, seed=0)
    assert big.vi.se < 0.65 * np.mean([r.vi.se for r in res])


def test_reproducible_and_seeded(spaces):
    a = infofrag.monte_carlo(*spaces["line"], *spaces["blobs"], n_samples=500, seed=7)
    b = infofrag.monte_carlo(*spaces["line"], *spaces["blobs"], n_samples=500, seed=7)
    c = infofrag.monte_carlo(*spaces["line"], *spaces["blobs"], n_samples=500, seed=8)
    assert a == b and a != c
    d = a.as_dict()
    assert d["nmi"]["value"] == a.nmi.value and d["n_samples"] == 500 and d["n_points"] == N
    value, se = a.vi
    assert (value, se) == (a.vi.value, a.vi.se)


def test_torch_input_and_one_dimensional_arrays(spaces):
    mu, lv = spaces["line"]
    r1 = infofrag.monte_carlo(mu, lv, n_samples=300, seed=0)
    r2 = infofrag.monte_carlo(torch.tensor(mu[:, 0]), torch.tensor(lv[:, 0]), n_samples=300, seed=0)
    assert r1 == r2


def test_uninformative_spaces_follow_the_nmi_convention():
    mu = np.zeros((50, 2))
    lv = np.zeros((50, 2))
    informative = (np.arange(50.0)[:, None], np.full((50, 1), -4.0))
    r = infofrag.monte_carlo(mu, lv, mu, lv, n_samples=200, seed=0)
    assert r.nmi == Estimate(1.0, 0.0) and abs(r.i_a.value) < 1e-12
    r = infofrag.monte_carlo(mu, lv, *informative, n_samples=200, seed=0)
    assert r.nmi == Estimate(0.0, 0.0)
    for est in (r.i_a, r.i_b, r.i_ab, r.vi):
        assert math.isfinite(est.value) and math.isfinite(est.se)


@pytest.mark.parametrize("kwargs,name,problem", [
    (dict(mu_a=np.zeros((5, 1)), logvar_a=np.full((5, 1), np.nan)), "logvar_a", "finite"),
    (dict(mu_a=np.full((5, 1), np.inf), logvar_a=np.zeros((5, 1))), "mu_a", "finite"),
    (dict(mu_a=np.zeros((5, 2)), logvar_a=np.zeros((5, 1))), "logvar_a", "shape"),
    (dict(mu_a=np.zeros((1, 2)), logvar_a=np.zeros((1, 2))), "mu_a", "N >= 2"),
    (dict(mu_a=np.zeros((5, 2, 2)), logvar_a=np.zeros((5, 2, 2))), "mu_a", "[N, d]"),
    (dict(mu_a=np.zeros((5, 1)), logvar_a=np.zeros((5, 1)), mu_b=np.zeros((6, 1)),
          logvar_b=np.zeros((6, 1))), "mu_b", "same N"),
    (dict(mu_a=np.zeros((5, 1)), logvar_a=np.zeros((5, 1)), mu_b=np.zeros((5, 1))), "logvar_b", "together"),
    (dict(mu_a=np.zeros((5, 1)), logvar_a=np.zeros((5, 1)), n_samples=1), "n_samples", ">= 2"),
    (dict(mu_a=np.zeros((5, 1)), logvar_a=np.zeros((5, 1)), seed=1.5), "seed", "integer"),
])
def test_bad_input(kwargs, name, problem):
    with pytest.raises(ValueError) as err:
        infofrag.monte_carlo(**kwargs)
    assert name in str(err.value) and problem in str(err.value)


def test_an_entropy_estimate_at_or_below_zero_gives_an_unknown_error_not_a_crash():
    """Draws' noise can put 2 I(U;X) - I(UU';X) at or below 0 for a weak space that is not empty:
    the NMI's delta-method error has no derivative there, so it is NaN (the value stays the
    estimators' convention); a whole-space shard with such a member once failed on it."""
    from infofrag.montecarlo import _nmi_estimate

    mean = np.array([0.5, 1.2, 3.0, 4.0, 3.2])  # h_a = 2 * 0.5 - 1.2 < 0
    cov = np.eye(5) * 1e-4
    est = _nmi_estimate(mean, cov, floor=0.01)
    assert math.isnan(est.se)
    ok = _nmi_estimate(np.array([1.0, 1.5, 3.0, 4.0, 3.2]), cov, floor=0.01)
    assert np.isfinite(ok.value) and np.isfinite(ok.se) and ok.se > 0
