"""Stage ``encode``: one member's posteriors (mu, logvar) on the fingerprint sample."""

from __future__ import annotations

import numpy as np

from .. import store, train
from ..errors import StoreError


def run(model_path, sample_path, member: str, out_store, threads: int = 1) -> dict:
    import torch

    torch.set_num_threads(threads)
    model, _ = train.load_model(model_path)
    sample = store.sample.read(sample_path, check=False)  # verified by the job
    mu, logvar = train.encode(model, sample.x)
    if not (np.isfinite(mu).all() and np.isfinite(logvar).all()):
        raise StoreError(f"'{model_path}': the encoder of member {member} gives NaN/inf posteriors "
                         "on the fingerprint sample")
    store.posteriors.write(out_store, mu, logvar, member)
    return {"n_channels": int(mu.shape[1])}
