# Config validation, the ensemble's members and blocks, code and data digests, path helpers.
import os
import sys
from pathlib import Path

# This checkout's package, first on the path whatever else is installed or on PYTHONPATH (the
# rule scripts do the same through scripts/_checkout.py, and check it).
CHECKOUT = str(Path(workflow.basedir).resolve())
sys.path[:] = [CHECKOUT] + [p for p in sys.path if not (p and Path(p).resolve() == Path(CHECKOUT))]

from snakemake.utils import min_version

import infofrag
from infofrag import config as ifc
from infofrag import ownership, resources
from infofrag.provenance import code_digest, sha256_file
from infofrag.provenance.records import require_checkout
from infofrag.values import canonical

require_checkout(infofrag, CHECKOUT)
min_version("9.0")

# Schema (types, ranges, names; integral floats as integers; defaults filled), then what a
# schema cannot say; in place, since `config` is Snakemake's own object.
_valid = ifc.validate(config)
config.clear()
config.update(_valid)
RESULTS = config["results_dir"]
# The members, their blocks and the block pairs (one similarity shard each), computed once.
ENSEMBLE = ifc.ensemble(config)
MEMBERS = ENSEMBLE.members
BLOCKS = ENSEMBLE.blocks
BLOCK_PAIRS = ENSEMBLE.pairs
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
# Files a user brings: inputs of the jobs that read them, and their content digests params of
# those jobs, so that replacing a file's content reruns what depends on it (whatever its mtime).
DATASET_FILES = ifc.dataset_files(config)
DATA_DIGESTS = {f: sha256_file(f) for f in DATASET_FILES}
# Members trained elsewhere: the file each comes from, and what decides its posteriors (the
# file's content digest, its entry point and that module's source digest).
IMPORTED_FILES = {
    name: m.source.get("checkpoint") or m.source["posteriors"]
    for name, m in IMPORTED.items()
}
IMPORTED_PARAMS = {
    name: canonical(ifc.member_params(m)) for name, m in IMPORTED.items()
}

# Code versions: Snakemake does not track imported package code, so each rule carries the
# digest of its script and of the infofrag modules the script imports (their behaviour, not
# their comments) as a param; changing them reruns exactly the rules they decide.
CODE = {
    name: code_digest(Path(workflow.basedir) / "scripts" / f"{name}.py")
    for name in (
        "sample",
        "train",
        "encode",
        "scores",
        "fingerprint",
        "similarity",
        "gather",
        "hotspots",
        "boost",
        "summary",
        "spaces",
        "spaces_gather",
    )
}
# The code version every job records (git commit, dirty flag, package digest) and the package
# versions: taken once, here, and handed to the jobs in their environment (~0.5 s a job
# otherwise); never a param (a new commit would rerun everything). A job checks that it runs
# this checkout's package (infofrag.provenance.records.code_version).
if workflow.is_main_process:
    from infofrag.provenance.records import code_version_env

    _name, _value = code_version_env()
    os.environ[_name] = _value


wildcard_constraints:
    member=r"[A-Za-z0-9.+-]+(_s\d+)?",
    block_a=r"[A-Za-z0-9.+-]+-\d+",
    block_b=r"[A-Za-z0-9.+-]+-\d+",


def R(path):
    """A path under the results directory."""
    return f"{RESULTS}/{path}"


def member_params(wc):
    """What decides a member's posteriors (canonical: key order never matters): a trained
    member's settings, or where an imported member comes from with its digests."""
    if wc.member in IMPORTED_PARAMS:
        return IMPORTED_PARAMS[wc.member]
    return canonical(MEMBERS[wc.member].train_config())


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
