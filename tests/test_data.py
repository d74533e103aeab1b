"""Datasets: procedural dSprites, the circle, user-file loaders, the fingerprint sample."""

import gzip
import hashlib

import numpy as np
import pytest

from infofrag.data import (
    DATASET_NAMES,
    DSPRITES_FACTOR_NAMES,
    DSPRITES_FACTOR_SIZES,
    DataFileError,
    Dataset,
    draw_sample,
    dsprites_classes,
    dsprites_index,
    make_dataset,
    read_idx,
    render_dsprites,
    render_dsprites_reference,
)

N_DSPRITES = 3 * 6 * 40 * 32 * 32


def _check_file_error(call, path, problem):
    """``call()`` raises a DataFileError naming ``path`` whose message (path removed) matches
    ``problem``."""
    import re

    with pytest.raises(DataFileError) as e:
        call()
    msg = str(e.value)
    assert str(path) in msg, msg
    assert re.search(problem, msg.replace(str(path), "<file>")), (problem, msg)


def _area(x):
    return x.reshape(len(x), -1).sum(axis=1)


def _centroid(x):
    """(row, col) centroids of masks [n, 1, S, S]."""
    m = x[:, 0]
    s = m.shape[-1]
    a = m.sum(axis=(1, 2))
    rows = (m.sum(axis=2) * np.arange(s)).sum(axis=1) / a
    cols = (m.sum(axis=1) * np.arange(s)).sum(axis=1) / a
    return rows, cols


# ---------------------------------------------------------------------------------------------
# procedural dSprites
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 64])
def test_dsprites_attributes_and_batch(size):
    ds = make_dataset({"name": "dsprites", "image_size": size})
    assert isinstance(ds, Dataset)
    assert ds.name == "dsprites" and ds.n == N_DSPRITES == len(ds)
    assert ds.input_shape == (1, size, size)
    assert ds.likelihood == "bernoulli"
    assert ds.factor_names == DSPRITES_FACTOR_NAMES == ("shape", "scale", "orientation", "x", "y")
    assert ds.factor_sizes == DSPRITES_FACTOR_SIZES == (3, 6, 40, 32, 32)
    idx = np.random.default_rng(0).integers(0, ds.n, 64)
    x = ds.get(idx)
    assert x.dtype == np.float32 and x.shape == (64, 1, size, size)
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert (_area(x) > 0).all()
    f = ds.factors(idx)
    assert f.dtype == np.int64 and f.shape == (64, 5)
    assert ((f >= 0) & (f < np.array(DSPRITES_FACTOR_SIZES))).all()
    # sprites are small, as in dSprites: a few percent of the frame
    assert 0.005 < x.mean() < 0.1


def test_dsprites_default_size_is_64():
    assert make_dataset({"name": "dsprites"}).input_shape == (1, 64, 64)


@pytest.mark.parametrize("size", [32, 64])
def test_dsprites_rendering_is_exact_and_deterministic(size):
    idx = np.random.default_rng(1).integers(0, N_DSPRITES, 300)
    # include the corners of the position grid (sprites nearest the frame's edges)
    corners = dsprites_index([[s, 5, o, x, y] for s in range(3) for o in (0, 5, 13)
                              for x in (0, 31) for y in (0, 31)])
    idx = np.concatenate([idx, corners])
    ds = make_dataset({"name": "dsprites", "image_size": size})
    a = ds.get(idx)
    np.testing.assert_array_equal(a, make_dataset({"name": "dsprites", "image_size": size}).get(idx))
    # the lookup-table renderer equals rendering the whole frame from the geometry
    np.testing.assert_array_equal(a, render_dsprites_reference(dsprites_classes(idx), size))
    # order of the request does not matter
    perm = np.random.default_rng(2).permutation(len(idx))
    np.testing.assert_array_equal(ds.get(idx[perm]), a[perm])


