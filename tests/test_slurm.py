"""`snakemake --profile slurm` against a real single-node SLURM.

The module fixture starts SLURM from Debian's packages with tests/slurm/start.sh (munge,
slurmctld, slurmd by hand; one node with two fake GPUs; no accounting database) and stops
every daemon it started with tests/slurm/stop.sh, also when a test fails. The workflow then
runs through the user's profile (slurm/config.yaml) with a thin test layer on top
(tests/slurm/profile: job states from squeue, smaller job batches; plus the test cluster's
partition) and is checked against SLURM's own job records and against a local run.
The two profile tests at the top need no SLURM and run everywhere.

Needs root and Debian (apt-get installs the packages when missing). Elsewhere the SLURM tests
skip, unless the environment variable CI is set: then they fail, never skip silently.
Run alone with:  pytest -m slurm tests/test_slurm.py
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers.runs import ROOT, write_config

SLURM_DIR = ROOT / "tests" / "slurm"
PROFILE = ROOT / "slurm" / "config.yaml"
TEST_PROFILE = SLURM_DIR / "profile"
GPU_RULES = ("train", "encode")

# The member that SLURM kills at its time limit: 1 minute on the first attempt (the rule asks
# for runtime_min * attempt minutes), with enough steps to need about TIMEOUT_TRAIN_SECONDS.
# slurmctld looks for jobs over their limit every 30 s and waits KillWait (10 s) after SIGTERM, so
# a 1-minute job may run for up to 100 s: the member needs several times that, since the rate is
# calibrated beside other work that comes and goes and the job may later get more of the machine
# (on a machine kept busy by four other processes, members sized at 120 s and at 180 s of the
# calibrated rate finished training inside their first attempt: the job ran at least 1.9x the
# calibration's rate). 300 s of it: the first attempt cannot finish unless the job runs 3x faster
# than calibrated, and the later attempts (2 to 6 minutes; the test profile retries 5 times, within
# SlurmRun.wait's 30 minutes) leave room for one 4x slower (at idle, beside the other SLURM run, the
# job ran at under 0.65x the calibrated rate and needed four attempts).
TIMEOUT_MEMBER = "b4_s1"
TIMEOUT_TRAIN_SECONDS = 300


def REAL_SLURM(test):
    """Marks a test that needs the real SLURM (the `cluster` fixture)."""
    return pytest.mark.slurm(pytest.mark.slow(test))


# ------------------------------------------------------------------------------------------
# the profile itself (no SLURM needed)

def test_profile_found_from_root_and_used_by_a_dry_run(tmp_path):
    """`snakemake --profile slurm` typed in the repository root finds ./slurm; the plan carries
    the GPU requests and the job groups."""
    write_config(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "slurm", "-n",
         "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
         "--configfile", str(tmp_path / "config.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT)))
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-4000:]
    # ./slurm, and the workflow's own profiles/default (its rerun triggers) beside it
    assert ("Using profiles slurm and workflow specific profile profiles/default for setting default command "
            "line arguments") in text, text[-2000:]
    jobs = planned_jobs(text)
    for rule in GPU_RULES:
        res = [r for (name, _), r in jobs.items() if name == rule]
        assert res and all(r.get("gpu") == "1" for r in res), (rule, res)
    assert all(r.get("group_slots") == "1" for r in jobs.values())  # only ./slurm sets it
    assert "Group job members" in text and "Group job shards" in text


def test_profile_settings():
    """What a user edits lives in one place; nothing test-only leaks into the user's profile."""
    prof = yaml.safe_load(PROFILE.read_text())
    assert prof["executor"] == "slurm"
    assert {"runtime", "mem_mb", "cpus_per_task"} <= set(prof["default-resources"])
    assert "slurm-status-command" not in prof  # sacct where the cluster has accounting
    text = PROFILE.read_text()
    for key in ("slurm_partition", "slurm_account"):
        assert re.search(rf"^\s*#\s*{key}:", text, re.M), f"{key} should be offered, commented"
    assert prof["set-resources"]["train"]["gpu"] == 1  # encode: from the rule, per member
    for rule in ("encode", "fingerprint", "scores"):  # a member's chain, one group
        assert prof["groups"][rule] == "members"
    for rule in ("encode", "fingerprint", "scores", "similarity", "spaces"):
        assert prof["groups"][rule] in prof["group-components"], rule
    assert prof["retries"] >= 1 and prof["rerun-incomplete"] is True


