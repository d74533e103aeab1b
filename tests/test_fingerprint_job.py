"""The fingerprint job: one member's compact fingerprints, their store, its cost.

A fingerprint job runs once per member (1,800 times at a zoo's scale), so it runs without torch,
xarray or zarr and reads and writes its stores directly. Asked for here: the numbers of
infofrag.measures on the float32 matrix the kernel works with; a store of what defines each
channel (its posteriors, 8 KB a channel at N = 1,000) that ``xarray.open_zarr`` opens without a
warning; a store of the former layout refused with a message to rerun; the gather stage reading
no posteriors; each input digested once per job; the code version handed down by the workflow
run. (The measures themselves: tests/test_measures.py.)
"""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import infofrag
from infofrag import measures
from infofrag import provenance as pv
from infofrag.estimators import labels_to_distances
from infofrag.provenance import records
from infofrag.stages import fingerprint as fp_stage
from infofrag.store import StoreError, zarr_io
from infofrag.store import fingerprint as fp_store

N = 400


def channels(n=N, d=3, seed=0):
    """A member's posteriors [n, d]: a sharp, an informative and a collapsed channel."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3))
    mu = np.stack([np.tanh(x @ rng.normal(size=3)) * 2, x[:, 0], np.zeros(n)], 1)[:, :d]
    lv = np.stack([np.full(n, -8.0), np.log(0.3 ** 2) + 0.1 * rng.normal(size=n), np.zeros(n)], 1)[:, :d]
    return mu.astype(np.float32), lv.astype(np.float32)


def factors(n=N, seed=1):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 3, n), rng.integers(0, 32, n), (rng.random(n) < 0.9).astype(np.int64),
                     np.zeros(n, dtype=np.int64), np.arange(n) % 7], 1)


NAMES = ["shape", "x", "big", "const", "mod7"]


def test_each_channel_is_the_measures_of_its_float32_matrix():
    mu, lv = channels()
    fp = fp_stage.fingerprints(mu, lv, factors(), NAMES, "b4_s0")
    assert fp.ids() == ["b4_s0/0", "b4_s0/1", "b4_s0/2"]
    for c in range(3):
        D = measures.distances(mu[:, c], lv[:, c]).astype(np.float32)
        t = measures.channel_terms(D, factors())
        assert (fp.info_bits[c], fp.self_info_bits[c], fp.h_bits[c], fp.bound_bits[c]) == \
            (t.info_bits, t.self_info_bits, t.h_bits, t.bound_bits)
        np.testing.assert_array_equal(fp.factor_nmi[c], t.factor_nmi)
        np.testing.assert_array_equal(fp.distances(c).astype(np.float32), D)
        ref_nmi, _ = infofrag.similarity(D[None], labels_to_distances(factors().T))
        np.testing.assert_allclose(fp.factor_nmi[c], ref_nmi[0], rtol=1e-9, atol=1e-10)
    assert fp.info_bits[2] == 0.0 and fp.bound_bits[2] == 0.0  # collapsed


def test_fingerprints_without_factors():
    mu, lv = channels()
    fp = fp_stage.fingerprints(mu, lv, np.zeros((N, 0), np.int64), [], "m")
    assert fp.factor_nmi.shape == (3, 0) and fp.factor_vi.shape == (3, 0)


# --------------------------------------------------------------------------- stores

def _fingerprints(n=N, names=tuple(NAMES), member="b4_s0"):
    mu, lv = channels(n)
    return fp_stage.fingerprints(mu, lv, factors(n)[:, :len(names)], list(names), member)


@pytest.mark.parametrize("names", [tuple(NAMES), ()])
def test_store_opens_with_xarray(tmp_path, names):
    fp = _fingerprints(names=names)
    fp_store.write(tmp_path / "f.zarr", fp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on open
        ds = xr.open_zarr(tmp_path / "f.zarr").load()
    assert ds["mu"].dims == ("channel", "i") and ds["mu"].dtype == np.float32
    np.testing.assert_array_equal(ds["info_bits"].values, fp.info_bits)
    np.testing.assert_array_equal(ds["factor_nmi"].values, fp.factor_nmi)
    assert list(ds["factor"].values) == list(names) and ds.attrs["member"] == "b4_s0"
    import zarr

    g = zarr.open_group(str(tmp_path / "f.zarr"), mode="r")
    np.testing.assert_array_equal(g["logvar"][...], fp.logvar)
    back = fp_store.read(tmp_path / "f.zarr", check=False)
    for f in ("mu", "logvar", "info_bits", "self_info_bits", "h_bits", "bound_bits", "factor_nmi", "factor_vi"):
        np.testing.assert_array_equal(getattr(back, f), getattr(fp, f))
    assert back.factor_names == list(names) and back.member == fp.member


def test_a_store_is_the_size_of_what_defines_it(tmp_path):
    """At N = 1,000: 8 KB of posteriors per channel and a few KB of metadata; at most 32 KB a
    channel (the N x N float32 matrix it once held: 4 MB)."""
    n, d = 1000, 10
    rng = np.random.default_rng(0)
    mu, lv = rng.normal(size=(n, d)).astype(np.float32), np.full((n, d), -2.0, np.float32)
    fp = fp_stage.fingerprints(mu, lv, factors(n), NAMES, "m")
    fp_store.write(tmp_path / "f.zarr", fp)
    size = sum(p.stat().st_size for p in (tmp_path / "f.zarr").rglob("*") if p.is_file())
    assert 2 * 4 * n * d <= size <= 32 * 1024 * d, size


def test_a_store_of_the_former_layout_is_refused_with_a_message_to_rerun(tmp_path):
    zarr_io.write_arrays(tmp_path / "old.zarr", {"distance": (("i", "j"), np.zeros((3, 3), np.float32))},
                         attrs={"member": "m", "channel": 0, "info_bits": 0.0, "self_info_bits": 0.0})
    with pytest.raises(StoreError, match="earlier version; rerun the workflow"):
        fp_store.read(tmp_path / "old.zarr", check=False)


def test_read_posteriors_puts_members_side_by_side(tmp_path):
    a, b = _fingerprints(n=50, member="a"), _fingerprints(n=50, member="b")
    fp_store.write(tmp_path / "a.zarr", a)
    fp_store.write(tmp_path / "b.zarr", b)
    mu, lv, ids, fps = fp_store.read_posteriors([tmp_path / "a.zarr", tmp_path / "b.zarr"], check=False)
    assert ids == ["a/0", "a/1", "a/2", "b/0", "b/1", "b/2"] and mu.dtype == np.float64 and mu.shape == (6, 50)
    np.testing.assert_array_equal(lv[3:], b.logvar)


def test_gather_reads_no_posteriors(tmp_path):
    from infofrag.stages import gather
    from infofrag.store import shard

    paths = []
    for m in ("a", "b"):
        path = tmp_path / f"{m}.zarr"
        fp_store.write(path, _fingerprints(n=30, names=("f0", "f1"), member=m))
        for v in ("mu", "logvar"):  # gather must not need them
            (path / v / "c" / "0" / "0").unlink()
        paths.append(path)
    ids = [f"{m}/{c}" for m in ("a", "b") for c in range(3)]
    M = len(ids)
    shard.write(tmp_path / "s.zarr", np.eye(M), np.zeros((M, M)), np.ones((M, M)), np.zeros((M, M)), ids, ids,
                "x-0", "x-0")
    labels = {m: {"method": "beta_vae", "param": "beta", "value": 1.0, "seed": 0} for m in ("a", "b")}
    gather.run(labels, paths, [tmp_path / "s.zarr"], tmp_path / "sim.zarr")
    ds = xr.open_zarr(tmp_path / "sim.zarr").load()
    assert list(ds["channel_id"].values) == ids and ds.sizes["factor"] == 2


def test_read_arrays_of_stores_xarray_wrote(tmp_path):
    """Chunks that do not divide the shape, a chunk never written (all fill value), text, ints,
    big-endian data, and a sharded array (read through zarr): the values xarray reads."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(10, 7)).astype(np.float32)
    a[4:8, 3:6] = np.nan  # one whole chunk of fill values: zarr does not write it
    ds = xr.Dataset({"a": (("i", "j"), a), "k": ("i", np.arange(10, dtype=np.int64)),
                     "big": ("i", np.arange(10, dtype=">f8")),
                     "s": ("j", rng.normal(size=7))},
                    coords={"name": ("i", zarr_io.strings([f"n{i}" * (i % 3 + 1) for i in range(10)]))},
                    attrs={"what": "test"})
    enc = {"a": {"chunks": (4, 3)}, "k": {"chunks": (3,)}, "s": {"chunks": (7,), "shards": (7,)}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(tmp_path / "x.zarr", encoding=enc, consolidated=True, zarr_format=3)
    assert not (tmp_path / "x.zarr" / "a" / "c" / "1" / "1").exists()
    got = zarr_io.read_arrays(tmp_path / "x.zarr", ["a", "k", "big", "s", "name"])
    ref = xr.open_zarr(tmp_path / "x.zarr").load()
    for k in ("a", "k", "big", "s", "name"):
        np.testing.assert_array_equal(got[k], ref[k].values)
    assert got["big"].dtype.isnative and got.attrs == {"what": "test"}
    with pytest.raises(StoreError, match="no variable 'nope'"):
        zarr_io.read_arrays(tmp_path / "x.zarr", ["nope"])


def test_damaged_chunk_is_an_error_naming_it(tmp_path):
    fp_store.write(tmp_path / "f.zarr", _fingerprints(n=40))
    chunk = tmp_path / "f.zarr" / "mu" / "c" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:100])
    with pytest.raises(StoreError, match="mu"):
        fp_store.read(tmp_path / "f.zarr", check=False)


