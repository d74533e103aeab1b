"""Rule `scores`: MIG, SAP and DCI of one member (infofrag.stages.scores)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import scores
from infofrag.workflow import Job

p, i = snakemake.params, snakemake.input
used = {f"scores.{k}": v for k, v in p.settings.items()}
if p.member is not None:  # the field protocol: points of the dataset, encoded by the member
    used[f"member:{p.member['name']}"] = p.member
    if p.dataset is not None:
        used["dataset"] = p.dataset
with Job(snakemake, config_used=used) as job:
    job.extra.update(scores.run(i.posteriors, i.sample, snakemake.output.scores, settings=p.settings,
                                dataset=p.dataset, member=p.member, model_path=i.get("model"),
                                imported_path=i.get("imported"), threads=snakemake.threads))
