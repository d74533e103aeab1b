"""Compare results: stores variable by variable, model weights tensor by tensor."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def load_store(path: Path) -> dict[str, np.ndarray]:
    """Every variable and coordinate of a Zarr store, as numpy arrays (no digest check)."""
    from infofrag.store import open_dataset

    ds = open_dataset(path, check=False)
    return {name: np.asarray(ds[name].values) for name in ds.variables}


def assert_same_store(a: Path, b: Path):
    va, vb = load_store(a), load_store(b)
    assert sorted(va) == sorted(vb)
    for name in va:
        if va[name].dtype.kind in "fc":
            np.testing.assert_array_equal(va[name], vb[name], err_msg=f"{a}: {name}")
        else:
            assert va[name].tolist() == vb[name].tolist(), f"{a}: {name}"


def weights(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: Path, b: Path):
    import torch

    wa, wb = weights(a), weights(b)
    assert sorted(wa) == sorted(wb)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs between {a} and {b}"
