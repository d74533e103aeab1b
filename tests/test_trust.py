"""A rerun or an audit never certifies results that the code or the data no longer produce.

Each test starts from a copy of one completed run of config/test.yaml (``finished_run`` in conftest.py)
and changes one thing the way a user would: the code, a data file, a provenance record, the
tree that holds the results, the spelling or order of the config. docs/reliability.md lists
these cases with their outcome.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import runs
from helpers.runs import RES, audit, cli, copy_run, edit, private_checkout, snakemake, tree_digests
from helpers.runs import planned_jobs, write_config
from helpers.stores import weights

pytestmark = pytest.mark.slow


@pytest.fixture
def done(finished_run):
    return finished_run


@pytest.fixture
def work(run_copy):
    return run_copy


def plan(work, root, config="config.yaml"):
    return planned_jobs(work, config=config, root=root)


# =========================================================================== the code

def test_a_code_change_retrains_from_step_0(work, tmp_path):
    """Editing the loss reruns every member from step 0 (never 'resuming at step 40 of 40' under the
    new code's provenance): the resume key holds the code's digest."""
    root = private_checkout(tmp_path)
    before = {m: weights(work / RES / "members" / m / "model.pt") for m in ("b1_s0", "b4_s1")}
    # the beta-VAE objective's statement (not its mention in a docstring)
    edit(root / "infofrag" / "models" / "vae.py", "        total = recon + beta * kl.sum()\n",
         "        total = recon + 10.0 * beta * kl.sum()\n")
    assert plan(work, root)["train"] == 4
    snakemake(work, "--cores", "2", "--until", "train", root=root)  # what follows is not the point
    for m, old in before.items():
        log = (work / RES / "logs" / "train" / f"{m}.log").read_text()
        assert "resuming" not in log, log
        assert "was written by another version of the code; starting from step 0" in log, log
        new = weights(work / RES / "members" / m / "model.pt")
        assert any(not np.array_equal(old[k].numpy(), new[k].numpy()) for k in old)
    # only training was rerun: the hotspots were made from the models before, and the audit says so
    stale = audit(work, f"{RES}/hotspots/hotspots.json")
    assert stale.returncode == 1 and "members/b1_s0/model.pt" in stale.stdout, stale.stdout[-3000:]
    assert "digest mismatch" in stale.stdout


def test_a_comment_or_docstring_change_reruns_nothing(work, tmp_path):
    """The code digest is of behaviour: comments and docstrings do not count."""
    root = private_checkout(tmp_path)
    vae = root / "infofrag" / "models" / "vae.py"
    text = vae.read_text()
    vae.write_text("# a comment at the top\n" + text.replace('"""', '"""A docstring changed. ', 1))
    assert plan(work, root) == {}


def test_editing_the_estimators_plans_exactly_the_rules_they_decide(work, tmp_path):
    """A statement changed in the estimators reruns the shards and what reads them; never
    training, encoding, the scores or the fingerprints (their distances and information terms are
    computed by infofrag.measures)."""
    root = private_checkout(tmp_path)
    edit(root / "infofrag" / "estimators" / "_fast.py", "_CPU_CHUNK_BYTES = 8 * 2**20", "_CPU_CHUNK_BYTES = 9 * 2**20")
    jobs = plan(work, root)
    assert set(jobs) == {"similarity", "gather", "hotspots", "boost", "spaces", "spaces_gather",
                         "summary", "explore", "all"}, jobs


# =========================================================================== user data

@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A completed run on a user image file (images of the procedural dSprites, saved as .npy);
    two members, enough for every stage."""
    from infofrag import data

    work = tmp_path_factory.mktemp("images") / "w"
    (work / "data").mkdir(parents=True)
    ds = data.make_dataset({"name": "dsprites", "image_size": 32})
    idx = np.random.default_rng(0).choice(ds.n, 300, replace=False)
    np.save(work / "data" / "imgs.npy", ds.get(idx)[:, 0].astype(np.uint8))
    write_config(work, dataset={"name": "images", "path": "data/imgs.npy", "image_size": 32},
                 ensemble__seeds=[0])
    snakemake(work, "--cores", "2")
    return work


def test_changed_data_content_retrains_whatever_the_mtime(image_run, tmp_path):
    """New content of the same shape, with an older mtime: sample and every member rerun (the
    content digest is a param and part of the resume key), and the audit is clean afterwards."""
    work = copy_run(image_run, tmp_path / "w")
    path = work / "data" / "imgs.npy"
    imgs = np.load(path)
    stat = path.stat()
    np.save(path, imgs[::-1].copy())  # same shape, same values, other order: other content
    os.utime(path, (stat.st_atime - 3600, stat.st_mtime - 3600))
    jobs = planned_jobs(work, root=runs.code_root())
    assert jobs["sample"] == 1 and jobs["train"] == 2, jobs
    snakemake(work, "--cores", "2")
    log = (work / RES / "logs" / "train" / "b1_s0.log").read_text()
    assert "content of the data files; starting from step 0" in log, log
    proc = audit(work, f"{RES}/hotspots/hotspots.json", "--config", "config.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# =========================================================================== records

def test_a_deleted_record_is_an_integrity_error_and_an_audit_mismatch(work):
    """Delete the gathered store's record and edit one NMI value: the audit reports the missing
    record; the workflow takes the store for stale (a result without a record is never read),
    says so before any job, and gathers it again: the edited value is gone."""
    import xarray as xr

    store = work / RES / "similarity.zarr"
    (work / RES / "similarity.zarr.prov.json").unlink()
    ds = xr.open_zarr(store).load()
    nmi = ds["nmi"].values.copy()
    before = float(nmi[0, 1])
    nmi[0, 1] = nmi[1, 0] = 0.123
    ds["nmi"] = (("a", "b"), nmi)
    shutil.rmtree(store)
    ds.to_zarr(store, consolidated=True)
    proc = audit(work, f"{RES}/summary/summary.html")
    assert proc.returncode == 1
    assert "similarity.zarr.prov.json" in proc.stdout and "FAIL" in proc.stdout
    proc = snakemake(work, "--cores", "1", "--forcerun", "hotspots")
    text = proc.stdout + proc.stderr
    assert "gather: it has no provenance record" in text, text[-3000:]
    assert float(xr.open_zarr(store)["nmi"].values[0, 1]) == before
    assert audit(work, f"{RES}/summary/summary.html").returncode == 0


# =========================================================================== the audit

def test_the_audit_checks_the_tree_it_is_given(work, tmp_path):
    """A copy of the results is audited as itself, from any working directory."""
    shutil.copytree(work / RES, work / "archive1", symlinks=True)
    fp = work / "archive1" / "fingerprints" / "b1_s0.zarr"
    chunk = next(p for p in fp.rglob("*") if p.is_file() and "mu" in p.parts and p.name != "zarr.json")
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))
    assert audit(work, f"{RES}/hotspots/hotspots.json").returncode == 0  # the original is intact
    bad = audit(work, "archive1/hotspots/hotspots.json")
    assert bad.returncode == 1
    assert "archive1/fingerprints/b1_s0.zarr" in bad.stdout and "FAIL" in bad.stdout
    assert f"{work / 'archive1'}" in bad.stdout  # says which tree it checked
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for target in (work / RES, work / "archive1"):
        proc = cli(elsewhere, "audit", str(target / "hotspots" / "hotspots.json"))
        assert "missing" not in proc.stdout, proc.stdout
    assert cli(elsewhere, "audit", str(work / RES / "hotspots" / "hotspots.json")).returncode == 0
    link = tmp_path / "link"
    link.symlink_to(work / RES)
    assert cli(elsewhere, "audit", str(link / "hotspots" / "hotspots.json")).returncode == 0


