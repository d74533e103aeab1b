"""Rule `gather`: the shards assembled into results/similarity.zarr (infofrag.stages.gather)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import gather
from infofrag.workflow import Job

i, k = snakemake.input, snakemake.params.key
with Job(snakemake) as job:
    job.extra.update(gather.run(k["members"], list(i.fingerprints), list(i.shards), snakemake.output.store,
                                k["bounded_below"]))
