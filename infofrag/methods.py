"""The model families an ensemble can hold: their hyperparameters, defaults and valid ranges.

One table (:data:`METHODS`), read by the config (which keys a method takes, how members are
named, what the schema allows) and by training (:mod:`infofrag.train.learners`, which builds
each family's networks and objective). It imports nothing heavy, so that reading a config does
not load torch.

Each method sweeps one hyperparameter (``swept``: the grid disentanglement_lib explored for it)
across ``ensemble.methods.<method>.<swept>``; its other settings take one value per method.
Members are named ``<prefix><value>_s<seed>`` (beta-VAE: ``b4_s0``, as always).
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["Setting", "Method", "METHODS", "DEFAULT_METHOD", "COMMON_KEYS", "setting_keys",
           "member_method", "member_settings", "value_label"]

DEFAULT_METHOD = "beta_vae"
#: the keys every member has, whatever its method
COMMON_KEYS = ("name", "seed", "arch", "latent_dim", "steps", "batch_size", "lr", "checkpoint_every",
               "log_every")


class Setting(NamedTuple):
    """One hyperparameter a method reads from the member dict.

    ``default``: None when the member must give it; a callable of the settings resolved so far
    when it derives from them (DIP-VAE's ``lambda_d``). ``kind``: "float" or "int". The valid
    range is [low, high] with ends excluded by ``low_open`` / ``high_open`` (``high`` None: no
    upper bound)."""

    default: object
    kind: str
    low: float
    low_open: bool = False
    high: float | None = None
    high_open: bool = False
    meaning: str = ""

    def range_text(self) -> str:
        lo = f"{'(' if self.low_open else '['}{self.low:g}"
        hi = "inf)" if self.high is None else f"{self.high:g}{')' if self.high_open else ']'}"
        return f"{lo}, {hi}"

    def check(self, name: str, key: str, value) -> None:
        """Raise ValueError naming the member and the key when ``value`` is not valid."""
        if self.kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            what = "an int"
        else:
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and math.isfinite(value))
            what = "a finite number"
        if ok:
            ok = (value > self.low if self.low_open else value >= self.low)
            if self.high is not None:
                ok = ok and (value < self.high if self.high_open else value <= self.high)
        if not ok:
            if self.high is None:
                bound = f"{'>' if self.low_open else '>='} {self.low:g}"
            else:
                bound = f"in {self.range_text()}"
            raise ValueError(f"member {name!r}: {key} must be {what} {bound}, got {value!r}")


def _float(default, low=0.0, low_open=False, high=None, high_open=False, meaning=""):
    return Setting(default, "float", low, low_open, high, high_open, meaning)


def _int(default, low=1, meaning=""):
    return Setting(default, "int", low, meaning=meaning)


class Method(NamedTuple):
    name: str
    swept: str  # the hyperparameter an ensemble sweeps
    prefix: str  # of member and block names
    settings: dict  # hyperparameter -> Setting, in the method's order
    description: str


def _dip_settings(factor: float) -> dict:
    return {"lambda_od": _float(None, meaning="weight of the off-diagonal penalty"),
            "lambda_d": _float(lambda s: factor * s["lambda_od"],
                               meaning=f"weight of the diagonal penalty (default {factor:g} x lambda_od)")}


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("beta_vae", "beta", "b", {
        "beta": _float(None, low_open=True, meaning="weight of the KL term"),
        "tc_weight": _float(0.0, meaning="weight of an added minibatch-weighted TC penalty"),
    }, "recon + beta KL (+ tc_weight TC)"),
    Method("beta_tcvae", "beta", "tc", {
        "beta": _float(None, low_open=True, meaning="weight of the total correlation (beta - 1 added to the ELBO's)"),
    }, "recon + KL + (beta - 1) TC, minibatch-weighted sampling (Chen et al. 2018)"),
    Method("factor_vae", "gamma", "fv", {
        "gamma": _float(None, low_open=True, meaning="weight of the total correlation (0 is a plain VAE)"),
        "disc_lr": _float(1e-4, low_open=True, meaning="the discriminator's Adam learning rate"),
        "disc_beta1": _float(0.5, high=1.0, high_open=True, meaning="the discriminator's Adam beta1"),
        "disc_beta2": _float(0.9, high=1.0, high_open=True, meaning="the discriminator's Adam beta2"),
        "disc_hidden": _int(1000, meaning="units per hidden layer of the discriminator"),
        "disc_layers": _int(6, meaning="hidden layers of the discriminator"),
    }, "recon + KL + gamma TC, TC from a discriminator of permuted codes (Kim & Mnih 2018)"),
    Method("dip_vae_i", "lambda_od", "dipi", _dip_settings(10.0),
           "recon + KL + penalties on Cov[mu] (Kumar et al. 2018)"),
    Method("dip_vae_ii", "lambda_od", "dipii", _dip_settings(1.0),
           "recon + KL + penalties on Cov[z] = Cov[mu] + E[diag sigma^2] (Kumar et al. 2018)"),
    Method("annealed_vae", "c_max", "an", {
        "c_max": _float(None, low_open=True, meaning="the final target KL C in nats (0 holds the KL at 0)"),
        "gamma": _float(1000.0, low_open=True, meaning="weight of |KL - C(t)| (0 is an autoencoder)"),
        "anneal_steps": _int(100_000, meaning="steps over which C rises from 0 to c_max"),
    }, "recon + gamma |KL - C(t)|, C rising linearly to c_max (Burgess et al. 2018)"),
    Method("infogan", "lambda_info", "ig", {
        "lambda_info": _float(1.0, low_open=True, meaning="weight of the mutual-information term (0 leaves Q untrained)"),
        "noise_dim": _int(8, low=1, meaning="dimensions of the generator's noise input"),
        "disc_lr": _float(2e-4, low_open=True, meaning="Adam learning rate of the discriminator and Q"),
        "gan_beta1": _float(0.5, high=1.0, high_open=True, meaning="Adam beta1 of both optimisers"),
        "gan_beta2": _float(0.999, high=1.0, high_open=True, meaning="Adam beta2 of both optimisers"),
    }, "GAN + lambda_info x the mutual information of codes and images; Q(c|x) Gaussian (Chen et al. 2016)"),
)}


def setting_keys() -> set[str]:
    """Every hyperparameter key of every method."""
    return {k for m in METHODS.values() for k in m.settings}


def member_method(m: dict) -> str:
    """The member's method: ``m["method"]``, ``beta_vae`` when absent."""
    return m.get("method", DEFAULT_METHOD)


def member_settings(m: dict) -> dict:
    """The member's method's settings, defaults filled in, in the method's order (floats as
    float, ints as int). Assumes a validated member."""
    out: dict = {}
    for key, spec in METHODS[member_method(m)].settings.items():
        if key in m:
            v = m[key]
        elif callable(spec.default):
            v = spec.default(out)
        else:
            v = spec.default
        out[key] = int(v) if spec.kind == "int" else float(v)
    return out


def value_label(value: float) -> str:
    """Compact, stable text for a hyperparameter value in names: 4.0 -> '4', 0.5 -> '0.5'."""
    return format(float(value), "g")
