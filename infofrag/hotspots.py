"""Hotspots: information fragments that many members of an ensemble learn again and again.

Input is the gathered similarity store (see :mod:`infofrag.store`): an ``xarray.Dataset`` with
``nmi``/``vi`` over dims ``(a, b)`` (the same M channels along both), per-channel coordinates on
``a`` (``member``, ``beta``, ``seed``, ``channel``, ``info_bits``, ``self_info_bits``) and, where
the dataset has ground-truth factors, ``factor_nmi`` over ``(a, factor)``.

Channels with no more than ``info_threshold`` bits are dropped; OPTICS (scikit-learn, precomputed
metric) orders the rest by their VI (or -log NMI) distances and extracts dense groups: the
hotspots. Entry points: :func:`find_hotspots` -> result dict, :func:`write_hotspots` (JSON + CSV),
:func:`traverse` (latent traversal images of a hotspot's representative channel).
"""

from __future__ import annotations

import csv
import logging
import math

import numpy as np

log = logging.getLogger(__name__)

DISTANCES = ("vi", "neg_log_nmi")
CLUSTER_METHODS = ("xi", "dbscan")

#: NMI values are clipped to [NMI_FLOOR, 1] before -log: two channels that share nothing are at
#: distance -ln(1e-12) ~ 27.6 rather than +inf (OPTICS needs finite distances).
NMI_FLOOR = 1e-12


def channel_distances(ds, distance: str = "vi") -> np.ndarray:
    """The symmetric ``[M, M]`` distance between all channels of the store, zero diagonal.

    ``"vi"``: the generalised VI in bits, tiny negative estimates clipped to 0;
    ``"neg_log_nmi"``: ``-ln NMI`` with NMI clipped to ``[NMI_FLOOR, 1]``.
    """
    if distance == "vi":
        d = np.asarray(ds["vi"].values, dtype=np.float64)
        d = np.clip(d, 0.0, None)
    elif distance == "neg_log_nmi":
        d = np.asarray(ds["nmi"].values, dtype=np.float64)
        d = -np.log(np.clip(d, NMI_FLOOR, 1.0))
    else:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}")
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d