@pytest.mark.parametrize("change", [dict(ensemble__seeds=[0, 1, 2]), dict(similarity__block_size=2)],
                         ids=["a seed added", "block size changed"])
def test_the_audit_reports_results_that_do_not_cover_the_config(work, change):
    write_config(work, **change)
    proc = audit(work, f"{RES}/hotspots/hotspots.json", "--config", "config.yaml")
    assert proc.returncode == 1, proc.stdout
    assert "coverage" in proc.stdout
    if "ensemble__seeds" in change:
        assert "member:b1_s2" in proc.stdout and "member:b4_s2" in proc.stdout
    else:  # blocks of 2 members: the shards of blocks of 1 are no longer the config's
        assert "shard:b1-0__b1-1" in proc.stdout and "which the config no longer has" in proc.stdout


# =========================================================================== the config's spelling

def test_integral_floats_are_the_integers(work):
    """steps 40.0, n_points 64.0, latent_dim 3.0, a seed 1.0: the same members and digests."""
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["training"]["steps"] = float(cfg["training"]["steps"])
    cfg["sample"]["n_points"] = float(cfg["sample"]["n_points"])
    cfg["model"]["latent_dim"] = float(cfg["model"]["latent_dim"])
    cfg["ensemble"]["seeds"] = [0, 1.0]
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert planned_jobs(work, root=runs.code_root()) == {}


@pytest.mark.parametrize("key,value,named", [
    ("training__steps", 40.5, "config key 'training.steps': 40.5 is not of type 'integer'"),
    ("training__lr", float("nan"), "config key 'training.lr': nan is not a finite number"),
    ("hotspots__info_threshold", float("inf"), "config key 'hotspots.info_threshold': inf is not a finite number"),
    ("sample__n_points", 9, "config key 'sample.n_points': 9 is less than the minimum of 10"),
])
def test_bad_numbers_are_refused_before_any_job(work, key, value, named):
    before = tree_digests(work)
    write_config(work, **{key: value})
    proc = snakemake(work, "--cores", "2", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and named in text, text[-2000:]
    assert "Finished jobid" not in text
    assert tree_digests(work) == before


def test_key_order_does_not_rerun(work):
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=True))
    assert planned_jobs(work, root=runs.code_root()) == {}


