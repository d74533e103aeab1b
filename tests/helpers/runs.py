"""Run the workflow from tests: a config in a scratch directory, Snakemake as a subprocess, on a
frozen snapshot of the checkout (see :func:`code_root`)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
RES = "results"
#: Safety net of one Snakemake call (seconds): the tiny test config's whole run takes ~2 min on an
#: idle 2-core machine and ~10 min with four CPU-bound processes beside it; a run past this is hung.
RUN_TIMEOUT = 3600
#: Safety net of one short command (a dry run, the command line): ~5 s idle.
SHORT_TIMEOUT = 900

_CODE = {"root": None}


def code_root() -> Path:
    """The checkout the workflow tests run: the session's frozen snapshot (so that edits made to a
    shared working tree meanwhile cannot change the code digests Snakemake compares, nor the code a
    rerun uses), or the checkout itself before the snapshot exists."""
    return _CODE["root"] or ROOT


def freeze(dest: Path) -> Path:
    """Make ``dest`` the session's snapshot of the checkout (taken once; a marker beside it says
    the copy is whole)."""
    whole = dest.with_name(dest.name + ".whole")
    if not whole.exists():
        shutil.rmtree(dest, ignore_errors=True)
        snapshot(dest)
        whole.write_text("ok")
    _CODE["root"] = dest
    return dest


def snapshot(dest: Path) -> Path:
    """A frozen copy of the checkout (workflow + package)."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", "results", ".snakemake", ".venv", "__pycache__", "*.egg-info", ".pytest_cache"))
    return dest


def write_config(workdir: Path, base: str = "test.yaml", name: str = "config.yaml", **changes) -> Path:
    """Copy a shipped config into ``workdir`` with dotted-key changes (``a__b=v`` sets a.b);
    results go to workdir/results."""
    with open(ROOT / "config" / base) as fh:
        cfg = yaml.safe_load(fh)
    cfg["results_dir"] = RES
    for dotted, value in changes.items():
        node = cfg
        *path, last = dotted.split("__")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def env_for(root: Path | None = None, **extra) -> dict:
    root = root or code_root()
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


def smk_command(work: Path, *args, config: str = "config.yaml", root: Path | None = None) -> list[str]:
    root = root or code_root()
    return [sys.executable, "-m", "snakemake", "-s", str(Path(root) / "Snakefile"), "-d", str(work),
            "--configfile", str(work / config), *args]


def still_running(log: str) -> list[str]:
    """The jobs a Snakemake log shows started and not finished: ``rule (wildcards)``."""
    started, done = {}, set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:|\[)", log):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if m:
            jid = re.search(r"jobid: (\d+)", block)
            wc = re.search(r"wildcards: (.*)", block)
            if jid:
                started[jid.group(1)] = m.group(1) + (f" ({wc.group(1).strip()})" if wc else "")
    for jid in re.findall(r"Finished job(?:id)?:? (\d+)", log):
        done.add(jid)
    return [what for jid, what in started.items() if jid not in done]


def run_command(cmd: list[str], *, what: str, timeout: float, env=None, cwd=None) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd)`` with output captured; past ``timeout`` the process group is killed
    and the error says which run it was, how long it ran and, for Snakemake, which jobs were
    still going."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        import signal

        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        going = still_running(out + err)
        raise AssertionError(
            f"{what}: still running after {time.monotonic() - t0:.0f} s (safety net {timeout:.0f} s); "
            + (f"jobs still going: {', '.join(going)}" if going else "no job had started")
            + f"\n--- last output ---\n{(out + err)[-3000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def snakemake(work: Path, *args, config: str = "config.yaml", check=True, timeout=RUN_TIMEOUT,
              root: Path | None = None, env=None):
    """Snakemake on ``work`` (the frozen checkout unless ``root`` is given)."""
    root = root or code_root()
    proc = run_command(smk_command(work, *args, config=config, root=root), timeout=timeout,
                       env=env or env_for(root), what=f"snakemake {' '.join(args)} in {work}")
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def planned_jobs(workdir: Path, config: str = "config.yaml", root: Path | None = None) -> dict[str, int]:
    """Jobs a dry run plans, per rule (empty when everything is up to date)."""
    proc = snakemake(workdir, "-n", config=config, root=root, timeout=SHORT_TIMEOUT)
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


def cli(work: Path, *args, root: Path | None = None, env=None) -> subprocess.CompletedProcess:
    """``python -m infofrag ARGS`` in ``work`` (the frozen checkout's package)."""
    return run_command([sys.executable, "-m", "infofrag", *args], cwd=work, env=env or env_for(root),
                       timeout=SHORT_TIMEOUT, what=f"python -m infofrag {' '.join(args)} in {work}")


def audit(work: Path, result: str, *extra, root: Path | None = None) -> subprocess.CompletedProcess:
    return cli(work, "audit", result, *extra, root=root)


def copy_run(src: Path, dst: Path) -> Path:
    """A private copy of a run (the workflow's paths are relative to the working directory;
    copytree keeps modification times, so Snakemake sees the copy as up to date)."""
    shutil.copytree(src, dst, symlinks=True)
    (dst / "COMPLETE").unlink(missing_ok=True)
    return dst


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digests(work: Path, skip_top=("logs", "benchmarks", ".infofrag-owner.json", ".keys", ".previous")
                 ) -> dict[str, str]:
    """sha256 of every file under results/ (Snakemake's job logs and benchmarks, the note of
    which config owns the directory, the jobs' key files and the previous results kept during a
    run excluded)."""
    res = work / RES
    out = {}
    for p in sorted(res.rglob("*")):
        rel = p.relative_to(res).as_posix()
        if p.is_file() and rel.split("/")[0] not in skip_top:
            out[rel] = sha256(p)
    return out


def leftovers(work: Path) -> list[str]:
    """Temporary names the atomic writers use (``.<name>.tmp-*``): never a finished result."""
    return sorted(p.relative_to(work).as_posix() for p in (work / RES).rglob(".*.tmp-*"))


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in a file (which must hold it)."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def private_checkout(tmp_path: Path) -> Path:
    """A copy of the frozen checkout whose code a test may edit."""
    dest = tmp_path / "checkout"
    shutil.copytree(code_root(), dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def finished_run(base: Path) -> Path:
    """One completed run of config/test.yaml in ``base`` (built once; tests copy it before
    changing anything)."""
    if not (base / "COMPLETE").exists():
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        write_config(base)
        snakemake(base, "--cores", "2")
        (base / "COMPLETE").write_text("ok")
    return base
