"""The explorer at scale: page size, build time and memory, and how fast the page answers in a
browser, for synthetic runs of 120 (the demo's size), 3,000 (the paper's) and 18,000 channels.

    python benchmarks/bench_explore.py [--sizes 120 3000 18000] [--out benchmarks/results/explore.md]

Each run is written by tests/helpers/browser.py's ``synthetic_run`` (fragments of unequal size as
hotspots, 5 % of the channels uninformative; whole spaces up to 3,000 channels), then
``infofrag.explore.build`` makes its page: the build's wall time, then its peak of traced
memory (a second build under tracemalloc, which slows it). With Debian's Chromium (headless, as
the tests drive it) it also measures, in the page: the time from navigation to every plot
drawn, and the time to select a hotspot (table and overview redrawn) and to recolour the channels
by method. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _tables import write_table  # noqa: E402
from helpers.browser import CHROMIUM, open_page, synthetic_run  # noqa: E402

from infofrag import explore  # noqa: E402

PER_MEMBER = {120: 10, 3000: 6, 18000: 10}
FRAGMENTS = {120: 6, 3000: 12, 18000: 30}


def in_browser(html: Path) -> dict:
    """Milliseconds, measured in the page: navigation to ready, a hotspot selected, a recolouring
    (after one load to warm the browser and the disk cache up)."""
    with open_page(html):
        pass
    with open_page(html) as s:
        timed = s.page.evaluate("""async () => {
            const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            let t = performance.now();
            document.querySelector("#hotspot-table tr[data-hotspot='1']").click();
            await frame();
            const select = performance.now() - t;
            t = performance.now();
            const colour = document.getElementById("colour-by");
            colour.value = "method";
            colour.dispatchEvent(new Event("change"));
            await frame();
            return {select, recolour: performance.now() - t};
        }""")
        return {"ready": float(s.page.get_attribute("body", "data-ready-ms")), **timed,
                "errors": len(s.console_errors), "remote": len(s.remote_requests)}


def measure(n: int, work: Path, browser: bool) -> dict:
    run = synthetic_run(work, n, per_member=PER_MEMBER.get(n, 10), n_fragments=FRAGMENTS.get(n, 12),
                        spaces=n <= 3000)
    t = time.perf_counter()
    result = explore.build(**run["paths"], out_html=work / "index.html")
    seconds = time.perf_counter() - t
    tracemalloc.start()
    explore.build(**run["paths"], out_html=work / "again.html")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    row = {"n": n, "shown": result["n_shown"], "block": result["block"], "mb": result["bytes"] / 2**20,
           "build": seconds, "peak": peak / 2**20, "matrix": n * n * 8 / 2**20,
           "spaces": result["spaces_block"]}
    if browser:
        row.update(in_browser(work / "index.html"))
        if row["errors"] or row["remote"]:
            print(f"{n} channels: {row['errors']} console error(s), {row['remote']} remote request(s)", file=sys.stderr)
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[120, 3000, 18000])
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    browser = Path(CHROMIUM).is_file()
    rows = []
    for n in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"explore{n}-"))
        try:
            rows.append(measure(n, work, browser))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{n} channels done", file=sys.stderr)
    lines = ["| channels (informative) | heatmap cells a side (channels a cell) | page (MiB) | build (s) | "
             "build peak, traced (MiB) | NMI matrix, float64 (MiB) | in Chromium: ready (s) | select a hotspot (ms) "
             "| recolour (ms) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = -(-r["shown"] // r["block"])
        web = (f"{r['ready'] / 1000:.1f} | {r['select']:.0f} | {r['recolour']:.0f}" if browser else "- | - | -")
        lines.append(f"| {r['n']:,} ({r['shown']:,}) | {cells} ({r['block']}) | {r['mb']:.1f} | {r['build']:.1f} | "
                     f"{r['peak']:.0f} | {r['matrix']:,.1f} | {web} |")
    print("\n".join(lines))
    if args.out:
        write_table(args.out, lines, "bench_explore.py", argv)


if __name__ == "__main__":
    main()
