"""The audit: walk from a result back through every record to the models, the sample and the
files a user brought, and check each link against the tree at hand."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import IntegrityError
from .digests import digest_path
from .records import find_record, read_record, resolve


def _walk(result):
    """(record path, record or the IntegrityError reading it) of every record in the chain behind
    ``result``, each once, breadth first."""
    first = find_record(result)
    queue, seen = ([first] if first is not None else []), set()
    while queue:
        rp = queue.pop(0)
        if rp in seen:
            continue
        seen.add(rp)
        try:
            rec = read_record(rp)
        except IntegrityError as exc:
            yield rp, exc
            continue
        yield rp, rec
        queue += [resolve(rp, e["record"]) for e in rec["inputs"] if e.get("record")]


def audit(result: str | Path, current_config: dict | None = None, config_resolver=None) -> list[dict]:
    """Walk from ``result`` back through every input's record.

    Returns one entry per link: ``{"path", "kind", "ok", "detail"}``. ``kind`` is "output" (a
    file against its own record), "input" (a file a job read, against the digest it recorded),
    "record" (a record that is missing or unreadable) or "config" (the config values a job used
    against ``current_config``, via ``config_resolver(config, key) -> value``). Every path is
    resolved against the record that names it, so the files checked are those of the tree that
    holds ``result``, wherever it lies.
    """
    if find_record(result) is None:
        return [{"path": str(result), "kind": "output", "ok": False, "detail": "no provenance record found"}]
    links: list[dict] = []
    for rp, rec in _walk(result):
        if isinstance(rec, IntegrityError):
            links.append({"path": str(rp), "kind": "record", "ok": False, "detail": str(rec)})
            continue
        for out, digest in rec["outputs"].items():
            path = resolve(rp, out)
            ok, detail = _compare(path, digest)
            links.append({"path": str(path), "kind": "output", "ok": ok, "detail": f"{rec['rule']}: {detail}"})
        for entry in rec["inputs"]:
            path = resolve(rp, entry["path"])
            ok, detail = _compare(path, entry["sha256"])
            if not entry.get("external") and not entry.get("record"):
                ok, detail = False, "read without a provenance record of its own"
            links.append({"path": str(path), "kind": "input", "ok": ok,
                          "detail": f"read by {rec['rule']} ({rp}): {detail}"})
        if current_config is not None and config_resolver is not None:
            links += _config_links(rec, rp, current_config, config_resolver)
    return links


def walked_records(result: str | Path) -> list[dict]:
    """Every readable record in the chain behind ``result`` (for coverage checks)."""
    return [rec for _, rec in _walk(result) if not isinstance(rec, IntegrityError)]


def results_root(result: str | Path) -> Path:
    """The results directory that holds ``result`` (as its record names it)."""
    rec_path = find_record(result)
    if rec_path is None:
        return Path(result).resolve().parent
    root = read_record(rec_path).get("results_root")
    return (resolve(rec_path, root) if root else rec_path.parent).resolve()


def _config_links(rec, rp, current_config, config_resolver):
    links = []
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


def _compare(path: Path, expected: str):
    if not path.exists():
        return False, "missing"
    actual = digest_path(path)
    if actual != expected:
        return False, f"digest mismatch (now {actual[:12]}..., recorded {expected[:12]}...)"
    return True, "digest matches"
