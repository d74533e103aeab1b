"""Bad input at the workflow level: what a user sees when the config, a dataset file,
a model or the posteriors are wrong.

Each case runs Snakemake on a directory that already holds a completed run (see
``finished_run`` in conftest.py) and checks (1) it exits non-zero with a message that names the key or
file and the problem, (2) where the problem can be known from the config alone, no job runs, and
(3) nothing already in results/ is removed or overwritten (sha256 of every file before/after).
docs/reliability.md lists these cases in a table.
"""
from __future__ import annotations

import gzip
import json
import re
import shutil
import struct

import numpy as np
import pytest

from helpers.runs import RES, audit, cli, copy_run, edit, private_checkout, snakemake, tree_digests
from helpers.runs import planned_jobs, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def done(finished_run):
    return finished_run


@pytest.fixture(scope="module")
def shared(finished_run, tmp_path_factory):
    """One copy of the completed run for the config cases (they must not change anything)."""
    work = copy_run(finished_run, tmp_path_factory.mktemp("bad_config") / "w")
    return work, tree_digests(work)


def no_job_ran(text: str) -> bool:
    return "Execute " not in text and "Finished jobid" not in text and "localrule" not in text


# =========================================================================== the config

# id -> (dotted changes to config/test.yaml, text the message must contain: the key and the problem)
CONFIG_CASES = {
    # wrong types
    "steps is a string": (dict(training__steps="many"),
                          ["'many' is not of type 'integer'", "config key 'training.steps'"]),
    "batch size is a float": (dict(training__batch_size=2.5),
                              ["2.5 is not of type 'integer'", "config key 'training.batch_size'"]),
    "betas is not a list": (dict(ensemble__betas="4"),
                            ["'4' is not of type 'array'", "config key 'ensemble.betas'"]),
    # negative or zero sizes and values
    "negative beta": (dict(ensemble__betas=[-1.0, 4.0]),
                      ["-1.0 is less than or equal to the minimum of 0", "config key 'ensemble.betas.0'"]),
    "zero beta": (dict(ensemble__betas=[0, 4]),
                  ["0 is less than or equal to the minimum of 0", "config key 'ensemble.betas.0'"]),
    "negative seed": (dict(ensemble__seeds=[-1, 0]),
                      ["-1 is less than the minimum of 0", "config key 'ensemble.seeds.0'"]),
    "negative learning rate": (dict(training__lr=-0.001),
                               ["-0.001 is less than or equal to the minimum of 0", "config key 'training.lr'"]),
    "zero steps": (dict(training__steps=0),
                   ["0 is less than the minimum of 1", "config key 'training.steps'"]),
    "zero block size": (dict(similarity__block_size=0),
                        ["0 is less than the minimum of 1", "config key 'similarity.block_size'"]),
    "zero latent channels": (dict(model__latent_dim=0),
                             ["0 is less than the minimum of 1", "config key 'model.latent_dim'"]),
    "zero sample points": (dict(sample__n_points=0),
                           ["0 is less than the minimum of 10", "config key 'sample.n_points'"]),
    # unknown names
    "unknown dataset": (dict(dataset={"name": "mnist"}),
                        ["'mnist' is not one of ['dsprites', 'circle', 'digits', 'dsprites_npz', 'idx', 'images']",
                         "config key 'dataset.name'"]),
    "unknown model": (dict(model__arch="resnet"),
                      ["'resnet' is not one of ['conv64', 'conv32', 'mlp']", "config key 'model.arch'"]),
    "misspelt key": (dict(training__step=40),
                     ["Additional properties are not allowed ('step' was unexpected)", "config key 'training'"]),
    # empty sweep, duplicate members
    "empty seed list": (dict(ensemble__seeds=[]), ["[] should be non-empty", "config key 'ensemble.seeds'"]),
    "empty beta list": (dict(ensemble__betas=[]), ["[] should be non-empty", "config key 'ensemble.betas'"]),
    "duplicate seed": (dict(ensemble__seeds=[0, 0]),
                       ["[0, 0] has non-unique elements", "config key 'ensemble.seeds'"]),
    "two betas, one member name": (dict(ensemble__betas=[0.5, 0.500000001]),
                                   ["config key 'ensemble': two members are named 'b0.5_s0'"]),
    "override duplicates a member": (dict(ensemble__overrides={"b1_s1": {"seed": 0}}),
                                     ["config key 'ensemble.overrides.b1_s1': member 'b1_s1' would train "
                                      "exactly the same model as 'b1_s0' (duplicate member)"]),
    "override of no member": (dict(ensemble__overrides={"b2_s0": {"steps": 5}}),
                              ["config key 'ensemble.overrides.b2_s0': no such trained member in the sweep"]),
    # sizes that do not fit each other
    "block larger than the ensemble": (dict(similarity__block_size=5),
                                       ["config key 'similarity.block_size': 5 is larger than the ensemble "
                                        "(4 members)"]),
    "sample larger than dsprites": (dict(sample__n_points=737281),
                                    ["config key 'sample.n_points': the fingerprint sample (737281) is larger "
                                     "than the dataset 'dsprites' (737280 points)"]),
    "sample larger than the circle": (dict(dataset={"name": "circle", "n_points": 100}, model__arch="mlp",
                                           sample__n_points=200),
                                      ["config key 'sample.n_points': the fingerprint sample (200) is larger "
                                       "than the dataset 'circle' (100 points)"]),
    "model does not fit the images": (dict(model__arch="conv64"),
                                      ["config key 'model.arch': 'conv64' takes 64x64 images but "
                                       "dataset.image_size is 32"]),
    "dsprites size not rendered": (dict(dataset={"name": "dsprites", "image_size": 48}),
                                   ["config key 'dataset.image_size': dsprites renders at 32 or 64 pixels, got 48"]),
    "user dataset without a path": (dict(dataset={"name": "images"}),
                                    ["config key 'dataset.path': required for dataset 'images'"]),
    "boost on a beta without one": (dict(boost__target="beta"),
                                    ["config key 'boost.beta': required when boost.target is 'beta'"]),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config_stops_before_any_job(shared, case):
    """The message names the key and the problem; no job runs; results/ is untouched."""
    work, before = shared
    changes, expected = CONFIG_CASES[case]
    name = "bad-" + case.replace(" ", "-").replace(",", "") + ".yaml"
    write_config(work, name=name, **changes)
    proc = snakemake(work, "--cores", "2", config=name, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for part in expected:
        assert part in text, f"{part!r} not in:\n{text[-3000:]}"
    assert no_job_ran(text), text[-3000:]
    assert tree_digests(work) == before


MISSING_FILE = dict(dataset={"name": "images", "path": "data/none.npy", "image_size": 32})


def test_missing_dataset_file_in_a_fresh_directory(tmp_path):
    """A dataset file that does not exist is an input of sample/train: in a directory without
    results Snakemake stops while building the DAG, naming the file, before any job."""
    write_config(tmp_path, **MISSING_FILE)
    proc = snakemake(tmp_path, "--cores", "2", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "data/none.npy" in text and ("Missing input files for rule" in text or "file not found" in text), \
        text[-3000:]
    assert no_job_ran(text) and not (tmp_path / RES).exists()


def test_missing_dataset_file_with_results_present(shared):
    """With results present, Snakemake alone would not rerun jobs whose input file is missing
    ('Nothing to be done', exit 0: the old results would pass for the new config); the dataset
    files are checked when the Snakefile is parsed, so the run stops, naming the file."""
    work, before = shared
    write_config(work, name="missing-file.yaml", **MISSING_FILE)
    proc = snakemake(work, "--cores", "2", config="missing-file.yaml", check=False)
    text = proc.stdout + proc.stderr
    assert tree_digests(work) == before
    assert proc.returncode != 0, text[-2000:]
    # the file as resolved against the config file's folder, which is where it was looked for
    assert f"config key 'dataset.path': {work / 'data' / 'none.npy'}: file not found" in text, text[-2000:]
    assert no_job_ran(text)


def test_config_file_that_is_not_yaml(shared):
    """A config file that is not YAML: Snakemake refuses it before anything runs (its message does
    not name the file; `python -m infofrag check-config` does, with the line)."""
    work, before = shared
    (work / "broken.yaml").write_text("dataset: {name: dsprites\nsample: [\n")
    proc = snakemake(work, "--cores", "2", config="broken.yaml", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Config file is not valid JSON or YAML" in text
    assert no_job_ran(text)
    check = cli(work, "check-config", "broken.yaml")
    assert check.returncode == 2 and "config file 'broken.yaml' is not valid YAML" in check.stderr
    assert "line 2, column 7" in check.stderr
    assert tree_digests(work) == before


def test_config_file_missing(shared):
    work, before = shared
    proc = snakemake(work, "--cores", "2", config="no-such-config.yaml", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "No such file or directory" in text and "no-such-config.yaml" in text
    assert no_job_ran(text)
    assert tree_digests(work) == before


# =========================================================================== dataset files

def _idx(path, array, code=0x08, truncate=0):
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(">u1").tobytes()
    path.write_bytes(data[: len(data) - truncate])


def make_file(work, kind):
    """Write a bad user dataset file under work/data; return (dataset config, file, problem text)."""
    data = work / "data"
    data.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    images = (rng.random((100, 32, 32)) > 0.5).astype(np.uint8)
    if kind == "not a numpy file":
        (data / "imgs.npy").write_text("these are not images\n")
        return {"name": "images", "path": "data/imgs.npy", "image_size": 32}, "data/imgs.npy", \
            "neither a .npy nor a .npz file"
    if kind == "wrong image size":
        np.save(data / "imgs.npy", images[:, :28, :28])
        return {"name": "images", "path": "data/imgs.npy", "image_size": 32}, "data/imgs.npy", \
            "images are 28 x 28 but dataset.image_size is 32"
    if kind == "colour images":
        np.save(data / "imgs.npy", np.repeat(images[:, None], 3, axis=1))
        return {"name": "images", "path": "data/imgs.npy", "image_size": 32}, "data/imgs.npy", \
            "only single-channel images are supported"
    if kind == "NaN pixels":
        x = images.astype(np.float32)
        x[7, 3, 3] = np.nan
        np.save(data / "imgs.npy", x)
        return {"name": "images", "path": "data/imgs.npy", "image_size": 32}, "data/imgs.npy", \
            "contains NaN or infinite pixel values (first in image 7)"
    if kind == "truncated IDX file":
        _idx(data / "imgs.idx3", images, truncate=100)
        return {"name": "idx", "path": "data/imgs.idx3", "image_size": 32}, "data/imgs.idx3", \
            "truncated: header declares dims (100, 32, 32)"
    if kind == "corrupt gzip IDX file":
        raw = gzip.compress(bytes([0, 0, 8, 3]) + b"".join(struct.pack(">I", d) for d in images.shape)
                            + images.tobytes())
        (data / "imgs.idx3.gz").write_bytes(raw[: len(raw) // 2])
        return {"name": "idx", "path": "data/imgs.idx3.gz", "image_size": 32}, "data/imgs.idx3.gz", \
            "cannot read (corrupt gzip"
    if kind == "dSprites npz without factors":
        np.savez(data / "dsprites.npz", imgs=images)
        return {"name": "dsprites_npz", "path": "data/dsprites.npz", "image_size": 32}, "data/dsprites.npz", \
            "missing array 'latents_classes'"
    if kind == "fewer images than the sample":
        np.save(data / "imgs.npy", images[:20])
        return {"name": "images", "path": "data/imgs.npy", "image_size": 32}, None, \
            ["sample.n_points", "64", "is larger than", "(20 "]
    if kind == "images too large for the model":
        np.save(data / "imgs.npy", np.zeros((100, 64, 64), np.uint8))
        return {"name": "images", "path": "data/imgs.npy"}, None, ["model.arch", "'conv32'", "32"]
    raise KeyError(kind)


FILE_CASES = ["not a numpy file", "wrong image size", "colour images", "NaN pixels", "truncated IDX file",
              "corrupt gzip IDX file", "dSprites npz without factors", "fewer images than the sample",
              "images too large for the model"]
_file_runs: dict = {}


@pytest.fixture
def file_run(done, tmp_path_factory, request):
    """Point the config of a copy of the completed run at a bad dataset file and run the workflow
    (once per case, shared by the tests below)."""
    kind = request.param
    if kind not in _file_runs:
        work = copy_run(done, tmp_path_factory.mktemp("bad_file") / "w")
        before = tree_digests(work)
        dataset, path, problem = make_file(work, kind)
        # the test config's mlp takes images of any size: a convolutional one does not
        write_config(work, dataset=dataset, **({"model__arch": "conv32"} if kind == "images too large for the model" else {}))
        proc = snakemake(work, "--cores", "2", check=False)
        _file_runs[kind] = dict(work=work, before=before, path=path, problem=problem, rc=proc.returncode,
                                text=proc.stdout + proc.stderr, after=tree_digests(work))
    return _file_runs[kind]


@pytest.mark.parametrize("file_run", FILE_CASES, indirect=True)
def test_bad_dataset_file_is_named_with_the_problem(file_run):
    """The run stops with a message naming the file (or the key) and what is wrong with it."""
    r = file_run
    assert r["rc"] != 0
    parts = [r["problem"]] if isinstance(r["problem"], str) else r["problem"]
    line = next((line for line in r["text"].splitlines() if all(p in line for p in parts)), None)
    assert line is not None, f"{parts!r} not in one line of:\n{r['text'][-4000:]}"
    if r["path"]:
        assert r["path"] in line, line


@pytest.mark.parametrize("file_run", FILE_CASES, indirect=True)
def test_bad_dataset_file_removes_nothing(file_run):
    """Nothing already in results/ is removed or overwritten, and no job runs: the files are
    checked when the Snakefile is parsed (config.check_dataset_files). Checked inside the
    sample/train jobs instead, Snakemake would already have deleted those jobs' previous outputs
    (sample.zarr, members' checkpoints) to rerun them."""
    r = file_run
    assert r["after"] == r["before"], sorted(set(r["before"]) - set(r["after"]))[:10]
    assert no_job_ran(r["text"])


# =========================================================================== models and posteriors

def test_nan_training_loss(done, tmp_path):
    """A member whose learning rate makes it diverge (lr 1e6 for one member): its train job fails
    naming the member, the step and the settings; no checkpoint is written for it; its previous
    model is put back with its own record (Snakemake deleted it before the job), so every result
    is as before; the next run still sees that model as stale."""
    work = copy_run(done, tmp_path / "w")
    before = tree_digests(work)
    write_config(work, ensemble__overrides={"b4_s1": {"lr": 1.0e6}})
    proc = snakemake(work, "--cores", "1", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ("TrainingDivergedError: member 'b4_s1': loss is not finite at step 2 of 600 (beta 4, lr 1e+06)"
            in text), text[-3000:]
    log = (work / RES / "logs" / "train" / "b4_s1.log").read_text()
    assert "loss is not finite at step 2" in log
    assert "Error in rule train" in text and "Finished jobid" not in text
    assert "previous result(s) of the failed jobs put back" in text and "members/b4_s1/model.pt" in text
    assert tree_digests(work) == before
    assert planned_jobs(work)["train"] == 1


def _rerecord(path):
    """Make the provenance record of ``path`` match its current content (as if its producer had
    written it so): the digest check passes and the content check behind it is what is tested."""
    from infofrag.provenance import digest_path

    rec_path = path.parent / (path.name + ".prov.json")
    rec = json.loads(rec_path.read_text())
    key = next(k for k in rec["outputs"] if path.as_posix().endswith(k))
    rec["outputs"][key] = digest_path(path)
    rec_path.write_text(json.dumps(rec))


def test_model_giving_nan_posteriors(done, tmp_path):
    """A checkpoint whose weights hold a NaN (sound file, recorded digest): encode refuses to write
    NaN posteriors, naming the checkpoint and the member; its previous posteriors are put back
    with their record (stale, as its checkpoint changed), and nothing else is touched."""
    import torch

    from infofrag.train import checkpoints as train

    work = copy_run(done, tmp_path / "w")
    ckpt = work / RES / "members" / "b4_s0" / "model.pt"
    obj = torch.load(ckpt, map_location="cpu", weights_only=True)
    name = next(k for k, v in obj["state_dict"].items() if v.dtype.is_floating_point and v.ndim == 1)
    obj["state_dict"][name][0] = float("nan")
    obj.pop("digest")
    train._save(obj, ckpt)
    _rerecord(ckpt)
    before = tree_digests(work)
    proc = snakemake(work, "--cores", "1", f"{RES}/posteriors/b4_s0.zarr", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (f"member b4_s0 ('{RES}/members/b4_s0/model.pt'), its posteriors on the fingerprint sample: "
            "mu[0, 0] = nan is NaN/inf (192 NaN/inf value(s) of mu in all") in text, text[-3000:]
    assert tree_digests(work) == before


def _poison_posteriors(work, value):
    from infofrag.store import open_dataset, write_dataset

    path = work / RES / "posteriors" / "b4_s0.zarr"
    ds = open_dataset(path, check=False)
    lv = ds["logvar"].values.copy()
    lv[3, 0] = value
    ds["logvar"] = (("sample", "channel"), lv)
    shutil.rmtree(path)
    write_dataset(path, ds)
    _rerecord(path)
    return path


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_posteriors_with_nan_or_inf_are_refused(done, tmp_path, value):
    """Posteriors with an inf or NaN log-variance (with a matching record, so only the content is
    wrong): the fingerprint job refuses them with a message naming the variable; the
    fingerprint it was forced to remake is put back as it was, so the tree is unchanged."""
    work = copy_run(done, tmp_path / "w")
    _poison_posteriors(work, value)
    before = tree_digests(work)
    target = f"{RES}/fingerprints/b4_s0.zarr"
    proc = snakemake(work, "--cores", "1", target, "--forcerun", target, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = next(line for line in text.splitlines() if "rule fingerprint failed" in line)
    assert "logvar" in line and re.search("nan|inf", line, re.I), line
    assert "previous result(s) of the failed jobs put back" in text, text[-3000:]
    assert tree_digests(work) == before


def test_nan_posteriors_error_names_the_store(done, tmp_path):
    """The refusal names the store the posteriors came from."""
    work = copy_run(done, tmp_path / "w")
    _poison_posteriors(work, np.nan)
    target = f"{RES}/fingerprints/b4_s0.zarr"
    proc = snakemake(work, "--cores", "1", target, "--forcerun", target, check=False)
    line = next(line for line in (proc.stdout + proc.stderr).splitlines() if "rule fingerprint failed" in line)
    assert f"{RES}/posteriors/b4_s0.zarr" in line, line


def test_audit_after_bad_input_runs(shared):
    """After all the refused configs above, the completed run still audits clean."""
    work, _ = shared
    proc = audit(work, f"{RES}/summary/summary.html", "--config", "config.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:]
