"""Stage ``spaces``: whole latent spaces compared, member against member (arXiv:2405.21042,
section 4.3), and each group's concatenated space.

The channel stages compare one latent dimension with another; here each member's whole
d-dimensional posterior space is one representation. Per pair of members (and each member with
itself), from their posteriors on the fingerprint sample:

- **Monte Carlo** (:func:`infofrag.monte_carlo`): NMI, VI, I(U;X), I(V;X), I(UU';X), I(VV';X),
  I(UV;X) and I(U;V), from ``repeats`` independent estimates of ``samples`` draws each: the
  informations are the means of the repeats, NMI and VI are formed from those means (VI clipped
  at 0 only then), and every standard error is the standard deviation of the repeats' own
  values over sqrt(repeats).
- **Fingerprint**: a whole space's Bhattacharyya distance matrix is the sum of its channels'
  (exact for diagonal Gaussians), computed here from the posteriors in float64
  (:func:`infofrag.bhattacharyya` over all d dimensions), then the same terms by
  :func:`infofrag.similarity`. It is cheap and has no sampling error, but it is a lower bound
  on the information (the Bhattacharyya pairwise estimator of a mixture's entropy), and like the
  Monte Carlo estimate it cannot exceed log2 N bits on N sample points: once whole spaces
  resolve most sample points both saturate there, and NMI tends to 1 whatever the spaces carry.

A **group** is all members of one method and value (e.g. every seed of one beta). Its
concatenated space (all its members' channels side by side, each member's posterior independent
given x) carries I(X; concatenation), at least its best member's information; how much more
(``group_excess``) is estimated from the same draws as the best member's, so their errors
largely cancel. Its **consistency** is the mean off-diagonal NMI within the group, with a
jackknife (leave one member out) standard error for three or more members, the pair's Monte
Carlo standard error for two.

Random draws are seeded per pair (and group) from ``seed`` and the member names, so a pair's
numbers do not depend on the shard that computes it.
"""

from __future__ import annotations

import hashlib
import logging
import math

import numpy as np

from ..store import posteriors as posteriors_store
from ..store import spaces as spaces_store
from ..errors import StoreError
from ..estimators import bhattacharyya, information, similarity
from ..measures import nmi_vi_scalar, resolution_bits
from ..montecarlo import monte_carlo
from ..store.spaces import MC_VARIABLES, PAIR_VARIABLES, mirrored

log = logging.getLogger(__name__)

SETTINGS = ("samples", "repeats", "seed")


def draw_seed(seed: int, *names) -> int:
    """The seed of one Monte Carlo estimate, from the configured seed and what it compares."""
    text = ":".join(str(x) for x in (int(seed), *names))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def mean_se(rows) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the repeats (rows) and its standard error, sd / sqrt(repeats)."""
    T = np.asarray(rows, dtype=np.float64)
    return T.mean(0), T.std(0, ddof=1) / math.sqrt(T.shape[0])


def collapsed(info_bits: float, info_se: float, n_points: int) -> bool:
    """Whether a whole space carries no information it can be told to carry: its Monte Carlo
    I(U;X) at most the sample's resolution (:func:`infofrag.measures.resolution_bits`) or within
    three standard errors of 0. Such a space's NMI is undefined (NaN), not noise around a number."""
    return bool(info_bits <= max(resolution_bits(n_points), 3.0 * info_se))


def compare(mu_u, lv_u, mu_v, lv_v, *, samples: int, repeats: int, seed: int, names=(), device=None) -> dict:
    """Monte Carlo terms of spaces U and V: {variable: (value, se)} for
    :data:`~infofrag.store.spaces.PAIR_VARIABLES` (bits), from ``repeats`` estimates of
    ``samples`` draws each, seeded by ``seed`` and ``names`` (what is compared); and
    ``collapsed``: (U's, V's) (:func:`collapsed`).

    The informations are the means of the repeats. VI and NMI are formed from those means (VI
    clipped at 0 only then, so the clip adds no bias; NMI a ratio of means). Every standard error
    is the spread of the repeats' own values over sqrt(repeats). The NMI of a pair with a
    collapsed space is NaN (its standard error too).
    """
    if repeats < 2:
        raise ValueError(f"repeats must be at least 2 (the standard error is their spread), got {repeats}")
    raw = []
    for r in range(repeats):
        res = monte_carlo(mu_u, lv_u, mu_v, lv_v, n_samples=samples, seed=draw_seed(seed, *names, r), device=device)
        raw.append([res.i_a.value, res.i_b.value, res.i_aa.value, res.i_bb.value, res.i_ab.value])
    raw_mean, raw_se = mean_se(raw)
    N = int(np.shape(mu_u)[0])
    gone = (collapsed(raw_mean[0], raw_se[0], N), collapsed(raw_mean[1], raw_se[1], N))
    rows = np.asarray([_derived(r) for r in raw])
    _, se = mean_se(rows)
    value = _derived(raw_mean)
    value[1] = max(value[1], 0.0)  # VI
    if any(gone):
        value[0] = se[0] = math.nan
    out = {v: (float(value[k]), float(se[k])) for k, v in enumerate(PAIR_VARIABLES)}
    out["collapsed"] = gone
    return out


