# Config validation, the ensemble's members and blocks, and path helpers shared by all rules.
import sys
from pathlib import Path

# This checkout's package (the rule scripts do the same through scripts/_checkout.py).
sys.path.insert(0, str(Path(workflow.basedir)))

from snakemake.utils import validate, min_version

from infofrag import config as ifc
from infofrag.provenance import package_digest

min_version("9.0")

# Schema first (types, ranges, names; fills defaults), then what a schema cannot say.
validate(config, Path(workflow.basedir) / "config" / "schema.yaml")
ifc.check_semantics(config)
# User dataset files: checked once, up front (not again in every job).
if workflow.is_main_process:
    ifc.check_dataset_files(config)

RESULTS = config["results_dir"]
MEMBERS = ifc.member_table(config)
BLOCKS = {b.name: b for b in ifc.blocks(config)}
BLOCK_PAIRS = ifc.block_pairs(config)
# Files a user brings (dataset.path, dataset.labels_path): inputs of the jobs that read them,
# so replacing one reruns what depends on it and its digest lands in the provenance.
DATASET_FILES = [
    config["dataset"][k] for k in ("path", "labels_path") if k in config["dataset"]
]

# Code versions: Snakemake does not track imported package code, so each rule carries the
# digest of the modules that decide its numbers as a param; changing them reruns exactly
# the rules that use them.
CODE = {
    "data": package_digest(["data.py"]),
    "train": package_digest(["data.py", "models.py", "train.py"]),
    "encode": package_digest(["models.py", "train.py", "metrics.py"]),
    "estimators": package_digest(["estimators.py"]),
    "hotspots": package_digest(["estimators.py", "hotspots.py", "figures.py"]),
    "boost": package_digest(["estimators.py", "boost.py", "figures.py"]),
}


wildcard_constraints:
    member=r"b[^/_]+_s\d+",
    channel=r"\d+",
    block_a=r"b[^/_]+-\d+",
    block_b=r"b[^/_]+-\d+",


def R(path):
    """A path under the results directory."""
    return f"{RESULTS}/{path}"


def member_channels(name):
    return range(MEMBERS[name].latent_dim)


def fingerprints_of(member_names):
    return [
        R(f"fingerprints/{m}/ch{c}.zarr")
        for m in member_names
        for c in member_channels(m)
    ]


def all_fingerprints():
    return fingerprints_of(MEMBERS)


def shard_path(pair):
    return R(f"similarity/shards/{pair[0]}__{pair[1]}.zarr")


def shard_inputs(wc):
    """Fingerprints of every channel of the members of both blocks of a shard."""
    names = list(BLOCKS[wc.block_a].members)
    if wc.block_b != wc.block_a:
        names += list(BLOCKS[wc.block_b].members)
    return fingerprints_of(names)
