"""Provenance records, digest checks and the audit walk."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from infofrag import provenance as pv
from infofrag.atomic import atomic_path, write_json
from infofrag.store import StoreError, open_dataset, write_dataset


def _job(tmp_path, name, inputs, make, external=()):
    out = tmp_path / name
    make(out)
    rec = pv.make_record(rule=name.split(".")[0], wildcards={}, outputs=[out], inputs=inputs,
                         config_used={"sample": {"seed": 1}}, started=pv.now(), external=external)
    write_json(pv.record_path(out), rec)
    return out


@pytest.fixture
def chain(tmp_path):
    cfg = tmp_path / "user.bin"
    cfg.write_bytes(b"raw data")
    a = _job(tmp_path, "a.zarr", [cfg], lambda p: write_dataset(p, xr.Dataset({"x": ("i", np.arange(5.0))})),
             external=[cfg])
    b = _job(tmp_path, "b.txt", [a], lambda p: p.write_text("derived"))
    c = _job(tmp_path, "c.json", [b, a], lambda p: p.write_text("{}"))
    return cfg, a, b, c


def test_digest_tree_is_stable_and_sensitive(tmp_path):
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "f").write_bytes(b"1")
    first = pv.digest_path(d)
    assert pv.digest_path(d) == first
    (d / "sub" / "f").write_bytes(b"2")
    assert pv.digest_path(d) != first


def _digest_tree_by_rglob(path):
    """The tree digest as first written: pathlib's sorted rglob (the reference for tree_files)."""
    import hashlib

    h = hashlib.sha256()
    for sub in sorted(p for p in path.rglob("*") if p.is_file() and p.name not in pv.TREE_IGNORE):
        h.update(sub.relative_to(path).as_posix().encode() + b"\0")
        h.update(pv.sha256_file(sub).encode() + b"\n")
    return h.hexdigest()


def test_digest_tree_equals_the_rglob_digest(tmp_path):
    """Same files, same order, same digest as sorted rglob: names that sort differently as
    strings and as path parts ("a-b/x" vs "a/b"), hidden files, Snakemake's stamp (ignored),
    symlinks to a file (hashed), to a directory (not entered) and to nothing, an empty folder."""
    d = tmp_path / "store"
    for rel, data in {"a/b": b"1", "a-b/x": b"2", "a/c/.hidden": b"3", "z": b"4", "c/0/0": b"5",
                      ".snakemake_timestamp": b"", "a/.snakemake_timestamp": b""}.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    (d / "empty").mkdir()
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "f").write_bytes(b"6")
    (d / "link_to_file").symlink_to(d / "z")
    (d / "link_to_dir").symlink_to(outside)
    (d / "broken").symlink_to(tmp_path / "nothing")
    names = ["/".join(parts) for parts, _ in pv.tree_files(d)]
    assert names == ["a/b", "a/c/.hidden", "a-b/x", "c/0/0", "link_to_file", "z"]
    assert pv.digest_path(d) == _digest_tree_by_rglob(d)
    (d / "a" / "c" / ".hidden").write_bytes(b"changed")
    assert pv.digest_path(d) == _digest_tree_by_rglob(d)


def test_record_has_what_produced_it(chain):
    _, a, b, c = chain
    rec = pv.read_record(pv.record_path(c))
    for key in ("rule", "config_used", "outputs", "inputs", "code", "packages", "host",
                "started", "finished"):
        assert key in rec
    assert rec["code"]["package_digest"]
    assert rec["packages"]["numpy"] == np.__version__
    # paths relative to the record's own directory: the tree can be moved or copied
    assert {e["path"] for e in rec["inputs"]} == {"a.zarr", "b.txt"}
    assert {pv.resolve(pv.record_path(c), e["path"]) for e in rec["inputs"]} == {a, b}
    assert all(e["record"] for e in rec["inputs"])


def test_verify_detects_flipped_byte(chain):
    _, a, b, _ = chain
    pv.verify(b)
    b.write_text("derivex")
    with pytest.raises(pv.IntegrityError, match="b.txt"):
        pv.verify(b)


