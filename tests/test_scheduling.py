"""Snakemake's scheduling rounds: the job-rate limiter's re-evaluations chain, and
:func:`infofrag.scheduling.lift_local_rate_limit` (the Snakefile's ``onstart``) stops them; each
round reads every ready job's input sizes, and :func:`~infofrag.scheduling.cache_input_sizes`
reads each once; the similarity shards' priorities put the largest first.

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


def test_shard_priorities_put_the_largest_shards_first():
    from infofrag.scheduling import shard_priorities

    # the paper's scale: blocks of 2,000 and 1,000 channels
    p = shard_priorities({"a": 2000, "b": 1000}, [("a", "a"), ("a", "b"), ("b", "b")])
    assert max(p.values()) == 3.5 and all(3.0 < v <= 3.5 for v in p.values())
    assert p[("a", "a")] > p[("b", "b")] and p[("a", "b")] > p[("b", "b")]
    # an off-diagonal shard computes every pair of its two blocks, a diagonal one half of its own
    q = shard_priorities({"x": 10, "y": 10}, [("x", "x"), ("x", "y"), ("y", "y")])
    assert q[("x", "y")] == 3.5 and q[("x", "x")] == q[("y", "y")] == 3.0 + 0.5 * 55 / 100


ORDER_SNAKEFILE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from infofrag.scheduling import shard_priorities

PRIO = {{f"{{a}}__{{b}}": v for (a, b), v in shard_priorities(
    {{"a": 2, "z": 8}}, [("a", "a"), ("a", "z"), ("z", "z")]).items()}}

rule all:
    input: expand("out/{{s}}.txt", s=sorted(PRIO))

rule shard:
    output: "out/{{s}}.txt"
    priority: lambda wc: PRIO[wc.s]
    shell: "echo {{wildcards.s}} >> order.txt; touch {{output}}"
"""


def test_snakemake_starts_the_ready_shards_largest_first(tmp_path):
    """The priorities as the similarity rule gives them (a function of the wildcards), one core:
    Snakemake runs the shards in order of their work, here the reverse of their names' order."""
    (tmp_path / "Snakefile").write_text(ORDER_SNAKEFILE)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # blocks of 2 (a) and 8 (z) channels: z x z 36 pairs, a x z 16, a x a 3
    assert (tmp_path / "order.txt").read_text().split() == ["z__z", "a__z", "a__a"]


SIZES_SNAKEFILE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from snakemake.io import _IOFile
from infofrag.scheduling import cache_input_sizes

READ = []
_size = _IOFile.size

async def size(self):
    READ.append(str(self))
    return await _size(self)

_IOFile.size = size

rule all:
    input: expand("out/{{i}}.txt", i=range({JOBS}))

rule one:
    input: "in/{{i}}.a", "in/{{i}}.b"
    output: "out/{{i}}.txt"
    shell: "touch {{output}}"

onstart:
    if config.get("cache"):
        assert cache_input_sizes(workflow)

onsuccess:
    inputs = [p for p in READ if p.startswith("in/")]
    print("SIZES_READ", len(inputs), len(set(inputs)))
"""


def sizes_read(tmp_path: Path, cache: bool) -> tuple[int, int]:
    d = tmp_path / ("cached" if cache else "default")
    (d / "in").mkdir(parents=True)
    for i in range(JOBS):
        for s in "ab":
            (d / "in" / f"{i}.{s}").write_text("x" * (i + 1))
    (d / "Snakefile").write_text(SIZES_SNAKEFILE)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--config", f"cache={int(cache)}"],
                          cwd=d, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("SIZES_READ"))
    return tuple(int(x) for x in line.split()[1:])


def test_each_input_size_is_read_once(tmp_path):
    """Snakemake reads the size of every input of every ready job each scheduling round; with
    :func:`infofrag.scheduling.cache_input_sizes` (the Snakefile's ``onstart``) it reads each once."""
    cached, distinct = sizes_read(tmp_path, cache=True)
    # once for the rounds, once more when the job that reads it ends (Snakemake's own record of
    # its inputs, once per job whatever the rounds)
    assert distinct == 2 * JOBS and cached <= 2 * distinct, (cached, distinct)
    default, distinct = sizes_read(tmp_path, cache=False)
    # every round reads the sizes of all the ready jobs' inputs again
    assert distinct == 2 * JOBS and default > 5 * cached, (default, cached)


def test_member_priorities_complete_the_blocks_in_order():
    from types import SimpleNamespace

    from infofrag.scheduling import member_priorities

    blocks = [SimpleNamespace(members=("m0", "m1")), SimpleNamespace(members=("m2",)),
              SimpleNamespace(members=("m3", "m4"))]
    p = member_priorities(blocks)
    assert p["m0"] == p["m1"] > p["m2"] > p["m3"] == p["m4"] == 2.0
    assert all(2.0 <= v < 2.5 for v in p.values())  # above scores (0), below the shards (3)
    assert member_priorities([SimpleNamespace(members=("only",))]) == {"only": 2.0}
