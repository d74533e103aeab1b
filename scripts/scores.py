"""Rule `scores`: MIG, SAP and DCI of one member (infofrag.stages.scores)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import scores
from infofrag.workflow import Job

with Job(snakemake) as job:
    job.extra.update(scores.run(snakemake.input.posteriors, snakemake.input.sample, snakemake.output.scores))
