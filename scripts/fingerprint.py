"""Rule `fingerprint`: one member's compact fingerprints (infofrag.stages.fingerprint)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import fingerprint
from infofrag.workflow import Job

i = snakemake.input
with Job(snakemake) as job:
    job.extra.update(fingerprint.run(i.posteriors, i.sample, snakemake.output.store))
