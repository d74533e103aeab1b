"""Config validation: every bad value stops with a message naming the key."""
import copy

import pytest
import yaml

from infofrag import config as ifc


@pytest.fixture
def base(root):
    with open(root / "config" / "test.yaml") as fh:
        return yaml.safe_load(fh)


@pytest.mark.parametrize("name", ["test.yaml", "demo.yaml", "config.yaml"])
def test_shipped_configs_are_valid(root, name):
    cfg = ifc.load_config(root / "config" / name)
    assert len(ifc.members(cfg)) == len(cfg["ensemble"]["betas"]) * len(cfg["ensemble"]["seeds"])


def test_defaults_filled(base):
    del base["training"]["batch_size"]
    cfg = ifc.validate(base)
    assert cfg["training"]["batch_size"] == 64
    assert cfg["hotspots"]["distance"] == "vi"
    assert cfg["boost"]["objective"] == "nmi"


def _mutate(cfg, dotted, value):
    node = cfg
    *path, last = dotted.split(".")
    for part in path:
        node = node.setdefault(part, {})
    if value is KeyError:
        del node[last]
    else:
        node[last] = value


BAD = [
    ("ensemble.betas", [-1.0], "ensemble.betas.0"),
    ("ensemble.betas", [], "ensemble.betas"),
    ("ensemble.seeds", [], "ensemble.seeds"),
    ("ensemble.seeds", [1, 1], "ensemble.seeds"),
    ("ensemble.seeds", ["a"], "ensemble.seeds.0"),
    ("similarity.block_size", 0, "similarity.block_size"),
    ("similarity.block_size", 99, "similarity.block_size"),
    ("dataset.name", "mnist-online", "dataset.name"),
    ("model.arch", "resnet", "model.arch"),
    ("model.arch", "conv64", "model.arch"),  # conv64 on 32 x 32 images
    ("model.latent_dim", 0, "model.latent_dim"),
    ("training.steps", -5, "training.steps"),
    ("training.steps", "many", "training.steps"),
    ("training.lr", 0, "training.lr"),
    ("training.batch_size", 0, "training.batch_size"),
    ("sample.n_points", 1, "sample.n_points"),
    ("sample.n_points", 10**7, "sample.n_points"),  # larger than dSprites
    ("training.bogus", 3, "training"),
    ("ensemble.overrides", {"b9_s9": {"steps": 5}}, "ensemble.overrides.b9_s9"),
    ("ensemble.overrides", {"b1_s0": {"steps": 0}}, "ensemble.overrides.b1_s0.steps"),
    ("ensemble.overrides", {"b1_s0": {"colour": 1}}, "ensemble.overrides.b1_s0"),
    ("ensemble.overrides", {"b1_s1": {"seed": 0}}, "ensemble.overrides.b1_s1"),  # duplicate member
    ("hotspots.distance", "euclid", "hotspots.distance"),
    ("boost.target", "beta", "boost.beta"),
    ("dataset.name", "images", "dataset.path"),
    ("results_dir", "", "results_dir"),
]


@pytest.mark.parametrize("key,value,named", BAD)
def test_bad_values_name_the_key(base, key, value, named):
    cfg = copy.deepcopy(base)
    _mutate(cfg, key, value)
    with pytest.raises(ifc.ConfigError) as err:
        ifc.validate(cfg)
    assert f"'{named}" in str(err.value), str(err.value)


def test_missing_section(base):
    del base["ensemble"]
    with pytest.raises(ifc.ConfigError, match="ensemble"):
        ifc.validate(base)


def test_load_config_errors(tmp_path):
    with pytest.raises(ifc.ConfigError, match="does not exist"):
        ifc.load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed")
    with pytest.raises(ifc.ConfigError, match="not valid YAML"):
        ifc.load_config(bad)
    bad.write_text("- a list")
    with pytest.raises(ifc.ConfigError, match="mapping"):
        ifc.load_config(bad)


def test_members_overrides_and_blocks(base):
    base["ensemble"]["seeds"] = [0, 1, 2, 3, 4]
    base["ensemble"]["overrides"] = {"b4_s2": {"steps": 99, "seed": 40}}
    base["similarity"]["block_size"] = 2
    cfg = ifc.validate(base)
    table = ifc.member_table(cfg)
    assert table["b4_s2"].steps == 99 and table["b4_s2"].seed == 40
    assert table["b4_s1"].steps == base["training"]["steps"]
    blocks = ifc.blocks(cfg)
    # per beta: [0,1] [2,3] [4]; betas never mixed
    assert [b.members for b in blocks[:3]] == [("b1_s0", "b1_s1"), ("b1_s2", "b1_s3"), ("b1_s4",)]
    assert all(len({m.split("_")[0] for m in b.members}) == 1 for b in blocks)
    pairs = ifc.block_pairs(cfg)
    assert len(pairs) == len(blocks) * (len(blocks) + 1) // 2


def test_tc_weight_default_override_and_params(base):
    plain = ifc.member_table(ifc.validate(base))
    assert all(m.tc_weight == 0.0 and "tc_weight" not in m.train_config() for m in plain.values())
    base["model"]["tc_weight"] = 5
    base["ensemble"]["overrides"] = {"b4_s1": {"tc_weight": 0}}
    table = ifc.member_table(ifc.validate(base))
    assert table["b4_s0"].train_config()["tc_weight"] == 5.0
    # a member back at 0 has exactly the params (so the train job) of a plain beta-VAE member
    assert table["b4_s1"].train_config() == plain["b4_s1"].train_config()
    # integer overrides of float settings give the same member (same params) as the float values
    base["ensemble"]["overrides"] = {"b4_s1": {"tc_weight": 5.0, "beta": 4, "lr": 1}}
    ints = ifc.member_table(ifc.validate(base))["b4_s1"]
    base["ensemble"]["overrides"] = {"b4_s1": {"beta": 4.0, "lr": 1.0}}
    assert ints.digest() == ifc.member_table(ifc.validate(base))["b4_s1"].digest()
    assert all(isinstance(ints.train_config()[k], float) for k in ("beta", "lr", "tc_weight"))
    with pytest.raises(ifc.ConfigError, match="model.tc_weight"):
        _mutate(base, "model.tc_weight", -1)
        ifc.validate(base)


def test_adding_seeds_keeps_full_blocks(base):
    base["ensemble"]["seeds"] = list(range(4))
    base["similarity"]["block_size"] = 2
    before = {b.name: b.members for b in ifc.blocks(ifc.validate(base))}
    base["ensemble"]["seeds"] = list(range(6))
    after = {b.name: b.members for b in ifc.blocks(ifc.validate(base))}
    for name, members in before.items():
        assert after[name] == members
    assert len(after) == len(before) + 2