def _derived(terms) -> np.ndarray:
    """[nmi, vi (unclipped), i_u, i_v, i_uu, i_vv, i_joint, shared] from (i_u, i_v, i_uu, i_vv, i_joint)
    (the NMI as a plain ratio: :func:`compare` decides where it is undefined)."""
    i_u, i_v, i_uu, i_vv, i_uv = (float(t) for t in terms)
    shared = i_u + i_v - i_uv
    h_u, h_v = 2 * i_u - i_uu, 2 * i_v - i_vv
    nmi, _ = nmi_vi_scalar(shared, h_u, h_v, False, False)
    return np.array([nmi, 2 * i_uv - i_uu - i_vv, i_u, i_v, i_uu, i_vv, i_uv, shared])


def space_fingerprint(mu, logvar, device=None) -> np.ndarray:
    """The whole space's Bhattacharyya distances [N, N], float64 (the sum of its channels')."""
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    return bhattacharyya(mu[None], logvar[None], device=device)[0]


def fingerprint_terms(Da, Db=None, device=None, dtype=None) -> dict:
    """The fingerprint estimate of every pair: {fp_<variable>: [M, K]} (``Db`` None: pairs within
    ``Da``, NMI exactly 1 and VI 0 on the diagonal). ``Da``, ``Db``: distance stacks or
    :class:`infofrag.estimators.PosteriorSpaces`."""
    nmi, vi, t = similarity(Da, Db, return_terms=True, device=device, dtype=dtype)
    M, K = nmi.shape
    return {"fp_nmi": nmi, "fp_vi": vi,
            "fp_i_u": np.broadcast_to(t.i_a[:, None], (M, K)),
            "fp_i_v": np.broadcast_to(t.i_b[None, :], (M, K)),
            "fp_i_uu": np.broadcast_to(t.i_aa[:, None], (M, K)),
            "fp_i_vv": np.broadcast_to(t.i_bb[None, :], (M, K)),
            "fp_i_joint": t.i_ab, "fp_shared": t.shared}


def _settings(settings: dict) -> dict:
    return {k: int(settings[k]) for k in SETTINGS}


def run(rows: list, cols: list, block_a: str, block_b: str, settings: dict, out_store, groups: dict | None = None,
        threads: int = 1, device=None) -> dict:
    """One shard: the Monte Carlo estimates of the members of block A (``rows``: their posteriors
    stores, member order) against those of block B (``cols``) -- every pair, or with ``groups``
    ({member: group}) the pairs within a group only; settings: samples, repeats, seed."""
    import torch

    torch.set_num_threads(threads)
    s = _settings(settings)
    read = lambda paths: [posteriors_store.read(p, check=False) for p in paths]  # noqa: E731  (verified by the job)
    row_posts, col_posts = read(rows), read(cols)
    posts = {p.member: p for p in row_posts + col_posts}
    m_names, n_names = [p.member for p in row_posts], [p.member for p in col_posts]
    same = m_names == n_names
    values = {v: np.full((len(m_names), len(n_names)), np.nan) for v in MC_VARIABLES}
    estimated = np.zeros((len(m_names), len(n_names)), dtype=bool)
    n_pairs = 0
    for i, a in enumerate(m_names):
        for j, b in enumerate(n_names):
            if (same and j < i) or (groups is not None and groups[a] != groups[b]):
                continue
            est = compare(posts[a].mu, posts[a].logvar, posts[b].mu, posts[b].logvar, samples=s["samples"],
                          repeats=s["repeats"], seed=s["seed"], names=(a, b), device=device)
            est.pop("collapsed")  # the gather decides, from each member's own estimate
            n_pairs += 1
            estimated[i, j] = True
            if same:
                estimated[j, i] = True
            for v, (val, se) in est.items():
                values[v][i, j], values[f"{v}_se"][i, j] = val, se
                if same and i != j:  # the pair (b, a): the same numbers, U and V swapped
                    values[mirrored(v)][j, i], values[mirrored(f"{v}_se")][j, i] = val, se
    N = int(next(iter(posts.values())).mu.shape[0])
    spaces_store.write_shard(out_store, values, estimated, m_names, n_names, block_a, block_b, {**s, "n_points": N})
    return {"n_pairs_estimated": n_pairs, "n_points": N}


