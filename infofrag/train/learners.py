"""One learner per model family: its networks, optimisers, training step, log columns and
resume state, in a registry keyed by the member's ``method`` (``LEARNERS``).

A learner is built from a validated member dict (:func:`member_settings` resolves the method's
settings, defaults filled in). Every network draws its initial weights inside one torch RNG
seeded from the member's seed (:func:`.batches.init_seed`), in a fixed order; every random draw
of a step (reparameterisation noise, FactorVAE's permutations, InfoGAN's codes and noise) comes
from the step's generator. So the trajectory is a pure function of the member's settings, and a
resumed run (models and *all* optimisers restored from :meth:`Learner.state`) is bit-identical
to an uninterrupted one.

``step(t, x, gen, out)`` does one optimisation step on batch ``x`` at (0-based) step ``t`` and
writes the step's ``n_values`` log values into the device buffer ``out`` (no host sync);
:meth:`Learner.row` turns a mean of such values into the CSV values of ``columns``.

Methods (their papers' objectives; all terms in nats, batch means; see
:mod:`infofrag.models.objectives`):

``beta_vae``       recon + beta KL (+ tc_weight TC, the minibatch-weighted estimate)
``beta_tcvae``     recon + KL + (beta - 1) TC (Chen et al. 2018)
``factor_vae``     recon + KL + gamma TC, TC by a discriminator trained alongside (Kim & Mnih 2018)
``dip_vae_i``      recon + KL + lambda_od sum_{i!=j} Cov[mu]_ij^2 + lambda_d sum_i (Cov[mu]_ii - 1)^2
``dip_vae_ii``     the same on Cov[z] = Cov[mu] + E[diag sigma^2] (Kumar et al. 2018)
``annealed_vae``   recon + gamma |KL - C(t)|, C rising linearly to c_max (Burgess et al. 2018)
``infogan``        GAN + lambda_info * (-L_I), Q(c|x) a Gaussian over the codes (Chen et al. 2016)
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ..models import BetaVAE, Discriminator, build_infogan, build_model
from ..models.factor_vae import discriminator_loss
from ..models.infogan import gan_losses, generator_gan_loss, info_nll
from ..models.objectives import (annealed_capacity, density_ratio_tc, dip_covariance, dip_terms,
                                 permute_dims, total_correlation_mws)
from ..methods import (COMMON_KEYS, DEFAULT_METHOD, METHODS, Setting, member_method, member_settings,
                       setting_keys)
from .batches import init_seed

# the method table lives in infofrag.methods (no torch); re-exported here for the training code
__all__ = ["Setting", "Learner", "LEARNERS", "DEFAULT_METHOD", "COMMON_KEYS", "member_method",
           "member_settings", "setting_keys"]

class Learner:
    """The trainable state of one member and its step. Subclasses set ``method``,
    ``settings`` (hyperparameter -> :class:`Setting`), ``optimizer`` (its description in the
    trajectory identity) and implement :meth:`build`, :meth:`step`, :meth:`state`,
    :meth:`load`, and the log layout (``columns``, ``n_values``, :meth:`row`)."""

    method: ClassVar[str]
    settings: ClassVar[dict[str, Setting]] = {}
    optimizer: ClassVar[str]

    def __init__(self, ds, m: dict, dev):
        self.m, self.n, self.dev = m, int(ds.n), dev
        self.hp = member_settings(m)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed(m["seed"]))
            self.build(tuple(int(s) for s in ds.input_shape), ds.likelihood)
        self.model.to(dev).train()
        self.columns: list[str] = []
        self.n_values = 0
        self.setup(dev)

    # -- to implement --------------------------------------------------------------------------
    @classmethod
    def check_member(cls, name: str, m: dict) -> None:
        """Checks across keys beyond each setting's range (ValueError naming member and key)."""

    def build(self, input_shape: tuple[int, ...], likelihood: str) -> None:
        """Create the networks (set ``self.model``: what the final checkpoint holds)."""
        raise NotImplementedError

    def setup(self, dev) -> None:
        """Optimisers and log layout, once the networks are on ``dev``."""
        raise NotImplementedError

    def step(self, t: int, x: torch.Tensor, gen: torch.Generator, out: torch.Tensor) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        """Every network's and every optimiser's state (at least keys "model", "optimizer")."""
        raise NotImplementedError

    def load(self, state: dict) -> None:
        raise NotImplementedError

    def row(self, mean: list[float]) -> list[float]:
        """The CSV values (one per column of ``columns``) of a mean of the step's values."""
        return list(mean)

    # -- descriptions ------------------------------------------------------------------------
    def describe(self) -> str:
        """The method and its settings, for log lines and error messages."""
        return f"{self.method}, " + ", ".join(f"{k} {v:g}" for k, v in self.hp.items())

    def progress(self, row: list[float]) -> str:
        return " ".join(f"{c} {v:.3f}" for c, v in list(zip(self.columns, row))[:3])

    def summary(self, row: list[float]) -> dict:
        return {"last": dict(zip(self.columns, row))}


