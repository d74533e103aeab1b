"""Rule `boost`: fuse channels into one representation (infofrag.stages.boost)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import boost
from infofrag.workflow import Job

i, settings = snakemake.input, snakemake.params.key["settings"]
with Job(snakemake, config_used={"boost": settings}) as job:
    job.extra.update(boost.run(i.similarity, i.hotspots, i.sample, list(i.fingerprints), settings,
                               dict(snakemake.output.items()), snakemake.threads))