# --------------------------------------------------------------------------- gather

def assemble(members: list, shard_paths: list, settings: dict, wanted) -> tuple[dict, np.ndarray]:
    """The [M, M] Monte Carlo matrices of every pair variable from the shards (each mirrored
    across the diagonal, U and V swapped; NaN where no estimate) and which pairs have one; a
    pair ``wanted`` ([M, M] bool) that no shard estimated is an error naming it."""
    pos = {m: i for i, m in enumerate(members)}
    M = len(members)
    mats = {v: np.full((M, M), np.nan) for v in MC_VARIABLES}
    estimated = np.zeros((M, M), dtype=bool)
    s = _settings(settings)
    for path in shard_paths:
        shard = spaces_store.read_shard(path, check=False)  # verified by the job
        if any(int(shard.attrs[k]) != s[k] for k in SETTINGS):
            raise StoreError(f"spaces_gather: shard '{path}' was computed with other settings "
                             f"({ {k: shard.attrs[k] for k in SETTINGS} }, expected {s})")
        try:
            im = np.array([pos[str(a)] for a in shard["m"].values], dtype=int)
            jn = np.array([pos[str(b)] for b in shard["n"].values], dtype=int)
        except KeyError as exc:
            raise StoreError(f"spaces_gather: shard '{path}' holds member {exc} that is not in the ensemble") from None
        done = np.asarray(shard["monte_carlo"].values, dtype=bool)
        diagonal = list(shard["m"].values) == list(shard["n"].values)  # holds both orders already
        ii, jj = np.nonzero(done)
        for v, mat in mats.items():
            vals = np.asarray(shard[v].values)[ii, jj]
            mat[im[ii], jn[jj]] = vals
            if not diagonal:
                mats[mirrored(v)][jn[jj], im[ii]] = vals
        estimated[im[ii], jn[jj]] = estimated[jn[jj], im[ii]] = True
    holes = np.argwhere(wanted & ~estimated)  # not NaN: a collapsed member's NMIs are NaN by design
    if len(holes):
        a, b = holes[0]
        raise StoreError(f"spaces_gather: {len(holes)} member pair(s) have no value (first: {members[a]} x "
                         f"{members[b]}); a spaces shard is missing or incomplete")
    return mats, estimated


def fingerprint_pairs(posts: list, device=None) -> dict:
    """The fingerprint estimate of every member pair, {fp_<variable>: [M, M]}: one pass of the
    similarity kernel over the members' whole spaces, their distances computed as it uses them
    (:class:`infofrag.estimators.PosteriorSpaces`; a member with fewer channels is padded with
    channels that tell no points apart, which add nothing), in float64 like the rest of the stage."""
    import torch

    from ..estimators import PosteriorSpaces

    d = max(int(p.mu.shape[1]) for p in posts)
    N = int(posts[0].mu.shape[0])
    mu = np.zeros((len(posts), N, d))
    lv = np.zeros((len(posts), N, d))
    for k, p in enumerate(posts):
        mu[k, :, :p.mu.shape[1]] = p.mu
        lv[k, :, :p.mu.shape[1]] = p.logvar
    return fingerprint_terms(PosteriorSpaces(mu, lv), device=device, dtype=torch.float64)


def groups_of(members: list, labels: dict) -> list[dict]:
    """Members grouped by method and value (members without a value, imported ones, by method
    alone), groups in order of first appearance."""
    out = {}
    for m in members:
        lab = labels[m]
        key = (str(lab["method"]), None if lab["value"] is None else float(lab["value"]))
        out.setdefault(key, {"method": key[0], "param": lab["param"], "value": key[1], "members": []})
        out[key]["members"].append(m)
    return list(out.values())


