"""Rule `train`: one ensemble member (deterministic; resumes from its last checkpoint)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import torch

from infofrag import data, train
from infofrag.workflow import Job

p = snakemake.params
member = dict(p.member)
with Job(snakemake, config_used={f"member:{member['name']}": member, "dataset": p.dataset}) as job:
    torch.set_num_threads(snakemake.threads)
    dataset = data.make_dataset(dict(p.dataset))
    summary = train.train_member(dataset, dict(member, threads=snakemake.threads),
                                 checkpoint=snakemake.output.model, log=snakemake.output.log,
                                 resume_dir=p.resume_dir)
    job.extra.update({k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool, type(None)))})
