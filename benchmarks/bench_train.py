"""Training speed: infofrag.train.train_member against a bare PyTorch loop, per architecture
(beta-VAE) and per model family (conv32 on dSprites 32 x 32).

For each case the same networks (same init), the same optimisers and the same batches are run
twice, interleaved, ``--repeats`` times:

* bare: batches pre-rendered into one tensor before timing; a plain loop of the method's loss
  written out here from the models' building blocks (``loss -> zero_grad -> backward -> step``;
  FactorVAE's discriminator step and InfoGAN's two steps counted as in ours); no logging, no
  checkpoints;
* ours: ``train_member`` as the workflow calls it (background batch rendering, device-side log
  accumulation, a log row every ``--log-every`` and a resume checkpoint every
  ``--checkpoint-every`` steps, the final checkpoint and log written); timed end to end.

Best-of-repeats steps/s are reported (the machine is shared; best-of is the least noisy
estimate of what the code costs). Then the time of one member's fingerprint job: encode the
fingerprint sample (N points), ``infofrag.bhattacharyya`` per channel and
``infofrag.information``.

    python benchmarks/bench_train.py --threads 2 --out benchmarks/results/train.md
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import torch
from _tables import write_table

from infofrag.data import draw_sample, make_dataset
from infofrag.models import BetaVAE, Discriminator, build_infogan, build_model
from infofrag.models import objectives as obj
from infofrag.models.factor_vae import discriminator_loss
from infofrag.models.infogan import gan_losses, generator_gan_loss, info_nll
from infofrag.train import batch_indices, encode, init_seed, load_model, member_settings, train_member

DSPRITES32 = {"name": "dsprites", "image_size": 32}
# (label, dataset cfg, arch, steps per timed run, method and its settings)
CASES = [
    ("beta_vae, conv64, dSprites 64x64", {"name": "dsprites", "image_size": 64}, "conv64", 120,
     {"beta": 4.0}),
    ("beta_vae, conv32, dSprites 32x32", DSPRITES32, "conv32", 500, {"beta": 4.0}),
    ("beta_vae, mlp, dSprites 32x32", DSPRITES32, "mlp", 1000, {"beta": 4.0}),
    ("beta_vae, mlp, circle (2-D)", {"name": "circle", "n_points": 1000}, "mlp", 3000, {"beta": 4.0}),
    ("beta_tcvae, conv32, dSprites 32x32", DSPRITES32, "conv32", 500, {"method": "beta_tcvae", "beta": 6.0}),
    ("factor_vae (D 6 x 1000), conv32, dSprites 32x32", DSPRITES32, "conv32", 200,
     {"method": "factor_vae", "gamma": 10.0}),
    ("dip_vae_i, conv32, dSprites 32x32", DSPRITES32, "conv32", 500, {"method": "dip_vae_i", "lambda_od": 10.0}),
    ("dip_vae_ii, conv32, dSprites 32x32", DSPRITES32, "conv32", 500, {"method": "dip_vae_ii", "lambda_od": 10.0}),
    ("annealed_vae, conv32, dSprites 32x32", DSPRITES32, "conv32", 500,
     {"method": "annealed_vae", "c_max": 25.0, "anneal_steps": 300}),
    ("infogan (5 codes, noise 8), conv32, dSprites 32x32", DSPRITES32, "conv32", 300, {"method": "infogan"}),
]


def _vae_terms(model, x, gen):
    out, mu, logvar, z = model(x, gen)
    return model.reconstruction(out, x).mean(), BetaVAE.kl_per_channel(mu, logvar), mu, logvar, z


def bare_loop(ds, member, xs: torch.Tensor) -> float:
    """Steps/s of a plain loop of the member's method over pre-rendered batches ``xs``
    [steps, batch, ...]: the same networks, initial weights, optimisers and noise as
    ``train_member``, none of its bookkeeping."""
    method = member.get("method", "beta_vae")
    hp = member_settings(member)
    shape, lik, d, n = tuple(ds.input_shape), ds.likelihood, member["latent_dim"], ds.n
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(member["seed"]))
        if method == "infogan":
            model = build_infogan(member["arch"], shape, d, noise_dim=hp["noise_dim"], likelihood=lik)
        else:
            model = build_model(member["arch"], shape, d, likelihood=lik)
        if method == "factor_vae":
            disc = Discriminator(d, hp["disc_hidden"], hp["disc_layers"])
    if method == "infogan":
        betas = (hp["gan_beta1"], hp["gan_beta2"])
        d_params = list(model.discriminator.parameters())
        opt = torch.optim.Adam(model.generator.parameters(), lr=member["lr"], betas=betas)
        d_opt = torch.optim.Adam(d_params, lr=hp["disc_lr"], betas=betas)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=member["lr"])
    if method == "factor_vae":
        d_params = list(disc.parameters())
        d_opt = torch.optim.Adam(d_params, lr=hp["disc_lr"], betas=(hp["disc_beta1"], hp["disc_beta2"]))
    gen = torch.Generator()
    t0 = time.perf_counter()
    for t, x in enumerate(xs):
        gen.manual_seed(t)
        if method == "infogan":
            codes, noise = model.sample_latents(x.shape[0], gen)
            fake = model.to_data(model.generate(codes, noise))
            logit, q_mu, q_lv = model.discriminate(torch.cat((x, fake.detach())))
            k = x.shape[0]
            d_loss = gan_losses(logit[:k], logit[k:]) + hp["lambda_info"] * info_nll(codes, q_mu[k:], q_lv[k:])
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            for p in d_params:
                p.requires_grad_(False)
            g_logit, g_mu, g_lv = model.discriminate(fake)
            g_loss = generator_gan_loss(g_logit) + hp["lambda_info"] * info_nll(codes, g_mu, g_lv)
            opt.zero_grad(set_to_none=True)
            g_loss.backward()
            opt.step()
            for p in d_params:
                p.requires_grad_(True)
            continue
        if method == "beta_vae":
            loss = model.loss(x, hp["beta"], gen).total
        elif method == "beta_tcvae":
            recon, kl, mu, logvar, z = _vae_terms(model, x, gen)
            loss = recon + kl.sum() + (hp["beta"] - 1) * obj.total_correlation_mws(z, mu, logvar, n)
        elif method == "factor_vae":
            for p in d_params:
                p.requires_grad_(False)
            recon, kl, mu, logvar, z = _vae_terms(model, x, gen)
            loss = recon + kl.sum() + hp["gamma"] * obj.density_ratio_tc(disc(z))
        elif method in ("dip_vae_i", "dip_vae_ii"):
            recon, kl, mu, logvar, z = _vae_terms(model, x, gen)
            off, diag = obj.dip_terms(obj.dip_covariance(mu, logvar, method.split("_")[-1]))
            loss = recon + kl.sum() + hp["lambda_od"] * off + hp["lambda_d"] * diag
        elif method == "annealed_vae":
            recon, kl, mu, logvar, z = _vae_terms(model, x, gen)
            c = obj.annealed_capacity(t, hp["c_max"], hp["anneal_steps"])
            loss = recon + hp["gamma"] * (kl.sum() - c).abs()
        else:
            raise ValueError(method)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if method == "factor_vae":
            for p in d_params:
                p.requires_grad_(True)
            zd = z.detach()
            logits = disc(torch.cat((zd, obj.permute_dims(zd, gen))))
            d_loss = discriminator_loss(logits[:x.shape[0]], logits[x.shape[0]:])
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
    return len(xs) / (time.perf_counter() - t0)


def ours(ds, member, workdir: str) -> float:
    t0 = time.perf_counter()
    train_member(ds, member, os.path.join(workdir, "m.pt"), os.path.join(workdir, "log.csv"),
                 os.path.join(workdir, "resume"), device="cpu", progress=False)
    return member["steps"] / (time.perf_counter() - t0)


def bench_case(ds, arch, steps, settings, args):
    member = {"name": "bench", "seed": 0, "arch": arch,
              "latent_dim": 5 if settings.get("method") == "infogan" else 10,
              "steps": steps, "batch_size": args.batch, "lr": 1e-4,
              "checkpoint_every": args.checkpoint_every, "log_every": args.log_every,
              "threads": args.threads, **settings}
    xs = torch.from_numpy(np.stack([ds.get(batch_indices(0, t, ds.n, args.batch)) for t in range(steps)]))
    # warm-up (allocator, thread pool) on a few steps of each
    bare_loop(ds, member, xs[:5])
    best_bare, best_ours = 0.0, 0.0
    for _ in range(args.repeats):
        best_bare = max(best_bare, bare_loop(ds, member, xs))
        with tempfile.TemporaryDirectory() as wd:
            best_ours = max(best_ours, ours(ds, member, wd))
    return best_bare, best_ours


def fingerprint_time(ds, arch, n, args):
    import infofrag

    member = {"name": "fp", "beta": 4.0, "seed": 0, "arch": arch, "latent_dim": 10, "steps": 1,
              "batch_size": 8, "lr": 1e-4, "checkpoint_every": 1, "log_every": 1}
    with tempfile.TemporaryDirectory() as wd:
        ckpt = os.path.join(wd, "m.pt")
        train_member(ds, member, ckpt, os.path.join(wd, "log.csv"), os.path.join(wd, "r"),
                     device="cpu", progress=False)
        sample = draw_sample(ds, n, 0)
        t0 = time.perf_counter()
        model, _ = load_model(ckpt)
        mu, logvar = encode(model, sample["x"], device="cpu")
        t1 = time.perf_counter()
        info = []
        for k in range(mu.shape[1]):
            D = infofrag.bhattacharyya(mu[:, k:k + 1], logvar[:, k:k + 1])
            info.append(float(infofrag.information(D)))
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--scale", type=float, default=1.0, help="multiply the steps of every case")
    p.add_argument("--only", default=None, help="run only cases whose label contains this")
    p.add_argument("--fingerprint-n", type=int, default=1000)
    p.add_argument("--out", default=None, help="also write the table (markdown) here")
    p.add_argument("--shared", action="store_true",
                   help="say in the header that the machine was shared with other work")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    lines = [
        "# Training speed: train_member vs. a bare PyTorch loop",
        "",
        f"CPU, {args.threads} torch threads, batch {args.batch}, float32; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible. "
        + ("**Shared machine** (other jobs running): " if args.shared else "")
        + "load average (`os.getloadavg()`, 1/5/15 min) {load}; best of "
        f"{args.repeats} interleaved runs; ratios are more stable than absolute rates.",
        f"Ours = `train_member` end to end (log row every {args.log_every}, resume checkpoint every "
        f"{args.checkpoint_every} steps, final checkpoint + log). Bare = same networks and optimisers, "
        "the method's loss written out as a plain loop, batches pre-rendered into a tensor, no "
        "logging/checkpoints.",
        "",
        "Every VAE family: latent_dim 10, lr 1e-4 (FactorVAE: the paper's discriminator, 6 x 1000, its own "
        "Adam; its step counted in both); InfoGAN: 5 codes, noise 8, lr 1e-4 (G) / 2e-4 (D and Q), "
        "both steps in both.",
        "",
        "| case | steps | bare steps/s | ours steps/s | ours / bare |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines[2] = lines[2].replace("{load}", "{:.1f}/{:.1f}/{:.1f} before the run".format(*load_before) + "{after}")
    print("\n".join(lines).replace("{after}", ""), flush=True)
    datasets = {}
    for label, cfg, arch, steps, settings in CASES:
        if args.only and args.only not in label:
            continue
        key = tuple(sorted(cfg.items()))
        ds = datasets.setdefault(key, make_dataset(cfg))
        steps = max(20, int(steps * args.scale))
        bare, mine = bench_case(ds, arch, steps, settings, args)
        line = f"| {label} | {steps} | {bare:.1f} | {mine:.1f} | {mine / bare:.3f} |"
        print(line, flush=True)
        lines.append(line)

    fp = [""]
    try:
        import infofrag  # noqa: F401

        ds = make_dataset({"name": "dsprites", "image_size": 32})
        t_enc, t_fp = fingerprint_time(ds, "conv32", args.fingerprint_n, args)
        fp += ["| fingerprint job (conv32, 10 channels) | N | encode s | bhattacharyya + information s | total s |",
               "| --- | ---: | ---: | ---: | ---: |",
               f"| load_model + encode, then per channel | {args.fingerprint_n} | {t_enc:.3f} | {t_fp:.3f} | "
               f"{t_enc + t_fp:.3f} |"]
    except (ImportError, AttributeError) as exc:
        fp += [f"fingerprint timing skipped: {exc}"]
    print("\n".join(fp), flush=True)
    lines += fp
    lines[2] = lines[2].replace("{after}", ", {:.1f}/{:.1f}/{:.1f} after it".format(*os.getloadavg()))
    print(lines[2])
    if args.out:
        write_table(args.out, lines, "bench_train.py", argv)


if __name__ == "__main__":
    main()
