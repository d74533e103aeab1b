"""Rule `sample`: draw the fingerprint sample once (infofrag.stages.sample)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import sample
from infofrag.workflow import Job

p = snakemake.params
with Job(snakemake, config_used={"dataset": p.dataset, "sample": p.sample}) as job:
    job.extra.update(sample.run(p.dataset, p.sample, snakemake.output.store))
