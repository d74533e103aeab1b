"""Stage ``boost``: fuse target channels into one representation; the circle ensemble-size sweep."""

from __future__ import annotations

import json
import logging

import numpy as np

from .. import figures
from ..store import fingerprint as fingerprint_store
from ..store import fused as fused_store
from ..store import sample as sample_store
from ..store import similarity as similarity_store
from ..atomic import write_json
from ..store.fingerprint import channel_id, split_id

log = logging.getLogger(__name__)


def choose_targets(sim, hot: dict, target: str, beta=None, max_targets: int | None = None):
    """The channel ids to fuse, and a message when there are none or some were left out.

    ``hotspots``: each hotspot's representative; ``ensemble``: every informative channel (as the
    hotspots stage decided: ``hot["informative"]``); ``beta``: those of one beta. Beyond
    ``max_targets``: the representatives of the largest hotspots, or the most informative
    channels (each target's fingerprint is held, N x N, while fusing)."""
    if target == "hotspots":
        if hot.get("status") != "ok" or not hot.get("hotspots"):
            return [], f"no hotspot to fuse: {hot.get('message') or hot.get('status')}"
        spots = hot["hotspots"]
        if max_targets is not None and len(spots) > max_targets:
            spots = sorted(spots, key=lambda h: (-int(h["size"]), int(h["id"])))[:max_targets]
            spots = sorted(spots, key=lambda h: int(h["id"]))
            note = (f"the representatives of the {max_targets} largest of {len(hot['hotspots'])} hotspots "
                    f"(boost.max_targets)")
        else:
            note = ""
        return [channel_id(h["representative"]["member"], h["representative"]["channel"]) for h in spots], note
    chosen = list(hot["informative"])
    if target == "beta":
        betas = dict(zip((str(c) for c in sim["channel_id"].values), sim["beta"].values))
        chosen = [c for c in chosen if np.isclose(betas[c], float(beta))]
    if not chosen:
        return [], f"no channel above {hot['info_threshold']} bits to fuse for target '{target}'"
    if max_targets is not None and len(chosen) > max_targets:
        info = dict(zip((str(c) for c in sim["channel_id"].values), sim["info_bits"].values))
        keep = set(sorted(chosen, key=lambda c: -float(info[c]))[:max_targets])
        note = f"the {max_targets} most informative of {len(chosen)} channels (boost.max_targets)"
        return [c for c in chosen if c in keep], note
    return chosen, ""


def target_distances(fingerprint_paths: list, ids: list) -> np.ndarray:
    """The Bhattacharyya distances [K, N, N] (float32, the kernel's precision) of the channels
    ``ids``, from the members' fingerprint stores ``fingerprint_paths`` (any order)."""
    by_member = {}
    for path in fingerprint_paths:
        fp = fingerprint_store.read(path, check=False)  # verified by the job
        by_member[fp.member] = fp
    out = None
    for k, cid in enumerate(ids):
        member, channel = split_id(cid)
        D = by_member[member].distances(channel)
        if out is None:
            out = np.empty((len(ids),) + D.shape, dtype=np.float32)
        out[k] = D
    return out


def compare_with_channels(sim, targets: list, fused_bits) -> dict:
    """The fused representation's information next to its targets' and every channel's."""
    info = dict(zip((str(c) for c in sim["channel_id"].values), sim["info_bits"].values.tolist()))
    target_info = [info[t] for t in targets]
    best_channel = float(np.nanmax(sim["info_bits"].values))
    more = fused_bits is not None
    return {"fused_info_bits": fused_bits, "best_single_info_bits": max(target_info),
            "mean_single_info_bits": float(np.mean(target_info)),
            "more_information_than_any_target": bool(more and fused_bits > max(target_info)),
            "best_channel_info_bits": best_channel,
            "more_information_than_any_channel": bool(more and fused_bits > best_channel)}


def factor_nmi(mu, logvar, sample) -> dict:
    """The fused representation's NMI with each ground-truth factor of the sample."""
    from ..estimators import bhattacharyya, labels_to_distances, similarity

    D = bhattacharyya(np.asarray(mu, np.float64), np.asarray(logvar, np.float64))
    nmi, _ = similarity(D[None], labels_to_distances(sample.factors.T))
    return {f: float(v) for f, v in zip(sample.factor_names, nmi[0])}