# =========================================================================== resources and ownership

def test_a_sample_too_large_for_memory_is_refused_up_front(work):
    before = tree_digests(work)
    write_config(work, sample__n_points=100000)
    proc = snakemake(work, "--cores", "2", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'sample.n_points': a boost job would need about" in text, text[-2000:]
    assert "GiB available; lower 'sample.n_points'" in text
    assert "Finished jobid" not in text
    assert tree_digests(work) == before
    proc = cli(work, "check-config", "config.yaml")
    assert proc.returncode == 2 and "job would need about" in proc.stderr


def test_another_config_may_not_take_a_results_directory_silently(work):
    """A second config file writing into the same results directory is refused, naming both,
    unless it asks to take the directory over."""
    other = write_config(work, name="other.yaml", ensemble__seeds=[0, 1, 2])
    proc = snakemake(work, "--cores", "1", "-n", config="other.yaml", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "holds the results of another config" in text and "config.yaml" in text
    assert str(other) in text and "take_over_results=true" in text
    proc = snakemake(work, "-n", "--config", "take_over_results=true", config="other.yaml")
    assert proc.returncode == 0


# =========================================================================== data scaling, collapse

def test_integer_images_of_an_unusual_range_need_a_scale(tmp_path):
    from infofrag.data import make_dataset

    (tmp_path / "data").mkdir()
    digits = np.random.default_rng(0).integers(0, 17, size=(50, 32, 32)).astype(np.uint8)  # 0..16
    np.save(tmp_path / "data" / "digits.npy", digits)
    cfg = dict(dataset={"name": "images", "path": str(tmp_path / "data" / "digits.npy"), "image_size": 32})
    path = write_config(tmp_path, **cfg)
    proc = cli(tmp_path, "check-config", str(path))
    assert proc.returncode == 2
    assert "digits.npy" in proc.stderr and "dataset.pixel_max" in proc.stderr, proc.stderr
    ds = make_dataset({"name": "images", "path": str(tmp_path / "data" / "digits.npy"), "pixel_max": 16})
    assert ds.get(np.arange(50)).max() == 1.0
    for dtype, top in ((np.int16, 1000), (np.int32, 4095)):
        np.save(tmp_path / "data" / "wide.npy", (digits.astype(dtype) * (top // 16)))
        with pytest.raises(ValueError, match="dataset.pixel_max"):
            make_dataset({"name": "images", "path": str(tmp_path / "data" / "wide.npy")})
        ds = make_dataset({"name": "images", "path": str(tmp_path / "data" / "wide.npy"), "pixel_max": top})
        x = ds.get(np.arange(50))
        assert 0.9 < x.max() <= 1.0 and x.min() == 0.0


def test_a_run_in_which_nothing_is_informative_says_so(work):
    write_config(work, hotspots__info_threshold=100.0)
    proc = snakemake(work, "--cores", "2")
    text = proc.stdout + proc.stderr
    assert "NO CHANNEL CARRIES INFORMATION" in text
    assert "NO CHANNEL CARRIES INFORMATION" in (work / RES / "logs" / "hotspots.log").read_text()
    assert "NO CHANNEL CARRIES INFORMATION" in (work / RES / "summary" / "summary.html").read_text()


def test_check_config_checks_the_data_files(tmp_path):
    path = write_config(tmp_path, dataset={"name": "images", "path": "data/none.npy", "image_size": 32})
    proc = cli(tmp_path, "check-config", str(path))
    assert proc.returncode == 2
    # relative to the config file's folder, and named as resolved there
    assert f"config key 'dataset.path': {tmp_path / 'data' / 'none.npy'}: file not found" in proc.stderr, proc.stderr


# =========================================================================== absolute results_dir

def test_every_stage_with_an_absolute_results_dir_and_the_smallest_sample(done, tmp_path):
    """An absolute results_dir (results on scratch), the smallest sample the schema accepts: every
    stage after training runs; verify and the audit work from another directory and through a
    symlink. The trained members are the finished run's (their keys do not hold the sample or the
    results directory), so moving a run's members to scratch does not retrain them."""
    from infofrag.provenance import verify

    scratch = tmp_path / "scratch" / "results"
    work = tmp_path / "w"
    work.mkdir()
    shutil.copytree(done / RES / "members", scratch / "members")
    write_config(work, results_dir=str(scratch), sample__n_points=10)
    assert "train" not in plan(work, None)
    snakemake(work, "--cores", "2")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "link"
    link.symlink_to(scratch)
    for base in (scratch, link):
        for rel in ("sample.zarr", "similarity.zarr", "hotspots/hotspots.json", "boost/fused.zarr"):
            verify(base / rel)
        proc = cli(elsewhere, "audit", str(base / "summary" / "summary.html"))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = audit(work, str(scratch / "hotspots" / "hotspots.json"), "--config", "config.yaml")
    assert proc.returncode == 0, proc.stdout
