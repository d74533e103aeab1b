"""Nine synthetic spaces (the paper's section 4.1): NMI and VI by fingerprint and by Monte Carlo,
against linear CKA and CKA of the Bhattacharyya matrices, with their Spearman rank agreement.

The spaces are those of :mod:`infofrag.synthetic` (N = 64 points, one hidden position t each).
For every pair of spaces (all 45, the diagonal included as a check):

- fingerprint NMI and VI: ``infofrag.similarity`` of the whole-space Bhattacharyya matrices
  ``infofrag.bhattacharyya(mu, logvar)`` (mu [N, d], float64);
- Monte Carlo NMI and VI: ``infofrag.monte_carlo`` repeated ``--mc-repeats`` times (5) with
  ``--mc-samples`` draws each (2,000), as in the paper; the value is the mean of the repeats,
  its standard error ``sqrt(sum se_r^2) / repeats`` from the repeats' own standard errors;
- linear CKA of the posterior means, and CKA of the Bhattacharyya coefficient matrices exp(-D).

Then the Spearman correlation between every two measures over the 36 pairs of distinct spaces
(VI enters as -VI, so that every measure is a similarity), Markdown tables, and a figure. The
tables are printed, and written into ``docs/replication.md`` between the lines
``<!-- synthetic-spaces:begin -->`` and ``<!-- synthetic-spaces:end -->`` (replacing what is
there), so that rerunning the script regenerates them::

    python benchmarks/synthetic_spaces.py

About two minutes on a 2-core CPU. ``--no-write`` prints only; ``--markdown`` / ``--figure``
choose other files; ``--json`` also saves every number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _tables  # noqa: E402

BLOCK = "synthetic-spaces"
BEGIN = f"<!-- {BLOCK}:begin -->"
END = f"<!-- {BLOCK}:end -->"
DEFAULT_MARKDOWN = ROOT / "docs" / "replication.md"
DEFAULT_FIGURE = ROOT / "docs" / "figures" / "synthetic_spaces.png"

SHORT = {
    "spiral_sharp": "sharp",
    "spiral_mid": "mid",
    "spiral_blurred": "blurred",
    "square_spiral": "sq2",
    "square_spiral_tight": "sq3",
    "line": "line",
    "clusters_quartile": "quart",
    "clusters_side": "side",
    "clusters_overlap": "overlap",
}

MEASURES = (  # key, label; VI is a distance and enters the rank comparison as -VI
    ("nmi_fp", "NMI fingerprint"),
    ("nmi_mc", "NMI Monte Carlo"),
    ("vi_fp", "VI fingerprint (bits)"),
    ("vi_mc", "VI Monte Carlo (bits)"),
    ("cka_linear", "linear CKA (means)"),
    ("cka_bhatt", "CKA of exp(-D)"),
)
SIMILARITY_SIGN = {"vi_fp": -1.0, "vi_mc": -1.0}


def compute(n_points=64, seed=0, mc_samples=2000, mc_repeats=5, mc_seed=0, progress=False):
    """Every measure for every pair of the nine spaces. Returns a dict of arrays (see keys)."""
    import infofrag
    from infofrag.synthetic import kernel_cka, linear_cka, synthetic_spaces

    spaces = synthetic_spaces(n_points, seed)
    names = list(spaces)
    M = len(names)
    D = np.stack([infofrag.bhattacharyya(s.mu, s.logvar, dtype="float64") for s in spaces.values()])
    nmi_fp, vi_fp, terms = infofrag.similarity(D, return_terms=True)
    C = np.exp(-D)
    res = {
        "names": names,
        "spaces": spaces,
        "nmi_fp": np.asarray(nmi_fp, dtype=np.float64),
        "vi_fp": np.asarray(vi_fp, dtype=np.float64),
        "i_fp": np.asarray(terms.i_a, dtype=np.float64),
        "h_fp": np.asarray(terms.h_a, dtype=np.float64),
        "cka_linear": np.array([[linear_cka(spaces[a].mu, spaces[b].mu) for b in names] for a in names]),
        "cka_bhatt": np.array([[kernel_cka(C[i], C[j]) for j in range(M)] for i in range(M)]),
    }
    nmi_mc = np.zeros((M, M))
    nmi_se = np.zeros((M, M))
    vi_mc = np.zeros((M, M))
    vi_se = np.zeros((M, M))
    i_mc = np.zeros((M, 2))  # value, se of I(U;X), from the self-comparison runs
    h_mc = np.zeros((M, 2))  # value, se of H(U) = 2 I(U;X) - I(UU';X)
    spread = []  # per pair: spread of the repeats' NMI over its reported standard error
    pairs = [(a, b) for a in range(M) for b in range(a, M)]
    for k, (a, b) in enumerate(pairs):
        sa, sb = spaces[names[a]], spaces[names[b]]
        runs = [infofrag.monte_carlo(sa.mu, sa.logvar, sb.mu, sb.logvar, n_samples=mc_samples,
                                     seed=mc_seed * 1_000_003 + k * mc_repeats + r, device="cpu")
                for r in range(mc_repeats)]
        for field, val, se in (("nmi", nmi_mc, nmi_se), ("vi", vi_mc, vi_se)):
            v = np.array([getattr(r, field).value for r in runs])
            s = np.array([getattr(r, field).se for r in runs])
            val[a, b] = val[b, a] = v.mean()
            se[a, b] = se[b, a] = np.sqrt(np.sum(s ** 2)) / mc_repeats
        if a == b:
            ia = np.array([r.i_a.value for r in runs])
            ia_se = np.array([r.i_a.se for r in runs])
            h = np.array([2 * r.i_a.value - r.i_aa.value for r in runs])
            i_mc[a] = ia.mean(), np.sqrt(np.sum(ia_se ** 2)) / mc_repeats
            # the se of H from the repeats' spread (the per-run covariance of I and I' is not returned)
            h_mc[a] = h.mean(), (h.std(ddof=1) / np.sqrt(mc_repeats) if mc_repeats > 1 else np.nan)
        elif mc_repeats > 1:
            v = np.array([r.nmi.value for r in runs])
            s = np.array([r.nmi.se for r in runs])
            if s.mean() > 0:
                spread.append(v.std(ddof=1) / s.mean())
        if progress:
            print(f"  Monte Carlo {k + 1}/{len(pairs)}: {names[a]} x {names[b]}", file=sys.stderr, flush=True)
    res.update(nmi_mc=nmi_mc, nmi_mc_se=nmi_se, vi_mc=vi_mc, vi_mc_se=vi_se, i_mc=i_mc, h_mc=h_mc,
               mc_spread_over_se=np.array(spread))
    res["spearman"] = spearman_matrix(res)
    res["settings"] = dict(n_points=n_points, seed=seed, mc_samples=mc_samples, mc_repeats=mc_repeats,
                           mc_seed=mc_seed)
    return res


def off_diagonal(matrix):
    """The values of the pairs of distinct spaces (upper triangle), in a fixed order."""
    iu = np.triu_indices(matrix.shape[0], 1)
    return np.asarray(matrix)[iu]


def spearman_matrix(res):
    """Spearman correlation between the measures over the pairs of distinct spaces (VI as -VI)."""
    from scipy.stats import spearmanr

    keys = [k for k, _ in MEASURES]
    vals = [SIMILARITY_SIGN.get(k, 1.0) * off_diagonal(res[k]) for k in keys]
    out = np.ones((len(keys), len(keys)))
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            out[i, j] = out[j, i] = spearmanr(vals[i], vals[j]).statistic
    return out


# ---------------------------------------------------------------------------------------------
# Markdown


def _matrix_table(res, key, se_key=None, digits=2):
    names = res["names"]
    head = "| | " + " | ".join(SHORT.get(n, n) for n in names) + " |"
    rule = "|---|" + "---:|" * len(names)
    rows = [head, rule]
    for i, a in enumerate(names):
        cells = []
        for j in range(len(names)):
            v = res[key][i, j]
            cell = f"{v:.{digits}f}"
            if se_key is not None:
                cell += f" ± {res[se_key][i, j]:.3f}"
            cells.append(cell)
        rows.append(f"| **{SHORT.get(a, a)}** | " + " | ".join(cells) + " |")
    return rows


def _space_table(res):
    rows = ["| short | space | d | means | sigma | I(U;X) fp | H(U) fp | I(U;X) MC | H(U) MC |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for i, n in enumerate(res["names"]):
        s = res["spaces"][n]
        rows.append(f"| {SHORT.get(n, n)} | `{n}` | {s.dim} | {s.description} | {s.sigma:g} | "
                    f"{res['i_fp'][i]:.2f} | {res['h_fp'][i]:.2f} | "
                    f"{res['i_mc'][i, 0]:.2f} ± {res['i_mc'][i, 1]:.2f} | "
                    f"{res['h_mc'][i, 0]:.2f} ± {res['h_mc'][i, 1]:.2f} |")
    return rows


def _spearman_table(res):
    labels = [lab for _, lab in MEASURES]
    rows = ["| | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for i, lab in enumerate(labels):
        rows.append(f"| **{lab}** | " + " | ".join(f"{res['spearman'][i, j]:.2f}" for j in range(len(labels))) + " |")
    return rows


def _largest_differences(res, n=5):
    d = res["nmi_fp"] - res["nmi_mc"]
    names = res["names"]
    iu = np.triu_indices(len(names), 1)
    order = np.argsort(-np.abs(d[iu]))[:n]
    rows = ["| pair | NMI fingerprint | NMI Monte Carlo | difference |", "|---|---:|---:|---:|"]
    for k in order:
        i, j = iu[0][k], iu[1][k]
        rows.append(f"| {SHORT[names[i]]} x {SHORT[names[j]]} | {res['nmi_fp'][i, j]:.3f} | "
                    f"{res['nmi_mc'][i, j]:.3f} ± {res['nmi_mc_se'][i, j]:.3f} | {d[i, j]:+.3f} |")
    return rows


def markdown(res, seconds, command, figure_rel="figures/synthetic_spaces.png"):
    """The generated block (between the markers) as Markdown lines."""
    import torch

    st = res["settings"]
    spread = res["mc_spread_over_se"]
    diag = np.diag(res["nmi_mc"])
    lines = [
        f"Generated by `{command}` in **{seconds:.0f} s** "
        f"({platform.machine()}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, "
        f"Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}). "
        f"N = {st['n_points']} points (seed {st['seed']}); Monte Carlo {st['mc_repeats']} x "
        f"{st['mc_samples']:,} draws per pair (seed {st['mc_seed']}); ± is one standard error.",
        "",
        "**The spaces** (short names used below; fp: fingerprint; MC: Monte Carlo, from the "
        "comparison of each space with itself):",
        "",
        *_space_table(res),
        "",
        "**Spearman rank correlation between the measures** over the 36 pairs of distinct spaces "
        "(VI enters as -VI, so 1 means the same ranking of pairs from similar to dissimilar):",
        "",
        *_spearman_table(res),
        "",
        "**NMI, fingerprint** (`infofrag.similarity` of the whole-space Bhattacharyya matrices; "
        "diagonal 1 by convention):",
        "",
        *_matrix_table(res, "nmi_fp"),
        "",
        "**NMI, Monte Carlo** (`infofrag.monte_carlo`; the diagonal is each space against an "
        "independent copy of itself, 1 in expectation):",
        "",
        *_matrix_table(res, "nmi_mc", "nmi_mc_se"),
        "",
        "**VI, fingerprint** (bits):",
        "",
        *_matrix_table(res, "vi_fp"),
        "",
        "**VI, Monte Carlo** (bits):",
        "",
        *_matrix_table(res, "vi_mc", "vi_mc_se"),
        "",
        "**Linear CKA** of the posterior means:",
        "",
        *_matrix_table(res, "cka_linear"),
        "",
        "**CKA of the Bhattacharyya coefficient matrices** exp(-D):",
        "",
        *_matrix_table(res, "cka_bhatt"),
        "",
        "**Largest fingerprint - Monte Carlo differences in NMI:**",
        "",
        *_largest_differences(res),
        "",
        f"Monte Carlo checks: the self-comparison NMI lies in [{diag.min():.3f}, {diag.max():.3f}]; "
        + (f"over the 36 pairs, the spread (standard deviation) of the {st['mc_repeats']} repeats' NMI is "
           f"{np.median(spread):.2f} times their reported standard error (median; range "
           f"{spread.min():.2f} to {spread.max():.2f}; 1 is honest, below 1 conservative)."
           if spread.size else "one repeat per pair, no spread to compare."),
        "",
        f"![Nine synthetic spaces and the six measures]({figure_rel})",
    ]
    return lines


def replace_block(path, lines):
    """Replace the text between the markers of ``path`` by ``lines``; error if they are missing."""
    _tables.replace_block(path, BLOCK, lines)


# ---------------------------------------------------------------------------------------------
# Figure


def plot(res, path):
    """The spaces (means coloured by t, one posterior sd as circles) above heat maps of the six
    measures, a scatter of fingerprint against Monte Carlo NMI, and each space's information by
    both estimators; written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import EllipseCollection

    from infofrag.atomic import atomic_path
    from infofrag.synthetic import positions

    names = res["names"]
    labels = [SHORT.get(n, n) for n in names]
    M = len(names)
    t = positions(res["settings"]["n_points"], res["settings"]["seed"])
    fig = plt.figure(figsize=(19, 12.5))
    outer = fig.add_gridspec(3, 1, height_ratios=[0.8, 2.0, 2.0], hspace=0.22)
    top = outer[0].subgridspec(1, M, wspace=0.15)
    cmap = plt.get_cmap("viridis")
    for i, n in enumerate(names):
        ax = fig.add_subplot(top[0, i])
        s = res["spaces"][n]
        mu = s.mu if s.dim == 2 else np.column_stack([s.mu[:, 0], np.zeros(len(s.mu))])
        w = np.full(len(mu), 2 * s.sigma)
        ax.add_collection(EllipseCollection(w, w, np.zeros(len(mu)), units="xy", offsets=mu,
                                            offset_transform=ax.transData, facecolors="none",
                                            edgecolors=cmap(t), alpha=0.35, lw=0.6))
        ax.scatter(mu[:, 0], mu[:, 1], c=t, cmap=cmap, vmin=0, vmax=1, s=7, zorder=3)
        ax.set_aspect("equal")
        lim = 1.25 + (s.sigma if s.sigma > 0.5 else 0.0)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{labels[i]} ({s.dim}-D)\nσ = {s.sigma:g}", fontsize=10)
    vmax_vi = float(max(res["vi_fp"].max(), res["vi_mc"].max()))
    grid = [[("nmi_fp", "NMI, fingerprint"), ("nmi_mc", "NMI, Monte Carlo"), ("cka_linear", "linear CKA of the means")],
            [("vi_fp", "VI, fingerprint (bits)"), ("vi_mc", "VI, Monte Carlo (bits)"), ("cka_bhatt", "CKA of exp(-D)")]]
    for row, panels in enumerate(grid):
        sub = outer[row + 1].subgridspec(1, 4, wspace=0.35, width_ratios=[1, 1, 1, 0.9])
        for col, (key, title) in enumerate(panels):
            ax = fig.add_subplot(sub[0, col])
            m = res[key]
            is_vi = key.startswith("vi")
            vmax = vmax_vi if is_vi else 1.0
            im = ax.imshow(m, vmin=0.0, vmax=vmax, cmap="viridis_r" if is_vi else "viridis")
            for i in range(M):
                for j in range(M):
                    dark = (m[i, j] < 0.5 * vmax) != is_vi
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                            color="w" if dark else "k")
            ax.set_xticks(range(M), labels, rotation=90, fontsize=8)
            ax.set_yticks(range(M), labels, fontsize=8)
            ax.set_title(title, fontsize=11)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        ax = fig.add_subplot(sub[0, 3])
        if row == 0:
            x, y = off_diagonal(res["nmi_mc"]), off_diagonal(res["nmi_fp"])
            ax.errorbar(x, y, xerr=off_diagonal(res["nmi_mc_se"]), fmt="o", ms=3, lw=0.8)
            lo, hi = min(x.min(), y.min()) - 0.05, max(x.max(), y.max()) + 0.05
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_xlabel("NMI, Monte Carlo (± 1 se)")
            ax.set_ylabel("NMI, fingerprint")
            k = [key for key, _ in MEASURES].index("nmi_fp")
            ax.set_title(f"36 pairs: Spearman {res['spearman'][k, k + 1]:.2f}", fontsize=11)
            ax.set_aspect("equal")
        else:
            xs = np.arange(M)
            ax.bar(xs - 0.3, res["i_fp"], 0.2, label="I(U;X) fingerprint", color="C0")
            ax.bar(xs - 0.1, res["i_mc"][:, 0], 0.2, yerr=res["i_mc"][:, 1], label="I(U;X) MC", color="C0", alpha=0.5)
            ax.bar(xs + 0.1, res["h_fp"], 0.2, label="H(U) fingerprint", color="C1")
            ax.bar(xs + 0.3, res["h_mc"][:, 0], 0.2, yerr=res["h_mc"][:, 1], label="H(U) MC", color="C1", alpha=0.5)
            ax.axhline(np.log2(res["settings"]["n_points"]), color="k", lw=0.8, ls="--")
            ax.set_xticks(xs, labels, rotation=90, fontsize=8)
            ax.set_ylabel("bits")
            ax.set_title("information of each space", fontsize=11)
            ax.legend(fontsize=7, loc="upper right")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


