"""Hotspots: information fragments that many members of an ensemble learn again and again.

Input is the gathered similarity store (see :mod:`infofrag.store`): an ``xarray.Dataset`` with
``nmi``/``vi`` over dims ``(a, b)`` (the same M channels along both), per-channel coordinates on
``a`` (``member``, ``beta``, ``seed``, ``channel``, ``info_bits``, ``self_info_bits``) and, where
the dataset has ground-truth factors, ``factor_nmi`` over ``(a, factor)``.

Channels with no more than ``info_threshold`` bits are dropped; OPTICS (scikit-learn, precomputed
metric) orders the rest by their VI (or -log NMI) distances and extracts dense groups: the
hotspots. Entry points: :func:`find_hotspots` -> result dict, :func:`write_hotspots` (JSON + CSV).
Latent traversals of a hotspot's representative channel are :func:`infofrag.models.traverse`.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_path, write_json
from .defaults import default
from .values import finite_or_none

log = logging.getLogger(__name__)

DISTANCES = ("vi", "neg_log_nmi")
CLUSTER_METHODS = ("xi", "dbscan")

#: NMI values are clipped to [NMI_FLOOR, 1] before -log: two channels that share nothing are at
#: distance -ln(1e-12) ~ 27.6 rather than +inf (OPTICS needs finite distances).
NMI_FLOOR = 1e-12


def channel_distances(ds, distance: str = default("hotspots.distance")) -> np.ndarray:
    """The symmetric ``[M, M]`` distance between all channels of the store, zero diagonal.

    ``"vi"``: the generalised VI in bits, tiny negative estimates clipped to 0;
    ``"neg_log_nmi"``: ``-ln NMI`` with NMI clipped to ``[NMI_FLOOR, 1]``.
    """
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}")
    d = np.array(ds["vi" if distance == "vi" else "nmi"].values, dtype=np.float64)  # a copy we own
    if distance == "vi":
        np.clip(d, 0.0, None, out=d)
    else:
        np.clip(d, NMI_FLOOR, 1.0, out=d)
        np.log(d, out=d)
        np.negative(d, out=d)
    symmetrise(d)
    np.fill_diagonal(d, 0.0)
    return d


def symmetrise(a: np.ndarray, block: int = 1024) -> np.ndarray:
    """``a`` replaced by ``0.5 * (a + a.T)`` in place, a block pair at a time (the same numbers;
    no second matrix: at a zoo's 10,000 informative channels each is 0.8 GB)."""
    n = a.shape[0]
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        for j0 in range(i0, n, block):
            j1 = min(n, j0 + block)
            m = 0.5 * (a[i0:i1, j0:j1] + a[j0:j1, i0:i1].T)
            a[i0:i1, j0:j1] = m
            a[j0:j1, i0:i1] = m.T
    return a


def informative_factor_nmi(factor_nmi, info_bits, info_threshold: float) -> np.ndarray:
    """Each channel's NMI with each factor ``[M, F]`` as shown to users: NaN for the channels
    with at most ``info_threshold`` bits of I(U;X) (NaN information counts as none).

    The generalised NMI is scale-free: a channel that carries almost nothing keeps an NMI with a
    factor near that of a strong channel of the same shape (about 0.6 for a weak copy of a
    position) until its entropy falls below ``min_bits``, where it drops to 0. Shown beside
    informative channels, such a channel would rank above them; every table and figure that
    shows per-channel factor NMI uses this instead (hotspot factor NMI means, the overview's
    factor strip)."""
    fn = np.array(factor_nmi, dtype=np.float64, copy=True)
    info = np.asarray(info_bits, dtype=np.float64).reshape(-1)
    if fn.ndim != 2 or fn.shape[0] != info.size:
        raise ValueError(f"factor_nmi {fn.shape} and info_bits {info.shape}: expected [M, F] and [M]")
    fn[~(info > info_threshold)] = np.nan
    return fn


def _coord(ds, name, default=None):
    if name in ds.coords or name in ds.data_vars:
        return np.asarray(ds[name].values)
    if default is None:
        raise ValueError(f"the similarity store has no '{name}' coordinate on dim 'a'")
    return default


def _check_store(ds):
    for v in ("nmi", "vi"):
        if v not in ds:
            raise ValueError(f"the similarity store has no '{v}' variable")
        if ds[v].dims != ("a", "b"):
            raise ValueError(f"'{v}' must have dims ('a', 'b'); got {ds[v].dims}")
    if ds.sizes["a"] != ds.sizes["b"]:
        raise ValueError(f"dims 'a' and 'b' must index the same channels; sizes {ds.sizes['a']} and {ds.sizes['b']}")


def _effective_min_samples(min_samples, n):
    """sklearn accepts an int >= 2 or a fraction of the number of points in (0, 1]."""
    if isinstance(min_samples, float) and min_samples <= 1:
        return max(2, int(min_samples * n))  # as scikit-learn rounds it
    return int(min_samples)


@dataclass
class _Channels:
    """What the store says about each channel along dim ``a`` (arrays of length M)."""

    ids: np.ndarray  # channel ids, <member>/<channel>
    members: np.ndarray
    channels: np.ndarray
    betas: np.ndarray
    methods: np.ndarray  # the member's model family (or an imported member's label)
    groups: np.ndarray  # method and sweep value, e.g. "factor_vae gamma=10"
    info: np.ndarray
    factor_names: list
    factor_nmi: np.ndarray  # [M, n_factors]
    n_members: int
    nmi: np.ndarray | None  # [K, K] among the informative channels, symmetrised (set by find_hotspots)
    position: dict  # channel index (dim a) -> its row in ``nmi``
    members_per_method: dict | None = None  # method -> its number of members

    def method_sizes(self) -> dict:
        if self.members_per_method is None:
            out: dict = {}
            for m, meth in dict(zip(self.members.tolist(), self.methods.tolist())).items():
                out[str(meth)] = out.get(str(meth), 0) + 1
            self.members_per_method = out
        return self.members_per_method

    def nmi_of(self, idx) -> np.ndarray:
        """The NMI between informative channels ``idx`` (indices into dim a)."""
        rows = [self.position[int(i)] for i in idx]
        return self.nmi[np.ix_(rows, rows)]


def find_hotspots(
    ds,
    info_threshold: float = default("hotspots.info_threshold"),
    distance: str = default("hotspots.distance"),
    min_samples=default("hotspots.min_samples"),
    xi: float = default("hotspots.xi"),
    min_cluster_size=None,
    cluster_method: str = default("hotspots.cluster_method"),
    eps: float | None = None,
) -> dict:
    """Find hotspots in a gathered similarity store; return a JSON-serialisable dict.

    Parameters map one to one to the ``hotspots`` section of the config: ``info_threshold``
    (bits; channels with ``info_bits <= info_threshold`` are dropped), ``distance`` (``"vi"`` or
    ``"neg_log_nmi"``), and the OPTICS settings ``min_samples``, ``xi``, ``min_cluster_size``
    (default: ``min_samples``), ``cluster_method`` (``"xi"`` or ``"dbscan"``, the latter needs
    ``eps`` in the units of the distance).

    The result holds ``status`` (``"ok"``, ``"too_few_channels"``, ``"no_hotspots"``) and a
    ``message``; ``hotspots`` (a list, in OPTICS order, each with ``id``, ``members`` as
    ``[member, channel]`` pairs, ``index`` into dim ``a``, ``size``, ``n_members``,
    ``fraction_members``, ``nmi_mean``/``nmi_std`` within the hotspot, ``info_bits_mean/min/max``,
    ``betas``, ``methods`` {method: members of it in the hotspot}, ``groups``,
    ``found_by_every_method``, ``factor_nmi`` {factor: mean NMI over its channels, all above
    ``info_threshold``: see :func:`informative_factor_nmi`}, ``representative`` = the
    medoid); ``per_beta`` and ``per_group`` (hotspots present and the fraction of informative
    channels in a hotspot, per beta and per method and sweep value); and
    ``optics`` (``ordering`` as indices into dim ``a``, ``reachability`` and ``labels`` along
    that ordering, ``None`` for an infinite reachability) for :func:`infofrag.figures.plot_hotspot_overview`.
    Non-finite numbers are ``None`` throughout, so ``json.dumps(result, allow_nan=False)`` works.
    """
    _check_arguments(info_threshold, distance, cluster_method, eps)
    _check_store(ds)
    ch = _read_channels(ds)
    keep = np.flatnonzero(ch.info > info_threshold)  # NaN information counts as uninformative
    # factor NMI of uninformative channels is never shown (nor averaged into a hotspot's)
    ch.factor_nmi = informative_factor_nmi(ch.factor_nmi, ch.info, info_threshold)
    settings = dict(min_samples=min_samples, cluster_method=cluster_method, xi=xi,
                    min_cluster_size=min_cluster_size, eps=eps)
    result = _empty_result(info_threshold, distance, settings, ch, keep)
    labels_full = np.full(len(ch.members), -1)
    ms = _effective_min_samples(min_samples, len(keep))
    if len(keep) < 2 or len(keep) < ms:
        result["status"] = "too_few_channels"
        result["message"] = (
            f"{len(keep)} of {len(ch.members)} channels carry more than {info_threshold} bits; OPTICS "
            f"needs at least max(2, min_samples={ms}): no hotspots"
        )
    else:
        inf = ds.isel(a=keep, b=keep)
        ch.nmi = symmetrise(np.array(inf["nmi"].values, dtype=np.float64))
        ch.position = {int(i): k for k, i in enumerate(keep)}
        dist = _informative_distances(ds, distance, keep)
        optics, labels, whole = _run_optics(dist, settings)
        labels_full[keep] = labels
        result["optics"] = _optics_record(optics, labels, keep)
        result["hotspots"] = _describe_all(dist, labels, keep, ch)
        result["n_hotspots"] = len(result["hotspots"])
        result["status"], result["message"] = _status_message(result["hotspots"], keep, labels, whole, ch, settings)
    result["per_beta"] = _per_beta(ch.betas, ch.members, ch.info > info_threshold, labels_full)
    result["per_group"] = _per_group(ch, ch.info > info_threshold, labels_full)
    (log.info if result["status"] == "ok" else log.warning)("hotspots: %s", result["message"])
    return result


def _check_arguments(info_threshold, distance, cluster_method, eps):
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}")
    if cluster_method not in CLUSTER_METHODS:
        raise ValueError(f"cluster_method must be one of {CLUSTER_METHODS}; got {cluster_method!r}")
    if cluster_method == "dbscan" and eps is None:
        raise ValueError("eps is required when cluster_method='dbscan' (a distance in the units of 'distance')")
    if not (isinstance(info_threshold, (int, float)) and info_threshold >= 0):
        raise ValueError(f"info_threshold must be a number >= 0; got {info_threshold!r}")