# ------------------------------------------------------------------------------------------
# a real SLURM

@dataclass
class Cluster:
    state: Path
    env: dict
    partition: str

    def run(self, *cmd, check=True, timeout=60) -> str:
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {proc.stderr}")
        return proc.stdout

    def jobs(self, run_id: str) -> dict[str, dict]:
        """SLURM's records of one Snakemake run's jobs (job name = the run ID)."""
        out = self.run("squeue", "--states=all", "--noheader", "--name", run_id,
                       "--format=%i|%T|%k|%l")
        jobs = {}
        for line in out.splitlines():
            jobid, state, comment, limit = line.strip().split("|")
            detail = self.run("scontrol", "-d", "-o", "show", "job", jobid)
            jobs[jobid] = dict(state=state, comment=comment, time_limit=limit, detail=detail)
        return jobs

    def submissions(self) -> set[str]:
        """Job IDs slurmctld logged as submitted with sbatch (a batch job)."""
        text = (self.state / "log" / "slurmctld.log").read_text()
        return set(re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", text))


def _missing_prerequisites() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("not root")
    if not Path("/etc/debian_version").exists():
        missing.append("not Debian")
    return missing


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = _missing_prerequisites()
    if missing:
        # Fail, not skip: an unverified SLURM path is not a pass. `make test-fast` leaves it out.
        pytest.fail(f"a real SLURM needs root on Debian: {', '.join(missing)}; run as root "
                    "(as CI does), or leave the SLURM tests out with `make test-fast`")
    state = tmp_path_factory.mktemp("slurm")
    started_pids = {}
    try:
        proc = subprocess.run([str(SLURM_DIR / "start.sh"), str(state)], capture_output=True,
                              text=True, timeout=900)
        started = state / "started"
        if started.exists():
            started_pids = dict(line.split() for line in started.read_text().splitlines())
        assert proc.returncode == 0, f"tests/slurm/start.sh failed:\n{proc.stdout}\n{proc.stderr}"
        assert set(started_pids) == {"munged", "slurmctld", "slurmd"}, started_pids
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.update(_read_env_sh(state / "env.sh"))
        yield Cluster(state=state, env=env, partition=env["INFOFRAG_SLURM_PARTITION"])
    finally:
        stop = subprocess.run([str(SLURM_DIR / "stop.sh"), str(state)], capture_output=True,
                              text=True, timeout=300)
        left = {name: pid for name, pid in started_pids.items() if _alive(int(pid))}
        assert stop.returncode == 0 and not left, (
            f"tests/slurm/stop.sh left {left} running:\n{stop.stderr}")


def _read_env_sh(path: Path) -> dict:
    out = subprocess.run(["bash", "-c", f"source '{path}' && env -0"], capture_output=True,
                         check=True).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    keys = ("SLURM_CONF", "INFOFRAG_SLURM_CONF", "INFOFRAG_SLURM_PARTITION", "PATH")
    return {k: env[k] for k in keys}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


class SlurmRun:
    """`snakemake --profile slurm` from the repository root, as a user types it, plus the test
    layer (tests/slurm/profile) and the test cluster's partition, added to the profile's own
    default resources (a command-line entry replaces the profile's whole entry). Started in the
    background; `wait()` returns Snakemake's output."""

    def __init__(self, cluster: Cluster, work: Path, *targets, pythonpath: str | None = None):
        defaults = dict(yaml.safe_load(PROFILE.read_text())["default-resources"])
        defaults["slurm_partition"] = cluster.partition
        self.cmd = [sys.executable, "-m", "snakemake", *targets, "--profile", "slurm",
                    "--profile", str(TEST_PROFILE.relative_to(ROOT)),
                    "--default-resources", *(f"{k}={v}" for k, v in defaults.items()),
                    "-s", str(ROOT / "Snakefile"), "-d", str(work),
                    "--configfile", str(work / "config.yaml")]
        self.log = work / "snakemake_slurm.log"
        self.t0 = time.monotonic()
        with open(self.log, "w") as fh:
            env = dict(cluster.env, **({"PYTHONPATH": pythonpath} if pythonpath else {}))
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)

    def wait(self, timeout=1800) -> str:
        rc = self.proc.wait(timeout=timeout)  # the caller stops it if this fails
        text = self.log.read_text()
        print(f"SLURM run in {time.monotonic() - self.t0:.0f} s: {' '.join(self.cmd)}")
        assert rc == 0, f"snakemake --profile slurm failed ({rc}):\n{text[-8000:]}"
        assert ("Using profiles slurm and tests/slurm/profile and workflow specific profile profiles/default "
                "for setting") in text, text[-3000:]
        return text


