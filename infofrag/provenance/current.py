"""Whether a result is current, decided from its own record -- with or without Snakemake's
metadata, after a clone, a move, or through a symlink.

A result is current when its record (``X.prov.json``) exists and reads, holds the key the workflow
would give its job now (:mod:`infofrag.keys`: config values, content digests of the user's files,
the code's digest), and names each input by the digest that input's own record gives it now (the
chain: an input computed again since would say otherwise). Everything else is *stale*: the
workflow reruns it (and, through Snakemake, what reads it). A result with no output yet is simply
missing, not stale: the workflow makes it anyway.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import IntegrityError
from .records import read_record, record_path, resolve


def _differences(recorded, current, prefix="") -> list[str]:
    """The keys (dotted) whose values differ between a recorded and a current key."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        out = []
        for k in sorted(set(recorded) | set(current)):
            out += _differences(recorded.get(k), current.get(k), f"{prefix}{k}.")
        return out
    if json.dumps(recorded, sort_keys=True) != json.dumps(current, sort_keys=True):
        return [prefix.rstrip(".")]
    return []


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _lookup(key: dict, dotted: str):
    node = key
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def why_stale(output: str | Path, key: dict, records: dict | None = None) -> str | None:
    """Why the result ``output`` is out of date for the job whose key is now ``key`` (None:
    current, or missing). ``records``: a cache of read records, by path."""
    from ..keys import digest

    records = {} if records is None else records
    output = Path(output)
    rec_path = record_path(output)
    if not rec_path.exists():
        return "it has no provenance record" if output.exists() else None
    try:
        rec = records.get(rec_path) or read_record(rec_path)
    except IntegrityError as exc:
        return str(exc)
    records[rec_path] = rec
    if rec.get("key_digest") != digest(key):
        recorded = rec.get("key")
        if recorded is None:
            return "its record holds no key (written by an earlier version)"
        changed = _differences(recorded, key)
        said = "; ".join(f"{k}: {_short(_lookup(recorded, k))} -> {_short(_lookup(key, k))}" for k in changed[:3])
        return f"{'its code changed' if changed == ['code'] else 'what decides it changed'} ({said})"
    for entry in rec.get("inputs", []):
        if not entry.get("record"):
            continue  # a user's file: its content digest is in the key
        up_path = resolve(rec_path, entry["record"])
        try:
            up = records.get(up_path) or read_record(up_path)
        except IntegrityError:
            return f"the record of its input {resolve(rec_path, entry['path'])} is missing or unreadable"
        records[up_path] = up
        rel = Path(entry["path"])
        up_key = Path(resolve(rec_path, entry["path"]))
        now = {resolve(up_path, k): v for k, v in up["outputs"].items()}.get(up_key)
        if now != entry["sha256"]:
            return f"its input {rel.name} was computed again since"
    return None


def stale(jobs) -> dict:
    """{primary output: (rule, wildcards, why)} of the jobs whose results are out of date;
    ``jobs`` as :meth:`infofrag.keys.Keys.jobs` gives them."""
    records: dict = {}
    out = {}
    for rule, wc, output, key, _ in jobs:
        why = why_stale(output, key, records)
        if why:
            out[output] = (rule, wc, why)
    return out


def key_file(results: str, rule: str, wildcards: dict) -> str:
    """The key file of a job: ``<results>/.keys/<rule>/<wildcards>.json`` (an input of the job)."""
    name = "__".join(str(v) for v in wildcards.values()) or rule
    return f"{results}/.keys/{rule}/{name}.json"


def refresh_key_files(jobs, results: str) -> list[str]:
    """Tell Snakemake, in its own terms, which results are current: each job reads its key file,
    which holds its key now; the file's modification time is set far in the past when the job's
    result is current by its record, and to now when it is stale (or missing), with when and why
    in the file, so that Snakemake reruns exactly the stale jobs (and what reads them) whatever
    its metadata says or lacks. Returns
    one line per stale result saying why."""
    import os
    import time

    from ..atomic import write_text

    records: dict = {}
    lines = []
    now = time.time()
    for rule, wc, output, key, _ in jobs:
        path = Path(key_file(results, rule, wc))
        why = why_stale(output, key, records)
        current = why is None and Path(output).exists()
        # A stale result's key file also says when it was found stale: Snakemake skips an input
        # that is newer than the output when its checksum is one its metadata recorded for that
        # output -- which a failed job's metadata can be, for the key it failed under, once the
        # previous output is put back.
        text = json.dumps(key if current else {**key, "stale": {"at": now, "why": why or "no result"}},
                          sort_keys=True, indent=1)
        try:
            same = path.read_text() == text
        except OSError:
            same = False
        try:
            if not same:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_text(path, text)
            if not (same and current and path.stat().st_mtime == 1.0):  # a read-only tree that is
                os.utime(path, (now, 1.0 if current else now))           # up to date is fine
        except OSError as exc:
            raise OSError(exc.errno, f"{exc.strerror}: cannot record whether the {rule} result is current "
                                     f"in its key file (the workflow needs {results} writable)", str(path)) from exc
        if why:
            lines.append(f"{rule}{' ' + ' '.join(map(str, wc.values())) if wc else ''}: {why}")
    return lines