# Pinned images: index k must always be the same image (changing the geometry changes every
# fingerprint sample and model; do it deliberately and update these).
_PINNED = np.array([0, 1, 12345, 98765, 300000, 512001, 737279])
_PINNED_AREA = {32: [9, 9, 10, 19, 11, 9, 38], 64: [36, 36, 38, 73, 38, 39, 156]}
_PINNED_SHA = {
    32: "86f33c68544a776c66c72b2f234dbca4ff7da0fdecdf39ed0c310d38fe88048c",
    64: "82cc5fd300fa79ce09fe059ea4a804a8ff3a4c30a71591fbba91116916da1733",
}


@pytest.mark.parametrize("size", [32, 64])
def test_dsprites_pinned_images(size):
    x = make_dataset({"name": "dsprites", "image_size": size}).get(_PINNED)
    assert _area(x).astype(int).tolist() == _PINNED_AREA[size]
    digest = hashlib.sha256(np.packbits(x.astype(np.uint8)).tobytes()).hexdigest()
    assert digest == _PINNED_SHA[size]


def test_dsprites_factor_grid_round_trip():
    ds = make_dataset({"name": "dsprites", "image_size": 32})
    idx = np.concatenate([[0, 1, 31, 32, N_DSPRITES - 1], np.random.default_rng(3).integers(0, N_DSPRITES, 500)])
    c = ds.factors(idx)
    np.testing.assert_array_equal(dsprites_index(c), idx)
    np.testing.assert_array_equal(dsprites_classes(idx), c)
    # row-major over (shape, scale, orientation, x, y): y runs fastest
    assert c[0].tolist() == [0, 0, 0, 0, 0]
    assert c[1].tolist() == [0, 0, 0, 0, 1]
    assert c[3].tolist() == [0, 0, 0, 1, 0]
    assert c[4].tolist() == [2, 5, 39, 31, 31]
    assert dsprites_index([1, 0, 0, 0, 0])[0] == 6 * 40 * 32 * 32
    with pytest.raises(ValueError, match="classes"):
        dsprites_index([[0, 6, 0, 0, 0]])


@pytest.mark.parametrize("size", [32, 64])
def test_dsprites_shapes_are_distinguishable(size):
    # at 32 x 32 the two smallest scales are sprites of about 3 px, where shapes can coincide
    scales = range(6) if size == 64 else range(2, 6)
    for scale in scales:
        for orient in range(0, 40, 3):
            for pos in ((16, 16), (0, 31), (7, 20)):
                x = render_dsprites([[s, scale, orient, *pos] for s in range(3)], size)
                for a in range(3):
                    for b in range(a + 1, 3):
                        assert (x[a] != x[b]).any(), (size, scale, orient, pos, a, b)


@pytest.mark.parametrize("size", [32, 64])
def test_dsprites_position_moves_the_centroid(size):
    for shape in range(3):
        for orient in (0, 13):
            xs = render_dsprites([[shape, 3, orient, k, 10] for k in range(32)], size)
            ys = render_dsprites([[shape, 3, orient, 10, k] for k in range(32)], size)
            rx, cx = _centroid(xs)
            ry, cy = _centroid(ys)
            if size == 64:  # 1.5 px per step: strictly monotone
                assert (np.diff(cx) > 0).all() and (np.diff(ry) > 0).all()
            else:  # 0.75 px per step: monotone
                assert (np.diff(cx) >= 0).all() and (np.diff(ry) >= 0).all()
            # the sprite crosses most of the frame
            assert cx[-1] - cx[0] > 0.65 * size and ry[-1] - ry[0] > 0.65 * size
            # and x does not move it vertically, nor y horizontally (beyond pixel rounding)
            assert np.ptp(rx) < 1.0 and np.ptp(cy) < 1.0


@pytest.mark.parametrize("size", [32, 64])
def test_dsprites_scale_grows_area(size):
    for shape in range(3):
        for orient in (0, 9):
            area = _area(render_dsprites([[shape, s, orient, 16, 16] for s in range(6)], size))
            assert (np.diff(area) >= 0).all() and area[-1] > 2.5 * area[0], (shape, orient, area)


