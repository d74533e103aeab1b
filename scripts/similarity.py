"""Rule `similarity`: one shard of the channel similarities (infofrag.stages.similarity)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import similarity
from infofrag.workflow import Job

i, k, wc = snakemake.input, snakemake.params.key, snakemake.wildcards
with Job(snakemake) as job:
    job.extra.update(similarity.run(list(i.rows), list(i.cols), wc.block_a, wc.block_b, snakemake.output.store,
                                    snakemake.threads, threshold=k["bounded_below"]))
