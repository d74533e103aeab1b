"""Snakemake's local scheduling at thousands of jobs (used by the Snakefile's ``onstart``).

Snakemake's job-rate limiter (``--max-jobs-per-timespan``, on by default, meant to pace cluster
submissions) schedules one more scheduling round a timespan (1 s) after every round that finds
ready jobs. A round started by a finished job thus leaves a chain of rounds behind it, one a
second, for as long as jobs are ready; each round reads the size of every input of the jobs it
weighs. With a zoo's thousands of short per-member jobs the chains outnumber what the Snakemake
process can run, and it spends most of a core on them, taken from the jobs (docs/zoo.md). Local
jobs need no submission rate: a local run lifts the limiter; cluster runs keep it.

Duck-typed (the package does not import Snakemake): only the scheduler's ``job_rate_limiter``
attribute is touched, and nothing is done where it is absent.
"""

from __future__ import annotations


def lift_local_rate_limit(workflow) -> bool:
    """Lift the job-rate limiter of a local run's scheduler (``workflow``: Snakemake's, in
    ``onstart``, after the scheduler exists and before it runs). Returns whether it did."""
    scheduler = getattr(workflow, "scheduler", None)
    if not getattr(workflow, "local_exec", False) or getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None
    return True
