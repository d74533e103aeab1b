"""The workflow end to end on the tiny config, incremental reruns, provenance and audit."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from helpers.runs import ROOT, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def run(finished_run):
    """The session's complete run of config/test.yaml (2 betas x 2 seeds, 3 channels, blocks of 1)."""
    return finished_run


def test_similarity_store_layout(run):
    ds = xr.open_zarr(run / "results" / "similarity.zarr")
    M = 4 * 3
    assert ds.sizes["a"] == ds.sizes["b"] == M
    for v in ("nmi", "vi", "i_joint", "factor_nmi"):
        assert v in ds
    for c in ("member", "beta", "seed", "channel", "info_bits", "self_info_bits"):
        assert c in ds.coords
    assert list(ds["factor"].values) == ["shape", "scale", "orientation", "x", "y"]
    nmi, vi = ds["nmi"].values, ds["vi"].values
    assert np.all(np.isfinite(nmi)) and np.all(np.isfinite(vi))
    np.testing.assert_allclose(nmi, nmi.T, atol=1e-12)
    np.testing.assert_allclose(vi, vi.T, atol=1e-12)
    informative = ds["info_bits"].values > 0.01
    np.testing.assert_allclose(np.diag(nmi)[informative], 1.0, atol=1e-5)
    np.testing.assert_allclose(np.diag(vi), 0.0, atol=1e-5)
    assert sorted(set(ds["beta"].values.tolist())) == [1.0, 4.0]


#: float32 fingerprints, float32 Gram products in blocks of other shapes than one computation of
#: all channels at once: values agree to float32 rounding (measured: 2.6e-7 relative at most);
#: a scrambled or mis-assembled shard moves them by orders of magnitude more
FLOAT32_RTOL = 2e-6


def test_the_run_learnt_something(run):
    """The tiny config yields informative channels, hotspots and a fusion: every assertion of
    this file runs on values that carry information (non-constant NMI and VI)."""
    ds = xr.open_zarr(run / "results" / "similarity.zarr")
    assert (ds["info_bits"].values > 1.0).sum() >= 8
    off = ~np.eye(ds.sizes["a"], dtype=bool)
    assert ds["nmi"].values[off].std() > 0.05 and ds["vi"].values[off].std() > 0.1
    assert ds["nmi"].values[off].max() < 0.95  # not every pair the same clustering
    hot = json.loads((run / "results" / "hotspots" / "hotspots.json").read_text())
    assert hot["status"] == "ok" and hot["n_hotspots"] >= 1, hot["message"]
    boost = json.loads((run / "results" / "boost" / "boost.json").read_text())
    assert boost["status"] == "ok", boost.get("message")


def test_gathered_values_match_direct_computation(run):
    """The sharded, gathered result equals a float64 computation on all stored fingerprints at
    once, channel for channel (a scrambled or misplaced shard would not)."""
    import infofrag

    from infofrag.store import fingerprint

    ds = xr.open_zarr(run / "results" / "similarity.zarr")
    fps = {m: fingerprint.read(run / "results" / "fingerprints" / f"{m}.zarr") for m in ds["member_id"].values}
    D = np.stack([fps[m].distances(c) for m, c in zip(ds["member"].values, ds["channel"].values)])
    nmi, vi, terms = infofrag.similarity(D, return_terms=True)
    np.testing.assert_allclose(ds["nmi"].values, nmi, rtol=FLOAT32_RTOL, atol=1e-12)
    np.testing.assert_allclose(ds["vi"].values, vi, rtol=FLOAT32_RTOL, atol=1e-12)
    np.testing.assert_allclose(ds["i_joint"].values, terms.i_ab, rtol=FLOAT32_RTOL, atol=1e-12)
    np.testing.assert_allclose(ds["info_bits"].values, terms.i_a, rtol=FLOAT32_RTOL, atol=1e-12)


def test_summary_outputs_exist(run):
    res = run / "results"
    hot = json.loads((res / "hotspots" / "hotspots.json").read_text())
    assert hot["status"] == "ok"
    boost = json.loads((res / "boost" / "boost.json").read_text())
    assert boost["status"] == "ok"
    # the fusion of the hotspots' representatives, compared with every channel of the ensemble
    ds = xr.open_zarr(res / "similarity.zarr")
    reps = [(h["representative"]["member"], h["representative"]["channel"]) for h in hot["hotspots"]]
    assert [(t["member"], t["channel"]) for t in boost["targets"]] == reps
    assert boost["best_channel_info_bits"] == float(ds["info_bits"].max())
    assert boost["more_information_than_any_channel"] == (
        boost["fused_info_bits"] > boost["best_channel_info_bits"])
    assert "than any single channel of the ensemble" in (res / "summary" / "summary.html").read_text()
    assert (res / "summary" / "summary.html").stat().st_size > 0
    for png in ("hotspots/overview.png", "hotspots/traversals.png", "boost/fused.png"):
        assert (res / png).stat().st_size > 1000


