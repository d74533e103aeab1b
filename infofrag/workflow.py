"""Glue between Snakemake's ``script:`` object and the package (used by ``scripts/*.py``).

A script does::

    with Job(snakemake, config_used={...}) as job:
        ...                                  # inputs were verified on entry
        job.extra["info_bits"] = ...         # optional: facts to record

On entry the job logs to the rule's log file, checks every input that has a provenance record
against it (a damaged input fails here, naming the file). On success it writes the provenance
record ``snakemake.output.prov``. On failure it logs the error and writes nothing more: the
outputs of a failed job are removed by Snakemake, never anything else.

Duck-typed: the package does not import Snakemake.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from . import provenance


def _paths(named_list):
    return [str(p) for p in named_list]


class Job:
    def __init__(self, smk, config_used: dict | None = None, record_inputs=None):
        self.smk = smk
        self.config_used = config_used or {}
        self.extra: dict = {}
        self.started = provenance.now()
        self.t0 = time.time()
        self.log = logging.getLogger(f"infofrag.{smk.rule}")
        self._record_inputs = record_inputs

    @property
    def outputs(self) -> list[str]:
        prov = str(self.smk.output.prov)
        return [p for p in _paths(self.smk.output) if p != prov]

    def __enter__(self):
        handlers = [logging.StreamHandler(sys.stderr)]
        if len(self.smk.log):
            Path(self.smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(self.smk.log[0], mode="w"))
        logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        wc = dict(self.smk.wildcards.items())
        self.log.info("rule %s %s: %d input(s) -> %s", self.smk.rule, wc or "",
                      len(self.smk.input), ", ".join(self.outputs))
        try:
            for path in self.inputs:
                if provenance.find_record(path) is not None:
                    provenance.verify(path)  # raises IntegrityError naming the file
        except Exception as exc:  # __exit__ is not called when __enter__ raises: log it here
            self.log.error("rule %s failed: %s: %s", self.smk.rule, type(exc).__name__, exc)
            raise
        return self

    @property
    def inputs(self) -> list[str]:
        if self._record_inputs is not None:
            return [str(p) for p in self._record_inputs]
        return _paths(self.smk.input)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.log.error("rule %s failed: %s: %s", self.smk.rule, exc_type.__name__, exc)
            return False
        record = provenance.make_record(
            rule=self.smk.rule, wildcards=dict(self.smk.wildcards.items()), outputs=self.outputs,
            inputs=self.inputs, config_used=self.config_used, started=self.started,
            extra=self.extra)
        provenance.write_json_atomic(self.smk.output.prov, record)
        self.log.info("rule %s done in %.1f s", self.smk.rule, time.time() - self.t0)
        return False