def test_verify_detects_damaged_zarr_chunk(chain, tmp_path):
    """Damage to a chunk of the data (a file under the array's ``c/`` directory), not to the
    metadata, is caught by the digest check, before anything is decoded. The damage here still
    decodes: without the check the store reads back other numbers, silently."""
    _, a, _, _ = chain
    chunks = sorted(p for p in (a / "x" / "c").rglob("*") if p.is_file())
    assert chunks and all("c" in p.relative_to(a).parts[:2] and p.name != "zarr.json" for p in chunks)
    chunk = chunks[0]
    before = chunk.read_bytes()
    # the same chunk of a store of the same layout with other values: valid bytes, wrong data
    other = tmp_path / "other.zarr"
    write_dataset(other, xr.Dataset({"x": ("i", np.arange(5.0) + 100.0)}))
    damaged = (other / chunk.relative_to(a)).read_bytes()
    assert damaged != before
    chunk.write_bytes(damaged)
    assert open_dataset(a, check=False)["x"].values.tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    with pytest.raises(pv.IntegrityError, match="a.zarr.*modified or corrupted") as err:
        open_dataset(a)
    assert not isinstance(err.value, StoreError)  # the digest check, not a failure to decode
    with pytest.raises(pv.IntegrityError, match="modified or corrupted"):
        pv.verify(a)
    # one flipped byte in the chunk: the same
    data = bytearray(before)
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(pv.IntegrityError, match="a.zarr.*modified or corrupted") as err:
        open_dataset(a)
    assert not isinstance(err.value, StoreError)
    chunk.write_bytes(before)  # repaired: reads again
    assert open_dataset(a)["x"].values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_verify_finds_relative_records_from_anywhere(tmp_path, monkeypatch):
    """Records name outputs relative to their own directory; a store can be checked by absolute
    path or from another working directory, and damage is still found."""
    wf = tmp_path / "wf"
    (wf / "results").mkdir(parents=True)
    monkeypatch.chdir(wf)
    rel = Path("results") / "s.zarr"
    write_dataset(rel, xr.Dataset({"x": ("i", np.arange(3.0))}))
    rec = pv.make_record(rule="s", wildcards={}, outputs=[rel], inputs=[], config_used={}, started=pv.now())
    write_json(pv.record_path(rel), rec)
    assert list(pv.read_record(pv.record_path(rel))["outputs"]) == ["s.zarr"]
    monkeypatch.chdir(tmp_path)
    pv.verify(wf / rel)
    pv.verify(Path("wf") / rel)
    assert open_dataset(wf / rel)["x"].values.tolist() == [0.0, 1.0, 2.0]
    (wf / "results" / "other.txt").write_text("x")  # a sibling no record lists
    write_json(pv.record_path(wf / "results" / "other.txt"), rec)
    with pytest.raises(pv.IntegrityError, match="not among the outputs recorded"):
        pv.verify(wf / "results" / "other.txt")


def test_unrecorded_file_is_refused(tmp_path):
    f = tmp_path / "orphan.txt"
    f.write_text("x")
    with pytest.raises(pv.IntegrityError, match="no provenance record"):
        pv.verify(f)


def test_audit_passes_then_names_tampered_file(chain):
    cfg, a, b, c = chain
    links = pv.audit(c)
    assert links and all(l["ok"] for l in links)
    assert {l["path"] for l in links} >= {str(a), str(b), str(c), str(cfg)}
    cfg.write_bytes(b"other data")  # the user's file changed under the result
    bad = [l for l in pv.audit(c) if not l["ok"]]
    assert [l["path"] for l in bad] == [str(cfg)]


def test_audit_cli_exit_codes(chain):
    _, a, b, c = chain
    run = lambda: subprocess.run([sys.executable, "-m", "infofrag", "audit", str(c)],
                                 capture_output=True, text=True)
    ok = run()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 mismatch" in ok.stdout
    a_chunk = next(p for p in a.rglob("*") if p.is_file() and p.name != "zarr.json")
    a_chunk.write_bytes(a_chunk.read_bytes() + b"!")
    bad = run()
    assert bad.returncode == 1
    assert str(a) in bad.stdout and "FAIL" in bad.stdout


def test_audit_compares_each_jobs_key_with_the_current_one(tmp_path):
    """The audit's key links: a job made as the config says now passes; one whose config value
    changed since fails, naming the key and both values."""

    class Keys:  # what infofrag.keys.Keys answers: a job's key under the config at hand
        def __init__(self, seed):
            self.seed = seed

        def of(self, rule, wildcards):
            return {"sample": {"seed": self.seed}, "code": "c0"}

    out = tmp_path / "a.txt"
    out.write_text("made")
    rec = pv.make_record(rule="a", wildcards={}, outputs=[out], inputs=[], config_used={},
                         started=pv.now(), key=Keys(1).of("a", {}))
    write_json(pv.record_path(out), rec)
    same = [l for l in pv.audit(out, Keys(1)) if l["kind"] == "key"]
    assert len(same) == 1 and same[0]["ok"], same
    changed = [l for l in pv.audit(out, Keys(2)) if l["kind"] == "key"]
    assert len(changed) == 1 and not changed[0]["ok"]
    assert "sample.seed changed" in changed[0]["detail"]
    assert "recorded 1, now 2" in changed[0]["detail"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.zarr"
    write_dataset(target, xr.Dataset({"x": ("i", np.ones(3))}))
    before = pv.digest_path(target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            xr.Dataset({"x": ("i", np.zeros(3))}).to_zarr(tmp, mode="w")
            raise RuntimeError("killed mid-write")
    assert pv.digest_path(target) == before  # the good result is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.zarr"]  # no temporary left behind


def test_open_dataset_names_store_on_garbage(tmp_path):
    target = tmp_path / "s.zarr"
    write_dataset(target, xr.Dataset({"x": ("i", np.ones(3))}))
    (target / "zarr.json").write_text("{not json")
    with pytest.raises(StoreError, match="s.zarr"):
        open_dataset(target, check=False)
