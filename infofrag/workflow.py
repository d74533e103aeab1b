"""Glue between Snakemake's ``script:`` object and the package (used by ``scripts/*.py``).

A rule script is an adapter of a few lines::

    with Job(snakemake, config_used={...}) as job:
        job.extra.update(stage.run(...))     # one call into infofrag.stages

On entry the job logs to the rule's log file and checks every input: a file the workflow made
must match its producer's provenance record (a damaged or unrecorded one fails here, naming the
file); a file the user brought (the inputs named in :data:`EXTERNAL_INPUTS`) is recorded by its
digest. On success the job writes its own record, ``snakemake.output.prov``, with the digests
taken on entry (each input is digested once) and the code version the workflow run handed it
(:func:`infofrag.provenance.records.code_version`). On failure it logs the error and writes
nothing more: Snakemake removes the outputs of the failed job, nothing else.

Duck-typed: the package does not import Snakemake.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from . import provenance
from .provenance.checkout import check_job_code
from .provenance.records import handed_env, verify_input

#: named inputs that hold files a user brings (no provenance record of their own)
EXTERNAL_INPUTS = ("data", "imported")
#: the job's key file (infofrag.provenance.current.key_file): bookkeeping, neither verified nor
#: recorded as an input (the record holds the key itself)
KEY_INPUT = "key"


class _LogFile(logging.FileHandler):
    """A log file that, when its disk is full, keeps the lines it could not write in memory and
    writes them with the next line that fits; never prints logging's own error report."""

    def __init__(self, path):
        super().__init__(path, mode="w")
        self.pending: list[str] = []

    def emit(self, record):
        self.pending.append(self.format(record) + self.terminator)
        try:
            if self.stream is None:
                self.stream = self._open()
            self.stream.write("".join(self.pending))
            self.stream.flush()
            self.pending.clear()
        except OSError:
            pass  # the same lines still reach stderr (Snakemake's own log)


def peak_memory_mib() -> float:
    """This process's peak resident memory (MiB; Linux ``ru_maxrss`` is in KiB): exact, where
    Snakemake's benchmark files sample every 0.5 s (every 30 s after the first 30 s)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Job:
    def __init__(self, smk, config_used: dict | None = None):
        self.smk = smk
        self.config_used = config_used or {}
        self.extra: dict = {}
        self.verified: dict = {}  # {input: (its record, its digest)}, checked on entry
        self.started = provenance.now()
        self.t0 = time.time()
        self.log = logging.getLogger(f"infofrag.{smk.rule}")
        #: what decides this job's results (infofrag.keys), recorded with them
        self.key = getattr(smk.params, "key", None)

    @property
    def outputs(self) -> list[str]:
        prov = str(self.smk.output.prov)
        return [str(p) for p in self.smk.output if str(p) != prov]

    @property
    def inputs(self) -> list[str]:
        key = getattr(self.smk.input, KEY_INPUT, None)
        skip = {str(key)} if isinstance(key, (str, Path)) else set()
        return [str(p) for p in self.smk.input if str(p) not in skip]

    @property
    def external_inputs(self) -> list[str]:
        out = []
        for name in EXTERNAL_INPUTS:
            files = getattr(self.smk.input, name, None)
            if files:
                out += [str(files)] if isinstance(files, (str, Path)) else [str(p) for p in files]
        return out

    def __enter__(self):
        handlers = [logging.StreamHandler(sys.stderr)]
        if len(self.smk.log):
            Path(self.smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
            handlers.append(_LogFile(self.smk.log[0]))
        logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.captureWarnings(True)
        wc = dict(self.smk.wildcards.items())
        self.log.info("rule %s %s: %d input(s) -> %s", self.smk.rule, wc or "",
                      len(self.smk.input), ", ".join(self.outputs))
        try:
            # the package this job imported is the one the workflow run digested, unchanged since
            check_job_code(handed_env(), self.smk.rule, (self.key or {}).get("code"),
                           getattr(self.smk.params, "code_left_out", ()))
            external = set(self.external_inputs)
            for path in self.inputs:
                if path not in external and path not in self.verified:
                    self.verified[path] = verify_input(path)  # raises IntegrityError naming the file
        except Exception as exc:  # __exit__ is not called when __enter__ raises: log it here
            self.log.error("rule %s failed: %s: %s", self.smk.rule, type(exc).__name__, exc)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.log.error("rule %s failed: %s: %s", self.smk.rule, exc_type.__name__, exc)
            return False
        from .atomic import write_json

        record = provenance.make_record(
            rule=self.smk.rule, wildcards=dict(self.smk.wildcards.items()), outputs=self.outputs,
            inputs=self.inputs, config_used=self.config_used, started=self.started,
            extra=self.extra, external=self.external_inputs, record_at=self.smk.output.prov,
            results_dir=self.smk.config.get("results_dir"), verified=self.verified, key=self.key)
        write_json(self.smk.output.prov, record)
        self.log.info("rule %s done in %.1f s, peak memory %.0f MiB", self.smk.rule, time.time() - self.t0,
                      peak_memory_mib())
        return False
