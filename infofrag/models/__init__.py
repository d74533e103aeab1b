"""Models of an ensemble's members: networks by architecture, the model families built on them,
and what is done with a trained model (latent traversals).

:mod:`.networks` holds the encoder/decoder builders shared by all families; each family lives
in a module of its own (:mod:`.vae`: the beta-VAE and beta-TCVAE) and is re-exported here.
"""

from __future__ import annotations

from .networks import ARCHS, build_decoder, build_encoder
from .traversal import traverse
from .vae import LIKELIHOODS, BetaVAE, LossTerms, build_model

__all__ = ["ARCHS", "LIKELIHOODS", "BetaVAE", "LossTerms", "build_model", "build_encoder",
           "build_decoder", "traverse"]
