"""InfoGAN members (Chen et al. 2016, "InfoGAN: interpretable representation learning by
information maximizing generative adversarial nets").

A generator G maps continuous codes c ~ U(-1, 1)^k and noise n ~ N(0, I) to data; a
discriminator D tells data from G's samples; a head Q, sharing D's trunk, outputs a factored
Gaussian posterior Q(c | x) = N(mu(x), diag(exp(logvar(x)))) over the codes. The game is

    min_{G, Q} max_D  V(D, G) - lambda_info * L_I(G, Q),
    L_I = E_{c, n}[log Q(c | G(c, n))] + H(c)   (a lower bound on I(c; G(c, n)))

with the non-saturating generator loss of GAN practice. On the networks of :mod:`.networks`:
G is the architecture's decoder on k + noise_dim inputs with batch normalisation before each
hidden ReLU (DCGAN practice, as in the paper's generators; without it G collapses to blank images
on dSprites and Q learns nothing); D and Q are one encoder with leaky ReLUs (slope 0.2) and
1 + 2k outputs, the first D's logit and the rest Q's (mu, logvar): Q shares every layer with D
but the last, as in the paper. D has no batch normalisation, so that Q(c | x) of a data point
depends on that point alone (not on its batch, nor on running statistics of generated images).

For the ensemble an InfoGAN member is read like a VAE: its **channels** are the codes, and the
posterior of a data point is Q(c | x) (:meth:`InfoGAN.encode`); :meth:`InfoGAN.decode` is G
with the noise at its mean (zero), returning logits for binary images, so that latent
traversals work as for a VAE.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from .networks import ARCHS, build_decoder, build_encoder, check_input_shape

__all__ = ["InfoGAN", "build_infogan", "info_nll"]

LIKELIHOODS = ("bernoulli", "gaussian")


def info_nll(codes: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """-log Q(c | x) in nats, summed over the codes, batch mean: Q's part of -L_I (without H(c))."""
    nll = 0.5 * (math.log(2 * math.pi) + logvar + (codes - mu).pow(2) * torch.exp(-logvar))
    return nll.sum(dim=1).mean()


class InfoGAN(nn.Module):
    """Generator ``generator`` and discriminator-with-Q-head ``discriminator``.

    Attributes: ``arch``, ``input_shape``, ``latent_dim`` (= the number of continuous codes),
    ``noise_dim``, ``likelihood`` ("bernoulli": G's outputs are logits of pixel intensities,
    D sees their sigmoid; "gaussian": G's outputs are the data values). G's batch
    normalisation uses batch statistics in training mode (batches of at least 2) and its
    running statistics in eval mode (:meth:`decode` for traversals).
    """

    def __init__(self, arch: str, input_shape: tuple[int, ...], latent_dim: int, noise_dim: int,
                 generator: nn.Module, discriminator: nn.Module, likelihood: str):
        super().__init__()
        self.arch = arch
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim = int(latent_dim)
        self.noise_dim = int(noise_dim)
        self.likelihood = likelihood
        self.generator = generator
        self.discriminator = discriminator

    # -- generator ----------------------------------------------------------------------------
    def sample_latents(self, n: int, generator: torch.Generator | None = None, device=None):
        """(codes ``[n, k]`` ~ U(-1, 1), noise ``[n, noise_dim]`` ~ N(0, 1)), in that order."""
        device = device if device is not None else next(self.parameters()).device
        codes = torch.rand((n, self.latent_dim), generator=generator, device=device) * 2.0 - 1.0
        noise = torch.randn((n, self.noise_dim), generator=generator, device=device)
        return codes, noise

    def generate(self, codes: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """G's output ``[n, *input_shape]``: logits (bernoulli) or values (gaussian)."""
        return self.generator(torch.cat((codes, noise), dim=1)).reshape(codes.shape[0], *self.input_shape)

    def to_data(self, out: torch.Tensor) -> torch.Tensor:
        """G's output as a data point: the sigmoid of logits for images, else as it is."""
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """G with the noise at zero: codes ``[n, k]`` -> logits (bernoulli) or values."""
        noise = torch.zeros((codes.shape[0], self.noise_dim), device=codes.device, dtype=codes.dtype)
        return self.generate(codes, noise)

    # -- discriminator and Q ------------------------------------------------------------------
    def discriminate(self, x: torch.Tensor):
        """x ``[n, *input_shape]`` -> (D's logit that x is data ``[n]``, Q's mu ``[n, k]``,
        Q's logvar ``[n, k]``)."""
        h = self.discriminator(x)
        k = self.latent_dim
        return h[:, 0], h[:, 1:1 + k], h[:, 1 + k:]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior of the codes, Q(c | x): (mu, logvar), each ``[n, latent_dim]``."""
        _, mu, logvar = self.discriminate(x)
        return mu, logvar

    def code_entropy(self) -> float:
        """H(c) in nats of k independent U(-1, 1) codes."""
        return self.latent_dim * math.log(2.0)

    def extra_repr(self) -> str:
        return (f"arch={self.arch!r}, input_shape={self.input_shape}, latent_dim={self.latent_dim}, "
                f"noise_dim={self.noise_dim}, likelihood={self.likelihood!r}")


def gan_losses(d_real: torch.Tensor, d_fake: torch.Tensor):
    """The discriminator's loss from its logits on data and on G's samples (to be minimised)."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def generator_gan_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -E log D(G(c, n))."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))


def build_infogan(arch: str, input_shape, latent_dim: int, noise_dim: int = 8,
                  likelihood: str | None = None) -> InfoGAN:
    """An InfoGAN with ``latent_dim`` continuous codes and ``noise_dim`` noise inputs on the
    networks of ``arch``. The generator draws its initial weights first, the discriminator second.
    """
    if arch not in ARCHS:
        raise ValueError(f"model.arch: unknown architecture {arch!r}; expected one of {list(ARCHS)}")
    shape = tuple(int(s) for s in input_shape)
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"model.latent_dim: expected a positive int, got {latent_dim!r}")
    if isinstance(noise_dim, bool) or not isinstance(noise_dim, int) or noise_dim < 0:
        raise ValueError(f"noise_dim: expected an int >= 0, got {noise_dim!r}")
    if likelihood is None:
        likelihood = "gaussian" if len(shape) == 1 else "bernoulli"
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood: unknown {likelihood!r}; expected one of {list(LIKELIHOODS)}")
    check_input_shape(arch, shape)
    generator = build_decoder(arch, latent_dim + noise_dim, shape, batchnorm=True)
    discriminator = build_encoder(arch, shape, 1 + 2 * latent_dim, activation=lambda: nn.LeakyReLU(0.2))
    return InfoGAN(arch, shape, latent_dim, noise_dim, generator, discriminator, likelihood)
