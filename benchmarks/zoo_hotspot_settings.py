"""How well the hotspots recover a synthetic zoo's planted fragments under other OPTICS settings,
on the similarity store of a finished ``benchmarks/zoo_scale.py`` run (no rerun of the workflow):
per setting the number of hotspots, the seconds of OPTICS, and per fragment the hotspot holding
most of its informative channels, that hotspot's size, recall and precision.

    python benchmarks/zoo_scale.py --work /tmp/zoo_full                 # the run (about 40 min)
    python benchmarks/zoo_hotspot_settings.py --work /tmp/zoo_full      # then this (a minute)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import ROOT, recovery  # noqa: E402

sys.path.insert(0, str(ROOT))

SETTINGS = (
    {"min_samples": 10, "xi": 0.05},  # config/zoo.yaml's (the paper's)
    {"min_samples": 50, "xi": 0.05},
    {"min_samples": 10, "cluster_method": "dbscan", "eps": 0.5},
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="/tmp/infofrag_zoo_scale", help="zoo_scale.py's work directory")
    args = p.parse_args(argv)
    import xarray as xr

    from infofrag.hotspots import find_hotspots

    work = Path(args.work)
    ds = xr.open_zarr(work / "results" / "similarity.zarr")
    truth = json.loads((work / "truth.json").read_text())
    print("| settings | hotspots | OPTICS (s) | fragment: hotspot size, recall, precision |")
    print("| --- | ---: | ---: | --- |")
    for kw in SETTINGS:
        t0 = time.perf_counter()
        hot = find_hotspots(ds, info_threshold=0.01, distance="vi", **kw)
        seconds = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "hotspots").mkdir()
            (Path(tmp) / "hotspots" / "hotspots.json").write_text(json.dumps(hot, default=float))
            rows = recovery(Path(tmp), truth)
        cells = "; ".join(f"{r['fragment']} none" if r["hotspot"] is None else
                          f"{r['fragment']} {r['size']:,}, {r['recall']:.2f}, {r['precision']:.2f}" for r in rows)
        print(f"| {', '.join(f'{k} {v}' for k, v in kw.items())} | {hot.get('n_hotspots', 0)} | {seconds:.0f} | "
              f"{cells} |", flush=True)


if __name__ == "__main__":
    main()
