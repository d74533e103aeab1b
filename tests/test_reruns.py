"""Whether a result is current is decided by its own record, and every input that changes a
result -- and nothing that cannot -- decides it.

Each test is one case a careful user tried on a completed run of config/test.yaml: a change that
the previous code certified silently (left: nothing reran, the audit passed) or that made it
rerun far more than the change asks. docs/reliability.md lists them with the outcome. The
workflow-level ones change a private copy of the finished run (``run_copy``) and read the dry
run's plan, as a user would.
"""
from __future__ import annotations

import json
import os
import shutil
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.runs import RES, audit, cli, edit, planned_jobs, private_checkout, write_config

MEMBER_RULES = {"train", "encode", "fingerprint", "scores"}


def plan(work, root=None, config="config.yaml"):
    return planned_jobs(work, config=config, root=root)


# =========================================================================== silently wrong

@pytest.mark.slow
def test_without_snakemakes_metadata_a_changed_value_still_reruns(run_copy):
    """Case 1: after `rm -rf .snakemake` (a fresh clone with the results copied in, a moved
    project), `training.steps: 600 -> 300` plans every member again (it planned nothing)."""
    shutil.rmtree(run_copy / ".snakemake")
    assert plan(run_copy) == {}
    write_config(run_copy, training__steps=300)
    jobs = plan(run_copy)
    assert jobs["train"] == 4 and jobs["encode"] == 4, jobs


@pytest.mark.slow
def test_without_snakemakes_metadata_an_estimator_edit_still_reruns(run_copy, tmp_path):
    """Case 1: after `rm -rf .snakemake`, an edit of the estimators plans the stages they decide."""
    shutil.rmtree(run_copy / ".snakemake")
    root = private_checkout(tmp_path)
    edit(root / "infofrag" / "estimators" / "_fast.py", "_CPU_CHUNK_BYTES = 8 * 2**20", "_CPU_CHUNK_BYTES = 9 * 2**20")
    jobs = plan(run_copy, root)
    assert jobs.get("similarity") == 10 and "train" not in jobs, jobs


@pytest.mark.slow
def test_a_second_checkout_through_a_symlinked_results_dir_sees_a_changed_value(run_copy, tmp_path):
    """Case 1: a second project directory whose results/ is a symlink to the first's, with the
    same config file name: it owns the results (the same config), and a changed value reruns."""
    second = tmp_path / "second"
    second.mkdir()
    (second / RES).symlink_to(run_copy / RES)
    shutil.copy(run_copy / "config.yaml", second / "config.yaml")
    assert plan(second) == {}
    write_config(second, training__steps=300)
    assert plan(second)["train"] == 4


@pytest.mark.slow
def test_the_audit_names_the_rule_whose_code_changed(run_copy, tmp_path):
    """Case 2: after an edit of the Bhattacharyya formula the audit (with --config) exits 1 and
    says which rule's code changed (it exited 0)."""
    root = private_checkout(tmp_path)
    edit(root / "infofrag" / "measures.py", "    return log_cosh * 0.5 + xp.square(diff) * 0.25",
         "    return log_cosh * 0.5 + xp.square(diff) * 0.2500001")
    proc = audit(run_copy, f"{RES}/hotspots/hotspots.json", "--config", "config.yaml", root=root)
    assert proc.returncode == 1, proc.stdout
    assert "the code of rule fingerprint changed" in proc.stdout, proc.stdout[-3000:]


@pytest.mark.slow
def test_the_training_threads_are_part_of_a_members_key(run_copy):
    """Case 3: `training.threads: 1 -> 2` changes the trained weights (CPU kernels round
    differently): every member retrains, and the audit of the old results says so."""
    write_config(run_copy, training__threads=2)
    assert plan(run_copy)["train"] == 4
    proc = audit(run_copy, f"{RES}/hotspots/hotspots.json", "--config", "config.yaml")
    assert proc.returncode == 1 and "threads" in proc.stdout, proc.stdout[-2000:]


