"""Provenance records, digest checks and the audit walk."""
import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from infofrag import provenance as pv
from infofrag.store import StoreError, atomic_path, open_dataset, write_dataset


def _job(tmp_path, name, inputs, make):
    out = tmp_path / name
    make(out)
    rec = pv.make_record(rule=name.split(".")[0], wildcards={}, outputs=[out], inputs=inputs,
                         config_used={"sample": {"seed": 1}}, started=pv.now())
    pv.write_json_atomic(pv.record_path(out), rec)
    return out


@pytest.fixture
def chain(tmp_path):
    cfg = tmp_path / "user.bin"
    cfg.write_bytes(b"raw data")
    a = _job(tmp_path, "a.zarr", [cfg], lambda p: write_dataset(p, xr.Dataset({"x": ("i", np.arange(5.0))})))
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


def test_record_has_what_produced_it(chain):
    _, a, b, c = chain
    rec = pv.read_record(pv.record_path(c))
    for key in ("rule", "config_used", "outputs", "inputs", "code", "packages", "host",
                "started", "finished"):
        assert key in rec
    assert rec["code"]["package_digest"]
    assert rec["packages"]["numpy"] == np.__version__
    assert {e["path"] for e in rec["inputs"]} == {str(a), str(b)}
    assert all(e["record"] for e in rec["inputs"])


def test_verify_detects_flipped_byte(chain):
    _, a, b, _ = chain
    pv.verify(b)
    b.write_text("derivex")
    with pytest.raises(pv.IntegrityError, match="b.txt"):
        pv.verify(b)


def test_verify_detects_damaged_zarr_chunk(chain):
    _, a, _, _ = chain
    chunk = max((p for p in a.rglob("*") if p.is_file() and "x" in p.parts), key=lambda p: p.stat().st_size)
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(pv.IntegrityError, match="a.zarr"):
        open_dataset(a)


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


def test_audit_compares_config_values(chain):
    _, _, _, c = chain
    same = pv.audit(c, {"sample": {"seed": 1}}, lambda cfg, key: cfg[key])
    assert all(l["ok"] for l in same)
    changed = [l for l in pv.audit(c, {"sample": {"seed": 2}}, lambda cfg, key: cfg[key]) if not l["ok"]]
    assert changed and all(l["path"] == "config:sample" for l in changed)


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