def consistency(nmi, nmi_se) -> tuple[float, float]:
    """Mean off-diagonal NMI of a group's [k, k] block and its standard error: jackknife over
    members (leave one out) for k >= 3, the pair's own standard error for k = 2; NaN for k = 1."""
    k = nmi.shape[0]
    if k < 2:
        return math.nan, math.nan
    off = ~np.eye(k, dtype=bool)
    mean = float(nmi[off].mean())
    if k == 2:
        return mean, float(nmi_se[0, 1])
    loo = []
    for i in range(k):
        keep = np.delete(np.arange(k), i)
        sub = nmi[np.ix_(keep, keep)]
        loo.append(sub[~np.eye(k - 1, dtype=bool)].mean())
    loo = np.asarray(loo)
    return mean, float(math.sqrt((k - 1) / k * np.sum((loo - loo.mean()) ** 2)))


def group_result(group: dict, index: dict, posts: dict, pairs: dict, settings: dict, chosen=None,
                 device=None) -> dict:
    """A group's concatenated space against its best member (Monte Carlo, same draws), the
    fingerprint information of both, and the group's consistency. ``chosen``: the members with
    Monte Carlo estimates (None: all); the concatenation and the Monte Carlo consistency are over
    the group's chosen members, the fingerprint consistency over all of them."""
    everyone = group["members"]
    names = [m for m in everyone if chosen is None or m in chosen]
    idx = np.array([index[m] for m in names])
    info = pairs["i_u"][idx, idx]
    best = names[int(np.nanargmax(info))] if np.isfinite(info).any() else names[0]
    b = index[best]
    out = dict(group, best=best)
    if len(names) == 1:  # the concatenation is the member itself
        out.update(group_info=pairs["i_u"][b, b], group_info_se=pairs["i_u_se"][b, b],
                   group_best_info=pairs["i_u"][b, b], group_best_info_se=pairs["i_u_se"][b, b],
                   group_excess=0.0, group_excess_se=0.0)
    else:
        mu = np.concatenate([posts[m].mu for m in names], axis=1)
        lv = np.concatenate([posts[m].logvar for m in names], axis=1)
        rows = []
        for r in range(settings["repeats"]):
            res = monte_carlo(mu, lv, posts[best].mu, posts[best].logvar, n_samples=settings["samples"],
                              seed=draw_seed(settings["seed"], "group", group["method"], group["value"], r),
                              device=device)
            rows.append([res.i_a.value, res.i_b.value, res.i_a.value - res.i_b.value])
        mean, se = mean_se(rows)
        out.update(group_info=mean[0], group_info_se=se[0], group_best_info=mean[1], group_best_info_se=se[1],
                   group_excess=mean[2], group_excess_se=se[2])
    mu = np.concatenate([posts[m].mu for m in names], axis=1)
    lv = np.concatenate([posts[m].logvar for m in names], axis=1)
    out["group_fp_info"] = float(information(space_fingerprint(mu, lv, device)[None])[0])
    out["group_fp_best_info"] = float(pairs["fp_i_u"][b, b])
    # consistency among the members that carry information (a collapsed one's NMI is undefined)
    live = idx[~np.isnan(pairs["nmi"][idx, idx])]
    sub = np.ix_(live, live)
    out["group_consistency"], out["group_consistency_se"] = consistency(pairs["nmi"][sub], pairs["nmi_se"][sub])
    all_idx = np.array([index[m] for m in everyone])
    live_fp = all_idx[~np.isnan(pairs["fp_nmi"][all_idx, all_idx])]
    out["group_fp_consistency"] = consistency(pairs["fp_nmi"][np.ix_(live_fp, live_fp)],
                                              np.zeros((len(live_fp),) * 2))[0]
    return out