def _user_package(tmp_path, helper_body: str):
    pkg = tmp_path / "userpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text(helper_body)
    (pkg / "entry.py").write_text(textwrap.dedent("""\
        # the user's entry point: loads a checkpoint through a helper of their own
        from userpkg.helper import scale


        def load(path):
            return lambda x: (x.reshape(len(x), -1)[:, :2] * scale(), x.reshape(len(x), -1)[:, :2] * 0)
        """))
    return pkg


def test_an_imported_members_key_holds_its_helper_modules_by_syntax(tmp_path, monkeypatch):
    """Case 4 (and a comment in the user's module): the entry point's key covers the user's
    modules it imports -- a changed helper changes it (it did not), a comment changes nothing
    (it reran 23 jobs)."""
    from infofrag import imported

    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = _user_package(tmp_path, "def scale():\n    return 2.0\n")
    before = imported.module_digest("userpkg.entry:load")
    assert set(imported.user_modules("userpkg.entry:load")) == {"userpkg", "userpkg.entry", "userpkg.helper"}
    (pkg / "entry.py").write_text((pkg / "entry.py").read_text() + "# a comment\n")
    (pkg / "helper.py").write_text("def scale():\n    # the same number\n    return 2.0\n")
    assert imported.module_digest("userpkg.entry:load") == before
    (pkg / "helper.py").write_text("def scale():\n    return 3.0\n")
    assert imported.module_digest("userpkg.entry:load") != before


def test_a_duplicated_yaml_key_is_refused_naming_it_and_both_lines(tmp_path):
    """Case 5: `steps: 600` then `steps: 5` under `training` (it trained 5 steps)."""
    from infofrag.config import ConfigError, load_config

    text = (write_config(tmp_path).read_text()).replace("  steps: 600\n", "  steps: 600\n  steps: 5\n")
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"'training.steps' is given twice, on lines 12 and 13"):
        load_config(tmp_path / "config.yaml")
    proc = cli(tmp_path, "check-config", "config.yaml")
    assert proc.returncode != 0 and "steps" in proc.stderr, proc.stderr


@pytest.mark.parametrize("scores,named", [
    ({"n_train": 2, "n_test": 50}, "scores.n_train"),
    ({"n_train": 100, "n_test": 49}, "scores.n_test"),
])
def test_a_score_sample_too_small_for_the_metrics_is_refused(tmp_path, scores, named):
    """Case 6: `scores: {n_train: 2, n_test: 1}` gave `status: ok` with MIG = SAP = DCI = 0."""
    from infofrag.config import ConfigError, load_config

    write_config(tmp_path, scores=scores)
    with pytest.raises(ConfigError, match=named):
        load_config(tmp_path / "config.yaml")


@pytest.mark.parametrize("field,value", [("logvar", -1e30), ("logvar", -80.0), ("mu", 1e30), ("logvar", 1e30)])
def test_absurd_posteriors_in_a_file_are_refused_before_any_job(tmp_path, field, value):
    """Case 7: a posteriors file with the right digest and logvar -1e30 (or -80, or mu x 1e30) in
    one channel was read as 6 bits (log2 N); logvar +1e30 as 0 bits. Now check-config refuses it,
    naming the file, the value and the accepted bounds."""
    proc = cli(tmp_path, "sample", str(write_config(tmp_path)), "--out", "sample.npz")
    assert proc.returncode == 0, proc.stderr
    s = np.load(tmp_path / "sample.npz")
    mu = np.zeros((len(s["x"]), 2))
    lv = np.zeros_like(mu)
    (mu if field == "mu" else lv)[5, 1] = value
    np.savez(tmp_path / "p.npz", mu=mu, logvar=lv, sample_digest=s["sample_digest"])
    write_config(tmp_path, ensemble__imported=[{"name": "odd", "posteriors": "p.npz"}])
    proc = cli(tmp_path, "check-config", "config.yaml")
    assert proc.returncode != 0
    assert f"{field}[5, 1] = {value!r}" in proc.stderr and "|logvar| <= 40" in proc.stderr, proc.stderr


# =========================================================================== late or unclear

