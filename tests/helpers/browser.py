"""The explorer's page in a real browser: Debian's Chromium, headless, driven by playwright with
the system browser (never a browser playwright downloads), and synthetic runs of any size to
load in it (also used by benchmarks/bench_explore.py).

:func:`open_page` loads a file from ``file://`` and records every console message, uncaught
error and request of the page; :func:`screenshot_stats` says whether a screenshot shows
something (not blank); :func:`synthetic_run` writes the results the explorer reads for an
ensemble of known fragments.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

#: Debian's chromium (apt-get install chromium); CHROMIUM in the environment names another
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: a headless browser that reaches nothing by itself: no GPU, no first-run, update, sync or QUIC
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: a page is ready when its script says so (every plot drawn), within this many milliseconds
READY_MS = 120_000


def require_chromium() -> str:
    """The browser's path; a missing browser or driver fails the test with the command that
    installs it (the explorer is part of every run: its tests never pass by not running)."""
    import pytest

    missing = []
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -r requirements.txt)")
    if missing:
        pytest.fail("the explorer's browser tests need " + " and ".join(missing)
                    + "; make test installs Chromium when run as root (the browser target)", pytrace=False)
    return CHROMIUM


@dataclasses.dataclass
class Session:
    """A page and what it did: console messages ``(type, text)``, uncaught errors, request URLs."""

    page: object
    console: list
    errors: list
    requests: list

    @property
    def console_errors(self) -> list:
        return [text for kind, text in self.console if kind == "error"] + list(self.errors)

    @property
    def remote_requests(self) -> list:
        """Requests to anything but the page's own file and inline data."""
        return [url for url in self.requests if not url.startswith(("file:", "data:", "about:"))]


