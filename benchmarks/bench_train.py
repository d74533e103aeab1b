"""Training speed: infofrag.train.train_member against a bare PyTorch loop, per architecture.

For each case the same model (same init), the same Adam and the same batches are run twice,
interleaved, ``--repeats`` times:

* bare: batches pre-rendered into one tensor before timing; a plain
  ``loss -> zero_grad -> backward -> step`` loop; no logging, no checkpoints;
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
from infofrag.models import build_model
from infofrag.train import _STREAM_INIT, _stream_seed, batch_indices, encode, load_model, train_member

# (label, dataset cfg, arch, steps per timed run)
CASES = [
    ("conv64, dSprites 64x64", {"name": "dsprites", "image_size": 64}, "conv64", 120),
    ("conv32, dSprites 32x32", {"name": "dsprites", "image_size": 32}, "conv32", 500),
    ("mlp, dSprites 32x32", {"name": "dsprites", "image_size": 32}, "mlp", 1000),
    ("mlp, circle (2-D)", {"name": "circle", "n_points": 1000}, "mlp", 3000),
]


def bare_loop(ds, member, xs: torch.Tensor) -> float:
    """Steps/s of a plain loop over pre-rendered batches ``xs`` [steps, batch, ...]."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_stream_seed(member["seed"], _STREAM_INIT))
        model = build_model(member["arch"], tuple(ds.input_shape), member["latent_dim"],
                            likelihood=ds.likelihood)
    opt = torch.optim.Adam(model.parameters(), lr=member["lr"])
    beta = float(member["beta"])
    t0 = time.perf_counter()
    for x in xs:
        loss = model.loss(x, beta).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(xs) / (time.perf_counter() - t0)


def ours(ds, member, workdir: str) -> float:
    t0 = time.perf_counter()
    train_member(ds, member, os.path.join(workdir, "m.pt"), os.path.join(workdir, "log.csv"),
                 os.path.join(workdir, "resume"), device="cpu", progress=False)
    return member["steps"] / (time.perf_counter() - t0)


def bench_case(ds, arch, steps, args):
    member = {"name": "bench", "beta": 4.0, "seed": 0, "arch": arch, "latent_dim": 10,
              "steps": steps, "batch_size": args.batch, "lr": 1e-4,
              "checkpoint_every": args.checkpoint_every, "log_every": args.log_every,
              "threads": args.threads}
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
    load_before = os.getloadavg()[0]

    lines = [
        "# Training speed: train_member vs. a bare PyTorch loop",
        "",
        f"CPU, {args.threads} torch threads, batch {args.batch}, float32; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible. "
        + ("**Shared machine** (other jobs running): " if args.shared else "")
        + f"1-minute load average {load_before:.1f} before the run; best of "
        f"{args.repeats} interleaved runs; ratios are more stable than absolute rates.",
        f"Ours = `train_member` end to end (log row every {args.log_every}, resume checkpoint every "
        f"{args.checkpoint_every} steps, final checkpoint + log). Bare = same model/optimizer, "
        "batches pre-rendered into a tensor, no logging/checkpoints.",
        "",
        "| case | steps | bare steps/s | ours steps/s | ours / bare |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    print("\n".join(lines), flush=True)
    datasets = {}
    for label, cfg, arch, steps in CASES:
        if args.only and args.only not in label:
            continue
        key = tuple(sorted(cfg.items()))
        ds = datasets.setdefault(key, make_dataset(cfg))
        steps = max(20, int(steps * args.scale))
        bare, mine = bench_case(ds, arch, steps, args)
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
    if args.out:
        write_table(args.out, lines, "bench_train.py", argv)


if __name__ == "__main__":
    main()
