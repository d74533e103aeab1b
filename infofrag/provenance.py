"""Provenance records: what produced each result, and an audit back to the models and config.

Every job writes one record, ``<primary output>.prov.json``, listing:
the rule and wildcards, the config values the job used, the sha256 digest of every output and
every input (with the path of the input's own record, so the chain can be walked), the code
version (git commit, dirty flag, a digest of the ``infofrag`` package sources), package versions,
host, start and end time.

Readers call :func:`verify` before using an input: the file must exist, have a record, and
hash to the digest its producer recorded, else :class:`IntegrityError` names the file.
:func:`audit` walks the records from a result back to the first inputs and compares every link
(and the config values each job used against the current config).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

RECORD_SUFFIX = ".prov.json"
#: files that are not content: Snakemake stamps every directory() output after its job ends
TREE_IGNORE = frozenset({".snakemake_timestamp"})
FORMAT_VERSION = 1
PACKAGES = ("infofrag", "torch", "numpy", "scipy", "zarr", "xarray", "scikit-learn",
            "snakemake", "matplotlib", "pyyaml")
_PACKAGE_DIR = Path(__file__).resolve().parent


class IntegrityError(RuntimeError):
    """A file is missing, unrecorded, or differs from what its producer recorded."""


# --------------------------------------------------------------------------- digests

def sha256_file(path: str | Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def digest_path(path: str | Path) -> str:
    """sha256 of a file, or of a directory tree (relative paths and file contents, sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise IntegrityError(f"'{path}' does not exist")
    h = hashlib.sha256()
    for sub in sorted(p for p in path.rglob("*") if p.is_file() and p.name not in TREE_IGNORE):
        h.update(sub.relative_to(path).as_posix().encode() + b"\0")
        h.update(sha256_file(sub).encode() + b"\n")
    return h.hexdigest()


def package_digest(files: list[str] | None = None) -> str:
    """Digest of the infofrag sources (all modules, or the named ones): the code version that
    Snakemake params carry, so a change to estimator or training code reruns what it affects."""
    names = files or sorted(p.name for p in _PACKAGE_DIR.glob("*.py"))
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + (_PACKAGE_DIR / name).read_bytes())
    return h.hexdigest()[:16]


def record_path(path: str | Path) -> Path:
    return Path(str(path) + RECORD_SUFFIX)


# --------------------------------------------------------------------------- environment

def _git(args, cwd):
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def code_version() -> dict:
    repo = _PACKAGE_DIR.parent
    commit = _git(["rev-parse", "HEAD"], repo) or None
    dirty = None
    if commit:
        dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], repo))
    from infofrag import __version__

    return {"git_commit": commit, "git_dirty": dirty, "infofrag_version": __version__,
            "package_digest": package_digest()}


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def environment() -> dict:
    return {"code": code_version(), "packages": package_versions(), "host": socket.gethostname(),
            "python": platform.python_version(), "platform": platform.platform()}


# --------------------------------------------------------------------------- records

