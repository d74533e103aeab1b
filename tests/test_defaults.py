"""Defaults live in the schema only (infofrag/schema.yaml): a module that implements a config
section never writes one of that section's defaults again, as a keyword default or as the
fallback of a ``.get``; it reads them with :func:`infofrag.defaults.default`."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from infofrag import defaults

PACKAGE = Path(__file__).resolve().parent.parent / "infofrag"

#: which config sections each module implements (its keyword defaults and .get fallbacks for
#: the sections' keys must come from the schema)
BINDINGS = {
    "hotspots.py": ("hotspots",), "figures.py": ("hotspots",), "stages/hotspots.py": ("hotspots",),
    "boost.py": ("boost",), "circle_fusion.py": ("boost",), "stages/boost.py": ("boost",),
    "metrics.py": ("scores",), "stages/scores.py": ("scores",), "stages/summary.py": ("scores", "hotspots"),
    "montecarlo.py": ("spaces",), "stages/spaces.py": ("spaces",),
    "models/vae.py": ("model",), "train/loop.py": ("training", "model"), "train/learners.py": ("training", "model"),
    "train/checkpoints.py": ("training", "model"), "stages/train.py": ("training",),
    "stages/similarity.py": ("similarity",), "resources.py": ("boost", "spaces", "similarity"),
    "data/sample.py": ("sample",),
}


def section_keys(sections) -> set:
    schema = defaults.schema()["properties"]
    return {k for s in sections for k, v in schema[s]["properties"].items() if "default" in v}


def written_defaults(path: Path, keys: set) -> list[str]:
    """Literal keyword defaults and ``.get``/``.setdefault`` fallbacks of ``keys`` in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults)) + list(zip(a.kwonlyargs, a.kw_defaults))
            for arg, d in pairs:
                if arg.arg in keys and isinstance(d, (ast.Constant, ast.Tuple, ast.List)) \
                        and not (isinstance(d, ast.Constant) and d.value is None):
                    found.append(f"{path.name}:{node.lineno} {node.name}({arg.arg}={ast.unparse(d)})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("get", "setdefault") and len(node.args) == 2:
            key, fallback = node.args
            if isinstance(key, ast.Constant) and key.value in keys and isinstance(fallback, ast.Constant) \
                    and fallback.value is not None:
                found.append(f"{path.name}:{node.lineno} .{node.func.attr}({key.value!r}, {fallback.value!r})")
    return found


@pytest.mark.parametrize("module", sorted(BINDINGS))
def test_no_default_is_written_outside_the_schema(module):
    path = PACKAGE / module
    assert path.is_file(), f"{module}: bound to a config section but not in the package"
    assert written_defaults(path, section_keys(BINDINGS[module])) == []


def test_the_check_finds_a_written_default(tmp_path):
    """The scan is not blind: a literal default of a bound key is found."""
    src = tmp_path / "m.py"
    src.write_text("def f(ds, info_threshold=0.01, other=3):\n    return ds.get('distance', 'vi')\n")
    assert len(written_defaults(src, {"info_threshold", "distance"})) == 2


def test_library_defaults_are_the_schema_defaults():
    import inspect

    from infofrag import boost, hotspots, metrics

    sig = inspect.signature(hotspots.find_hotspots).parameters
    for key in ("info_threshold", "distance", "min_samples", "xi", "cluster_method"):
        assert sig[key].default == defaults.default(f"hotspots.{key}"), key
    sig = inspect.signature(boost.fuse).parameters
    for key in ("dim", "objective", "steps", "lr", "seed", "optimizer"):
        assert sig[key].default == defaults.default(f"boost.{key}"), key
    assert inspect.signature(metrics.dci).parameters["importance"].default == defaults.default("scores.importance")


def test_an_installed_package_validates_a_config(tmp_path, root):
    """``pip install .`` (not editable) ships the schema: the installed package, imported from
    outside any checkout, validates a config."""
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                           str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (site / "infofrag" / "schema.yaml").is_file(), "the schema is not package data"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import infofrag.config as c; "
            "assert c.__file__.startswith(sys.argv[1]), c.__file__; "
            "cfg = c.load_config(sys.argv[2]); print(cfg['hotspots']['info_threshold'])")
    proc = subprocess.run([sys.executable, "-c", code, str(site), str(root / "config" / "test.yaml")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) == 0.01
