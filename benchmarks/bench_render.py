"""Rendering speed of the procedural dSprites (what training pays per batch).

    python benchmarks/bench_render.py [--repeats 200]

Prints one row per (image size, batch size): the median time of ``ds.get(indices)`` for random
indices (factor decoding + rendering + float32 output), images per second, and the one-off time
to build the sprite lookup table for that size.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from infofrag import data


def _time(fn, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    print(f"{'size':>5} {'batch':>6} {'ms/batch':>9} {'images/s':>10} {'table build (ms)':>17}")
    for size in args.sizes:
        data._sprite_table.cache_clear()
        t = time.perf_counter()
        data._sprite_table(size)
        build_ms = (time.perf_counter() - t) * 1e3
        ds = data.make_dataset({"name": "dsprites", "image_size": size})
        for batch in args.batches:
            batches = [rng.integers(0, ds.n, batch) for _ in range(16)]
            it = iter(range(10**9))
            sec = _time(lambda: ds.get(batches[next(it) % 16]), args.repeats)
            print(f"{size:>5} {batch:>6} {sec * 1e3:>9.3f} {batch / sec:>10.0f} {build_ms:>17.1f}")


if __name__ == "__main__":
    main()