# --------------------------------------------------------------------------- VAE families

class _VAELearner(Learner):
    """A BetaVAE and its Adam (lr from the member, betas (0.9, 0.999)). Log values:
    loss, recon, KL per channel, then ``extra`` (method-specific); CSV columns loss, recon,
    kl_total, kl_0 .. kl_{d-1}, then the extra columns."""

    optimizer = "adam(0.9,0.999,1e-8)"
    extra: ClassVar[tuple[str, ...]] = ()

    def build(self, input_shape, likelihood):
        self.model = build_model(self.m["arch"], input_shape, self.m["latent_dim"], likelihood=likelihood,
                                 obs_std=float(self.m.get("obs_std", 0.1)))

    def setup(self, dev):
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(self.m["lr"]))
        d = self.m["latent_dim"]
        self.columns = ["loss", "recon", "kl_total", *[f"kl_{k}" for k in range(d)], *self.extra]
        self.n_values = 2 + d + len(self.extra)

    def objective(self, t, x, gen):
        """-> (total, recon, kl [d], extra values [len(extra)] or None); all with gradients."""
        raise NotImplementedError

    def step(self, t, x, gen, out):
        total, recon, kl, extra = self.objective(t, x, gen)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        parts = (total.detach().reshape(1), recon.detach().reshape(1), kl.detach())
        torch.cat(parts if extra is None else parts + (extra.detach(),), out=out)

    def state(self):
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict()}

    def load(self, state):
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])

    def row(self, mean):
        loss, recon, *rest = mean
        d = self.m["latent_dim"]
        kl, extra = rest[:d], rest[d:]
        return [loss, recon, float(sum(kl)), *kl, *extra]

    def progress(self, row):
        return f"loss {row[0]:.3f} recon {row[1]:.3f} kl {row[2]:.3f}"

    def summary(self, row):
        d = self.m["latent_dim"]
        return {"loss": row[0], "recon": row[1], "kl": row[3:3 + d], "kl_total": row[2],
                **super().summary(row)}


class BetaVAELearner(_VAELearner):
    """recon + beta KL (+ tc_weight TC): the members of before ``method`` existed, unchanged."""

    method = "beta_vae"
    settings = METHODS[method].settings

    def setup(self, dev):
        super().setup(dev)
        self.beta, self.tc_weight = float(self.hp["beta"]), float(self.hp["tc_weight"])

    def objective(self, t, x, gen):
        terms = self.model.loss(x, self.beta, gen, self.tc_weight, self.n)
        return terms.total, terms.recon, terms.kl, None

    def describe(self):
        text = f"beta {self.beta:g}"
        return text + (f", tc_weight {self.tc_weight:g}" if self.tc_weight else "")


class BetaTCVAELearner(_VAELearner):
    """recon + KL + (beta - 1) TC, the TC by minibatch-weighted sampling (Chen et al. 2018)."""

    method = "beta_tcvae"
    settings = METHODS[method].settings
    extra = ("tc",)

    def objective(self, t, x, gen):
        out, mu, logvar, z = self.model(x, gen)
        recon = self.model.reconstruction(out, x).mean()
        kl = BetaVAE.kl_per_channel(mu, logvar)
        tc = total_correlation_mws(z, mu, logvar, self.n)
        total = recon + kl.sum() + (float(self.hp["beta"]) - 1.0) * tc
        return total, recon, kl, tc.reshape(1)