# ---------------------------------------------------------------------------------------------


def to_json(res):
    out = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res.items() if k != "spaces"}
    out["spearman_measures"] = [k for k, _ in MEASURES]
    out["spaces"] = {n: dict(sigma=s.sigma, dim=s.dim, description=s.description)
                     for n, s in res["spaces"].items()}
    return out


def run(n_points=64, seed=0, mc_samples=2000, mc_repeats=5, mc_seed=0, markdown_path=DEFAULT_MARKDOWN,
        figure_path=DEFAULT_FIGURE, json_path=None, write=True, command=None, progress=False):
    """Compute, print the tables, and (``write``) put them into ``markdown_path`` and the figure
    at ``figure_path``. Returns (results, seconds, markdown lines)."""
    t0 = time.perf_counter()
    res = compute(n_points, seed, mc_samples, mc_repeats, mc_seed, progress=progress)
    if write:
        plot(res, figure_path)
    seconds = time.perf_counter() - t0
    command = command or "python benchmarks/synthetic_spaces.py"
    try:
        fig_rel = os.path.relpath(figure_path, Path(markdown_path).parent)
    except ValueError:
        fig_rel = str(figure_path)
    lines = markdown(res, seconds, command, fig_rel)
    print("\n".join(lines))
    if write:
        replace_block(markdown_path, lines)
    if json_path:
        from infofrag.atomic import write_text

        write_text(json_path, json.dumps(to_json(res), indent=1) + "\n")
    print(f"\ntook {seconds:.1f} s", file=sys.stderr)
    return res, seconds, lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-points", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0, help="seed of the spaces' positions t")
    ap.add_argument("--mc-samples", type=int, default=2000, help="draws per Monte Carlo repeat")
    ap.add_argument("--mc-repeats", type=int, default=5, help="Monte Carlo repeats per pair")
    ap.add_argument("--mc-seed", type=int, default=0)
    ap.add_argument("--markdown", default=str(DEFAULT_MARKDOWN), help="file with the marker comments")
    ap.add_argument("--figure", default=str(DEFAULT_FIGURE))
    ap.add_argument("--json", default=None, help="also write every number to this JSON file")
    ap.add_argument("--no-write", action="store_true", help="print only; write neither Markdown nor figure")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    argv_used = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/synthetic_spaces.py", *argv_used])
    run(args.n_points, args.seed, args.mc_samples, args.mc_repeats, args.mc_seed, args.markdown,
        args.figure, args.json, not args.no_write, command, args.progress)


if __name__ == "__main__":
    main()
