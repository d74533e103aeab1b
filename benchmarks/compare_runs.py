"""Compare the numbers two runs of the workflow wrote: ``similarity.zarr``, ``hotspots.json``,
``boost.json``, ``spaces.zarr`` and the scores, variable by variable, with the largest absolute
difference of each; the check that a refactor kept every number (to float rounding).

    python benchmarks/compare_runs.py OLD_RESULTS NEW_RESULTS [--atol 1e-6]

Exits 1 when a number differs by more than ``--atol`` (or a value of another kind differs).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _numbers(a, b, path, out):
    """Walk two JSON values; record (path, max abs difference) of numbers, or a mismatch."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append((f"{path}.{k}", "only in " + ("new" if k in b else "old")))
            else:
                _numbers(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append((path, f"lengths {len(a)} != {len(b)}"))
        for k, (x, y) in enumerate(zip(a, b)):
            _numbers(x, y, f"{path}[{k}]", out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        d = 0.0 if (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))) else abs(a - b)
        out.append((path, d))
    elif a != b:
        out.append((path, f"{a!r} != {b!r}"))


def compare_json(old: Path, new: Path, skip=("seconds",)) -> list:
    out = []
    _numbers(json.loads(old.read_text()), json.loads(new.read_text()), old.name, out)
    return [(p, d) for p, d in out if not any(s in p for s in skip)]


def compare_store(old: Path, new: Path) -> list:
    import xarray as xr

    a, b = xr.open_zarr(old).load(), xr.open_zarr(new).load()
    out = []
    for name in sorted(set(a.variables) | set(b.variables)):
        if name not in a.variables or name not in b.variables:
            out.append((f"{old.name}:{name}", "only in " + ("new" if name in b.variables else "old")))
            continue
        x, y = np.asarray(a[name].values), np.asarray(b[name].values)
        if x.shape != y.shape:
            out.append((f"{old.name}:{name}", f"shapes {x.shape} != {y.shape}"))
        elif x.dtype.kind in "fc":
            both = np.isfinite(x) & np.isfinite(y)
            same_nan = np.array_equal(np.isnan(x), np.isnan(y))
            d = float(np.max(np.abs(x[both] - y[both]))) if both.any() else 0.0
            out.append((f"{old.name}:{name}", d if same_nan else f"NaN pattern differs (max |diff| {d:.3g})"))
        elif x.tolist() != y.tolist():
            out.append((f"{old.name}:{name}", "values differ"))
        else:
            out.append((f"{old.name}:{name}", 0.0))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--atol", type=float, default=1e-6)
    args = ap.parse_args(argv)
    rows = []
    for rel in ("similarity.zarr", "spaces.zarr"):
        if (args.old / rel).exists() and (args.new / rel).exists():
            rows += compare_store(args.old / rel, args.new / rel)
    for rel in ("hotspots/hotspots.json", "boost/boost.json"):
        rows += compare_json(args.old / rel, args.new / rel)
    for p in sorted(q for q in (args.old / "scores").glob("*.json") if not q.name.endswith(".prov.json")):
        rows += compare_json(p, args.new / "scores" / p.name)
    bad = [(p, d) for p, d in rows if isinstance(d, str) or d > args.atol]
    worst = {}
    for p, d in rows:
        key = p.split("[")[0]
        if not isinstance(d, str):
            worst[key] = max(worst.get(key, 0.0), d)
    print(f"{len(rows)} values compared; largest absolute difference per variable:")
    for k, d in sorted(worst.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {d:.3g}  {k}")
    for p, d in bad[:40]:
        print(f"DIFFERS {p}: {d}")
    print("same to", args.atol, "in every number" if not bad else f"-- {len(bad)} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
