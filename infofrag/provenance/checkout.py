"""Which code a job runs: this checkout's package, and the code its record will name.

A workflow run digests this checkout's code (per rule, :func:`code_digest`) and its jobs record
that digest. That holds only if each job imports this checkout's ``infofrag`` -- not another copy
installed or found first on ``PYTHONPATH`` -- and if the code has not changed since the run
digested it. :func:`require_checkout` checks the first (the workflow's main process and every
rule script put the checkout first on ``sys.path``); :func:`check_job_code` the second, cheaply:
the run hands its jobs the size and modification time of every file of the package and of the
scripts (:func:`file_stamps`), a job compares them, and only where one differs digests its rule's
code again and compares that with the digest it was given.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import IntegrityError
from .digests import PACKAGE_DIR, code_digest

CHECKOUT = PACKAGE_DIR.parent


def require_checkout(module, checkout) -> None:
    """Refuse to go on when ``module`` (the imported ``infofrag``) is not the package of
    ``checkout`` (naming both locations)."""
    where = Path(module.__file__).resolve().parent
    want = Path(checkout).resolve() / "infofrag"
    if where != want:
        raise IntegrityError(
            f"this workflow's checkout is {Path(checkout).resolve()}, but Python imported the infofrag package from "
            f"{where}: another copy is installed or comes first on PYTHONPATH. Its code is not the code the "
            "results' records would name; uninstall it (pip uninstall infofrag), install this checkout in "
            "editable mode (pip install -e .), or remove it from PYTHONPATH")


def file_stamps(root: Path = CHECKOUT) -> dict:
    """{path relative to the checkout: [mtime_ns, size]} of the package's and the scripts' files."""
    out = {}
    for folder, pattern in ((root / "infofrag", "**/*.py"), (root / "scripts", "*.py")):
        for p in sorted(folder.glob(pattern)):
            st = p.stat()
            out[p.relative_to(root).as_posix()] = [st.st_mtime_ns, st.st_size]
    return out


def package_path() -> str:
    """Where the package that runs lies: relative to its checkout (``infofrag``)."""
    return os.path.relpath(PACKAGE_DIR, CHECKOUT)


def check_job_code(handed: dict | None, rule: str, expected: str | None, left_out=()) -> None:
    """Stop a job whose package is not the one its workflow run digested (``handed``: what the
    run handed, :func:`infofrag.provenance.records.code_version_env`), or whose rule's code changed
    since (``expected``: the rule's code digest, its ``code`` param; ``left_out``: modules left
    out of this job's digest beside the run's unused ones, :meth:`infofrag.keys.Keys.left_out`)."""
    if handed is None or expected is None:
        return
    if handed.get("package_dir") != str(PACKAGE_DIR):
        raise IntegrityError(f"rule {rule}: the workflow run digested the package at {handed.get('package_dir')}, "
                             f"but this job imported the one at {PACKAGE_DIR}; the record would name code that did "
                             "not run. Run the workflow from one checkout, with no other copy of infofrag first on "
                             "the path")
    stamps = handed.get("stamps")
    if stamps is None or stamps == file_stamps():
        return
    script = CHECKOUT / "scripts" / f"{rule}.py"
    now = code_digest(script, exclude=frozenset(handed.get("unused_modules") or ()) | frozenset(left_out or ()))
    if now != expected:
        raise IntegrityError(f"rule {rule}: its code changed after the workflow run started (digest {now}, the run "
                             f"digested {expected} at {CHECKOUT}); this job would record code that did not run. "
                             "Rerun the workflow: it reruns the jobs this change decides")