def _read_channels(ds) -> _Channels:
    members = _coord(ds, "member").astype(str)
    channels = _coord(ds, "channel").astype(int)
    m_all = len(members)
    betas = _coord(ds, "beta", np.full(m_all, np.nan)).astype(float)
    methods, groups = _groups(ds, betas)
    info = _coord(ds, "info_bits").astype(float)
    if "factor" in ds.sizes and "factor_nmi" in ds:
        factor_names = [str(f) for f in np.asarray(ds["factor"].values)]
        factor_nmi = np.asarray(ds["factor_nmi"].transpose("a", "factor").values, dtype=np.float64)
    else:
        factor_names, factor_nmi = [], np.zeros((m_all, 0))
    n_members = int(ds.attrs.get("n_members", len(np.unique(members))))
    ids = np.array([f"{m}/{c}" for m, c in zip(members, channels)], dtype=object)
    return _Channels(ids, members, channels, betas, methods, groups, info, factor_names, factor_nmi, n_members,
                     None, {})


def _groups(ds, betas):
    """Each channel's method and group label: "<method> <param>=<value>" from the store's
    method/param/value coordinates (an imported member: its label alone); a store without them
    (beta-VAE members only) gives "beta_vae beta=<beta>"."""
    m_all = len(betas)
    if "method" not in ds.coords:
        methods = np.array(["beta_vae" if math.isfinite(b) else "" for b in betas], dtype=object)
        return methods.astype(str), np.array([f"beta_vae beta={b:g}" if math.isfinite(b) else ""
                                              for b in betas], dtype=str)
    methods = np.asarray(ds["method"].values).astype(str)
    params = _coord(ds, "param", np.full(m_all, "")).astype(str)
    values = _coord(ds, "value", np.full(m_all, np.nan)).astype(float)
    labels = [f"{m} {p}={v:g}" if p and math.isfinite(v) else m for m, p, v in zip(methods, params, values)]
    return methods, np.array(labels, dtype=str)