def test_dsprites_rotation():
    for size in (32, 64):
        sq = render_dsprites([[0, 5, o, 16, 16] for o in (0, 5, 10, 20)], size)
        assert (sq[0] != sq[1]).any()  # 45 degrees changes the square
        np.testing.assert_array_equal(sq[0], sq[2])  # 90 degrees is a symmetry of the square
        np.testing.assert_array_equal(sq[0], sq[3])
        heart = render_dsprites([[2, 5, o, 16, 16] for o in (0, 10, 20)], size)
        assert (heart[0] != heart[1]).any() and (heart[0] != heart[2]).any()
        # the heart points down at orientation 0 (its rows are skewed downward: the tip) and up
        # after half a turn
        for k, sign in ((0, 1), (2, -1)):
            r = np.nonzero(heart[k, 0])[0].astype(float)
            assert sign * ((r - r.mean()) ** 3).mean() > 0, (size, k)


def test_dsprites_bad_indices():
    ds = make_dataset({"name": "dsprites", "image_size": 32})
    assert ds.get([]).shape == (0, 1, 32, 32)
    assert ds.get(5).shape == (1, 1, 32, 32)
    for bad in ([N_DSPRITES], [-1], [0.5], [[0, 1]], [True]):
        with pytest.raises(ValueError, match="indices"):
            ds.get(bad)
    with pytest.raises(ValueError, match="indices"):
        ds.factors([N_DSPRITES])


# ---------------------------------------------------------------------------------------------
# circle
# ---------------------------------------------------------------------------------------------