# ---- parsing Snakemake's and SLURM's logs ---------------------------------------------------

_JOB_HEAD = re.compile(r"^\s*(rule|localrule) (\w+):\s*$")


def _job_blocks(text: str):
    """(kind, rule, {field: value}) for each job Snakemake printed."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _JOB_HEAD.match(line)
        if not m:
            continue
        fields = {}
        for follow in lines[i + 1:i + 20]:
            f = re.match(r"^\s+(\w+): (.*)$", follow)
            if not f or _JOB_HEAD.match(follow):
                break
            fields[f.group(1)] = f.group(2).strip()
        yield m.group(1), m.group(2), fields


def _resources(field: str) -> dict:
    return dict(kv.split("=", 1) for kv in field.split(", ") if "=" in kv)


def planned_jobs(text: str) -> dict[tuple[str, str], dict]:
    """{(rule, wildcards): resources} of the jobs the main Snakemake scheduled."""
    return {(rule, f.get("wildcards", "")): _resources(f.get("resources", ""))
            for kind, rule, f in _job_blocks(text) if kind == "rule"}


def executed_in_slurm(log_paths) -> set[tuple[str, str]]:
    """(rule, wildcards) of the jobs that ran inside SLURM jobs: the innermost Snakemake, run by
    srun in the job, prints each job it executes as a `localrule`."""
    done = set()
    for path in log_paths:
        for kind, rule, f in _job_blocks(Path(path).read_text(errors="replace")):
            if kind == "localrule":
                done.add((rule, f.get("wildcards", "")))
    return done


def submitted(text: str) -> list[tuple[str, str, Path]]:
    """(Snakemake job, SLURM job ID, SLURM log) per sbatch submission the plugin reported."""
    return [(a, b, Path(c)) for a, b, c in re.findall(
        r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: ([^)]+)\)", text)]


def _gpu_requested(detail: str) -> bool:
    return bool(re.search(r"\bTresPer(Job|Node|Socket|Task)=\S*gres:gpu[:=]1\b", detail))


def _gpu_allocated(detail: str) -> bool:
    return bool(re.search(r"\bJOB_GRES=gpu:1\b", detail))


# ---- comparing results ------------------------------------------------------------------------

_VOLATILE = {"provenance", "created", "started", "finished", "seconds", "elapsed", "timestamp",
             "time", "host", "hostname", "date"}


def _strip_volatile(obj):
    if isinstance(obj, dict):
        return {k: _strip_volatile(v) for k, v in obj.items() if k not in _VOLATILE}
    if isinstance(obj, list):
        return [_strip_volatile(v) for v in obj]
    return obj


# Two runs of the same code on the same inputs agree to the float32 arithmetic of the estimators:
# bit for bit where every kernel adds in the same order, to float32 rounding (~1e-7 relative)
# where a kernel's order depends on its threads or batch (e.g. the GEMMs). A different member, a
# different input or a lost shard moves values by orders of magnitude more.
RTOL, ATOL = 1e-6, 1e-12


def _assert_close_json(a, b, where="$"):
    """Equal JSON documents, floats to RTOL."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), (where, sorted(a.keys() ^ b.keys()))
        for k in a:
            _assert_close_json(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close_json(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert b == pytest.approx(a, rel=RTOL, abs=ATOL, nan_ok=True), (where, a, b)
    else:
        assert a == b, (where, a, b)


def assert_same_results(local: Path, cluster_run: Path) -> str:
    """The similarity store's arrays and the hotspot and boosting summaries of two runs agree
    (provenance and timestamps aside). Returns how exactly."""
    import xarray as xr

    a = xr.open_zarr(local / "similarity.zarr")
    b = xr.open_zarr(cluster_run / "similarity.zarr")
    same, total, worst = 0, 0, 0.0
    for var in ("nmi", "vi", "i_joint", "factor_nmi"):
        x, y = a[var].values, b[var].values
        np.testing.assert_allclose(y, x, rtol=RTOL, atol=ATOL, err_msg=var)
        same += int(np.sum(x == y))
        total += x.size
        worst = max(worst, float(np.max(np.abs(x - y))))
    for coord in ("channel_id", "member", "beta", "seed", "channel"):
        np.testing.assert_array_equal(a[coord].values, b[coord].values, err_msg=coord)
    np.testing.assert_allclose(b["info_bits"].values, a["info_bits"].values, rtol=RTOL, atol=ATOL)
    for name in ("hotspots/hotspots.json", "boost/boost.json"):
        _assert_close_json(_strip_volatile(json.loads((local / name).read_text())),
                           _strip_volatile(json.loads((cluster_run / name).read_text())), name)
    return f"{same} of {total} similarity values bit-identical, largest difference {worst:.1e}"


# ---- the tests ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def steps_for_timeout():
    """Steps that take TIMEOUT_TRAIN_SECONDS to train here, so that the member outlives its
    1-minute limit whatever the machine's speed, and finishes on a later attempt (2 to 6
    minutes). The rate is the marginal one (the time of 400 steps less that of 100): a short
    run's fixed costs (building the model, the first steps, writing the checkpoint) would make it
    look slower and give the member too few steps."""
    import tempfile

    from infofrag import data, train

    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    tr = cfg["training"]
    ds = data.make_dataset(dict(cfg["dataset"]))

    def seconds(steps, tmp):
        member = dict(name="calibrate", beta=1.0, seed=0, arch=cfg["model"]["arch"],
                      latent_dim=cfg["model"]["latent_dim"], steps=steps,
                      batch_size=tr["batch_size"], lr=tr["lr"], checkpoint_every=steps,
                      log_every=100, threads=tr.get("threads", 1))
        t0 = time.monotonic()
        train.train_member(ds, member, f"{tmp}/m{steps}.pt", f"{tmp}/log{steps}.csv", None,
                           progress=False)
        return time.monotonic() - t0

    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):  # the faster of two: a busy moment must not shorten the member
            rates.append(300 / max(seconds(400, tmp) - seconds(100, tmp), 1e-3))
    rate = max(rates)
    steps = int(rate * TIMEOUT_TRAIN_SECONDS)
    print(f"training here: {rate:.0f} steps/s -> {TIMEOUT_MEMBER} gets {steps} steps")
    return steps


@pytest.fixture(scope="module")
def runs(cluster, steps_for_timeout, tmp_path_factory, finished_run):
    """Two runs through SLURM side by side (to save time): the tiny config, compared with the
    session's local run of it (``finished_run``), with another copy of the package first on
    PYTHONPATH (the jobs must run the checkout's); and one member (TIMEOUT_MEMBER) that trains for
    about TIMEOUT_TRAIN_SECONDS with a 1-minute limit on its first attempt: SLURM kills it,
    Snakemake resubmits it with 2 minutes (then 3, ...) and it resumes from its checkpoint."""
    work = tmp_path_factory.mktemp("on_slurm")
    write_config(work)
    slow = tmp_path_factory.mktemp("timeout")
    write_config(slow, ensemble__overrides={TIMEOUT_MEMBER: {
        "steps": steps_for_timeout, "runtime_min": 1,
        "checkpoint_every": max(1, steps_for_timeout // 20)}})
    other = tmp_path_factory.mktemp("other_copy")
    shutil.copytree(ROOT / "infofrag", other / "infofrag", ignore=shutil.ignore_patterns("__pycache__"))
    slurm_runs = []
    try:
        slurm_runs.append(SlurmRun(cluster, slow, f"results/members/{TIMEOUT_MEMBER}/model.pt"))
        slurm_runs.append(SlurmRun(cluster, work, pythonpath=str(other)))
        text = slurm_runs[1].wait()
        timeout_text = slurm_runs[0].wait()
    finally:  # on failure or interrupt: stop what still runs (Snakemake cancels its SLURM jobs)
        for proc in [run.proc for run in slurm_runs]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return dict(local=finished_run, work=work, text=text, slow=slow, timeout_text=timeout_text)


@REAL_SLURM
def test_every_job_went_through_sbatch(cluster, runs):
    text = runs["text"]
    run_id = re.search(r"SLURM run ID: (\S+)", text).group(1)
    subs = submitted(text)
    slurm_ids = {jobid for _, jobid, _ in subs}
    records = cluster.jobs(run_id)
    # SLURM's own records: one batch job per submission, all logged by slurmctld
    assert set(records) == slurm_ids
    assert slurm_ids <= cluster.submissions()
    # every job Snakemake scheduled ran inside a SLURM job, none on the login node
    planned = set(planned_jobs(text))
    ran = executed_in_slurm(log for _, _, log in subs)
    assert planned == ran, (planned ^ ran)
    assert not [r for kind, r, _ in _job_blocks(text) if kind == "localrule" and r != "all"]
    # small jobs were batched: fewer SLURM jobs than Snakemake jobs
    n_small = sum(1 for rule, _ in planned if rule in ("fingerprint", "scores", "similarity"))
    grouped = [jobid for _, jobid, log in subs if log.parent.name.startswith("group_")
               or log.parent.parent.name.startswith("group_")]
    assert grouped and len(grouped) < n_small
    # all done, first time
    states = sorted(r["state"] for r in records.values())
    assert set(states) == {"COMPLETED"}, states
    print(f"{len(planned)} Snakemake jobs in {len(records)} SLURM jobs "
          f"({len(grouped)} group jobs for {n_small} small jobs); states {states}")


@REAL_SLURM
def test_gpu_requests_reached_slurm(cluster, runs):
    text = runs["text"]
    run_id = re.search(r"SLURM run ID: (\S+)", text).group(1)
    records = cluster.jobs(run_id)
    n_members = len({wc for rule, wc in planned_jobs(text) if rule == "train"})
    # training: one SLURM job per member; encoding: inside the SLURM jobs of the "members" group
    # (each member's encode, fingerprint and scores chain; the group job is named after it)
    gpu_jobs = {"train": [r for r in records.values() if r["comment"].startswith("rule_train_")],
                "encode": [r for r in records.values() if r["comment"].startswith("rule_members")]}
    assert len(gpu_jobs["train"]) == n_members, len(gpu_jobs["train"])
    # exactly the SLURM jobs Snakemake submitted for that group (their logs under
    # group_members_<its rules>)
    members_jobs = {jobid for _, jobid, log in submitted(text)
                    if any(part.startswith("group_members") for part in log.parts)}
    assert members_jobs, "no members group job was submitted"
    assert {jid for jid, r in records.items() if r["comment"].startswith("rule_members")} == members_jobs
    for rule, jobs in gpu_jobs.items():
        for r in jobs:
            assert _gpu_requested(r["detail"]), (rule, r["detail"])
            assert _gpu_allocated(r["detail"]), (rule, r["detail"])
    others = [r for r in records.values()
              if not r["comment"].startswith(("rule_train_", "rule_members"))]
    assert others and not any(_gpu_requested(r["detail"]) for r in others)
    # and every attempt of the member that timed out
    slow_id = re.search(r"SLURM run ID: (\S+)", runs["timeout_text"]).group(1)
    slow = list(cluster.jobs(slow_id).values())
    assert slow and all(_gpu_requested(r["detail"]) and _gpu_allocated(r["detail"]) for r in slow)
    n_gpu = sum(map(len, gpu_jobs.values())) + len(slow)
    print(f"GPU (gres/gpu:1) requested and allocated in {n_gpu} SLURM jobs, none elsewhere "
          f"({len(others)} jobs)")


@REAL_SLURM
def test_results_equal_a_local_run(runs):
    print(assert_same_results(runs["local"] / "results", runs["work"] / "results"))


@REAL_SLURM
def test_jobs_ran_the_checkouts_package_despite_another_first_on_the_path(runs):
    """The SLURM run had another copy of infofrag first on PYTHONPATH: every job's record names
    the checkout's package (the jobs moved the checkout first and checked it)."""
    records = list((runs["work"] / "results").rglob("*.prov.json"))
    assert records
    for rec in records:
        assert json.loads(rec.read_text())["code"]["package_path"] == "infofrag", rec


@REAL_SLURM
def test_timed_out_training_resumes_on_retry(cluster, runs):
    work, text = runs["slow"], runs["timeout_text"]
    run_id = re.search(r"SLURM run ID: (\S+)", text).group(1)
    records = cluster.jobs(run_id)
    mine = sorted((r for r in records.values()
                   if r["comment"] == f"rule_train_wildcards_{TIMEOUT_MEMBER}"),
                  key=lambda r: int(re.search(r"JobId=(\d+)", r["detail"]).group(1)))
    states = [(r["state"], r["time_limit"]) for r in mine]
    # killed by SLURM at its 1-minute limit, resubmitted with more time, then done
    assert states[0] == ("TIMEOUT", "1:00"), states
    assert states[-1][0] == "COMPLETED" and len(states) >= 2, states
    assert [limit for _, limit in states] == [f"{i}:00" for i in range(1, len(states) + 1)], states
    # Snakemake's error names the SLURM state and points to the job's SLURM log
    err = re.search(r"SLURM-job '(\d+)' failed, SLURM status is: 'TIMEOUT'", text)
    assert err, text[-4000:]
    log = re.search(
        rf"log: .*?(\S+/slurm_logs/rule_train/\S*{TIMEOUT_MEMBER}\S*/{err.group(1)}\.log)", text)
    assert log, text[-4000:]
    assert "DUE TO TIME LIMIT" in Path(log.group(1)).read_text()
    assert "Trying to restart job" in text
    # every later attempt resumed from the checkpoint the one before left (the SLURM log of
    # each attempt has the training's log lines), the first one part-way through training
    attempts = [log for _, _, log in submitted(text)]
    assert len(attempts) == len(states), (attempts, states)
    resumed = []
    for attempt in attempts[1:]:
        m = re.search(r"resuming from .* at step (\d+) of (\d+)", attempt.read_text())
        assert m, f"attempt {attempt} did not resume:\n{attempt.read_text()[-3000:]}"
        resumed.append((int(m.group(1)), int(m.group(2))))
    assert 0 < resumed[0][0] < resumed[0][1], resumed
    assert all(0 < k <= n for k, n in resumed), resumed
    assert resumed == sorted(resumed), resumed
    train_log = (work / "results" / "logs" / "train" / f"{TIMEOUT_MEMBER}.log").read_text()
    assert "resuming from" in train_log
    print(f"{TIMEOUT_MEMBER}: SLURM states (state, limit) {states}; attempts 2.. resumed at "
          f"(step, of) {resumed}; Snakemake's error pointed to {log.group(1)}")
