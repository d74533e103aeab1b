"""Members trained elsewhere: a checkpoint of another architecture loaded through the user's own
entry point, and a posteriors file written by numpy, mixed with trained members."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from helpers.runs import ROOT, copy_run, planned_jobs, snakemake, write_config

TESTS = Path(__file__).resolve().parent
ENTRY = "entry_points.tiny_encoder"


@pytest.fixture
def entry_points_importable(monkeypatch):
    """The test folder on PYTHONPATH, as a user's own package would be installed."""
    monkeypatch.setenv("PYTHONPATH", str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.syspath_prepend(str(TESTS))


def cli(work, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "infofrag", *args], cwd=work, capture_output=True, text=True,
                          env=env, timeout=300)


def make_zoo(work: Path) -> dict:
    """The run's sample (python -m infofrag sample), a tiny model trained on it and saved with
    torch.save, and posteriors computed by numpy."""
    from entry_points import tiny_encoder

    write_config(work)
    proc = cli(work, "sample", "config.yaml", "--out", "sample.npz")
    assert proc.returncode == 0, proc.stderr
    s = np.load(work / "sample.npz")
    zoo = work / "zoo"
    zoo.mkdir()
    model = tiny_encoder.train(torch.from_numpy(s["x"]))
    torch.save(model.state_dict(), zoo / "tiny.pt")
    x = s["x"].reshape(len(s["x"]), -1)
    xc = x - x.mean(0)
    _, sv, vt = np.linalg.svd(xc, full_matrices=False)
    mu = xc @ vt[:2].T / sv[:2] * 8.0  # the two leading principal components
    np.savez(zoo / "pca.npz", mu=mu, logvar=np.full_like(mu, -2.0), sample_digest=s["sample_digest"])
    return {"digest": str(s["sample_digest"]), "x": s["x"], "model": model, "mu": mu}


IMPORTED = [
    {"name": "tiny1", "checkpoint": "zoo/tiny.pt", "entry_point": f"{ENTRY}:load", "latent_dim": 2},
    {"name": "tiny2", "checkpoint": "zoo/tiny.pt", "entry_point": f"{ENTRY}:load_encoder_only", "latent_dim": 2,
     "method": "bare-encoder"},
    {"name": "pca1", "posteriors": "zoo/pca.npz", "method": "pca"},
]


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory, finished_run):
    """The finished test run with three imported members added: its trained members are reused,
    the imported ones go through every stage after training."""
    old = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(TESTS) + os.pathsep + old
    sys.path.insert(0, str(TESTS))
    try:
        work = copy_run(finished_run, tmp_path_factory.mktemp("zoo") / "w")
        zoo = make_zoo(work)
        write_config(work, ensemble__imported=IMPORTED)
        snakemake(work, "--cores", "2")
        yield work, zoo
    finally:
        os.environ["PYTHONPATH"] = old
        sys.path.remove(str(TESTS))


@pytest.mark.slow
def test_adding_imported_members_reruns_none_of_the_trained_ones(zoo_run, finished_run):
    """The importer's code entered every member's code digest once an imported member was
    configured: the trained members were encoded, fingerprinted and scored again, and their
    shards recomputed. Their records are now those of the finished run, untouched."""
    work, _ = zoo_run
    records = [f"posteriors/{m}.zarr.prov.json" for m in ("b1_s0", "b1_s1", "b4_s0", "b4_s1")]
    records += [f"fingerprints/{m}.zarr.prov.json" for m in ("b1_s0", "b4_s1")]
    records += ["scores/b1_s0.json.prov.json", "similarity/shards/b1-0__b4-1.zarr.prov.json"]
    for rec in records:
        assert (work / "results" / rec).read_bytes() == (finished_run / "results" / rec).read_bytes(), rec


