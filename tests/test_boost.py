"""Boosting: fusion by gradient ascent on the similarity objectives, continuity, the circle demo."""

import json
import math

import numpy as np
import pytest
import torch

import infofrag
from infofrag import boost
from infofrag.boost import fuse
from infofrag.circle_fusion import continuity, ensemble_size_sweep

torch.set_num_threads(1)


def circle_angles(n, seed=0):
    """Nearly evenly spaced angles (jittered), so a perfect circle embedding has continuity ~1."""
    rng = np.random.default_rng(seed)
    return (np.arange(n) + rng.uniform(-0.25, 0.25, n)) * 2 * np.pi / n


def torn_channel(theta, tear, sd=0.15):
    """A weak learner: a 1-D channel that unrolls the circle, torn at angle ``tear``."""
    mu = np.mod(theta - tear, 2 * np.pi)[:, None]
    return mu, np.full_like(mu, 2 * np.log(sd))


def torn_fingerprints(theta, tears, sd=0.15):
    return np.stack([infofrag.bhattacharyya(*torn_channel(theta, t, sd)) for t in tears]).astype(np.float32)


@pytest.fixture(scope="module")
def circle():
    theta = circle_angles(64, seed=3)
    tears = np.random.default_rng(4).uniform(0, 2 * np.pi, 6)
    return theta, torn_fingerprints(theta, tears)


# ------------------------------------------------------------------------------------- fuse


@pytest.mark.parametrize("objective", ["nmi", "vi", "info", "nmi_shifted"])
def test_fuse_improves_its_objective_and_returns_finite_posteriors(circle, objective):
    theta, D = circle
    res = fuse(D[:3], dim=2, objective=objective, steps=60, lr=0.05, log_every=0)
    assert res.status == "ok", res.message
    assert res.mu.shape == (64, 2) and res.logvar.shape == (64, 2)
    assert res.mu.dtype == np.float32 and res.logvar.dtype == np.float32
    assert np.isfinite(res.mu).all() and np.isfinite(res.logvar).all()
    lo, hi = boost.LOGVAR_BOUNDS
    assert res.logvar.min() >= lo - 1e-5 and res.logvar.max() <= hi + 1e-5
    # Means are centred with unit RMS radius (the scale the log-variance bounds refer to).
    np.testing.assert_allclose(res.mu.mean(0), 0, atol=1e-5)
    assert math.isclose(float(np.sqrt((res.mu**2).sum(1).mean())), 1.0, rel_tol=1e-4)
    assert len(res.curve) == res.steps_run == 60
    better = (lambda a, b: a < b) if objective == "vi" else (lambda a, b: a > b)
    assert better(res.curve[-1], res.curve[0])
    assert math.isfinite(res.info_bits) and res.info_bits > 0
    # The reported measures are those of the returned parameters, recomputed independently in
    # float64. fuse evaluates them in float32 (fingerprint, coefficients and Gram products; sums
    # over rows in float64): each information term to float32's relative precision, ~1e-7 of a
    # few bits. Measured here: at most 1.5e-7 (VI), 3e-8 (NMI), 7e-8 (shared bits), 1e-8 (I).
    Df = infofrag.bhattacharyya(res.mu.astype(np.float64), res.logvar.astype(np.float64))
    nmi, vi, t = infofrag.similarity(Df[None], D[:3].astype(np.float64), return_terms=True)
    assert res.mean_nmi == pytest.approx(float(np.mean(nmi)), abs=1e-6)
    assert res.mean_vi == pytest.approx(float(np.mean(vi)), abs=1e-6)
    assert res.mean_shared_bits == pytest.approx(float(np.mean(t.shared)), abs=1e-6)
    assert res.info_bits == pytest.approx(float(infofrag.information(Df)), abs=1e-6)
    # The authors' NMI: every information term lowered by log2 N.
    L = math.log2(64)
    shifted = (t.shared - L) / np.sqrt((L - t.h_a) * (L - t.h_b))
    expected = {"nmi": res.mean_nmi, "vi": res.mean_vi, "info": res.mean_shared_bits,
                "nmi_shifted": float(np.mean(shifted))}
    assert res.mean_similarity == pytest.approx(expected[objective], abs=1e-6)
    json.dumps(res.summary(), allow_nan=False)


