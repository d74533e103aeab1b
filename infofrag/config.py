"""Workflow configuration: schema validation, the ensemble's members and similarity blocks.

The Snakefile and the library share this module, so a config means the same thing in a
rule, a script, a test and a notebook. Validation happens in two layers:

1. the JSON schema (``infofrag/schema.yaml``, package data) -- types, ranges, known names; it
   fills defaults, and it is the only place a default is written (:func:`default`);
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
from .methods import DEFAULT_METHOD, METHODS, value_label

from .defaults import SCHEMA_PATH, default, schema  # noqa: F401  (the schema, package data; its defaults)

#: dSprites factor grid size (3 shapes x 6 scales x 40 orientations x 32 x 32 positions)
DSPRITES_SIZE = 3 * 6 * 40 * 32 * 32
#: scikit-learn's handwritten digits (sklearn.datasets.load_digits)
DIGITS_N = 1797
#: the fewest points MIG, SAP and DCI are computed on (below, their numbers mean nothing): the
#: schema's minimum of scores.n_train and scores.n_test, and 2/3 : 1/3 of it for the sample protocol
MIN_SCORE_TRAIN, MIN_SCORE_TEST = 100, 50
MIN_SCORE_POINTS = MIN_SCORE_TRAIN + MIN_SCORE_TEST




# --------------------------------------------------------------------------- schema

def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    if Path(path) == SCHEMA_PATH:
        return copy.deepcopy(schema())
    with open(path) as fh:
        return yaml.safe_load(fh)




def _fill_defaults(instance, schema):
    """Fill ``default`` values of object properties (recursively, list items included)."""
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _fill_defaults(item, schema["items"])
        return
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
        if err.validator == "anyOf":  # e.g. "an integer >= 1, or auto": say which form was meant
            bound = next((e for e in err.context if e.validator not in ("const", "enum", "type")), None)
            first = (bound.message + "; " if bound is not None else f"{err.instance!r}: ") + "expected "
            err.message = first + _alternatives(err.schema)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        why = ""
        if err.validator == "pattern" and isinstance(err.schema, dict) and err.schema.get("description"):
            why = f" -- {' '.join(str(err.schema['description']).split())}"  # what the pattern means
        raise ConfigError(f"config key '{_key(err.absolute_path)}': {err.message}{why}{more}")
    config = _normalise(config, schema)
    _fill_defaults(config, schema)
    return config


def _alternatives(schema: dict) -> str:
    """The forms an anyOf allows, in words ("an integer >= 1 or 'auto'")."""
    words = []
    for sub in schema.get("anyOf", []):
        if "const" in sub:
            words.append(repr(sub["const"]))
        elif "enum" in sub:
            words += [repr(v) for v in sub["enum"]]
        else:
            kind = {"integer": "an integer", "number": "a number", "string": "a string"}.get(sub.get("type"), "a value")
            bounds = [f">= {sub['minimum']}" if "minimum" in sub else "", f"<= {sub['maximum']}" if "maximum" in sub else ""]
            words.append(" ".join([kind] + [b for b in bounds if b]))
    return " or ".join(words)


# --------------------------------------------------------------------------- members

def beta_label(beta: float) -> str:
    """Compact, stable text for a beta value: 4.0 -> '4', 0.5 -> '0.5'."""
    return value_label(beta)


#: settings every trained member takes from the training section (per-member overridable)
_TRAINING_KEYS = ("steps", "batch_size", "lr", "checkpoint_every", "log_every")


@dataclasses.dataclass(frozen=True)
class Member:
    """One ensemble member: a training run of one model family, or a model trained elsewhere.

    ``method``, ``param``, ``value``: its family, the swept hyperparameter and the sweep value it
    came from (deciding its group and block; an override may train another value under the same
    name); ``group``: the block-name prefix (``b4``, ``fv10``, or an imported member's label).
    ``train``: what its train job depends on (None for an imported member); ``source``: where an
    imported member comes from (None for a trained one)."""

    name: str
    method: str
    param: str | None
    value: float | None
    seed: int | None
    latent_dim: int
    group: str
    runtime_min: int
    train: dict | None = None
    source: dict | None = None

    @property
    def trained(self) -> bool:
        return self.train is not None

    @property
    def posteriors_only(self) -> bool:
        """An imported member given as a posteriors file: no encoder, no decoder."""
        return not self.trained and self.source["kind"] == "posteriors"

    @property
    def has_encoder(self) -> bool:
        """A trained member, or an imported checkpoint (its entry point encodes)."""
        return not self.posteriors_only

    def __getattr__(self, key):  # a trained member's settings: m.steps, m.beta, m.tc_weight, ...
        train = self.__dict__.get("train") or {}
        if key in train:
            return train[key]
        if key == "tc_weight" and train:
            return 0.0
        raise AttributeError(key)

    def train_config(self) -> dict:
        """The settings that decide this member's weights (what its train job depends on); for
        an imported member, what it is read from. A beta-VAE member's dict is exactly what it
        was before other families existed (no ``method`` key; ``tc_weight`` only when non-zero),
        so existing results are not rerun."""
        return dict(self.train if self.trained else self.source)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.train_config(), sort_keys=True).encode()).hexdigest()[:16]

    def labels(self) -> dict:
        """How results label the member: its method, the swept hyperparameter and its value,
        its seed (the coordinates of every store and table; None where it has none)."""
        return {"method": self.method, "param": self.param,
                "value": None if self.value is None else float(self.value), "seed": self.seed}


def sweeps(config: dict) -> dict:
    """{method: {its settings, the swept one a list}}: ``ensemble.methods``, or the ``betas``
    shorthand for a beta-VAE sweep."""
    ens = config["ensemble"]
    out = dict(ens.get("methods") or {})
    if ens.get("betas"):
        out = {"beta_vae": {"beta": list(ens["betas"])}, **out}
    return out


def _trained_member(config, method, settings, value, seed, overrides) -> Member:
    tr, model = config["training"], config["model"]
    spec = METHODS[method]
    name = f"{spec.prefix}{value_label(value)}_s{seed}"
    base = {"seed": int(seed), "latent_dim": model["latent_dim"], "runtime_min": tr["runtime_min"],
            **{k: tr[k] for k in _TRAINING_KEYS}}
    hyper = {k: v for k, v in settings.items() if k != spec.swept}
    if method == "beta_vae":
        hyper.setdefault("tc_weight", model["tc_weight"])
    hyper[spec.swept] = value
    over = dict(overrides.get(name, {}))
    base.update({k: over.pop(k) for k in list(over) if k in base})
    hyper.update(over)
    for key, s in spec.settings.items():  # YAML's 2 and 2.0: the same member, the same params
        if key in hyper:
            hyper[key] = float(hyper[key]) if s.kind == "float" else hyper[key]
    base["lr"] = float(base["lr"])
    train = {"name": name}
    if method != DEFAULT_METHOD:
        train["method"] = method
    train.update({k: base[k] for k in ("seed", "latent_dim", *_TRAINING_KEYS)})
    train["arch"] = model["arch"]
    if method == DEFAULT_METHOD:  # the keys (and so the digests) of before other families
        train["beta"] = hyper["beta"]
        if hyper["tc_weight"]:
            train["tc_weight"] = hyper["tc_weight"]
    else:
        train.update(hyper)
    return Member(name=name, method=method, param=spec.swept, value=float(value), seed=int(base["seed"]),
                  latent_dim=int(base["latent_dim"]), group=f"{spec.prefix}{value_label(value)}",
                  runtime_min=int(base["runtime_min"]), train=train)


def imported_group(label: str) -> str:
    """The block-name prefix of imported members with this label (no underscores: shard
    names join two blocks with '__')."""
    return label.replace("_", "")


def _imported_member(entry: dict) -> Member:
    source = {k: entry[k] for k in ("name", "checkpoint", "entry_point", "latent_dim", "posteriors")
              if k in entry}
    source["kind"] = "posteriors" if "posteriors" in entry else "checkpoint"
    method = entry.get("method") or entry["name"]  # one group each, unless the user groups them
    value = entry.get("value")
    param = None
    if value is not None:
        value = float(value)
        param = entry.get("param") or (METHODS[method].swept if method in METHODS else "value")
    elif "param" in entry:
        raise ConfigError(f"config key 'ensemble.imported' ({entry['name']}): param {entry['param']!r} needs a value")
    group = imported_group(method) + ("" if value is None else value_label(value))
    seed = entry.get("seed")
    return Member(name=entry["name"], method=method, param=param, value=value,
                  seed=None if seed is None else int(seed), latent_dim=int(entry.get("latent_dim") or 0),
                  group=group, runtime_min=30, source=source)


def members(config: dict) -> list[Member]:
    """The ensemble in its canonical order, whatever the order the config lists things in:
    methods in the order of :data:`infofrag.methods.METHODS`, each method's values ascending,
    then seeds ascending; then the imported members by name. (Reordering a config's lists
    changes no member, block or result.)

    ``config`` is a validated one (defaults filled by the schema). An imported posteriors file
    without ``latent_dim`` has it read from the file (see :func:`imported_latent_dims`)."""
    overrides = config["ensemble"].get("overrides") or {}
    out = []
    sw = sweeps(config)
    for method in (m for m in METHODS if m in sw):
        settings = sw[method]
        for value in sorted(settings[METHODS[method].swept]):
            for seed in sorted(config["ensemble"]["seeds"]):
                out.append(_trained_member(config, method, settings, value, seed, overrides))
    dims = imported_latent_dims(config)
    for entry in sorted(config["ensemble"].get("imported") or [], key=lambda e: e["name"]):
        out.append(_imported_member({**entry, "latent_dim": entry.get("latent_dim") or dims.get(entry["name"])}))
    return out


def imported_latent_dims(config: dict) -> dict:
    """{name: d} of imported posteriors files that do not state latent_dim (read from the file's
    header; 0 when it cannot be read: the file check names the problem)."""
    from .imported import posteriors_shape

    out = {}
    for entry in config["ensemble"].get("imported") or []:
        if "posteriors" in entry and not entry.get("latent_dim"):
            try:
                out[entry["name"]] = posteriors_shape(entry["posteriors"])[1]
            except Exception:  # noqa: BLE001 - reported by check_imported_files with the file named
                out[entry["name"]] = 0
    return out


def member_params(member: Member) -> dict:
    """What decides a member's posteriors: a trained member's settings; for an imported one,
    where it comes from, the content digest of its file and its entry point module's source
    digest (so that replacing either reruns its jobs)."""
    if member.trained:
        return member.train_config()
    from .imported import module_digest
    from .provenance import digest_path

    src = member.source
    return {**src, "digest": digest_path(src.get("checkpoint") or src["posteriors"]),
            "module_digest": module_digest(src["entry_point"]) if "entry_point" in src else None}


def member_table(config: dict) -> dict[str, Member]:
    return {m.name: m for m in members(config)}


@dataclasses.dataclass(frozen=True)
class Block:
    """A run of members (whole groups, or part of a group larger than a block); similarity and
    whole spaces are sharded by block pairs."""

    name: str
    members: tuple[str, ...]


#: ``similarity.block_size: auto``: blocks of about this many channels (a shard job's distance
#: rows are computed once per shard: fewer, larger shards cost less; and a changed member reruns
#: the shards of its block: the whole similarity stage of an ensemble of up to twice this size)
AUTO_BLOCK_CHANNELS = 2000


def block_size(config: dict, members_: list) -> int:
    """Members per similarity block: ``similarity.block_size``, or for ``auto`` as many members as
    make :data:`AUTO_BLOCK_CHANNELS` channels."""
    size = config["similarity"]["block_size"]
    if size != "auto":
        return int(size)
    d = max((m.latent_dim for m in members_), default=1) or 1
    return max(1, -(-AUTO_BLOCK_CHANNELS // d))


def blocks(config: dict, members_: list | None = None) -> list[Block]:
    """Blocks of at most ``similarity.block_size`` members; a group (one method and value) is
    never split unless it alone exceeds the size.

    A group larger than the size fills blocks of its own in member order (``<group>-0``,
    ``<group>-1``, ...), so adding seeds appends members to its last block or adds new blocks
    without moving any existing member: its full blocks and their shards stay valid. Smaller
    groups, in member order, share a block while they fit (``<first group>+<k more>-0``): a
    zoo of small groups then needs few shards (1,800 members in groups of 50: 9 blocks of 200,
    45 shards, instead of 36 blocks and 666 shards). ``members_``: the config's members when
    already computed (:func:`members`).
    """
    ms = members(config) if members_ is None else members_
    size = block_size(config, ms)
    groups: dict[str, list[str]] = {}
    for m in ms:
        groups.setdefault(m.group, []).append(m.name)
    out: list[Block] = []
    packed: list[tuple[str, list[str]]] = []

    def flush():
        if packed:
            name = packed[0][0] + (f"+{len(packed) - 1}" if len(packed) > 1 else "")
            out.append(Block(name=f"{name}-0", members=tuple(n for _, names in packed for n in names)))
            packed.clear()

    for group, names in groups.items():
        if len(names) > size:
            flush()
            for k in range(0, len(names), size):
                out.append(Block(name=f"{group}-{k // size}", members=tuple(names[k:k + size])))
            continue
        if sum(len(n) for _, n in packed) + len(names) > size:
            flush()
        packed.append((group, names))
    flush()
    return out


def block_pairs(config: dict, blocks_: list | None = None) -> list[tuple[str, str]]:
    """Unordered block pairs (i <= j in block order): one similarity shard each."""
    names = [b.name for b in (blocks(config) if blocks_ is None else blocks_)]
    return [(names[i], names[j]) for i in range(len(names)) for j in range(i, len(names))]


#: ``spaces.monte_carlo_members: auto``: every pair by Monte Carlo up to this many members...
AUTO_MC_ALL_MEMBERS = 100
#: ...beyond, pairs within each group among its first members, this many
AUTO_MC_MEMBERS = 5


@dataclasses.dataclass(frozen=True)
class SpacesPlan:
    """Which member pairs the whole-space stage estimates by Monte Carlo (every pair has the
    fingerprint estimate): every pair of ``members`` when ``cross_groups``, else the pairs
    within each group among its first ``per_group`` members."""

    members: tuple  # members with Monte Carlo estimates, in member order
    cross_groups: bool
    per_group: int | None  # None: every member
    pairs: list  # the block pairs that hold an estimated pair: one spaces shard each
    blocks: dict  # block -> its members with Monte Carlo estimates

    def estimated(self, groups: dict, a: str, b: str) -> bool:
        """Whether the pair (a, b) has a Monte Carlo estimate (``groups``: member -> group)."""
        chosen = self.chosen
        return a in chosen and b in chosen and (self.cross_groups or groups[a] == groups[b])

    @property
    def chosen(self) -> frozenset:
        return frozenset(self.members)


def spaces_plan(config: dict, members_: dict, blocks_: dict, pairs: list) -> SpacesPlan:
    """The :class:`SpacesPlan` of ``spaces.monte_carlo_members``: ``all``, a number of members
    per group, or ``auto`` (all up to :data:`AUTO_MC_ALL_MEMBERS` members, else
    :data:`AUTO_MC_MEMBERS` per group). Members per group are the first in member order (by
    seed), so adding seeds never changes which members are estimated."""
    setting = config["spaces"]["monte_carlo_members"]
    if setting == "all" or (setting == "auto" and len(members_) <= AUTO_MC_ALL_MEMBERS):
        per_group = None
    else:
        per_group = AUTO_MC_MEMBERS if setting == "auto" else int(setting)
    groups: dict = {}
    for name, m in members_.items():
        groups.setdefault(m.group, []).append(name)
    chosen = {n for names in groups.values() for n in (names if per_group is None else names[:per_group])}
    cross = per_group is None
    by_block = {b: tuple(n for n in blk.members if n in chosen) for b, blk in blocks_.items()}
    kept = []
    for a, b in pairs:
        ga = {members_[n].group for n in by_block[a]}
        gb = {members_[n].group for n in by_block[b]}
        if (cross and ga and gb) or (not cross and ga & gb):
            kept.append((a, b))
    return SpacesPlan(tuple(n for n in members_ if n in chosen), cross, per_group, kept, by_block)


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """A validated config's members (in order), blocks and block pairs, computed once."""

    members: dict  # name -> Member
    blocks: dict  # name -> Block
    pairs: list  # (block, block)
    spaces: SpacesPlan | None = None  # when spaces.enabled

    @property
    def trained(self) -> list[str]:
        return [n for n, m in self.members.items() if m.trained]

    @property
    def imported(self) -> dict:
        return {n: m for n, m in self.members.items() if not m.trained}


def ensemble(config: dict) -> Ensemble:
    """The :class:`Ensemble` of a validated config."""
    ms = members(config)
    bs = blocks(config, ms)
    by_name, by_block, pairs = {m.name: m for m in ms}, {b.name: b for b in bs}, block_pairs(config, bs)
    plan = spaces_plan(config, by_name, by_block, pairs) if config["spaces"]["enabled"] else None
    return Ensemble(by_name, by_block, pairs, plan)


# --------------------------------------------------------------------------- semantics

_ARCH_SIZE = {"conv64": 64, "conv32": 32}


def dataset_size(dataset_cfg: dict) -> int | None:
    """Number of points in the configured dataset, when knowable without reading user files."""
    name = dataset_cfg["name"]
    if name == "dsprites":
        return DSPRITES_SIZE
    if name == "circle":
        return dataset_cfg.get("n_points", 1000)
    if name == "digits":
        return DIGITS_N
    return None


def _check_ensemble(config: dict) -> list[Member]:
    """The members: some there, names unique, overrides of existing members with their method's
    settings, no two training the identical model, imported members fully described."""
    ens = config["ensemble"]
    if ens.get("betas") and "beta_vae" in (ens.get("methods") or {}):
        raise ConfigError("config key 'ensemble.betas': give the beta-VAE sweep once, either as betas or as "
                          "methods.beta_vae")
    if not sweeps(config) and not ens.get("imported"):
        raise ConfigError("config key 'ensemble': no members: give betas, methods or imported")
    for i, entry in enumerate(ens.get("imported") or []):
        key = f"ensemble.imported.{i}"
        if ("checkpoint" in entry) == ("posteriors" in entry):
            raise ConfigError(f"config key '{key}': give either checkpoint (with entry_point and latent_dim) "
                              f"or posteriors for imported member '{entry['name']}'")
        if "checkpoint" in entry and not ("entry_point" in entry and "latent_dim" in entry):
            raise ConfigError(f"config key '{key}': a checkpoint needs entry_point and latent_dim "
                              f"(imported member '{entry['name']}')")
        if "posteriors" in entry and "entry_point" in entry:
            raise ConfigError(f"config key '{key}.entry_point': a posteriors file needs no entry point")
    ms = members(config)
    names = [m.name for m in ms]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"config key 'ensemble': two members are named {dup[0]!r} (two sweep values "
                          "that print alike, or an imported member named like another)")
    table = {m.name: m for m in ms}
    for name, over in (ens.get("overrides") or {}).items():
        m = table.get(name)
        if m is None or not m.trained:
            raise ConfigError(f"config key 'ensemble.overrides.{name}': no such trained member in the sweep "
                              f"(members are named <prefix><value>_s<seed>, e.g. {names[0]})")
        for key, value in over.items():
            if key in _TRAINING_KEYS or key in ("seed", "latent_dim", "runtime_min"):
                continue
            spec = METHODS[m.method].settings.get(key)
            if spec is None:
                raise ConfigError(f"config key 'ensemble.overrides.{name}.{key}': not a setting of method "
                                  f"'{m.method}' (its settings: {', '.join(METHODS[m.method].settings)})")
            try:
                spec.check(name, key, value)
            except ValueError as exc:
                raise ConfigError(f"config key 'ensemble.overrides.{name}.{key}': {exc}") from None
    seen = {}
    for m in ms:
        if not m.trained:
            continue
        key = json.dumps({k: v for k, v in m.train_config().items() if k != "name"}, sort_keys=True)
        if key in seen:
            raise ConfigError(f"config key 'ensemble.overrides.{m.name}': member '{m.name}' would train "
                              f"exactly the same model as '{seen[key]}' (duplicate member)")
        seen[key] = m.name
    return ms


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
        have = ds.get("image_size", {"dsprites": 64, "dsprites_npz": 64, "digits": 32}.get(ds["name"]))
        if have is not None and have != want:
            raise ConfigError(f"config key 'model.arch': '{arch}' takes {want}x{want} images but "
                              f"dataset.image_size is {have}")

    n_members = len(_check_ensemble(config))
    bs = config["similarity"]["block_size"]
    if bs != "auto" and bs > n_members:
        raise ConfigError(f"config key 'similarity.block_size': {bs} is larger than the ensemble "
                          f"({n_members} members)")
    hot = config["hotspots"]
    if hot["cluster_method"] == "dbscan" and hot.get("eps") is None:
        raise ConfigError("config key 'hotspots.eps': required when hotspots.cluster_method is 'dbscan' (the "
                          "reachability cut, in the units of hotspots.distance)")
    boost = config["boost"]
    if boost["dim"] > n - 1:
        raise ConfigError(f"config key 'boost.dim': the fused space's {boost['dim']} dimensions need more sample "
                          f"points than the fingerprint sample's {n} (at most sample.n_points - 1 = {n - 1}: the "
                          "fusion starts from the sample's spectral embedding)")
    scores = config["scores"]
    if scores["protocol"] == "sample" and n < MIN_SCORE_POINTS:
        raise ConfigError(f"config key 'scores.protocol': the fingerprint sample ({n} points) is too small for the "
                          f"scores ('sample' needs sample.n_points >= {MIN_SCORE_POINTS}: {MIN_SCORE_TRAIN} training and "
                          f"{MIN_SCORE_TEST} test points at least); use protocol 'field'")
    if boost.get("target") == "beta":
        if "beta" not in boost:
            raise ConfigError("config key 'boost.beta': required when boost.target is 'beta'")
        betas = {float(v) for m, st in sweeps(config).items() if METHODS[m].swept == "beta" for v in st["beta"]}
        if float(boost["beta"]) not in betas:
            raise ConfigError(f"config key 'boost.beta': {boost['beta']} is not one of the ensemble's betas")