def _empty_result(info_threshold, distance, settings, ch, keep) -> dict:
    """The result as it stands before OPTICS, no hotspots: every key, in its final order."""
    eps = settings["eps"]
    params = {
        "info_threshold": float(info_threshold), "distance": distance, "min_samples": settings["min_samples"],
        "xi": float(settings["xi"]), "min_cluster_size": settings["min_cluster_size"],
        "cluster_method": settings["cluster_method"], "eps": None if eps is None else float(eps),
    }
    return {
        "status": "ok",
        "message": "",
        "params": params,
        "info_threshold": float(info_threshold),
        "distance": distance,
        "n_channels": int(len(ch.members)),
        "n_informative": int(len(keep)),
        "informative": [str(c) for c in ch.ids[keep]],
        "n_members": ch.n_members,
        "factors": ch.factor_names,
        "n_hotspots": 0,
        "hotspots": [],
        "per_beta": [],
        "per_group": [],
        "optics": {"ordering": [], "reachability": [], "labels": [], "core_distances": []},
    }


def _informative_distances(ds, distance, keep) -> np.ndarray:
    """The distances between the informative channels only (read from the store as such: never
    the whole matrix over every channel)."""
    dist = channel_distances(ds.isel(a=keep, b=keep), distance)
    if not np.isfinite(dist).all():
        raise ValueError(f"the similarity store has non-finite '{'vi' if distance == 'vi' else 'nmi'}' "
                         "values between informative channels")
    return dist


