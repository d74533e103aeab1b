"""Which training settings give channels that carry x- and y-position (a channel with NMI > 0.5 to each)?

Trains one member per setting on procedural dSprites at 32 x 32 and prints, for each, the best
generalised NMI of any channel with each factor (fingerprints on a 1000-point sample, factors as
hard clusterings, channels under 0.01 bits left out), as in
``tests/test_train.py::test_member_learns_position_channels``. A setting is
``beta:seed:steps:lr:batch:arch[:latent_dim[:tc_weight]]`` (latent_dim 10, tc_weight 0 by
default; tc_weight > 0 adds the beta-TCVAE total-correlation penalty); run several in parallel
with ``--jobs``::

    python benchmarks/position_nmi_sweep.py 2:0:3000:1e-3:64:conv32 1:0:3000:1e-3:64:conv32:10:10 --jobs 2

About 80 s per 3,000 conv32 steps on one idle core.
"""

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(setting: str) -> dict:
    import torch

    import infofrag
    from infofrag.data import draw_sample, make_dataset
    from infofrag.train import encode, load_model, train_member

    torch.set_num_threads(1)
    beta, seed, steps, lr, batch, arch, *rest = setting.split(":")
    latent_dim = int(rest[0]) if rest else 10
    tc_weight = float(rest[1]) if len(rest) > 1 else 0.0
    ds = make_dataset({"name": "dsprites", "image_size": 32})
    member = dict(name=f"sweep_b{beta}_s{seed}", beta=float(beta), seed=int(seed), arch=arch, latent_dim=latent_dim,
                  steps=int(steps), batch_size=int(batch), lr=float(lr), checkpoint_every=10**9,
                  log_every=500, threads=1, tc_weight=tc_weight)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_member(ds, member, f"{tmp}/m.pt", f"{tmp}/log.csv", f"{tmp}/resume", device="cpu", progress=False)
        model, _ = load_model(f"{tmp}/m.pt")
    seconds = time.perf_counter() - t0
    sample = draw_sample(ds, 1000, 0)
    mu, logvar = encode(model, sample["x"], device="cpu")
    D = infofrag.bhattacharyya(mu.T[:, :, None], logvar.T[:, :, None])
    info = np.asarray(infofrag.information(D))
    names = list(sample["factor_names"])
    factors = infofrag.labels_to_distances(sample["factors"].T, dtype=np.float32)  # [F, N, N]
    nmi = np.asarray(infofrag.similarity(D, factors)[0])
    nmi = np.where(info[:, None] >= 0.01, nmi, 0.0)
    return dict(setting=setting, seconds=round(seconds), informative=int((info >= 0.01).sum()),
                max_info_bits=round(float(info.max()), 2),
                best_nmi={n: round(float(v), 3) for n, v in zip(names, nmi.max(axis=0))})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("settings", nargs="+", help="beta:seed:steps:lr:batch:arch[:latent_dim[:tc_weight]]")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    print("| setting (beta:seed:steps:lr:batch:arch[:latent[:tc]]) | train s | informative ch. | max bits | best NMI x | best NMI y | best NMI shape |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with ProcessPoolExecutor(args.jobs) as pool:
        for r in pool.map(run, args.settings):
            b = r["best_nmi"]
            print(f"| {r['setting']} | {r['seconds']} | {r['informative']} | {r['max_info_bits']} | "
                  f"{b['x']:.3f} | {b['y']:.3f} | {b['shape']:.3f} |", flush=True)
            print(json.dumps(r), file=sys.stderr)


if __name__ == "__main__":
    main()
