"""Rule `spaces`: one shard of the whole-latent-space comparison (infofrag.stages.spaces)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import spaces
from infofrag.workflow import Job

p, wc = snakemake.params, snakemake.wildcards
with Job(snakemake, config_used={f"spaces.{k}": v for k, v in p.settings.items()}) as job:
    job.extra.update(spaces.run(p.rows, p.cols, wc.block_a, wc.block_b, p.settings, snakemake.output.store,
                                snakemake.threads))