@pytest.mark.parametrize("change,named", [
    ({"hotspots__cluster_method": "dbscan"}, "hotspots.eps"),
    ({"boost__dim": 1000}, "boost.dim"),
    ({"ensemble": {"methods": {"factor_vae": {"gamma": [0]}}, "seeds": [0]}}, "gamma"),
    ({"ensemble": {"methods": {"annealed_vae": {"c_max": [0]}}, "seeds": [0]}}, "c_max"),
    ({"ensemble": {"methods": {"infogan": {"lambda_info": [0]}}, "seeds": [0]}}, "lambda_info"),
])
def test_settings_that_can_only_fail_later_are_refused_up_front(tmp_path, change, named):
    """dbscan without eps, a fused space of more dimensions than the sample allows, a
    hyperparameter that disables its method: check-config said valid, and the job failed later
    (deleting the previous result)."""
    from infofrag.config import ConfigError, load_config

    write_config(tmp_path, **change)
    with pytest.raises(ConfigError, match=named):
        load_config(tmp_path / "config.yaml")


def test_a_huge_latent_dim_names_the_key_that_drives_memory(tmp_path):
    """`model.latent_dim: 5000` was refused with advice to lower 'ensemble' (here: refused for the
    8 GB given; this machine would hold it)."""
    write_config(tmp_path, model__latent_dim=5000)
    proc = cli(tmp_path, "check-config", "config.yaml", "--mem-mb", "8000")
    assert proc.returncode != 0 and "model.latent_dim" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_a_config_reached_through_a_symlink_is_the_same_config(run_copy):
    """It was refused as "another config"."""
    (run_copy / "link.yaml").symlink_to(run_copy / "config.yaml")
    assert plan(run_copy, config="link.yaml") == {}


# =========================================================================== rerunning too much

@pytest.mark.slow
@pytest.mark.parametrize("path,rel,module,old,new", [
    # a dataset module the config does not use
    ("digits", "infofrag/data/digits.py", None, "PIXEL_MAX = 16.0", "PIXEL_MAX = 17.0"),
    # another method's module: the beta-VAEs do not run it
    ("infogan", "infofrag/models/infogan.py", None, 'LIKELIHOODS = ("bernoulli", "gaussian")',
     'LIKELIHOODS = ("gaussian", "bernoulli")'),
    # the imported-member module, with no imported member
    ("imported", "infofrag/imported.py", None, "points_per_pass: int = 256", "points_per_pass: int = 128"),
])
def test_edits_of_modules_a_run_does_not_execute_rerun_nothing(run_copy, tmp_path, path, rel, module, old, new):
    root = private_checkout(tmp_path)
    edit(root / rel, old, new)
    assert plan(run_copy, root) == {}


@pytest.mark.slow
def test_a_member_of_another_family_added_reruns_none_of_the_members_there(run_copy):
    """Adding two FactorVAE members to the four beta-VAEs retrained all six: the new family's
    training code entered every member's code digest. Now: the new members' jobs and the 11
    shards that hold them (of 21)."""
    write_config(run_copy, ensemble={"methods": {"beta_vae": {"beta": [1, 4]}, "factor_vae": {"gamma": [30]}},
                                     "seeds": [0, 1]})
    jobs = plan(run_copy)
    assert {rule: jobs.get(rule) for rule in MEMBER_RULES} == dict.fromkeys(MEMBER_RULES, 2), jobs
    assert jobs["similarity"] == 11 and jobs["spaces"] == 11, jobs


@pytest.mark.slow
def test_an_edit_of_one_stores_layout_reruns_its_rules_only(run_copy, tmp_path):
    """The fused store's layout (`store/fused.py`): boost and what reads its outputs, nothing
    upstream (47 jobs: the store package imported every layout)."""
    root = private_checkout(tmp_path)
    edit(root / "infofrag" / "store" / "fused.py", '"mu": (("sample", "dim"), np.asarray(mu, np.float32))',
         '"mu": (("sample", "dim"), np.asarray(mu, np.float64))')
    jobs = plan(run_copy, root)
    assert jobs and not (set(jobs) & (MEMBER_RULES | {"similarity", "gather", "hotspots", "spaces"})), jobs


