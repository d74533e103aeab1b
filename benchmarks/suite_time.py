"""How long the test command takes, as CI runs it: a fresh clone of this checkout's HEAD, then
``CI=1 .ci/run`` there (set-up, lint, every test), on an idle machine or with ``--burners N``
CPU-bound processes running beside it the whole time (a busy shared machine). Records the wall
time, the exit status, pytest's closing line, the load average (1-minute, every 15 s) and the
machine, and puts the result in the row of its condition in ``--out``'s table (the other rows
kept), and in the README's block ``suite-time`` with ``--readme``.

    python benchmarks/suite_time.py --out benchmarks/results/suite.md               # idle, ~25 min
    python benchmarks/suite_time.py --burners 4 --out benchmarks/results/suite.md   # 4 busy processes beside
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale import ROOT, LoadMonitor, machine  # noqa: E402
from _tables import replace_block  # noqa: E402

HEADER = ["| condition | result | wall (min) | load during (mean / max) | pytest's closing line |",
          "| --- | --- | ---: | --- | --- |"]


def burn() -> None:
    """A CPU-bound process that never sleeps (what other users' jobs look like to the suite)."""
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2147483648


def run_suite(clone: Path, log: Path, burners: int) -> dict:
    procs = [mp.Process(target=burn, daemon=True) for _ in range(burners)]
    for p in procs:
        p.start()
    load = LoadMonitor()
    load.start()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))  # not this checkout's venv
    t0 = time.monotonic()
    try:
        with open(log, "w") as fh:
            rc = subprocess.run(["bash", ".ci/run"], cwd=clone, stdout=fh, stderr=subprocess.STDOUT,
                                env=dict(env, CI="1")).returncode
    finally:
        wall = time.monotonic() - t0
        load.stop.set()
        for p in procs:
            p.terminate()
    text = log.read_text(errors="replace")
    closing = [line.strip("= ").strip() for line in text.splitlines()
               if re.match(r"^=* ?\d+ (passed|failed|error).* in [\d.]+s", line)]
    return dict(rc=rc, wall=wall, loads=load.samples, closing=closing[-1] if closing else "(no pytest summary)")


def update_table(out: Path, condition: str, row: str, preamble: list[str]) -> list[str]:
    rows = {}
    if out.exists():
        for line in out.read_text().splitlines():
            m = re.match(r"^\| (idle|\d+ CPU-bound processes beside it) \|", line)
            if m:
                rows[m.group(1)] = line
    rows[condition] = row
    order = sorted(rows, key=lambda c: (c != "idle", c))
    lines = preamble + [""] + HEADER + [rows[c] for c in order]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n\nCommands: `python benchmarks/suite_time.py --out "
                   f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}` (idle) and the same with "
                   "`--burners 4`.\n")
    return HEADER + [rows[c] for c in order]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--burners", type=int, default=0, help="CPU-bound processes beside the suite")
    ap.add_argument("--work", default=None, help="where to clone (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the clone and its log")
    ap.add_argument("--out", default=None, help="Markdown file whose table gets this condition's row")
    ap.add_argument("--readme", action="store_true", help="also write the table into README.md's block")
    args = ap.parse_args(argv)

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    if dirty:
        print("note: uncommitted changes are not in the clone; it runs the last commit", file=sys.stderr)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="suite-time-"))
    clone = work / "infofrag"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", head.stdout.strip()], cwd=clone, check=True)
    log = work / "suite.log"
    print(f"running CI=1 .ci/run in {clone} with {args.burners} CPU-bound process(es) beside it; log {log}",
          flush=True)
    res = run_suite(clone, log, args.burners)
    loads = res["loads"] or [os.getloadavg()[0]]
    condition = "idle" if args.burners == 0 else f"{args.burners} CPU-bound processes beside it"
    result = "passed" if res["rc"] == 0 else f"failed (exit {res['rc']})"
    row = (f"| {condition} | {result} | {res['wall'] / 60:.1f} | {sum(loads) / len(loads):.1f} / {max(loads):.1f} | "
           f"{res['closing']} |")
    print(row)
    if args.out:
        out = Path(args.out).resolve()
        preamble = ["# `make test` as CI runs it: a fresh clone, `CI=1 .ci/run`", "",
                    f"{machine()}. Each row: a fresh clone of the checkout, the whole command (virtual "
                    "environment, lint, every test, the real-SLURM test included) timed from start to exit; "
                    "`--burners N` keeps N CPU-bound processes running beside it throughout."]
        table = update_table(out, condition, row, preamble)
        if args.readme:
            replace_block(ROOT / "README.md", "suite-time", table)
    if not args.keep and res["rc"] == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"clone and log kept in {work}")
    return 0 if res["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