def test_shifted_nmi_is_the_classic_formula_shifted_and_peaks_at_minus_one():
    """Hard clusterings: the fingerprint terms are the classic entropies and mutual information,
    and the shifted NMI is (MI - log2 N) / sqrt((H_U - log2 N)(H_V - log2 N)); identical
    clusterings give -1, every other pair less."""
    rng = np.random.default_rng(0)
    u, v = rng.integers(0, 4, 40), rng.integers(0, 3, 40)

    def entropy(labels):
        p = np.unique(labels, return_counts=True)[1] / labels.size
        return float(-(p * np.log2(p)).sum())

    h_u, h_v, h_uv = entropy(u), entropy(v), entropy(u * 10 + v)
    L = math.log2(40)
    Du, Dv = (torch.as_tensor(infofrag.labels_to_distances(x[None]), dtype=torch.float64) for x in (u, v))
    terms = boost._measures_of(Du[0], Dv)
    want = (h_u + h_v - h_uv - L) / math.sqrt((h_u - L) * (h_v - L))
    assert float(terms["nmi_shifted"][0]) == pytest.approx(want, rel=1e-12)
    assert float(terms["nmi"][0]) == pytest.approx((h_u + h_v - h_uv) / math.sqrt(h_u * h_v), rel=1e-12)
    assert float(boost._measures_of(Du[0], Du)["nmi_shifted"][0]) == pytest.approx(-1.0, rel=1e-12)
    assert want < -1.0


def test_fuse_copies_a_single_channel():
    theta = circle_angles(48)
    mu, lv = torn_channel(theta, 1.0, sd=0.2)
    D = infofrag.bhattacharyya(mu, lv)
    res = fuse(D, dim=1, objective="nmi", steps=80, lr=0.05, log_every=0)
    assert res.status == "ok"
    # A copy: NMI 0.99998 after these 80 steps, and the target's 2.735 bits to 0.0033 (the
    # residual of the optimisation, shrinking with more steps: 0.0012 after 1,000).
    assert res.mean_nmi > 0.9995
    assert abs(res.info_bits - float(infofrag.information(D))) < 0.01


@pytest.mark.parametrize("init", ["spectral", "random"])
def test_fuse_is_deterministic(circle, init):
    _, D = circle
    a = fuse(D, steps=15, seed=5, init=init, log_every=0)
    b = fuse(D, steps=15, seed=5, init=init, log_every=0)
    np.testing.assert_array_equal(a.mu, b.mu)
    np.testing.assert_array_equal(a.logvar, b.logvar)
    assert a.curve == b.curve


def test_fuse_accepts_an_init_at_any_scale(circle):
    theta, D = circle
    mu0 = 50.0 * np.stack([np.cos(theta), np.sin(theta)], 1)
    lv0 = np.full_like(mu0, 2 * np.log(50.0 * 0.1))  # same shape of posteriors, 50x larger
    res = fuse(D, init=(mu0, lv0), steps=1, lr=1e-9, log_every=0)
    ref = fuse(D, init=(mu0 / 50.0, lv0 - 2 * np.log(50.0)), steps=1, lr=1e-9, log_every=0)
    assert res.curve[0] == pytest.approx(ref.curve[0], rel=1e-5)


def test_fuse_large_learning_rate_stays_finite(circle):
    _, D = circle
    res = fuse(D, objective="nmi", steps=40, lr=5.0, log_every=0)
    assert np.isfinite(res.mu).all() and np.isfinite(res.logvar).all()
    assert res.status == "ok" and all(math.isfinite(v) for v in res.curve)