class FactorVAELearner(_VAELearner):
    """recon + KL + gamma TC, TC = E[logit D(z)] of a discriminator D trained alongside
    (Kim & Mnih 2018). Each step: the VAE's update with D fixed, then D's update on the same
    batch's latents (detached) against their dimension-wise permutation. D's own Adam."""

    method = "factor_vae"
    settings = METHODS[method].settings
    extra = ("tc", "disc_loss", "disc_acc")

    def build(self, input_shape, likelihood):
        super().build(input_shape, likelihood)  # the VAE first: same init as a beta-VAE member
        self.disc = Discriminator(self.m["latent_dim"], self.hp["disc_hidden"], self.hp["disc_layers"])

    def setup(self, dev):
        super().setup(dev)
        self.disc.to(dev).train()
        self.disc_params = list(self.disc.parameters())
        self.disc_opt = torch.optim.Adam(self.disc_params, lr=self.hp["disc_lr"],
                                         betas=(self.hp["disc_beta1"], self.hp["disc_beta2"]))
        self.gamma = float(self.hp["gamma"])

    def step(self, t, x, gen, out):
        # the VAE's update, D fixed (no gradients into D's weights)
        for p in self.disc_params:
            p.requires_grad_(False)
        recon_out, mu, logvar, z = self.model(x, gen)
        recon = self.model.reconstruction(recon_out, x).mean()
        kl = BetaVAE.kl_per_channel(mu, logvar)
        tc = density_ratio_tc(self.disc(z))
        total = recon + kl.sum() + self.gamma * tc
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        for p in self.disc_params:
            p.requires_grad_(True)
        # D's update: the batch's latents (as drawn before the VAE's update) vs their permutation
        z = z.detach()
        logits = self.disc(torch.cat((z, permute_dims(z, gen))))
        n = z.shape[0]
        d_loss = discriminator_loss(logits[:n], logits[n:])
        self.disc_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.disc_opt.step()
        with torch.no_grad():
            acc = 0.5 * ((logits[:n] > 0).float().mean() + (logits[n:] < 0).float().mean())
            torch.cat((total.reshape(1), recon.reshape(1), kl, tc.reshape(1), d_loss.reshape(1),
                       acc.reshape(1)), out=out)

    def state(self):
        return {**super().state(), "discriminator": self.disc.state_dict(),
                "disc_optimizer": self.disc_opt.state_dict()}

    def load(self, state):
        super().load(state)
        self.disc.load_state_dict(state["discriminator"])
        self.disc_opt.load_state_dict(state["disc_optimizer"])


class _DIPLearner(_VAELearner):
    """recon + KL + lambda_od * off-diagonal + lambda_d * diagonal penalty (Kumar et al. 2018)."""

    variant: ClassVar[str]
    extra = ("dip_offdiag", "dip_diag")

    def setup(self, dev):
        super().setup(dev)
        self.lambda_od, self.lambda_d = float(self.hp["lambda_od"]), float(self.hp["lambda_d"])

    def objective(self, t, x, gen):
        out, mu, logvar, z = self.model(x, gen)
        recon = self.model.reconstruction(out, x).mean()
        kl = BetaVAE.kl_per_channel(mu, logvar)
        off, diag = dip_terms(dip_covariance(mu, logvar, self.variant))
        total = recon + kl.sum() + self.lambda_od * off + self.lambda_d * diag
        return total, recon, kl, torch.stack((off, diag))


class DIPVAEILearner(_DIPLearner):
    """DIP-VAE-I: the penalties on Cov[mu]; lambda_d defaults to 10 lambda_od."""

    method, variant = "dip_vae_i", "i"
    settings = METHODS[method].settings


class DIPVAEIILearner(_DIPLearner):
    """DIP-VAE-II: the penalties on Cov[z] = Cov[mu] + E[diag sigma^2]; lambda_d defaults to
    lambda_od."""

    method, variant = "dip_vae_ii", "ii"
    settings = METHODS[method].settings


class AnnealedVAELearner(_VAELearner):
    """recon + gamma |KL - C(t)| with KL the batch mean of the summed KL and C(t) rising
    linearly from 0 to c_max over anneal_steps steps (Burgess et al. 2018)."""

    method = "annealed_vae"
    settings = METHODS[method].settings
    extra = ("capacity",)

    def setup(self, dev):
        super().setup(dev)
        self.gamma = float(self.hp["gamma"])

    def step(self, t, x, gen, out):
        super().step(t, x, gen, out[:-1])
        out[-1].fill_(self._c)

    def objective(self, t, x, gen):
        self._c = annealed_capacity(t, self.hp["c_max"], self.hp["anneal_steps"])
        out, mu, logvar, z = self.model(x, gen)
        recon = self.model.reconstruction(out, x).mean()
        kl = BetaVAE.kl_per_channel(mu, logvar)
        total = recon + self.gamma * (kl.sum() - self._c).abs()
        return total, recon, kl, None


# --------------------------------------------------------------------------- InfoGAN

