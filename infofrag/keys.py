"""What decides each job's results -- its *key* -- in one place, for the workflow and the audit.

A job's key holds every value that changes what it writes and nothing that cannot: the config
values it uses (as values, never as their spelling: no file paths, no list order where the member
set is the same), the content digests of the files a user brings, and the digest of the code it
runs for this config (its script and the ``infofrag`` modules it executes, by syntax; modules it
cannot execute for this config -- other datasets, other model families, imported-model support
without imported members -- are left out). What its inputs hold is not in the key: each record
names its inputs by digest, and :mod:`infofrag.provenance.current` checks that chain.

The workflow passes each job its key as the ``key`` param, the job records it (and its digest)
beside its output, and before any job runs the records decide which results are out of date
(:func:`infofrag.provenance.current.stale`); ``python -m infofrag audit --config`` compares the same
keys, code included.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from . import config as ifc
from .values import canonical

#: rules whose jobs the keys describe, each run by ``scripts/<rule>.py``
RULES = ("sample", "train", "encode", "scores", "fingerprint", "similarity", "gather", "hotspots", "boost",
         "summary", "spaces", "spaces_gather", "explore")
#: member settings that do not change a trained member's weights (how often it logs and saves)
NOT_IN_KEY = ("checkpoint_every", "log_every")
#: dataset keys that name a file: the file enters a key by its content digest instead
FILE_KEYS = ("path", "labels_path")
#: modules of each dataset (and of each model family's training): left out of a rule's code
#: digest when the config does not use them
DATASET_MODULES = {"dsprites": "infofrag.data.dsprites", "circle": "infofrag.data.circle",
                   "digits": "infofrag.data.digits", "dsprites_npz": "infofrag.data.files",
                   "idx": "infofrag.data.files", "images": "infofrag.data.files"}
METHOD_MODULES = {"factor_vae": ("infofrag.models.factor_vae",), "infogan": ("infofrag.models.infogan",)}
IMPORTED_MODULES = ("infofrag.imported",)


def digest(key) -> str:
    """The digest of a key (what a record stores beside the key)."""
    return hashlib.sha256(json.dumps(canonical(key), sort_keys=True).encode()).hexdigest()[:16]


class Keys:
    """The keys of a validated config's jobs. ``checkout``: the root whose ``scripts/`` the
    workflow runs (default: this package's)."""

    def __init__(self, config: dict, ensemble: ifc.Ensemble | None = None, checkout: Path | None = None):
        from .provenance.checkout import CHECKOUT

        self.config = config
        self.ensemble = ensemble or ifc.ensemble(config)
        self.checkout = Path(checkout or CHECKOUT)
        self.bounded_below = (config["hotspots"]["info_threshold"]
                              if config["similarity"]["bound_uninformative"] else None)

    # ------------------------------------------------------------------ shared parts

    @functools.cached_property
    def data_digests(self) -> dict:
        """{config key: content digest} of the files a user brings for the dataset."""
        from .provenance import sha256_file

        ds = self.config["dataset"]
        return {f"dataset.{k}": sha256_file(ds[k]) for k in FILE_KEYS if k in ds}

    @functools.cached_property
    def dataset(self) -> dict:
        """The dataset section as values: file names replaced by their contents' digests."""
        ds = {k: v for k, v in self.config["dataset"].items() if k not in FILE_KEYS}
        return canonical({**ds, **self.data_digests})

    @functools.cached_property
    def unused_modules(self) -> frozenset:
        """Package modules no job of this config executes (left out of every code digest)."""
        used_data = DATASET_MODULES[self.config["dataset"]["name"]]
        out = {m for m in DATASET_MODULES.values() if m != used_data}
        methods = {m.method for m in self.ensemble.members.values() if m.trained}
        for method, modules in METHOD_MODULES.items():
            if method not in methods:
                out.update(modules)
        if not self.ensemble.imported:
            out.update(IMPORTED_MODULES)
        return frozenset(out)

    def left_out(self, name: str) -> tuple[str, ...]:
        """Modules the jobs of member ``name`` cannot execute beside the config's unused ones:
        the other families' training code and, for a trained member, the importer of models. Left
        out of its jobs' code digests, so that adding a member of another family, or an imported
        one, does not rerun the members already there."""
        m = self.ensemble.members[name]
        out = {mod for method, modules in METHOD_MODULES.items() if not (m.trained and method == m.method)
               for mod in modules}
        if m.trained:
            out.update(IMPORTED_MODULES)
        return tuple(sorted(out - self.unused_modules))

    def code(self, rule: str, name: str | None = None) -> str:
        """The digest of the code ``rule`` runs for this config (for member ``name``'s job)."""
        exclude = self.unused_modules | frozenset(self.left_out(name) if name is not None else ())
        return _code_digest(self.checkout / "scripts" / f"{rule}.py", exclude)

    # ------------------------------------------------------------------ one per rule

    def sample(self) -> dict:
        return {"dataset": self.dataset, "sample": canonical(self.config["sample"]), "code": self.code("sample")}

    def member(self, name: str) -> dict:
        """What decides a member's posteriors: a trained member's settings (how often it logs or
        saves left out) and the training threads (a kernel that splits its sums by thread rounds
        differently with another count); an imported member's source, by content (its file's
        digest, its entry point and the syntax of the modules of the user's that it imports)."""
        m = self.ensemble.members[name]
        if m.trained:
            train = {k: v for k, v in m.train_config().items() if k not in NOT_IN_KEY}
            return canonical({**train, "threads": self.config["training"]["threads"]})
        return canonical(ifc.member_params(m))

    def train(self, name: str) -> dict:
        return {"member": self.member(name), "dataset": self.dataset, "code": self.code("train", name)}

    def encode(self, name: str) -> dict:
        return {"member": self.member(name), "code": self.code("encode", name)}

    def scores(self, name: str) -> dict:
        from .stages.scores import rule_settings, uses_encoder

        m = self.ensemble.members[name]
        field = uses_encoder(self.config["scores"], m)
        return {"settings": canonical(rule_settings(self.config["scores"], m)),
                "member": self.member(name) if field else None, "dataset": self.dataset if field else None,
                "code": self.code("scores", name)}

    def fingerprint(self, name: str) -> dict:
        return {"code": self.code("fingerprint", name)}

    def blocks(self, block_a: str, block_b: str) -> dict:
        """Which members a shard covers (a member added to a block changes its shards)."""
        return {"a": list(self.ensemble.blocks[block_a].members), "b": list(self.ensemble.blocks[block_b].members)}

    def similarity(self, block_a: str, block_b: str) -> dict:
        return {"blocks": self.blocks(block_a, block_b), "bounded_below": self.bounded_below,
                "code": self.code("similarity")}

    def gather(self) -> dict:
        return {"members": canonical({n: m.labels() for n, m in self.ensemble.members.items()}),
                "bounded_below": self.bounded_below, "code": self.code("gather")}

    def hotspots(self) -> dict:
        return {"settings": canonical(self.config["hotspots"]), "code": self.code("hotspots")}

    def boost(self) -> dict:
        return {"settings": canonical(self.config["boost"]), "code": self.code("boost")}

    def spaces(self, block_a: str, block_b: str) -> dict:
        """A whole-space shard: the members of the two blocks it estimates by Monte Carlo, and
        (pairs within groups only) their groups."""
        plan = self.ensemble.spaces
        a, b = list(plan.blocks[block_a]), list(plan.blocks[block_b])
        groups = None if plan.cross_groups else {n: self.ensemble.members[n].group for n in dict.fromkeys(a + b)}
        return {"blocks": {"a": a, "b": b}, "groups": groups, "settings": self.spaces_settings,
                "code": self.code("spaces")}

    def spaces_gather(self) -> dict:
        plan = self.ensemble.spaces
        return {"settings": self.spaces_settings,
                "members": canonical({n: {**m.labels(), "latent_dim": m.latent_dim}
                                      for n, m in self.ensemble.members.items()}),
                "monte_carlo": None if plan is None else {"members": list(plan.members),
                                                          "cross_groups": plan.cross_groups,
                                                          "per_group": plan.per_group},
                "code": self.code("spaces_gather")}

    @property
    def spaces_settings(self) -> dict:
        return canonical({k: self.config["spaces"][k] for k in ("samples", "repeats", "seed")})

    def summary(self) -> dict:
        return {"code": self.code("summary")}

    def explore(self) -> dict:
        return {"code": self.code("explore")}

    # ------------------------------------------------------------------ every job

    def jobs(self, results: str) -> list[tuple]:
        """Every job of the workflow: (rule, wildcards, primary output, key, the primary outputs
        of the jobs it reads)."""
        R = lambda p: f"{results}/{p}"  # noqa: E731
        e = self.ensemble
        sample = R("sample.zarr")
        post = {n: R(f"posteriors/{n}.zarr") for n in e.members}
        fps = {n: R(f"fingerprints/{n}.zarr") for n in e.members}
        out = [("sample", {}, sample, self.sample(), [])]
        for name, m in e.members.items():
            model = [R(f"members/{name}/model.pt")] if m.trained else []
            if m.trained:
                out.append(("train", {"member": name}, model[0], self.train(name), []))
            out += [("encode", {"member": name}, post[name], self.encode(name), model + [sample]),
                    ("fingerprint", {"member": name}, fps[name], self.fingerprint(name), [post[name], sample]),
                    ("scores", {"member": name}, R(f"scores/{name}.json"), self.scores(name),
                     [post[name], sample] + model)]
        shards = []
        for a, b in e.pairs:
            shards.append(R(f"similarity/shards/{a}__{b}.zarr"))
            blocks = e.blocks[a].members + e.blocks[b].members
            out.append(("similarity", {"block_a": a, "block_b": b}, shards[-1], self.similarity(a, b),
                        [fps[n] for n in blocks]))
        sim, hot, boost = R("similarity.zarr"), R("hotspots/hotspots.json"), R("boost/boost.json")
        out += [("gather", {}, sim, self.gather(), shards + list(fps.values())),
                ("hotspots", {}, hot, self.hotspots(), [sim, sample] + list(post.values())),
                ("boost", {}, boost, self.boost(), [sim, hot, sample] + list(fps.values()))]
        tail = [sim, hot, boost] + [R(f"scores/{n}.json") for n in e.members]
        if self.config["spaces"]["enabled"]:
            spaces = []
            for a, b in e.spaces.pairs:
                spaces.append(R(f"spaces/shards/{a}__{b}.zarr"))
                blocks = e.spaces.blocks[a] + e.spaces.blocks[b]
                out.append(("spaces", {"block_a": a, "block_b": b}, spaces[-1], self.spaces(a, b),
                            [post[n] for n in blocks]))
            out.append(("spaces_gather", {}, R("spaces.zarr"), self.spaces_gather(), spaces + list(post.values())))
            tail.append(R("spaces.zarr"))
        out.append(("summary", {}, R("summary/summary.html"), self.summary(), tail))
        if (self.checkout / "scripts" / "explore.py").is_file():
            out.append(("explore", {}, R("explore/index.html"), self.explore(),
                        [sim, hot, boost, sample] + ([R("spaces.zarr")] if self.config["spaces"]["enabled"] else [])))
        return out

    def of(self, rule: str, wildcards: dict) -> dict:
        """The key of one job (what the audit compares a record with)."""
        return getattr(self, rule)(*wildcards.values())


@functools.lru_cache(maxsize=None)
def _code_digest(script: Path, exclude: frozenset) -> str:
    from .provenance import code_digest

    return code_digest(script, exclude=exclude)