def test_circle_grid():
    ds = make_dataset({"name": "circle", "n_points": 120, "angle_bins": 12})
    assert ds.n == 120 and ds.input_shape == (2,) and ds.likelihood == "gaussian"
    assert ds.factor_names == ("angle",) and ds.factor_sizes == (12,)
    x = ds.get(np.arange(120))
    assert x.dtype == np.float32 and x.shape == (120, 2)
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(x[0], [1.0, 0.0], atol=1e-7)
    f = ds.factors(np.arange(120))
    assert f.shape == (120, 1) and f.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(f[:, 0]), np.full(12, 10))
    np.testing.assert_array_equal(f[:, 0], np.arange(120) // 10)  # bins follow the angle


def test_circle_defaults_and_seed():
    ds = make_dataset({"name": "circle"})
    assert ds.n == 1000 and ds.factor_sizes == (12,)
    a = make_dataset({"name": "circle", "n_points": 50, "seed": 3})
    b = make_dataset({"name": "circle", "n_points": 50, "seed": 3})
    c = make_dataset({"name": "circle", "n_points": 50, "seed": 4})
    np.testing.assert_array_equal(a.get(np.arange(50)), b.get(np.arange(50)))
    assert not np.array_equal(a.get(np.arange(50)), c.get(np.arange(50)))
    t = np.arctan2(a.get(np.arange(50))[:, 1], a.get(np.arange(50))[:, 0]) % (2 * np.pi)
    np.testing.assert_array_equal(a.factors(np.arange(50))[:, 0], np.minimum((t / (2 * np.pi) * 12).astype(int), 11))
    # seed: null means the even grid
    g = make_dataset({"name": "circle", "n_points": 50, "seed": None})
    np.testing.assert_allclose(g.get([1])[0], [np.cos(2 * np.pi / 50), np.sin(2 * np.pi / 50)], rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# config errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg, key",
    [
        ({"name": "mnist"}, "dataset.name"),
        ({}, "dataset.name"),
        ({"name": "dsprites", "image_size": 48}, "dataset.image_size"),
        ({"name": "dsprites", "image_size": "64"}, "dataset.image_size"),
        ({"name": "dsprites", "image_size": True}, "dataset.image_size"),
        ({"name": "dsprites", "n_points": 10}, "dataset.n_points"),
        ({"name": "dsprites", "imagesize": 64}, "dataset.imagesize"),
        ({"name": "circle", "n_points": 1}, "dataset.n_points"),
        ({"name": "circle", "n_points": 10.0}, "dataset.n_points"),
        ({"name": "circle", "angle_bins": 1}, "dataset.angle_bins"),
        ({"name": "circle", "seed": -1}, "dataset.seed"),
        ({"name": "circle", "seed": "a"}, "dataset.seed"),
        ({"name": "circle", "path": "x.npy"}, "dataset.path"),
        ({"name": "images"}, "dataset.path"),
        ({"name": "idx"}, "dataset.path"),
        ({"name": "dsprites_npz", "path": None}, "dataset.path"),
        ({"name": "images", "path": 3}, "dataset.path"),
        ({"name": "images", "path": "x.npy", "image_size": 0}, "dataset.image_size"),
        ({"name": "images", "path": "x.npy", "labels_path": "y"}, "dataset.labels_path"),
    ],
)
def test_make_dataset_config_errors(cfg, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        make_dataset(cfg)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError) as e:
        make_dataset({"name": "cifar"})
    for name in DATASET_NAMES:
        assert name in str(e.value)
    with pytest.raises(ValueError, match="dataset"):
        make_dataset(["dsprites"])


def test_missing_user_file(tmp_path):
    missing = tmp_path / "nope.npz"
    for name in ("images", "dsprites_npz", "idx"):
        with pytest.raises(DataFileError, match="nope.npz"):
            make_dataset({"name": name, "path": str(missing)})
    good = tmp_path / "imgs.idx3"
    _write_idx(good, np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DataFileError, match="labels.idx1"):
        make_dataset({"name": "idx", "path": str(good), "labels_path": str(tmp_path / "labels.idx1")})
    with pytest.raises(DataFileError, match="directory"):
        make_dataset({"name": "images", "path": str(tmp_path)})
    assert issubclass(DataFileError, ValueError)


# ---------------------------------------------------------------------------------------------
# fingerprint sample
# ---------------------------------------------------------------------------------------------


def test_draw_sample_reproducible():
    ds = make_dataset({"name": "dsprites", "image_size": 32})
    a = draw_sample(ds, 200, seed=7)
    b = draw_sample(ds, 200, seed=7)
    c = draw_sample(ds, 200, seed=8)
    assert set(a) == {"indices", "x", "factors", "factor_names"}
    assert a["indices"].dtype == np.int64 and a["indices"].shape == (200,)
    assert (np.diff(a["indices"]) > 0).all()  # sorted, distinct
    np.testing.assert_array_equal(a["indices"], b["indices"])
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.array_equal(a["indices"], c["indices"])
    assert a["x"].dtype == np.float32 and a["x"].shape == (200, 1, 32, 32)
    np.testing.assert_array_equal(a["x"], ds.get(a["indices"]))
    np.testing.assert_array_equal(a["factors"], ds.factors(a["indices"]))
    assert a["factors"].dtype == np.int64 and a["factors"].shape == (200, 5)
    assert a["factor_names"] == DSPRITES_FACTOR_NAMES


def test_draw_sample_whole_dataset_and_errors():
    ds = make_dataset({"name": "circle", "n_points": 30})
    s = draw_sample(ds, 30, seed=0)
    np.testing.assert_array_equal(s["indices"], np.arange(30))
    for bad in (31, 1, 0, 2.5, True):
        with pytest.raises(ValueError, match=r"sample\.n_points"):
            draw_sample(ds, bad, seed=0)


# ---------------------------------------------------------------------------------------------
# user files: writers of the real formats
# ---------------------------------------------------------------------------------------------

_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
              np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def _idx_bytes(a):
    a = np.asarray(a)
    header = bytes([0, 0, _IDX_CODES[a.dtype], a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def _write_idx(path, a, compress=False):
    data = _idx_bytes(a)
    if compress:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return str(path)


def _dsprites_npz(path, n=12, **override):
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(N_DSPRITES, n, replace=False))
    cls = dsprites_classes(idx)
    arrays = {
        "imgs": render_dsprites(cls, 64)[:, 0].astype(np.uint8),
        "latents_classes": np.concatenate([np.zeros((n, 1), np.int64), cls], axis=1),
        "latents_values": rng.random((n, 6)),
        # the real file also holds a pickled metadata dict; it must not be needed
        "metadata": np.array({"description": "test"}, dtype=object),
    }
    arrays.update(override)
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return str(path), arrays


def test_dsprites_npz_loader(tmp_path):
    path, arrays = _dsprites_npz(tmp_path / "dsprites.npz")
    ds = make_dataset({"name": "dsprites_npz", "path": path, "image_size": 64})
    assert ds.n == 12 and ds.input_shape == (1, 64, 64) and ds.likelihood == "bernoulli"
    assert ds.factor_names == DSPRITES_FACTOR_NAMES
    x = ds.get(np.arange(12))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], arrays["imgs"].astype(np.float32))  # 0/1 stays 0/1
    np.testing.assert_array_equal(ds.factors(np.arange(12)), arrays["latents_classes"][:, 1:])
    assert len(ds.factor_sizes) == 5
    s = draw_sample(ds, 5, seed=1)
    assert s["x"].shape == (5, 1, 64, 64)