def _finite_or_none(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


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


def find_hotspots(
    ds,
    info_threshold: float = 0.01,
    distance: str = "vi",
    min_samples=3,
    xi: float = 0.05,
    min_cluster_size=None,
    cluster_method: str = "xi",
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
    ``betas``, ``factor_nmi`` {factor: mean NMI}, ``representative`` = the medoid); ``per_beta``
    (hotspots present and the fraction of informative channels in a hotspot, per beta); and
    ``optics`` (``ordering`` as indices into dim ``a``, ``reachability`` and ``labels`` along
    that ordering, ``None`` for an infinite reachability) for :func:`infofrag.figures.plot_hotspot_overview`.
    Non-finite numbers are ``None`` throughout, so ``json.dumps(result, allow_nan=False)`` works.
    """
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}")
    if cluster_method not in CLUSTER_METHODS:
        raise ValueError(f"cluster_method must be one of {CLUSTER_METHODS}; got {cluster_method!r}")
    if cluster_method == "dbscan" and eps is None:
        raise ValueError("eps is required when cluster_method='dbscan' (a distance in the units of 'distance')")
    if not (isinstance(info_threshold, (int, float)) and info_threshold >= 0):
        raise ValueError(f"info_threshold must be a number >= 0; got {info_threshold!r}")
    _check_store(ds)

    members = _coord(ds, "member").astype(str)
    channels = _coord(ds, "channel").astype(int)
    m_all = len(members)
    betas = _coord(ds, "beta", np.full(m_all, np.nan)).astype(float)
    info = _coord(ds, "info_bits").astype(float)
    if "factor" in ds.sizes and "factor_nmi" in ds:
        factor_names = [str(f) for f in np.asarray(ds["factor"].values)]
        factor_nmi = np.asarray(ds["factor_nmi"].transpose("a", "factor").values, dtype=np.float64)
    else:
        factor_names, factor_nmi = [], np.zeros((m_all, 0))
    n_members = int(ds.attrs.get("n_members", len(np.unique(members))))
    nmi_all = np.asarray(ds["nmi"].values, dtype=np.float64)
    nmi_all = 0.5 * (nmi_all + nmi_all.T)

    keep = np.flatnonzero(info > info_threshold)  # NaN information counts as uninformative
    result = {
        "status": "ok",
        "message": "",
        "params": {
            "info_threshold": float(info_threshold), "distance": distance, "min_samples": min_samples,
            "xi": float(xi), "min_cluster_size": min_cluster_size, "cluster_method": cluster_method,
            "eps": None if eps is None else float(eps),
        },
        "info_threshold": float(info_threshold),
        "distance": distance,
        "n_channels": int(m_all),
        "n_informative": int(len(keep)),
        "n_members": n_members,
        "factors": factor_names,
        "n_hotspots": 0,
        "hotspots": [],
        "per_beta": [],
        "optics": {"ordering": [], "reachability": [], "labels": [], "core_distances": []},
    }
    labels_full = np.full(m_all, -1)

    ms = _effective_min_samples(min_samples, len(keep))
    if len(keep) < 2 or len(keep) < ms:
        result["status"] = "too_few_channels"
        result["message"] = (
            f"{len(keep)} of {m_all} channels carry more than {info_threshold} bits; OPTICS needs at "
            f"least max(2, min_samples={ms}): no hotspots"
        )
    else:
        dist = channel_distances(ds, distance)[np.ix_(keep, keep)]
        if not np.isfinite(dist).all():
            raise ValueError(f"the similarity store has non-finite '{'vi' if distance == 'vi' else 'nmi'}' "
                             "values between informative channels")
        from sklearn.cluster import OPTICS

        optics = OPTICS(min_samples=min_samples, metric="precomputed", cluster_method=cluster_method,
                        xi=xi, min_cluster_size=min_cluster_size, eps=eps)
        labels = optics.fit(dist).labels_.copy()
        order = optics.ordering_
        whole = cluster_method == "xi" and len(keep) > 0 and (labels == 0).all()
        if whole:
            # Xi extraction always has the whole ordering as the root of its cluster hierarchy
            # (the reachability plot starts and ends at infinity); it labels it only when no
            # denser group was found inside it: that is no hotspot, whatever the distances.
            labels[:] = -1
        # Relabel hotspots by their first appearance along the OPTICS ordering.
        first_seen = []
        for lab in labels[order]:
            if lab >= 0 and lab not in first_seen:
                first_seen.append(lab)
        relabel = {old: new for new, old in enumerate(first_seen)}
        labels = np.array([relabel.get(lab, -1) for lab in labels])
        labels_full[keep] = labels
        result["optics"] = {
            "ordering": [int(keep[i]) for i in order],
            "reachability": [_finite_or_none(r) for r in optics.reachability_[order]],
            "core_distances": [_finite_or_none(c) for c in optics.core_distances_[order]],
            "labels": [int(labels[i]) for i in order],
        }
        for h in range(len(first_seen)):
            local = np.flatnonzero(labels == h)
            result["hotspots"].append(_describe(
                h, keep[local], dist[np.ix_(local, local)], members, channels, betas, info,
                nmi_all, factor_names, factor_nmi, n_members))
        result["n_hotspots"] = len(result["hotspots"])
        if not result["hotspots"]:
            result["status"] = "no_hotspots"
            result["message"] = (
                f"OPTICS found no cluster among {len(keep)} informative channels "
                f"(min_samples={min_samples}, {cluster_method}"
                + (f", xi={xi}" if cluster_method == "xi" else f", eps={eps}") + ")"
            )
            if whole:
                off = nmi_all[np.ix_(keep, keep)][np.triu_indices(len(keep), k=1)]
                result["message"] += (
                    f": its only cluster is the whole set, no group stands out from the rest "
                    f"(mean NMI between them {off.mean():.3f}; if that is high, they all carry one fragment)"
                )
        else:
            result["message"] = (
                f"{result['n_hotspots']} hotspots among {len(keep)} informative channels "
                f"({int((labels >= 0).sum())} channels in a hotspot)"
            )
    result["per_beta"] = _per_beta(betas, members, info > info_threshold, labels_full)
    if result["status"] != "ok":
        log.warning("hotspots: %s", result["message"])
    else:
        log.info("hotspots: %s", result["message"])
    return result


def _describe(h, idx, dist, members, channels, betas, info, nmi_all, factor_names, factor_nmi, n_members):
    sub = nmi_all[np.ix_(idx, idx)]
    off = sub[np.triu_indices(len(idx), k=1)]
    med = int(np.argmin(dist.sum(1)))
    rep = int(idx[med])
    fn = {}
    for j, name in enumerate(factor_names):
        col = factor_nmi[idx, j]
        fn[name] = _finite_or_none(np.nanmean(col)) if np.isfinite(col).any() else None
    distinct = sorted(set(members[idx].tolist()))
    return {
        "id": int(h),
        "size": int(len(idx)),
        "members": [[str(members[i]), int(channels[i])] for i in idx],
        "index": [int(i) for i in idx],
        "n_members": len(distinct),
        "fraction_members": len(distinct) / n_members if n_members else None,
        "nmi_mean": _finite_or_none(off.mean()) if off.size else None,
        "nmi_std": _finite_or_none(off.std()) if off.size else None,
        "info_bits_mean": _finite_or_none(info[idx].mean()),
        "info_bits_min": _finite_or_none(info[idx].min()),
        "info_bits_max": _finite_or_none(info[idx].max()),
        "betas": sorted({float(b) for b in betas[idx] if math.isfinite(b)}),
        "factor_nmi": fn,
        "representative": {
            "member": str(members[rep]), "channel": int(channels[rep]), "index": rep,
            "info_bits": _finite_or_none(info[rep]), "beta": _finite_or_none(betas[rep]),
        },
    }


def _per_beta(betas, members, informative, labels_full):
    rows = []
    for b in sorted({float(x) for x in betas if math.isfinite(x)}):
        at = np.isclose(betas, b)
        inf_at = at & informative
        hot_at = inf_at & (labels_full >= 0)
        n_inf = int(inf_at.sum())
        rows.append({
            "beta": b,
            "n_members": len(set(members[at].tolist())),
            "n_channels": int(at.sum()),
            "n_informative": n_inf,
            "n_hotspots": len(set(labels_full[hot_at].tolist())),
            "n_in_hotspots": int(hot_at.sum()),
            "fraction_in_hotspots": (int(hot_at.sum()) / n_inf) if n_inf else None,
        })
    return rows


CSV_COLUMNS = [
    "id", "size", "n_members", "fraction_members", "nmi_mean", "nmi_std", "info_bits_mean",
    "info_bits_min", "info_bits_max", "betas", "representative_member", "representative_channel",
]


def hotspot_rows(result: dict) -> tuple[list, list]:
    """The hotspot table as (columns, rows): one row per hotspot, factor NMI as ``nmi_<factor>``."""
    factors = list(result.get("factors", []))
    columns = CSV_COLUMNS + [f"nmi_{f}" for f in factors] + ["members"]
    rows = []
    for h in result.get("hotspots", []):
        row = {k: h.get(k) for k in CSV_COLUMNS[:9]}
        row["betas"] = ";".join(f"{b:g}" for b in h["betas"])
        row["representative_member"] = h["representative"]["member"]
        row["representative_channel"] = h["representative"]["channel"]
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
    from .provenance import write_json_atomic
    from .store import atomic_path

    write_json_atomic(json_path, result)
    columns, rows = hotspot_rows(result)
    with atomic_path(csv_path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            for row in rows:
                w.writerow({k: ("" if v is None else v) for k, v in row.items()})


def traverse(model, mu, channel: int, n_steps: int = 9, span=None, likelihood: str = "bernoulli") -> np.ndarray:
    """Decode while sweeping one latent channel; the other channels sit at their sample mean.

    ``mu`` ``[N, d]`` are the posterior means of the fingerprint sample under ``model``. The swept
    channel runs over ``span`` = ``(lo, hi)``, by default its 2nd to 98th percentile on the sample.
    ``model.decode(z)`` must return logits ``[n, C, H, W]`` (``likelihood="bernoulli"``: the
    images are their sigmoid) or means (``"gaussian"``: returned as they are). Returns float32
    ``[n_steps, H, W]`` for one colour channel, ``[n_steps, H, W, C]`` otherwise (or the decoder
    output as is when it is not an image).
    """
    import torch

    mu = np.asarray(mu, dtype=np.float32)
    if mu.ndim != 2:
        raise ValueError(f"mu must be [N, d]; got shape {mu.shape}")
    if not 0 <= int(channel) < mu.shape[1]:
        raise ValueError(f"channel must be in [0, {mu.shape[1]}); got {channel}")
    if int(n_steps) < 2:
        raise ValueError(f"n_steps must be >= 2; got {n_steps}")
    if likelihood not in ("bernoulli", "gaussian"):
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian'; got {likelihood!r}")
    channel = int(channel)
    if span is None:
        lo, hi = np.percentile(mu[:, channel], [2, 98])
    else:
        lo, hi = (float(v) for v in span)
    z = np.repeat(mu.mean(0, keepdims=True), int(n_steps), axis=0)
    z[:, channel] = np.linspace(lo, hi, int(n_steps), dtype=np.float32)
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):
        device = torch.device("cpu")
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            out = model.decode(torch.from_numpy(z).to(device))
    finally:
        if was_training:
            model.train()
    if likelihood == "bernoulli":
        out = torch.sigmoid(out)
    out = out.float().cpu().numpy()
    if out.ndim == 4:
        out = out[:, 0] if out.shape[1] == 1 else np.moveaxis(out, 1, -1)
    return out.astype(np.float32)
