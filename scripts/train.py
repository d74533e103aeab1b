"""Rule `train`: one ensemble member (infofrag.stages.train)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import train
from infofrag.workflow import Job

p, out = snakemake.params, snakemake.output
with Job(snakemake, config_used={f"member:{p.member['name']}": p.member, "dataset": p.dataset}) as job:
    job.extra.update(train.run(p.member, p.dataset, out.model, out.log, p.resume_dir, p.key, snakemake.threads))
