"""Snakemake's scheduling: the local job-rate limit and the input sizes at thousands of jobs
(used by the Snakefile's ``onstart``), and the order of the per-member jobs and of the similarity
shards (the rules' priorities).

Snakemake's job-rate limiter (``--max-jobs-per-timespan``, on by default, meant to pace cluster
submissions) schedules one more scheduling round a timespan (1 s) after every round that finds
ready jobs. A round started by a finished job thus leaves a chain of rounds behind it, one a
second, for as long as jobs are ready; each round reads the size of every input of the jobs it
weighs. With a zoo's thousands of short per-member jobs the chains outnumber what the Snakemake
process can run, and it spends most of a core on them, taken from the jobs (docs/zoo.md). Local
jobs need no submission rate: a local run lifts the limiter; cluster runs keep it.

Each round also reads the size of every input of every job it weighs (to break ties between
jobs of equal priority by input size); with hundreds of ready jobs that is thousands of file
stats a round, again for files whose size cannot have changed. Every run (local or cluster)
reads each input's size once (:func:`cache_input_sizes`), so that a round can weigh every ready
job and the priorities decide exactly: the workflow's profile caps a round at 1,000 jobs
(``scheduler-subsample``) only for the largest zoos.

Duck-typed (the package does not import Snakemake): only the scheduler's ``job_rate_limiter``
and ``update_input_sizes`` attributes are touched, and nothing is done where they are absent.
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


def cache_input_sizes(workflow) -> bool:
    """Make the scheduler read each input's size once, not once per round (``workflow``:
    Snakemake's, in ``onstart``). A ready job's inputs exist and no job rewrites another's input,
    so a size once read stays true; one not read (None: the file did not exist) is read again.
    Returns whether it did."""
    scheduler = getattr(workflow, "scheduler", None)
    if not isinstance(getattr(scheduler, "_input_sizes", None), dict) \
            or not callable(getattr(scheduler, "update_input_sizes", None)):
        return False

    async def update_input_sizes(jobs):
        sizes = scheduler._input_sizes
        for path in {p for job in jobs for p in job.input if sizes.get(p) is None}:
            sizes[path] = await path.size() if await path.exists() else None

    scheduler.update_input_sizes = update_input_sizes
    return True


def shard_priorities(block_channels: dict, pairs, base: float = 3.0, spread: float = 0.5) -> dict:
    """Each similarity shard's priority: the rule's ``base`` plus up to ``spread`` in proportion
    to its blocks' channel pairs (``block_channels``: channels per block, informative or not, as
    the plan knows them; ``pairs``: the shards' block pairs), so that of the shards ready at once
    the largest start first and the smallest fill the cores at the end (the longest-first rule).
    Among equal priorities Snakemake weighs input sizes, which for these directory inputs say
    nothing of the work: at the paper's scale the smallest of three shards took a core first and
    the largest waited for it."""
    work = {}
    for a, b in pairs:
        na, nb = block_channels[a], block_channels[b]
        work[(a, b)] = na * (na + 1) / 2 if a == b else na * nb
    top = max(work.values(), default=0) or 1
    return {k: base + spread * w / top for k, w in work.items()}


def member_priorities(blocks, base: float = 2.0, spread: float = 0.5) -> dict:
    """Each member's priority for its ``encode`` and ``fingerprint`` jobs: ``base`` plus up to
    ``spread``, highest for the first similarity block (``blocks``: the blocks in order, each with
    ``members``), so that the blocks' fingerprints are completed one after another and each
    similarity shard can start as soon as its two blocks are done, beside the remaining per-member
    jobs, instead of every shard waiting for the last fingerprint of all."""
    blocks = list(blocks)
    n = len(blocks)
    return {m: base + spread * (n - 1 - k) / n for k, b in enumerate(blocks) for m in b.members}