#: config keys that name files a user brings (resolved against the config file's folder)
USER_PATH_KEYS = ("dataset.path", "dataset.labels_path", "ensemble.imported.*.checkpoint",
                  "ensemble.imported.*.posteriors")


def resolve_user_paths(config: dict, base_dir) -> dict:
    """The config with the files a user brings (:data:`USER_PATH_KEYS`) as absolute paths: a
    relative one is relative to ``base_dir``, the folder of the config file that names it
    (wherever Snakemake runs). ``results_dir`` is not touched: it is relative to the working
    directory, as Snakemake's outputs are."""
    import os

    def resolve(p):
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(os.path.abspath(base_dir), p))

    ds = config.get("dataset") or {}
    for k in ("path", "labels_path"):
        if isinstance(ds.get(k), str):
            ds[k] = resolve(ds[k])
    for entry in (config.get("ensemble") or {}).get("imported") or []:
        for k in ("checkpoint", "posteriors"):
            if isinstance(entry.get(k), str):
                entry[k] = resolve(entry[k])
    return config


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


def check_imported_files(config: dict) -> None:
    """The files of imported members, before any job runs: they exist, a posteriors file holds
    [N, d] posteriors of the sample's size, an entry point's module can be found."""
    from .imported import module_source, posteriors_shape

    n = config["sample"]["n_points"]
    for i, entry in enumerate(config["ensemble"].get("imported") or []):
        key = f"ensemble.imported.{i}"
        path = entry.get("checkpoint") or entry["posteriors"]
        if not Path(path).exists():
            raise ConfigError(f"config key '{key}': {path}: file not found (imported member '{entry['name']}'; "
                              "a relative path is relative to the folder of the config file)")
        if "posteriors" in entry:
            try:
                rows, d = posteriors_shape(path)
            except ValueError as exc:
                raise ConfigError(f"config key '{key}.posteriors': {exc}") from None
            if rows != n:
                raise ConfigError(f"config key '{key}.posteriors': {path} holds {rows} points, the fingerprint "
                                  f"sample has {n} (sample.n_points)")
            if entry.get("latent_dim") and entry["latent_dim"] != d:
                raise ConfigError(f"config key '{key}.latent_dim': {entry['latent_dim']}, but {path} holds "
                                  f"{d} channels")
            from .imported import read_posterior_arrays
            from .measures import check_posteriors

            try:
                check_posteriors(*read_posterior_arrays(path), f"{path}")
            except ValueError as exc:
                raise ConfigError(f"config key '{key}.posteriors': {exc}") from None
        if "entry_point" in entry and module_source(entry["entry_point"]) is None:
            raise ConfigError(f"config key '{key}.entry_point': module of '{entry['entry_point']}' not found "
                              "(it must be importable where the workflow runs: installed, or on PYTHONPATH)")
        if "entry_point" in entry:
            _probe_entry_point(config, key, entry, path)