@pytest.mark.slow
def test_imported_members_go_through_every_stage(zoo_run):
    work, zoo = zoo_run
    ds = xr.open_zarr(work / "results" / "similarity.zarr")
    members = list(ds["member_id"].values)
    # trained members first, then the imported ones by name; each labelled by its method, or
    # (none given) its own name: its own group
    assert members[-3:] == ["pca1", "tiny1", "tiny2"] and len(members) == 7, members
    assert list(ds["member_method"].values[-3:]) == ["pca", "tiny1", "bare-encoder"]
    assert np.isnan(ds["member_value"].values[-3:]).all() and (ds["member_seed"].values[-3:] == -1).all()
    # the posteriors are the user's model's, on the run's sample; and numpy's, as written
    post = xr.open_zarr(work / "results" / "posteriors" / "tiny1.zarr")
    with torch.no_grad():
        mu, _ = zoo["model"].encode(torch.from_numpy(zoo["x"]))
    np.testing.assert_allclose(post["mu"].values, mu.numpy(), rtol=1e-6, atol=1e-6)
    pca = xr.open_zarr(work / "results" / "posteriors" / "pca1.zarr")
    np.testing.assert_allclose(pca["mu"].values, zoo["mu"].astype(np.float32))
    for m in ("tiny1", "pca1"):
        assert (work / "results" / "scores" / f"{m}.json").exists()
        assert (work / "results" / "fingerprints" / f"{m}.zarr").exists()
    # provenance: the user's file by digest, the entry point and its module's digest
    rec = json.loads((work / "results" / "posteriors" / "tiny1.zarr.prov.json").read_text())
    external = [e for e in rec["inputs"] if e.get("external")]
    assert [Path(e["path"]).name for e in external] == ["tiny.pt"]
    used = rec["config_used"]["member:tiny1"]
    assert used["entry_point"] == f"{ENTRY}:load" and len(used["module_digest"]) == 64
    assert used["digest"] == external[0]["sha256"]
    proc = cli(work, "audit", "results/summary/summary.html", "--config", "config.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_replacing_one_imported_file_reruns_only_its_jobs(zoo_run, tmp_path):
    work, zoo = zoo_run
    data = dict(np.load(work / "zoo" / "pca.npz"))
    data["mu"] = data["mu"][:, ::-1].copy()
    np.savez(work / "zoo" / "pca.npz", **data)
    try:
        jobs = planned_jobs(work)
    finally:
        np.savez(work / "zoo" / "pca.npz", mu=zoo["mu"], logvar=np.full_like(zoo["mu"], -2.0),
                 sample_digest=np.array(zoo["digest"]))
    # pca1 is alone in block pca-0 of 7 blocks: the shards that contain it are 7 of 28
    assert jobs == {"encode": 1, "scores": 1, "fingerprint": 1, "similarity": 7, "gather": 1, "hotspots": 1,
                    "boost": 1, "summary": 1, "explore": 1, "all": 1, **({"spaces": 7, "spaces_gather": 1}
                                                            if "spaces" in jobs else {})}, jobs


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["another sample", "NaN", "wrong size"])
def test_a_bad_posteriors_file_is_refused_naming_it(zoo_run, tmp_path, problem):
    import shutil

    src, zoo = zoo_run
    work = tmp_path / "w"
    shutil.copytree(src, work, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    bad = tmp_path / "bad.npz"
    mu = zoo["mu"].copy()
    digest = zoo["digest"]
    if problem == "another sample":
        digest = "0" * 64
    elif problem == "NaN":
        mu[5, 1] = np.nan
    else:
        mu = mu[:50]
    np.savez(bad, mu=mu, logvar=np.full_like(mu, -2.0), sample_digest=np.array(digest))
    write_config(work, ensemble__imported=IMPORTED + [{"name": "bad1", "posteriors": str(bad)}])
    proc = snakemake(work, "--cores", "1", "results/posteriors/bad1.zarr", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    expected = {"another sample": "encodes another fingerprint sample",
                "NaN": "mu[5, 1] = nan is NaN/inf (1 NaN/inf value(s) of mu in all",
                "wrong size": "holds 50 points, the fingerprint sample has 64"}[problem]
    assert f"{bad}" in text and expected in text, text[-3000:]
    assert not (work / "results" / "posteriors" / "bad1.zarr").exists()


def test_traversals_are_skipped_with_a_note_for_members_without_a_decoder(tmp_path, entry_points_importable):
    from entry_points import tiny_encoder

    from infofrag.stages.hotspots import traversal_images
    from infofrag.store import posteriors

    torch.save(tiny_encoder.TinyAutoencoder().state_dict(), tmp_path / "t.pt")
    rng = np.random.default_rng(0)
    for m in ("tiny1", "pca1"):
        posteriors.write(tmp_path / f"{m}.zarr", rng.standard_normal((20, 2)), np.zeros((20, 2)), m)
    result = {"hotspots": [
        {"id": 0, "representative": {"member": "tiny1", "channel": 1}, "by_distance": [["tiny1", 1], ["pca1", 0]]},
        {"id": 1, "representative": {"member": "pca1", "channel": 0}, "by_distance": [["pca1", 0], ["pca1", 1]]},
        {"id": 2, "representative": {"member": "pca1", "channel": 1}, "by_distance": [["pca1", 1], ["tiny1", 0]]}]}
    decoders = {"tiny1": {"kind": "checkpoint", "checkpoint": str(tmp_path / "t.pt"),
                          "entry_point": f"{ENTRY}:load", "latent_dim": 2}, "pca1": None}
    paths = {m: tmp_path / f"{m}.zarr" for m in ("tiny1", "pca1")}
    images, note = traversal_images(result, decoders, paths, n_steps=5)
    # hotspot 2's representative has no decoder: drawn with its nearest channel that has one
    assert list(images) == ["hotspot 0: tiny1 ch1", "hotspot 2: tiny1 ch0"]
    assert images["hotspot 0: tiny1 ch1"].shape == (5, 32, 32)
    assert note == "no traversal for hotspot 1: no member of it has a decoder"
    h0, h1, h2 = result["hotspots"]
    assert h0["traversal"] == {"member": "tiny1", "channel": 1}
    assert "no member of this hotspot has a decoder" in h1["traversal"]["none"]
    assert h2["traversal"]["member"] == "tiny1" and h2["traversal"]["channel"] == 0
    assert "the representative pca1:1 has no decoder" in h2["traversal"]["note"]


def test_an_imported_model_encodes_in_inference_mode(tmp_path, entry_points_importable):
    """A module the entry point returns in training mode is switched to inference: no dropout,
    batch norm from its running statistics, so a point's posterior does not depend on its batch."""
    import numpy as np

    from infofrag.imported import ImportedModel

    model = ImportedModel(tmp_path / "unused.pt", "entry_points.dropout_encoder:load", 2)
    x = np.random.default_rng(0).random((20, 1, 4, 4), dtype=np.float32)
    mu_all, lv_all = model.encode(x)
    mu_one, lv_one = model.encode(x[:3], points_per_pass=1)
    assert not model._module.training
    np.testing.assert_allclose(mu_all[:3], mu_one, rtol=1e-5, atol=1e-6)  # float32 GEMM rounding
    np.testing.assert_allclose(lv_all[:3], lv_one, rtol=1e-5, atol=1e-6)
