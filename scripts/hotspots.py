"""Rule `hotspots`: OPTICS on the channel distances; table and figures (infofrag.stages.hotspots)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import hotspots
from infofrag.workflow import Job

p, out = snakemake.params, snakemake.output
with Job(snakemake, config_used={"hotspots": p.settings}) as job:
    job.extra.update(hotspots.run(snakemake.input.similarity, p.models, p.posteriors, p.settings,
                                  dict(out.items()), snakemake.threads))
