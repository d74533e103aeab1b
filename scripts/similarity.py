"""Rule `similarity`: one shard of the channel similarities (infofrag.stages.similarity)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import similarity
from infofrag.workflow import Job

i, p, wc = snakemake.input, snakemake.params, snakemake.wildcards
used = {"similarity.bound_uninformative": p.bounded_below is not None}
if p.bounded_below is not None:
    used["hotspots.info_threshold"] = p.bounded_below
with Job(snakemake, config_used=used) as job:
    job.extra.update(similarity.run(list(i.rows), list(i.cols), wc.block_a, wc.block_b, snakemake.output.store,
                                    snakemake.threads, threshold=p.bounded_below))
