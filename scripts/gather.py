"""Rule `gather`: the shards assembled into results/similarity.zarr (infofrag.stages.gather)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import gather
from infofrag.workflow import Job

i, p = snakemake.input, snakemake.params
with Job(snakemake) as job:
    job.extra.update(gather.run(p.members, list(i.fingerprints), list(i.shards), snakemake.output.store,
                                p.bounded_below))
