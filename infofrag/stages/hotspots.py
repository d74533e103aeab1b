"""Stage ``hotspots``: OPTICS on the channel distances; the table, the figures, the traversals."""

from __future__ import annotations

import logging

from .. import store

log = logging.getLogger(__name__)


def collapse_message(result: dict) -> str | None:
    """What to tell the user when no channel of the ensemble carries information."""
    if result.get("n_informative", 1) > 0:
        return None
    return (f"NO CHANNEL CARRIES INFORMATION: all {result.get('n_channels')} channels of the ensemble carry "
            f"at most {result.get('info_threshold')} bits: every member collapsed to its prior. Likely "
            "causes: the data's pixel scale (check dataset.pixel_max and the images' range), a KL weight "
            "(beta) too high for the data, too few training steps, or a learning rate that diverged. "
            "The hotspots, the fusion and the scores of this run describe nothing.")


def collapse_warning(hotspots_json) -> str | None:
    """:func:`collapse_message` of a written hotspot result (None when there is none)."""
    import json

    try:
        return collapse_message(json.loads(open(hotspots_json).read()))
    except (OSError, ValueError):
        return None


def decoder_files(decoders: dict, models: list, imported: list) -> dict:
    """{member: how to load its decoder, with its file}: ``decoders`` as the rule gives them
    (member order; trained members' files are ``models``, imported checkpoints' ``imported``, in
    the same order)."""
    files = {"trained": iter(models), "checkpoint": iter(imported)}
    out = {}
    for name, spec in decoders.items():
        if spec is None:
            out[name] = None
        elif spec["kind"] == "trained":
            out[name] = {"kind": "trained", "path": next(files["trained"])}
        else:
            out[name] = {**spec, "checkpoint": next(files["checkpoint"])}
    return out


def load_decoder(spec: dict | None):
    """(model with ``decode``, likelihood) of a member, or (None, None) when it has no decoder.
    ``spec``: {"kind": "trained", "path"} or {"kind": "checkpoint", "checkpoint", "entry_point",
    "latent_dim"} (an imported member's own loader), or None (posteriors only)."""
    if spec is None:
        return None, None
    if spec["kind"] == "trained":
        from .. import train

        model, meta = train.load_model(spec["path"])
        return model, meta.get("likelihood", "bernoulli")
    from ..imported import ImportedModel

    model = ImportedModel(spec["checkpoint"], spec["entry_point"], spec["latent_dim"])
    return (model, "bernoulli") if model.has_decoder else (None, None)


def traversal_images(result: dict, decoders: dict, posteriors: dict, n_steps: int):
    """Latent traversals of each hotspot's representative: ({row label: images}, message).

    ``decoders``: {member name: how to load its decoder, see :func:`load_decoder`};
    ``posteriors``: {member name: path}. Hotspots whose representative has no decoder (an
    imported member given as posteriors, or without a decoder) are left out, and the message
    says which. No images, and a message, when the data are not images or there is no hotspot."""
    from ..models import traverse

    if not result.get("hotspots"):
        return {}, result.get("message", "no hotspots")
    images, skipped = {}, []
    for h in result["hotspots"]:
        rep = h["representative"]
        model, likelihood = load_decoder(decoders.get(rep["member"]))
        if model is None:
            skipped.append(f"hotspot {h['id']} ({rep['member']})")
            continue
        mu = store.posteriors.read(posteriors[rep["member"]], check=False).mu  # verified by the job
        strip = traverse(model, mu, rep["channel"], n_steps=n_steps, likelihood=likelihood)
        if strip.ndim < 3:
            return {}, "the data are not images: no traversal pictures (see the fused embedding instead)"
        images[f"hotspot {h['id']}: {rep['member']} ch{rep['channel']}"] = strip
    note = (f"no decoder, no traversal: {', '.join(skipped)}" if skipped else None)
    return images, note


def run(similarity_path, models: dict, posterior_paths: list, settings: dict, out: dict,
        threads: int = 1) -> dict:
    """models: {member: how to load its decoder} (:func:`decoder_files`); posterior_paths: each
    member's posteriors store, in member order; settings: the config's ``hotspots`` section; out:
    paths json, csv, overview, per_group, traversals."""
    import torch

    from .. import figures, hotspots

    torch.set_num_threads(threads)
    sim = store.similarity.read(similarity_path, check=False)  # verified by the job
    result = hotspots.find_hotspots(
        sim, info_threshold=settings["info_threshold"], distance=settings["distance"],
        min_samples=settings["min_samples"], xi=settings["xi"],
        min_cluster_size=settings.get("min_cluster_size"), cluster_method=settings["cluster_method"],
        eps=settings.get("eps"))
    if message := collapse_message(result):
        log.error(message)
    hotspots.write_hotspots(result, out["json"], out["csv"])
    figures.plot_hotspot_overview(sim, result, out["overview"])
    figures.plot_per_group(result, out["per_group"])
    posteriors = dict(zip(models, posterior_paths))
    images, message = traversal_images(result, models, posteriors, settings["traversal_steps"])
    figures.plot_traversals(images, out["traversals"], message=message)
    return {"status": result["status"], "n_hotspots": len(result.get("hotspots", []))}
