"""Rule `spaces_gather`: the shards assembled into results/spaces.zarr, each group's concatenated
space, and the figure (infofrag.stages.spaces, infofrag.figures)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag import figures
from infofrag.stages import spaces
from infofrag.workflow import Job

i, p, out = snakemake.input, snakemake.params, snakemake.output
with Job(snakemake, config_used={f"spaces.{k}": v for k, v in p.settings.items()}) as job:
    ds = spaces.gather(p.labels, p.latent_dims, list(i.posteriors), list(i.shards), p.settings, out.store,
                       snakemake.threads)
    figures.plot_spaces(ds, out.figure)
    job.extra.update({"n_members": ds.attrs["n_members"], "n_groups": ds.attrs["n_groups"]})
