"""The config schema (``infofrag/schema.yaml``, package data) and its defaults: the one place a
default is written. The workflow fills them into a config (:func:`infofrag.config.validate`);
library functions take their keyword defaults from :func:`default`, so a call from a notebook
means what the same key means in a config (a test fails on a default written anywhere else)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.yaml"


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    import yaml

    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def default(key: str):
    """The schema's default of a config key, e.g. ``default("hotspots.info_threshold")``."""
    node = schema()
    for part in key.split("."):
        node = node["properties"][part]
    if "default" not in node:
        raise KeyError(f"config key '{key}' has no default in the schema")
    return copy.deepcopy(node["default"])


def section(name: str) -> dict:
    """Every default of a config section, e.g. ``section("scores")``."""
    props = schema()["properties"][name]["properties"]
    return {k: copy.deepcopy(v["default"]) for k, v in props.items() if "default" in v}
