"""benchmarks/demo_findings.py, the script that writes what docs/demo.md states, read against the
finished test run's own stores: each number it prints is the one the stores hold."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from helpers.scripts import load_benchmark


def _script():
    return load_benchmark("demo_findings")


@pytest.mark.slow
def test_the_findings_are_the_stores_numbers(finished_run, tmp_path):
    script = _script()
    results = finished_run / "results"
    lines, stats = script.findings_lines(results)
    ds = xr.open_zarr(results / "similarity.zarr")
    hs = json.loads((results / "hotspots" / "hotspots.json").read_text())
    boost = json.loads((results / "boost" / "boost.json").read_text())
    assert stats["n_informative"] == int((ds["info_bits"].values > hs["info_threshold"]).sum())
    assert stats["n_hotspots"] == hs["n_hotspots"] == sum(line.startswith("| ") and line[2:3].isdigit()
                                                          for line in lines)
    assert stats["fused_bits"] == boost["fused_info_bits"]
    for row in hs["per_beta"]:  # the script's per-beta fraction is the hotspots stage's own
        assert stats[f"fraction_beta{row['beta']:g}"] == pytest.approx(row["fraction_in_hotspots"])
    # the cost table: one row per stage with a benchmark file, training's job time theirs summed
    cost, cstats = script.cost_lines(results, None)
    train = sum(float(p.read_text().splitlines()[1].split("\t")[0])
                for p in (results / "benchmarks" / "train").glob("*.tsv"))
    assert cstats["train_s"] == pytest.approx(train)
    assert any(line.startswith("| train |") for line in cost)
    # the doc's block is rewritten in place, the rest of the page kept
    doc = tmp_path / "demo.md"
    doc.write_text("before\n<!-- demo-findings:begin -->\nold\n<!-- demo-findings:end -->\nafter\n")
    script.replace_block(doc, "demo-findings", lines)
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert lines[0] in text


def test_the_bootstrap_interval_holds_the_fraction():
    rng = np.random.default_rng(0)
    in_hot, informative = {"a": 1, "b": 2, "c": 0}, {"a": 2, "b": 2, "c": 3}
    point, lo, hi = _script().fraction_interval(in_hot, informative, ["a", "b", "c"], rng)
    assert point == pytest.approx(3 / 7)
    assert 0 <= lo <= point <= hi <= 1 and hi - lo > 0.1
