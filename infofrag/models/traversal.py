"""Latent traversals: what a trained model draws as one channel sweeps its range."""

from __future__ import annotations

import numpy as np

__all__ = ["traverse"]


def traverse(model, mu, channel: int, n_steps: int = 9, span=None, likelihood: str = "bernoulli") -> np.ndarray:
    """Decode while sweeping one latent channel; the other channels sit at their sample mean.

    ``mu`` ``[N, d]`` are the posterior means of the fingerprint sample under ``model``. The swept
    channel runs over ``span`` = ``(lo, hi)``, by default its 2nd to 98th percentile on the sample.
    ``model.decode(z)`` must return logits ``[n, C, H, W]`` (``likelihood="bernoulli"``: the
    images are their sigmoid) or means (``"gaussian"``: returned as they are). Returns float32
    ``[n_steps, H, W]`` for one colour channel, ``[n_steps, H, W, C]`` otherwise (or the decoder
    output as is when it is not an image).
    """
    import torch

    mu = np.asarray(mu, dtype=np.float32)
    if mu.ndim != 2:
        raise ValueError(f"mu must be [N, d]; got shape {mu.shape}")
    if not 0 <= int(channel) < mu.shape[1]:
        raise ValueError(f"channel must be in [0, {mu.shape[1]}); got {channel}")
    if int(n_steps) < 2:
        raise ValueError(f"n_steps must be >= 2; got {n_steps}")
    if likelihood not in ("bernoulli", "gaussian"):
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian'; got {likelihood!r}")
    channel = int(channel)
    if span is None:
        lo, hi = np.percentile(mu[:, channel], [2, 98])
    else:
        lo, hi = (float(v) for v in span)
    z = np.repeat(mu.mean(0, keepdims=True), int(n_steps), axis=0)
    z[:, channel] = np.linspace(lo, hi, int(n_steps), dtype=np.float32)
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):
        device = torch.device("cpu")
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            out = model.decode(torch.from_numpy(z).to(device))
    finally:
        if was_training:
            model.train()
    if likelihood == "bernoulli":
        out = torch.sigmoid(out)
    out = out.float().cpu().numpy()
    if out.ndim == 4:
        out = out[:, 0] if out.shape[1] == 1 else np.moveaxis(out, 1, -1)
    return out.astype(np.float32)
