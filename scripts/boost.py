"""Rule `boost`: fuse channels into one representation (infofrag.stages.boost)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import boost
from infofrag.workflow import Job

p, i = snakemake.params, snakemake.input
with Job(snakemake, config_used={"boost": p.settings}) as job:
    job.extra.update(boost.run(i.similarity, i.hotspots, i.sample, list(i.fingerprints), p.settings,
                               dict(snakemake.output.items()), snakemake.threads))
