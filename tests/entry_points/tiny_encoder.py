"""A model of another architecture than infofrag's, saved with plain torch.save, and the entry
point that loads it: ``tests.entry_points.tiny_encoder:load`` (infofrag calls it with the path).

The encoder maps images [n, 1, 32, 32] to (mu, logvar) of 2 channels; the decoder maps codes back
to image logits, so traversals can be drawn.
"""
import torch
from torch import nn


class TinyAutoencoder(nn.Module):
    def __init__(self, latent_dim: int = 2):
        super().__init__()
        self.pool = nn.AvgPool2d(4)  # 32 x 32 -> 8 x 8
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim, 32), nn.Tanh(), nn.Linear(32, 32 * 32))

    def encode(self, x):
        mu, logvar = self.enc(self.pool(x)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z):
        return self.dec(z).reshape(len(z), 1, 32, 32)


def train(images: torch.Tensor, steps: int = 200, seed: int = 0) -> TinyAutoencoder:
    """A few hundred steps of a plain VAE objective: enough to encode position."""
    torch.manual_seed(seed)
    model = TinyAutoencoder()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        mu, logvar = model.encode(images)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = nn.functional.binary_cross_entropy_with_logits(model.decode(z), images, reduction="sum") / len(images)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum() / len(images)
        opt.zero_grad()
        (recon + kl).backward()
        opt.step()
    return model


def load(path):
    model = TinyAutoencoder()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_encoder_only(path):
    """The same model, handed over as a bare encoder: no traversals for it."""
    return load(path).encode
