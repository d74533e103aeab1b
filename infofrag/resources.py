"""What each job needs: memory estimated from the config before any job runs.

Every rule's ``mem_mb`` (what a cluster job asks for) comes from these estimates, and a config
whose jobs could not fit the memory available is refused up front, with the estimate and the
key to change, instead of a job dying in the middle of a run. The estimates are upper bounds
of the peak of each job's largest arrays (tested against measured peaks).
"""

from __future__ import annotations

import math
import os

from .errors import ConfigError

MB = 2**20
#: memory of a job beyond its arrays: the interpreter, torch, numpy, zarr
BASE_MB = {"light": 400, "torch": 700}
#: floor of each rule's request, as the rules asked before estimates existed
FLOOR_MB = {"sample": 4000, "train": 8000, "encode": 4000, "scores": 4000, "fingerprint": 2000,
            "similarity": 8000, "gather": 8000, "hotspots": 8000, "boost": 8000, "summary": 2000,
            "spaces": 2000, "spaces_gather": 2000, "explore": 2000}


def _input_size(config) -> int:
    ds = config["dataset"]
    if ds["name"] == "circle":
        return 2
    size = ds.get("image_size") or 64
    return size * size


#: what sets the number of channels (members x their latent channels)
CHANNELS_KEY = "model.latent_dim' or the members of 'ensemble"


def estimates(config: dict, members: list) -> dict:
    """Peak bytes of each rule's largest job: {rule: (bytes, the config key that drives it)}."""
    N = config["sample"]["n_points"]
    from .config import block_size as effective_block_size

    block_size = effective_block_size(config, members)
    d = max(m.latent_dim for m in members)
    M = len(members) * d
    classes = 120  # their classes together, at most (dSprites: 113)
    block_channels = block_size * d
    boost = config["boost"]
    n_targets = M if boost["target"] != "hotspots" or boost["ensemble_sizes"] else max(8, len(members))
    if not boost["ensemble_sizes"]:
        n_targets = min(n_targets, boost["max_targets"])
    out = {
        # the sample and its inputs
        "sample": (4 * N * _input_size(config) * 3, "sample.n_points"),
        "encode": (4 * N * _input_size(config) * 3, "sample.n_points"),
        # one channel at a time: its Bhattacharyya distances in float64 with their temporaries, the
        # float32 copy, the coefficients and deviations, the factors' class indicators
        "fingerprint": ((6 * 8 + 4 + 3 * 8) * N * N + 8 * N * classes, "sample.n_points"),
        # the kernel's row chunks (bounded) and the shard's [M, K] results, in float64
        "similarity": (16 * 8 * block_channels ** 2 + 2 * 16 * block_channels * N + 64 * MB,
                       "similarity.block_size"),
        # one pair variable over all channels at a time (float64, memory-mapped) and a shard's block
        "gather": (2 * 8 * M ** 2, CHANNELS_KEY),
        # NMI and distances among the informative channels (all of them, at most), each
        # symmetrised in place; OPTICS reads the distances without a copy
        "hotspots": (2 * 8 * M ** 2, CHANNELS_KEY),
        # the fused targets' fingerprints and their autograd temporaries, in each of the sweep's two
        # worker processes (the rule's threads) when an ensemble-size sweep is configured
        "boost": (6 * 4 * n_targets * N * N * (2 if boost["ensemble_sizes"] else 1), "sample.n_points"),
        # a shard's Monte Carlo: the draws' N x N temporaries and batches (~32 MiB of work each)
        "spaces": (4 * 8 * N * N + 256 * MB, "sample.n_points"),
        # every member's posteriors with the kernel's per-point values (float64), the fingerprint
        # pass's row chunks, every pair variable over the members, a group's concatenated
        # fingerprint and its temporaries
        "spaces_gather": (5 * 8 * len(members) * N * d + 40 * 8 * len(members) ** 2 + 16 * 8 * N * N + 256 * MB,
                          "sample.n_points"),
    }
    return out


def need_mb(config: dict, members: list) -> dict:
    """Each estimated rule's largest job (MB): its estimated peak with a 25% margin and the
    process's own (interpreter, libraries). What a machine must have."""
    out = {}
    for rule, (nbytes, _) in estimates(config, members).items():
        base = BASE_MB["light" if rule in ("gather", "hotspots", "fingerprint") else "torch"]
        out[rule] = int(math.ceil(1.25 * nbytes / MB)) + base
    return out


def mem_mb(config: dict, members: list) -> dict:
    """Each rule's memory request (MB): :func:`need_mb`, never below the rule's floor (what a
    cluster is asked for: generous where the estimate is small)."""
    out = dict(FLOOR_MB)
    for rule, need in need_mb(config, members).items():
        out[rule] = max(FLOOR_MB[rule], need)
    return out


def available_mb() -> int | None:
    """Memory of this machine (MB), or None when it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MB)
    except (ValueError, OSError, AttributeError):
        return None


def check(config: dict, members: list, limit_mb: int | None) -> None:
    """Refuse a config whose largest job needs more than ``limit_mb`` (naming rule, estimate, key)."""
    if not limit_mb:
        return
    requests = need_mb(config, members)  # the floors are requests to a cluster, not needs
    est = estimates(config, members)
    skip = set() if config["spaces"]["enabled"] else {"spaces", "spaces_gather"}
    for rule, need in sorted(requests.items(), key=lambda kv: -kv[1]):
        if rule in est and rule not in skip and need > limit_mb:
            key = est[rule][1]
            raise ConfigError(
                f"config key '{key}': a {rule} job would need about {need / 1024:.1f} GiB of memory "
                f"(estimated from sample.n_points = {config['sample']['n_points']}"
                + (f", similarity.block_size = {config['similarity']['block_size']}" if rule in ("similarity", "spaces")
                   else "")
                + f"), more than the {limit_mb / 1024:.1f} GiB available; lower '{key}'")