def _probe_entry_point(config: dict, key: str, entry: dict, path) -> None:
    """Load an imported checkpoint with its entry point and encode the first two points of the
    run's sample, so that a wrong function name, input shape, return value or latent_dim is named
    now rather than when a job runs."""
    from . import data
    from .imported import probe

    ds = data.make_dataset(dict(config["dataset"]))
    idx = data.sample_indices(ds, config["sample"]["n_points"], config["sample"]["seed"])[:2]
    try:
        probe(entry["name"], path, entry["entry_point"], entry["latent_dim"], ds.get(idx))
    except ValueError as exc:
        raise ConfigError(f"config key '{key}': {exc}") from None


def validate(config: dict) -> dict:
    """Schema + semantic validation; returns the config with defaults filled (``results_dir``
    normalised: ``results/test/`` and ``./results/test`` are the same directory)."""
    import os

    config = validate_schema(config)
    config["results_dir"] = os.path.normpath(config["results_dir"])
    check_semantics(config)
    return config


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last,
    silently: ``steps: 600`` then ``steps: 5`` would train 5 steps)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"config key '{self._path(node)}{key}' is given twice, on lines {seen[key]} and "
                                  f"{line} of {key_node.start_mark.name} (YAML would keep the second silently)")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def _path(self, node) -> str:
        return self._paths.get(id(node), "")

    def compose_node(self, parent, index):
        node = super().compose_node(parent, index)
        if not hasattr(self, "_paths"):
            self._paths = {}
        if isinstance(node, yaml.MappingNode):
            prefix = self._paths.get(id(parent), "")
            if isinstance(index, yaml.ScalarNode):
                prefix += f"{index.value}."
            elif isinstance(index, int):
                prefix += f"{index}."
            self._paths[id(node)] = prefix if parent is not None else ""
        return node


def read_yaml(path: str | Path):
    """A YAML config file's content, refusing duplicated keys (naming the key and both lines)."""
    with open(path) as fh:
        try:
            return yaml.load(fh, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file '{path}' is not valid YAML: {exc}") from None


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of keys, got {type(raw).__name__}")
    return validate(resolve_user_paths(raw, path.parent))
