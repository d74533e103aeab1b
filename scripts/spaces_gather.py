"""Rule `spaces_gather`: the shards assembled into results/spaces.zarr, each group's concatenated
space, and the figure (infofrag.stages.spaces, infofrag.figures)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag import figures
from infofrag.stages import spaces
from infofrag.workflow import Job

i, k, out = snakemake.input, snakemake.params.key, snakemake.output
labels = {m: {x: v for x, v in lab.items() if x != "latent_dim"} for m, lab in k["members"].items()}
dims = {m: lab["latent_dim"] for m, lab in k["members"].items()}
used = {**{f"spaces.{s}": v for s, v in k["settings"].items()}, "spaces.monte_carlo": k["monte_carlo"]}
with Job(snakemake, config_used=used) as job:
    ds = spaces.gather(labels, dims, list(i.posteriors), list(i.shards), k["settings"], out.store,
                       monte_carlo=k["monte_carlo"], threads=snakemake.threads)
    figures.plot_spaces(ds, out.figure)
    job.extra.update({"n_members": ds.attrs["n_members"], "n_groups": ds.attrs["n_groups"]})
