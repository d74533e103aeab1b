"""Run the workflow from tests: a config in a scratch directory, Snakemake as a subprocess."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def write_config(workdir: Path, base: str = "test.yaml", name: str = "config.yaml", **changes) -> Path:
    """Copy a shipped config into ``workdir`` with dotted-key changes; results go to workdir/results."""
    with open(ROOT / "config" / base) as fh:
        cfg = yaml.safe_load(fh)
    cfg["results_dir"] = "results"
    for dotted, value in changes.items():
        node = cfg
        *path, last = dotted.split("__")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake(workdir: Path, *args, config: str = "config.yaml", check=True, timeout=1200, root: Path = ROOT):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(Path(root) / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / config), *args]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def snapshot(dest: Path) -> Path:
    """A frozen copy of the checkout (workflow + package), so edits made meanwhile to the
    working tree do not change the code digests a long measurement depends on."""
    import shutil

    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", "results", ".snakemake", ".venv", "__pycache__", "*.egg-info", ".pytest_cache"))
    return dest


def planned_jobs(workdir: Path, config: str = "config.yaml", root: Path = ROOT) -> dict[str, int]:
    """Jobs a dry run plans, per rule (empty when everything is up to date)."""
    proc = snakemake(workdir, "-n", config=config, root=root)
    text = proc.stdout + proc.stderr
    counts = {}
    if "Job stats:" not in text:
        assert "Nothing to be done" in text, text[-3000:]
        return counts
    table = text.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if not m:
            break
        if m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts
