"""Provenance records: what produced a result, checked by every job that reads it.

Every job writes one record, ``<primary output>.prov.json``, listing the rule and wildcards, the
config values the job used, the sha256 of every output and every input (with the path of the
input's own record, so the chain can be walked), the code version (git commit, dirty flag, a
digest of the package's behaviour), package versions, host, start and end time.

Paths inside a record are relative to the record's own directory (files a user brings, outside
the results, are recorded by absolute path): a results tree can be moved, copied, reached through
a symlink or checked from any working directory, and what is checked is always the tree at hand.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ..errors import IntegrityError
from .digests import PACKAGE_DIR, digest_path, package_digest

RECORD_SUFFIX = ".prov.json"
FORMAT_VERSION = 3
PACKAGES = ("infofrag", "torch", "numpy", "scipy", "zarr", "xarray", "scikit-learn",
            "snakemake", "matplotlib", "pyyaml")


def record_path(path: str | Path) -> Path:
    return Path(str(path) + RECORD_SUFFIX)


# --------------------------------------------------------------------------- environment

def _git(args, cwd):
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


#: the environment variable in which a workflow run hands its code version to its jobs
CODE_VERSION_ENV = "INFOFRAG_CODE_VERSION"


def _compute_code_version() -> dict:
    repo = PACKAGE_DIR.parent
    commit = _git(["rev-parse", "HEAD"], repo) or None
    dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], repo)) if commit else None
    from infofrag import __version__

    return {"git_commit": commit, "git_dirty": dirty, "infofrag_version": __version__,
            "package_digest": package_digest()}


def handed_env() -> dict | None:
    """What the workflow run handed its jobs (:func:`code_version_env`), whichever checkout's."""
    handed = os.environ.get(CODE_VERSION_ENV)
    if not handed:
        return None
    try:
        value = json.loads(handed)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("code"), dict) else None


def _handed() -> dict | None:
    """What the workflow run handed its jobs, if it was this checkout's."""
    value = handed_env()
    return value if value is not None and value.get("package_dir") == str(PACKAGE_DIR) else None


def require_checkout(module, checkout) -> None:
    """See :func:`infofrag.provenance.checkout.require_checkout`."""
    from .checkout import require_checkout as _require

    _require(module, checkout)


def code_version() -> dict:
    """Git commit, dirty flag, version and the digest of the whole package's behaviour.

    Taking it costs two ``git`` calls and parsing the package (~0.5 s), too much for each of
    thousands of small jobs: a workflow run takes it once, when it starts, and hands it to its
    jobs in :data:`CODE_VERSION_ENV` (:func:`code_version_env`, ``rules/common.smk``). A job
    uses it when it names this checkout's package, and takes its own otherwise (a job run
    outside the workflow, or by another checkout)."""
    handed = _handed()
    return dict(handed["code"]) if handed else _compute_code_version()


def code_version_env(unused_modules=()) -> tuple[str, str]:
    """``(name, value)`` of the environment variable that hands this checkout's code version,
    and the versions of the packages of this Python environment, to the jobs a workflow run
    starts (see :func:`code_version`, :func:`package_versions`), with the stamps of its files and
    the modules the config does not use, with which a job checks its code
    (:func:`infofrag.provenance.checkout.check_job_code`)."""
    from .checkout import file_stamps

    return CODE_VERSION_ENV, json.dumps({"package_dir": str(PACKAGE_DIR), "prefix": sys.prefix,
                                         "code": _compute_code_version(), "packages": _package_versions(),
                                         "stamps": file_stamps(), "unused_modules": sorted(unused_modules)})


def _package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def package_versions() -> dict:
    """Versions of the packages that decide results (reading them takes ~50 ms: a job of the
    workflow run that handed them takes them from :data:`CODE_VERSION_ENV` when it runs in the
    same Python environment, ``sys.prefix``)."""
    handed = _handed()
    if handed and handed.get("prefix") == sys.prefix and isinstance(handed.get("packages"), dict):
        return dict(handed["packages"])
    return _package_versions()


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def environment() -> dict:
    from .checkout import package_path

    return {"code": {**code_version(), "package_path": package_path()}, "packages": package_versions(),
            "host": socket.gethostname(), "python": platform.python_version(), "platform": platform.platform()}


# --------------------------------------------------------------------------- records

def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(base))).as_posix()


def resolve(record: str | Path, recorded: str) -> Path:
    """The file a record names by ``recorded`` (relative to the record's directory, or absolute)."""
    p = Path(recorded)
    return p if p.is_absolute() else Path(os.path.normpath(Path(record).parent / p))


def make_record(*, rule: str, wildcards: dict, outputs: list, inputs: list, config_used: dict,
                started: str, extra: dict | None = None, external: list = (),
                record_at: str | Path | None = None, results_dir: str | Path | None = None,
                verified: dict | None = None, key: dict | None = None) -> dict:
    """A record for a job that wrote ``outputs`` from ``inputs``, to be written at ``record_at``
    (default: beside the first output). Inputs in ``external`` are files a user brought: recorded
    by absolute path and digest; every other input must have a record of its own (linked).
    ``results_dir``: the root of the results tree, so an audit can say which tree it checked.
    ``verified``: ``{input path: (its record, its digest)}`` of inputs :func:`verify_input`
    checked when the job started (their digests are not taken again). ``key``: what decides the
    job's results (:mod:`infofrag.keys`), recorded with its digest: whether the result is current
    is decided from it (:mod:`infofrag.provenance.current`)."""
    at = Path(record_at) if record_at is not None else record_path(outputs[0])
    base = at.parent
    ext = {os.path.abspath(p) for p in external}
    in_entries = []
    for raw in inputs:
        p = Path(raw)
        if os.path.abspath(p) in ext:
            in_entries.append({"path": os.path.abspath(p), "sha256": digest_path(p), "external": True})
            continue
        rec, digest = (verified or {}).get(str(raw)) or (find_record(p), None)
        if rec is None:
            raise IntegrityError(f"'{p}' has no provenance record (expected '{record_path(p)}'); "
                                 "it was not written by a completed infofrag job")
        in_entries.append({"path": _relative(p, base), "sha256": digest or digest_path(p),
                           "record": _relative(rec, base)})
    return {
        "infofrag_provenance": FORMAT_VERSION,
        "rule": rule,
        "wildcards": dict(wildcards),
        "config_used": config_used,
        **({"key": key, "key_digest": key_digest(key)} if key is not None else {}),
        "outputs": {_relative(p, base): digest_path(p) for p in outputs},
        "inputs": in_entries,
        **({"results_root": _relative(results_dir, base)} if results_dir is not None else {}),
        "started": started,
        "finished": now(),
        **environment(),
        **({"extra": extra} if extra else {}),
    }


def key_digest(key) -> str:
    """See :func:`infofrag.keys.digest`."""
    from ..keys import digest

    return digest(key)


def read_record(path: str | Path) -> dict:
    rec = Path(path)
    try:
        with open(rec) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise IntegrityError(f"provenance record '{rec}' is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"provenance record '{rec}' is corrupt: {exc}") from None
    if not isinstance(data, dict) or "infofrag_provenance" not in data:
        raise IntegrityError(f"provenance record '{rec}' is not an infofrag record")
    if data["infofrag_provenance"] != FORMAT_VERSION:
        raise IntegrityError(f"provenance record '{rec}' has format {data['infofrag_provenance']}, "
                             f"this infofrag reads format {FORMAT_VERSION}: rerun the job that wrote it")
    return data


def _output_key(outputs: dict, path: Path, record: Path) -> str | None:
    key = _relative(path, record.parent)
    return key if key in outputs else None


def find_record(path: str | Path) -> Path | None:
    """The record that lists ``path`` as an output: its own sidecar, or a sibling's."""
    path = Path(path)
    own = record_path(path)
    if own.is_file():
        return own
    for rec in sorted(path.parent.glob("*" + RECORD_SUFFIX)):
        try:
            if _output_key(read_record(rec)["outputs"], path, rec) is not None:
                return rec
        except IntegrityError:
            continue
    return None


def verify(path: str | Path) -> dict:
    """Check ``path`` against its producer's record; return the record. Raises IntegrityError."""
    return _verify(Path(path))[0]


def verify_input(path: str | Path) -> tuple[Path, str]:
    """:func:`verify`, returning ``(the record's path, the digest)``: what a job's own record
    says of the input (:func:`make_record`'s ``verified``)."""
    _, rec_path, digest = _verify(Path(path))
    return rec_path, digest


def _verify(path: Path) -> tuple[dict, Path, str]:
    if not path.exists():
        raise IntegrityError(f"'{path}' is missing")
    rec_path = find_record(path)
    if rec_path is None:
        raise IntegrityError(f"'{path}' has no provenance record (expected '{record_path(path)}'); "
                             "it was not written by a completed infofrag job")
    rec = read_record(rec_path)
    key = _output_key(rec["outputs"], path, rec_path)
    if key is None:
        raise IntegrityError(f"'{path}' is not among the outputs recorded in '{rec_path}'")
    expected = rec["outputs"][key]
    actual = digest_path(path)
    if expected != actual:
        raise IntegrityError(f"'{path}' has been modified or corrupted since it was written: "
                             f"sha256 {actual[:12]}... differs from {expected[:12]}... "
                             f"recorded in '{rec_path}'")
    return rec, rec_path, actual