def gather(labels: dict, latent_dims: dict, posterior_paths: list, shard_paths: list, settings: dict,
           out_store, monte_carlo: dict | None = None, threads: int = 1, device=None):
    """``spaces.zarr`` from the shards, every pair's fingerprint estimate and each group's
    concatenated space; returns the Dataset.

    labels: {member: Member.labels()} in member order; latent_dims: {member: d};
    posterior_paths: each member's posteriors store, in member order; monte_carlo: which pairs
    the shards estimated, ``{"members": [...], "cross_groups": bool, "per_group": k or None}``
    (:class:`infofrag.config.SpacesPlan`; None: every pair)."""
    import torch

    torch.set_num_threads(threads)
    s = _settings(settings)
    members = list(labels)
    M = len(members)
    groups = groups_of(members, labels)
    group_of = {m: k for k, g in enumerate(groups) for m in g["members"]}
    chosen = set(members if monte_carlo is None else monte_carlo["members"])
    cross = monte_carlo is None or monte_carlo["cross_groups"]
    picked = np.array([m in chosen for m in members])
    gid = np.array([group_of[m] for m in members])
    wanted = picked[:, None] & picked[None, :] & (True if cross else gid[:, None] == gid[None, :])
    pairs, estimated = assemble(members, shard_paths, s, wanted)
    posts = {m: posteriors_store.read(p, check=False) for m, p in zip(members, posterior_paths)}  # verified by the job
    pairs.update(fingerprint_pairs([posts[m] for m in members], device))
    N = int(posts[members[0]].mu.shape[0])
    floor = resolution_bits(N)
    gone = np.array([collapsed(pairs["i_u"][k, k], pairs["i_u_se"][k, k], N) if picked[k]
                     else bool(pairs["fp_i_u"][k, k] <= floor) for k in range(M)])
    for v in ("nmi", "nmi_se", "fp_nmi"):  # a collapsed space's NMI is undefined, in both estimates
        pairs[v][gone, :] = np.nan
        pairs[v][:, gone] = np.nan
    index = {m: i for i, m in enumerate(members)}
    results = [group_result(g, index, posts, pairs, s, None if monte_carlo is None else chosen, device)
               for g in groups]
    per_group = None if monte_carlo is None else monte_carlo["per_group"]
    n_estimated = int(np.triu(estimated).sum())
    ds = spaces_store.build(members, labels, latent_dims, pairs, results,
                            {**s, "n_points": N, "log2_n": math.log2(N), "collapsed_below_bits": floor,
                             "monte_carlo_members": "all" if per_group is None else int(per_group),
                             "monte_carlo_cross_groups": int(cross), "monte_carlo_pairs": n_estimated},
                            collapsed=gone, monte_carlo=estimated)
    spaces_store.write(out_store, ds)
    if sentence := collapsed_sentence(ds):
        log.warning("spaces: %s", sentence)
    return ds


# --------------------------------------------------------------------------- summary

def summary_rows(ds) -> list[dict]:
    """One row per group for the summary page."""
    rows = []
    for k in range(ds.sizes["group"]):
        g = ds.isel(group=k)
        rows.append({
            "method": str(g["group_method"].values),
            "value": group_label(str(g["group_param"].values), float(g["group_value"])),
            "members": int(g["group_size"]),
            "NMI within": float(g["group_consistency"]), "± se": float(g["group_consistency_se"]),
            "NMI within (fingerprint)": float(g["group_fp_consistency"]),
            "bits, best member": float(g["group_best_info"]), "best member": str(g["group_best"].values),
            "bits, all concatenated": float(g["group_info"]), "± se ": float(g["group_info_se"]),
            "excess over best": float(g["group_excess"]), "± se  ": float(g["group_excess_se"]),
        })
    return rows


def collapsed_sentence(ds) -> str | None:
    """Which members' whole spaces carry nothing (named, with why their NMIs are NaN), or None."""
    if "collapsed" not in ds.coords:
        return None
    names = [str(m) for m, c in zip(ds["member"].values, ds["collapsed"].values) if c]
    if not names:
        return None
    return (f"{len(names)} member(s) learned nothing their whole space can be told to carry: {', '.join(names)} "
            f"(Monte Carlo I(U;X) at most {ds.attrs['collapsed_below_bits']:.3g} bits, the information of singling "
            f"out one of the {ds.attrs['n_points']} sample points, or within three standard errors of 0). Their NMI "
            "with any member is undefined (NaN), and their groups' NMI within leaves them out.")


def group_label(param: str, value: float) -> str:
    """'beta = 4', or '' for a group without a swept value."""
    return "" if not param or math.isnan(value) else f"{param} = {value:g}"


def summary_sentence(ds) -> str:
    a = ds.attrs
    return (f"Each member's whole latent space against every other: Monte Carlo, {a['repeats']} x "
            f"{a['samples']} draws per estimate (mean ± standard error); fingerprint estimate beside it. "
            f"Information cannot exceed log2 N = {a['log2_n']:.2f} bits on the N = {a['n_points']} sample "
            f"points: spaces near it all look alike (NMI near 1).")