def test_nothing_to_do_when_up_to_date(run):
    assert planned_jobs(run) == {}


def test_changing_one_member_reruns_only_its_jobs(run_copy):
    run = run_copy  # a private copy: the test rewrites its config
    write_config(run, ensemble__overrides={"b4_s1": {"steps": 45}})
    try:
        jobs = planned_jobs(run)
    finally:
        write_config(run)
    # b4_s1 is alone in block b4-1 of 4 blocks: the shards that contain it are 4 of 10.
    assert jobs == {"train": 1, "encode": 1, "scores": 1, "fingerprint": 1, "similarity": 4,
                    "gather": 1, "hotspots": 1, "boost": 1, "spaces": 4, "spaces_gather": 1, "summary": 1,
                    "explore": 1, "all": 1}


def test_changing_a_member_seed_or_beta_reruns_only_it(run_copy):
    run = run_copy  # a private copy: the test rewrites its config
    for override in ({"seed": 11}, {"beta": 3.0}):
        write_config(run, ensemble__overrides={"b1_s0": override})
        try:
            jobs = planned_jobs(run)
        finally:
            write_config(run)
        assert jobs["train"] == 1 and jobs["fingerprint"] == 1 and jobs["similarity"] == 4, jobs


def test_adding_members_adds_only_their_jobs(run_copy):
    run = run_copy  # a private copy: the test rewrites its config
    write_config(run, ensemble__seeds=[0, 1, 2])
    try:
        jobs = planned_jobs(run)
    finally:
        write_config(run)
    # two new members (one per beta), each its own block: 6 blocks -> 21 shards, 11 of them new
    assert jobs == {"train": 2, "encode": 2, "scores": 2, "fingerprint": 2, "similarity": 11,
                    "gather": 1, "hotspots": 1, "boost": 1, "spaces": 11, "spaces_gather": 1, "summary": 1,
                    "explore": 1, "all": 1}


def test_unrelated_config_change_reruns_no_member_job(run_copy):
    run = run_copy  # a private copy: the test rewrites its config
    write_config(run, hotspots__min_samples=3)
    try:
        jobs = planned_jobs(run)
    finally:
        write_config(run)
    assert jobs == {"hotspots": 1, "boost": 1, "summary": 1, "explore": 1, "all": 1}
    write_config(run, boost__steps=31)
    try:
        jobs = planned_jobs(run)
    finally:
        write_config(run)
    assert jobs == {"boost": 1, "summary": 1, "explore": 1, "all": 1}


def test_every_result_has_provenance_and_audit_passes(run):
    res = run / "results"
    for rec in ["sample.zarr", "members/b1_s0/model.pt", "posteriors/b1_s0.zarr",
                "fingerprints/b1_s0.zarr", "similarity/shards/b1-0__b4-1.zarr", "similarity.zarr",
                "hotspots/hotspots.json", "boost/boost.json"]:
        data = json.loads((res / (rec + ".prov.json")).read_text())
        assert data["outputs"] and data["code"]["package_digest"] and data["packages"]["torch"]
        assert data["started"] <= data["finished"]
    proc = subprocess.run([sys.executable, "-m", "infofrag", "audit", "results/hotspots/hotspots.json",
                           "--config", "config.yaml"], cwd=run, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 mismatch" in proc.stdout


def test_audit_names_a_tampered_checkpoint(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns(".snakemake"))
    ckpt = copy / "results" / "members" / "b4_s0" / "model.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0x01
    ckpt.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "infofrag", "audit", "results/hotspots/hotspots.json"],
                          cwd=copy, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "results/members/b4_s0/model.pt" in proc.stdout


def test_audit_names_a_config_change(run_copy):
    run = run_copy  # a private copy: the test rewrites its config
    write_config(run, ensemble__overrides={"b4_s1": {"steps": 45}})
    try:
        proc = subprocess.run([sys.executable, "-m", "infofrag", "audit", "results/hotspots/hotspots.json",
                               "--config", "config.yaml"], cwd=run, capture_output=True, text=True)
    finally:
        write_config(run)
    assert proc.returncode == 1
    # the member's training job, the key entry that differs and both values
    assert "key:train b4_s1" in proc.stdout, proc.stdout[-3000:]
    assert "member.steps changed (member.steps: recorded 600, now 45)" in proc.stdout, proc.stdout[-3000:]


def test_bad_config_stops_before_any_job(run_copy):
    run = run_copy  # a private copy: the test rewrites its config
    before = sorted(p.relative_to(run) for p in (run / "results").rglob("*"))
    write_config(run, name="bad.yaml", ensemble__betas=[-1.0, 4.0])
    proc = snakemake(run, "--cores", "2", config="bad.yaml", check=False)
    assert proc.returncode != 0
    assert "ensemble" in (proc.stdout + proc.stderr) and "betas" in (proc.stdout + proc.stderr)
    assert sorted(p.relative_to(run) for p in (run / "results").rglob("*")) == before


def test_lint_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile",
                           str(ROOT / "config" / "test.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout, proc.stdout