def _run_optics(dist, settings):
    """Fit OPTICS; return it, the labels numbered by first appearance along its ordering (-1:
    no hotspot), and whether Xi found only the whole set (which is then no hotspot)."""
    import sklearn
    from sklearn.cluster import OPTICS

    optics = OPTICS(metric="precomputed", **settings)
    # the distances were checked finite above; scikit-learn would check the whole matrix again at
    # every step of the ordering (20 s instead of 2 s at 3,000 channels)
    with sklearn.config_context(assume_finite=True):
        labels = optics.fit(dist).labels_.copy()
    whole = settings["cluster_method"] == "xi" and len(labels) > 0 and (labels == 0).all()
    if whole:
        # Xi extraction always has the whole ordering as the root of its cluster hierarchy
        # (the reachability plot starts and ends at infinity); it labels it only when no
        # denser group was found inside it: that is no hotspot, whatever the distances.
        labels[:] = -1
    first_seen = []
    for lab in labels[optics.ordering_]:
        if lab >= 0 and lab not in first_seen:
            first_seen.append(lab)
    relabel = {old: new for new, old in enumerate(first_seen)}
    return optics, np.array([relabel.get(lab, -1) for lab in labels]), whole


def _optics_record(optics, labels, keep) -> dict:
    """The reachability plot along the OPTICS ordering, indices into dim ``a``."""
    order = optics.ordering_
    return {
        "ordering": [int(keep[i]) for i in order],
        "reachability": [finite_or_none(r) for r in optics.reachability_[order]],
        "core_distances": [finite_or_none(c) for c in optics.core_distances_[order]],
        "labels": [int(labels[i]) for i in order],
    }


