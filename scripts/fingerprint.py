"""Rule `fingerprint`: one channel's fingerprint (infofrag.stages.fingerprint)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
from infofrag.stages import fingerprint
from infofrag.workflow import Job

with Job(snakemake) as job:
    job.extra.update(fingerprint.run(snakemake.input.posteriors, snakemake.input.sample,
                                     int(snakemake.wildcards.channel), snakemake.output.store))
