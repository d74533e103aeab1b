"""Rule `boost`: fuse target channels into one representation; the circle ensemble-size sweep."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import json
from pathlib import Path

import numpy as np
import torch
import xarray as xr

import infofrag
from infofrag import boost, figures
from infofrag.provenance import write_json_atomic
from infofrag.store import open_dataset, write_dataset
from infofrag.workflow import Job

cfg = dict(snakemake.params.settings)
out = snakemake.output


def fingerprint(member, channel):
    path = Path(snakemake.input.similarity).parent / "fingerprints" / member / f"ch{channel}.zarr"
    return open_dataset(path, check=False)["distance"].values  # inputs verified by Job


def choose_targets(sim, hot):
    """(member, channel) pairs to fuse, and a message when there are none."""
    info = sim["info_bits"].values
    threshold = hot.get("info_threshold", 0.01)
    pairs = list(zip(sim["member"].values.tolist(), sim["channel"].values.tolist()))
    if cfg["target"] == "hotspots":
        if hot.get("status") != "ok" or not hot.get("hotspots"):
            return [], f"no hotspot to fuse: {hot.get('message', hot.get('status'))}"
        reps = [(h["representative"]["member"], int(h["representative"]["channel"])) for h in hot["hotspots"]]
        return reps, ""
    keep = info > threshold
    if cfg["target"] == "beta":
        keep &= np.isclose(sim["beta"].values, float(cfg["beta"]))
    chosen = [pairs[i] for i in np.flatnonzero(keep)]
    if not chosen:
        return [], f"no channel above {threshold} bits to fuse for target '{cfg['target']}'"
    return chosen, ""


with Job(snakemake, config_used={"boost": cfg}) as job:
    torch.set_num_threads(snakemake.threads)
    sim = open_dataset(snakemake.input.similarity, check=False)
    hot = json.loads(Path(snakemake.input.hotspots).read_text())
    sample = open_dataset(snakemake.input.sample, check=False)
    factor_names = [str(f) for f in sample["factor"].values]
    factors = sample["factors"].values
    targets, message = choose_targets(sim, hot)
    result = {"target": cfg["target"], "objective": cfg["objective"], "dim": cfg["dim"],
              "n_targets": len(targets), "targets": [{"member": m, "channel": c} for m, c in targets]}
    N = sample.sizes["sample"]
    mu = np.zeros((N, cfg["dim"]), np.float32)
    logvar = np.zeros((N, cfg["dim"]), np.float32)
    curve = []
    if targets:
        D = np.stack([fingerprint(m, c) for m, c in targets])
        fused = boost.fuse(D, dim=cfg["dim"], objective=cfg["objective"], steps=cfg["steps"],
                           lr=cfg["lr"], seed=cfg["seed"])
        mu, logvar, curve = fused.mu, fused.logvar, list(fused.curve)
        result.update(status=fused.status, message=fused.message)
        target_info = [float(sim["info_bits"].values[(sim["member"].values == m) & (sim["channel"].values == c)][0])
                       for m, c in targets]
        result.update(fused_info_bits=fused.info_bits, best_single_info_bits=max(target_info),
                      mean_single_info_bits=float(np.mean(target_info)),
                      mean_nmi_to_targets=fused.mean_nmi, mean_vi_to_targets=fused.mean_vi,
                      mean_shared_bits=fused.mean_shared_bits,
                      more_information_than_any_target=bool(fused.info_bits is not None
                                                            and fused.info_bits > max(target_info)))
        best_channel = float(np.nanmax(sim["info_bits"].values))  # any channel of the ensemble
        result.update(best_channel_info_bits=best_channel,
                      more_information_than_any_channel=bool(fused.info_bits is not None
                                                             and fused.info_bits > best_channel))
        if fused.status == "ok" and factor_names:
            Df = infofrag.bhattacharyya(mu.astype(np.float64), logvar.astype(np.float64))
            nmi, _ = infofrag.similarity(Df[None], infofrag.labels_to_distances(factors.T))
            result["factor_nmi"] = {f: float(v) for f, v in zip(factor_names, nmi[0])}
    else:
        result.update(status="skipped", message=message)
    if result["status"] != "ok":
        job.log.warning("boost: %s", result["message"])

    # The circle demonstration: continuity of fusions of random sub-ensembles of growing size.
    rows = []
    if cfg["ensemble_sizes"]:
        x = sample["x"].values
        angles = np.arctan2(x[:, 1], x[:, 0]) if x.ndim == 2 and x.shape[1] == 2 else None
        info = sim["info_bits"].values
        keep = np.flatnonzero(info > hot.get("info_threshold", 0.01))
        if angles is None:
            result["sweep_message"] = "the ensemble-size sweep needs circle data (2-D points)"
        elif len(keep) < 2:
            result["sweep_message"] = "fewer than two informative channels: no ensemble-size sweep"
        else:
            D_all = np.stack([fingerprint(sim["member"].values[i], int(sim["channel"].values[i])) for i in keep])
            rows = boost.ensemble_size_sweep(D_all, sizes=cfg["ensemble_sizes"], repeats=cfg["repeats"],
                                             objectives=cfg["objectives"], angles=angles, seed=cfg["seed"],
                                             dim=cfg["dim"], steps=cfg["steps"], lr=cfg["lr"])
        result["sweep"] = rows
        if "sweep_message" in result:
            job.log.warning("boost: %s", result["sweep_message"])

    store = xr.Dataset({"mu": (("sample", "dim"), mu), "logvar": (("sample", "dim"), logvar),
                        "objective": ("step", np.asarray(curve, dtype=np.float64))},
                       attrs={"status": result["status"], "message": result.get("message") or "",
                              "objective_name": cfg["objective"], "target": cfg["target"]})
    write_dataset(out.store, store)
    figures.plot_objective_curve(curve, out.curve, objective=cfg["objective"], message=result.get("message"))
    if factor_names:
        col = "x" if "x" in factor_names else factor_names[0]
        colour, label = factors[:, factor_names.index(col)], col
    else:
        colour, label = None, ""
    figures.plot_fusion(mu, logvar, colour, label, out.picture,
                        message=None if result["status"] == "ok" else result["message"])
    figures.plot_continuity(rows, out.continuity, message=result.get("sweep_message"))
    write_json_atomic(out.json, result)
    job.extra.update(status=result["status"])
