"""The circle config end to end at a tiny size: the boost job's ensemble-size sweep, whose fusions
run in the job's worker processes inside a Snakemake script, gives the rows of a serial run."""
import json

import numpy as np
import pytest
import yaml

from infofrag import store
from infofrag.circle_fusion import ensemble_size_sweep
from infofrag.stages.boost import target_distances
from helpers.runs import snakemake, write_config

pytestmark = pytest.mark.slow

SIZES, REPEATS, OBJECTIVES = [2, 3], 2, ["nmi", "vi"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """config/circle.yaml shrunk: 4 one-channel members, 64 sample points, a sweep over sizes 2
    and 3 with two repeats and two objectives (8 fusions of 20 steps in the job's 2 workers)."""
    work = tmp_path_factory.mktemp("circle")
    write_config(work, base="circle.yaml", dataset__n_points=400, sample__n_points=64,
                 training__steps=400, training__checkpoint_every=400, ensemble__seeds=[0, 1, 2, 3],
                 similarity__block_size=2, hotspots__min_samples=2, boost__steps=20,
                 boost__ensemble_sizes=SIZES, boost__repeats=REPEATS, boost__objectives=OBJECTIVES)
    snakemake(work, "--cores", "2")
    return work / "results"


def test_sweep_rows_cover_every_size_repeat_and_objective(run):
    result = json.loads((run / "boost" / "boost.json").read_text())
    rows = result["sweep"]
    assert "sweep_message" not in result
    assert sorted((r["size"], r["repeat"], r["objective"]) for r in rows) == sorted(
        (s, k, o) for s in SIZES for k in range(REPEATS) for o in OBJECTIVES)
    for r in rows:
        assert r["status"] == "ok", r
        assert len(r["channels"]) == r["size"] and len(set(r["channels"])) == r["size"]
        assert r["continuity"] is None or r["continuity"] >= 1.0  # 1 = seamless; None = torn apart
        assert r["info_bits"] > 0.0
    png = (run / "boost" / "continuity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_in_the_job_equals_a_serial_sweep(run):
    """The job ran its fusions in forked workers; the same sweep run here serially, on the
    fingerprints the job read, gives the same rows to the last digit."""
    result = json.loads((run / "boost" / "boost.json").read_text())
    sim = store.similarity.read(run / "similarity.zarr")
    sample = store.sample.read(run / "sample.zarr")
    threshold = yaml.safe_load((run.parent / "config.yaml").read_text())["hotspots"]["info_threshold"]
    keep = [str(c) for c, b in zip(sim["channel_id"].values, sim["info_bits"].values) if b > threshold]
    assert len(keep) >= 3, f"the tiny circle run learnt too little: {len(keep)} informative channels"
    D = target_distances(sorted((run / "fingerprints").glob("*.zarr")), keep)
    serial = ensemble_size_sweep(D, sizes=SIZES, repeats=REPEATS, objectives=OBJECTIVES,
                                 angles=np.arctan2(sample.x[:, 1], sample.x[:, 0]), seed=0, dim=2,
                                 steps=20, lr=0.05, optimizer="adam", workers=1)
    key = lambda r: (r["size"], r["repeat"], r["objective"])  # noqa: E731
    assert sorted(result["sweep"], key=key) == sorted(json.loads(json.dumps(serial)), key=key)
