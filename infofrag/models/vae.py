"""beta-VAE members: a diagonal-Gaussian VAE on the networks of :mod:`.networks`, and its loss.

The same model is the network of every VAE family (beta-TCVAE, FactorVAE, DIP-VAE, AnnealedVAE);
what they add to its two basic terms is in :mod:`.objectives`.

The likelihood defaults to ``"bernoulli"`` for images and ``"gaussian"`` for 1-D inputs; the
Gaussian has a fixed observation standard deviation ``obs_std`` (default 0.1).

``model.loss(x, beta, generator)`` returns the reconstruction term (negative log-likelihood in
nats, summed over pixels/coordinates, batch mean), the KL divergence per latent channel
(``[d]``, batch mean) and ``total = recon + beta * kl.sum()``. With ``tc_weight > 0`` it adds
``tc_weight`` times a minibatch estimate of the total correlation of the aggregate posterior
(beta-TCVAE, Chen et al. 2018: ``beta = 1, tc_weight = b - 1`` is their objective with TC weight
``b``), a penalty on dependence between channels that an isotropic prior alone cannot see.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from ..defaults import default
from .networks import ARCHS, build_decoder, build_encoder, check_input_shape
from .objectives import total_correlation_mws

__all__ = ["LIKELIHOODS", "BetaVAE", "LossTerms", "build_model"]

LIKELIHOODS = ("bernoulli", "gaussian")


class LossTerms(NamedTuple):
    """Scalars are batch means; ``kl`` is the per-channel KL ``[d]``."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    tc: torch.Tensor | None = None


class BetaVAE(nn.Module):
    """A VAE with a diagonal Gaussian posterior and a standard normal prior.

    Attributes: ``arch``, ``input_shape`` (tuple), ``latent_dim``, ``likelihood``
    ("bernoulli": ``decode`` returns logits; "gaussian": ``decode`` returns the mean), ``obs_std``.
    """

    def __init__(self, arch: str, input_shape: tuple[int, ...], latent_dim: int,
                 encoder: nn.Module, decoder: nn.Module, likelihood: str, obs_std: float):
        super().__init__()
        self.arch = arch
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim = int(latent_dim)
        self.likelihood = likelihood
        self.obs_std = float(obs_std)
        self.encoder = encoder
        self.decoder = decoder

    # -- model -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x ``[n, *input_shape]`` -> (mu, logvar), each ``[n, latent_dim]``."""
        h = self.encoder(x)
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[n, latent_dim]`` -> logits (bernoulli) or mean (gaussian), ``[n, *input_shape]``."""
        return self.decoder(z).reshape(z.shape[0], *self.input_shape)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Returns (decoder output, mu, logvar, z) with z drawn from the posterior."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar, z

    # -- objective ---------------------------------------------------------------------------
    def reconstruction(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per example (nats, summed over pixels) ``[n]``."""
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        else:
            s = self.obs_std
            nll = 0.5 * ((x - out) / s) ** 2 + (math.log(s) + 0.5 * math.log(2 * math.pi))
        return nll.reshape(x.shape[0], -1).sum(dim=1)

    @staticmethod
    def kl_per_channel(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || N(0, 1)) per channel, batch mean ``[d]``."""
        return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(dim=0)

    @staticmethod
    def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                          dataset_size: int) -> torch.Tensor:
        """Minibatch-weighted estimate of TC(z) in nats (Chen et al. 2018): see
        :func:`.objectives.total_correlation_mws`."""
        return total_correlation_mws(z, mu, logvar, dataset_size)

    def loss(self, x: torch.Tensor, beta: float = 1.0,
             generator: torch.Generator | None = None, tc_weight: float = default("model.tc_weight"),
             dataset_size: int | None = None) -> LossTerms:
        """``total = recon + beta * kl.sum() + tc_weight * tc``; ``tc`` only when ``tc_weight > 0``
        (then ``dataset_size``, the number of distinct training points, is required)."""
        out, mu, logvar, z = self(x, generator)
        recon = self.reconstruction(out, x).mean()
        kl = self.kl_per_channel(mu, logvar)
        total = recon + beta * kl.sum()
        if not tc_weight:
            return LossTerms(total, recon, kl)
        if dataset_size is None or dataset_size < 1:
            raise ValueError(f"tc_weight > 0 needs dataset_size >= 1, got {dataset_size!r}")
        tc = self.total_correlation(z, mu, logvar, int(dataset_size))
        return LossTerms(total + tc_weight * tc, recon, kl, tc)

    def extra_repr(self) -> str:
        return (f"arch={self.arch!r}, input_shape={self.input_shape}, latent_dim={self.latent_dim}, "
                f"likelihood={self.likelihood!r}")


def build_model(arch: str, input_shape, latent_dim: int, likelihood: str | None = None,
                obs_std: float = 0.1) -> BetaVAE:
    """Build a beta-VAE member.

    arch: "conv64" (input (C, 64, 64)), "conv32" (input (C, 32, 32)) or "mlp" (any shape).
    input_shape: the shape of one data point, e.g. (1, 64, 64) or (2,).
    likelihood: "bernoulli" or "gaussian"; default bernoulli for images, gaussian for 1-D inputs.
    Raises ValueError naming ``model.arch`` / the shape when they do not fit.
    """
    if arch not in ARCHS:
        raise ValueError(f"model.arch: unknown architecture {arch!r}; expected one of {list(ARCHS)}")
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape: expected a tuple of ints, got {input_shape!r}") from None
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"input_shape: invalid shape {shape}")
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"model.latent_dim: expected a positive int, got {latent_dim!r}")
    if likelihood is None:
        likelihood = "gaussian" if len(shape) == 1 else "bernoulli"
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood: unknown {likelihood!r}; expected one of {list(LIKELIHOODS)}")
    if not obs_std > 0:
        raise ValueError(f"obs_std: must be > 0, got {obs_std!r}")
    check_input_shape(arch, shape)
    # Encoder first, decoder second: the order in which they draw their initial weights.
    encoder = build_encoder(arch, shape, 2 * latent_dim)
    decoder = build_decoder(arch, latent_dim, shape)
    return BetaVAE(arch, shape, latent_dim, encoder, decoder, likelihood, obs_std)
