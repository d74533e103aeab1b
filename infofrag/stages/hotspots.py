"""Stage ``hotspots``: OPTICS on the channel distances; the table, the figures, the traversals."""

from __future__ import annotations

import logging

import numpy as np

from ..store import posteriors as posteriors_store
from ..store import similarity as similarity_store

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

    model = ImportedModel(spec["checkpoint"], spec["entry_point"], spec["latent_dim"], member=spec.get("member"))
    return (model, "bernoulli") if model.has_decoder else (None, None)


def traversal_images(result: dict, decoders: dict, posteriors: dict, n_steps: int, image_shape=None):
    """Latent traversals of each hotspot: ({row label: images}, message), and each hotspot's
    ``traversal`` entry set in ``result`` (``member``, ``channel``, and ``note`` when it is not the
    representative; or ``none`` saying why there is no picture).

    The channel drawn is the representative when its member has a decoder, else the hotspot's
    channel nearest the representative whose member has one (``h["by_distance"]``). A decoder's flat output ``[n, H*W]`` is drawn as the dataset's images
    (``image_shape``, e.g. ``(1, 32, 32)``). ``decoders``: {member: how to load its decoder, see
    :func:`load_decoder`}; ``posteriors``: {member: path}."""
    from ..models import traverse

    if not result.get("hotspots"):
        return {}, result.get("message", "no hotspots")
    images, missing = {}, []
    loaded = {}
    for h in result["hotspots"]:
        rep = h["representative"]
        candidates = [(rep["member"], rep["channel"])] + [(m, c) for m, c in h["by_distance"]
                                                          if (m, c) != (rep["member"], rep["channel"])]
        chosen = None
        for member, channel in candidates:
            if member not in loaded:
                loaded[member] = load_decoder(decoders.get(member))
            if loaded[member][0] is not None:
                chosen = (member, channel)
                break
        if chosen is None:
            h["traversal"] = {"none": "no member of this hotspot has a decoder (imported as posteriors, or its "
                                      "entry point gives no decoder)"}
            missing.append(f"hotspot {h['id']}")
            continue
        member, channel = chosen
        model, likelihood = loaded[member]
        mu = posteriors_store.read(posteriors[member], check=False).mu  # verified by the job
        strip = traverse(model, mu, channel, n_steps=n_steps, likelihood=likelihood)
        if strip.ndim == 2 and image_shape is not None and strip.shape[1] == int(np.prod(image_shape)):
            strip = strip.reshape(strip.shape[0], *image_shape[-2:]) if image_shape[0] == 1 else \
                np.moveaxis(strip.reshape(strip.shape[0], *image_shape), 1, -1)
        if strip.ndim < 3:
            for k in result["hotspots"]:
                k["traversal"] = {"none": "the data are not images"}
            return {}, "the data are not images: no traversal pictures (see the fused embedding instead)"
        h["traversal"] = {"member": member, "channel": int(channel)}
        if chosen != (rep["member"], rep["channel"]):
            h["traversal"]["note"] = (f"the representative {rep['member']}:{rep['channel']} has no decoder; "
                                      f"drawn with {member}:{channel}, the nearest channel of the hotspot that has one")
        images[f"hotspot {h['id']}: {member} ch{channel}"] = strip
    note = (f"no traversal for {', '.join(missing)}: no member of it has a decoder" if missing else None)
    return images, note


def run(similarity_path, models: dict, posterior_paths: list, settings: dict, out: dict,
        threads: int = 1, image_shape=None) -> dict:
    """models: {member: how to load its decoder} (:func:`decoder_files`); posterior_paths: each
    member's posteriors store, in member order; settings: the config's ``hotspots`` section; out:
    paths json, csv, overview, per_group, traversals; image_shape: the dataset's (the sample's x)."""
    import torch

    from .. import figures, hotspots

    torch.set_num_threads(threads)
    sim = similarity_store.read(similarity_path, check=False, lazy=True)  # verified by the job; read where used
    result = hotspots.find_hotspots(
        sim, info_threshold=settings["info_threshold"], distance=settings["distance"],
        min_samples=settings["min_samples"], xi=settings["xi"],
        min_cluster_size=settings.get("min_cluster_size"), cluster_method=settings["cluster_method"],
        eps=settings.get("eps"))
    if message := collapse_message(result):
        log.error(message)
    posteriors = dict(zip(models, posterior_paths))
    images, message = traversal_images(result, models, posteriors, settings["traversal_steps"], image_shape)
    if message:
        result["traversal_note"] = message
    hotspots.write_hotspots(result, out["json"], out["csv"])
    figures.plot_hotspot_overview(sim, result, out["overview"])
    figures.plot_per_group(result, out["per_group"])
    figures.plot_traversals(images, out["traversals"], message=message)
    return {"status": result["status"], "n_hotspots": len(result.get("hotspots", []))}
