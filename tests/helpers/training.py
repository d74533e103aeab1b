"""Builders for training tests: tiny stand-in datasets, member dicts of every family, and
comparisons of trained weights and logs."""

import csv

import numpy as np
import torch


class Squares:
    """A tiny stand-in dataset: a 6x6 square at one of 8 x 8 positions in a 32x32 image."""

    name = "squares"
    likelihood = "bernoulli"
    factor_names = ("x", "y")
    input_shape = (1, 32, 32)
    n = 64

    def __init__(self, nan_from_call=None, fail_at_call=None):
        self.calls = 0
        self.nan_from_call = nan_from_call
        self.fail_at_call = fail_at_call

    def factors(self, idx):
        idx = np.asarray(idx)
        return np.stack([idx // 8, idx % 8], 1).astype(np.int64)

    def get(self, idx):
        self.calls += 1
        if self.fail_at_call is not None and self.calls >= self.fail_at_call:
            raise Killed(f"simulated kill at call {self.calls}")
        out = np.zeros((len(idx), 1, 32, 32), np.float32)
        for i, (a, b) in enumerate(self.factors(idx)):
            out[i, 0, 3 * b:3 * b + 6, 3 * a:3 * a + 6] = 1
        if self.nan_from_call is not None and self.calls >= self.nan_from_call:
            out[:] = np.nan
        return out


class Points:
    name = "points"
    likelihood = "gaussian"
    factor_names = ()
    input_shape = (2,)
    n = 100

    def get(self, idx):
        a = 2 * np.pi * np.asarray(idx, dtype=np.float64) / self.n
        return np.stack([np.cos(a), np.sin(a)], 1).astype(np.float32)


class Killed(Exception):
    pass


def member(**kw):
    m = dict(name="m0", beta=1.0, seed=3, arch="conv32", latent_dim=3, steps=20, batch_size=8,
             lr=1e-3, checkpoint_every=5, log_every=4)
    m.update(kw)
    return m


#: small settings of each method (FactorVAE's discriminator kept small for speed)
HYPER = {
    "beta_vae": dict(beta=4.0),
    "beta_tcvae": dict(beta=6.0),
    "factor_vae": dict(gamma=10.0, disc_hidden=32, disc_layers=2),
    "dip_vae_i": dict(lambda_od=2.0),
    "dip_vae_ii": dict(lambda_od=2.0),
    "annealed_vae": dict(c_max=5.0, anneal_steps=10),
    "infogan": dict(lambda_info=1.0, noise_dim=4),
}


def method_member(method, **kw):
    """A member of ``method`` with HYPER's settings (``beta`` dropped where not a setting)."""
    from infofrag.train.learners import LEARNERS

    m = member(method=method, **{**HYPER[method], **kw})
    if "beta" not in LEARNERS[method].settings:
        m.pop("beta")
    return m


def assert_identical(sa, sb):
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def log_rows(path, drop_seconds=True):
    with open(path) as fh:
        rows = list(csv.reader(fh))
    return [r[:-1] for r in rows] if drop_seconds else rows
