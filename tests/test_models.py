"""beta-VAE members: shapes, likelihoods, loss terms, bad input."""

import math

import pytest
import torch

from infofrag.models import ARCHS, build_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")


CASES = [
    ("conv64", (1, 64, 64), "bernoulli"),
    ("conv64", (3, 64, 64), "bernoulli"),
    ("conv32", (1, 32, 32), "bernoulli"),
    ("mlp", (1, 32, 32), "bernoulli"),
    ("mlp", (1, 64, 64), "bernoulli"),
    ("mlp", (2,), "gaussian"),
]


@pytest.mark.parametrize("arch,shape,likelihood", CASES)
def test_shapes_and_likelihood(arch, shape, likelihood):
    torch.manual_seed(0)
    d = 5
    model = build_model(arch, shape, d)
    assert model.arch == arch and model.input_shape == shape and model.latent_dim == d
    assert model.likelihood == likelihood
    x = torch.rand(3, *shape)
    if likelihood == "bernoulli":
        x = x.round()
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, d)
    assert model.decode(torch.zeros(4, d)).shape == (4, *shape)
    out, mu2, logvar2, z = model(x)
    assert out.shape == x.shape and z.shape == (3, d)
    terms = model.loss(x, beta=4.0)
    assert terms.kl.shape == (d,) and (terms.kl >= 0).all()
    assert torch.allclose(terms.total, terms.recon + 4.0 * terms.kl.sum())


def test_conv64_follows_disentanglement_lib():
    model = build_model("conv64", (1, 64, 64), 10)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    dense = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in dense] == [256, 20]
    deconvs = [m for m in model.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in deconvs] == [64, 32, 32, 1]


def test_loss_terms_by_hand():
    torch.manual_seed(0)
    model = build_model("mlp", (2,), 3)
    x = torch.randn(6, 2)
    gen = torch.Generator().manual_seed(7)
    terms = model.loss(x, beta=2.0, generator=gen)
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
    mean = model.decode(mu + torch.exp(0.5 * logvar) * eps)
    s = model.obs_std
    nll = (0.5 * ((x - mean) / s) ** 2 + math.log(s) + 0.5 * math.log(2 * math.pi)).sum(1).mean()
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)
    assert torch.allclose(terms.recon, nll, atol=1e-4)
    assert torch.allclose(terms.kl, kl.mean(0), atol=1e-6)

    img = build_model("conv32", (1, 32, 32), 3)
    xb = torch.rand(2, 1, 32, 32).round()
    terms = img.loss(xb, beta=1.0, generator=torch.Generator().manual_seed(1))
    mu, logvar = img.encode(xb)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    logits = img.decode(mu + torch.exp(0.5 * logvar) * eps)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / 2
    assert torch.allclose(terms.recon, bce, rtol=1e-5)


def test_generator_makes_noise_reproducible():
    torch.manual_seed(0)
    model = build_model("mlp", (1, 32, 32), 4)
    x = torch.rand(5, 1, 32, 32).round()
    a = model.loss(x, 1.0, torch.Generator().manual_seed(3)).total
    b = model.loss(x, 1.0, torch.Generator().manual_seed(3)).total
    c = model.loss(x, 1.0, torch.Generator().manual_seed(4)).total
    assert a == b and a != c


def test_unknown_arch():
    with pytest.raises(ValueError, match="model.arch"):
        build_model("resnet", (1, 64, 64), 10)


@pytest.mark.parametrize("arch,shape", [("conv64", (1, 32, 32)), ("conv32", (1, 64, 64)),
                                        ("conv32", (2,)), ("conv64", (64, 64))])
def test_shape_that_does_not_fit(arch, shape):
    with pytest.raises(ValueError, match=r"model.arch.*input_shape \(" + str(shape[0])):
        build_model(arch, shape, 10)


@pytest.mark.parametrize("kwargs,match", [
    ({"latent_dim": 0}, "latent_dim"),
    ({"input_shape": (0, 32)}, "input_shape"),
    ({"likelihood": "poisson"}, "likelihood"),
])
def test_bad_arguments(kwargs, match):
    args = {"arch": "mlp", "input_shape": (1, 32, 32), "latent_dim": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_model(**args)


def test_all_archs_listed():
    assert set(ARCHS) == {"conv64", "conv32", "mlp"}


# -- total correlation (beta-TCVAE) -------------------------------------------------------------

def _tc_by_loop(z, mu, logvar, dataset_size):
    """The minibatch-weighted TC estimate written out one sample and one channel at a time."""
    n, d = z.shape
    z, mu, logvar = z.detach().double(), mu.detach().double(), logvar.detach().double()
    sd = torch.exp(0.5 * logvar)
    total = 0.0
    for i in range(n):
        normal = torch.distributions.Normal(mu, sd)  # row k: q(. | x_k)
        log_q = normal.log_prob(z[i].expand(n, d))  # [k, j] = log q(z_i[j] | x_k)
        joint = torch.logsumexp(log_q.sum(1), 0) - math.log(n * dataset_size)
        marginals = sum(torch.logsumexp(log_q[:, j], 0) - math.log(n * dataset_size) for j in range(d))
        total += float(joint - marginals)
    return total / n


def test_total_correlation_matches_loop():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(12, 4, generator=gen), torch.randn(12, 4, generator=gen) * 0.5 - 1
    z = mu + torch.exp(0.5 * logvar) * torch.randn(12, 4, generator=gen)
    from infofrag.models import BetaVAE
    got = float(BetaVAE.total_correlation(z, mu, logvar, 1000))
    assert got == pytest.approx(_tc_by_loop(z, mu, logvar, 1000), rel=1e-5, abs=1e-5)


def test_total_correlation_sees_rotation():
    """A uniform square has independent coordinates; turned by 45 degrees (a diamond) it does not.

    The true TC of the diamond is 1 - ln 2 = 0.31 nats; the minibatch estimate, biased by a
    constant, must still rank the two, which is what the penalty's gradient relies on."""
    from infofrag.models import BetaVAE
    gen = torch.Generator().manual_seed(1)

    def estimate(degrees):
        out = []
        for _ in range(10):
            u = (torch.rand(512, 2, generator=gen) * 2 - 1) * math.sqrt(3)
            t = math.radians(degrees)
            rot = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
            mu = u @ rot.T
            logvar = torch.full_like(mu, 2 * math.log(0.1))
            z = mu + 0.1 * torch.randn(mu.shape, generator=gen)
            out.append(float(BetaVAE.total_correlation(z, mu, logvar, 10**5)))
        return sum(out) / len(out)

    assert estimate(45) - estimate(0) > 0.1


def test_loss_with_tc_weight():
    torch.manual_seed(0)
    model = build_model("mlp", (2,), 3)
    x = torch.randn(16, 2)
    plain = model.loss(x, 2.0, torch.Generator().manual_seed(5))
    assert plain.tc is None
    assert model.loss(x, 2.0, torch.Generator().manual_seed(5), tc_weight=0.0, dataset_size=50).tc is None
    terms = model.loss(x, 2.0, torch.Generator().manual_seed(5), tc_weight=4.0, dataset_size=50)
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
    z = mu + torch.exp(0.5 * logvar) * eps
    assert float(terms.tc.detach()) == pytest.approx(_tc_by_loop(z, mu, logvar, 50), rel=1e-4, abs=1e-5)
    assert torch.allclose(terms.total, plain.total + 4.0 * terms.tc)
    terms.total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match="dataset_size"):
        model.loss(x, 1.0, tc_weight=1.0)
