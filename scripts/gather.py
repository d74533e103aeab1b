"""Rule `gather`: the shards assembled into results/similarity.zarr (infofrag.stages.gather)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import gather
from infofrag.workflow import Job

p = snakemake.params
with Job(snakemake) as job:
    job.extra.update(gather.run(p.members, p.n_channels, list(snakemake.input.shards), p.fingerprints,
                                p.scores, snakemake.output.store))
