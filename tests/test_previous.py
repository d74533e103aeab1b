"""The previous results a run keeps (infofrag.previous): a failed job's outputs come back, results
finished in the failed run stay, and nothing is copied."""
from __future__ import annotations

import os
import shutil

from infofrag import previous


def make_tree(res):
    (res / "hotspots").mkdir(parents=True)
    (res / "hotspots" / "hotspots.json").write_text("old hotspots")
    (res / "hotspots" / "hotspots.json.prov.json").write_text("old hotspots record")
    store = res / "similarity.zarr"
    (store / "nmi").mkdir(parents=True)
    (store / "nmi" / "0.0").write_bytes(b"old chunk")
    (store / "zarr.json").write_text("{}")
    (res / "similarity.zarr.prov.json").write_text("old store record")
    (res / "boost").mkdir()
    (res / "boost" / "boost.json").write_text("old boost")
    (res / "logs").mkdir()
    (res / "logs" / "x.log").write_text("log")
    (res / ".keys").mkdir()
    (res / ".keys" / "k.json").write_text("{}")


def test_a_failed_jobs_outputs_come_back_with_their_records_and_finished_ones_stay(tmp_path):
    res = tmp_path / "results"
    make_tree(res)
    assert previous.keep(res) == 5  # a store, two files, two records (logs and .keys are not results)
    kept = res / previous.KEPT
    # hard links: the same inode, no copy
    assert os.stat(kept / "boost" / "boost.json").st_ino == os.stat(res / "boost" / "boost.json").st_ino
    assert not (kept / "logs").exists() and not (kept / ".keys").exists()
    # the run: Snakemake deletes the store and the hotspots (outputs and records) before their
    # jobs; the store's job fails, the hotspots job finishes with new content (atomic replace)
    shutil.rmtree(res / "similarity.zarr")
    (res / "similarity.zarr.prov.json").unlink()
    (res / "hotspots" / "hotspots.json").unlink()
    (res / "hotspots" / "hotspots.json.prov.json").unlink()
    (res / "hotspots" / "hotspots.json").write_text("new hotspots")
    (res / "hotspots" / "hotspots.json.prov.json").write_text("new record")
    back = previous.restore(res)
    assert back == ["similarity.zarr"]
    assert (res / "similarity.zarr" / "nmi" / "0.0").read_bytes() == b"old chunk"
    assert (res / "similarity.zarr.prov.json").read_text() == "old store record"
    assert (res / "hotspots" / "hotspots.json").read_text() == "new hotspots"
    assert (res / "hotspots" / "hotspots.json.prov.json").read_text() == "new record"
    previous.discard(res)
    assert not kept.exists()


def test_an_atomic_replace_leaves_the_kept_copy_intact(tmp_path):
    res = tmp_path / "results"
    make_tree(res)
    previous.keep(res)
    tmp = res / "boost" / ".boost.json.tmp"
    tmp.write_text("new boost")
    os.replace(tmp, res / "boost" / "boost.json")
    assert (res / previous.KEPT / "boost" / "boost.json").read_text() == "old boost"


def test_a_new_keep_replaces_the_last_and_an_empty_results_dir_keeps_nothing(tmp_path):
    res = tmp_path / "results"
    assert previous.keep(res) == 0 and previous.restore(res) == []
    make_tree(res)
    previous.keep(res)
    (res / "boost" / "boost.json").unlink()
    previous.keep(res)
    assert not (res / previous.KEPT / "boost" / "boost.json").exists()
