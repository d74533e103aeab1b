"""How the circle fusion's continuity and information change with the number of fusion steps.

Reads a finished circle run (``snakemake --cores 2 --configfile config/circle.yaml``) and fuses
the same random sub-ensembles (sizes 10, 20, 50; one repeat; NMI objective) for each given step
count::

    python benchmarks/circle_fusion_steps.py results/circle 200 600 1500

Prints one line per step count: (size, continuity, fused information in bits) per fusion.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infofrag import circle_fusion  # noqa: E402
from infofrag.store import open_dataset  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="results_dir of a finished circle run")
    ap.add_argument("steps", type=int, nargs="+")
    ap.add_argument("--sizes", default="10,20,50")
    args = ap.parse_args()
    sim = open_dataset(args.results / "similarity.zarr")
    x = np.asarray(open_dataset(args.results / "sample.zarr")["x"].values)
    angles = np.arctan2(x[:, 1], x[:, 0])
    keep = np.flatnonzero(sim["info_bits"].values > 0.01)
    D = np.stack([open_dataset(args.results / "fingerprints" / str(sim["member"].values[i])
                               / f"ch{int(sim['channel'].values[i])}.zarr")["distance"].values
                  for i in keep])
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{len(keep)} informative channels, N = {D.shape[1]}")
    for steps in args.steps:
        t = time.perf_counter()
        rows = circle_fusion.ensemble_size_sweep(D, sizes=sizes, repeats=1, objectives=["nmi"], angles=angles,
                                                 seed=0, dim=2, steps=steps, lr=0.05)
        cells = ", ".join(f"size {r['size']}: continuity {r['continuity']:.2f}, {r['info_bits']:.2f} bits"
                          for r in rows)
        print(f"steps {steps:5d} ({time.perf_counter() - t:.0f} s): {cells}", flush=True)


if __name__ == "__main__":
    main()