class InfoGANLearner(Learner):
    """Generator, discriminator and Q head (Chen et al. 2016). Each step: codes c ~ U(-1,1)^k and
    noise ~ N(0,1) drawn, G's samples made; D and Q updated on data vs. samples (D's loss plus
    lambda_info * -log Q(c | G(c, n))); then G updated with D and Q fixed (non-saturating GAN
    loss plus the same information term). Adam for both: G with the member's ``lr``, D and Q
    with ``disc_lr``; betas (gan_beta1, gan_beta2), DCGAN practice (0.5, 0.999).

    Log columns: d_loss, g_loss, info_nll (-log Q(c|x) on G's samples, D's update), mi_bound
    (H(c) - info_nll, the lower bound on I(c; G(c, n)) in nats), d_real, d_fake (D's mean
    probability of "data" on the batch and on G's samples)."""

    method = "infogan"
    optimizer = "adam(G: lr, D+Q: disc_lr; betas gan_beta1, gan_beta2; eps 1e-8)"
    settings = METHODS[method].settings

    @classmethod
    def check_member(cls, name, m):
        if m["batch_size"] < 2:
            raise ValueError(f"member {name!r}: batch_size must be >= 2 for method 'infogan' (the "
                             f"generator's batch normalisation), got {m['batch_size']!r}")

    def build(self, input_shape, likelihood):
        self.model = build_infogan(self.m["arch"], input_shape, self.m["latent_dim"],
                                   noise_dim=self.hp["noise_dim"], likelihood=likelihood)

    def setup(self, dev):
        betas = (self.hp["gan_beta1"], self.hp["gan_beta2"])
        self.d_params = list(self.model.discriminator.parameters())
        self.g_opt = torch.optim.Adam(self.model.generator.parameters(), lr=float(self.m["lr"]), betas=betas)
        self.d_opt = torch.optim.Adam(self.d_params, lr=self.hp["disc_lr"], betas=betas)
        self.lam = float(self.hp["lambda_info"])
        self.columns = ["d_loss", "g_loss", "info_nll", "mi_bound", "d_real", "d_fake"]
        self.n_values = 5

    def step(self, t, x, gen, out):
        model, n = self.model, x.shape[0]
        codes, noise = model.sample_latents(n, gen, x.device)
        fake = model.to_data(model.generate(codes, noise))
        # D and Q: data vs. G's samples, and Q's posterior of the codes of the samples
        d_logit, q_mu, q_logvar = model.discriminate(torch.cat((x, fake.detach())))
        nll = info_nll(codes, q_mu[n:], q_logvar[n:])
        d_loss = gan_losses(d_logit[:n], d_logit[n:]) + self.lam * nll
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()
        # G: fool the updated D and make the codes recoverable by Q (D and Q fixed)
        for p in self.d_params:
            p.requires_grad_(False)
        g_logit, g_mu, g_logvar = model.discriminate(fake)
        g_loss = generator_gan_loss(g_logit) + self.lam * info_nll(codes, g_mu, g_logvar)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        for p in self.d_params:
            p.requires_grad_(True)
        with torch.no_grad():
            probs = torch.sigmoid(d_logit.detach())
            torch.stack((d_loss.detach(), g_loss.detach(), nll.detach(), probs[:n].mean(),
                         probs[n:].mean()), out=out)

    def state(self):
        return {"model": self.model.state_dict(), "optimizer": self.g_opt.state_dict(),
                "disc_optimizer": self.d_opt.state_dict()}

    def load(self, state):
        self.model.load_state_dict(state["model"])
        self.g_opt.load_state_dict(state["optimizer"])
        self.d_opt.load_state_dict(state["disc_optimizer"])

    def row(self, mean):
        d_loss, g_loss, nll, d_real, d_fake = mean
        return [d_loss, g_loss, nll, self.model.code_entropy() - nll, d_real, d_fake]

    def summary(self, row):
        return {"loss": row[1], **dict(zip(self.columns, row)), **super().summary(row)}

    def progress(self, row):
        return (f"d_loss {row[0]:.3f} g_loss {row[1]:.3f} mi_bound {row[3]:.3f} "
                f"D(data) {row[4]:.2f} D(G) {row[5]:.2f}")


LEARNERS: dict[str, type[Learner]] = {cls.method: cls for cls in (
    BetaVAELearner, BetaTCVAELearner, FactorVAELearner, DIPVAEILearner, DIPVAEIILearner,
    AnnealedVAELearner, InfoGANLearner)}