@pytest.mark.parametrize(
    "override, problem",
    [
        ({"imgs": None}, "imgs"),
        ({"latents_classes": None}, "latents_classes"),
        ({"latents_classes": np.zeros((12, 5), np.int64)}, r"\[N, 6\]"),
        ({"latents_classes": np.zeros((11, 6), np.int64)}, "11 rows"),
        ({"latents_classes": np.zeros((12, 6), np.float64)}, "integers"),
        ({"latents_classes": -np.ones((12, 6), np.int64)}, "negative"),
        ({"imgs": np.zeros((12, 64, 32), np.uint8)}, "square"),
        ({"imgs": np.zeros((12, 64), np.uint8)}, "shape"),
        ({"imgs": np.zeros((0, 64, 64), np.uint8), "latents_classes": np.zeros((0, 6), np.int64)}, "no images"),
        ({"imgs": np.full((12, 64, 64), np.nan, np.float32)}, "NaN"),
    ],
)
def test_dsprites_npz_bad(tmp_path, override, problem):
    path, _ = _dsprites_npz(tmp_path / "bad.npz", **override)
    _check_file_error(lambda: make_dataset({"name": "dsprites_npz", "path": path}), path, problem)


def test_dsprites_npz_wrong_size_and_corrupt(tmp_path):
    path, _ = _dsprites_npz(tmp_path / "d.npz")
    with pytest.raises(DataFileError, match="image_size is 32"):
        make_dataset({"name": "dsprites_npz", "path": path, "image_size": 32})
    raw = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataFileError, match="cut.npz"):
        make_dataset({"name": "dsprites_npz", "path": str(tmp_path / "cut.npz")})
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataFileError, match="text.npz"):
        make_dataset({"name": "dsprites_npz", "path": str(tmp_path / "text.npz")})
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(DataFileError, match="empty.npz.*empty"):
        make_dataset({"name": "dsprites_npz", "path": str(tmp_path / "empty.npz")})


@pytest.mark.parametrize("compress", [False, True])
def test_idx_loader(tmp_path, compress):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (20, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 20).astype(np.uint8)
    labels[:10] = np.arange(10)
    suffix = ".gz" if compress else ""
    ip = _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", imgs, compress)
    lp = _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress)
    ds = make_dataset({"name": "idx", "path": ip, "labels_path": lp, "image_size": 28})
    assert ds.n == 20 and ds.input_shape == (1, 28, 28) and ds.likelihood == "bernoulli"
    assert ds.factor_names == ("label",) and ds.factor_sizes == (10,)
    np.testing.assert_allclose(ds.get(np.arange(20))[:, 0], imgs / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.factors(np.arange(20))[:, 0], labels)
    no_labels = make_dataset({"name": "idx", "path": ip})
    assert no_labels.factor_names == () and no_labels.factors([0, 1]).shape == (2, 0)
    np.testing.assert_array_equal(read_idx(ip), imgs)


def test_read_idx_dtypes(tmp_path):
    for dt in (np.int16, np.int32, np.float32, np.float64):
        a = np.arange(24, dtype=dt).reshape(2, 3, 4)
        np.testing.assert_array_equal(read_idx(_write_idx(tmp_path / f"a{np.dtype(dt).name}", a)), a)


