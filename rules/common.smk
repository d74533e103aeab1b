# Config validation, the ensemble's members and blocks, code and data digests, path helpers.
import os
import sys
from pathlib import Path

# This checkout's package, first on the path whatever else is installed or on PYTHONPATH (the
# rule scripts do the same through scripts/_checkout.py, and check it).
CHECKOUT = str(Path(workflow.basedir).resolve())
sys.path[:] = [CHECKOUT] + [
    p for p in sys.path if not (p and Path(p).resolve() == Path(CHECKOUT))
]

from snakemake.utils import min_version

import infofrag
from infofrag import config as ifc
from infofrag import ownership, previous, resources
from infofrag.scheduling import (
    cache_input_sizes,
    lift_local_rate_limit,
    member_priorities,
    shard_priorities,
)
from infofrag.keys import Keys
from infofrag.stages import scores as scores_stage
from infofrag.provenance.records import require_checkout
from infofrag.values import canonical

require_checkout(infofrag, CHECKOUT)
min_version("9.0")

# The config files themselves: no key given twice (YAML would keep the last, silently).
for _f in workflow.configfiles:
    ifc.read_yaml(_f)
# Files a user brings are relative to the config file's folder. Then the schema (types, ranges,
# names; integral floats as integers; defaults filled) and what a schema cannot say; in place,
# since `config` is Snakemake's own object.
_base = Path(workflow.configfiles[-1]).parent if workflow.configfiles else Path.cwd()
_valid = ifc.validate(ifc.resolve_user_paths(config, _base))
config.clear()
config.update(_valid)
RESULTS = config["results_dir"]
# The members, their blocks and the block pairs (one similarity shard each), computed once.
ENSEMBLE = ifc.ensemble(config)
MEMBERS = ENSEMBLE.members
BLOCKS = ENSEMBLE.blocks
BLOCK_PAIRS = ENSEMBLE.pairs
# Per-member jobs block by block, so that shards start as their blocks complete; each similarity
# shard's priority: the largest of those ready start first (infofrag.scheduling).
MEMBER_PRIORITY = member_priorities(BLOCKS.values())
SHARD_PRIORITY = shard_priorities(
    {name: sum(MEMBERS[m].latent_dim for m in b.members) for name, b in BLOCKS.items()},
    BLOCK_PAIRS,
)
TRAINED = ENSEMBLE.trained
IMPORTED = ENSEMBLE.imported
# Each rule's memory request, from estimates of its jobs' peaks (infofrag.resources).
MEM_MB = resources.mem_mb(config, list(MEMBERS.values()))
# Which config this results directory belongs to (claimed when a run starts, see Snakefile).
OWNER = ownership.identity(workflow.configfiles, RESULTS, config)

# Checked once, up front, before any job runs: user dataset files; memory against a
# --resources mem_mb limit (against this machine's memory too when a run starts: Snakefile);
# that the results directory is this config's.
if workflow.is_main_process:
    ifc.check_dataset_files(config)
    ifc.check_imported_files(config)
    resources.check(
        config,
        list(MEMBERS.values()),
        getattr(workflow.resource_settings.resources.get("mem_mb"), "value", None),
    )
    ownership.check(RESULTS, OWNER, config["take_over_results"])
# Files a user brings: inputs of the jobs that read them (by path: their modification times
# never decide a rerun, their contents do, through the keys).
DATASET_FILES = [ancient(f) for f in ifc.dataset_files(config)]
IMPORTED_FILES = {
    name: m.source.get("checkpoint") or m.source["posteriors"]
    for name, m in IMPORTED.items()
}
# What decides each job's results (infofrag.keys): every rule's `key` param, recorded by its jobs.
KEYS = Keys(config, ENSEMBLE, checkout=CHECKOUT)

# The code version every job records (git commit, dirty flag, package digest) and the package
# versions: taken once, here, and handed to the jobs in their environment (~0.5 s a job
# otherwise); never a param (a new commit would rerun everything). A job checks that it runs
# this checkout's package (infofrag.provenance.records.code_version).
if workflow.is_main_process:
    from infofrag.provenance.records import code_version_env

    _name, _value = code_version_env(KEYS.unused_modules)
    os.environ[_name] = _value


