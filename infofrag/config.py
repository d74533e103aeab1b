"""Workflow configuration: schema validation, the ensemble's members and similarity blocks.

The Snakefile and the library share this module, so a config means the same thing in a
rule, a script, a test and a notebook. Validation happens in two layers:

1. the JSON schema (``config/schema.yaml``) -- types, ranges, known names; it fills defaults;
2. :func:`check_semantics` -- what a schema cannot say (the fingerprint sample larger than the
   dataset, a block size larger than the ensemble, an override of a member that does not exist,
   two members that would train the identical model, an architecture that does not fit the data).

Every error names the config key that is wrong.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from pathlib import Path

import yaml

from .errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "schema.yaml"

#: dSprites factor grid size (3 shapes x 6 scales x 40 orientations x 32 x 32 positions)
DSPRITES_SIZE = 3 * 6 * 40 * 32 * 32

#: keys of a member that a per-member override may change
MEMBER_KEYS = ("seed", "beta", "steps", "batch_size", "lr", "latent_dim",
               "checkpoint_every", "log_every", "runtime_min", "tc_weight")



# --------------------------------------------------------------------------- schema

def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _fill_defaults(instance, schema):
    """Fill ``default`` values of object properties (recursively), like snakemake.utils.validate."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<config>"


def _refuse_non_finite(node, path=()) -> None:
    """NaN and infinities are never a valid setting (YAML reads ``.nan`` and ``.inf``)."""
    if isinstance(node, dict):
        for k, v in node.items():
            _refuse_non_finite(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _refuse_non_finite(v, path + (i,))
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"config key '{_key(path)}': {node} is not a finite number")