def _idx_bad_cases(tmp_path):
    imgs = np.zeros((6, 8, 8), np.uint8)
    good = _idx_bytes(imgs)
    return {
        "magic.idx": (bytes([1, 0]) + good[2:], None, "magic"),
        "dtype.idx": (good[:2] + bytes([0x07]) + good[3:], None, "type code"),
        "truncated.idx": (good[:-5], None, "truncated"),
        "trailing.idx": (good + b"\x00\x00", None, "unexpected bytes"),
        "short.idx": (b"\x00\x00", None, "too short"),
        "header.idx": (good[:9], None, "truncated IDX header"),
        "rank.idx": (_idx_bytes(np.zeros(6, np.uint8)), None, "idx3"),
        "nonsquare.idx": (_idx_bytes(np.zeros((6, 8, 5), np.uint8)), None, "square"),
        "floatrange.idx": (_idx_bytes(np.full((6, 8, 8), 2.0, np.float32)), None, r"\[0, 1\]"),
        "labels_len.idx": (good, _idx_bytes(np.zeros(5, np.uint8)), "5 rows"),
        "labels_rank.idx": (good, _idx_bytes(np.zeros((6, 8, 8), np.uint8)), "idx1"),
        "labels_float.idx": (good, _idx_bytes(np.zeros(6, np.float32)), "integers"),
        "gzip.idx.gz": (gzip.compress(good, mtime=0)[:-12], None, "corrupt gzip"),
    }


def test_idx_bad_files(tmp_path):
    for name, (img_bytes, lab_bytes, problem) in _idx_bad_cases(tmp_path).items():
        ip = tmp_path / name
        ip.write_bytes(img_bytes)
        cfg = {"name": "idx", "path": str(ip)}
        culprit = name
        if lab_bytes is not None:
            lp = tmp_path / ("labels-" + name)
            lp.write_bytes(lab_bytes)
            cfg["labels_path"] = str(lp)
            culprit = "labels-" + name
        _check_file_error(lambda: make_dataset(cfg), tmp_path / culprit, problem)
    ip = _write_idx(tmp_path / "ok.idx", np.zeros((6, 8, 8), np.uint8))
    with pytest.raises(DataFileError, match="image_size is 28"):
        make_dataset({"name": "idx", "path": ip, "image_size": 28})


def test_images_npy(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (10, 16, 16)).astype(np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    ds = make_dataset({"name": "images", "path": str(tmp_path / "grey.npy"), "image_size": 16})
    assert ds.n == 10 and ds.input_shape == (1, 16, 16) and ds.likelihood == "bernoulli"
    assert ds.factor_names == () and ds.factor_sizes == () and ds.factors([0, 3]).shape == (2, 0)
    np.testing.assert_allclose(ds.get([2, 0])[:, 0], grey[[2, 0]] / 255.0, rtol=1e-6)
    assert isinstance(ds._images, np.memmap)  # large .npy files are not read into memory

    flt = rng.random((7, 1, 12, 12)).astype(np.float64)
    np.save(tmp_path / "float.npy", flt)
    ds = make_dataset({"name": "images", "path": str(tmp_path / "float.npy")})
    assert ds.input_shape == (1, 12, 12)
    np.testing.assert_allclose(ds.get(np.arange(7)), flt.astype(np.float32))

    binary = rng.random((5, 8, 8)) > 0.5
    np.save(tmp_path / "bool.npy", binary)
    np.testing.assert_array_equal(
        make_dataset({"name": "images", "path": str(tmp_path / "bool.npy")}).get(np.arange(5))[:, 0], binary
    )


def test_images_npz_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (9, 8, 8)).astype(np.uint8)
    labels = np.array([3, 7, 7, 3, 9, 9, 3, 7, 9])
    np.savez(tmp_path / "a.npz", images=x, labels=labels)
    ds = make_dataset({"name": "images", "path": str(tmp_path / "a.npz")})
    assert ds.factor_names == ("label",) and ds.factor_sizes == (3,)
    np.testing.assert_array_equal(ds.factors(np.arange(9))[:, 0], [0, 1, 1, 0, 2, 2, 0, 1, 2])
    np.testing.assert_array_equal(ds.get(np.arange(9))[:, 0], x)  # 0/1 uint8 is a binary mask

    f = np.stack([np.arange(9) % 2, np.arange(9) % 3], axis=1)
    np.savez(tmp_path / "b.npz", x=x, factors=f, factor_names=np.array(["parity", "mod3"]))
    ds = make_dataset({"name": "images", "path": str(tmp_path / "b.npz")})
    assert ds.factor_names == ("parity", "mod3") and ds.factor_sizes == (2, 3)
    np.testing.assert_array_equal(ds.factors(np.arange(9)), f)

    np.savez(tmp_path / "c.npz", imgs=x, factors=f)
    assert make_dataset({"name": "images", "path": str(tmp_path / "c.npz")}).factor_names == ("factor0", "factor1")