def settle_key_files():
    """The key files brought up to date with the results after a run (onsuccess, onerror)."""
    from infofrag.provenance.current import refresh_key_files

    # on failure the next run decides them again; never hide the run's own outcome
    try:
        refresh_key_files(KEYS.jobs(RESULTS), RESULTS)
    except OSError as exc:
        print(f"infofrag: key files not brought up to date: {exc}", file=sys.stderr)


# Whether a result is current is decided by its own record (infofrag.provenance.current): its key
# against the key its job would have now, its inputs' digests against their records. Each job reads
# its key file (R(".keys/...")), dated in the past when its result is current and now when it is
# stale, so Snakemake's own comparison of modification times reruns exactly the stale results
# (profiles/default/config.yaml turns its metadata-based triggers off: params, code and input sets
# are in the keys). A dry run brings the key files up to date too.
if workflow.is_main_process:
    from infofrag.provenance.current import refresh_key_files

    _stale = refresh_key_files(KEYS.jobs(RESULTS), RESULTS)
    if _stale:
        print(
            f"infofrag: {len(_stale)} result(s) out of date by their records:\n  "
            + "\n  ".join(_stale[:20])
            + (f"\n  ... and {len(_stale) - 20} more" if len(_stale) > 20 else ""),
            file=sys.stderr,
        )


wildcard_constraints:
    member=r"[A-Za-z0-9.+-]+(_s\d+)?",
    block_a=r"[A-Za-z0-9.+-]+-\d+",
    block_b=r"[A-Za-z0-9.+-]+-\d+",


def R(path):
    """A path under the results directory."""
    return f"{RESULTS}/{path}"


def key_input(rule):
    """The key file a rule's jobs read (infofrag.provenance.current.key_file)."""
    from infofrag.provenance.current import key_file

    return lambda wc: key_file(RESULTS, rule, dict(wc.items()))


def member_params(wc):
    """How a member is trained or read: a trained member's settings (all of them: how often it
    logs too), or where an imported member comes from."""
    return canonical(ifc.member_params(MEMBERS[wc.member]))


def model_input(wc):
    """What a member's encoder is read from: a trained member's checkpoint, or an imported
    member's own file (a checkpoint or a posteriors file)."""
    if wc.member in IMPORTED_FILES:
        return {"imported": IMPORTED_FILES[wc.member]}
    return {"model": R(f"members/{wc.member}/model.pt")}


def posteriors_path(member):
    return R(f"posteriors/{member}.zarr")


def fingerprint_path(member):
    return R(f"fingerprints/{member}.zarr")


def block_fingerprints(block):
    """The fingerprint stores of a block's members, in member order."""
    return [fingerprint_path(m) for m in BLOCKS[block].members]


def block_posteriors(block):
    """The posteriors stores of a block's members, in member order."""
    return [posteriors_path(m) for m in BLOCKS[block].members]


def shard_path(pair):
    return R(f"similarity/shards/{pair[0]}__{pair[1]}.zarr")


def scores_inputs(wc):
    """The member's posteriors and the sample; for the field protocol also the member's encoder
    (a trained member's checkpoint, an imported one's file) and the data files."""
    member = MEMBERS[wc.member]
    out = {"posteriors": posteriors_path(wc.member), "sample": R("sample.zarr")}
    if scores_stage.uses_encoder(config["scores"], member):
        out.update(model_input(wc), data=DATASET_FILES)
    return out


def scores_params(wc):
    """What decides the member's scores: the settings it reads; for the field protocol also
    how to load its encoder and the points it draws (the dataset and its files' digests).
    """
    member = MEMBERS[wc.member]
    field = scores_stage.uses_encoder(config["scores"], member)
    if field:
        who = member_params(wc)
    elif (
        config["scores"]["protocol"] == "field"
    ):  # no encoder: the sample, with a note saying so
        who = {"name": wc.member, "kind": "posteriors"}
    else:
        who = None
    return {
        "settings": scores_stage.rule_settings(config["scores"], member),
        "member": who,
        "dataset": config["dataset"] if field else None,
    }


def mc_posteriors(block):
    """The posteriors stores of a block's members with Monte Carlo estimates, in member order."""
    return [posteriors_path(m) for m in ENSEMBLE.spaces.blocks[block]]
