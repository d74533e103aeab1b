"""Rule `similarity`: one shard of the channel similarities (infofrag.stages.similarity)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import similarity
from infofrag.workflow import Job

p, wc = snakemake.params, snakemake.wildcards
with Job(snakemake) as job:
    job.extra.update(similarity.run(p.rows, p.cols, wc.block_a, wc.block_b, snakemake.output.store,
                                    snakemake.threads))