def _status_message(hotspots, keep, labels, whole, ch, settings) -> tuple[str, str]:
    """Status and message once OPTICS has run: how many hotspots, or why there is none."""
    if hotspots:
        return "ok", (f"{len(hotspots)} hotspots among {len(keep)} informative channels "
                      f"({int((labels >= 0).sum())} channels in a hotspot)")
    method = settings["cluster_method"]
    message = (
        f"OPTICS found no cluster among {len(keep)} informative channels "
        f"(min_samples={settings['min_samples']}, {method}"
        + (f", xi={settings['xi']}" if method == "xi" else f", eps={settings['eps']}") + ")"
    )
    if whole:
        off = ch.nmi_of(keep)[np.triu_indices(len(keep), k=1)]
        message += (
            f": its only cluster is the whole set, no group stands out from the rest "
            f"(mean NMI between them {off.mean():.3f}; if that is high, they all carry one fragment)"
        )
    return "no_hotspots", message


def _describe_all(dist, labels, keep, ch) -> list:
    hotspots = []
    for h in range(labels.max(initial=-1) + 1):
        local = np.flatnonzero(labels == h)
        hotspots.append(_describe(h, keep[local], dist[np.ix_(local, local)], ch))
    return hotspots


def _describe(h, idx, dist, ch: _Channels) -> dict:
    """Hotspot ``h``: its channels ``idx`` (into dim ``a``), their distances ``dist``."""
    sub = ch.nmi_of(idx)
    off = sub[np.triu_indices(len(idx), k=1)]
    med = int(np.argmin(dist.sum(1)))
    rep = int(idx[med])
    nearest = [int(idx[k]) for k in np.argsort(dist[med], kind="stable")]  # the representative first
    fn = {}
    for j, name in enumerate(ch.factor_names):
        col = ch.factor_nmi[idx, j]
        fn[name] = finite_or_none(np.nanmean(col)) if np.isfinite(col).any() else None
    distinct = sorted(set(ch.members[idx].tolist()))
    info, betas = ch.info, ch.betas
    by_method: dict[str, set] = {}
    for i in idx:
        by_method.setdefault(str(ch.methods[i]), set()).add(str(ch.members[i]))
    all_methods = sorted(set(ch.methods.tolist()) - {""})
    sizes = ch.method_sizes()
    return {
        "id": int(h),
        "size": int(len(idx)),
        "members": [[str(ch.members[i]), int(ch.channels[i])] for i in idx],
        "by_distance": [[str(ch.members[i]), int(ch.channels[i])] for i in nearest],
        "index": [int(i) for i in idx],
        "n_members": len(distinct),
        "fraction_members": len(distinct) / ch.n_members if ch.n_members else None,
        "nmi_mean": finite_or_none(off.mean()) if off.size else None,
        "nmi_std": finite_or_none(off.std()) if off.size else None,
        "info_bits_mean": finite_or_none(info[idx].mean()),
        "info_bits_min": finite_or_none(info[idx].min()),
        "info_bits_max": finite_or_none(info[idx].max()),
        "betas": sorted({float(b) for b in betas[idx] if math.isfinite(b)}),
        "methods": {m: len(v) for m, v in sorted(by_method.items())},
        "groups": sorted(set(ch.groups[idx].tolist())),
        "found_by_every_method": len(all_methods) > 1 and set(by_method) >= set(all_methods),
        # the share of each method's members that hold a channel in it, and the one method that
        # alone finds it (when the ensemble has several)
        "method_fraction": {m: len(v) / sizes[m] for m, v in sorted(by_method.items()) if sizes.get(m)},
        "found_only_by": next(iter(by_method)) if len(by_method) == 1 and len(all_methods) > 1 else None,
        "factor_nmi": fn,
        "representative": {
            "member": str(ch.members[rep]), "channel": int(ch.channels[rep]), "index": rep,
            "info_bits": finite_or_none(info[rep]), "beta": finite_or_none(betas[rep]),
        },
    }