@contextlib.contextmanager
def open_page(html: Path, width: int = 1400, height: int = 1000):
    """Load ``html`` from disk in headless Chromium with a fresh profile; yield a :class:`Session`
    once the page's script has drawn everything (``body[data-ready]``)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=require_chromium(), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            session = Session(context.pages[0] if context.pages else context.new_page(), [], [], [])
            context.on("request", lambda r: session.requests.append(r.url))
            session.page.on("console", lambda m: session.console.append((m.type, m.text)))
            session.page.on("pageerror", lambda e: session.errors.append(str(e)))
            session.page.goto(Path(html).resolve().as_uri(), wait_until="load")
            _wait_ready(session)
            yield session
        finally:
            context.close()


def _wait_ready(session: Session) -> None:
    """Wait for the page's script to say it is ready; fail at once, with the errors, if it stopped
    on one (it would never be ready)."""
    from playwright.sync_api import TimeoutError

    for _ in range(READY_MS // 500):
        if session.errors:
            raise AssertionError(f"the page failed while starting: {session.console_errors}")
        try:
            session.page.wait_for_selector("body[data-ready='yes']", state="attached", timeout=500)
            return
        except TimeoutError:
            continue
    raise AssertionError(f"the page was not ready within {READY_MS / 1000:.0f} s: {session.console_errors}")


def plot_point(page, div: str, x: float, y: float, xaxis: str = "xaxis2", yaxis: str = "yaxis2") -> tuple:
    """The viewport coordinates (pixels) of data point (x, y) of a plotly plot, scrolled to the
    middle of the window first (for a real mouse click or hover there)."""
    return tuple(page.evaluate(
        """([div, x, y, xa, ya]) => { const gd = document.getElementById(div), L = gd._fullLayout;
             const at = () => { const box = gd.getBoundingClientRect();
               return [box.left + L[xa]._offset + L[xa].l2p(x), box.top + L[ya]._offset + L[ya].l2p(y)]; };
             window.scrollBy(0, at()[1] - window.innerHeight / 2);
             return at(); }""",
        [div, x, y, xaxis, yaxis]))


def screenshot_stats(png: bytes) -> dict:
    """What a screenshot shows: the fraction of pixels that are not near-white, and the number of
    distinct colours (a blank or failed page has almost none of either)."""
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    flat = rgb.reshape(-1, 3)
    return {"non_white": float((flat.min(axis=1) < 235).mean()),
            "colours": int(len(np.unique(flat[:, 0].astype(np.int64) * 65536 + flat[:, 1].astype(np.int64) * 256 + flat[:, 2])))}


# ------------------------------------------------------------------------------ synthetic runs


def synthetic_nmi(i: np.ndarray, j: np.ndarray, fragment: np.ndarray, informative: np.ndarray) -> np.ndarray:
    """NMI of channels ``i`` x ``j`` (an outer grid): 0.9 within a fragment, 0.05 across, plus a
    small symmetric deterministic wobble (0 to 0.03, 10 levels: compresses like real stores do not,
    so a large store stays small on disk); 1 on the diagonal; NaN where a channel is
    uninformative (pairs bounded, not computed, as in a real run)."""
    I, J = np.asarray(i)[:, None], np.asarray(j)[None, :]
    fi, fj = fragment[I], fragment[J]
    out = np.where((fi == fj) & (fi >= 0), 0.9, 0.05)
    out += ((I + J) * 7 + np.abs(I - J) * 3) % 10 * (0.03 / 9)
    out[I == J] = 1.0
    out[~(informative[I] & informative[J])] = np.nan
    return out


def synthetic_run(root: Path, n_channels: int = 120, per_member: int = 10, n_fragments: int = 6,
                  factors=("shape", "x", "y"), n_points: int = 200, spaces: bool = True, seed: int = 0) -> dict:
    """Write under ``root`` the results the explorer reads for a synthetic ensemble: members of
    two methods at two values, ``per_member`` channels each; fragments of unequal sizes hold 80 %
    of the channels (a fragment is a hotspot, with the channels in fragment order along the
    OPTICS ordering), 5 % carry nothing. The NMI matrix is written in bands (any size fits in
    memory). Returns the paths (keyword arguments of :func:`infofrag.explore.build`, without
    ``out_html``) and the truth: ``fragment`` of each channel, ``ids``, ``members``."""
    import xarray as xr
    import zarr

    from infofrag import figures, store
    from infofrag.atomic import write_json

    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "hotspots").mkdir(parents=True, exist_ok=True)
    (root / "boost").mkdir(parents=True, exist_ok=True)
    M, n_members = n_channels, n_channels // per_member
    assert M == n_members * per_member, "n_channels must be a multiple of per_member"
    methods = [("beta_vae", "b"), ("beta_tcvae", "tc")]
    labels = [dict(method=methods[m % 2][0], param="beta", value=float([1, 4][(m // 2) % 2]), seed=m // 4)
              for m in range(n_members)]
    names = [f"{methods[m % 2][1]}{lab['value']:g}_s{lab['seed']}" for m, lab in enumerate(labels)]
    member = np.repeat(np.arange(n_members), per_member)
    channel = np.tile(np.arange(per_member), n_members)
    ids = [f"{names[m]}/{c}" for m, c in zip(member, channel)]
    p = rng.random(M)
    sizes = np.linspace(1.0, 6.0, n_fragments)
    edges = np.concatenate([[0], np.cumsum(0.8 * sizes / sizes.sum())])
    fragment = np.full(M, -1)
    for f in range(n_fragments):
        fragment[(p >= edges[f]) & (p < edges[f + 1])] = f
    informative = rng.random(M) >= 0.05
    fragment[~informative] = -1
    info = np.where(informative, 1.0 + rng.random(M), 0.001)
    fnmi = 0.02 + 0.85 * ((fragment[:, None] % len(factors)) == np.arange(len(factors))) * (fragment[:, None] >= 0)
    fnmi = fnmi + 0.1 * rng.random((M, len(factors)))
    coord = lambda k: ("member_id", [lab[k] for lab in labels])  # noqa: E731
    small = xr.Dataset(
        {"factor_nmi": (("a", "factor"), fnmi)},
        coords={"a": np.arange(M), "b": np.arange(M), "factor": list(factors), "channel_id": ("a", ids),
                "member": ("a", [names[m] for m in member]), "channel": ("a", channel), "info_bits": ("a", info),
                "method": ("a", [labels[m]["method"] for m in member]),
                "member_id": names, "member_method": coord("method"),
                "member_param": coord("param"), "member_value": coord("value"), "member_seed": coord("seed")},
        attrs={"n_members": n_members, "n_channels": M})
    sim = root / "similarity.zarr"
    chunk = min(M, store.similarity.CHUNK)  # as the gather stage writes it
    with warnings.catch_warnings():  # text in Zarr 3, consolidated metadata: as the real stores
        warnings.simplefilter("ignore")
        small.to_zarr(sim, mode="w", consolidated=False, zarr_format=3)
        nmi = zarr.open_group(str(sim), mode="a").create_array(
            "nmi", shape=(M, M), chunks=(chunk, chunk), dtype="float64", fill_value=np.nan,
            dimension_names=["a", "b"])
        cols = np.arange(M)
        for r0 in range(0, M, chunk):
            nmi[r0:r0 + chunk] = synthetic_nmi(np.arange(r0, min(M, r0 + chunk)), cols, fragment, informative)
        zarr.consolidate_metadata(str(sim))

    keep = np.flatnonzero(informative)
    order, olabels, reach, hotspots = [], [], [], []
    for f in range(n_fragments):
        idx = [int(i) for i in keep if fragment[i] == f]
        if not idx:
            continue
        h = len(hotspots)
        order += idx
        olabels += [h] * len(idx)
        reach += [None if not order[:-len(idx)] else 3.0] + [0.2] * (len(idx) - 1)
        held = sorted({names[member[i]] for i in idx})
        hotspots.append({
            "id": h, "index": idx, "members": [[names[member[i]], int(channel[i])] for i in idx], "size": len(idx),
            "n_members": len(held), "fraction_members": len(held) / n_members, "nmi_mean": 0.915, "nmi_std": 0.009,
            "info_bits_mean": float(info[idx].mean()), "info_bits_min": float(info[idx].min()),
            "info_bits_max": float(info[idx].max()),
            "factor_nmi": {f_: float(fnmi[idx, j].mean()) for j, f_ in enumerate(factors)},
            "found_by_every_method": len({labels[member[i]]["method"] for i in idx}) == 2,
            "groups": sorted({f"{labels[member[i]]['method']} beta={labels[member[i]]['value']:g}" for i in idx}),
            "representative": {"member": names[member[idx[0]]], "channel": int(channel[idx[0]]), "index": idx[0]}})
    rest = [int(i) for i in keep if fragment[i] < 0]
    order += rest
    olabels += [-1] * len(rest)
    reach += [3.0] * len(rest)
    hot = {"status": "ok", "message": f"{len(hotspots)} hotspots among {len(keep)} informative channels",
           "info_threshold": 0.01, "distance": "vi", "n_channels": M, "n_informative": len(keep),
           "informative": [ids[i] for i in keep], "n_members": n_members, "factors": list(factors),
           "n_hotspots": len(hotspots), "hotspots": hotspots,
           "optics": {"ordering": order, "reachability": reach, "labels": olabels, "core_distances": reach}}
    write_json(root / "hotspots" / "hotspots.json", hot)
    yy, xx = np.mgrid[0:16, 0:16]
    strips = {f"hotspot {h['id']}: {h['representative']['member']} ch{h['representative']['channel']}":
              np.stack([np.exp(-((xx - 2 - s) ** 2 + (yy - 8 + h["id"] % 5) ** 2) / 6.0) for s in range(0, 12, 3)])
              for h in hotspots}
    figures.plot_traversals(strips, root / "hotspots" / "traversals.png")

    angle = rng.random(n_points) * 2 * np.pi
    factor_values = np.stack([rng.integers(0, 3, n_points), (angle * 4 / np.pi).astype(int) % 8,
                              rng.integers(0, 8, n_points)][:len(factors)], axis=1)
    mu = np.stack([np.cos(angle), np.sin(angle)], axis=1) + 0.05 * rng.standard_normal((n_points, 2))
    store.fused.write(root / "boost" / "fused.zarr", mu, np.full_like(mu, -3.0), 1 - np.exp(-np.arange(30) / 8),
                      "ok", "30 steps", "nmi", "hotspots")
    write_json(root / "boost" / "boost.json", {
        "status": "ok", "message": "30 steps", "target": "hotspots", "objective": "nmi", "dim": 2,
        "n_targets": len(hotspots), "fused_info_bits": 4.2, "best_channel_info_bits": float(info.max()),
        "best_single_info_bits": float(info.max()), "factor_nmi": {f: 0.5 for f in factors}})
    dataset = type("Synthetic", (), {"name": "synthetic", "likelihood": "bernoulli", "input_shape": (2,),
                                     "n": n_points, "factor_sizes": (3, 8, 8)[:len(factors)]})()
    store.sample.write(root / "sample.zarr", {"x": mu.astype(np.float32), "factors": factor_values,
                                              "factor_names": list(factors), "indices": np.arange(n_points)}, dataset)
    paths = {"similarity_path": sim, "hotspots_path": root / "hotspots" / "hotspots.json",
             "traversals_path": root / "hotspots" / "traversals.png", "boost_path": root / "boost" / "boost.json",
             "fused_path": root / "boost" / "fused.zarr", "sample_path": root / "sample.zarr", "spaces_path": None}
    if spaces:
        paths["spaces_path"] = _synthetic_spaces(root / "spaces.zarr", names, labels, rng)
    return {"paths": paths, "fragment": fragment, "ids": ids, "members": names, "informative": informative,
            "hotspots": hotspots}


def _synthetic_spaces(path: Path, names: list, labels: list, rng) -> Path:
    """A gathered whole-spaces store: members of one group closer (NMI ~0.7) than across (~0.3)."""
    from infofrag import store

    m = len(names)
    keys = [(lab["method"], lab["value"]) for lab in labels]
    groups = list(dict.fromkeys(keys))
    same = np.array([[a == b for b in keys] for a in keys])
    nmi = np.where(same, 0.7, 0.3) + 0.05 * rng.random((m, m))
    nmi = 0.5 * (nmi + nmi.T)
    np.fill_diagonal(nmi, 1.0)
    pairs = {v: np.full((m, m), 0.01) for v in store.spaces.ALL_PAIR_VARIABLES}
    pairs.update(nmi=nmi, fp_nmi=nmi, i_u=np.full((m, m), 5.0), fp_i_u=np.full((m, m), 5.0))
    group_rows = [{"method": g[0], "param": "beta", "value": g[1],
                   "members": [n for n, k in zip(names, keys) if k == g], **{v: 0.5 for v in store.spaces.GROUP_VARIABLES}}
                  for g in groups]
    for g in group_rows:
        g["best"] = g["members"][0]
    ds = store.spaces.build(names, {n: {**lab, "param": "beta"} for n, lab in zip(names, labels)},
                            {n: 10 for n in names}, pairs, group_rows, {"samples": 100, "repeats": 2, "seed": 0,
                                                                        "n_points": 200, "log2_n": 7.64})
    store.spaces.write(path, ds)
    return path


def copy_results(src: Path, dest: Path) -> Path:
    """A private copy of a finished run's results (the reference runs are read-only)."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("members", "posteriors", "fingerprints", "logs"))
    return dest


