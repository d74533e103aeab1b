"""The fingerprint job: its numpy path against the estimators, its stores, its cost.

A fingerprint job runs once per channel (3,000 times at the paper's scale), so it runs without
torch, xarray or zarr and reads and writes its stores directly. Asked for here: the same numbers
as the estimators to their documented precision (float32 fingerprints: information terms 1e-6
relative/absolute; float64: 1e-10), weak, collapsed and sharp channels included; the same
float32 distance matrix; stores that ``xarray.open_zarr`` opens, without a warning, as the
same variables, coords and attrs as the xarray writer's; the gather stage reading no distance
matrix; each input digested once per job; the code version handed down by the workflow run.
"""

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import infofrag
from infofrag import provenance as pv
from infofrag.estimators import labels_to_distances
from infofrag.provenance import records
from infofrag.stages import fingerprint as fp_stage
from infofrag.store import StoreError, zarr_io
from infofrag.store import fingerprint as fp_store

N = 400


def channel(sigma, seed=0, n=N):
    """One channel's posteriors: mu a smooth function of hidden points, sd ~ sigma."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3))
    mu = np.tanh(x @ rng.normal(size=3)) * 2
    lv = np.log(sigma ** 2) + 0.3 * rng.normal(size=n) / (1 + sigma)
    return mu.astype(np.float32).astype(np.float64), lv.astype(np.float32).astype(np.float64)


def factors(n=N, seed=1):
    rng = np.random.default_rng(seed)
    return np.stack([
        rng.integers(0, 3, n),                         # a few classes
        rng.integers(0, 32, n),                        # many classes
        (rng.random(n) < 0.9).astype(np.int64),        # one class holds 90% of the points
        np.zeros(n, dtype=np.int64),                   # constant: carries nothing
        np.arange(n) % 7,
    ], 1)


# sd from sharp (C ~ 0 off the diagonal) through informative to weak (nearly constant rows)
SIGMAS = [1e-3, 0.05, 0.3, 1.0, 3.0, 30.0, 1e3, 1e5]


# --------------------------------------------------------------------------- constants

def test_constants_are_the_estimators():
    import torch

    from infofrag.estimators import _coefficients, _constants

    assert fp_stage.LN2 == _constants.LN2
    assert fp_stage.DEFAULT_MIN_BITS == _constants.DEFAULT_MIN_BITS
    assert fp_stage.CENTRE_ABOVE == _constants.CENTRE_ABOVE
    for n in (10, 1000, 10**6):
        assert fp_stage._max_distance(n) == _coefficients._max_distance(torch.float64, n)
    assert fp_stage.REFERENCE == "infofrag.estimators"


def test_the_estimators_decide_the_fingerprint_rules_code_digest(root):
    """The job does not import the estimators, but names them: a change to them reruns the
    fingerprints, as when they computed them."""
    closure = pv.code_closure(root / "scripts" / "fingerprint.py")
    assert "infofrag.estimators" in closure and "infofrag.estimators._constants" in closure
    assert "infofrag.stages.fingerprint" in closure


# --------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("sigma", SIGMAS)
def test_distances_are_the_estimators(sigma):
    mu, lv = channel(sigma)
    ours = fp_stage.distances(mu, lv)
    ref = infofrag.bhattacharyya(mu[:, None], lv[:, None])
    assert ours.dtype == np.float64 and np.array_equal(ours, ours.T) and not np.diagonal(ours).any()
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-300)
    # what is stored: the same float32 matrix (a float64 ulp may round the other way, rarely)
    same = ours.astype(np.float32) == ref.astype(np.float32)
    assert same.mean() > 0.9999
    np.testing.assert_allclose(ours.astype(np.float32), ref.astype(np.float32), rtol=2e-7, atol=0)


def test_distances_of_extreme_variances():
    """log-variances far apart (the large-argument log cosh) and tiny ones (the clamp)."""
    rng = np.random.default_rng(3)
    mu = rng.normal(size=60)
    lv = np.concatenate([rng.uniform(-30, 30, 20), rng.uniform(-700, -600, 20), np.zeros(20)])
    ours = fp_stage.distances(mu, lv)
    ref = infofrag.bhattacharyya(mu[:, None], lv[:, None])
    finite = np.isfinite(ref)
    assert np.array_equal(finite, np.isfinite(ours))
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-12)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_information_terms_are_the_estimators(sigma):
    mu, lv = channel(sigma)
    D = fp_stage.distances(mu, lv).astype(np.float32)
    info, self_info, _, _ = fp_stage.channel_terms(D)
    t32 = infofrag.similarity_terms(D[None])  # as the workflow computed them: float32 products
    t64 = infofrag.similarity_terms(D[None].astype(np.float64))
    np.testing.assert_allclose(info, t64.i_a[0], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(self_info, t64.i_aa[0], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(info, t32.i_a[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(self_info, t32.i_aa[0], rtol=1e-6, atol=1e-6)
    # weak channels keep their relative precision (no difference of numbers near 1)
    assert abs(info - t64.i_a[0]) <= 1e-9 * abs(t64.i_a[0]) + 1e-300


def test_collapsed_channel_carries_nothing():
    D = np.zeros((N, N), np.float32)
    info, self_info, nmi, vi = fp_stage.channel_terms(D, factors())
    assert info == 0.0 and self_info == 0.0
    ref_nmi, ref_vi = infofrag.similarity(D[None], labels_to_distances(factors().T))
    np.testing.assert_array_equal(nmi, ref_nmi[0])  # 0 against informative factors, 1 against the constant
    np.testing.assert_allclose(vi, ref_vi[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_factor_nmi_and_vi_are_the_estimators(sigma):
    mu, lv = channel(sigma, seed=5)
    f = factors()
    mu = mu + 0.5 * f[:, 0]  # some information about a factor
    D = fp_stage.distances(mu, lv).astype(np.float32)
    _, _, nmi, vi = fp_stage.channel_terms(D, f)
    ref_nmi, ref_vi = infofrag.similarity(D[None], labels_to_distances(f.T))  # float64, as the job did
    np.testing.assert_allclose(nmi, ref_nmi[0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(vi, ref_vi[0], rtol=1e-9, atol=1e-10)


def test_fingerprint_without_factors():
    mu, lv = channel(0.3)
    fp = fp_stage.fingerprint(mu, lv, np.zeros((N, 0), np.int64), [], "m", 2)
    assert fp.factor_nmi.shape == (0,) and fp.factor_vi.shape == (0,) and fp.distance.dtype == np.float32


# --------------------------------------------------------------------------- stores

def _fingerprint(n=N, names=("shape", "x", "big", "const", "mod7")):
    mu, lv = channel(0.2, n=n)
    f = factors(n)[:, :len(names)]
    return fp_stage.fingerprint(mu, lv, f, list(names), "b4_s0", 3)


def _xarray_dataset(fp):
    """The store as the xarray writer wrote it before (the layout the readers expect)."""
    return xr.Dataset(
        {"distance": (("i", "j"), fp.distance.astype(np.float32)),
         "mu": ("i", fp.mu.astype(np.float32)), "logvar": ("i", fp.logvar.astype(np.float32)),
         "factor_nmi": ("factor", fp.factor_nmi.astype(np.float64)),
         "factor_vi": ("factor", fp.factor_vi.astype(np.float64))},
        coords={"factor": zarr_io.strings(fp.factor_names)},
        attrs={"member": fp.member, "channel": int(fp.channel), "info_bits": float(fp.info_bits),
               "self_info_bits": float(fp.self_info_bits)})


@pytest.mark.parametrize("names", [("shape", "x", "big", "const", "mod7"), ()])
def test_store_opens_with_xarray_as_before(tmp_path, names):
    fp = _fingerprint(names=names)
    fp_store.write(tmp_path / "new.zarr", fp)
    zarr_io.write_dataset(tmp_path / "old.zarr", _xarray_dataset(fp))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on open
        new = xr.open_zarr(tmp_path / "new.zarr").load()
        old = xr.open_zarr(tmp_path / "old.zarr").load()
    xr.testing.assert_identical(new, old)
    assert new["distance"].dtype == np.float32 and new["factor"].dtype.kind == "U"
    # and zarr itself reads it
    import zarr

    g = zarr.open_group(str(tmp_path / "new.zarr"), mode="r")
    assert sorted(g.array_keys()) == sorted(new.variables)
    np.testing.assert_array_equal(g["distance"][...], fp.distance)
    # both stores read back the same with the direct reader (the old one through zstd)
    a, b = fp_store.read(tmp_path / "new.zarr", check=False), fp_store.read(tmp_path / "old.zarr", check=False)
    for f in ("distance", "mu", "logvar", "factor_nmi", "factor_vi"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert (a.factor_names, a.member, a.channel, a.info_bits) == (b.factor_names, b.member, b.channel, b.info_bits)


def test_read_distances_stacks_in_place(tmp_path):
    fps = [_fingerprint(n=50) for _ in range(2)]
    fps[1] = fp_stage.fingerprint(*channel(1.0, n=50), factors(50), ["a", "b", "c", "d", "e"], "other", 0)
    fp_store.write(tmp_path / "a.zarr", fps[0])
    zarr_io.write_dataset(tmp_path / "b.zarr", _xarray_dataset(fps[1]))  # an older, xarray-written store
    D, ids = fp_store.read_distances([tmp_path / "a.zarr", tmp_path / "b.zarr"], check=False)
    assert ids == ["b4_s0/3", "other/0"] and D.dtype == np.float32
    np.testing.assert_array_equal(D, np.stack([f.distance for f in fps]))


def test_metadata_without_the_distance_matrix(tmp_path):
    """What the gather stage reads of a fingerprint: everything but the N x N matrix, which it
    never opens (here it is gone)."""
    fp = _fingerprint()
    fp_store.write(tmp_path / "f.zarr", fp)
    (tmp_path / "f.zarr" / "distance" / "c" / "0" / "0").unlink()
    meta = fp_store.read(tmp_path / "f.zarr", check=False, distance=False)
    assert meta.distance is None and meta.info_bits == fp.info_bits
    np.testing.assert_array_equal(meta.factor_nmi, fp.factor_nmi)


def test_gather_reads_no_distance_matrix(tmp_path):
    from infofrag.stages import gather
    from infofrag.store import shard

    fps = {}
    for m in ("a", "b"):
        for c in range(2):
            fp = fp_stage.fingerprint(*channel(0.1 + c, seed=hash(m) % 100, n=30), factors(30)[:, :2],
                                      ["f0", "f1"], m, c)
            path = tmp_path / f"{m}{c}.zarr"
            fp_store.write(path, fp)
            (path / "distance" / "c" / "0" / "0").unlink()  # gather must not need it
            fps[f"{m}/{c}"] = path
    ids = list(fps)
    M = len(ids)
    shard.write(tmp_path / "s.zarr", np.eye(M), np.zeros((M, M)), np.ones((M, M)), ids, ids, "x-0", "x-0")
    scores = {}
    for m in ("a", "b"):
        scores[m] = tmp_path / f"{m}.json"
        scores[m].write_text(json.dumps({"mig": 0.1}))
    labels = {m: {"method": "beta_vae", "param": "beta", "value": 1.0, "seed": 0} for m in ("a", "b")}
    gather.run(labels, {"a": 2, "b": 2}, [tmp_path / "s.zarr"], fps, scores, tmp_path / "sim.zarr")
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
    fp = _fingerprint(n=40)
    fp_store.write(tmp_path / "f.zarr", fp)
    chunk = tmp_path / "f.zarr" / "distance" / "c" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:100])
    with pytest.raises(StoreError, match="distance"):
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


def test_run_gives_the_estimators_numbers(tmp_path):
    s_path, p_path, drawn = _inputs(tmp_path)
    for c in range(3):
        out = tmp_path / f"ch{c}.zarr"
        fp_stage.run(p_path, s_path, c, out)
        ds = xr.open_zarr(out).load()
        from infofrag.store import posteriors

        post = posteriors.read(p_path, check=False)
        D = infofrag.bhattacharyya(post.mu[:, c:c + 1].astype(np.float64),
                                   post.logvar[:, c:c + 1].astype(np.float64)).astype(np.float32)
        np.testing.assert_array_equal(ds["distance"].values, D)
        t = infofrag.similarity_terms(D[None])
        np.testing.assert_allclose(ds.attrs["info_bits"], t.i_a[0], rtol=1e-6, atol=1e-6)
        nmi, vi = infofrag.similarity(D[None], labels_to_distances(np.asarray(drawn["factors"]).T))
        np.testing.assert_allclose(ds["factor_nmi"].values, nmi[0], rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(ds["factor_vi"].values, vi[0], rtol=1e-9, atol=1e-10)
        assert list(ds["factor"].values) == list(drawn["factor_names"])
        assert ds.attrs["member"] == "b4_s0" and ds.attrs["channel"] == c
    with pytest.raises(StoreError, match="no channel 3"):
        fp_stage.run(p_path, s_path, 3, tmp_path / "ch3.zarr")


def test_a_fingerprint_job_imports_neither_torch_nor_xarray_nor_zarr(tmp_path, root):
    s_path, p_path, _ = _inputs(tmp_path)
    code = (f"import sys; sys.path.insert(0, {str(root)!r})\n"
            "from infofrag.stages import fingerprint\nfrom infofrag.workflow import Job\n"
            f"fingerprint.run({str(p_path)!r}, {str(s_path)!r}, 0, {str(tmp_path / 'out.zarr')!r})\n"
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
        output = _Names(store=str(tmp_path / "fp" / "ch0.zarr"), prov=str(tmp_path / "fp" / "ch0.zarr.prov.json"))
        log = _Names([str(tmp_path / "ch0.log")])
        wildcards = _Names(member="b4_s0", channel="0")
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
        job.extra.update(fp_stage.run(smk.input.posteriors, smk.input.sample, 0, smk.output.store))
    assert sorted(digested) == sorted([str(p_path), str(s_path), smk.output.store])
    rec = pv.read_record(smk.output.prov)
    assert rec["code"] == handed["code"] and rec["packages"] == handed["packages"]
    assert {e["sha256"] for e in rec["inputs"]} == {real(p_path), real(s_path)}
    assert pv.verify(smk.output.store)
    assert "peak memory" in (tmp_path / "ch0.log").read_text()


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
