# Config validation, the ensemble's members and blocks, code and data digests, path helpers.
import os
import sys
from pathlib import Path

# This checkout's package (the rule scripts do the same through scripts/_checkout.py).
sys.path.insert(0, str(Path(workflow.basedir)))

from snakemake.utils import min_version

from infofrag import config as ifc
from infofrag import ownership, resources
from infofrag.provenance import code_digest, sha256_file
from infofrag.values import canonical

min_version("9.0")

# Schema (types, ranges, names; integral floats as integers; defaults filled), then what a
# schema cannot say; in place, since `config` is Snakemake's own object.
_valid = ifc.validate(config)
config.clear()
config.update(_valid)
RESULTS = config["results_dir"]
MEMBERS = ifc.member_table(config)
BLOCKS = {b.name: b for b in ifc.blocks(config)}
BLOCK_PAIRS = ifc.block_pairs(config)
# Each rule's memory request, from estimates of its jobs' peaks (infofrag.resources).
MEM_MB = resources.mem_mb(
    config, list(MEMBERS.values()), config["similarity"]["block_size"]
)
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
        config["similarity"]["block_size"],
        getattr(workflow.resource_settings.resources.get("mem_mb"), "value", None),
    )
    ownership.check(RESULTS, OWNER, config["take_over_results"])
# Files a user brings: inputs of the jobs that read them, and their content digests params of
# those jobs, so that replacing a file's content reruns what depends on it (whatever its mtime).
DATASET_FILES = ifc.dataset_files(config)
DATA_DIGESTS = {f: sha256_file(f) for f in DATASET_FILES}
# Members trained elsewhere: the file each comes from, and what decides its posteriors (the
# file's content digest, its entry point and that module's source digest).
IMPORTED = {m.name: m for m in MEMBERS.values() if not m.trained}
IMPORTED_FILES = {
    name: m.source.get("checkpoint") or m.source["posteriors"]
    for name, m in IMPORTED.items()
}
IMPORTED_PARAMS = {
    name: canonical(ifc.member_params(m)) for name, m in IMPORTED.items()
}
TRAINED = [m for m in MEMBERS if MEMBERS[m].trained]

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
# otherwise); never a param (a new commit would rerun everything). A job that finds none, or
# another checkout's, takes its own (infofrag.provenance.records.code_version).
if workflow.is_main_process:
    from infofrag.provenance.records import code_version_env

    _name, _value = code_version_env()
    os.environ[_name] = _value


wildcard_constraints:
    member=r"[A-Za-z0-9.+-]+(_s\d+)?",
    channel=r"\d+",
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


def encode_inputs(wc):
    """A trained member's checkpoint, or an imported member's own file; and the sample."""
    if wc.member in IMPORTED_FILES:
        return {"imported": IMPORTED_FILES[wc.member], "sample": R("sample.zarr")}
    return {"model": R(f"members/{wc.member}/model.pt"), "sample": R("sample.zarr")}


def decoder_table():
    """{member: how to decode its latents} for traversals: a trained member's checkpoint, an
    imported member's entry point and checkpoint, or None (posteriors only)."""
    out = {}
    for name, m in MEMBERS.items():
        if m.trained:
            out[name] = {"kind": "trained", "path": R(f"members/{name}/model.pt")}
        elif m.source["kind"] == "checkpoint":
            out[name] = {
                "kind": "checkpoint",
                **{k: m.source[k] for k in ("checkpoint", "entry_point", "latent_dim")},
            }
        else:
            out[name] = None
    return out


def fingerprint_path(member, channel):
    return R(f"fingerprints/{member}/ch{channel}.zarr")


def fingerprints_of(member_names):
    return [
        fingerprint_path(m, c)
        for m in member_names
        for c in range(MEMBERS[m].latent_dim)
    ]


def all_fingerprints():
    return fingerprints_of(MEMBERS)


def fingerprint_table():
    """{channel id: fingerprint store} of every channel of the ensemble."""
    return {
        f"{m}/{c}": fingerprint_path(m, c)
        for m in MEMBERS
        for c in range(MEMBERS[m].latent_dim)
    }


def shard_path(pair):
    return R(f"similarity/shards/{pair[0]}__{pair[1]}.zarr")


def shard_inputs(wc):
    """Fingerprints of every channel of the members of both blocks of a shard."""
    names = list(BLOCKS[wc.block_a].members)
    if wc.block_b != wc.block_a:
        names += list(BLOCKS[wc.block_b].members)
    return fingerprints_of(names)
