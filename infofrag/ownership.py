"""Which config a results directory belongs to.

A results directory records the config file whose run first wrote to it, in
``<results_dir>/.infofrag-owner.json``, by its path relative to the results directory (so that a
project copied or moved as a whole keeps its results). A run of another config file refuses to write
there, naming both, unless the user asks to take the directory over: two checkouts or two
configs sharing one (absolute) ``results_dir`` would otherwise silently adopt and overwrite each
other's results. Editing the owning config file is the normal incremental rerun and is allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

from .atomic import write_json
from .errors import ConfigError
from .values import canonical

OWNER_FILE = ".infofrag-owner.json"
TAKE_OVER_KEY = "take_over_results"


def identity(config_files, results_dir, config: dict) -> dict:
    files = [os.path.realpath(f) for f in config_files]  # a config reached through a symlink is itself
    # the results directory as the project names it: a second checkout whose results/ is a
    # symlink to the first's, with its own config.yaml beside it, is laid out as the first
    root = os.path.abspath(results_dir)
    digest = hashlib.sha256(json.dumps(canonical(config), sort_keys=True).encode()).hexdigest()[:16]
    return {"config_files": files, "relative_to_results": sorted(os.path.relpath(f, root) for f in files),
            "config_digest": digest, "host": socket.gethostname()}


def _same_owner(a: dict, b: dict) -> bool:
    return a.get("relative_to_results") == b.get("relative_to_results")


def check(results_dir, me: dict, take_over: bool = False) -> None:
    """Refuse (ConfigError) when ``results_dir`` belongs to another config file."""
    path = Path(results_dir) / OWNER_FILE
    try:
        owner = json.loads(path.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise ConfigError(f"config key 'results_dir': cannot read '{path}' ({exc}); remove it if "
                          "the directory is yours") from None
    if _same_owner(owner, me) or take_over:
        return
    raise ConfigError(
        f"config key 'results_dir': '{results_dir}' holds the results of another config: "
        f"{', '.join(owner.get('config_files') or ['?'])} (config digest {owner.get('config_digest')}, "
        f"on {owner.get('host')}); this run's is {', '.join(me['config_files'])} (config digest "
        f"{me['config_digest']}). Use another results_dir, or take the directory over with "
        f"--config {TAKE_OVER_KEY}=true (its results are then rerun or overwritten as this config says)")


def claim(results_dir, me: dict) -> None:
    """Record ``me`` as the owner when a run starts (only when there is none, or another: a
    taken-over directory); the owner's own edits of its config change nothing here."""
    path = Path(results_dir) / OWNER_FILE
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        current = None
    if current is None or not _same_owner(current, me):
        write_json(path, me)
