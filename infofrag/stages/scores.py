"""Stage ``scores``: MIG, SAP and DCI of one member (the coarse, model-level view)."""

from __future__ import annotations

from .. import metrics, store
from ..atomic import write_json


def run(posteriors_path, sample_path, out_json) -> dict:
    post = store.posteriors.read(posteriors_path, check=False)  # verified by the job
    sample = store.sample.read(sample_path, check=False)
    out = {"member": post.member}
    if sample.factor_names:
        out.update(status="ok", **metrics.all_metrics(post.mu, sample.factors, sample.factor_names))
    else:
        out.update(status="no_factors", message="the dataset has no ground-truth factors")
    write_json(out_json, out)
    return {"status": out["status"]}
