"""Encoder and decoder networks, by architecture: the parts a model family is assembled from.

Three architectures (``arch``):

``conv64``
    The dSprites architecture of disentanglement_lib (Locatello et al. 2019) for 1 x 64 x 64
    images. Encoder: conv 32 4x4/2, conv 32 4x4/2, conv 64 4x4/2, conv 64 4x4/2 (ReLU, padding
    1: 64 -> 32 -> 16 -> 8 -> 4), dense 256 (ReLU), dense ``out_dim``.
    disentanglement_lib's code uses 2x2 kernels for the last two convolutions while the paper's
    table says 4x4; we use **4x4 for all four**. Decoder, mirrored: dense 256, dense 1024 (ReLU),
    reshape 64 x 4 x 4, transposed conv 64, 32, 32, C (4x4/2), no output activation.
``conv32``
    The same design with three convolutions (32, 32, 64 channels; 32 -> 16 -> 8 -> 4) for
    C x 32 x 32 images; decoder mirrored with three transposed convolutions.
``mlp``
    Fully connected, for flattened images of any size or for low-dimensional points (the
    circle). Images: D -> 512 -> 256 -> ``out_dim`` and back. Points (input_shape ``(k,)``):
    k -> 128 -> 128 -> ``out_dim`` and back.

The encoder maps ``[n, *input_shape]`` to ``[n, out_dim]`` and the decoder ``[n, latent_dim]``
to a flat ``[n, prod(input_shape)]`` (conv: ``[n, C, H, W]``); what the outputs mean (posterior
parameters, logits, a discriminator's score) is the model family's business, not theirs. Both
use ReLU between layers unless ``activation`` (a module factory, e.g. ``lambda: nn.LeakyReLU(0.2)``
for a GAN's discriminator) says otherwise. ``build_decoder(..., batchnorm=True)`` puts batch
normalisation before each hidden activation (a GAN's generator, DCGAN practice). Neither choice
changes which initial weights a seed draws (activations hold no weights; batch normalisation
starts at scale 1, shift 0 without drawing).
"""

from __future__ import annotations

import math

from torch import nn

__all__ = ["ARCHS", "check_input_shape", "build_encoder", "build_decoder"]

ARCHS = ("conv64", "conv32", "mlp")

_CONV_WIDTHS = {"conv64": (32, 32, 64, 64), "conv32": (32, 32, 64)}
_CONV_SIZE = {"conv64": 64, "conv32": 32}
_CONV_FLAT = 64 * 4 * 4  # the last convolution's output, flattened
_CONV_DENSE = 256


def check_input_shape(arch: str, shape: tuple[int, ...]) -> None:
    """Raise ValueError, naming ``model.arch``, when ``arch`` cannot take inputs of ``shape``."""
    if arch not in ARCHS:
        raise ValueError(f"model.arch: unknown architecture {arch!r}; expected one of {list(ARCHS)}")
    if arch in _CONV_SIZE:
        size = _CONV_SIZE[arch]
        if len(shape) != 3 or shape[1:] != (size, size):
            raise ValueError(f"model.arch {arch!r} needs input_shape (C, {size}, {size}); "
                             f"got input_shape {shape}")


def build_encoder(arch: str, input_shape: tuple[int, ...], out_dim: int, activation=nn.ReLU) -> nn.Module:
    """Inputs ``[n, *input_shape]`` -> ``[n, out_dim]``."""
    check_input_shape(arch, input_shape)
    act = activation
    if arch in _CONV_WIDTHS:
        return nn.Sequential(*_conv_stack(input_shape[0], _CONV_WIDTHS[arch], act), nn.Flatten(),
                             nn.Linear(_CONV_FLAT, _CONV_DENSE), act(), nn.Linear(_CONV_DENSE, out_dim))
    return nn.Sequential(nn.Flatten(), *_mlp((math.prod(input_shape), *_mlp_hidden(input_shape), out_dim),
                                             lambda width: act()))


def build_decoder(arch: str, latent_dim: int, input_shape: tuple[int, ...], activation=nn.ReLU,
                  batchnorm: bool = False) -> nn.Module:
    """Latents ``[n, latent_dim]`` -> outputs of one data point's size, no output activation."""
    check_input_shape(arch, input_shape)
    if batchnorm:
        def act1(width):
            return nn.Sequential(nn.BatchNorm1d(width), activation())

        def act2(width):
            return nn.Sequential(nn.BatchNorm2d(width), activation())
    else:
        def act1(width):
            return activation()
        act2 = act1
    if arch in _CONV_WIDTHS:
        return nn.Sequential(nn.Linear(latent_dim, _CONV_DENSE), act1(_CONV_DENSE), nn.Linear(_CONV_DENSE, _CONV_FLAT),
                             act1(_CONV_FLAT), nn.Unflatten(1, (64, 4, 4)),
                             *_deconv_stack(_CONV_WIDTHS[arch][::-1], input_shape[0], act2))
    return nn.Sequential(*_mlp((latent_dim, *_mlp_hidden(input_shape)[::-1], math.prod(input_shape)), act1))


def _mlp_hidden(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Points get a small network, flattened images a wider one."""
    return (128, 128) if len(shape) == 1 else (512, 256)


def _conv_stack(channels_in: int, widths: tuple[int, ...], act=nn.ReLU) -> list[nn.Module]:
    layers: list[nn.Module] = []
    c = channels_in
    for w in widths:
        layers += [nn.Conv2d(c, w, kernel_size=4, stride=2, padding=1), act()]
        c = w
    return layers


def _deconv_stack(widths: tuple[int, ...], channels_out: int, act=None) -> list[nn.Module]:
    """``act(width)``: the module after a hidden layer of ``width`` channels (default ReLU)."""
    act = act or (lambda width: nn.ReLU())
    layers: list[nn.Module] = []
    outs = widths[1:] + (channels_out,)
    for i, (a, b) in enumerate(zip(widths, outs)):
        layers.append(nn.ConvTranspose2d(a, b, kernel_size=4, stride=2, padding=1))
        if i < len(widths) - 1:
            layers.append(act(b))
    return layers


def _mlp(sizes: tuple[int, ...], act=None) -> list[nn.Module]:
    """``act(width)``: the module after a hidden layer of ``width`` units (default ReLU)."""
    act = act or (lambda width: nn.ReLU())
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act(b))
    return layers