def _normalise(node, schema, path=()):
    """Integer keys as int, number keys as float, following the schema (after validation):
    ``steps: 40.0`` is ``steps: 40`` and ``beta: 4`` is ``beta: 4.0``, so that what decides a
    rerun is the value, not how it was spelled."""
    kind = schema.get("type")
    if isinstance(node, bool):
        return node
    if kind == "integer" and isinstance(node, float):
        return int(node)  # validation has checked it is integral
    if kind == "number" and isinstance(node, int):
        return float(node)
    if isinstance(node, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {k: _normalise(v, props.get(k, extra if isinstance(extra, dict) else {}), path + (k,))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_normalise(v, schema.get("items", {}), path + (i,)) for i, v in enumerate(node)]
    return node


def _booleans(node, schema):
    """``--config key=true`` reaches the config as the text 'true': boolean keys read it as the
    boolean (true/false, yes/no, 1/0)."""
    if isinstance(node, dict):
        props = schema.get("properties", {})
        return {k: _booleans(v, props.get(k, {})) for k, v in node.items()}
    if schema.get("type") == "boolean" and isinstance(node, (str, int)) and not isinstance(node, bool):
        word = str(node).strip().lower()
        if word in ("true", "yes", "1"):
            return True
        if word in ("false", "no", "0"):
            return False
    return node


def validate_schema(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` against the JSON schema; return a normalised copy with defaults filled.

    Integer keys accept integral floats (``40.0``) as the integer; every numeric key refuses NaN
    and infinities; every error names the key."""
    import jsonschema

    schema = schema or load_schema()
    config = _booleans(copy.deepcopy(config), schema)
    _refuse_non_finite(config)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"config key '{_key(err.absolute_path)}': {err.message}{more}")
    config = _normalise(config, schema)
    _fill_defaults(config, schema)
    return config


# --------------------------------------------------------------------------- members

def beta_label(beta: float) -> str:
    """Compact, stable text for a beta value: 4.0 -> '4', 0.5 -> '0.5'."""
    return format(float(beta), "g")


@dataclasses.dataclass(frozen=True)
class Member:
    """One ensemble member: one training run."""

    name: str
    sweep_beta: float  # the sweep position it came from (decides its block)
    beta: float
    seed: int
    arch: str
    latent_dim: int
    steps: int
    batch_size: int
    lr: float
    checkpoint_every: int
    log_every: int
    runtime_min: int
    tc_weight: float = 0.0

    def train_config(self) -> dict:
        """The settings that decide this member's weights (what its train job depends on).

        ``tc_weight`` appears only when it is non-zero, so that plain beta-VAE members keep the
        params (and digests) they had before the option existed and are not rerun.
        """
        keys = ("name", "beta", "seed", "arch", "latent_dim", "steps", "batch_size", "lr",
                "checkpoint_every", "log_every")
        out = {k: getattr(self, k) for k in keys}
        if self.tc_weight:
            out["tc_weight"] = self.tc_weight
        return out

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.train_config(), sort_keys=True).encode()).hexdigest()[:16]


def members(config: dict) -> list[Member]:
    """The ensemble in its canonical order: betas in config order, then seeds in config order.

    ``config`` is a validated one (defaults filled by the schema)."""
    tr, model = config["training"], config["model"]
    overrides = config["ensemble"].get("overrides") or {}
    out = []
    for beta in config["ensemble"]["betas"]:
        for seed in config["ensemble"]["seeds"]:
            name = f"b{beta_label(beta)}_s{seed}"
            base = dict(seed=int(seed), beta=beta, latent_dim=model["latent_dim"],
                        tc_weight=model["tc_weight"],
                        **{k: tr[k] for k in ("steps", "batch_size", "lr", "checkpoint_every",
                                              "log_every", "runtime_min")})
            base.update(overrides.get(name, {}))
            for key in ("beta", "lr", "tc_weight"):  # YAML's 2 and 2.0: the same member, same params
                base[key] = float(base[key])
            out.append(Member(name=name, sweep_beta=float(beta), arch=model["arch"],
                              **{k: base[k] for k in MEMBER_KEYS}))
    return out


def member_table(config: dict) -> dict[str, Member]:
    return {m.name: m for m in members(config)}


@dataclasses.dataclass(frozen=True)
class Block:
    """A run of whole members of one sweep beta; similarity is sharded by block pairs."""

    name: str
    members: tuple[str, ...]


def blocks(config: dict) -> list[Block]:
    """Blocks of at most ``similarity.block_size`` members, never mixing sweep betas.

    Blocks are per beta and filled in seed order, so adding seeds (or betas) to the sweep
    appends members to the last block of each beta (or adds new blocks) without moving any
    existing member into another block: existing full blocks and their shards stay valid.
    """
    size = config["similarity"]["block_size"]
    out = []
    for beta in config["ensemble"]["betas"]:
        names = [m.name for m in members(config) if m.sweep_beta == float(beta)]
        for k in range(0, len(names), size):
            out.append(Block(name=f"b{beta_label(beta)}-{k // size}", members=tuple(names[k:k + size])))
    return out


def block_pairs(config: dict) -> list[tuple[str, str]]:
    """Unordered block pairs (i <= j in block order): one similarity shard each."""
    names = [b.name for b in blocks(config)]
    return [(names[i], names[j]) for i in range(len(names)) for j in range(i, len(names))]


# --------------------------------------------------------------------------- semantics

_ARCH_SIZE = {"conv64": 64, "conv32": 32}


def dataset_size(dataset_cfg: dict) -> int | None:
    """Number of points in the configured dataset, when knowable without reading user files."""
    name = dataset_cfg["name"]
    if name == "dsprites":
        return DSPRITES_SIZE
    if name == "circle":
        return dataset_cfg.get("n_points", 1000)
    return None


def check_semantics(config: dict) -> None:
    """Checks a schema cannot express. Raises :class:`ConfigError` naming the key."""
    ds, model = config["dataset"], config["model"]
    n = config["sample"]["n_points"]
    size = dataset_size(ds)
    if size is not None and n > size:
        raise ConfigError(f"config key 'sample.n_points': the fingerprint sample ({n}) is larger "
                          f"than the dataset '{ds['name']}' ({size} points)")
    if ds["name"] in ("dsprites_npz", "idx", "images") and "path" not in ds:
        raise ConfigError(f"config key 'dataset.path': required for dataset '{ds['name']}'")
    if ds["name"] == "dsprites" and ds.get("image_size", 64) not in (32, 64):
        raise ConfigError("config key 'dataset.image_size': dsprites renders at 32 or 64 pixels, "
                          f"got {ds.get('image_size')}")
    arch = model["arch"]
    if ds["name"] == "circle" and arch != "mlp":
        raise ConfigError(f"config key 'model.arch': the circle dataset needs 'mlp', got '{arch}'")
    if arch in _ARCH_SIZE and ds["name"] != "circle":
        want = _ARCH_SIZE[arch]
        have = ds.get("image_size", 64 if ds["name"] in ("dsprites", "dsprites_npz") else None)
        if have is not None and have != want:
            raise ConfigError(f"config key 'model.arch': '{arch}' takes {want}x{want} images but "
                              f"dataset.image_size is {have}")

    sweep_names = {f"b{beta_label(b)}_s{s}" for b in config["ensemble"]["betas"]
                   for s in config["ensemble"]["seeds"]}
    if len(sweep_names) != len(config["ensemble"]["betas"]) * len(config["ensemble"]["seeds"]):
        raise ConfigError("config key 'ensemble.betas': two betas give the same member name")
    for name in (config["ensemble"].get("overrides") or {}):
        if name not in sweep_names:
            raise ConfigError(f"config key 'ensemble.overrides.{name}': no such member in the sweep "
                              f"(members are named b<beta>_s<seed>, e.g. {sorted(sweep_names)[0]})")
    seen = {}
    for m in members(config):
        key = json.dumps({k: v for k, v in m.train_config().items() if k != "name"}, sort_keys=True)
        if key in seen:
            raise ConfigError(f"config key 'ensemble.overrides.{m.name}': member '{m.name}' would train "
                              f"exactly the same model as '{seen[key]}' (duplicate member)")
        seen[key] = m.name
        if m.checkpoint_every > m.steps and m.steps > 1:
            pass  # allowed: then only the final checkpoint is written
    n_members = len(members(config))
    bs = config["similarity"]["block_size"]
    if bs > n_members:
        raise ConfigError(f"config key 'similarity.block_size': {bs} is larger than the ensemble "
                          f"({n_members} members)")
    boost = config.get("boost", {})
    if boost.get("target") == "beta":
        if "beta" not in boost:
            raise ConfigError("config key 'boost.beta': required when boost.target is 'beta'")
        if float(boost["beta"]) not in [float(b) for b in config["ensemble"]["betas"]]:
            raise ConfigError(f"config key 'boost.beta': {boost['beta']} is not one of ensemble.betas")


def dataset_files(config: dict) -> list[str]:
    """The files a user brings for the dataset (``dataset.path``, ``dataset.labels_path``)."""
    return [config["dataset"][k] for k in ("path", "labels_path") if k in config["dataset"]]


def check_dataset_files(config: dict) -> None:
    """Open a user's dataset file(s) and check them before any job runs (names the file)."""
    ds_cfg = config["dataset"]
    if ds_cfg["name"] not in ("dsprites_npz", "idx", "images"):
        return
    from . import data

    try:
        ds = data.make_dataset(ds_cfg)
    except ValueError as exc:  # DataFileError: '<file>: <problem>'
        raise ConfigError(f"config key 'dataset.path': {exc}") from None
    n = config["sample"]["n_points"]
    if n > ds.n:
        raise ConfigError(f"config key 'sample.n_points': the fingerprint sample ({n}) is larger than "
                          f"the dataset '{ds_cfg['path']}' ({ds.n} images)")
    arch = config["model"]["arch"]
    want = _ARCH_SIZE.get(arch)
    if want is not None and tuple(ds.input_shape[1:]) != (want, want):
        raise ConfigError(f"config key 'model.arch': '{arch}' takes {want}x{want} images but "
                          f"'{ds_cfg['path']}' holds {ds.input_shape[1]}x{ds.input_shape[2]} images")


def validate(config: dict) -> dict:
    """Schema + semantic validation; returns the config with defaults filled."""
    config = validate_schema(config)
    check_semantics(config)
    return config


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file '{path}' is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of keys, got {type(raw).__name__}")
    return validate(raw)