@pytest.mark.slow
@pytest.mark.parametrize("change", [
    {"training__log_every": 50}, {"training__checkpoint_every": 200},
    {"results_dir": f"{RES}/"}, {"results_dir": f"./{RES}"},
    {"ensemble__seeds": [1, 0]}, {"ensemble__betas": [4, 1]},
])
def test_changes_that_cannot_change_a_result_rerun_nothing(run_copy, change):
    """Logging and checkpoint cadence (retrained from step 0, bit-identical weights), path
    spellings of the results directory (47 of 51 jobs), list order of seeds or betas (8 + 8
    shards renamed and recomputed; the audit then failed on coverage)."""
    write_config(run_copy, **change)
    assert plan(run_copy) == {}
    proc = audit(run_copy, f"{RES}/summary/summary.html", "--config", "config.yaml")
    assert proc.returncode == 0, proc.stdout[-2000:]


@pytest.mark.slow
def test_a_user_data_file_by_another_spelling_or_touched_reruns_nothing(tmp_path, finished_run):
    """A user's data file touched, or named `./data/x.npy` or by its absolute path: nothing reruns
    (the path was a param; Snakemake checksums only files under 1 MB). Its content decides."""
    from helpers.runs import copy_run, snakemake

    work = copy_run(finished_run, tmp_path / "w")
    from infofrag import data

    ds = data.make_dataset({"name": "dsprites", "image_size": 32})
    (work / "data").mkdir()
    np.save(work / "data" / "x.npy", ds.get(np.arange(300))[:, 0].astype(np.uint8))
    write_config(work, dataset={"name": "images", "path": "data/x.npy", "image_size": 32}, ensemble__seeds=[0],
                 ensemble__betas=[1])
    snakemake(work, "--cores", "2", "--until", "sample")
    assert "sample" not in plan(work)
    os.utime(work / "data" / "x.npy")
    for spelling in ("./data/x.npy", str(work / "data" / "x.npy")):
        write_config(work, dataset={"name": "images", "path": spelling, "image_size": 32}, ensemble__seeds=[0],
                     ensemble__betas=[1])
        assert "sample" not in plan(work), spelling
    np.save(work / "data" / "x.npy", ds.get(np.arange(1, 301))[:, 0].astype(np.uint8))
    assert plan(work)["sample"] == 1


def test_the_reliability_page_lists_every_case():
    """docs/reliability.md names each test of this module."""
    from helpers.runs import ROOT

    page = (ROOT / "docs" / "reliability.md").read_text()
    names = [n for n in globals() if n.startswith("test_") and n != "test_the_reliability_page_lists_every_case"]
    missing = [n for n in names if n not in page]
    assert not missing, missing


def test_a_stale_results_key_file_never_matches_a_checksum_snakemake_recorded(tmp_path):
    """A stale result's key file holds its key and when and why it was found stale, so its
    content (and checksum) is new at every decision: Snakemake's metadata of a failed job, which
    can record the checksum of the very key it failed under, never makes the put-back previous
    result look current. A current result's key file is the key alone, dated in the past."""
    from infofrag import provenance as pv
    from infofrag.atomic import write_json
    from infofrag.provenance.current import key_file, refresh_key_files

    res = tmp_path / "results"
    out = res / "m.txt"
    res.mkdir()
    out.write_text("made")
    old = {"member": {"lr": 0.002}, "code": "c0"}
    write_json(pv.record_path(out), pv.make_record(rule="train", wildcards={"member": "m"}, outputs=[out],
                                                   inputs=[], config_used={}, started=pv.now(), key=old))
    path = Path(key_file(str(res), "train", {"member": "m"}))
    assert refresh_key_files([("train", {"member": "m"}, str(out), old, None)], str(res)) == []
    assert json.loads(path.read_text()) == old and path.stat().st_mtime == 1.0
    new = {"member": {"lr": 1e6}, "code": "c0"}
    lines = refresh_key_files([("train", {"member": "m"}, str(out), new, None)], str(res))
    assert lines == ["train m: what decides it changed (member.lr: 0.002 -> 1000000.0)"]
    first = path.read_text()
    assert json.loads(first)["member"] == new["member"] and "member.lr" in json.loads(first)["stale"]["why"]
    assert path.stat().st_mtime > 1.0
    time.sleep(0.01)
    refresh_key_files([("train", {"member": "m"}, str(out), new, None)], str(res))
    assert path.read_text() != first  # a checksum recorded at the first decision does not match the second