def circle_sweep(sample, hot: dict, fingerprint_paths: list, settings: dict, workers: int = 1):
    """Fusions of random sub-ensembles of growing size (circle data only) of the informative
    channels, in ``workers`` processes: (rows, message)."""
    from ..circle_fusion import ensemble_size_sweep

    if sample.dataset != "circle":
        return [], "the ensemble-size sweep needs the circle dataset"
    keep = list(hot["informative"])
    if len(keep) < 2:
        return [], "fewer than two informative channels: no ensemble-size sweep"
    angles = np.arctan2(sample.x[:, 1], sample.x[:, 0])
    rows = ensemble_size_sweep(target_distances(fingerprint_paths, keep), sizes=settings["ensemble_sizes"],
                               repeats=settings["repeats"], objectives=settings["objectives"], angles=angles,
                               seed=settings["seed"], dim=settings["dim"], steps=settings["steps"], lr=settings["lr"],
                               optimizer=settings["optimizer"], workers=workers)
    return rows, None


def run(similarity_path, hotspots_path, sample_path, fingerprint_paths: list, settings: dict, out: dict,
        threads: int = 1) -> dict:
    """settings: the config's ``boost`` section; fingerprint_paths: every member's fingerprint
    store; out: paths store, json, curve, picture, continuity."""
    import torch

    from ..boost import fuse

    torch.set_num_threads(threads)
    sim = similarity_store.read(similarity_path, check=False, lazy=True)  # verified by the job; coords only
    hot = json.loads(open(hotspots_path).read())
    sample = sample_store.read(sample_path, check=False)
    targets, message = choose_targets(sim, hot, settings["target"], settings.get("beta"), settings["max_targets"])
    result = {"target": settings["target"], "objective": settings["objective"], "dim": settings["dim"],
              "n_targets": len(targets),
              "targets": [{"member": m, "channel": c} for m, c in map(split_id, targets)]}
    if targets and message:
        result["targets_note"] = message
        log.info("boost: %s", message)
    mu = logvar = np.zeros((sample.n, settings["dim"]), np.float32)
    curve = []
    if targets:
        fused = fuse(target_distances(fingerprint_paths, targets), dim=settings["dim"],
                     objective=settings["objective"], steps=settings["steps"], lr=settings["lr"],
                     seed=settings["seed"], optimizer=settings["optimizer"])
        mu, logvar, curve = fused.mu, fused.logvar, list(fused.curve)
        summary = fused.summary()
        result.update(status=fused.status, message=fused.message, fusion=summary,
                      **compare_with_channels(sim, targets, summary["info_bits"]))
        if fused.status == "ok" and sample.factor_names:
            result["factor_nmi"] = factor_nmi(mu, logvar, sample)
    else:
        result.update(status="skipped", message=message)
    if result["status"] != "ok":
        log.warning("boost: %s", result["message"])
    rows, sweep_message = [], None
    if settings["ensemble_sizes"]:
        rows, sweep_message = circle_sweep(sample, hot, fingerprint_paths, settings, workers=threads)
        result["sweep"] = rows
        if sweep_message:
            result["sweep_message"] = sweep_message
            log.warning("boost: %s", sweep_message)
    write_outputs(result, mu, logvar, curve, sample, rows, sweep_message, settings, out)
    return {"status": result["status"]}


def write_outputs(result, mu, logvar, curve, sample, rows, sweep_message, settings, out) -> None:
    fused_store.write(out["store"], mu, logvar, curve, result["status"], result.get("message"),
                      settings["objective"], settings["target"])
    figures.plot_objective_curve(curve, out["curve"], objective=settings["objective"],
                                 message=result.get("message"))
    if sample.factor_names:
        col = "x" if "x" in sample.factor_names else sample.factor_names[0]
        colour, label = sample.factors[:, sample.factor_names.index(col)], col
    else:
        colour, label = None, ""
    figures.plot_fusion(mu, logvar, colour, label, out["picture"],
                        message=None if result["status"] == "ok" else result["message"])
    figures.plot_continuity(rows, out["continuity"], message=sweep_message)
    write_json(out["json"], result)
