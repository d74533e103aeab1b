"""Rule `scores`: MIG, SAP and DCI of one member (the coarse, model-level view)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag import metrics
from infofrag.provenance import write_json_atomic
from infofrag.store import open_dataset
from infofrag.workflow import Job

with Job(snakemake) as job:
    post = open_dataset(snakemake.input.posteriors)
    sample = open_dataset(snakemake.input.sample)
    names = [str(f) for f in sample["factor"].values]
    out = {"member": post.attrs["member"], "beta": post.attrs["beta"], "seed": post.attrs["seed"]}
    if names:
        out.update(status="ok", **metrics.all_metrics(post["mu"].values, sample["factors"].values, names))
    else:
        out.update(status="no_factors", message="the dataset has no ground-truth factors")
    write_json_atomic(snakemake.output.scores, out)