@pytest.mark.parametrize("failure", ["nan", "raise"])
def test_fuse_divergence_stops_with_a_status_not_an_exception(circle, monkeypatch, caplog, failure):
    _, D = circle
    real = boost._StepMeasures.__call__
    calls = {"n": 0}

    def poisoned(self, mu, logvar):
        calls["n"] += 1
        t = real(self, mu, logvar)
        if calls["n"] > 5:
            if failure == "raise":  # what the estimators do on non-finite intermediates
                raise FloatingPointError("similarity: non-finite intermediate result")
            return {name: x * float("nan") for name, x in t.items()}
        return t

    monkeypatch.setattr(boost._StepMeasures, "__call__", poisoned)
    res = fuse(D, steps=50, log_every=0)
    assert res.status == "diverged"
    assert "step 5" in res.message and "non-finite" in res.message
    assert res.steps_run == len(res.curve) == 5
    assert all(math.isfinite(v) for v in res.curve)
    # The parameters returned are the last finite ones, never NaN arrays.
    assert np.isfinite(res.mu).all() and np.isfinite(res.logvar).all()
    assert res.summary()["status"] == "diverged"
    json.dumps(res.summary(), allow_nan=False)
    assert any("diverged" in r.message for r in caplog.records)


def test_fuse_rejects_bad_input(circle):
    _, D = circle
    with pytest.raises(ValueError, match="objective"):
        fuse(D, objective="mutual")
    bad = D.copy()
    bad[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match="target_D contains NaN"):
        fuse(bad, steps=2)
    with pytest.raises(ValueError, match="target_D must have shape"):
        fuse(D[:, :, :-1], steps=2)
    with pytest.raises(ValueError, match="init must be"):
        fuse(D, init=(np.zeros((3, 2)), np.zeros((3, 2))), steps=2)
    with pytest.raises(ValueError, match="init must be"):
        fuse(D, init="pca", steps=2)
    with pytest.raises(ValueError, match="steps"):
        fuse(D, steps=0)
    neg = D.copy()
    neg[0, 1, 2] = -0.5
    with pytest.raises(ValueError, match="target_D contains negative"):
        fuse(neg, steps=2)
    diag = D.copy()
    diag[1, 3, 3] = 0.5
    with pytest.raises(ValueError, match="target_D must have a zero diagonal"):
        fuse(diag, steps=2)


def test_fuse_accepts_hard_clusterings_as_targets():
    labels = np.repeat(np.arange(4), 12)
    D = infofrag.labels_to_distances(labels)
    res = fuse(D, dim=2, objective="nmi", steps=60, lr=0.05, log_every=0)
    assert res.status == "ok"
    # Four equal clusters: 2 bits. After these 60 steps the soft fused channel has NMI 1.000002
    # (soft channels may exceed 1 by a little) and 1.984 bits.
    assert abs(res.mean_nmi - 1.0) < 1e-3
    assert res.info_bits == pytest.approx(2.0, abs=0.05)


def test_fuse_with_plain_sgd(circle):
    """The authors' protocol: plain gradient steps (here 50 of the 20,000, lr 3.0)."""
    _, D = circle
    res = fuse(D, objective="nmi", steps=50, lr=3.0, optimizer="sgd", log_every=0)
    assert res.status == "ok" and res.params["optimizer"] == "sgd"
    assert res.curve[-1] > res.curve[0]
    assert fuse(D, steps=1, log_every=0).params["optimizer"] == "adam"
    with pytest.raises(ValueError, match="optimizer"):
        fuse(D, steps=1, optimizer="lbfgs")


# ------------------------------------------------------- the optimisation steps' dedicated path


def _general_path_only(monkeypatch):
    monkeypatch.setattr(boost, "hot_path_supports", lambda *args: False)


def _targets_for_terms(N, seed=0):
    """float32 targets of every kind: torn circle channels, a weak channel, a hard clustering."""
    theta = circle_angles(N, seed=seed)
    D = list(torn_fingerprints(theta, np.random.default_rng(seed).uniform(0, 2 * np.pi, 3)))
    D.append(infofrag.bhattacharyya(*torn_channel(theta, 0.5, sd=40.0)).astype(np.float32))  # ~1e-4 bits
    D.append(infofrag.labels_to_distances(np.arange(N) % 3, dtype=np.float32))
    return torch.from_numpy(np.stack(D))


