"""Stage ``sample``: draw the fingerprint sample once, shared by every member."""

from __future__ import annotations

from .. import data
from ..store import sample as sample_store


def run(dataset: dict, sample: dict, out_store) -> dict:
    ds = data.make_dataset(dict(dataset))
    drawn = data.draw_sample(ds, sample["n_points"], sample["seed"])
    sample_store.write(out_store, drawn, ds)
    return {"n_points": len(drawn["x"]), "dataset_size": int(ds.n)}
