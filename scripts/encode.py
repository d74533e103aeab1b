"""Rule `encode`: the member's posteriors on the fingerprint sample (infofrag.stages.encode)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import encode
from infofrag.workflow import Job

p, i = snakemake.params, snakemake.input
with Job(snakemake, config_used={f"member:{p.member['name']}": p.member}) as job:
    job.extra.update(encode.run(i.sample, p.member, snakemake.output.store, model_path=i.get("model"),
                                imported_path=i.get("imported"), threads=snakemake.threads))