def write_json_atomic(path: str | Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def make_record(*, rule: str, wildcards: dict, outputs: list, inputs: list, config_used: dict,
                started: str, extra: dict | None = None) -> dict:
    """Build a record. ``inputs`` are paths; those with a record of their own are linked."""
    in_entries = []
    for p in inputs:
        p = Path(p)
        rec = record_path(p)
        in_entries.append({"path": str(p), "sha256": digest_path(p),
                           "record": str(rec) if rec.is_file() else None})
    return {
        "infofrag_provenance": FORMAT_VERSION,
        "rule": rule,
        "wildcards": dict(wildcards),
        "config_used": config_used,
        "outputs": {str(p): digest_path(p) for p in outputs},
        "inputs": in_entries,
        "started": started,
        "finished": now(),
        **environment(),
        **({"extra": extra} if extra else {}),
    }


def read_record(path: str | Path) -> dict:
    rec = Path(path)
    try:
        with open(rec) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise IntegrityError(f"provenance record '{rec}' is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"provenance record '{rec}' is corrupt: {exc}") from None
    if not isinstance(data, dict) or data.get("infofrag_provenance") != FORMAT_VERSION:
        raise IntegrityError(f"provenance record '{rec}' is not an infofrag record")
    return data


def find_record(path: str | Path) -> Path | None:
    """The record that lists ``path`` as an output: its own sidecar, or a sibling's."""
    path = Path(path)
    own = record_path(path)
    if own.is_file():
        return own
    for rec in sorted(path.parent.glob("*" + RECORD_SUFFIX)):
        try:
            if _output_key(read_record(rec)["outputs"], path) is not None:
                return rec
        except IntegrityError:
            continue
    return None


def _output_key(outputs: dict, path: Path):
    """The key of ``path`` in a record's ``outputs`` (paths as the job wrote them, relative to the
    workflow's directory): an exact match, else the one key that ``path`` ends with (so a store
    can be checked from any working directory, or by absolute path). None when not listed."""
    if str(path) in outputs:
        return str(path)
    parts = Path(os.path.abspath(path)).parts
    hits = [k for k in outputs
            if not Path(k).is_absolute() and len(Path(k).parts) <= len(parts)
            and parts[len(parts) - len(Path(k).parts):] == Path(k).parts]
    return hits[0] if len(hits) == 1 else None


def verify(path: str | Path) -> dict:
    """Check ``path`` against its producer's record; return the record. Raises IntegrityError."""
    path = Path(path)
    if not path.exists():
        raise IntegrityError(f"'{path}' is missing")
    rec_path = find_record(path)
    if rec_path is None:
        raise IntegrityError(f"'{path}' has no provenance record (expected '{record_path(path)}'); "
                             "it was not written by a completed infofrag job")
    rec = read_record(rec_path)
    key = _output_key(rec["outputs"], path)
    if key is None:
        raise IntegrityError(f"'{path}' is not among the outputs recorded in '{rec_path}'")
    expected = rec["outputs"][key]
    actual = digest_path(path)
    if expected != actual:
        raise IntegrityError(f"'{path}' has been modified or corrupted since it was written: "
                             f"sha256 {actual[:12]}... differs from {expected and expected[:12]}... "
                             f"recorded in '{rec_path}'")
    return rec


# --------------------------------------------------------------------------- audit

def audit(result: str | Path, current_config: dict | None = None,
          config_resolver=None) -> list[dict]:
    """Walk from ``result`` back through every input's record.

    Returns one entry per link: ``{"path", "kind", "ok", "detail"}``. ``kind`` is "output"
    (the file against its own record), "input" (the file a job read, against the digest it
    recorded at the time) or "config" (the config values a job used against ``current_config``,
    via ``config_resolver(config, key) -> value``).
    """
    links: list[dict] = []
    seen_records: set[str] = set()
    start = Path(result)
    rec_path = find_record(start)
    if rec_path is None:
        return [{"path": str(start), "kind": "output", "ok": False,
                 "detail": "no provenance record found"}]
    queue = [rec_path]
    while queue:
        rp = queue.pop(0)
        if str(rp) in seen_records:
            continue
        seen_records.add(str(rp))
        try:
            rec = read_record(rp)
        except IntegrityError as exc:
            links.append({"path": str(rp), "kind": "record", "ok": False, "detail": str(exc)})
            continue
        for out, digest in rec["outputs"].items():
            ok, detail = _compare(out, digest)
            links.append({"path": out, "kind": "output", "ok": ok,
                          "detail": f"{rec['rule']}: {detail}"})
        for entry in rec["inputs"]:
            ok, detail = _compare(entry["path"], entry["sha256"])
            links.append({"path": entry["path"], "kind": "input", "ok": ok,
                          "detail": f"read by {rec['rule']} ({rp}): {detail}"})
            if entry.get("record"):
                queue.append(Path(entry["record"]))
        if current_config is not None and config_resolver is not None:
            for key, used in (rec.get("config_used") or {}).items():
                try:
                    now_value = config_resolver(current_config, key)
                except KeyError:
                    now_value = "<absent>"
                same = json.dumps(now_value, sort_keys=True) == json.dumps(used, sort_keys=True)
                links.append({"path": f"config:{key}", "kind": "config", "ok": same,
                              "detail": f"used by {rec['rule']} ({rp}): "
                                        + ("same as the current config" if same else
                                           f"config now says {json.dumps(now_value)[:200]}, "
                                           f"result used {json.dumps(used)[:200]}")})
    return links


def _compare(path, expected):
    p = Path(path)
    if not p.exists():
        return False, "missing"
    actual = digest_path(p)
    if actual != expected:
        return False, f"digest mismatch (now {actual[:12]}..., recorded {expected[:12]}...)"
    return True, "digest matches"
