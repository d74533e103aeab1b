"""Rule `explore`: the interactive explorer of the run, one offline HTML page (infofrag.explore)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag import explore
from infofrag.workflow import Job

i = snakemake.input
with Job(snakemake) as job:
    job.extra.update(explore.build(i.similarity, i.hotspots, i.traversals, i.boost, i.fused, i.sample,
                                   snakemake.output.html, spaces_path=(list(i.spaces) or [None])[0]))
