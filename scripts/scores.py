"""Rule `scores`: MIG, SAP and DCI of one member (infofrag.stages.scores)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import scores
from infofrag.workflow import Job

r, i = snakemake.params.run, snakemake.input
used = {f"scores.{k}": v for k, v in r["settings"].items()}
if r["member"] is not None:  # the field protocol: points of the dataset, encoded by the member
    used[f"member:{r['member']['name']}"] = r["member"]
    used["dataset"] = r["dataset"]
with Job(snakemake, config_used=used) as job:
    job.extra.update(scores.run(i.posteriors, i.sample, snakemake.output.scores, settings=r["settings"],
                                dataset=r["dataset"], member=r["member"], model_path=i.get("model"),
                                imported_path=i.get("imported"), threads=snakemake.threads))
