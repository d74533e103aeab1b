"""A failed job never costs the previous result of its rule.

Snakemake deletes a job's outputs just before it runs the job, so a job that then fails leaves
nothing where a good (if older) result was. Before any job runs, :func:`keep` hard-links every
result into ``<results>/.previous/`` (no data is copied; a later atomic replace or a deletion
leaves the linked copy intact). When the run fails, :func:`restore` puts back each result that is
missing now -- exactly the outputs of the jobs that failed -- with its own provenance record,
which still describes it: the next run sees from that record that it is stale and reruns it,
and the audit says so. Results a job finished in this run are newer and are never replaced.
When the run succeeds, :func:`discard` removes the links.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

KEPT = ".previous"
# Snakemake's job logs and benchmarks are not results; dot-folders are the workflow's own
# bookkeeping (key files, this folder).
SKIP_TOP = ("logs", "benchmarks")


def _units(results: Path):
    """The results as units a job writes: a store directory (``*.zarr``) or a file."""
    for top in sorted(results.iterdir()):
        if top.name.startswith(".") or top.name in SKIP_TOP:
            continue
        if top.is_file() or top.suffix == ".zarr":
            yield top
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            stores = [d for d in dirnames if d.endswith(".zarr")]
            for d in stores:
                yield here / d
            dirnames[:] = sorted(d for d in dirnames if not d.endswith(".zarr") and not d.startswith("."))
            for f in sorted(filenames):
                if not f.startswith("."):
                    yield here / f


def _link_tree(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=os.link, symlinks=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.link(src, dst)


def keep(results: str | Path) -> int:
    """Hard-link every result under ``results/.previous`` (replacing an older set); returns how
    many units were kept. A filesystem without hard links keeps nothing (and says so)."""
    results = Path(results)
    kept = results / KEPT
    shutil.rmtree(kept, ignore_errors=True)
    if not results.is_dir():
        return 0
    n = 0
    for unit in _units(results):
        try:
            _link_tree(unit, kept / unit.relative_to(results))
        except OSError as exc:
            shutil.rmtree(kept, ignore_errors=True)
            print(f"infofrag: warning: cannot keep the previous results under {kept} ({exc}); in this run "
                  "a job that fails loses the previous result of its rule", file=sys.stderr)
            return 0
        n += 1
    return n


def restore(results: str | Path) -> list[str]:
    """Put back every kept result that is missing now (with its record); returns their paths
    relative to ``results``."""
    results = Path(results)
    kept = results / KEPT
    if not kept.is_dir():
        return []
    back = []
    for unit in _units_kept(kept):
        rel = unit.relative_to(kept)
        target = results / rel
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(unit, target)
        back.append(rel.as_posix())
        record = unit.with_name(unit.name + ".prov.json")
        if record.exists() and not target.with_name(target.name + ".prov.json").exists():
            os.replace(record, target.with_name(target.name + ".prov.json"))
    return back


def _units_kept(kept: Path):
    for dirpath, dirnames, filenames in os.walk(kept):
        here = Path(dirpath)
        for d in [d for d in dirnames if d.endswith(".zarr")]:
            yield here / d
        dirnames[:] = sorted(d for d in dirnames if not d.endswith(".zarr"))
        for f in sorted(filenames):
            if not f.endswith(".prov.json"):
                yield here / f


def discard(results: str | Path) -> None:
    shutil.rmtree(Path(results) / KEPT, ignore_errors=True)
