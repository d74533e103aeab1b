"""Encoding a sample with a trained member."""

from __future__ import annotations

import numpy as np
import torch

from ..devices import resolve_device


def encode(model, x, points_per_pass: int = 256, device="auto"):
    """Posterior parameters of ``x`` ``[N, *input_shape]`` -> (mu, logvar), numpy float32 [N, d].

    Eval mode, no gradients, in batches; the model's training mode is restored afterwards.
    device "auto": the model's device if it is on a GPU, else CUDA when available, else CPU.
    """
    if isinstance(points_per_pass, bool) or not isinstance(points_per_pass, int) or points_per_pass < 1:
        raise ValueError(f"points_per_pass: must be a positive int, got {points_per_pass!r}")
    shape = tuple(model.input_shape)
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"x: shape {tuple(x.shape)} does not fit the model's input_shape {shape} "
                         f"(expected [N, {', '.join(map(str, shape))}])")
    if device is None or device == "auto":
        p = next(model.parameters())
        dev = p.device if p.device.type != "cpu" else resolve_device("auto")
    else:
        dev = torch.device(device)
    was_training = model.training
    model.to(dev).eval()
    mus, lvs = [], []
    try:
        with torch.inference_mode():
            for i in range(0, x.shape[0], points_per_pass):
                xb = torch.as_tensor(np.asarray(x[i:i + points_per_pass]) if not isinstance(x, torch.Tensor)
                                     else x[i:i + points_per_pass], dtype=torch.float32).to(dev)
                mu, lv = model.encode(xb)
                mus.append(mu.float().cpu().numpy())
                lvs.append(lv.float().cpu().numpy())
    finally:
        model.train(was_training)
    d = model.latent_dim
    if not mus:
        return np.zeros((0, d), np.float32), np.zeros((0, d), np.float32)
    return np.concatenate(mus).astype(np.float32, copy=False), np.concatenate(lvs).astype(np.float32, copy=False)
