"""The VAE families' extra terms, each from its paper's definition, evaluated on one batch.

Every VAE family here shares beta-VAE's networks and its two basic terms (reconstruction and
the per-channel KL of :class:`.vae.BetaVAE`); they differ in what they add. A minibatch stands in
for the data distribution p(x) throughout: expectations over p(x) are batch means and
covariances over p(x) are the batch's (population, 1/n) covariances.

* **beta-TCVAE** (Chen et al. 2018, "Isolating sources of disentanglement in VAEs"):
  :func:`total_correlation_mws`, the minibatch-weighted-sampling estimate of
  TC(z) = KL(q(z) || prod_j q(z_j)), weighted by ``beta - 1`` on top of the plain ELBO.
* **FactorVAE** (Kim & Mnih 2018, "Disentangling by factorising"): the TC is estimated by a
  discriminator (:mod:`.factor_vae`) that tells samples of q(z) from samples of prod_j q(z_j),
  the latter made by :func:`permute_dims`; :func:`density_ratio_tc` is its estimate.
* **DIP-VAE-I / -II** (Kumar et al. 2018, "Variational inference of disentangled latent concepts
  from unlabeled observations"): :func:`dip_covariance` and :func:`dip_terms`, the moments of the
  aggregate posterior pushed towards the identity.
* **AnnealedVAE** (Burgess et al. 2018, "Understanding disentangling in beta-VAE"):
  :func:`annealed_capacity`, the KL target C(t).

All terms are in nats.
"""

from __future__ import annotations

import math

import torch

__all__ = ["total_correlation_mws", "permute_dims", "density_ratio_tc", "dip_covariance",
           "dip_terms", "annealed_capacity"]


def total_correlation_mws(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                          dataset_size: int) -> torch.Tensor:
    """Minibatch-weighted estimate of TC(z) = KL(q(z) || prod_j q(z_j)) in nats (Chen et al. 2018).

    q(z) is the aggregate posterior over a dataset of ``dataset_size`` points, estimated from the
    batch of n: log q(z_i) ~ logsumexp_k log q(z_i | x_k) - log(n * dataset_size), and the same per
    channel for the marginals. ``z`` ``[n, d]`` are draws from the posteriors ``(mu, logvar)``
    of the same batch. The estimate is biased for small batches (by a near-constant), but its
    gradient is what the penalty needs: it pushes the aggregate posterior towards independent
    channels.
    """
    n, d = z.shape
    # log q(z_i[j] | x_k) for every pair (i, k) and channel j: [n, n, d]
    log_q = -0.5 * (math.log(2 * math.pi) + logvar[None]
                    + (z[:, None] - mu[None]).pow(2) * torch.exp(-logvar[None]))
    log_norm = math.log(n * dataset_size)
    log_qz = torch.logsumexp(log_q.sum(dim=2), dim=1) - log_norm
    log_prod_qzj = (torch.logsumexp(log_q, dim=1) - log_norm).sum(dim=1)
    return (log_qz - log_prod_qzj).mean()


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Kim & Mnih's PermuteDims: each column of ``z`` ``[n, d]`` shuffled by its own random
    permutation of the batch. The rows are then samples of prod_j q(z_j) (each channel keeps its
    marginal, the dependence between channels is gone). One uniform draw ``[n, d]`` from
    ``generator`` decides all d permutations."""
    keys = torch.rand(z.shape, generator=generator, device=z.device)
    return torch.gather(z, 0, keys.argsort(dim=0))


def density_ratio_tc(logits: torch.Tensor) -> torch.Tensor:
    """FactorVAE's TC estimate E_q(z)[log D(z) / (1 - D(z))] from the discriminator's logits
    ``[n]`` on samples of q(z) (``D = sigmoid(logit)`` is its probability that z came from q(z)
    rather than from prod_j q(z_j), so the log-odds is the logit itself)."""
    return logits.mean()


def dip_covariance(mu: torch.Tensor, logvar: torch.Tensor, variant: str) -> torch.Tensor:
    """The covariance that DIP-VAE matches to the identity, over the batch: ``[d, d]``.

    ``"i"``: Cov_p(x)[mu(x)], the covariance of the posterior means.
    ``"ii"``: Cov_q(z)[z] = E_p(x)[Sigma(x)] + Cov_p(x)[mu(x)], the aggregate posterior's
    covariance, with Sigma(x) = diag(exp(logvar(x))).
    """
    n = mu.shape[0]
    centred = mu - mu.mean(dim=0, keepdim=True)
    cov = centred.T @ centred / n
    if variant == "ii":
        cov = cov + torch.diag(logvar.exp().mean(dim=0))
    elif variant != "i":
        raise ValueError(f"variant must be 'i' or 'ii', got {variant!r}")
    return cov


def dip_terms(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum_{i != j} cov_ij^2, sum_i (cov_ii - 1)^2): DIP-VAE's off-diagonal and diagonal
    penalties, unweighted (the loss adds ``lambda_od`` times the first, ``lambda_d`` the second)."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return off.pow(2).sum(), (diag - 1.0).pow(2).sum()


def annealed_capacity(step: int, c_max: float, anneal_steps: int) -> float:
    """AnnealedVAE's target KL C(t) in nats at (0-based) step ``step``: rises linearly from 0 at
    step 0 to ``c_max`` at step ``anneal_steps``, constant afterwards. A function of the step
    alone, so that a resumed run sees the same targets as an uninterrupted one."""
    return float(c_max) * min(1.0, int(step) / int(anneal_steps))