def _fused_posteriors(N, kind, dtype=torch.float64, seed=0):
    """(mu, logvar) [N, 2]: rows of every kind of the fused channel -- 'informative' (no centred
    row), 'weak' (all rows nearly constant, centred) or 'mixed' (a dense cluster: centred, and
    outliers: not)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(N, 2, generator=g, dtype=torch.float64)
    lv = torch.rand(N, 2, generator=g, dtype=torch.float64) * -5.0 - 1.0
    if kind == "weak":
        lv = 2 * math.log(30.0) + 0.3 * torch.randn(N, 2, generator=g, dtype=torch.float64)
    elif kind == "mixed":
        mu = 0.01 * mu
        mu[: N // 10] += 3.0
        lv = 2 * math.log(0.3) + 0.3 * torch.randn(N, 2, generator=g, dtype=torch.float64)
    return boost._normalise(mu).to(dtype), lv.to(dtype)


@pytest.mark.parametrize("kind", ["informative", "weak", "mixed"])
def test_step_terms_are_the_estimators_terms(kind):
    """The dedicated path gives what similarity_terms gives for (D_fused[None], targets): the
    shared information with each target, the fused and the targets' H, in bits, and their
    gradient -- to float32 rounding, as the general (autograd) float32 path does, both measured
    against a float64 computation."""
    from infofrag.estimators._fusion import FusedTerms, FusionTargets, _forward

    N = 120
    targets = _targets_for_terms(N)
    mu, lv = _fused_posteriors(N, kind)
    prepared = FusionTargets(targets, torch.float32, torch.device("cpu"))
    centred = _forward(mu.float(), lv.float(), prepared)[2].centred
    n_centred = 0 if centred is None else len(centred)
    assert {"informative": n_centred == 0, "weak": n_centred == N, "mixed": 0 < n_centred < N}[kind]
    weights = torch.linspace(0.5, 1.5, targets.shape[0], dtype=torch.float64)

    def evaluate(path, dtype):
        m = mu.detach().clone().to(dtype).requires_grad_(True)
        v = lv.detach().clone().to(dtype).requires_grad_(True)
        if path == "dedicated":
            shared, h_a = FusedTerms.apply(m, v, prepared)
            h_b = prepared.h_bits
        else:
            t = infofrag.similarity_terms(infofrag.bhattacharyya(m, v)[None], targets.to(dtype))
            shared, h_a, h_b = t.shared[0], t.h_a[0], t.h_b
        (weights @ shared + 0.7 * h_a).backward()
        return [x.detach().double() for x in (shared, h_a, h_b, m.grad, v.grad)]

    ref = evaluate("general", torch.float64)
    for path in ("general", "dedicated"):
        shared, h_a, h_b, gmu, glv = evaluate(path, torch.float32)
        # bits, float32 rounding (measured on both paths: shared information within 7e-7 of its
        # value or 3e-8 bits, H within 3e-7)
        np.testing.assert_allclose(shared, ref[0], rtol=2e-6, atol=1e-7, err_msg=path)
        np.testing.assert_allclose(h_a, ref[1], rtol=1e-6, err_msg=path)
        np.testing.assert_allclose(h_b, ref[2], rtol=1e-6, err_msg=path)
        # gradients, relative error of the norm (measured on both paths: within 5e-7, and 5e-6
        # in mu for the 'mixed' channel, whose dense cluster has means 1e-2 apart)
        for got, want in ((gmu, ref[3]), (glv, ref[4])):
            assert float((got - want).norm() / want.norm()) < 2e-5, (path, kind)


@pytest.mark.parametrize("kind", ["informative", "weak", "mixed"])
def test_step_terms_gradient_is_exact(kind):
    """The hand-written backward pass against finite differences, in float64."""
    from infofrag.estimators._fusion import FusedTerms, FusionTargets

    N = 10
    targets = _targets_for_terms(N, seed=1).double()
    prepared = FusionTargets(targets, torch.float64, torch.device("cpu"))
    mu, lv = _fused_posteriors(N, kind, seed=2)
    weights = torch.linspace(0.5, 1.5, targets.shape[0], dtype=torch.float64)

    def f(m, v):
        shared, h_a = FusedTerms.apply(m, v, prepared)
        return weights @ shared + 0.7 * h_a, shared, h_a

    assert torch.autograd.gradcheck(f, (mu.requires_grad_(True), lv.requires_grad_(True)))
    # and in float64 the values are the estimators' to float64 rounding
    shared, h_a = FusedTerms.apply(mu.detach(), lv.detach(), prepared)
    t = infofrag.similarity_terms(infofrag.bhattacharyya(mu.detach(), lv.detach())[None], targets)
    np.testing.assert_allclose(shared, t.shared[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_a, t.h_a[0], rtol=1e-12)
    np.testing.assert_allclose(prepared.h_bits, t.h_b, rtol=1e-12)


@pytest.mark.parametrize("objective", ["nmi", "vi", "info", "nmi_shifted"])
def test_fuse_dedicated_and_general_paths_agree(circle, objective, monkeypatch):
    """The objective curve of the dedicated path is the estimators' to float32 rounding (measured:
    within 1e-7 over 60 steps), and so are the final measures."""
    _, D = circle
    fast = fuse(D, objective=objective, steps=60, log_every=0)
    _general_path_only(monkeypatch)
    slow = fuse(D, objective=objective, steps=60, log_every=0)
    np.testing.assert_allclose(fast.curve, slow.curve, rtol=0, atol=1e-6)
    for name in ("mean_nmi", "mean_vi", "mean_shared_bits", "info_bits"):
        assert getattr(fast, name) == pytest.approx(getattr(slow, name), abs=1e-5), name


def test_step_falls_back_to_the_estimators(circle, monkeypatch):
    """Log-variance bounds too wide for the dedicated path, targets too large for its memory bound,
    and any step where it is not finite, go through the estimators: the same fusion as with the
    estimators alone."""
    from infofrag.estimators._fusion import FusedTerms

    _, D = circle
    wide = (-40.0, 0.0)
    assert boost._StepMeasures(torch.from_numpy(D), boost._Bounds(*wide), torch.float32).prepared is None
    assert boost._StepMeasures(torch.from_numpy(D), boost._Bounds(-7.0, 0.0), torch.float32).prepared is not None
    from infofrag.estimators import _fusion

    with monkeypatch.context() as m:  # prepared targets beyond the memory bound
        m.setattr(_fusion, "MAX_PREPARED_BYTES", D.nbytes - 1)
        assert boost._StepMeasures(torch.from_numpy(D), boost._Bounds(-7.0, 0.0), torch.float32).prepared is None
    res = fuse(D, steps=10, logvar_bounds=wide, log_every=0)
    assert res.status == "ok" and res.curve[-1] > res.curve[0]

    nan = float("nan")
    monkeypatch.setattr(FusedTerms, "apply", lambda mu, lv, prep: (torch.full((prep.K,), nan, dtype=torch.float64),
                                                                   torch.tensor(nan, dtype=torch.float64)))
    patched = fuse(D, steps=10, log_every=0)
    _general_path_only(monkeypatch)
    general = fuse(D, steps=10, log_every=0)
    assert patched.curve == general.curve
    np.testing.assert_array_equal(patched.mu, general.mu)


# ---------------------------------------------------------------------------------- continuity


def test_continuity_of_a_seamless_and_a_torn_circle():
    theta = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    circ = np.stack([np.cos(theta), np.sin(theta)], 1)
    lv = np.full_like(circ, 2 * np.log(0.05))
    assert continuity(circ, lv, theta) == pytest.approx(1.0, abs=1e-6)
    torn_mu, torn_lv = torn_channel(theta, 2.0, sd=0.05)
    assert continuity(torn_mu, torn_lv, theta) > 50
    # Independent of the order the points come in.
    perm = np.random.default_rng(0).permutation(100)
    assert continuity(torn_mu[perm], torn_lv[perm], theta[perm]) == pytest.approx(
        continuity(torn_mu, torn_lv, theta))


def test_continuity_of_a_collapsed_embedding_is_nan_and_input_is_checked():
    theta = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    assert math.isnan(continuity(np.zeros((10, 2)), np.zeros((10, 2)), theta))
    with pytest.raises(ValueError, match="angles"):
        continuity(np.zeros((10, 2)), np.zeros((10, 2)), theta[:5])


# ------------------------------------------------------------------------------------- sweep


def test_ensemble_size_sweep_rows(circle):
    theta, D = circle
    rows = ensemble_size_sweep(D, sizes=(2, 3, 10), repeats=2, objectives=("nmi", "vi"), angles=theta,
                               seed=1, steps=5)
    assert len(rows) == 3 * 2 * 2
    json.dumps(rows, allow_nan=False)
    ok = [r for r in rows if r["status"] == "ok"]
    assert {r["size"] for r in ok} == {2, 3}
    assert all(r["continuity"] >= 1 and r["info_bits"] > 0 for r in ok)
    assert all(len(r["channels"]) == r["size"] == len(set(r["channels"])) for r in ok)
    # Both objectives fuse the same subset in a repeat (a paired comparison).
    for size in (2, 3):
        for rep in range(2):
            subsets = {tuple(r["channels"]) for r in ok if r["size"] == size and r["repeat"] == rep}
            assert len(subsets) == 1
    skipped = [r for r in rows if r["size"] == 10]
    assert all(r["status"] == "skipped" and r["continuity"] is None for r in skipped)
    with pytest.raises(ValueError, match="angles"):
        ensemble_size_sweep(D, sizes=(2,), repeats=1)


def test_ensemble_size_sweep_in_processes_gives_the_serial_rows_and_fits_a_subset_once(circle):
    theta, D = circle
    kw = dict(sizes=(2, 6), repeats=2, objectives=("nmi", "nmi_shifted"), angles=theta, seed=1, steps=8)
    serial = ensemble_size_sweep(D, workers=1, **kw)
    assert serial == ensemble_size_sweep(D, workers=2, **kw)
    # Size 6 is every channel: the second repeat is the first one's fit, said so in its rows.
    full = [r for r in serial if r["size"] == 6]
    assert [r.get("same_fit_as_repeat") for r in full] == [None, None, 0, 0]
    for a, b in zip(full[:2], full[2:]):
        assert {k: v for k, v in a.items() if k != "repeat"} == {
            k: v for k, v in b.items() if k not in ("repeat", "same_fit_as_repeat")}
    # A random start depends on the seed: every repeat is fitted.
    rand = ensemble_size_sweep(D, sizes=(6,), repeats=2, objectives=("nmi",), angles=theta, seed=1, steps=8,
                               init="random")
    assert "same_fit_as_repeat" not in rand[1] and rand[0]["continuity"] != rand[1]["continuity"]
    with pytest.raises(ValueError, match="workers"):
        ensemble_size_sweep(D, workers=0, **kw)


def test_ensemble_size_sweep_in_processes_runs_under_a_script_that_cannot_run_twice(tmp_path, circle):
    """A Snakemake job's script cannot be executed again outside its job (it needs the job's
    ``snakemake`` object): worker processes must not re-run the main script, as spawned ones do."""
    theta, D = circle
    np.save(tmp_path / "D.npy", D[:4])
    np.save(tmp_path / "theta.npy", theta)
    script = tmp_path / "job_script.py"
    script.write_text(
        "import json, sys\n"
        "import numpy as np\n"
        "assert __name__ == '__main__', 'the main script ran again in a worker'\n"
        "from infofrag.circle_fusion import ensemble_size_sweep\n"
        f"D, theta = np.load({str(tmp_path / 'D.npy')!r}), np.load({str(tmp_path / 'theta.npy')!r})\n"
        "rows = ensemble_size_sweep(D, sizes=(2, 3), repeats=2, objectives=('nmi',), angles=theta, seed=0,\n"
        "                           steps=3, workers=2)\n"
        "print(json.dumps([r['status'] for r in rows]))\n")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["ok"] * 4


# ------------------------------------------------------------------------- the paper's demo


@pytest.mark.slow
def test_circle_demo_continuity_improves_with_ensemble_size():
    """Torn 1-D weak learners fused into 2-D: the circle closes as the ensemble grows."""
    theta = circle_angles(100, seed=1)
    tears = np.random.default_rng(2).uniform(0, 2 * np.pi, 30)
    D = torn_fingerprints(theta, tears)
    sizes = (2, 5, 20)
    rows = ensemble_size_sweep(D, sizes=sizes, repeats=3, objectives=("nmi", "vi"), angles=theta,
                               seed=0, steps=100, lr=0.05)
    assert all(r["status"] == "ok" for r in rows)
    for objective in ("nmi", "vi"):
        med = {s: float(np.median([r["continuity"] for r in rows
                                   if r["objective"] == objective and r["size"] == s])) for s in sizes}
        # A torn pair is far apart (large ratio); twenty learners leave (almost) no tear.
        assert med[2] > med[5] > med[20], (objective, med)
        assert med[2] > 5 * med[20], (objective, med)
        assert med[20] < 3.0, (objective, med)


@pytest.mark.slow
def test_fused_representation_carries_more_information_than_any_single_channel():
    # Torn circle channels, shared-information objective: the 2-D fusion holds more than any one.
    theta = circle_angles(100, seed=5)
    D = torn_fingerprints(theta, np.random.default_rng(6).uniform(0, 2 * np.pi, 5))
    single = [float(infofrag.information(d)) for d in D]
    res = fuse(D, dim=2, objective="info", steps=150, lr=0.05, log_every=0)
    assert res.status == "ok"
    assert res.info_bits > max(single) + 1.0, (res.info_bits, single)

    # Independent fragments (the two coordinates of a grid), NMI objective: the fusion holds both.
    g = np.arange(10, dtype=float)
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    Dxy = np.stack([infofrag.bhattacharyya(xy[:, [k]], np.full((100, 1), 2 * np.log(0.4)))
                    for k in (0, 1)]).astype(np.float32)
    single = [float(infofrag.information(d)) for d in Dxy]
    res = fuse(Dxy, dim=2, objective="nmi", steps=150, lr=0.05, log_every=0)
    assert res.status == "ok"
    assert res.info_bits > max(single) + 1.0, (res.info_bits, single)


def test_targets_beyond_max_targets_are_the_largest_hotspots_or_the_most_informative_channels():
    """boost.max_targets bounds the fused targets (each held N x N): the representatives of the
    largest hotspots, in hotspot order, or the most informative channels; the note says so."""
    import xarray as xr

    from infofrag.stages.boost import choose_targets

    hot = {"status": "ok", "info_threshold": 0.01, "informative": ["a/0", "a/1", "b/0", "b/1"],
           "hotspots": [{"id": k, "size": size, "representative": {"member": "a" if k < 2 else "b", "channel": k % 2}}
                        for k, size in enumerate([3, 9, 5, 2])]}
    sim = xr.Dataset(coords={"channel_id": ("c", ["a/0", "a/1", "b/0", "b/1"]),
                             "info_bits": ("c", [0.5, 2.0, 1.0, 3.0]), "beta": ("c", [1.0, 1.0, 4.0, 4.0])})
    assert choose_targets(sim, hot, "hotspots") == (["a/0", "a/1", "b/0", "b/1"], "")
    ids, note = choose_targets(sim, hot, "hotspots", max_targets=2)
    assert ids == ["a/1", "b/0"] and "2 largest of 4 hotspots" in note
    ids, note = choose_targets(sim, hot, "ensemble", max_targets=2)
    assert ids == ["a/1", "b/1"] and "2 most informative of 4 channels" in note
    assert choose_targets(sim, hot, "beta", beta=4, max_targets=2) == (["b/0", "b/1"], "")
