"""Models of an ensemble's members: networks by architecture, the model families built on them,
and what is done with a trained model (latent traversals).

:mod:`.networks` holds the encoder/decoder builders shared by all families. The VAE families
(``METHODS`` but ``infogan``) share one model, :class:`.vae.BetaVAE`, and differ in their
objectives (:mod:`.objectives`; FactorVAE's discriminator in :mod:`.factor_vae`); InfoGAN is
:mod:`.infogan`. Every member's model has ``encode(x) -> (mu, logvar)`` (the posterior whose
channels are fingerprinted), ``decode(z)`` (for traversals), ``latent_dim`` and ``input_shape``.
How each family is trained is :mod:`infofrag.train.learners`.
"""

from __future__ import annotations

from .factor_vae import Discriminator
from .infogan import InfoGAN, build_infogan
from .networks import ARCHS, build_decoder, build_encoder
from .traversal import traverse
from .vae import LIKELIHOODS, BetaVAE, LossTerms, build_model

__all__ = ["ARCHS", "LIKELIHOODS", "METHODS", "VAE_METHODS", "BetaVAE", "LossTerms", "InfoGAN",
           "Discriminator", "build_model", "build_infogan", "build_member_model", "build_encoder",
           "build_decoder", "traverse"]

#: the VAE families: one model (BetaVAE), different objectives
VAE_METHODS = ("beta_vae", "beta_tcvae", "factor_vae", "dip_vae_i", "dip_vae_ii", "annealed_vae")
#: every model family a member can be
METHODS = VAE_METHODS + ("infogan",)


def build_member_model(method: str, arch: str, input_shape, latent_dim: int,
                       likelihood: str | None = None, obs_std: float = 0.1, noise_dim: int = 8):
    """The model that a member of ``method`` is read as (what its final checkpoint holds):
    a :class:`BetaVAE` for the VAE families, an :class:`InfoGAN` for ``infogan``."""
    if method in VAE_METHODS:
        return build_model(arch, input_shape, latent_dim, likelihood=likelihood, obs_std=obs_std)
    if method == "infogan":
        return build_infogan(arch, input_shape, latent_dim, noise_dim=noise_dim, likelihood=likelihood)
    raise ValueError(f"method: unknown {method!r}; expected one of {list(METHODS)}")
