"""The supervised scores of trained members under each protocol and DCI classifier, side by side.

For members of a finished run (their checkpoints ``members/<name>/model.pt`` and posteriors on
the fingerprint sample), computes MIG, SAP and DCI

- by the field's protocol (disentanglement_lib: 10,000 training and 5,000 test points drawn from
  the dataset and encoded by the member) with gradient-boosted trees (disentanglement_lib's DCI
  classifier) and with the random forest (the workflow's default, cheaper);
- on the fingerprint sample (2/3 training, 1/3 test) with the random forest (``protocol:
  sample``),

with the code the workflow's ``scores`` rule runs (:mod:`infofrag.stages.scores`), and prints one
row per member and variant with its time. ``--markdown FILE --block NAME`` writes the table into
FILE's marked block::

    python benchmarks/scores_protocols.py results/methods --config config/methods.yaml \\
        --members b4_s0 tc6_s0 --markdown docs/replication.md --block scores
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _tables  # noqa: E402

KEYS = ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness")


def fmt(v):
    return "undefined" if v is None else f"{v:.3f}"


def member_rows(results: Path, config: dict, name: str, n_train: int, n_test: int, seed: int):
    from infofrag import data, metrics, store
    from infofrag.stages import scores

    sample = store.sample.read(results / "sample.zarr", check=False)
    post = store.posteriors.read(results / "posteriors" / f"{name}.zarr", check=False)
    names = sample.factor_names
    ds = data.make_dataset(dict(config["dataset"]))
    encode = scores.member_encoder({"name": name}, results / "members" / name / "model.pt")
    train_idx, test_idx, _ = scores.field_points(ds, n_train, n_test, seed)
    t0 = time.perf_counter()
    mu_train, f_train = scores.encode_points(ds, train_idx, encode)
    mu_test, f_test = scores.encode_points(ds, test_idx, encode)
    t_encode = time.perf_counter() - t0
    rows = []
    for importance in ("gbt", "forest"):
        t0 = time.perf_counter()
        s = metrics.all_metrics_split(mu_train, f_train, mu_test, f_test, names, seed=seed, importance=importance)
        rows.append((name, f"field ({len(train_idx):,} + {len(test_idx):,})", importance, s,
                     time.perf_counter() - t0 + t_encode))
    t0 = time.perf_counter()
    s = metrics.all_metrics(post.mu, sample.factors, names, seed=seed, importance="forest")
    rows.append((name, f"sample (N = {post.mu.shape[0]:,})", "forest", s, time.perf_counter() - t0))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, help="a finished run's results directory")
    ap.add_argument("--config", required=True, help="the run's config (its dataset section)")
    ap.add_argument("--members", nargs="+", required=True)
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--n-test", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--block")
    args = ap.parse_args(argv)

    import torch

    from infofrag.config import load_config

    torch.set_num_threads(1)
    config = load_config(args.config)
    lines = ["| member | points | DCI classifier | " + " | ".join(KEYS) + " | seconds |",
             "|---|---|---|" + "---:|" * (len(KEYS) + 1)]
    print("\n".join(lines), flush=True)
    for name in args.members:
        for member, points, clf, s, sec in member_rows(args.results, config, name, args.n_train, args.n_test,
                                                       args.seed):
            lines.append(f"| {member} | {points} | {clf} | " + " | ".join(fmt(s[k]) for k in KEYS)
                         + f" | {sec:.0f} |")
            print(lines[-1], flush=True)
    lines.append("")
    lines.append(f"Command: `python benchmarks/scores_protocols.py {' '.join(argv or sys.argv[1:])}` "
                 "(one thread; seconds include encoding the drawn points for the field rows).")
    print(lines[-1])
    if args.markdown:
        _tables.replace_block(args.markdown, args.block, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
