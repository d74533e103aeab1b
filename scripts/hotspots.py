"""Rule `hotspots`: OPTICS on the channel distances; table, overview figure, traversals."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import torch

from infofrag import figures, hotspots, train
from infofrag.store import open_dataset
from infofrag.workflow import Job

cfg = dict(snakemake.params.settings)
out = snakemake.output
with Job(snakemake, config_used={"hotspots": cfg}) as job:
    torch.set_num_threads(snakemake.threads)
    sim = open_dataset(snakemake.input.similarity, check=False)  # verified by Job on entry
    result = hotspots.find_hotspots(
        sim, info_threshold=cfg["info_threshold"], distance=cfg["distance"],
        min_samples=cfg["min_samples"], xi=cfg["xi"], min_cluster_size=cfg.get("min_cluster_size"),
        cluster_method=cfg["cluster_method"], eps=cfg.get("eps"))
    result["info_threshold"] = cfg["info_threshold"]
    result["settings"] = cfg
    if result["status"] != "ok":
        job.log.warning("hotspots: %s", result["message"])
    hotspots.write_hotspots(result, out.json, out.csv)
    figures.plot_hotspot_overview(sim, result, out.overview)
    figures.plot_per_beta(result, out.per_beta)

    # Latent traversals of each hotspot's representative (medoid) channel.
    models = dict(zip([p.split("/")[-2] for p in snakemake.input.models], snakemake.input.models))
    posteriors = {p.rsplit("/", 1)[-1].removesuffix(".zarr"): p for p in snakemake.input.posteriors}
    images, message = {}, None
    for h in result.get("hotspots", []):
        rep = h["representative"]
        model, meta = train.load_model(models[rep["member"]])
        mu = open_dataset(posteriors[rep["member"]], check=False)["mu"].values
        strip = hotspots.traverse(model, mu, rep["channel"], n_steps=cfg["traversal_steps"],
                                  likelihood=meta.get("likelihood", "bernoulli"))
        if strip.ndim < 3:
            message = "the data are not images: no traversal pictures (see the fused embedding instead)"
            break
        images[f"hotspot {h['id']}: {rep['member']} ch{rep['channel']}"] = strip
    if not result.get("hotspots"):
        message = result.get("message", "no hotspots")
    figures.plot_traversals({} if message else images, out.traversals, message=message)
    job.extra.update(status=result["status"], n_hotspots=len(result.get("hotspots", [])))