def hotspot_channel_ids(hotspots_json: Path) -> dict:
    """{hotspot id: set of '<member>/<channel>'} as ``hotspots.json`` lists them."""
    hot = json.loads(Path(hotspots_json).read_text())
    return {h["id"]: {f"{m}/{c}" for m, c in h["members"]} for h in hot["hotspots"]}


def readme_screenshot(html: Path, png: Path, hotspot: int = 0, member: str | None = None,
                      width: int = 1400, height: int = 1150) -> dict:
    """The README's picture of an explorer: hotspot ``hotspot`` selected (its frame drawn thick),
    ``member``'s channels marked, the overview in the window; returns :func:`screenshot_stats`.

        python -c "import sys; sys.path.insert(0, 'tests'); from helpers.browser import readme_screenshot; \\
                   readme_screenshot('results/explore/index.html', 'docs/figures/explore.png', member='b1_s0')"
    """
    with open_page(html, width=width, height=height) as s:
        page = s.page
        if member:
            page.fill("#member-search", member)
            page.press("#member-search", "Enter")
            page.wait_for_selector("#member-channels li")
        page.click(f"#hotspot-table tr[data-hotspot='{hotspot}']")
        page.wait_for_selector(f"#hotspot-detail[data-hotspot='{hotspot}']", state="attached")
        page.evaluate("document.getElementById('overview-section').scrollIntoView()")
        page.evaluate("window.scrollBy(0, -document.getElementById('controls').offsetHeight - 8)")
        page.wait_for_timeout(300)  # the overview's redraw with the thick frame
        shot = page.screenshot()
        if s.console_errors or s.remote_requests:
            raise AssertionError(f"{html}: {s.console_errors} {s.remote_requests}")
    Path(png).write_bytes(shot)
    return screenshot_stats(shot)
