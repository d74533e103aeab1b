"""Rule `summary`: the report's front page (infofrag.stages.summary)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import summary
from infofrag.workflow import Job

i = snakemake.input
with Job(snakemake) as job:
    job.extra.update(summary.run(i.similarity, i.hotspots, i.boost, list(i.scores), snakemake.output.html,
                                 (list(i.spaces) or [None])[0]))
