"""Snakemake's local scheduling rounds: the job-rate limiter's re-evaluations chain, and
:func:`infofrag.scheduling.lift_local_rate_limit` (the Snakefile's ``onstart``) stops them.

Counted, not timed: Snakemake logs each scheduling round ("Resources before job selection",
``--verbose``); a round per job that ends is what a run needs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = 40

SNAKEFILE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from infofrag.scheduling import lift_local_rate_limit

rule all:
    input: expand("out/{{i}}.txt", i=range({JOBS}))

rule one:
    output: "out/{{i}}.txt"
    shell: "sleep 0.3; touch {{output}}"

if config.get("lift"):
    onstart:
        assert lift_local_rate_limit(workflow)
"""


def rounds(tmp_path: Path, lift: bool) -> int:
    d = tmp_path / ("lifted" if lift else "default")
    d.mkdir()
    (d / "Snakefile").write_text(SNAKEFILE)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--verbose", "--config",
                           f"lift={int(lift)}"], cwd=d, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((d / "out").iterdir())) == JOBS
    return (proc.stdout + proc.stderr).count("Resources before job selection")


def test_lifting_the_rate_limiter_leaves_one_round_per_job(tmp_path):
    lifted, default = rounds(tmp_path, True), rounds(tmp_path, False)
    # one round per job that ends (two jobs at a time, so at most one more round than jobs)
    assert lifted <= JOBS + 2, lifted
    # with the limiter every round that finds jobs ready schedules another a second later:
    # the chains make several times as many rounds (the cost this lifts)
    assert default > 2 * lifted, (default, lifted)


def test_a_cluster_run_keeps_the_limiter():
    from infofrag.scheduling import lift_local_rate_limit

    class Scheduler:
        job_rate_limiter = object()

    class Cluster:
        local_exec = False
        scheduler = Scheduler()

    assert lift_local_rate_limit(Cluster()) is False and Cluster.scheduler.job_rate_limiter is not None
    Cluster.local_exec = True
    assert lift_local_rate_limit(Cluster()) is True and Cluster.scheduler.job_rate_limiter is None
