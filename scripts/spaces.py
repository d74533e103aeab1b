"""Rule `spaces`: one shard of the whole-latent-space comparison (infofrag.stages.spaces)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import spaces
from infofrag.workflow import Job

i, wc, key = snakemake.input, snakemake.wildcards, snakemake.params.key
settings = key["settings"]
with Job(snakemake, config_used={f"spaces.{k}": v for k, v in settings.items()}) as job:
    job.extra.update(spaces.run(list(i.rows), list(i.cols), wc.block_a, wc.block_b, settings,
                                snakemake.output.store, groups=key["groups"], threads=snakemake.threads))
