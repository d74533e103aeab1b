"""What the determinism promise covers, measured: one demo member trained twice with the same
settings (bit-identical expected), with another thread count, and with the CPU kernels an older
processor gets (no AVX2: PyTorch's own kernels at their portable level, oneDNN's convolutions at
SSE4.1, MKL's at SSE4.2) -- the hidden variation one machine can show of what another CPU or BLAS
build does: sum in another order. Each training runs in its own process (the kernel choice is
made when torch loads). For each pair: the largest weight difference, and what the pipeline
measures of the member on the demo's sample (each channel's information in bits, the best
channel's NMI with x and with y).

    python benchmarks/determinism.py --out benchmarks/results/determinism.md --doc docs/reliability.md
    python benchmarks/determinism.py --steps 300            # a quick look (the demo trains 3,000)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import ROOT, machine  # noqa: E402
from _tables import replace_block, write_table  # noqa: E402


def demo_member(cfg: dict, steps: int | None, threads: int) -> dict:
    tr, model = cfg["training"], cfg["model"]
    return dict(name="b1_s0", beta=float(cfg["ensemble"]["betas"][0]), tc_weight=float(model.get("tc_weight", 0)),
                seed=int(cfg["ensemble"]["seeds"][0]), arch=model["arch"], latent_dim=model["latent_dim"],
                steps=steps or tr["steps"], batch_size=tr["batch_size"], lr=tr["lr"],
                checkpoint_every=tr["checkpoint_every"], log_every=tr["log_every"], threads=threads)


def measure(ds, sample, member: dict, where: Path, info_threshold: float) -> dict:
    """Train ``member``; its weights and what the pipeline measures of it on ``sample`` (its
    fingerprint stage's terms; factor NMI as the hotspots show it, over the channels carrying
    more than ``info_threshold`` bits)."""
    import torch

    from infofrag.hotspots import informative_factor_nmi
    from infofrag.stages.fingerprint import fingerprints
    from infofrag.train import encode, load_model, train_member

    t0 = time.monotonic()
    train_member(ds, member, str(where / "m.pt"), str(where / "log.csv"), None, device="cpu", progress=False)
    seconds = time.monotonic() - t0
    model, _ = load_model(where / "m.pt")
    weights = torch.cat([p.detach().flatten().double() for p in model.state_dict().values()]).numpy()
    mu, logvar = encode(model, sample["x"], device="cpu")
    fp = fingerprints(mu, logvar, sample["factors"], list(sample["factor_names"]), member["name"])
    nmi = informative_factor_nmi(fp.factor_nmi, fp.info_bits, info_threshold)
    best = {f: float(np.nanmax(col)) if np.isfinite(col).any() else float("nan")
            for f, col in zip(fp.factor_names, nmi.T)}
    return dict(weights=weights, info=fp.info_bits, x=best["x"], y=best["y"], seconds=seconds,
                n_informative=int((fp.info_bits > info_threshold).sum()))


def compare(a: dict, b: dict) -> str:
    dw = np.abs(a["weights"] - b["weights"]).max()
    same = bool(np.array_equal(a["weights"], b["weights"]))
    di = np.abs(np.sort(a["info"]) - np.sort(b["info"])).max()
    return (f"{'yes' if same else 'no'} | {dw:.1e} | {di:.2e} | {a['n_informative']} / {b['n_informative']} "
            f"| {a['x']:.3f} / {b['x']:.3f} | {a['y']:.3f} / {b['y']:.3f}")


#: what a processor without AVX2 gets (each library's own switch)
OLDER_CPU = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}


def worker(args) -> None:
    """Train and measure in this process; write the measures to ``args.worker`` (.npz)."""
    from infofrag.data import draw_sample, make_dataset

    cfg = yaml.safe_load(Path(args.config).read_text())
    ds = make_dataset(dict(cfg["dataset"]))
    sample = draw_sample(ds, int(cfg["sample"]["n_points"]), int(cfg["sample"]["seed"]))
    with tempfile.TemporaryDirectory() as tmp:
        res = measure(ds, sample, demo_member(cfg, args.steps, args.worker_threads), Path(tmp),
                      float(cfg["hotspots"]["info_threshold"]))
    np.savez(args.worker, **res)


def run_worker(args, threads: int, env: dict, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--config", args.config, "--worker", str(out), "--worker-threads", str(threads)]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    subprocess.run(cmd, check=True, env={**os.environ, **env})
    with np.load(out) as f:
        return {k: (f[k].item() if f[k].ndim == 0 else f[k]) for k in f.files}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config" / "demo.yaml"))
    ap.add_argument("--steps", type=int, help="training steps (default: the config's)")
    ap.add_argument("--threads", type=int, nargs=2, default=(1, 2), help="the two thread counts")
    ap.add_argument("--out")
    ap.add_argument("--doc", help="rewrite this document's determinism block")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    cfg = yaml.safe_load(Path(args.config).read_text())
    t1, t2 = args.threads
    with tempfile.TemporaryDirectory() as tmp:
        runs = {key: run_worker(args, threads, env, Path(tmp) / f"{key}.npz")
                for key, threads, env in (("first", t1, {}), ("again", t1, {}), ("other", t2, {}),
                                          ("older", t1, OLDER_CPU))}
    steps = args.steps or cfg["training"]["steps"]
    older = ", ".join(f"`{k}={v}`" for k, v in OLDER_CPU.items())
    lines = [f"One demo member (`b1_s0` of `{Path(args.config).name}`, {steps:,} steps) trained four times on "
             f"this machine, each in its own process; measured on the demo's "
             f"{cfg['sample']['n_points']}-point sample.", "",
             "| runs compared | weights bit-identical | largest weight difference | largest difference "
             "in a channel's bits | informative channels | best NMI with x | best NMI with y |",
             "|---|---|---:|---:|---|---|---|",
             f"| {t1} thread, twice | {compare(runs['first'], runs['again'])} |",
             f"| {t1} thread vs {t2} threads | {compare(runs['first'], runs['other'])} |",
             f"| this CPU's kernels vs an older CPU's ({older}) | {compare(runs['first'], runs['older'])} |", "",
             f"Training: {runs['first']['seconds']:.0f} s ({t1} thread), {runs['other']['seconds']:.0f} s ({t2}), "
             f"{runs['older']['seconds']:.0f} s (older CPU's kernels). Machine: {machine()}."]
    print("\n".join(lines))
    if args.out:
        write_table(args.out, ["# Determinism: what it covers", "", *lines], "determinism.py")
    if args.doc:
        replace_block(args.doc, "determinism", lines)


if __name__ == "__main__":
    main()