def test_images_bad_files(tmp_path):
    ok = np.zeros((4, 8, 8), np.uint8)
    cases = {
        "nan.npy": (np.where(np.eye(8, dtype=bool), np.nan, 0.5)[None].repeat(4, 0), "NaN"),
        "inf.npy": (np.full((4, 8, 8), np.inf), "NaN or infinite"),
        "over.npy": (np.full((4, 8, 8), 1.5, np.float32), r"\[0, 1\]"),
        "negative.npy": (np.full((4, 8, 8), -0.1), r"\[0, 1\]"),
        "int300.npy": (np.full((4, 8, 8), 300, np.int32), "dataset.pixel_max"),
        "rank2.npy": (np.zeros((8, 8), np.uint8), "shape"),
        "rgb.npy": (np.zeros((4, 3, 8, 8), np.uint8), "single-channel"),
        "nonsquare.npy": (np.zeros((4, 8, 6), np.uint8), "square"),
        "empty.npy": (np.zeros((0, 8, 8), np.uint8), "no images"),
        "complex.npy": (np.zeros((4, 8, 8), np.complex64), "dtype"),
        "object.npy": (np.array([None] * 4, dtype=object), "not a readable .npy"),
    }
    for name, (arr, problem) in cases.items():
        np.save(tmp_path / name, arr, allow_pickle=True)
        _check_file_error(lambda: make_dataset({"name": "images", "path": str(tmp_path / name)}),
                          tmp_path / name, problem)
    npz_cases = {
        "nokey.npz": ({"pixels": ok}, "no image array"),
        "twokeys.npz": ({"images": ok, "x": ok}, "ambiguous"),
        "labels_len.npz": ({"images": ok, "labels": np.zeros(3, int)}, "3 rows"),
        "labels_rank.npz": ({"images": ok, "labels": np.zeros((4, 1, 1), int)}, "labels must have shape"),
        "labels_frac.npz": ({"images": ok, "labels": np.array([0.5, 1, 2, 3])}, "integer class labels"),
        "labels_str.npz": ({"images": ok, "labels": np.array(list("abcd"))}, "integers"),
        "two_labels.npz": ({"images": ok, "labels": np.zeros(4, int), "factors": np.zeros(4, int)}, "ambiguous"),
        "names_len.npz": ({"images": ok, "factors": np.zeros((4, 2), int), "factor_names": np.array(["a"])},
                          "1 names"),
        "names_dup.npz": ({"images": ok, "factors": np.zeros((4, 2), int), "factor_names": np.array(["a", "a"])},
                          "distinct"),
        "names_only.npz": ({"images": ok, "factor_names": np.array(["a"])}, "without labels"),
    }
    for name, (arrays, problem) in npz_cases.items():
        np.savez(tmp_path / name, **arrays)
        _check_file_error(lambda: make_dataset({"name": "images", "path": str(tmp_path / name)}),
                          tmp_path / name, problem)
    np.save(tmp_path / "ok.npy", ok)
    with pytest.raises(DataFileError, match="image_size is 16"):
        make_dataset({"name": "images", "path": str(tmp_path / "ok.npy"), "image_size": 16})
    (tmp_path / "notes.txt").write_text("not an array")
    with pytest.raises(DataFileError, match="notes.txt.*neither"):
        make_dataset({"name": "images", "path": str(tmp_path / "notes.txt")})
    raw = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[: len(raw) - 40])
    with pytest.raises(DataFileError, match="cut.npy"):
        make_dataset({"name": "images", "path": str(tmp_path / "cut.npy")})


# ---------------------------------------------------------------------------------------------
# scikit-learn's handwritten digits
# ---------------------------------------------------------------------------------------------