# --------------------------------------------------------------------------- the job

def _inputs(tmp_path, n=200, d=3):
    """A sample store and a member's posteriors store, with provenance records."""
    from infofrag import data
    from infofrag.atomic import write_json
    from infofrag.store import posteriors, sample

    ds = data.make_dataset({"name": "dsprites", "image_size": 32})
    drawn = data.draw_sample(ds, n, 3)
    s_path, p_path = tmp_path / "sample.zarr", tmp_path / "posteriors" / "b4_s0.zarr"
    sample.write(s_path, drawn, ds)
    rng = np.random.default_rng(0)
    mu = np.stack([drawn["factors"][:, 3] / 8.0 + 0.1 * rng.normal(size=n) for _ in range(d)], 1)
    mu[:, 2] = 0.0
    lv = np.full((n, d), -3.0)
    lv[:, 2] = 0.0  # collapsed
    posteriors.write(p_path, mu, lv, "b4_s0")
    for p in (s_path, p_path):
        write_json(pv.record_path(p), pv.make_record(rule="x", wildcards={}, outputs=[p], inputs=[],
                                                     config_used={}, started=pv.now()))
    return s_path, p_path, drawn


def test_run_gives_the_measures_numbers(tmp_path):
    s_path, p_path, drawn = _inputs(tmp_path)
    out = tmp_path / "fp.zarr"
    fp_stage.run(p_path, s_path, out)
    fp = fp_store.read(out, check=False)
    from infofrag.store import posteriors

    post = posteriors.read(p_path, check=False)
    ref = fp_stage.fingerprints(post.mu, post.logvar, drawn["factors"], list(drawn["factor_names"]), "b4_s0")
    for f in ("mu", "logvar", "info_bits", "h_bits", "factor_nmi", "factor_vi"):
        np.testing.assert_array_equal(getattr(fp, f), getattr(ref, f))
    assert fp.member == "b4_s0" and fp.factor_names == list(drawn["factor_names"])


