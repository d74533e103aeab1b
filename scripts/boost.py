"""Rule `boost`: fuse channels into one representation (infofrag.stages.boost)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import boost
from infofrag.workflow import Job

p, i = snakemake.params, snakemake.input
with Job(snakemake, config_used={"boost": p.settings, "hotspots.info_threshold": p.info_threshold}) as job:
    job.extra.update(boost.run(i.similarity, i.hotspots, i.sample, p.fingerprints, p.settings,
                               p.info_threshold, dict(snakemake.output.items()), snakemake.threads))
