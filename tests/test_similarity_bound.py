"""benchmarks/similarity_bound.py: the best schedule of indivisible shards, and the script on the
session's finished run of config/test.yaml (its shards, their informative channels, the table)."""

import json

import numpy as np
import pytest
import yaml

from helpers.scripts import load_benchmark
from infofrag.store import zarr_io


@pytest.fixture(scope="module")
def bound():
    return load_benchmark("similarity_bound")


def test_best_makespan_is_the_best_assignment(bound):
    assert bound.best_makespan([3, 3, 2, 2, 2], 2) == (6, "every assignment")  # {3, 3} and {2, 2, 2}
    assert bound.best_makespan([7, 1, 1], 2)[0] == 7  # the longest job alone
    assert bound.best_makespan([4, 4, 4], 3)[0] == 4
    # beyond 12 jobs, the longest-first rule: equal jobs split evenly
    assert bound.best_makespan([1.0] * 14, 2) == (7.0, "longest first")


def test_best_makespan_never_beats_the_lower_bounds(bound):
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = list(rng.uniform(0.1, 5.0, size=int(rng.integers(1, 10))))
        best, _ = bound.best_makespan(t, 2)
        assert best >= max(max(t), sum(t) / 2) - 1e-12
        assert best <= sum(t) + 1e-12


def test_measure_on_a_finished_run(bound, finished_run):
    results = finished_run / yaml.safe_load((finished_run / "config.yaml").read_text())["results_dir"]
    m = bound.measure(results, cores=2)
    keys = sorted((results / ".keys" / "similarity").glob("*.json"))
    assert [r["name"] for r in m["rows"]] == [k.stem for k in keys]
    # the channels the script computes are the run's informative ones, each in one diagonal shard
    threshold = json.loads(keys[0].read_text())["bounded_below"]
    info = np.asarray(zarr_io.read_arrays(results / "similarity.zarr", ("info_bits",))["info_bits"])
    n_informative = int(np.sum(info > float(threshold))) if threshold is not None else len(info)
    assert m["n_informative"] == n_informative
    assert sum(r["rows"] for r in m["rows"] if r["same"]) == n_informative
    for r in m["rows"]:
        assert r["kernel"] > 0 and r["job"] is not None and r["job"] > 0
    assert m["start"] > 0 and m["floor"] > 0
    assert m["with_start"][0] >= m["kernel_only"][0] + m["start"] - 1e-9
    text = bound.report(m, results)
    assert "| best, each kernel + a process start" in text and "after its last input" in text
    assert all(f"| {r['name']} |" in text for r in m["rows"])


def test_regrouped_layout_covers_every_pair_of_blocks_once(bound):
    shards = [{"name": "x__x", "a": ["m0", "m1", "m2"], "b": ["m0", "m1", "m2"], "threshold": 0.01},
              {"name": "x__y", "a": ["m0", "m1", "m2"], "b": ["m3", "m4"], "threshold": 0.01},
              {"name": "y__y", "a": ["m3", "m4"], "b": ["m3", "m4"], "threshold": 0.01}]
    two = bound.regrouped(shards, 2)  # blocks [m0 m1] [m2 m3] [m4]
    assert [(s["a"], s["b"]) for s in two][:2] == [(["m0", "m1"], ["m0", "m1"]), (["m0", "m1"], ["m2", "m3"])]
    assert len(two) == 6 and all(s["threshold"] == 0.01 for s in two)
    one = bound.regrouped(shards, 5)
    assert len(one) == 1 and one[0]["a"] == one[0]["b"] == ["m0", "m1", "m2", "m3", "m4"]
