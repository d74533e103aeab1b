"""FactorVAE's discriminator (Kim & Mnih 2018, "Disentangling by factorising").

FactorVAE is a VAE (:class:`.vae.BetaVAE`'s networks) trained on recon + KL + gamma * TC, where
the total correlation TC(z) = KL(q(z) || prod_j q(z_j)) is estimated by the density-ratio trick:
a discriminator D learns to tell samples of q(z) (latents drawn from the posteriors of a batch)
from samples of prod_j q(z_j) (the same latents with each channel permuted across the batch,
:func:`.objectives.permute_dims`), and TC ~ E_q(z)[log D(z) / (1 - D(z))]
(:func:`.objectives.density_ratio_tc`). D is trained alongside the VAE, by its own optimiser, to
maximise 1/2 E_q(z)[log D(z)] + 1/2 E_prod q(z_j)[log(1 - D(z_perm))].

The paper's D is an MLP of 6 hidden layers of 1000 units with leaky ReLUs (the defaults here).
Its output is one logit, log D / (1 - D), which is both the classifier's score and the TC
integrand.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["Discriminator", "discriminator_loss"]


class Discriminator(nn.Module):
    """z ``[n, latent_dim]`` -> logit ``[n]`` that z was drawn from q(z) (not from prod_j q(z_j))."""

    def __init__(self, latent_dim: int, hidden: int = 1000, layers: int = 6, slope: float = 0.2):
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError(f"discriminator: needs layers >= 1 and hidden >= 1, got {layers}, {hidden}")
        self.latent_dim, self.hidden, self.layers = int(latent_dim), int(hidden), int(layers)
        mods: list[nn.Module] = []
        width = self.latent_dim
        for _ in range(self.layers):
            mods += [nn.Linear(width, self.hidden), nn.LeakyReLU(slope)]
            width = self.hidden
        mods.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(-1)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}, layers={self.layers}"


def discriminator_loss(logits_q: torch.Tensor, logits_perm: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss, to be minimised: -(1/2 E log D(z) + 1/2 E log(1 - D(z_perm)))
    from its logits on samples of q(z) ``[n]`` and of prod_j q(z_j) ``[m]``."""
    return 0.5 * (F.binary_cross_entropy_with_logits(logits_q, torch.ones_like(logits_q))
                  + F.binary_cross_entropy_with_logits(logits_perm, torch.zeros_like(logits_perm)))