def _per_beta(betas, members, informative, labels_full):
    rows = []
    for b in sorted({float(x) for x in betas if math.isfinite(x)}):
        rows.append({"beta": b, **_counts(members, np.isclose(betas, b), informative, labels_full)})
    return rows


def _counts(members, at, informative, labels_full) -> dict:
    """Of the channels ``at``: members, channels, informative ones, hotspots present, and the
    informative channels in a hotspot (count and fraction)."""
    inf_at = at & informative
    hot_at = inf_at & (labels_full >= 0)
    n_inf = int(inf_at.sum())
    return {
        "n_members": len(set(members[at].tolist())),
        "n_channels": int(at.sum()),
        "n_informative": n_inf,
        "n_hotspots": len(set(labels_full[hot_at].tolist())),
        "n_in_hotspots": int(hot_at.sum()),
        "fraction_in_hotspots": (int(hot_at.sum()) / n_inf) if n_inf else None,
    }


def _per_group(ch, informative, labels_full):
    """Per group (method and sweep value), in ensemble order: its members and channels, the
    informative ones, hotspots present and the fraction of informative channels in one."""
    rows = []
    for g in dict.fromkeys(ch.groups.tolist()):
        if not g:
            continue
        at = ch.groups == g
        rows.append({"group": g, "method": str(ch.methods[np.flatnonzero(at)[0]]),
                     **_counts(ch.members, at, informative, labels_full)})
    return rows


CSV_COLUMNS = [
    "id", "size", "n_members", "fraction_members", "nmi_mean", "nmi_std", "info_bits_mean",
    "info_bits_min", "info_bits_max", "betas", "representative_member", "representative_channel",
    "methods", "found_by_every_method", "found_only_by", "method_fraction",
]


def hotspot_rows(result: dict) -> tuple[list, list]:
    """The hotspot table as (columns, rows): one row per hotspot, the most widely found first
    (members holding it, then size), factor NMI as ``nmi_<factor>``."""
    factors = list(result.get("factors", []))
    columns = CSV_COLUMNS + [f"nmi_{f}" for f in factors] + ["members"]
    rows = []
    for h in sorted(result.get("hotspots", []), key=lambda h: (-h["n_members"], -h["size"], h["id"])):
        row = {k: h.get(k) for k in CSV_COLUMNS[:9]}
        row["betas"] = ";".join(f"{b:g}" for b in h["betas"])
        row["representative_member"] = h["representative"]["member"]
        row["representative_channel"] = h["representative"]["channel"]
        row["methods"] = ";".join(f"{m}:{n}" for m, n in h["methods"].items())
        row["found_by_every_method"] = h["found_by_every_method"]
        row["found_only_by"] = h.get("found_only_by") or ""
        row["method_fraction"] = ";".join(f"{m}:{x:.3f}" for m, x in (h.get("method_fraction") or {}).items())
        for f in factors:
            row[f"nmi_{f}"] = h["factor_nmi"].get(f)
        row["members"] = ";".join(f"{m}:{c}" for m, c in h["members"])
        rows.append(row)
    return columns, rows


def write_hotspots(result: dict, json_path, csv_path) -> None:
    """Write the result as JSON (everything) and CSV (the hotspot table), each atomically.

    Whatever the status, both files are written: the JSON says ``status`` and ``message``; the CSV
    then has its header only.
    """
    write_json(json_path, result)
    columns, rows = hotspot_rows(result)
    with atomic_path(csv_path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            for row in rows:
                w.writerow({k: ("" if v is None else v) for k, v in row.items()})