def test_digits_attributes_values_and_labels():
    from sklearn.datasets import load_digits

    assert "digits" in DATASET_NAMES
    ds = make_dataset({"name": "digits"})
    assert isinstance(ds, Dataset) and ds.name == "digits" and ds.n == len(ds) == 1797
    assert ds.input_shape == (1, 32, 32) and ds.likelihood == "bernoulli"
    assert ds.factor_names == ("digit",) and ds.factor_sizes == (10,)
    ref = load_digits()
    idx = np.arange(ds.n)
    x = ds.get(idx)
    assert x.dtype == np.float32 and x.shape == (1797, 1, 32, 32)
    assert x.min() == 0.0 and x.max() == 1.0
    f = ds.factors(idx)
    assert f.dtype == np.int64 and f.shape == (1797, 1)
    np.testing.assert_array_equal(f[:, 0], ref.target)
    assert np.bincount(f[:, 0]).min() >= 170  # about 180 of each digit
    # at the native size the images are scikit-learn's, divided by 16
    native = make_dataset({"name": "digits", "image_size": 8}).get(idx)[:, 0]
    np.testing.assert_array_equal(native, (ref.images / 16.0).astype(np.float32))
    # indices behave as everywhere else
    np.testing.assert_array_equal(ds.get([5, 2])[1], ds.get([2])[0])
    with pytest.raises(ValueError, match="out of range"):
        ds.get([1797])


@pytest.mark.parametrize("size", [16, 32, 64])
def test_digits_upsampling_is_torchs_bilinear(size):
    """Bilinear between pixel centres: what torch's interpolate gives with align_corners=False."""
    import torch

    ds = make_dataset({"name": "digits", "image_size": size})
    native = make_dataset({"name": "digits", "image_size": 8})
    idx = np.arange(0, 1797, 97)
    want = torch.nn.functional.interpolate(torch.from_numpy(native.get(idx).astype(np.float64)), size=(size, size),
                                           mode="bilinear", align_corners=False).numpy()
    np.testing.assert_allclose(ds.get(idx), want, atol=1e-6)


def test_digits_resize_matrix():
    from infofrag.data.digits import digits_resize_matrix

    a = digits_resize_matrix(32)
    assert a.shape == (32, 8) and (a >= 0).all()
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    np.testing.assert_allclose(digits_resize_matrix(8), np.eye(8))
    # a constant image stays constant; a vertical edge stays a monotone ramp
    np.testing.assert_allclose(a @ np.full((8, 8), 0.25) @ a.T, 0.25)
    edge = a @ np.repeat([[0.0] * 4 + [1.0] * 4], 8, axis=0) @ a.T
    assert (np.diff(edge, axis=1) >= -1e-12).all() and edge[:, 0].max() == 0.0 and edge[:, -1].min() == 1.0
    with pytest.raises(ValueError, match="dataset.image_size"):
        digits_resize_matrix(4)


def test_digits_config():
    from infofrag.config import ConfigError, dataset_size, validate

    assert dataset_size({"name": "digits"}) == 1797
    for cfg, key in (({"name": "digits", "image_size": 4}, "dataset.image_size"),
                     ({"name": "digits", "path": "x.npy"}, "dataset.path"),
                     ({"name": "digits", "seed": 1}, "dataset.seed")):
        with pytest.raises(ValueError, match=key.replace(".", r"\.")):
            make_dataset(cfg)
    base = {"dataset": {"name": "digits"}, "sample": {"n_points": 500}, "model": {"arch": "conv32"},
            "training": {"steps": 10}, "ensemble": {"betas": [1], "seeds": [0]}, "similarity": {"block_size": 1}}
    assert validate(base)["dataset"] == {"name": "digits"}
    with pytest.raises(ConfigError, match="sample.n_points.*1797"):
        validate({**base, "sample": {"n_points": 1798}})
    with pytest.raises(ConfigError, match="model.arch.*conv64.*32"):
        validate({**base, "model": {"arch": "conv64"}})
    validate({**base, "dataset": {"name": "digits", "image_size": 64}, "model": {"arch": "conv64"}})
    d = draw_sample(make_dataset({"name": "digits"}), 100, 0)
    assert d["x"].shape == (100, 1, 32, 32) and d["factor_names"] == ("digit",)
