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
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import ROOT, recovery  # noqa: E402

sys.path.insert(0, str(ROOT))

#: each on top of config/zoo.yaml's hotspots section (the paper's settings; the first row is it)
SETTINGS = ({}, {"min_samples": 50}, {"cluster_method": "dbscan", "eps": 0.5})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="/tmp/infofrag_zoo_scale", help="zoo_scale.py's work directory")
    args = p.parse_args(argv)
    import xarray as xr

    from infofrag.hotspots import find_hotspots

    work = Path(args.work)
    zoo = yaml.safe_load((ROOT / "config" / "zoo.yaml").read_text())["hotspots"]
    ds = xr.open_zarr(work / "results" / "similarity.zarr")
    truth = json.loads((work / "truth.json").read_text())
    label = lambda d: ", ".join(f"{k} {v}" for k, v in d.items())  # noqa: E731
    optics = {k: v for k, v in zoo.items() if k not in ("info_threshold", "distance")}
    print(f"| settings (on config/zoo.yaml's: {label(zoo)}) | hotspots | OPTICS (s) | "
          "fragment: hotspot size, recall, precision |")
    print("| --- | ---: | ---: | --- |")
    for change in SETTINGS:
        kw = {**zoo, **change}
        t0 = time.perf_counter()
        hot = find_hotspots(ds, **kw)
        seconds = time.perf_counter() - t0
        rows = recovery(hot, truth)
        cells = "; ".join(f"{r['fragment']} none" if r["hotspot"] is None else
                          f"{r['fragment']} {r['size']:,}, {r['recall']:.2f}, {r['precision']:.2f}" for r in rows)
        print(f"| {label(change) if change else 'as they are: ' + label(optics)} | {hot.get('n_hotspots', 0)} | {seconds:.0f} | "
              f"{cells} |", flush=True)


if __name__ == "__main__":
    main()