def test_run_refuses_absurd_posteriors_naming_the_store(tmp_path):
    from infofrag.store import posteriors

    s_path, p_path, drawn = _inputs(tmp_path)
    post = posteriors.read(p_path, check=False)
    lv = post.logvar.copy()
    lv[5, 1] = -80.0
    bad = tmp_path / "bad.zarr"
    posteriors.write(bad, post.mu, lv, "b4_s0")
    with pytest.raises(StoreError, match=r"bad.zarr'?: logvar\[5, 1\] = -80.0 is beyond"):
        fp_stage.run(bad, s_path, tmp_path / "out.zarr")


def test_a_fingerprint_job_imports_neither_torch_nor_xarray_nor_zarr(tmp_path, root):
    s_path, p_path, _ = _inputs(tmp_path)
    code = (f"import sys; sys.path.insert(0, {str(root)!r})\n"
            "from infofrag.stages import fingerprint\nfrom infofrag.workflow import Job\n"
            f"fingerprint.run({str(p_path)!r}, {str(s_path)!r}, {str(tmp_path / 'out.zarr')!r})\n"
            "print(sorted(m for m in ('torch', 'xarray', 'zarr', 'pandas', 'dask', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


class _Names(list):
    """Snakemake's named lists, as the Job reads them."""

    def __init__(self, items=(), **named):
        super().__init__(list(items) + list(named.values()))
        self._named = named
        for k, v in named.items():
            setattr(self, k, v)

    def items(self):
        return self._named.items()

    def get(self, key, default=None):
        return self._named.get(key, default)


def _smk(tmp_path, s_path, p_path):
    class Smk:
        rule = "fingerprint"
        input = _Names(posteriors=str(p_path), sample=str(s_path))
        output = _Names(store=str(tmp_path / "fp" / "b4_s0.zarr"), prov=str(tmp_path / "fp" / "b4_s0.zarr.prov.json"))
        log = _Names([str(tmp_path / "fp.log")])
        wildcards = _Names(member="b4_s0")
        params = _Names()
        config = {"results_dir": str(tmp_path)}

    return Smk


def test_the_job_digests_each_input_once_and_records_the_handed_code_version(tmp_path, monkeypatch):
    from infofrag.workflow import Job

    s_path, p_path, _ = _inputs(tmp_path)
    smk = _smk(tmp_path, s_path, p_path)
    name, value = records.code_version_env()
    handed = json.loads(value)
    monkeypatch.setenv(name, value)
    digested = []
    real = records.digest_path
    monkeypatch.setattr(records, "digest_path", lambda p: digested.append(str(p)) or real(p))
    monkeypatch.setattr(records, "_git", lambda *a: pytest.fail("git run by a job that was handed the version"))
    with Job(smk) as job:
        job.extra.update(fp_stage.run(smk.input.posteriors, smk.input.sample, smk.output.store))
    assert sorted(digested) == sorted([str(p_path), str(s_path), smk.output.store])
    rec = pv.read_record(smk.output.prov)
    assert rec["code"] == {**handed["code"], "package_path": "infofrag"} and rec["packages"] == handed["packages"]
    assert {e["sha256"] for e in rec["inputs"]} == {real(p_path), real(s_path)}
    assert pv.verify(smk.output.store)
    assert "peak memory" in (tmp_path / "fp.log").read_text()


def test_code_version_of_another_checkout_or_environment_is_not_taken(monkeypatch):
    name, value = records.code_version_env()
    other = dict(json.loads(value), package_dir="/elsewhere/infofrag", code={"git_commit": "x"})
    monkeypatch.setenv(name, json.dumps(other))
    assert records.code_version()["git_commit"] != "x"
    monkeypatch.setenv(name, json.dumps(dict(json.loads(value), prefix="/another/env",
                                             packages={"numpy": "0"})))
    assert records.package_versions()["numpy"] == np.__version__
    monkeypatch.setenv(name, "not json")
    assert records.code_version()["package_digest"] == pv.package_digest()


def test_a_damaged_input_still_fails_the_job_naming_it(tmp_path):
    from infofrag.workflow import Job

    s_path, p_path, _ = _inputs(tmp_path)
    chunk = next((p_path / "mu" / "c").rglob("*"))
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    chunk.write_bytes(chunk.read_bytes() + b"x")
    with pytest.raises(pv.IntegrityError, match=str(p_path)):
        with Job(_smk(tmp_path, s_path, p_path)):
            pass


def test_peak_memory_is_measured():
    """The job log's peak is this process's own, in MiB (not KiB or bytes): after touching a
    1 GiB array it is at least 1,024 and at most that plus what the process held before."""
    code = ("from infofrag.workflow import peak_memory_mib; import numpy as np; before = peak_memory_mib(); "
            "a = np.ones(2**30 // 8); print(before, peak_memory_mib())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    before, after = map(float, out)
    assert 1024 <= after < 1024 + before + 64, (before, after)
